import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatUtc8, utc8MonthBounds } from '../../src/simulator/clock.js';
import { SimulatorEngine } from '../../src/simulator/engine.js';
import { handlePayment } from '../../src/simulator/handlers/payment.js';
import { handleQuery } from '../../src/simulator/handlers/query.js';
import type { HandlerContext, ResponseBody } from '../../src/simulator/handlers/common.js';
import { DEFAULT_SIMULATOR_CREDENTIAL, resolveSimulatorOptions } from '../../src/simulator/options.js';
import type { SimTransaction } from '../../src/simulator/state.js';

/**
 * 100,000 orders booked through the engine's own payment handler, then every kind of lookup
 * checked against a brute-force scan of the same books. Correctness only: the cost is measured
 * by `npm run bench` (simulator-scale), never asserted here.
 */

const ORDERS = 100_000;
const START = Date.parse('2026-01-01T00:00:00+08:00');
/** Three months of orders, evenly spread. */
const STEP_MS = Math.floor((90 * 24 * 3_600_000) / ORDERS);
const auth = {
  credential: DEFAULT_SIMULATOR_CREDENTIAL,
  merchant: DEFAULT_SIMULATOR_CREDENTIAL.appcode,
  signType: 'MD5' as const,
};

let engine: SimulatorEngine;
const created: { syssn: string; outTradeNo: string; createdAt: number }[] = [];

function call(
  handler: (context: HandlerContext) => ResponseBody,
  fields: Record<string, string>,
): ResponseBody {
  return handler({ engine, auth, params: new Map(Object.entries(fields)) });
}

function query(fields: Record<string, string>): Record<string, string>[] {
  const answer = call(handleQuery, fields);
  expect(answer.respcd).toBe('0000');
  return answer.data as Record<string, string>[];
}

function newestFirst(a: SimTransaction, b: SimTransaction): number {
  return b.createdAtSimMs - a.createdAtSimMs || (a.syssn < b.syssn ? 1 : -1);
}

beforeAll(() => {
  engine = new SimulatorEngine(
    resolveSimulatorOptions({ quiet: true }),
    () => Promise.reject(new Error('no notifications in this test')),
    () => undefined,
  );
  for (let i = 0; i < ORDERS; i++) {
    const at = START + i * STEP_MS;
    engine.clock.set(at);
    // Every tenth order is a waiting WeChat QR with a 2-hour lifetime; the rest are paid CPM.
    const mpm = i % 10 === 0;
    const outTradeNo = `scale${i}`;
    const answer = call(handlePayment, {
      pay_type: mpm ? '800201' : '800208',
      txamt: String(100 + (i % 900)),
      txcurrcd: 'HKD',
      out_trade_no: outTradeNo,
      txdtm: formatUtc8(at),
      ...(mpm ? { expired_time: '120' } : { auth_code: '134567890123456789' }),
    });
    expect(answer.respcd).toBe('0000');
    created.push({ syssn: answer.syssn as string, outTradeNo, createdAt: at });
  }
}, 120_000);

afterAll(() => {
  engine.close();
});

describe(`a simulator holding ${ORDERS.toLocaleString('en')} orders`, () => {
  it('finds any order by syssn and by out_trade_no within its month', () => {
    for (let i = 0; i < ORDERS; i += 997) {
      const order = created[i]!;
      expect(query({ syssn: order.syssn }).map((r) => r.syssn)).toEqual([order.syssn]);
      const month = utc8MonthBounds(order.createdAt);
      const inMonth = query({
        out_trade_no: order.outTradeNo,
        start_time: formatUtc8(month.startMs),
        end_time: formatUtc8(month.endMs),
      });
      expect(inMonth.map((r) => r.out_trade_no)).toEqual([order.outTradeNo]);
      const otherMonth = utc8MonthBounds(month.endMs + 40 * 24 * 3_600_000);
      expect(
        query({
          out_trade_no: order.outTradeNo,
          start_time: formatUtc8(otherMonth.startMs),
          end_time: formatUtc8(otherMonth.endMs),
        }),
      ).toEqual([]);
    }
  });

  it('answers comma lists, including a repeated id, once per order', () => {
    const some = [created[5]!, created[50_000]!, created[99_999]!];
    const rows = query({ syssn: [...some.map((o) => o.syssn), some[0]!.syssn].join(',') });
    expect(rows.map((r) => r.syssn).sort()).toEqual(some.map((o) => o.syssn).sort());
  });

  it('pages through a month range exactly like a scan of every order', () => {
    const february = utc8MonthBounds(Date.parse('2026-02-10T00:00:00+08:00'));
    const expected = engine.ledger
      .all()
      .filter((t) => t.createdAtSimMs >= february.startMs && t.createdAtSimMs <= february.endMs)
      .sort(newestFirst)
      .map((t) => t.syssn);
    expect(expected.length).toBeGreaterThan(25_000);
    for (const page of [1, 3, 250]) {
      const rows = query({
        start_time: formatUtc8(february.startMs),
        end_time: formatUtc8(february.endMs),
        page: String(page),
        page_size: '100',
      });
      expect(rows.map((r) => r.syssn)).toEqual(expected.slice((page - 1) * 100, page * 100));
    }
    // A one-second range: the orders whose sysdtm is that second, and no others.
    const one = created[12_345]!;
    const second = formatUtc8(one.createdAt);
    const rows = query({ start_time: second, end_time: second, page_size: '100' });
    const scan = engine.ledger.all().filter((t) => formatUtc8(t.createdAtSimMs) === second);
    expect(rows.map((r) => r.syssn).sort()).toEqual(scan.map((t) => t.syssn).sort());
  });

  it('expires exactly the waiting orders whose lifetime has passed, and only those', () => {
    const lastCreated = created.at(-1)!.createdAt;
    // The last five hours of orders: only those created in the final two hours are still young.
    const now = lastCreated + 30 * 60_000;
    engine.clock.set(now);
    engine.sweep();
    const waiting = engine.ledger.all().filter((t) => t.state === 'AWAITING_CUSTOMER');
    const expired = engine.ledger.all().filter((t) => t.state === 'EXPIRED');
    const mpmCount = Math.ceil(ORDERS / 10);
    expect(waiting.length + expired.length).toBe(mpmCount);
    for (const t of waiting) expect(t.createdAtSimMs + 120 * 60_000).toBeGreaterThan(now);
    for (const t of expired) expect(t.createdAtSimMs + 120 * 60_000).toBeLessThanOrEqual(now);
    expect(waiting.length).toBeGreaterThan(0);
    // The next deadline is the oldest still-waiting order's.
    const oldestWaiting = Math.min(...waiting.map((t) => t.createdAtSimMs));
    expect(engine.ledger.nextDeadline()).toBe(oldestWaiting + 120 * 60_000);
  });
});
