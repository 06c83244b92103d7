import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRuntime } from '../../src/mcp/runtime.js';
import { QfpayClient } from '../../src/qfpay/client.js';
import { QfpayRateLimitedError } from '../../src/qfpay/errors.js';
import { ConfirmationTokens } from '../../src/safety/confirmation.js';
import type { GuardContext, WriteIntent } from '../../src/safety/guard.js';
import { AuditLedger } from '../../src/safety/ledger.js';
import { loadMoneyPolicy } from '../../src/safety/policy.js';
import {
  intentFingerprint,
  RECONCILE_BUDGET_MS,
  RECONCILE_MAX_AGE_MS,
  RECONCILE_MAX_INTENTS,
  SafeGuard,
} from '../../src/safety/safe-guard.js';
import { EmbeddedMoneyStore } from '../../src/safety/stores/embedded.js';
import { type RunningSimulator, type SimCredential, startSimulator } from '../../src/simulator/index.js';
import { call, envFor, openSession, randomCredential, tempDir, upstreamCount } from './helpers.js';

/**
 * The guard on the store: fail closed when the intent cannot be recorded, a definite refusal frees
 * its out_trade_no, and the start-up reconciliation's three limits (35 days, 200 intents, 15 s),
 * each pinned by a test that fails if its number changes.
 */

const PAYMENT = '/trade/v1/payment';
const QUERY = '/trade/v1/query';

let credential: SimCredential;
let simulator: RunningSimulator;
let dir: { dir: string; remove: () => Promise<void> };

beforeAll(async () => {
  credential = randomCredential();
  // Unlimited: the reconciliation tests send hundreds of lookups in a few seconds.
  simulator = await startSimulator({
    port: 0,
    credentials: [credential],
    quiet: true,
    rateLimits: [{ count: 100_000, durationMs: 1_000 }],
  });
  dir = await tempDir('store-guard');
});
afterAll(async () => {
  await simulator.close();
  await dir.remove();
});

const merchant = () => ({ appcode: credential.appcode, mchid: credential.mchid! });
const ctx: GuardContext = { log: () => undefined };

function guardOn(file: string, now?: () => Date): SafeGuard {
  const store = new EmbeddedMoneyStore(file, { fsync: false });
  return new SafeGuard({
    environment: 'test',
    merchant: merchant(),
    policy: loadMoneyPolicy({}, 'test'),
    store,
    tokens: new ConfirmationTokens({ nonces: store }),
    log: () => undefined,
    ...(now ? { now } : {}),
  });
}

function paymentIntent(outTradeNo: string): WriteIntent {
  return {
    tool: 'create_payment',
    environment: 'test',
    merchant: merchant(),
    params: { pay_type: '800101', txamt: 100, txcurrcd: 'HKD', out_trade_no: outTradeNo },
    out_trade_no: outTradeNo,
    txamt: 100,
    txcurrcd: 'HKD',
    summary: `Pay HKD 1.00 (${outTradeNo})`,
  };
}

/** Writes unfinished payment intents of this merchant at the given instants (oldest first). */
async function writePending(file: string, times: readonly number[], prefix: string): Promise<void> {
  let at = 0;
  const ledger = await AuditLedger.open(file, { fsync: false, now: () => new Date(at) });
  try {
    for (const [index, time] of times.entries()) {
      at = time;
      const intent = paymentIntent(`${prefix}${index}`);
      await ledger.recordIntent({
        environment: 'test',
        merchant: intent.merchant,
        tool: 'create_payment',
        kind: 'payment',
        params: intent.params,
        out_trade_no: intent.out_trade_no,
        txamt: intent.txamt,
        txcurrcd: intent.txcurrcd,
        fingerprint: intentFingerprint(intent),
      });
    }
  } finally {
    await ledger.close();
  }
}

/** How many distinct order numbers starting with `prefix` were queried (a lookup may take several requests). */
function queriesFor(prefix: string, witness: RunningSimulator = simulator): number {
  const queried = witness.control
    .requests()
    .filter((entry) => entry.path === QUERY && entry.out_trade_no?.startsWith(prefix))
    .map((entry) => entry.out_trade_no);
  return new Set(queried).size;
}

describe('fail closed', () => {
  it('never executes a write whose intent could not be recorded', async () => {
    const blocked = path.join(dir.dir, 'blocked');
    await writeFile(blocked, 'a file where the ledger directory should be');
    const guard = guardOn(path.join(blocked, 'audit.jsonl'));
    let executed = 0;
    try {
      const outcome = await guard.run(paymentIntent('fail_closed_1'), undefined, ctx, () => {
        executed += 1;
        return Promise.resolve('sent');
      });
      expect(outcome.kind).toBe('refused');
      expect(outcome.kind === 'refused' && outcome.next_action).toMatch(/Nothing was sent|writable/);
      expect(executed).toBe(0);
    } finally {
      await guard.close();
    }
  });
});

describe('a confirmation is single-use across processes and restarts', () => {
  it('a token redeemed by one process is refused by another started later on the same store', async () => {
    const file = path.join(dir.dir, 'tokens.jsonl');
    const secret = randomBytes(32).toString('hex');
    const prodGuard = (): SafeGuard => {
      const store = new EmbeddedMoneyStore(file, { fsync: false });
      return new SafeGuard({
        environment: 'prod',
        merchant: merchant(),
        policy: loadMoneyPolicy({ QFPAY_CONFIRM_SECRET: secret }, 'prod', { allowProdWrites: true }),
        store,
        tokens: new ConfirmationTokens({ nonces: store, secret }),
        log: () => undefined,
      });
    };
    const intent = { ...paymentIntent('token_once_1'), environment: 'prod' as const };
    const first = prodGuard();
    let sends = 0;
    let token: string;
    try {
      const asked = await first.run(intent, undefined, ctx, () => Promise.resolve('never'));
      if (asked.kind !== 'confirmation_required') throw new Error(`expected a token, got ${asked.kind}`);
      token = asked.token;
      // Redeemed, sent, and released: QFPay never processed it (HTTP 429), so the number is free again.
      await expect(
        first.run(intent, token, ctx, () => {
          sends += 1;
          return Promise.reject(new QfpayRateLimitedError('/trade/v1/payment', 3));
        }),
      ).rejects.toBeInstanceOf(QfpayRateLimitedError);
    } finally {
      await first.close();
    }
    // Another process (or this one after a restart) sees the nonce as used.
    const second = prodGuard();
    try {
      const again = await second.run(intent, token, ctx, () => {
        sends += 1;
        return Promise.resolve('sent twice');
      });
      expect(again.kind).toBe('refused');
      expect(again.kind === 'refused' && again.reason).toMatch(/already used/);
      expect(sends).toBe(1);
    } finally {
      await second.close();
    }
  });
});

describe('a definite refusal frees the out_trade_no', () => {
  it('after QFPay answers 1201 the same call is sent again (QFPay decides), not replayed', async () => {
    const session = await openSession({
      env: envFor('test', simulator, credential, path.join(dir.dir, 'r.jsonl')),
    });
    try {
      const args = {
        pay_type: '800108',
        txamt: 300,
        txcurrcd: 'HKD',
        out_trade_no: 'released_1201',
        auth_code: '280000000000001201',
      };
      const before = upstreamCount(simulator, PAYMENT);
      const first = await call(session.client, 'create_payment', args);
      expect(first.structured.respcd ?? first.text).toMatch(/1201/);
      const second = await call(session.client, 'create_payment', args);
      expect(second.structured.replayed).not.toBe(true);
      expect(upstreamCount(simulator, PAYMENT) - before).toBe(2);
    } finally {
      await session.close();
    }
  });
});

describe('start-up reconciliation limits', () => {
  let client: QfpayClient;
  // A simulator of their own: these tests count its lookups and need them fast.
  let witness: RunningSimulator;
  beforeAll(async () => {
    witness = await startSimulator({
      port: 0,
      credentials: [credential],
      quiet: true,
      rateLimits: [{ count: 100_000, durationMs: 1_000 }],
    });
    // 200 lookups (each may take more than one request) must not wait for the per-minute budget.
    client = new QfpayClient({
      baseUrl: witness.baseUrl,
      credentials: credential,
      rateLimits: [{ count: 100_000, durationMs: 1_000 }],
    });
  });
  afterAll(async () => {
    await client.destroy();
    await witness.close();
  });

  it(`queries unfinished intents up to ${RECONCILE_MAX_AGE_MS / 86_400_000} days old, not older`, async () => {
    expect(RECONCILE_MAX_AGE_MS).toBe(35 * 86_400_000);
    const now = Date.now();
    const file = path.join(dir.dir, 'age.jsonl');
    const hour = 3_600_000;
    await writePending(
      file,
      [now - 35 * 86_400_000 - hour, now - 35 * 86_400_000 + hour, now - 34 * 86_400_000],
      'age_',
    );
    const guard = guardOn(file, () => new Date(now));
    try {
      const summary = await guard.reconcilePending(client);
      expect(summary.unfinished).toBe(2);
      expect(queriesFor('age_0', witness)).toBe(0);
      expect(queriesFor('age_1', witness)).toBe(1);
      expect(queriesFor('age_2', witness)).toBe(1);
    } finally {
      await guard.close();
    }
  });

  it(`queries at most the newest ${RECONCILE_MAX_INTENTS} unfinished intents on one start`, async () => {
    expect(RECONCILE_MAX_INTENTS).toBe(200);
    const now = Date.now();
    const file = path.join(dir.dir, 'count.jsonl');
    await writePending(
      file,
      Array.from({ length: 201 }, (_, i) => now - 201_000 + i * 1_000),
      'cnt_',
    );
    const guard = guardOn(file, () => new Date(now));
    try {
      const summary = await guard.reconcilePending(client, 600_000);
      expect(summary.unfinished).toBe(200);
      expect(queriesFor('cnt_', witness)).toBe(200);
      // The oldest is left for a later start.
      expect(queriesFor('cnt_0', witness)).toBe(0);
    } finally {
      await guard.close();
    }
  });

  it(`stops starting queries once its ${RECONCILE_BUDGET_MS / 1000} s budget is spent`, async () => {
    expect(RECONCILE_BUDGET_MS).toBe(15_000);
    const start = Date.now();
    let elapsed = 0;
    const file = path.join(dir.dir, 'budget.jsonl');
    await writePending(
      file,
      Array.from({ length: 30 }, (_, i) => start - 30_000 + i * 1_000),
      'bud_',
    );
    const guard = guardOn(file, () => new Date(start + elapsed));
    // Each query costs one second of the guard's clock.
    const slowClient = {
      findTransaction: (...args: Parameters<QfpayClient['findTransaction']>) => {
        elapsed += 1_000;
        return client.findTransaction(...args);
      },
    };
    try {
      const summary = await guard.reconcilePending(slowClient);
      expect(summary.unfinished).toBe(30);
      expect(queriesFor('bud_', witness)).toBe(15);
    } finally {
      await guard.close();
    }
  });

  it('runs in the background: the runtime is up (and could answer initialize) before it is done', async () => {
    const file = path.join(dir.dir, 'background.jsonl');
    await writePending(file, [Date.now() - 60_000], 'bg_');
    witness.control.addFault({ kind: 'latency', latencyMs: 1_500, paths: ['/trade/v1/query'], count: 1 });
    const runtime = await createRuntime({
      env: envFor('test', witness, credential, file),
      log: () => undefined,
    });
    try {
      let done = false;
      const reconciliation = runtime.startupReconciliation!.then((summary) => {
        done = true;
        return summary;
      });
      expect(done).toBe(false);
      expect(await reconciliation).toMatchObject({ unfinished: 1 });
      expect(queriesFor('bg_', witness)).toBe(1);
    } finally {
      await runtime.close();
    }
  });
});
