import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { control, cpmPayment, freshState, mpmPayment, qfOk, TXDTM, uniqueOrderNo } from './helpers.js';

/** /trade/v1/query: filters, lists, pagination and the one-calendar-month rule. */

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ quiet: true });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await freshState(sim);
});

const pay = (params: Record<string, string>) => qfOk(sim, '/trade/v1/payment', params);
const query = (params: Record<string, string>) => qfOk(sim, '/trade/v1/query', params);
const setClock = (set: string) => control(sim, 'POST', '/__sim/clock', { set });

describe('rows', () => {
  it('carry the documented fields, with origssn only on refund rows', async () => {
    const payment = await pay(cpmPayment({ goods_name: 'Tea' }));
    const refund = await qfOk(sim, '/trade/v1/refund', {
      syssn: payment.syssn!,
      out_trade_no: uniqueOrderNo('R'),
      txamt: '400',
      txdtm: TXDTM,
    });
    const answer = await query({ syssn: `${payment.syssn!},${refund.syssn!}` });
    expect(answer).toMatchObject({ respcd: '0000', resperr: '请求成功', page: '1', page_size: '10' });
    const [refundRow, paymentRow] = [
      answer.data!.find((r) => r.order_type === 'refund')!,
      answer.data!.find((r) => r.order_type === 'payment')!,
    ];
    const common = [
      'syssn',
      'out_trade_no',
      'pay_type',
      'order_type',
      'txamt',
      'txcurrcd',
      'txdtm',
      'sysdtm',
      'paydtm',
      'respcd',
      'errmsg',
      'cancel',
      'goods_name',
      'cardcd',
      'chnlsn',
      'udid',
    ];
    for (const field of common) {
      expect(paymentRow[field], field).toBeTypeOf('string');
      expect(refundRow[field], field).toBeTypeOf('string');
    }
    expect(paymentRow.origssn).toBeUndefined();
    expect(refundRow).toMatchObject({
      origssn: payment.syssn,
      txamt: '400',
      respcd: '0000',
      cancel: '0',
      pay_type: '800208',
    });
    expect(paymentRow).toMatchObject({ cancel: '5', goods_name: 'Tea', udid: 'qiantai2' });
  });

  it('are newest first', async () => {
    const first = await pay(cpmPayment());
    await control(sim, 'POST', '/__sim/clock', { advanceMs: 5_000 });
    const second = await pay(cpmPayment());
    const answer = await query({});
    expect(answer.data!.map((r) => r.syssn)).toEqual([second.syssn, first.syssn]);
  });
});

describe('filters', () => {
  it('take comma-separated syssn and out_trade_no lists', async () => {
    const a = await pay(cpmPayment());
    const b = await pay(cpmPayment());
    const c = mpmPayment();
    await pay(c);
    expect((await query({ syssn: `${a.syssn!},${b.syssn!}` })).data).toHaveLength(2);
    expect((await query({ out_trade_no: `${a.out_trade_no!},${c.out_trade_no!}` })).data).toHaveLength(2);
    expect((await query({ syssn: a.syssn!, out_trade_no: c.out_trade_no! })).data).toHaveLength(0);
  });

  it('filter by pay_type list and by respcd', async () => {
    await pay(cpmPayment());
    await pay(mpmPayment());
    await pay(mpmPayment({ pay_type: '800101' }));
    await pay(cpmPayment({ auth_code: '134567890123451201' }));
    expect((await query({ pay_type: '800201,800101' })).data).toHaveLength(2);
    expect((await query({ respcd: '1143' })).data).toHaveLength(2);
    expect((await query({ respcd: '1201' })).data).toHaveLength(1);
    expect((await query({ respcd: '0000', pay_type: '800208' })).data).toHaveLength(1);
  });

  it('refuse a malformed respcd filter', async () => {
    expect((await query({ respcd: 'paid' })).respcd).toBe('1104');
  });

  it('only show the asking merchant', async () => {
    const other = { appcode: 'OTHERMERCHANT0000000000000000000', key: 'other-key' };
    const shared = await startSimulator({
      quiet: true,
      credentials: [other, { appcode: 'MINE', key: 'mine' }],
    });
    try {
      await freshState(shared);
      const paid = await qfOk(shared, '/trade/v1/payment', cpmPayment(), { credential: other });
      const mine = await qfOk(
        shared,
        '/trade/v1/query',
        { syssn: paid.syssn! },
        { credential: { appcode: 'MINE', key: 'mine' } },
      );
      expect(mine.data).toEqual([]);
    } finally {
      await shared.close();
    }
  });
});

describe('pagination', () => {
  it('pages with page and page_size (default 10)', async () => {
    for (let i = 0; i < 12; i++) await pay(cpmPayment());
    const first = await query({});
    expect(first.data).toHaveLength(10);
    const second = await query({ page: '2' });
    expect(second.data).toHaveLength(2);
    expect(second.page).toBe('2');
    const small = await query({ page: '3', page_size: '5' });
    expect(small.data).toHaveLength(2);
    const seen = new Set([...first.data!, ...second.data!].map((r) => r.syssn));
    expect(seen.size).toBe(12);
    expect((await query({ page: '4', page_size: '5' })).data).toEqual([]);
  });

  it('allows page_size 100 and refuses 101 or 0 with 1104', async () => {
    expect((await query({ page_size: '100' })).page_size).toBe('100');
    const over = await query({ page_size: '101' });
    expect(over.respcd).toBe('1104');
    expect(over.respmsg).toMatch(/maximum of 100/);
    expect((await query({ page_size: '0' })).respcd).toBe('1104');
    expect((await query({ page: '0' })).respcd).toBe('1104');
  });
});

describe('time range', () => {
  it('defaults to the current calendar month of the simulated clock', async () => {
    await setClock('2026-03-31 23:59:00');
    const march = await pay(cpmPayment());
    await setClock('2026-04-01 00:01:00');
    const april = await pay(cpmPayment());
    expect((await query({})).data!.map((r) => r.syssn)).toEqual([april.syssn]);
    const inMarch = await query({ start_time: '2026-03-01 00:00:00', end_time: '2026-03-31 23:59:59' });
    expect(inMarch.data!.map((r) => r.syssn)).toEqual([march.syssn]);
    // A start_time alone covers the rest of its month.
    expect((await query({ start_time: '2026-03-31 00:00:00' })).data!.map((r) => r.syssn)).toEqual([
      march.syssn,
    ]);
  });

  it('filters on sysdtm, inclusive of end_time to the second', async () => {
    const payment = await pay(cpmPayment());
    const sysdtm = payment.sysdtm as string;
    expect((await query({ start_time: sysdtm, end_time: sysdtm })).data).toHaveLength(1);
    expect(
      (await query({ start_time: '2026-03-01 00:00:00', end_time: '2026-03-15 11:59:59' })).data,
    ).toHaveLength(0);
  });

  it('refuses a range that crosses a calendar month with a clear 1104', async () => {
    const answer = await query({ start_time: '2026-03-20 00:00:00', end_time: '2026-04-02 00:00:00' });
    expect(answer.respcd).toBe('1104');
    expect(answer.respmsg).toMatch(/same calendar month.*2026-03.*2026-04/);
  });

  it('refuses start_time after end_time and malformed times', async () => {
    expect((await query({ start_time: '2026-03-20 00:00:00', end_time: '2026-03-10 00:00:00' })).respcd).toBe(
      '1104',
    );
    const malformed = await query({ start_time: '2026/03/01' });
    expect(malformed.respcd).toBe('1104');
    expect(malformed.respmsg).toMatch(/start_time/);
  });

  it('is ignored only when syssn is given (current docs); out_trade_no lookups stay in the range', async () => {
    await setClock('2026-02-10 10:00:00');
    const old = await pay(cpmPayment());
    await setClock('2026-03-15 12:00:00');
    expect((await query({ syssn: old.syssn! })).data).toHaveLength(1);
    expect((await query({ syssn: old.syssn!, start_time: '2026-03-01 00:00:00' })).data).toHaveLength(1);
    // Default range = this month: last month's order is not found by its out_trade_no…
    expect((await query({ out_trade_no: old.out_trade_no! })).data).toHaveLength(0);
    expect(
      (await query({ out_trade_no: old.out_trade_no!, start_time: '2026-03-01 00:00:00' })).data,
    ).toHaveLength(0);
    // …until the range names its month.
    expect(
      (
        await query({
          out_trade_no: old.out_trade_no!,
          start_time: '2026-02-01 00:00:00',
          end_time: '2026-02-28 23:59:59',
        })
      ).data,
    ).toHaveLength(1);
  });
});
