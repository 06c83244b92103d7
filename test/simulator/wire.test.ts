import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import {
  DEFAULT_CREDENTIAL,
  cpmPayment,
  freshState,
  md5Upper,
  qfOk,
  qfpay,
  signParams,
  TXDTM,
} from './helpers.js';

/** Authentication, signatures and byte format of the simulator's QFPay surface. */

const STORE_A = { appcode: 'AGENTAPPCODE00000000000000000001', key: 'agent-key-a', mchid: 'StoreA123' };
const STORE_B = { appcode: 'AGENTAPPCODE00000000000000000001', key: 'agent-key-b', mchid: 'StoreB456' };

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ quiet: true, credentials: [DEFAULT_CREDENTIAL, STORE_A, STORE_B] });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await freshState(sim);
});

describe('the independent test signer', () => {
  it('reproduces the worked signing example of the QFPay documentation', () => {
    const params = { mchid: 'ZaMVg12345', txamt: '100', txcurrcd: 'HKD' };
    expect(signParams(params, 'abcd1234', 'md5')).toBe('3CB3AA9C21D818AB4CAFAA8FA3FEACF4');
    expect(signParams(params, 'abcd1234', 'sha256')).toBe(
      '99D9F7174823928B74C74B1C7A7E1538DF733774DD21C9606A202CB8BB3D74E8',
    );
  });
});

describe('request signatures', () => {
  it.each([
    ['md5', false],
    ['md5', true],
    ['sha256', false],
    ['sha256', true],
  ] as const)('accepts %s signatures (lower-case hex: %s)', async (algorithm, lowercase) => {
    const answer = await qfOk(sim, '/trade/v1/payment', cpmPayment(), { algorithm, lowercase });
    expect(answer.respcd).toBe('0000');
  });

  it('accepts an explicit X-QF-SIGNTYPE: MD5 and a lower-case sha256 header value', async () => {
    expect((await qfOk(sim, '/trade/v1/query', {}, { signTypeHeader: 'MD5' })).respcd).toBe('0000');
    expect(
      (await qfOk(sim, '/trade/v1/query', {}, { algorithm: 'sha256', signTypeHeader: 'sha256' })).respcd,
    ).toBe('0000');
  });

  it('refuses a SHA-256 signature sent without X-QF-SIGNTYPE (it is checked as MD5)', async () => {
    const result = await qfpay(sim, '/trade/v1/query', {}, { algorithm: 'sha256', signTypeHeader: null });
    expect(result.answer?.respcd).toBe('1108');
    expect(result.answer?.respmsg).toContain('MD5');
  });

  it('refuses an unknown X-QF-SIGNTYPE', async () => {
    const result = await qfpay(sim, '/trade/v1/query', {}, { signTypeHeader: 'SHA1' });
    expect(result.answer?.respcd).toBe('1108');
  });

  it('answers 1108 for a wrong signature without revealing the expected one', async () => {
    const params = cpmPayment();
    const expected = signParams(params, DEFAULT_CREDENTIAL.key);
    const result = await qfpay(sim, '/trade/v1/payment', params, { signature: 'A'.repeat(32) });
    expect(result.status).toBe(200);
    expect(result.answer?.respcd).toBe('1108');
    expect(result.answer?.respmsg).toMatch(/signature mismatch/);
    expect(result.text.toUpperCase()).not.toContain(expected);
    expect(result.text).not.toContain(DEFAULT_CREDENTIAL.key);
    expect(result.signatureValid).toBe(true);
    // Nothing was booked.
    expect((await qfOk(sim, '/trade/v1/query', { out_trade_no: params.out_trade_no! })).data).toEqual([]);
  });

  it('rejects a signature made over a tampered field', async () => {
    const params = cpmPayment();
    const signature = signParams(params, DEFAULT_CREDENTIAL.key);
    const result = await qfpay(sim, '/trade/v1/payment', { ...params, txamt: '1' }, { signature });
    expect(result.answer?.respcd).toBe('1108');
  });

  it('leaves empty fields out of the signed string', async () => {
    const params = { ...cpmPayment(), goods_name: '' };
    // Signed without goods_name (empty), sent with goods_name= in the body.
    const answer = await qfOk(sim, '/trade/v1/payment', params);
    expect(answer.respcd).toBe('0000');
  });

  it('signs values raw (not URL-encoded), including spaces, & and Chinese', async () => {
    const answer = await qfOk(sim, '/trade/v1/payment', cpmPayment({ goods_name: '奶茶 & cake+1' }));
    expect(answer.respcd).toBe('0000');
    const row = (await qfOk(sim, '/trade/v1/query', { syssn: answer.syssn! })).data?.[0];
    expect(row?.goods_name).toBe('奶茶 & cake+1');
  });

  it('answers 1108 without a signature header for an unknown app code', async () => {
    const result = await qfpay(sim, '/trade/v1/query', {}, { credential: { appcode: 'NOPE', key: 'x' } });
    expect(result.answer?.respcd).toBe('1108');
    expect(result.answer?.respmsg).toMatch(/app code/);
    expect(result.headers['x-qf-sign']).toBeUndefined();
  });

  it('answers 1108 when X-QF-APPCODE or X-QF-SIGN is missing', async () => {
    const noAppcode = await qfpay(sim, '/trade/v1/query', {}, { headers: { 'x-qf-appcode': '' } });
    expect(noAppcode.answer?.respcd).toBe('1108');
    expect(noAppcode.answer?.respmsg).toMatch(/X-QF-APPCODE/);
    const noSign = await qfpay(sim, '/trade/v1/query', {}, { signature: '' });
    expect(noSign.answer?.respcd).toBe('1108');
    expect(noSign.answer?.respmsg).toMatch(/X-QF-SIGN/);
  });
});

describe('the mchid rule', () => {
  it('requires the mchid when the credential has one', async () => {
    const result = await qfpay(
      sim,
      '/trade/v1/query',
      {},
      { credential: { appcode: STORE_A.appcode, key: STORE_A.key } },
    );
    expect(result.answer?.respcd).toBe('1104');
    expect(result.answer?.respmsg).toMatch(/mchid is required/);
  });

  it('refuses an mchid when the credential has none', async () => {
    const result = await qfpay(sim, '/trade/v1/query', { mchid: 'StoreA123' });
    expect(result.answer?.respcd).toBe('1104');
    expect(result.answer?.respmsg).toMatch(/must not be sent/);
  });

  it('refuses an mchid of another app code', async () => {
    const result = await qfpay(sim, '/trade/v1/query', { mchid: 'Elsewhere1' }, { credential: STORE_A });
    expect(result.answer?.respcd).toBe('1104');
    expect(result.answer?.respmsg).toMatch(/does not belong/);
  });

  it('keeps the stores of one app code apart, each with its own key', async () => {
    const payment = await qfOk(sim, '/trade/v1/payment', cpmPayment(), { credential: STORE_A });
    expect(payment.respcd).toBe('0000');
    const seenByA = await qfOk(sim, '/trade/v1/query', { syssn: payment.syssn! }, { credential: STORE_A });
    const seenByB = await qfOk(sim, '/trade/v1/query', { syssn: payment.syssn! }, { credential: STORE_B });
    expect(seenByA.data).toHaveLength(1);
    expect(seenByB.data).toEqual([]);
    // Store B's key does not sign for store A.
    const crossed = await qfpay(sim, '/trade/v1/query', {}, { credential: { ...STORE_A, key: STORE_B.key } });
    expect(crossed.answer?.respcd).toBe('1108');
  });
});

describe('request format', () => {
  it('refuses a non-form content type with 1103', async () => {
    const result = await qfpay(
      sim,
      '/trade/v1/query',
      {},
      { headers: { 'content-type': 'application/json' } },
    );
    expect(result.answer?.respcd).toBe('1103');
    expect(result.answer?.respmsg).toMatch(/x-www-form-urlencoded/);
  });

  it('refuses a field sent twice with 1103', async () => {
    const params = cpmPayment();
    const body = `${new URLSearchParams(params).toString()}&txamt=1000`;
    const result = await qfpay(sim, '/trade/v1/payment', params, { rawBody: body });
    expect(result.answer?.respcd).toBe('1103');
    expect(result.answer?.respmsg).toMatch(/txamt was sent more than once/);
  });

  it('answers 404 JSON for an unknown path and 405 for GET on payment', async () => {
    const missing = await qfpay(sim, '/trade/v1/nothing', {});
    expect(missing.status).toBe(404);
    expect(missing.answer?.respmsg).toMatch(/\/trade\/v1\/payment/);
    expect(missing.signatureValid).toBe(true);
    const get = await qfpay(sim, '/trade/v1/payment', cpmPayment(), { method: 'GET' });
    expect(get.status).toBe(405);
  });
});

describe('response bytes', () => {
  it('signs every answer with upper(MD5(raw body + key))', async () => {
    const ok = await qfpay(sim, '/trade/v1/payment', cpmPayment());
    expect(ok.signatureValid).toBe(true);
    expect(ok.headers['x-qf-sign']).toMatch(/^[0-9A-F]{32}$/);
    const error = await qfpay(sim, '/trade/v1/payment', cpmPayment({ txamt: '-5' }));
    expect(error.answer?.respcd).toBe('1104');
    expect(error.signatureValid).toBe(true);
  });

  it('uses Python json.dumps style: ", " and ": " separators, strings for numbers, \\uXXXX for non-ASCII', async () => {
    const result = await qfpay(sim, '/trade/v1/payment', cpmPayment({ goods_name: '奶茶', txamt: '1234' }));
    expect(result.headers['content-type']).toBe('application/json; charset=UTF-8');
    expect(result.text.startsWith('{"respcd": "0000", "resperr": "\\u4ea4\\u6613\\u6210\\u529f", ')).toBe(
      true,
    );
    expect(result.text).toContain('"txamt": "1234"');
    expect(result.text).toContain('"udid": "qiantai2"');
    expect(/[^\x20-\x7e]/.test(result.text)).toBe(false);
    // The signature is over these exact bytes, escapes included.
    expect(result.headers['x-qf-sign']).toBe(md5Upper(result.text + DEFAULT_CREDENTIAL.key));
    const query = await qfpay(sim, '/trade/v1/query', { syssn: result.answer!.syssn! });
    expect(query.text).toContain('"goods_name": "\\u5976\\u8336"');
    expect(query.text).toContain('"page": "1", "page_size": "10", "data": [{"syssn": ');
  });

  it('issues unique 26-digit syssn values prefixed with the simulated UTC+8 date', async () => {
    const syssns = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const answer = await qfOk(sim, '/trade/v1/payment', cpmPayment());
      expect(answer.syssn).toMatch(/^20260315\d{18}$/);
      expect(answer.sysdtm).toMatch(/^2026-03-15 12:\d\d:\d\d$/);
      syssns.add(answer.syssn!);
    }
    expect(syssns.size).toBe(5);
  });

  it('echoes udid when sent and the merchant txdtm as given', async () => {
    const answer = await qfOk(sim, '/trade/v1/payment', cpmPayment({ udid: 'till-7' }));
    expect(answer.udid).toBe('till-7');
    expect(answer.txdtm).toBe(TXDTM);
  });
});
