import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { fingerprintParams, IdempotencyRegistry } from '../../src/safety/idempotency.js';
import { AuditLedger, hongKongDay, movedNothing, verifyLedgerFile } from '../../src/safety/ledger.js';
import { KeyedMutex } from '../../src/safety/keyed-mutex.js';
import { LedgerAccess } from '../../src/safety/ledger-access.js';
import { makeTempDir, paymentIntent } from '../safety/helpers.js';

/** The small pieces the guard adds on top of the safety primitives. */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function tempFile(name: string): Promise<string> {
  const { dir, cleanup } = await makeTempDir('prim');
  cleanups.push(cleanup);
  return path.join(dir, name);
}

describe('KeyedMutex', () => {
  it('runs work for one key one at a time, in arrival order, and other keys alongside', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const task = (key: string, name: string, ms: number) =>
      mutex.run(key, async () => {
        events.push(`start ${name}`);
        await new Promise((resolve) => setTimeout(resolve, ms));
        events.push(`end ${name}`);
        return name;
      });
    const results = await Promise.all([task('a', 'a1', 30), task('a', 'a2', 1), task('b', 'b1', 1)]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(events.indexOf('end a1')).toBeLessThan(events.indexOf('start a2'));
    expect(events.indexOf('start b1')).toBeLessThan(events.indexOf('end a1'));
    expect(mutex.size).toBe(0);
  });

  it('releases the key when the work throws', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(mutex.run('k', () => Promise.resolve('next'))).resolves.toBe('next');
    expect(mutex.size).toBe(0);
  });
});

describe('IdempotencyRegistry.peek and recorded', () => {
  it('peek answers like begin without claiming a free key; recorded returns finished results only', () => {
    const registry = new IdempotencyRegistry<string>();
    const fingerprint = fingerprintParams({ txamt: 1 });
    expect(registry.peek('K', fingerprint)).toEqual({ kind: 'none' });
    expect(registry.isInFlight('K')).toBe(false);
    const started = registry.begin('K', fingerprint);
    expect(started.kind).toBe('new');
    expect(registry.peek('K', fingerprint).kind).toBe('in_flight');
    expect(registry.peek('K', fingerprintParams({ txamt: 2 })).kind).toBe('conflict');
    expect(registry.recorded('K')).toBeUndefined();
    if (started.kind === 'new') started.complete('done');
    expect(registry.peek('K', fingerprint)).toMatchObject({ kind: 'replay', result: 'done' });
    expect(registry.recorded('K')).toBe('done');
  });
});

describe('ledger additions', () => {
  it('an outcome QFPay never processed moves nothing, counts towards no cap, and keeps the chain intact', async () => {
    const file = await tempFile('audit.jsonl');
    const ledger = await AuditLedger.open(file, { fsync: false });
    try {
      const limited = await ledger.recordIntent(
        paymentIntent({ out_trade_no: 'P-1', approval: 'agent-token' }),
      );
      const outcome = await ledger.recordOutcome(limited.intent_id, { status: 'FAILED', processed: false });
      expect(outcome.processed).toBe(false);
      expect(limited.approval).toBe('agent-token');
      const sent = await ledger.recordIntent(paymentIntent({ out_trade_no: 'P-2' }));
      expect(movedNothing(outcome)).toBe(true);
      expect(movedNothing(undefined)).toBe(false);
      expect(ledger.totals(hongKongDay(new Date()), 'payment').get('HKD')).toBe(1050);
      expect(ledger.intents((intent) => intent.out_trade_no === 'P-2').map((e) => e.intent.seq)).toEqual([
        sent.seq,
      ]);
    } finally {
      await ledger.close();
    }
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 3 });
  });

  it('LedgerAccess creates no file until something is written', async () => {
    const file = await tempFile('lazy.jsonl');
    const access = new LedgerAccess(file, { fsync: false });
    try {
      expect(await access.existing()).toBeUndefined();
      await expect(verifyLedgerFile(file)).rejects.toThrow(/ENOENT/);
      const ledger = await access.writable();
      await ledger.recordIntent(paymentIntent());
      expect(await access.existing()).toBe(ledger);
      expect(access.current).toBe(ledger);
    } finally {
      await access.close();
    }
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 1 });
  });
});
