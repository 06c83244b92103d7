import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, type Connected, connect, countRequests, simulatorControl } from './helpers.js';

/**
 * The tool side of the fidelity fixes: cancel_payment refuses what QFPay cannot cancel before
 * sending anything, and the refund tool explains QFPay's refund refusals with a next action.
 */

let env: Connected;
const setClock = (set: string) => simulatorControl(env.runtime.baseUrl, 'POST', '/__sim/clock', { set });

beforeAll(async () => {
  env = await connect();
  await setClock('2026-03-16 12:00:00');
});
afterAll(async () => {
  await env.close();
});

describe('cancel_payment and Hong Kong pay types', () => {
  it.each([
    ['801501', /stop showing the QR code or link: the order expires by itself/i],
    ['805801', /expires by itself/],
  ])('refuses %s before sending, with what to do instead', async (payType, advice) => {
    const created = await call(env.client, 'create_payment', {
      pay_type: payType,
      txamt: 990,
      txcurrcd: 'HKD',
    });
    expect(created.structured.status).toBe('AWAITING_CUSTOMER');
    const closes = await countRequests(env.runtime.baseUrl, '/trade/v1/close');
    const reversals = await countRequests(env.runtime.baseUrl, '/trade/v1/reversal');
    const answer = await call(env.client, 'cancel_payment', { syssn: created.structured.syssn });
    expect(answer.isError).toBe(true);
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
    expect(answer.text).toMatch(/cannot be cancelled through the QFPay API/);
    expect(answer.text).toMatch(/QFPay does not cancel Hong Kong pay types/);
    expect(answer.text).toMatch(advice);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/close')).toBe(closes);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/reversal')).toBe(reversals);
  });

  it('a Hong Kong CPM payment in progress: keep querying, refund if it ends PAID', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '805808',
      txamt: 990,
      txcurrcd: 'HKD',
      auth_code: '134567890123451143',
    });
    expect(created.structured.status).toBe('PROCESSING');
    const answer = await call(env.client, 'cancel_payment', { syssn: created.structured.syssn });
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/Keep querying the payment/);
  });
});

describe('refund refusals, explained with a next action', () => {
  it("1269: an earlier day's payment when today's takings do not cover it", async () => {
    await setClock('2026-03-15 12:00:00');
    const paid = await call(env.client, 'create_payment', {
      pay_type: '800208',
      txamt: 5_000,
      txcurrcd: 'HKD',
      auth_code: '134567890123456789',
    });
    expect(paid.structured.status).toBe('PAID');
    await setClock('2026-03-16 12:00:00');
    const refused = await call(env.client, 'refund', { syssn: paid.structured.syssn, txamt: 4_000 });
    expect(refused.isError).toBe(true);
    expect(refused.structured.error).toEqual(expect.objectContaining({ respcd: '1269' }));
    expect(refused.text).toMatch(/once today’s takings cover it/);
  });

  it('1265: a payment made between 23:30 and 00:30', async () => {
    await setClock('2026-03-16 23:40:00');
    const late = await call(env.client, 'create_payment', {
      pay_type: '800208',
      txamt: 1_000,
      txcurrcd: 'HKD',
      auth_code: '134567890123456789',
    });
    await setClock('2026-03-17 10:00:00');
    await call(env.client, 'create_payment', {
      pay_type: '800208',
      txamt: 9_000,
      txcurrcd: 'HKD',
      auth_code: '134567890123456789',
    });
    const refused = await call(env.client, 'refund', { syssn: late.structured.syssn, txamt: 1_000 });
    expect(refused.isError).toBe(true);
    expect(refused.structured.error).toEqual(expect.objectContaining({ respcd: '1265' }));
    expect(refused.text).toMatch(/If the payment was made between 23:30 and 00:30/);
  });
});
