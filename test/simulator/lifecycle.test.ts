import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { control, cpmPayment, customer, freshState, mpmPayment, qfOk, queryOne } from './helpers.js';

/** Waiting orders: the customer pays or fails (control API), the clock expires them. */

let sim: RunningSimulator;
const MINUTE = 60_000;

beforeAll(async () => {
  sim = await startSimulator({ quiet: true, pendingSettle: { afterQueries: 100, afterSeconds: 30 } });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await freshState(sim);
});

const pay = (params: Record<string, string>) => qfOk(sim, '/trade/v1/payment', params);
const advance = (ms: number) => control(sim, 'POST', '/__sim/clock', { advanceMs: ms });

describe('MPM order lifecycle', () => {
  it('the customer pays: the row turns 0000 with paydtm and wallet ids', async () => {
    const order = await pay(mpmPayment());
    await advance(90_000);
    const paid = await customer(sim, { syssn: order.syssn!, outcome: 'pay' });
    expect(paid.status).toBe(200);
    expect(paid.body.transaction).toMatchObject({ state: 'PAID', respcd: '0000', syssn: order.syssn });
    const row = await queryOne(sim, { syssn: order.syssn! });
    expect(row).toMatchObject({ respcd: '0000', cancel: '0' });
    expect(row?.paydtm).toMatch(/^2026-03-15 12:01:3\d$/);
    expect(row?.chnlsn).not.toBe('');
    expect(row?.cardcd).toMatch(/^o\w{27}$/);
  });

  it('the customer can be found by out_trade_no, and a failure sets the wallet code', async () => {
    const params = mpmPayment();
    await pay(params);
    const failed = await customer(sim, {
      out_trade_no: params.out_trade_no!,
      outcome: 'fail',
      respcd: '1201',
    });
    expect(failed.status).toBe(200);
    expect((await queryOne(sim, { out_trade_no: params.out_trade_no! }))?.respcd).toBe('1201');
  });

  it('a failure without a code uses 1205', async () => {
    const order = await pay(mpmPayment());
    await customer(sim, { syssn: order.syssn!, outcome: 'fail' });
    expect((await queryOne(sim, { syssn: order.syssn! }))?.respcd).toBe('1205');
  });

  it('expires after the default 30 simulated minutes with row respcd 1181', async () => {
    const order = await pay(mpmPayment());
    await advance(29 * MINUTE);
    expect((await queryOne(sim, { syssn: order.syssn! }))?.respcd).toBe('1143');
    await advance(MINUTE + 1_000);
    expect((await queryOne(sim, { syssn: order.syssn! }))?.respcd).toBe('1181');
    const transactions = (await control(sim, 'GET', '/__sim/transactions')).body.transactions as {
      state: string;
    }[];
    expect(transactions[0]?.state).toBe('EXPIRED');
  });

  it('honours expired_time for the types that support it', async () => {
    const order = await pay(mpmPayment({ expired_time: '5' }));
    await advance(4 * MINUTE);
    expect((await queryOne(sim, { syssn: order.syssn! }))?.respcd).toBe('1143');
    await advance(MINUTE + 1_000);
    expect((await queryOne(sim, { syssn: order.syssn! }))?.respcd).toBe('1181');
  });

  it('ignores expired_time for types that do not honour it (PayMe MPM keeps 30 minutes)', async () => {
    const order = await pay(mpmPayment({ pay_type: '805801', expired_time: '5' }));
    await advance(10 * MINUTE);
    expect((await queryOne(sim, { syssn: order.syssn! }))?.respcd).toBe('1143');
  });

  it('setting the clock past the expiry expires the order too', async () => {
    const order = await pay(mpmPayment({ expired_time: '10' }));
    await control(sim, 'POST', '/__sim/clock', { set: '2026-03-15 12:30:00' });
    expect((await queryOne(sim, { syssn: order.syssn! }))?.respcd).toBe('1181');
  });

  it('the control API refuses to act on an order that no longer waits (409)', async () => {
    const order = await pay(mpmPayment());
    await customer(sim, { syssn: order.syssn!, outcome: 'pay' });
    const again = await customer(sim, { syssn: order.syssn!, outcome: 'pay' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'conflict' });
    expect(again.body.message).toMatch(/not waiting/);
    const expired = await pay(mpmPayment());
    await customer(sim, { syssn: expired.syssn!, outcome: 'expire' });
    expect((await customer(sim, { syssn: expired.syssn!, outcome: 'fail' })).status).toBe(409);
  });

  it('the control API answers 404 for an unknown order and 400 for a bad request', async () => {
    expect((await customer(sim, { syssn: '20260315000000000000000000', outcome: 'pay' })).status).toBe(404);
    expect((await customer(sim, { outcome: 'pay' })).status).toBe(400);
    const order = await pay(mpmPayment());
    expect((await customer(sim, { syssn: order.syssn!, outcome: 'refund' })).status).toBe(400);
    expect((await customer(sim, { syssn: order.syssn!, outcome: 'fail', respcd: '0000' })).status).toBe(400);
  });
});

describe('pending CPM settlement by time', () => {
  it('settles after pendingSettle.afterSeconds of simulated time', async () => {
    const answer = await pay(cpmPayment({ auth_code: '134567890123451145' }));
    await advance(29_000);
    expect((await queryOne(sim, { syssn: answer.syssn! }))?.respcd).toBe('1145');
    await advance(2_000);
    expect((await queryOne(sim, { syssn: answer.syssn! }))?.respcd).toBe('0000');
  });

  it('a pending CPM payment can be paid or failed by the customer, but not expired', async () => {
    const first = await pay(cpmPayment({ auth_code: '134567890123451143' }));
    expect((await customer(sim, { syssn: first.syssn!, outcome: 'expire' })).status).toBe(409);
    expect((await customer(sim, { syssn: first.syssn!, outcome: 'fail', respcd: '1202' })).status).toBe(200);
    expect((await queryOne(sim, { syssn: first.syssn! }))?.respcd).toBe('1202');
  });
});

describe('time scale', () => {
  it('runs the simulated clock timeScale times faster than real time', async () => {
    const fast = await startSimulator({ quiet: true, timeScale: 60_000 });
    try {
      await freshState(fast);
      const order = await qfOk(fast, '/trade/v1/payment', mpmPayment({ expired_time: '5' }));
      // 5 simulated minutes = 5 real milliseconds.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await queryOne(fast, { syssn: order.syssn! }))?.respcd).toBe('1181');
    } finally {
      await fast.close();
    }
  });
});
