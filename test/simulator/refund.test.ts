import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import {
  control,
  cpmPayment,
  customer,
  freshState,
  mpmPayment,
  qfOk,
  qfpay,
  queryOne,
  TXDTM,
  uniqueOrderNo,
} from './helpers.js';

/** /trade/v1/refund: partial and full refunds, refusals, the blackout window and concurrency. */

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ quiet: true, rateLimits: [{ count: 10_000, durationMs: 1_000 }] });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await freshState(sim);
});

const pay = (params: Record<string, string>) => qfOk(sim, '/trade/v1/payment', params);
const refund = (syssn: string, txamt: string, extra: Record<string, string> = {}) =>
  qfOk(sim, '/trade/v1/refund', { syssn, txamt, out_trade_no: uniqueOrderNo('R'), txdtm: TXDTM, ...extra });

describe('refunds', () => {
  it('answers a new syssn and orig_syssn, and marks the original partially then fully refunded', async () => {
    const payment = await pay(cpmPayment({ txamt: '1000' }));
    const first = await refund(payment.syssn!, '300');
    expect(first).toMatchObject({ respcd: '0000', orig_syssn: payment.syssn, txamt: '300', txcurrcd: 'HKD' });
    expect(first.syssn).toMatch(/^\d{26}$/);
    expect(first.syssn).not.toBe(payment.syssn);
    expect((await queryOne(sim, { syssn: payment.syssn! }))?.cancel).toBe('5');
    const second = await refund(payment.syssn!, '700');
    expect(second.respcd).toBe('0000');
    expect((await queryOne(sim, { syssn: payment.syssn! }))?.cancel).toBe('3');
    const refundRow = await queryOne(sim, { syssn: second.syssn! });
    expect(refundRow).toMatchObject({
      order_type: 'refund',
      origssn: payment.syssn,
      respcd: '0000',
      txamt: '700',
    });
    expect(refundRow?.out_trade_no).toBe(second.out_trade_no);
  });

  it('answers 1272 for more than the remainder and 1262 once fully refunded', async () => {
    const payment = await pay(cpmPayment({ txamt: '1000' }));
    await refund(payment.syssn!, '600');
    const tooMuch = await refund(payment.syssn!, '401');
    expect(tooMuch.respcd).toBe('1272');
    expect(tooMuch.respmsg).toMatch(/remainder 400/);
    await refund(payment.syssn!, '400');
    expect((await refund(payment.syssn!, '1')).respcd).toBe('1262');
  });

  it('answers 1272 for more than the original on the first refund', async () => {
    const payment = await pay(cpmPayment({ txamt: '1000' }));
    expect((await refund(payment.syssn!, '1001')).respcd).toBe('1272');
  });

  it('answers 1261 for a payment that is not paid and 1263 for a cancelled one', async () => {
    const waiting = await pay(mpmPayment());
    expect((await refund(waiting.syssn!, '100')).respcd).toBe('1261');
    const failed = await pay(cpmPayment({ auth_code: '134567890123451201' }));
    expect((await refund(failed.syssn!, '100')).respcd).toBe('1261');
    const closed = await pay(mpmPayment({ txamt: '500' }));
    await qfOk(sim, '/trade/v1/close', { syssn: closed.syssn!, txamt: '500', txdtm: TXDTM });
    expect((await refund(closed.syssn!, '100')).respcd).toBe('1263');
  });

  it('answers 1136 for an unknown syssn and for a refund syssn', async () => {
    const unknown = await refund('20260315999999999999999999', '100');
    expect(unknown.respcd).toBe('1136');
    const payment = await pay(cpmPayment());
    const done = await refund(payment.syssn!, '100');
    expect((await refund(done.syssn!, '50')).respcd).toBe('1136');
  });

  it('refuses FPS (802001) refunds with 1155', async () => {
    const order = await pay(mpmPayment({ pay_type: '802001' }));
    await customer(sim, { syssn: order.syssn!, outcome: 'pay' });
    const answer = await refund(order.syssn!, '100');
    expect(answer.respcd).toBe('1155');
    expect(answer.respmsg).toMatch(/802001/);
  });

  it('answers 1102 when a refund reuses an out_trade_no, so a retried refund never pays out twice', async () => {
    const payment = await pay(cpmPayment({ txamt: '1000' }));
    const outTradeNo = uniqueOrderNo('R');
    expect((await refund(payment.syssn!, '300', { out_trade_no: outTradeNo })).respcd).toBe('0000');
    expect((await refund(payment.syssn!, '300', { out_trade_no: outTradeNo })).respcd).toBe('1102');
    expect((await refund(payment.syssn!, '300', { out_trade_no: payment.out_trade_no! })).respcd).toBe(
      '1102',
    );
    expect((await queryOne(sim, { syssn: payment.syssn! }))?.cancel).toBe('5');
  });

  it('validates the refund fields', async () => {
    const payment = await pay(cpmPayment());
    expect((await refund(payment.syssn!, '1.5')).respmsg).toMatch(/txamt/);
    const noTxdtm = await qfOk(sim, '/trade/v1/refund', {
      syssn: payment.syssn!,
      txamt: '1',
      out_trade_no: uniqueOrderNo(),
    });
    expect(noTxdtm.respcd).toBe('1104');
    expect(noTxdtm.respmsg).toMatch(/txdtm/);
  });

  it('refunds an MPM order once the customer paid it', async () => {
    const order = await pay(mpmPayment({ txamt: '2500' }));
    await customer(sim, { syssn: order.syssn!, outcome: 'pay' });
    expect((await refund(order.syssn!, '2500')).respcd).toBe('0000');
    expect((await queryOne(sim, { syssn: order.syssn! }))?.cancel).toBe('3');
  });
});

describe('the 23:30–00:30 (UTC+8) refund blackout', () => {
  it.each([
    ['2026-03-15 23:30:00', '1265'],
    ['2026-03-15 23:59:59', '1265'],
    ['2026-03-16 00:00:00', '1265'],
    ['2026-03-16 00:29:59', '1265'],
    ['2026-03-16 00:30:00', '0000'],
    ['2026-03-15 23:29:00', '0000'],
  ])('at %s a refund answers %s', async (time, expected) => {
    // Paid at the same moment: the day's takings cover the refund; the request time decides.
    await control(sim, 'POST', '/__sim/clock', { set: time });
    const payment = await pay(cpmPayment());
    const answer = await refund(payment.syssn!, '100');
    expect(answer.respcd).toBe(expected);
    if (expected === '1265') expect(answer.respmsg).toMatch(/00:30/);
  });

  it('reads ISO clock input with a zone: 15:45Z is 23:45 in Hong Kong', async () => {
    const payment = await pay(cpmPayment());
    await control(sim, 'POST', '/__sim/clock', { set: '2026-03-15T15:45:00Z' });
    expect((await refund(payment.syssn!, '100')).respcd).toBe('1265');
  });
});

describe('concurrent partial refunds', () => {
  it('never add up to more than the original', async () => {
    const payment = await pay(cpmPayment({ txamt: '1000' }));
    const attempts = await Promise.all(
      Array.from({ length: 30 }, () =>
        qfpay(sim, '/trade/v1/refund', {
          syssn: payment.syssn!,
          txamt: '70',
          out_trade_no: uniqueOrderNo('R'),
          txdtm: TXDTM,
        }),
      ),
    );
    const codes = attempts.map((a) => a.answer?.respcd);
    expect(codes.filter((c) => c === '0000')).toHaveLength(14);
    expect(codes.filter((c) => c === '1272')).toHaveLength(16);
    const rows = await qfOk(sim, '/trade/v1/query', { pay_type: '800208', page_size: '100' });
    const refunded = rows
      .data!.filter((r) => r.order_type === 'refund')
      .reduce((sum, r) => sum + Number(r.txamt), 0);
    expect(refunded).toBe(980);
    expect((await queryOne(sim, { syssn: payment.syssn! }))?.cancel).toBe('5');
  });
});
