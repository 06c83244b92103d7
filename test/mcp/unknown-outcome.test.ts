import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { call, type Connected, connect, countRequests, simulatorControl } from './helpers.js';

/**
 * Lost answers on money-moving calls, produced by the simulator's fault injection: the server
 * must reconcile by querying the same reference and never re-send or invent a new order number.
 */

let env: Connected;

beforeAll(async () => {
  env = await connect({
    unknownOutcomeWindowMs: 1_500,
    pollIntervalMs: 50,
    retry: { maxAttempts429: 3, baseDelayMs: 5, maxDelayMs: 20 },
  });
  await simulatorControl(env.runtime.baseUrl, 'POST', '/__sim/clock', { set: '2026-03-16 12:00:00' });
});
afterAll(async () => {
  await env.close();
});
beforeEach(async () => {
  await simulatorControl(env.runtime.baseUrl, 'DELETE', '/__sim/faults');
});

function dropNext(path: string): Promise<unknown> {
  return simulatorControl(env.runtime.baseUrl, 'POST', '/__sim/faults', {
    kind: 'drop_after_commit',
    paths: [path],
    count: 1,
  });
}

describe('create_payment whose answer is lost', () => {
  it('a CPM payment that went through is reported PAID from a query by the same out_trade_no, with no second POST', async () => {
    await dropNext('/trade/v1/payment');
    const payments = await countRequests(env.runtime.baseUrl, '/trade/v1/payment');
    const progress: string[] = [];
    const answer = await call(
      env.client,
      'create_payment',
      {
        pay_type: '800108',
        txamt: 1_200,
        txcurrcd: 'HKD',
        auth_code: '280000000000000001',
        out_trade_no: 'lost_answer_cpm_1',
      },
      (p) => progress.push(p.message ?? ''),
    );
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('PAID');
    expect(answer.structured.reconciled).toBe(true);
    expect(answer.structured.out_trade_no).toBe('lost_answer_cpm_1');
    expect(answer.structured.syssn).toEqual(expect.any(String));
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/payment')).toBe(payments + 1);
    expect(progress.some((m) => m.includes('lost'))).toBe(true);
  });

  it('an MPM order whose QR was lost says so and points to cancel_payment, never to a new order with the same number', async () => {
    await dropNext('/trade/v1/payment');
    const payments = await countRequests(env.runtime.baseUrl, '/trade/v1/payment');
    const answer = await call(env.client, 'create_payment', {
      pay_type: '800201',
      txamt: 1_200,
      txcurrcd: 'HKD',
      out_trade_no: 'lost_answer_mpm_1',
    });
    expect(answer.isError).toBe(true);
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'unknown_outcome' }));
    expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
    expect(answer.structured.out_trade_no).toBe('lost_answer_mpm_1');
    expect(String(answer.structured.next_action)).toMatch(
      /cancel_payment with out_trade_no lost_answer_mpm_1/,
    );
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/payment')).toBe(payments + 1);
  });

  it('a request that never reached the books ends UNKNOWN with "do not create a new order"', async () => {
    await simulatorControl(env.runtime.baseUrl, 'POST', '/__sim/faults', {
      kind: 'http5xx',
      paths: ['/trade/v1/payment'],
      count: 1,
      status: 502,
    });
    const payments = await countRequests(env.runtime.baseUrl, '/trade/v1/payment');
    const answer = await call(env.client, 'create_payment', {
      pay_type: '800108',
      txamt: 1_200,
      txcurrcd: 'HKD',
      auth_code: '280000000000000001',
      out_trade_no: 'never_booked_1',
    });
    expect(answer.isError).toBe(true);
    expect(answer.structured.status).toBe('UNKNOWN');
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'unknown_outcome' }));
    expect(String(answer.structured.next_action)).toMatch(
      /Do not create a new order.*out_trade_no never_booked_1/,
    );
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/payment')).toBe(payments + 1);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/query')).toBeGreaterThan(0);
  });
});

describe('refund whose answer is lost', () => {
  it("is reconciled by the refund's own out_trade_no and never sent twice", async () => {
    const paid = await call(env.client, 'create_payment', {
      pay_type: '800108',
      txamt: 5_000,
      txcurrcd: 'HKD',
      auth_code: '280000000000000001',
    });
    expect(paid.structured.status).toBe('PAID');
    await dropNext('/trade/v1/refund');
    const refunds = await countRequests(env.runtime.baseUrl, '/trade/v1/refund');
    const answer = await call(env.client, 'refund', {
      syssn: paid.structured.syssn,
      txamt: 2_000,
      out_trade_no: 'lost_refund_1',
    });
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('PARTIALLY_REFUNDED');
    expect(answer.structured.reconciled).toBe(true);
    expect(answer.structured.out_trade_no).toBe('lost_refund_1');
    expect(answer.structured.refundable_txamt).toBe(3_000);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/refund')).toBe(refunds + 1);
  });
});

describe('cancel whose answer is lost', () => {
  it('is reconciled by querying the payment', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '800201',
      txamt: 800,
      txcurrcd: 'HKD',
    });
    await dropNext('/trade/v1/close');
    const answer = await call(env.client, 'cancel_payment', { syssn: created.structured.syssn });
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('CANCELLED');
    expect(answer.structured.reconciled).toBe(true);
  });
});

describe('rate limiting', () => {
  it('a payment QFPay keeps refusing with 429 is reported as not processed, to be retried with the same out_trade_no', async () => {
    await simulatorControl(env.runtime.baseUrl, 'POST', '/__sim/faults', {
      kind: 'http429',
      paths: ['/trade/v1/payment'],
      count: 3,
    });
    const answer = await call(env.client, 'create_payment', {
      pay_type: '800101',
      txamt: 100,
      txcurrcd: 'HKD',
      out_trade_no: 'rate_limited_1',
    });
    expect(answer.isError).toBe(true);
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'rate_limited' }));
    expect(String(answer.structured.next_action)).toMatch(
      /same arguments \(same out_trade_no rate_limited_1\)/,
    );
    expect(answer.structured.status).toBeUndefined();
    // Once QFPay lets it through, the very same call succeeds: nothing was processed before.
    const retried = await call(env.client, 'create_payment', {
      pay_type: '800101',
      txamt: 100,
      txcurrcd: 'HKD',
      out_trade_no: 'rate_limited_1',
    });
    expect(retried.isError).toBe(false);
    expect(retried.structured.status).toBe('AWAITING_CUSTOMER');
  });
});
