import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import {
  control,
  cpmPayment,
  customer,
  DEFAULT_CREDENTIAL,
  freshState,
  md5Upper,
  mpmPayment,
  qfOk,
  qfpay,
  TXDTM,
  uniqueOrderNo,
} from './helpers.js';

/**
 * The places where the simulator used to pick the lenient side of QFPay's docs (fidelity audit
 * §1, items 2–12), driven over raw HTTP with the independent test signer of helpers.ts.
 */

const sha256Upper = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex').toUpperCase();

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
const refundCall = (syssn: string, txamt: string) =>
  qfpay(sim, '/trade/v1/refund', { syssn, txamt, out_trade_no: uniqueOrderNo('R'), txdtm: TXDTM });
const setClock = (set: string) => control(sim, 'POST', '/__sim/clock', { set });

describe('answer signatures (--response-sign)', () => {
  it('md5 (default): upper(MD5(body+key)), no X-QF-SIGNTYPE, whatever the request used', async () => {
    const answer = await qfpay(sim, '/trade/v1/query', { syssn: '1' }, { algorithm: 'sha256' });
    expect(answer.headers['x-qf-sign']).toBe(md5Upper(answer.text + DEFAULT_CREDENTIAL.key));
    expect(answer.headers['x-qf-signtype']).toBeUndefined();
  });

  it('sha256: upper(SHA-256(body+key)) declared with X-QF-SIGNTYPE: SHA256, also on errors', async () => {
    const sha = await startSimulator({ quiet: true, responseSign: 'sha256' });
    try {
      const cases: Record<string, string>[] = [{ syssn: '1' }, { page_size: '1000' }];
      for (const params of cases) {
        const answer = await qfpay(sha, '/trade/v1/query', params);
        expect(answer.headers['x-qf-sign']).toBe(sha256Upper(answer.text + DEFAULT_CREDENTIAL.key));
        expect(answer.headers['x-qf-signtype']).toBe('SHA256');
      }
    } finally {
      await sha.close();
    }
  });

  it("request: the answer uses the request's algorithm", async () => {
    const mirror = await startSimulator({ quiet: true, responseSign: 'request' });
    try {
      const md5 = await qfpay(mirror, '/trade/v1/query', { syssn: '1' }, { algorithm: 'md5' });
      expect(md5.headers['x-qf-sign']).toBe(md5Upper(md5.text + DEFAULT_CREDENTIAL.key));
      expect(md5.headers['x-qf-signtype']).toBeUndefined();
      const sha = await qfpay(mirror, '/trade/v1/query', { syssn: '1' }, { algorithm: 'sha256' });
      expect(sha.headers['x-qf-sign']).toBe(sha256Upper(sha.text + DEFAULT_CREDENTIAL.key));
      expect(sha.headers['x-qf-signtype']).toBe('SHA256');
    } finally {
      await mirror.close();
    }
  });

  it('refuses an unknown mode', async () => {
    await expect(startSimulator({ quiet: true, responseSign: 'sha1' as never })).rejects.toThrow(
      /responseSign/,
    );
  });
});

describe('cancel rules per pay type (D reversal/cancel page; G: close is not for Alipay)', () => {
  const cancel = (path: string, order: { syssn?: string; txamt?: string }) =>
    qfOk(sim, path, { syssn: order.syssn!, txamt: order.txamt!, txdtm: TXDTM });

  it.each([
    ['801501', 'Alipay HK MPM'],
    ['805801', 'PayMe MPM'],
    ['802001', 'FPS'],
    ['803701', 'Octopus'],
  ])('%s (%s, a Hong Kong pay type) cannot be closed or reversed: 1297', async (payType) => {
    const order = await pay(mpmPayment({ pay_type: payType }));
    for (const path of ['/trade/v1/close', '/trade/v1/reversal']) {
      const answer = await cancel(path, order);
      expect(answer.respcd).toBe('1297');
      expect(answer.respmsg).toMatch(/Hong Kong pay types do not support cancel/);
      expect(answer.respmsg).toMatch(/expires by itself/);
    }
    // Nothing changed: the order is still waiting for the customer.
    const row = await qfOk(sim, '/trade/v1/query', { syssn: order.syssn! });
    expect(row.data?.[0]).toMatchObject({ respcd: '1143', cancel: '0' });
  });

  it('Alipay (overseas) is reversed, never closed', async () => {
    const order = await pay(mpmPayment({ pay_type: '800101' }));
    const closed = await cancel('/trade/v1/close', order);
    expect(closed.respcd).toBe('1297');
    expect(closed.respmsg).toMatch(/\/trade\/v1\/reversal, not \/trade\/v1\/close/);
    expect((await cancel('/trade/v1/reversal', order)).respcd).toBe('0000');
  });

  it('WeChat MPM is closed, WeChat CPM reversed', async () => {
    const mpm = await pay(mpmPayment({ pay_type: '800201' }));
    expect((await cancel('/trade/v1/reversal', mpm)).respcd).toBe('1297');
    expect((await cancel('/trade/v1/close', mpm)).respcd).toBe('0000');
    const cpm = await pay(cpmPayment({ pay_type: '800208', auth_code: '134567890123451143' }));
    expect((await cancel('/trade/v1/close', cpm)).respcd).toBe('1297');
    expect((await cancel('/trade/v1/reversal', cpm)).respcd).toBe('0000');
  });
});

describe('refund refusals QFPay documents', () => {
  it("1269: an earlier day's payment needs today's takings to cover the refund", async () => {
    await setClock('2026-03-14 12:00:00');
    const old = await pay(cpmPayment({ txamt: '1000' }));
    await setClock('2026-03-15 12:00:00');
    const refused = await refundCall(old.syssn!, '600');
    expect(refused.answer?.respcd).toBe('1269');
    expect(refused.answer?.respmsg).toMatch(/today's unsettled HKD takings \(0\)/);
    // Today's takings of 500 are still short of 600; 700 cover it.
    await pay(cpmPayment({ txamt: '500' }));
    expect((await refundCall(old.syssn!, '600')).answer?.respcd).toBe('1269');
    await pay(cpmPayment({ txamt: '200' }));
    expect((await refundCall(old.syssn!, '600')).answer?.respcd).toBe('0000');
    // The refund used up today's takings: 100 left, in HKD only.
    expect((await refundCall(old.syssn!, '200')).answer?.respcd).toBe('1269');
    expect((await refundCall(old.syssn!, '100')).answer?.respcd).toBe('0000');
  });

  it('1269 does not stop the refund of a payment made today', async () => {
    const today = await pay(cpmPayment({ txamt: '1000' }));
    expect((await refundCall(today.syssn!, '1000')).answer?.respcd).toBe('0000');
  });

  it('1265 also for a payment made in 23:30–00:30, even when the refund is sent later', async () => {
    await setClock('2026-03-15 23:45:00');
    const late = await pay(cpmPayment({ txamt: '1000' }));
    await setClock('2026-03-16 10:00:00');
    await pay(cpmPayment({ txamt: '5000' })); // takings are not the reason
    const refused = await refundCall(late.syssn!, '100');
    expect(refused.answer?.respcd).toBe('1265');
    expect(refused.answer?.respmsg).toMatch(/was paid between 23:30 and 00:30/);
  });

  it('1270 / 1271 / channel windows, when configured for the contract', async () => {
    const strict = await startSimulator({
      quiet: true,
      refundRules: {
        noPartialRefundCurrencies: ['USD'],
        noPartialRefundPayTypes: ['805808'],
        refundWindowDays: { '800208': 1 },
      },
    });
    try {
      await freshState(strict);
      const usd = await qfOk(strict, '/trade/v1/payment', cpmPayment({ txcurrcd: 'USD', txamt: '1000' }));
      const partialUsd = await qfpay(strict, '/trade/v1/refund', {
        syssn: usd.syssn!,
        txamt: '100',
        out_trade_no: uniqueOrderNo('R'),
        txdtm: TXDTM,
      });
      expect(partialUsd.answer?.respcd).toBe('1270');
      const payme = await qfOk(strict, '/trade/v1/payment', cpmPayment({ pay_type: '805808' }));
      const partialPayme = await qfpay(strict, '/trade/v1/refund', {
        syssn: payme.syssn!,
        txamt: '100',
        out_trade_no: uniqueOrderNo('R'),
        txdtm: TXDTM,
      });
      expect(partialPayme.answer?.respcd).toBe('1271');
      const full = await qfpay(strict, '/trade/v1/refund', {
        syssn: payme.syssn!,
        txamt: payme.txamt!,
        out_trade_no: uniqueOrderNo('R'),
        txdtm: TXDTM,
      });
      expect(full.answer?.respcd).toBe('0000');
      const wechat = await qfOk(strict, '/trade/v1/payment', cpmPayment({ txamt: '1000' }));
      await control(strict, 'POST', '/__sim/clock', { advanceMs: 2 * 24 * 3_600_000 });
      await qfOk(strict, '/trade/v1/payment', cpmPayment({ txamt: '5000' }));
      const late = await qfpay(strict, '/trade/v1/refund', {
        syssn: wechat.syssn!,
        txamt: '100',
        out_trade_no: uniqueOrderNo('R'),
        txdtm: TXDTM,
      });
      expect(late.answer?.respcd).toBe('1155');
      expect(late.answer?.respmsg).toMatch(/more than 1 days ago/);
    } finally {
      await strict.close();
    }
  });
});

describe('smaller rules', () => {
  it('expired_time is honoured for the mini-program type 800213', async () => {
    const order = await pay({
      pay_type: '800213',
      txamt: '100',
      txcurrcd: 'HKD',
      out_trade_no: uniqueOrderNo('MINI'),
      txdtm: TXDTM,
      sub_openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      expired_time: '5',
    });
    await control(sim, 'POST', '/__sim/clock', { advanceMs: 5 * 60_000 });
    const row = await qfOk(sim, '/trade/v1/query', { syssn: order.syssn! });
    expect(row.data?.[0]?.respcd).toBe('1181');
  });

  it('goods_name: String(64) counted in UTF-8 bytes', async () => {
    const ok = await qfpay(sim, '/trade/v1/payment', cpmPayment({ goods_name: '茶'.repeat(21) }));
    expect(ok.answer?.respcd).toBe('0000');
    const tooLong = await qfpay(sim, '/trade/v1/payment', cpmPayment({ goods_name: '茶'.repeat(22) }));
    expect(tooLong.answer?.respcd).toBe('1104');
    expect(tooLong.answer?.respmsg).toMatch(/66 bytes in UTF-8, over QFPay's String\(64\)/);
  });

  it("accepts the sample code's signature over every sent key, empty ones included", async () => {
    const params = { ...cpmPayment(), channel_type: '', goods_name: '' };
    const withEmpty =
      Object.keys(params)
        .sort()
        .map((name) => `${name}=${params[name as keyof typeof params]}`)
        .join('&') + DEFAULT_CREDENTIAL.key;
    const sampleStyle = await qfpay(sim, '/trade/v1/payment', params, { signature: md5Upper(withEmpty) });
    expect(sampleStyle.answer?.respcd).toBe('0000');
    const nonEmptyStyle = await qfpay(sim, '/trade/v1/payment', {
      ...params,
      out_trade_no: uniqueOrderNo('CPM'),
    });
    expect(nonEmptyStyle.answer?.respcd).toBe('0000');
    const wrong = await qfpay(sim, '/trade/v1/payment', params, { signature: md5Upper(`${withEmpty}x`) });
    expect(wrong.answer?.respcd).toBe('1108');
  });

  it("accepts POST fields in the query string, as QFPay's JSAPI sample sends them", async () => {
    const params = cpmPayment();
    const signature = md5Upper(
      Object.keys(params)
        .sort()
        .map((name) => `${name}=${params[name]}`)
        .join('&') + DEFAULT_CREDENTIAL.key,
    );
    const query = new URLSearchParams(params).toString();
    const response = await request(`${sim.baseUrl}/trade/v1/payment?${query}`, {
      method: 'POST',
      headers: { 'x-qf-appcode': DEFAULT_CREDENTIAL.appcode, 'x-qf-sign': signature },
    });
    const answer = JSON.parse(await response.body.text()) as { respcd: string; out_trade_no: string };
    expect(answer).toMatchObject({ respcd: '0000', out_trade_no: params.out_trade_no });
    // A field both in the query string and in the body is ambiguous: 1103.
    const both = await qfpay(sim, `/trade/v1/payment?txamt=1000`, cpmPayment());
    expect(both.answer?.respcd).toBe('1103');
  });
});

describe('notifications', () => {
  let receiver: Server;
  let received: { headers: Record<string, unknown>; body: string }[];
  let url: string;
  beforeAll(async () => {
    received = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.end('SUCCESS');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/configured`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  it('go to the URL support configured when the request has no notify_url, with the optional keys', async () => {
    const configured = await startSimulator({
      quiet: true,
      credentials: [{ ...DEFAULT_CREDENTIAL, notifyUrl: url }],
    });
    try {
      await freshState(configured);
      const order = await qfOk(configured, '/trade/v1/payment', mpmPayment());
      expect((await customer(configured, { syssn: order.syssn!, outcome: 'pay' })).status).toBe(200);
      for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(received).toHaveLength(1);
      const { body, headers } = received[0]!;
      expect(headers['x-qf-sign']).toBe(md5Upper(body + DEFAULT_CREDENTIAL.key));
      const parsed = JSON.parse(body) as Record<string, string>;
      expect(Object.keys(parsed)).toEqual([
        'status',
        'pay_type',
        'sysdtm',
        'paydtm',
        'goods_name',
        'txcurrcd',
        'txdtm',
        'txamt',
        'exchange_rate',
        'chnlsn2',
        'out_trade_no',
        'syssn',
        'cash_fee_type',
        'cancel',
        'respcd',
        'goods_info',
        'cash_fee',
        'notify_type',
        'chnlsn',
        'cardcd',
      ]);
      expect(parsed).toMatchObject({ syssn: order.syssn, goods_name: '', exchange_rate: '', cash_fee: '0' });
    } finally {
      await configured.close();
    }
  });

  it('are delivered locally to any port (QFPay itself only uses 80/443)', async () => {
    received.length = 0;
    const order = await pay(mpmPayment({ notify_url: url.replace('/configured', '/request') }));
    await customer(sim, { syssn: order.syssn!, outcome: 'pay' });
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received).toHaveLength(1);
  });
});
