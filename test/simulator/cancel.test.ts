import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { cpmPayment, customer, freshState, mpmPayment, qfOk, qfpay, queryOne, TXDTM } from './helpers.js';

/** /trade/v1/close and /trade/v1/reversal. */

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ quiet: true, pendingSettle: { afterQueries: 100, afterSeconds: Infinity } });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await freshState(sim);
});

const pay = (params: Record<string, string>) => qfOk(sim, '/trade/v1/payment', params);
const cancel = (
  path: 'close' | 'reversal',
  params: Record<string, string>,
  method: 'POST' | 'GET' = 'POST',
) => qfOk(sim, `/trade/v1/${path}`, { txdtm: TXDTM, ...params }, { method });

describe('close', () => {
  it('closes a waiting MPM order: new syssn, orig_syssn, cancel 2', async () => {
    const order = await pay(mpmPayment({ txamt: '2500' }));
    const answer = await cancel('close', { syssn: order.syssn!, txamt: '2500' });
    expect(answer).toMatchObject({
      respcd: '0000',
      orig_syssn: order.syssn,
      out_trade_no: order.out_trade_no,
      txamt: '2500',
    });
    expect(answer.syssn).toMatch(/^\d{26}$/);
    expect(answer.syssn).not.toBe(order.syssn);
    const row = await queryOne(sim, { syssn: order.syssn! });
    expect(row).toMatchObject({ cancel: '2', respcd: '1142' });
    // The customer can no longer pay it.
    expect((await customer(sim, { syssn: order.syssn!, outcome: 'pay' })).status).toBe(409);
  });

  it('finds the order by out_trade_no and accepts GET with a query string', async () => {
    const order = mpmPayment({ txamt: '2500' });
    await pay(order);
    const answer = await cancel('close', { out_trade_no: order.out_trade_no!, txamt: '2500' }, 'GET');
    expect(answer.respcd).toBe('0000');
  });

  it('answers 1142 when closing twice', async () => {
    const order = await pay(mpmPayment({ txamt: '2500' }));
    await cancel('close', { syssn: order.syssn!, txamt: '2500' });
    const again = await cancel('close', { syssn: order.syssn!, txamt: '2500' });
    expect(again.respcd).toBe('1142');
  });

  it('answers 1266 when txamt differs from the order', async () => {
    const order = await pay(mpmPayment({ txamt: '2500' }));
    const answer = await cancel('close', { syssn: order.syssn!, txamt: '2499' });
    expect(answer.respcd).toBe('1266');
    expect(answer.respmsg).toMatch(/2500/);
    expect((await queryOne(sim, { syssn: order.syssn! }))?.cancel).toBe('0');
  });

  it('answers 1260 for a paid order and advises a refund', async () => {
    const order = await pay(mpmPayment({ txamt: '2500' }));
    await customer(sim, { syssn: order.syssn!, outcome: 'pay' });
    const answer = await cancel('close', { syssn: order.syssn!, txamt: '2500' });
    expect(answer.respcd).toBe('1260');
    expect(answer.respmsg).toMatch(/refund/);
  });

  it('answers 1181 for an expired order and 1136 for an unknown one', async () => {
    const order = await pay(mpmPayment({ txamt: '2500' }));
    await customer(sim, { syssn: order.syssn!, outcome: 'expire' });
    expect((await cancel('close', { syssn: order.syssn!, txamt: '2500' })).respcd).toBe('1181');
    expect((await cancel('close', { syssn: '20260315123456789012345678', txamt: '2500' })).respcd).toBe(
      '1136',
    );
  });

  it('needs syssn or out_trade_no, txamt and txdtm', async () => {
    const order = await pay(mpmPayment({ txamt: '2500' }));
    expect((await cancel('close', { txamt: '2500' })).respmsg).toMatch(/syssn or out_trade_no/);
    expect((await cancel('close', { syssn: order.syssn! })).respmsg).toMatch(/txamt/);
    const noTxdtm = await qfpay(sim, '/trade/v1/close', { syssn: order.syssn!, txamt: '2500' });
    expect(noTxdtm.answer?.respmsg).toMatch(/txdtm/);
  });
});

describe('reversal', () => {
  it('reverses a CPM payment in an unknown state: cancel 1, row respcd 1263', async () => {
    const pending = await pay(cpmPayment({ txamt: '1000', auth_code: '134567890123451145' }));
    expect(pending.respcd).toBe('1145');
    const answer = await cancel('reversal', { syssn: pending.syssn!, txamt: '1000' });
    expect(answer).toMatchObject({ respcd: '0000', orig_syssn: pending.syssn });
    const row = await queryOne(sim, { syssn: pending.syssn! });
    expect(row).toMatchObject({ cancel: '1', respcd: '1263' });
    expect((await cancel('reversal', { syssn: pending.syssn!, txamt: '1000' })).respcd).toBe('1263');
  });

  it('answers 1260 for a CPM payment that went through (also when the payment said 1298)', async () => {
    const slow = await pay(cpmPayment({ txamt: '1000', auth_code: '134567890123451298' }));
    expect(slow.respcd).toBe('1298');
    expect((await cancel('reversal', { syssn: slow.syssn!, txamt: '1000' })).respcd).toBe('1260');
  });

  it('answers 1142 for a payment that already failed', async () => {
    const failed = await pay(cpmPayment({ txamt: '1000', auth_code: '134567890123451201' }));
    const answer = await cancel('reversal', { syssn: failed.syssn!, txamt: '1000' });
    expect(answer.respcd).toBe('1142');
    expect(answer.respmsg).toMatch(/nothing was charged/);
  });

  it('refuses to cancel a refund row', async () => {
    const payment = await pay(cpmPayment({ txamt: '1000' }));
    const refund = await qfOk(sim, '/trade/v1/refund', {
      syssn: payment.syssn!,
      txamt: '100',
      out_trade_no: 'RF1',
      txdtm: TXDTM,
    });
    expect((await cancel('reversal', { syssn: refund.syssn!, txamt: '100' })).respcd).toBe('1136');
  });
});
