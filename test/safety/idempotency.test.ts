import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { IdempotencyRegistry, canonicalJson, fingerprintParams } from '../../src/safety/idempotency.js';
import { AuditLedger, merchantFingerprint } from '../../src/safety/ledger.js';
import type { LedgerEntry } from '../../src/safety/ledger.js';
import { MERCHANT, makeTempDir, paymentIntent } from './helpers.js';

interface Result {
  readonly status: string;
  readonly out_trade_no: string;
  readonly execution?: number;
}

/** What a write tool does with the registry: execute at most once per key. */
async function callOnce(
  registry: IdempotencyRegistry<Result, LedgerEntry>,
  key: string,
  params: Record<string, unknown>,
  upstream: () => Promise<Result>,
): Promise<Result | { conflict: string }> {
  const decision = registry.begin(key, fingerprintParams(params));
  switch (decision.kind) {
    case 'new':
      try {
        const result = await upstream();
        decision.complete(result);
        return result;
      } catch (error) {
        decision.fail(error);
        throw error;
      }
    case 'in_flight':
      return decision.promise;
    case 'replay':
      return decision.result;
    case 'conflict':
      return { conflict: decision.message };
  }
}

describe('canonicalJson and fingerprintParams', () => {
  it('ignores key order and undefined members, at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: undefined, b: true } })).toBe(
      '{"a":{"b":true,"d":[1,"x",null]},"b":1}',
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        expect(fingerprintParams(reversed)).toBe(fingerprintParams(object));
        expect(JSON.parse(canonicalJson(object))).toEqual(JSON.parse(JSON.stringify(object)));
      }),
      { numRuns: 300 },
    );
  });

  it('distinguishes values that differ in any way, including type', () => {
    const base = { txamt: 1050, txcurrcd: 'HKD', out_trade_no: 'O-1' };
    const fingerprint = fingerprintParams(base);
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    for (const changed of [
      { ...base, txamt: 1051 },
      { ...base, txamt: '1050' },
      { ...base, txcurrcd: 'USD' },
      { ...base, pay_type: '800101' },
    ]) {
      expect(fingerprintParams(changed)).not.toBe(fingerprint);
    }
  });

  it('refuses values without an exact JSON form', () => {
    for (const bad of [NaN, Infinity, () => 1, Symbol('s'), 10n, new Date(0), new Map()]) {
      expect(() => canonicalJson({ value: bad })).toThrow(TypeError);
    }
  });
});

describe('IdempotencyRegistry', () => {
  it('runs 50 concurrent identical calls exactly once and gives all 50 the same result', async () => {
    const registry = new IdempotencyRegistry<Result, LedgerEntry>();
    let executions = 0;
    const upstream = async (): Promise<Result> => {
      executions += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { status: 'PAID', out_trade_no: 'ORDER-50', execution: executions };
    };
    const params = { txamt: 1050, txcurrcd: 'HKD', out_trade_no: 'ORDER-50' };
    const results = await Promise.all(
      Array.from({ length: 50 }, () => callOnce(registry, 'ORDER-50', { ...params }, upstream)),
    );
    expect(executions).toBe(1);
    expect(new Set(results.map((result) => JSON.stringify(result))).size).toBe(1);
    expect(results[0]).toEqual({ status: 'PAID', out_trade_no: 'ORDER-50', execution: 1 });

    // After completion: replayed, still no second execution.
    expect(await callOnce(registry, 'ORDER-50', params, upstream)).toEqual(results[0]);
    expect(executions).toBe(1);
  });

  it('refuses the same key with different parameters, while running and after', () => {
    const registry = new IdempotencyRegistry<Result>();
    const first = registry.begin('ORDER-1', fingerprintParams({ txamt: 100 }));
    expect(first.kind).toBe('new');
    const whileRunning = registry.begin('ORDER-1', fingerprintParams({ txamt: 101 }));
    expect(whileRunning).toMatchObject({ kind: 'conflict' });
    expect(whileRunning.kind === 'conflict' && whileRunning.message).toContain('ORDER-1');
    expect(whileRunning.kind === 'conflict' && whileRunning.next_action).toMatch(/new out_trade_no/);

    if (first.kind === 'new') first.complete({ status: 'PAID', out_trade_no: 'ORDER-1' });
    expect(registry.begin('ORDER-1', fingerprintParams({ txamt: 101 })).kind).toBe('conflict');
    expect(registry.begin('ORDER-1', fingerprintParams({ txamt: 100 }))).toMatchObject({
      kind: 'replay',
      source: 'memory',
      result: { status: 'PAID' },
    });
  });

  it('releases a key whose execution failed before reaching upstream', async () => {
    const registry = new IdempotencyRegistry<Result>();
    const fingerprint = fingerprintParams({ txamt: 1 });
    const first = registry.begin('K', fingerprint);
    const waiter = registry.begin('K', fingerprint);
    expect(registry.isInFlight('K')).toBe(true);
    if (first.kind !== 'new' || waiter.kind !== 'in_flight') throw new Error('unexpected decisions');
    first.fail(new Error('limiter closed'));
    await expect(waiter.promise).rejects.toThrow('limiter closed');
    expect(registry.isInFlight('K')).toBe(false);
    expect(registry.begin('K', fingerprint).kind).toBe('new');
  });

  it('refuses to settle an execution twice', () => {
    const registry = new IdempotencyRegistry<Result>();
    const decision = registry.begin('K', 'f');
    if (decision.kind !== 'new') throw new Error('expected new');
    decision.complete({ status: 'PAID', out_trade_no: 'K' });
    expect(() => decision.complete({ status: 'FAILED', out_trade_no: 'K' })).toThrow(/already/);
    expect(() => decision.fail(new Error('late'))).toThrow(/already/);
  });

  it('evicts the least recently used finished keys beyond maxEntries, never running ones', () => {
    const registry = new IdempotencyRegistry<Result>({ maxEntries: 2 });
    const running = registry.begin('RUNNING', 'f');
    for (const key of ['A', 'B', 'C']) {
      const decision = registry.begin(key, 'f');
      if (decision.kind === 'new') decision.complete({ status: 'PAID', out_trade_no: key });
    }
    expect(running.kind).toBe('new');
    expect(registry.isInFlight('RUNNING')).toBe(true);
    expect(registry.begin('C', 'f').kind).toBe('replay');
    expect(registry.begin('A', 'f').kind).toBe('new');
  });

  it('needs a replay mapping when given a ledger', () => {
    expect(() => new IdempotencyRegistry({ ledger: { findByOutTradeNo: () => [] } })).toThrow(
      /replayFromLedger/,
    );
  });
});

describe('IdempotencyRegistry seeded from the audit ledger (survives a restart)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  const paramsOf = (out_trade_no: string, txamt = 1050) => ({ txamt, txcurrcd: 'HKD', out_trade_no });

  beforeEach(async () => {
    ({ dir, cleanup } = await makeTempDir('idempotency'));
    file = path.join(dir, 'audit.jsonl');
    // "Before the restart": one finished payment and one whose process died mid-call.
    const ledger = await AuditLedger.open(file);
    const done = await ledger.recordIntent(
      paymentIntent({ out_trade_no: 'DONE', fingerprint: fingerprintParams(paramsOf('DONE')) }),
    );
    await ledger.recordOutcome(done.intent_id, { status: 'PAID', respcd: '0000', syssn: '20250101' });
    await ledger.recordIntent(
      paymentIntent({ out_trade_no: 'CRASHED', fingerprint: fingerprintParams(paramsOf('CRASHED')) }),
    );
    await ledger.close();
  });

  afterEach(async () => {
    await cleanup();
  });

  async function restartedRegistry(merchant?: string) {
    const ledger = await AuditLedger.open(file);
    const registry = new IdempotencyRegistry<Result, LedgerEntry>({
      ledger,
      merchantFingerprint: merchant,
      replayFromLedger: (entry) => ({
        status: entry.outcome?.status ?? 'UNKNOWN',
        out_trade_no: entry.intent.out_trade_no,
      }),
    });
    return { ledger, registry };
  }

  it('replays a finished action, and reports an unfinished one as unknown instead of re-sending', async () => {
    const { ledger, registry } = await restartedRegistry();
    let executions = 0;
    const upstream = () => {
      executions += 1;
      return Promise.resolve({ status: 'PAID', out_trade_no: 'x' });
    };
    expect(await callOnce(registry, 'DONE', paramsOf('DONE'), upstream)).toEqual({
      status: 'PAID',
      out_trade_no: 'DONE',
    });
    expect(await callOnce(registry, 'CRASHED', paramsOf('CRASHED'), upstream)).toEqual({
      status: 'UNKNOWN',
      out_trade_no: 'CRASHED',
    });
    expect(registry.begin('DONE', fingerprintParams(paramsOf('DONE')))).toMatchObject({ source: 'memory' });
    expect(executions).toBe(0);
    await ledger.close();
  });

  it('refuses a reused out_trade_no with different parameters after a restart', async () => {
    const { ledger, registry } = await restartedRegistry();
    const decision = registry.begin('DONE', fingerprintParams(paramsOf('DONE', 1051)));
    expect(decision.kind).toBe('conflict');
    expect(decision.kind === 'conflict' && decision.message).toMatch(/create_payment call recorded at/);
    await ledger.close();
  });

  it('only counts the same merchant when a merchant filter is given', async () => {
    const other = merchantFingerprint({ appcode: 'SOMEONE-ELSE-APPCODE' });
    const { ledger, registry } = await restartedRegistry(other);
    expect(registry.begin('DONE', fingerprintParams(paramsOf('DONE'))).kind).toBe('new');
    await ledger.close();

    const same = await restartedRegistry(merchantFingerprint(MERCHANT));
    expect(same.registry.begin('DONE', fingerprintParams(paramsOf('DONE'))).kind).toBe('replay');
    await same.ledger.close();
  });

  it('executes keys the ledger has never seen', async () => {
    const { ledger, registry } = await restartedRegistry();
    expect(registry.begin('FRESH', fingerprintParams(paramsOf('FRESH'))).kind).toBe('new');
    await ledger.close();
  });
});
