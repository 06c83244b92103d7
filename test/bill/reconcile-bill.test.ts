import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { QfpayClient } from '../../src/qfpay/client.js';
import { pythonJsonDumps } from '../../src/qfpay/pyjson.js';
import { signRawBody } from '../../src/qfpay/signature.js';
import type { LedgerRecord } from '../../src/safety/ledger.js';
import { type DayDifference, type DaySources, reconcileDay } from '../../src/safety/reconcile-day.js';
import { type RunningSimulator, type SimCredential, startSimulator } from '../../src/simulator/index.js';
import { CPM_AUTH_CODE, randomCredential } from '../money-safety/helpers.js';
import { type BillAnswer, type BillProxy, billProxy, withDeclaredSize } from './helpers.js';

/**
 * reconcileDay with QFPay's side from the trade bill, against the simulator over loopback HTTP
 * and the real client: the same differences as from the query by range, the day's margins still
 * matched, and every unusable bill answer (not a zip, no columns, over the cap, a QFPay error)
 * falling back to the query with a note that says why.
 */

const DAY = '2026-03-16';

let simulator: RunningSimulator;
let shop: SimCredential;
let proxy: BillProxy;
let client: QfpayClient;
let records: LedgerRecord[];
const tag = Date.now().toString(36);
const ref = (label: string): string => `rb${label}${tag}`;

let seq = 0;
/** A ledger action as the guard records it: its intent and its outcome, at `hongKongTime` on DAY. */
function action(
  reference: string,
  status: string,
  over: Partial<LedgerRecord> = {},
  hongKongTime = '12:00:00',
): LedgerRecord[] {
  const time = new Date(`${DAY}T${hongKongTime}+08:00`).toISOString();
  const base = {
    time,
    environment: 'local',
    merchant: { appcode: 'MS****', fingerprint: '0123456789abcdef' },
    tool: 'create_payment',
    kind: 'payment',
    out_trade_no: reference,
    intent_id: reference,
    txamt: 1000,
    txcurrcd: 'HKD',
    prev_hash: '',
    hash: '',
    ...over,
  } as const;
  return [
    { ...base, seq: (seq += 1), step: 'intent', status: 'INTENDED' },
    { ...base, seq: (seq += 1), step: 'outcome', status: status as LedgerRecord['status'] },
  ];
}

async function pay(reference: string, txamt: number, payType = '800108'): Promise<string> {
  const answer = await client.createPayment({
    pay_type: payType,
    txamt,
    txcurrcd: 'HKD',
    out_trade_no: reference,
    ...(payType === '800108' ? { auth_code: CPM_AUTH_CODE } : {}),
  });
  return answer.syssn!;
}

beforeAll(async () => {
  shop = randomCredential();
  simulator = await startSimulator({ port: 0, credentials: [shop], quiet: true });
  proxy = await billProxy(simulator.baseUrl);
  client = new QfpayClient({
    baseUrl: proxy.baseUrl,
    credentials: shop,
    timeoutMs: 5_000,
    retry: { readAttempts: 1 },
  });
  simulator.control.setClock({ set: `${DAY} 12:00:00` });
  const agreed = await pay(ref('ok'), 1000);
  await client.refund({ syssn: agreed, out_trade_no: ref('okr'), txamt: 300 });
  await pay(ref('amt'), 999);
  await pay(ref('wait'), 1000, '800101');
  await pay(ref('out'), 4321);
  // (The MPM order above expires unpaid meanwhile.) Sent at 23:59:59, booked by QFPay after
  // midnight: only the query of the margin finds it.
  simulator.control.setClock({ set: '2026-03-17 00:00:02' });
  await pay(ref('late'), 1000);
  records = [
    ...action(ref('ok'), 'PAID'),
    ...action(ref('okr'), 'PARTIALLY_REFUNDED', { kind: 'refund', tool: 'refund', txamt: 300 }),
    ...action(ref('amt'), 'PAID'),
    ...action(ref('wait'), 'PAID'),
    ...action(ref('ghost'), 'PAID'),
    ...action(ref('late'), 'PAID', {}, '23:59:59'),
  ];
});
afterAll(async () => {
  await client?.destroy();
  await proxy?.close();
  await simulator?.close();
});

const sources = (): DaySources => ({
  records: () => Promise.resolve(records),
  queryPage: async (range) => (await client.query(range)).data,
});
const withBill = (): DaySources => ({ ...sources(), bill: () => client.downloadTradeBill(DAY) });

const kinds = (differences: readonly DayDifference[]): string[] =>
  differences.map((d) => `${d.kind}:${d.out_trade_no}`).sort();

const EXPECTED = [
  `amount_differs:${ref('amt')}`,
  `missing_from_ledger:${ref('out')}`,
  `status_differs:${ref('wait')}`,
  `unknown_to_qfpay:${ref('ghost')}`,
].sort();

describe('reconcileDay from the trade bill', () => {
  it('finds the same differences as the query by range, and says it used the bill', async () => {
    proxy.bill = undefined;
    const byBill = await reconcileDay(DAY, withBill());
    const byQuery = await reconcileDay(DAY, sources());
    expect(byBill).toMatchObject({ source: 'trade_bill', truncated: false });
    expect(byBill.source_note).toBeUndefined();
    expect(byQuery.source).toBe('query');
    expect(kinds(byBill.differences)).toEqual(EXPECTED);
    expect(byBill.differences).toEqual(expect.arrayContaining([...byQuery.differences]));
    expect(byBill.differences).toHaveLength(byQuery.differences.length);
    expect(byBill.differences).toContainEqual(
      expect.objectContaining({ kind: 'amount_differs', ledger_txamt: 1000, qfpay_txamt: 999 }),
    );
    expect(byBill.differences).toContainEqual(
      expect.objectContaining({ kind: 'status_differs', ledger_status: 'PAID', qfpay_status: 'EXPIRED' }),
    );
    // ok, okr, amt, wait and the late one (matched through the margin); ghost is not at QFPay.
    expect(byBill).toMatchObject({ ledger_actions: 6, matched: 5, qfpay_transactions: 5 });
    expect(byQuery).toMatchObject({ ledger_actions: 6, matched: 5, qfpay_transactions: 5 });
  });

  const jsonError = pythonJsonDumps({
    respcd: '1104',
    resperr: 'invalid parameter',
    respmsg: 'trade_bill is only served in production',
  });
  const unusable: [string, () => BillAnswer, RegExp][] = [
    [
      'an answer that is not a zip',
      () => ({ contentType: 'text/html', body: '<html>Bad gateway</html>' }),
      /neither a zip file nor JSON/,
    ],
    [
      'a zip without the columns',
      () => ({
        contentType: 'application/zip',
        body: zipSync({ 'bill.csv': Buffer.from('date,amount\n2026-03-16,5\n') }),
      }),
      /lacks the column\(s\) syssn/,
    ],
    [
      'an archive over the cap',
      () => ({
        contentType: 'application/zip',
        body: withDeclaredSize(zipSync({ 'bill.csv': Buffer.from('syssn\n') }), 0x7000_0000),
      }),
      /over the 67108864-byte limit/,
    ],
    [
      "QFPay's JSON error",
      () => ({
        contentType: 'application/json; charset=UTF-8',
        body: jsonError,
        headers: { 'x-qf-sign': signRawBody(jsonError, shop.key) },
      }),
      /trade_bill answered 1104.*only served in production/,
    ],
  ];

  it.each(unusable)(
    'falls back to the query after %s, with a note that says why',
    async (_name, answer, reason) => {
      proxy.bill = answer();
      const report = await reconcileDay(DAY, withBill());
      expect(report.source).toBe('query');
      expect(report.source_note).toMatch(/^The trade-bill download failed \(/);
      expect(report.source_note).toMatch(reason);
      expect(report.source_note).toContain("QFPay's query API was used instead");
      expect(report.source_note).not.toContain(shop.key);
      expect(kinds(report.differences)).toEqual(EXPECTED);
    },
  );
});
