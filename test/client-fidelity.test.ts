import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findPayType } from '../src/qfpay/catalog/index.js';
import { outTradeNoSearchMonths, QfpayClient } from '../src/qfpay/client.js';
import type { ClientEvent } from '../src/qfpay/client.js';
import { QfpayUnknownOutcomeError, QfpayValidationError } from '../src/qfpay/errors.js';
import { resetMerchantLimiters } from '../src/qfpay/limiter.js';
import { statusOfPaymentResponse } from '../src/qfpay/outcome.js';
import { pythonJsonDumps } from '../src/qfpay/pyjson.js';
import { observe, pollUntilFinal } from '../src/qfpay/reconcile.js';
import { canonicalString, checkResponseSignature, signRawBody } from '../src/qfpay/signature.js';
import { DEFAULT_SIMULATOR_CREDENTIAL, startSimulator } from '../src/simulator/index.js';
import type { ResponseSignMode } from '../src/simulator/options.js';
import type { RunningSimulator } from '../src/simulator/index.js';

/**
 * The client side of the fidelity fixes (fidelity audit §1 items 2, 3, 9, 12): answer signatures
 * under every documented reading, lookups by out_trade_no across months, goods_name limits and
 * the close/reversal txdtm.
 */

const KEY = 'fidelity-test-key-7d1c5e9a3b';
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex').toUpperCase();
const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex').toUpperCase();

afterEach(() => {
  resetMerchantLimiters();
});

describe('checkResponseSignature', () => {
  const body = pythonJsonDumps({ respcd: '0000', resperr: '交易成功', respmsg: '', syssn: '1', txamt: '10' });
  const sortedFields = `${canonicalString({ respcd: '0000', resperr: '交易成功', syssn: '1', txamt: '10' })}${KEY}`;

  it('undeclared: accepts MD5 or SHA-256 over the raw body and MD5 over the sorted fields', () => {
    expect(checkResponseSignature(body, md5(body + KEY), KEY)).toMatchObject({
      ok: true,
      reading: { rule: 'raw-body', signType: 'MD5' },
    });
    expect(checkResponseSignature(body, sha256(body + KEY).toLowerCase(), KEY)).toMatchObject({
      ok: true,
      reading: { rule: 'raw-body', signType: 'SHA256' },
    });
    expect(checkResponseSignature(body, md5(sortedFields), KEY)).toMatchObject({
      ok: true,
      reading: { rule: 'sorted-fields', signType: 'MD5' },
    });
  });

  it('declared: only the declared algorithm counts, and the reason names what matched', () => {
    expect(checkResponseSignature(body, sha256(body + KEY), KEY, 'SHA256').ok).toBe(true);
    expect(checkResponseSignature(body, md5(body + KEY), KEY, 'md5').ok).toBe(true);
    const mismatch = checkResponseSignature(body, md5(body + KEY), KEY, 'SHA256');
    expect(mismatch.ok).toBe(false);
    if (!mismatch.ok) {
      expect(mismatch.reason).toBe(
        'the answer declares X-QF-SIGNTYPE SHA256 but its X-QF-SIGN matches MD5 over the raw body under your key',
      );
      expect(mismatch.reason).not.toContain(KEY);
    }
    expect(checkResponseSignature(body, sha256(body + KEY), KEY, 'SHA1').ok).toBe(false);
  });

  it('a forgery still needs the key: another key matches no reading', () => {
    for (const forged of [md5(`${body}other-key`), sha256(`${body}other-key`), md5(`${sortedFields}x`)]) {
      const check = checkResponseSignature(body, forged, KEY);
      expect(check.ok).toBe(false);
      if (!check.ok) expect(check.reason).toMatch(/with neither MD5 nor SHA-256/);
    }
  });
});

describe('the client against answers signed every documented way', () => {
  let server: Server;
  let baseUrl = '';
  let sign: (body: string) => Record<string, string> = () => ({});
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
        const body = pythonJsonDumps({
          respcd: '0000',
          resperr: '交易成功',
          respmsg: '',
          syssn: '20260315000100020000000001',
          out_trade_no: form.out_trade_no,
          txamt: form.txamt,
          pay_type: form.pay_type,
        });
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', ...sign(body) }).end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const pay = async (outTradeNo: string, events: ClientEvent[]) => {
    const client = new QfpayClient({
      baseUrl,
      credentials: { appcode: 'APPCODE0FIDELITY', key: KEY },
      onEvent: (event) => events.push(event),
    });
    try {
      return await client.createPayment({
        pay_type: '800208',
        txamt: 100,
        txcurrcd: 'HKD',
        out_trade_no: outTradeNo,
        auth_code: '134567890123456789',
      });
    } finally {
      await client.destroy();
    }
  };

  it.each([
    ['raw-body MD5, undeclared', (body: string) => ({ 'x-qf-sign': md5(body + KEY) })],
    ['raw-body SHA-256, undeclared', (body: string) => ({ 'x-qf-sign': sha256(body + KEY) })],
    [
      'raw-body SHA-256, declared',
      (body: string) => ({ 'x-qf-sign': sha256(body + KEY), 'x-qf-signtype': 'SHA256' }),
    ],
  ])('%s → PAID', async (_name, signer) => {
    sign = signer;
    const answer = await pay(`fid${Date.now()}`, []);
    expect(statusOfPaymentResponse(answer, findPayType('800208'))).toBe('PAID');
  });

  it('a signature that contradicts its declared algorithm is untrusted: UNKNOWN, with the diagnosis', async () => {
    sign = (body) => ({ 'x-qf-sign': sha256(body + KEY), 'x-qf-signtype': 'MD5' });
    const events: ClientEvent[] = [];
    await expect(pay(`fid${Date.now()}`, events)).rejects.toBeInstanceOf(QfpayUnknownOutcomeError);
    expect(events.at(-1)).toMatchObject({
      outcome: 'bad_signature',
      reason:
        'the answer declares X-QF-SIGNTYPE MD5 but its X-QF-SIGN matches SHA-256 over the raw body under your key',
    });
  });
});

describe('the simulator signing answers with MD5, SHA-256 or the request algorithm', () => {
  it.each<[ResponseSignMode, 'MD5' | 'SHA256']>([
    ['md5', 'SHA256'],
    ['sha256', 'SHA256'],
    ['sha256', 'MD5'],
    ['request', 'SHA256'],
    ['request', 'MD5'],
  ])(
    'answers signed %s, requests %s: CPM and MPM end PAID, never UNKNOWN',
    async (responseSign, signType) => {
      const sim = await startSimulator({ quiet: true, responseSign });
      const client = new QfpayClient({
        baseUrl: sim.baseUrl,
        credentials: DEFAULT_SIMULATOR_CREDENTIAL,
        signType,
        now: () => new Date(sim.control.clock().epoch_ms),
      });
      try {
        const cpm = await client.createPayment({
          pay_type: '800208',
          txamt: 1_000,
          txcurrcd: 'HKD',
          out_trade_no: `sign_${responseSign}_${signType}_cpm`,
          auth_code: '134567890123456789',
        });
        expect(statusOfPaymentResponse(cpm, findPayType('800208'))).toBe('PAID');
        const mpm = await client.createPayment({
          pay_type: '800201',
          txamt: 1_000,
          txcurrcd: 'HKD',
          out_trade_no: `sign_${responseSign}_${signType}_mpm`,
        });
        sim.control.pay({ syssn: mpm.syssn!, outcome: 'pay' });
        const polled = await pollUntilFinal(client, { out_trade_no: mpm.out_trade_no }, { timeoutMs: 2_000 });
        expect(polled.status).toBe('PAID');
        expect(polled.lastError).toBeUndefined();
      } finally {
        await client.destroy();
        await sim.close();
      }
    },
  );
});

describe('lookups by out_trade_no search the right months', () => {
  const at = (text: string) => new Date(`${text.replace(' ', 'T')}+08:00`);

  it('outTradeNoSearchMonths: known time, near a boundary, unknown', () => {
    expect(outTradeNoSearchMonths('2026-03-15 12:00:00', at('2026-06-01 10:00:00'))).toEqual([
      { start_time: '2026-03-01 00:00:00', end_time: '2026-03-31 23:59:59' },
    ]);
    expect(outTradeNoSearchMonths('2026-01-31 23:59:30', at('2026-06-01 10:00:00'))).toEqual([
      { start_time: '2026-01-01 00:00:00', end_time: '2026-01-31 23:59:59' },
      { start_time: '2026-02-01 00:00:00', end_time: '2026-02-28 23:59:59' },
    ]);
    expect(outTradeNoSearchMonths(at('2026-02-01 00:10:00'))).toEqual([
      { start_time: '2026-01-01 00:00:00', end_time: '2026-01-31 23:59:59' },
      { start_time: '2026-02-01 00:00:00', end_time: '2026-02-28 23:59:59' },
    ]);
    // Unknown: QFPay's own current month (no range) and our previous month…
    expect(outTradeNoSearchMonths(undefined, at('2026-03-15 12:00:00'))).toEqual([
      'current',
      { start_time: '2026-02-01 00:00:00', end_time: '2026-02-28 23:59:59' },
    ]);
    // …plus our current month explicitly when our clock may be behind QFPay's at the month's end.
    expect(outTradeNoSearchMonths(undefined, at('2026-03-31 23:00:00'))).toHaveLength(3);
  });

  let sim: RunningSimulator;
  let client: QfpayClient;
  beforeAll(async () => {
    sim = await startSimulator({ quiet: true });
    client = new QfpayClient({
      baseUrl: sim.baseUrl,
      credentials: DEFAULT_SIMULATOR_CREDENTIAL,
      now: () => new Date(sim.control.clock().epoch_ms),
      retry: { readBaseDelayMs: 1, readMaxDelayMs: 5 },
    });
  });
  afterAll(async () => {
    await client.destroy();
    await sim.close();
  });

  it('a payment whose answer was lost at 23:59:59 on the last day is found after midnight, PAID', async () => {
    sim.control.reset();
    sim.control.setClock({ set: '2026-01-31 23:59:59' });
    sim.control.addFault({ kind: 'drop_after_commit', count: 1, paths: ['/trade/v1/payment'] });
    const outTradeNo = 'lost_at_month_end';
    await expect(
      client.createPayment({
        pay_type: '800208',
        txamt: 1_000,
        txcurrcd: 'HKD',
        out_trade_no: outTradeNo,
        auth_code: '134567890123456789',
      }),
    ).rejects.toBeInstanceOf(QfpayUnknownOutcomeError);
    sim.control.setClock({ set: '2026-02-01 00:03:00' });
    // QFPay's default range (this month) alone would not find it.
    expect((await client.query({ out_trade_no: [outTradeNo] })).data).toEqual([]);
    const result = await pollUntilFinal(client, { out_trade_no: outTradeNo }, { timeoutMs: 1_000 });
    expect(result.status).toBe('PAID');
    expect(result.record?.sysdtm).toBe('2026-01-31 23:59:59');
  });

  it("an order's known time finds it in an older month; without it, only this month and the last count", async () => {
    sim.control.reset();
    sim.control.setClock({ set: '2026-01-10 12:00:00' });
    const paid = await client.createPayment({
      pay_type: '800208',
      txamt: 500,
      txcurrcd: 'HKD',
      out_trade_no: 'january_order',
      auth_code: '134567890123456789',
    });
    sim.control.setClock({ set: '2026-03-15 12:00:00' });
    expect(
      observe(await client.findTransaction({ out_trade_no: 'january_order' }), {
        out_trade_no: 'january_order',
      }).status,
    ).toBe('UNKNOWN');
    const rows = await client.findTransaction({ out_trade_no: 'january_order', around: paid.sysdtm! });
    expect(rows.map((r) => r.syssn)).toEqual([paid.syssn]);
    // By syssn the range never applies.
    expect((await client.findTransaction({ syssn: paid.syssn! })).map((r) => r.respcd)).toEqual(['0000']);
  });

  it('close and reversal echo the txdtm they were given (the original order time)', async () => {
    sim.control.reset();
    sim.control.setClock({ set: '2026-03-15 12:00:00' });
    const order = await client.createPayment({
      pay_type: '800201',
      txamt: 500,
      txcurrcd: 'HKD',
      out_trade_no: 'close_txdtm',
      txdtm: '2026-03-15 11:58:00',
    });
    const closed = await client.closeOrder({ syssn: order.syssn!, txamt: 500, txdtm: order.txdtm! });
    expect(closed).toMatchObject({ respcd: '0000', txdtm: '2026-03-15 11:58:00' });
  });
});

describe('goods_name limits', () => {
  it('refuses more than String(64) in UTF-8 bytes before sending', async () => {
    const events: ClientEvent[] = [];
    const client = new QfpayClient({
      baseUrl: 'http://127.0.0.1:9',
      credentials: { appcode: 'APPCODE0FIDELITY', key: KEY },
      onEvent: (event) => events.push(event),
    });
    await expect(
      client.createPayment({
        pay_type: '800201',
        txamt: 100,
        txcurrcd: 'HKD',
        out_trade_no: 'goods_name_bytes',
        goods_name: '奶茶'.repeat(11),
      }),
    ).rejects.toThrow(QfpayValidationError);
    expect(events).toEqual([]);
    await client.destroy();
  });

  it('signRawBody keeps MD5 as its default (notifications are always MD5)', () => {
    expect(signRawBody('{}', KEY)).toBe(md5(`{}${KEY}`));
    expect(signRawBody('{}', KEY, 'SHA256')).toBe(sha256(`{}${KEY}`));
  });
});
