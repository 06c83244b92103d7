import { setMaxListeners } from 'node:events';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { resetMerchantLimiters } from '../../src/qfpay/limiter.js';
import { call, connect, type Connected, simulatorRequests } from './helpers.js';

/**
 * The ghost write of redteam finding B2, reproduced at a small scale: the merchant's rate budget
 * is used up by polling, a create_payment without out_trade_no times out at the client while it
 * still waits in the limiter, and the caller retries. Before the fix the first payment was sent
 * later anyway, under a number the caller never saw, and the retry charged a second time.
 *
 * Scale: QFPay's two windows (per second and per minute) become 5/1s and 10/3s on both sides,
 * and the client gives up after 1.5 s instead of 20 s, so the scenario takes seconds.
 */
const WINDOWS = [
  { count: 5, durationMs: 1_000 },
  { count: 10, durationMs: 3_000 },
];
const POLLS = 150;
const CLIENT_TIMEOUT_MS = 1_500;

let env: Connected;

async function payments(): Promise<number> {
  return (await simulatorRequests(env.runtime.baseUrl)).filter((r) => r.path === '/trade/v1/payment').length;
}

/** Fills the budget: POLLS queries queued at once, cancellable by the client. */
function startPolling(): { stop(): void; settled: Promise<unknown> } {
  const controller = new AbortController();
  setMaxListeners(POLLS + 10, controller.signal);
  const settled = Promise.allSettled(
    Array.from({ length: POLLS }, (_, i) =>
      env.client.callTool(
        { name: 'query_transaction', arguments: { out_trade_no: `poll_${i}` } },
        { signal: controller.signal, timeout: 60_000 },
      ),
    ),
  );
  return { stop: () => controller.abort(new Error('polling stopped')), settled };
}

/** create_payment with the client's own timeout; resolves with what the caller learned. */
async function payWithTimeout(
  args: Record<string, unknown>,
): Promise<{ outcome: 'answered' | 'timed_out'; outTradeNos: string[] }> {
  const outTradeNos: string[] = [];
  try {
    await env.client.callTool(
      { name: 'create_payment', arguments: args },
      {
        timeout: CLIENT_TIMEOUT_MS,
        onprogress: (progress) => {
          const match = /out_trade_no (\S+):/.exec(progress.message ?? '');
          if (match) outTradeNos.push(match[1]!);
        },
      },
    );
    return { outcome: 'answered', outTradeNos };
  } catch (error) {
    expect(String(error)).toMatch(/timed out/i);
    return { outcome: 'timed_out', outTradeNos };
  }
}

const PAYMENT = { pay_type: '800101', txamt: 8800, txcurrcd: 'HKD' };

describe('no ghost writes (redteam B2)', () => {
  beforeEach(async () => {
    env = await connect({
      env: { QFPAY_ENV: 'local', QFPAY_RATE_LIMITS: '5/1s,10/3s' },
      simulator: { rateLimits: WINDOWS },
    });
  });

  afterEach(async () => {
    await env.close();
    resetMerchantLimiters();
  });

  it.each([
    ['with the out_trade_no the progress notification told', true],
    ['with no out_trade_no, as the original agent did', false],
  ])(
    'a payment that timed out while queued is never sent; the retry %s charges exactly once',
    async (_label, reuseNumber) => {
      const polling = startPolling();
      // Let the polls take the whole budget and queue behind it.
      await new Promise((resolve) => setTimeout(resolve, 200));

      const first = await payWithTimeout(PAYMENT);
      expect(first.outcome).toBe('timed_out');
      // The caller was told the number before anything could be sent.
      expect(first.outTradeNos).toHaveLength(1);
      const [generated] = first.outTradeNos;

      polling.stop();
      await polling.settled;

      const retry = await call(env.client, 'create_payment', {
        ...PAYMENT,
        ...(reuseNumber ? { out_trade_no: generated } : {}),
      });
      expect(retry.isError).toBe(false);
      expect(retry.structured.status).toBe('AWAITING_CUSTOMER');
      // A reused number was released as "not sent": it executes, it is not replayed or refused.
      expect(retry.structured.replayed).toBeUndefined();
      if (reuseNumber) expect(retry.structured.out_trade_no).toBe(generated);

      // Give a ghost every chance to go out: the longest window passes with the line empty.
      await new Promise((resolve) => setTimeout(resolve, 3_500));
      expect(await payments()).toBe(1);
      const sent = (await simulatorRequests(env.runtime.baseUrl)).find((r) => r.path === '/trade/v1/payment');
      expect(sent?.out_trade_no).toBe(retry.structured.out_trade_no);
      // The ledger says the first attempt moved nothing (so its number was free again).
      const resource = await env.client.readResource({ uri: 'qfpay://audit/recent' });
      const audit = JSON.parse((resource.contents[0] as { text: string }).text) as {
        records: { out_trade_no: string; step: string; status: string; processed?: boolean }[];
      };
      const outcomes = audit.records.filter((r) => r.out_trade_no === generated && r.step === 'outcome');
      expect(outcomes).toContainEqual(expect.objectContaining({ status: 'FAILED', processed: false }));
      // …and nothing else was recorded as sent under it except the retry that reused it.
      expect(outcomes).toHaveLength(reuseNumber ? 2 : 1);
      // Fewer polls went out than were queued: the cancelled ones left the line unsent.
      const polls = (await simulatorRequests(env.runtime.baseUrl)).filter(
        (r) => r.path === '/trade/v1/query',
      );
      expect(polls.length).toBeLessThan(POLLS);
      expect(polls.every((r) => r.http_status !== 429)).toBe(true);
    },
  );
});

describe('a write that cannot be sent before its deadline', () => {
  it('is dropped unsent; the error answer carries the out_trade_no told before queueing', async () => {
    const local = await connect({
      env: { QFPAY_ENV: 'local', QFPAY_RATE_LIMITS: '1/60s' },
      simulator: { rateLimits: [{ count: 1, durationMs: 60_000 }] },
      writeQueueTimeoutMs: 300,
    });
    try {
      // One query takes the minute's only slot.
      await call(local.client, 'query_transaction', { out_trade_no: 'takes_the_slot' });
      const told: string[] = [];
      const answer = await call(local.client, 'create_payment', PAYMENT, (progress) => {
        const match = /out_trade_no (\S+):/.exec(progress.message ?? '');
        if (match) told.push(match[1]!);
      });
      expect(answer.isError).toBe(true);
      expect(answer.structured.error).toMatchObject({ kind: 'rate_limited' });
      expect(answer.text).toContain('was not sent to QFPay');
      expect(told).toHaveLength(1);
      expect(answer.structured.out_trade_no).toBe(told[0]);
      expect(String(answer.structured.next_action)).toContain(told[0]!);
      const sent = await simulatorRequests(local.runtime.baseUrl);
      expect(sent.filter((r) => r.path === '/trade/v1/payment')).toHaveLength(0);
    } finally {
      await local.close();
    }
  });
});
