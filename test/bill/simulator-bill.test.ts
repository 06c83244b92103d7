import { unzipSync } from 'fflate';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { QfpayClient } from '../../src/qfpay/client.js';
import { QfpayUnknownOutcomeError, QfpayValidationError } from '../../src/qfpay/errors.js';
import { signatureHeaders } from '../../src/qfpay/signature.js';
import { TRADE_BILL_COLUMNS, TradeBillError } from '../../src/qfpay/trade-bill.js';
import type { TransactionRecord } from '../../src/qfpay/types.js';
import { type RunningSimulator, type SimCredential, startSimulator } from '../../src/simulator/index.js';
import { CPM_AUTH_CODE, randomCredential } from '../money-safety/helpers.js';

/**
 * The simulator's trade bill over real HTTP: signed like every endpoint, channel-wide (mchid
 * refused, every merchant of the app code in the file), one CSV of the UTC+8 day; and the client
 * reading it back into the same rows the query API gives for that day.
 */

const DAY = '2026-03-16';
const BILL = '/download/v1/trade_bill';

let simulator: RunningSimulator;
let shop: SimCredential;
let sister: SimCredential;
let client: QfpayClient;
let sisterClient: QfpayClient;

beforeAll(async () => {
  shop = randomCredential();
  // A second store under the same app code and key: the channel's bill covers both.
  sister = { ...shop, mchid: `${shop.mchid!}b` };
  simulator = await startSimulator({ port: 0, credentials: [shop, sister], quiet: true });
  simulator.control.setClock({ set: `${DAY} 12:00:00` });
  client = new QfpayClient({
    baseUrl: simulator.baseUrl,
    credentials: shop,
    timeoutMs: 5_000,
    retry: { readBaseDelayMs: 10 },
  });
  sisterClient = new QfpayClient({ baseUrl: simulator.baseUrl, credentials: sister, timeoutMs: 5_000 });
});
afterAll(async () => {
  await client?.destroy();
  await sisterClient?.destroy();
  await simulator?.close();
});

let seq = 0;
const ref = (label: string): string => `bill${label}${Date.now()}${(seq += 1)}`;

async function pay(on: QfpayClient, payType: string, txamt: number): Promise<string> {
  const answer = await on.createPayment({
    pay_type: payType,
    txamt,
    txcurrcd: 'HKD',
    out_trade_no: ref('p'),
    auth_code: CPM_AUTH_CODE,
  });
  expect(answer.respcd).toBe('0000');
  return answer.syssn!;
}

/** A raw GET of the bill, signed with `key` unless told otherwise. */
async function rawBill(
  fields: Record<string, string>,
  sign: 'right' | 'wrong' | 'none' = 'right',
): Promise<{ status: number; type: string; body: Buffer }> {
  const key = sign === 'wrong' ? `${shop.key}x` : shop.key;
  const headers =
    sign === 'none'
      ? { 'x-qf-appcode': shop.appcode }
      : signatureHeaders(fields, shop.appcode, key, 'SHA256');
  const query = new URLSearchParams(fields).toString();
  const answer = await request(`${simulator.baseUrl}${BILL}?${query}`, { headers });
  return {
    status: answer.statusCode,
    type: String(answer.headers['content-type']),
    body: Buffer.from(await answer.body.arrayBuffer()),
  };
}

function csvOf(zip: Buffer): string {
  const files = unzipSync(zip);
  expect(Object.keys(files)).toEqual([`trade_bill_${DAY}.csv`]);
  return Buffer.from(files[`trade_bill_${DAY}.csv`]!).toString('utf8');
}

const bySyssn = (a: TransactionRecord, b: TransactionRecord): number => (a.syssn < b.syssn ? -1 : 1);

/** The fields the bill's layout carries (it leaves out the wallet's cardcd and chnlsn). */
function billFields(rows: readonly TransactionRecord[]): Record<string, unknown>[] {
  return [...rows].sort(bySyssn).map((row) => {
    const { cardcd: _cardcd, chnlsn: _chnlsn, ...rest } = row;
    return Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
  });
}

describe('the simulator serves the trade bill', () => {
  it('holds the day of payments, a partial refund and a capture, read back as the query shows them', async () => {
    const paid = await pay(client, '800108', 1200);
    const refund = await client.refund({ syssn: paid, out_trade_no: ref('r'), txamt: 200 });
    expect(refund.respcd).toBe('0000');
    const authorisation = await pay(client, '801801', 5000);
    const capture = await client.capturePreauth({
      syssn: authorisation,
      out_trade_no: ref('c'),
      txamt: 3000,
    });
    expect(capture.respcd).toBe('0000');
    await pay(sisterClient, '800108', 777);

    const rows = await client.downloadTradeBill(DAY);
    expect(rows.map((r) => [r.order_type, r.txamt]).sort()).toEqual(
      [
        ['payment', 1200],
        ['payment', 3000],
        ['payment', 5000],
        ['refund', 200],
      ].sort(),
    );
    expect(rows.find((r) => r.order_type === 'refund')?.origssn).toBe(paid);
    expect(rows.find((r) => r.syssn === paid)?.cancel).toBe('5');
    expect(rows.find((r) => r.txamt === 3000)?.origssn).toBe(authorisation);
    // Row for row what the query by range answers for the same day.
    const queried = await client.query({
      start_time: `${DAY} 00:00:00`,
      end_time: `${DAY} 23:59:59`,
      page_size: 100,
    });
    expect(queried.data).toHaveLength(4);
    expect(billFields(rows)).toEqual(billFields(queried.data));

    // The sister store reads its own row only; the file itself holds the whole channel.
    expect((await sisterClient.downloadTradeBill(DAY)).map((r) => r.txamt)).toEqual([777]);
    const raw = await rawBill({ trade_date: DAY });
    expect(raw.status).toBe(200);
    expect(raw.type).toBe('application/zip');
    const lines = csvOf(raw.body).trimEnd().split('\r\n');
    expect(lines[0]).toBe(TRADE_BILL_COLUMNS.join(','));
    expect(lines).toHaveLength(1 + 5);
    expect(lines.filter((line) => line.includes(`,${sister.mchid!},`))).toHaveLength(1);
  });

  it('answers a future day, or a day with nothing, with the header alone', async () => {
    for (const day of ['2026-03-15', '2027-01-01']) {
      const raw = await rawBill({ trade_date: day });
      expect(raw.status).toBe(200);
      const files = unzipSync(raw.body);
      expect(Buffer.from(files[`trade_bill_${day}.csv`]!).toString('utf8')).toBe(
        `${TRADE_BILL_COLUMNS.join(',')}\r\n`,
      );
      expect(await client.downloadTradeBill(day)).toEqual([]);
    }
  });

  it('refuses unsigned and wrongly signed requests, a mchid, and a missing or malformed trade_date', async () => {
    const refused = async (fields: Record<string, string>, sign: 'right' | 'wrong' | 'none' = 'right') => {
      const raw = await rawBill(fields, sign);
      expect(raw.type).toContain('application/json');
      return JSON.parse(raw.body.toString('utf8')) as { respcd: string; respmsg: string };
    };
    type Check = [Record<string, string>, 'right' | 'wrong' | 'none', string, string];
    const checks: Check[] = [
      [{ trade_date: DAY }, 'none', '1108', 'missing X-QF-SIGN'],
      [{ trade_date: DAY }, 'wrong', '1108', 'signature mismatch'],
      [{ trade_date: DAY, mchid: shop.mchid! }, 'right', '1104', 'mchid cannot be passed'],
      [{}, 'right', '1104', 'missing required field trade_date'],
      [{ trade_date: '2026-13-01' }, 'right', '1104', 'YYYY-MM-DD'],
      [{ trade_date: '2026-02-30' }, 'right', '1104', 'YYYY-MM-DD'],
      [{ trade_date: '20260316' }, 'right', '1104', 'YYYY-MM-DD'],
    ];
    for (const [fields, sign, respcd, says] of checks) {
      const got = await refused(fields, sign);
      expect(got.respcd).toBe(respcd);
      expect(got.respmsg).toContain(says);
    }
    const post = await request(`${simulator.baseUrl}${BILL}`, { method: 'POST', body: '' });
    expect(post.statusCode).toBe(405);
    await post.body.dump();
  });

  it('is signed over its bytes: a wrong signature or a cut zip is never read as a bill', async () => {
    simulator.control.addFault({ kind: 'bad_signature', paths: [BILL], count: 3 });
    const badSignature = await client.downloadTradeBill(DAY).catch((error: unknown) => error);
    expect(badSignature).toBeInstanceOf(QfpayUnknownOutcomeError);
    expect((badSignature as Error).message).toContain('X-QF-SIGN');
    simulator.control.addFault({ kind: 'malformed_json', paths: [BILL], count: 1 });
    const cut = await client.downloadTradeBill(DAY).catch((error: unknown) => error);
    expect(cut).toBeInstanceOf(TradeBillError);
    expect((cut as TradeBillError).problem).toBe('not_zip');
    expect((await client.downloadTradeBill(DAY)).length).toBeGreaterThan(0);
  });

  it('is checked by the client before anything is sent', async () => {
    await expect(client.downloadTradeBill('2026-02-30')).rejects.toBeInstanceOf(QfpayValidationError);
    const logged = simulator.control.requests().filter((entry) => entry.path === BILL);
    const before = logged.length;
    await expect(client.downloadTradeBill('16/03/2026')).rejects.toThrow(/trade_date/);
    expect(simulator.control.requests().filter((entry) => entry.path === BILL)).toHaveLength(before);
  });
});
