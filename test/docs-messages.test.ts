import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  DEFAULT_SIMULATOR_CREDENTIAL,
  QfpayClient,
  loadConfig,
  signRequest,
  startSimulator,
} from '../src/index.js';
import { QfpayConfigError, QfpayValidationError } from '../src/qfpay/errors.js';
import { call, type Connected, connect, countRequests } from './mcp/helpers.js';

/**
 * What the README promises about bad input: every refusal names the field, says why and what to
 * do; the one out_trade_no rule holds in the library, the tools and the simulator; filters forgive
 * case; the catalogue's currency rules and QFPay's rate quota are enforced before anything is sent.
 */

const HYPHENATED = 'order-20261126-0001';
let stateDir: string;
let env: Connected;

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'qfpay-messages-'));
  env = await connect({ env: { QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir } });
});
afterAll(async () => {
  await env.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const payment = (extra: Record<string, unknown>) => ({
  pay_type: '800101',
  txamt: 1050,
  txcurrcd: 'HKD',
  ...extra,
});

describe('tool input messages', () => {
  it('goods_name over 64 characters: the length, the limit, its unit and the fix', async () => {
    const answer = await call(env.client, 'create_payment', payment({ goods_name: 'x'.repeat(100) }));
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain('goods_name is 100 characters long; QFPay allows at most 64');
    expect(answer.text).toContain('counted in characters, not bytes');
    expect(answer.text).toContain('Shorten it');
    expect(answer.text).not.toContain('Too big');
  });

  it('a missing txcurrcd says it is required; lower case says which code to send', async () => {
    const missing = await call(env.client, 'create_payment', { pay_type: '800101', txamt: 1050 });
    expect(missing.text).toContain('txcurrcd is required');
    const lower = await call(env.client, 'create_payment', payment({ txcurrcd: 'hkd' }));
    expect(lower.isError).toBe(true);
    expect(lower.text).toContain('use "HKD"');
    const unknown = await call(env.client, 'create_payment', payment({ txcurrcd: 'XYZ' }));
    expect(unknown.text).toContain('must be an ISO 4217 code QFPay lists');
  });

  it('FPS in USD is refused before sending: the catalogue says HKD only', async () => {
    const before = await countRequests(env.runtime.baseUrl, '/trade/v1/payment');
    const answer = await call(env.client, 'create_payment', payment({ pay_type: '802001', txcurrcd: 'USD' }));
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain('takes only HKD, not USD');
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/payment')).toBe(before);
    const hkd = await call(env.client, 'create_payment', payment({ pay_type: '802001' }));
    expect(hkd.isError, hkd.text).toBe(false);
  });

  it('a reused out_trade_no is shown as the person wrote it, without an internal prefix', async () => {
    const first = await call(env.client, 'create_payment', payment({ out_trade_no: 'dup_check_0001' }));
    expect(first.isError, first.text).toBe(false);
    const second = await call(
      env.client,
      'create_payment',
      payment({ out_trade_no: 'dup_check_0001', txamt: 2000 }),
    );
    expect(second.isError).toBe(true);
    expect(second.text).toContain('out_trade_no dup_check_0001 was already used');
    expect(second.text).not.toContain('order:');
  });
});

describe('list_pay_types filters forgive case and take part of a wallet name', () => {
  const codes = async (args: Record<string, unknown>) => {
    const answer = await call(env.client, 'list_pay_types', args);
    expect(answer.isError, answer.text).toBe(false);
    return (answer.structured.pay_types as { pay_type: string; wallet: string; mode: string }[]).map(
      (p) => `${p.pay_type} ${p.wallet} ${p.mode}`,
    );
  };

  it('"wechat" finds WeChat Pay, "mpm" finds MPM, "alipay" finds every Alipay wallet', async () => {
    const wechat = await codes({ wallet: 'wechat' });
    expect(wechat.length).toBeGreaterThan(0);
    expect(wechat.every((line) => line.includes(' WeChat Pay '))).toBe(true);
    expect(await codes({ wallet: 'WeChat Pay' })).toEqual(wechat);
    const mpm = await codes({ mode: 'mpm' });
    expect(mpm).toEqual(await codes({ mode: 'MPM' }));
    expect(mpm.every((line) => line.endsWith(' MPM'))).toBe(true);
    expect(await codes({ wallet: 'payme', mode: 'mpm' })).toEqual(['805801 PayMe MPM']);
    expect((await codes({ wallet: 'alipay' })).length).toBeGreaterThan(1);
  });

  it('a filter that matches no name is an error listing the names', async () => {
    const answer = await call(env.client, 'list_pay_types', { wallet: 'bitcoin' });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain('"bitcoin" matches none of');
    expect(answer.text).toContain('WeChat Pay');
  });
});

describe('one out_trade_no rule: library, tools and simulator agree', () => {
  it('the tools refuse a hyphen and say which characters are allowed', async () => {
    const answer = await call(env.client, 'create_payment', payment({ out_trade_no: HYPHENATED }));
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain('no spaces, hyphens');
    expect(answer.text).toContain('order_20261126_0001');
    const query = await call(env.client, 'query_transaction', { out_trade_no: [HYPHENATED] });
    expect(query.isError).toBe(true);
  });

  it('the library client refuses it before sending, and the simulator refuses it on the wire', async () => {
    const simulator = await startSimulator({ quiet: true });
    try {
      const client = new QfpayClient({
        baseUrl: simulator.baseUrl,
        credentials: DEFAULT_SIMULATOR_CREDENTIAL,
      });
      const refused = client.createPayment({
        pay_type: '800101',
        txamt: 1050,
        txcurrcd: 'HKD',
        out_trade_no: HYPHENATED,
      });
      await expect(refused).rejects.toBeInstanceOf(QfpayValidationError);
      await expect(refused).rejects.toThrow(/no spaces, hyphens/);
      expect(await countRequests(simulator.baseUrl, '/trade/v1/payment')).toBe(0);

      // Straight to the simulator, signed like any client would: QFPay's parameter error 1104.
      const form = {
        pay_type: '800101',
        txamt: '1050',
        txcurrcd: 'HKD',
        out_trade_no: HYPHENATED,
        txdtm: '2026-11-26 10:00:00',
      };
      const sign = signRequest(form, DEFAULT_SIMULATOR_CREDENTIAL.key, 'SHA256');
      const response = await fetch(`${simulator.baseUrl}/trade/v1/payment`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'X-QF-APPCODE': DEFAULT_SIMULATOR_CREDENTIAL.appcode,
          'X-QF-SIGN': sign,
          'X-QF-SIGNTYPE': 'SHA256',
        },
        body: new URLSearchParams(form).toString(),
      });
      const answer = (await response.json()) as { respcd: string; resperr?: string; respmsg?: string };
      expect(answer.respcd).toBe('1104');
      expect(`${answer.resperr ?? ''}${answer.respmsg ?? ''}`).toContain('hyphens');
    } finally {
      await simulator.close();
    }
  });
});

describe('QFPAY_RATE_LIMITS above QFPay quota', () => {
  const sandbox = {
    QFPAY_ENV: 'sandbox',
    QFPAY_APPCODE: 'APPCODE0123456789',
    QFPAY_KEY: 'key-0123456789abcdef',
  };

  it('is refused with the quota and the default named', () => {
    let error: unknown;
    try {
      loadConfig({ ...sandbox, QFPAY_RATE_LIMITS: '200/1s' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(QfpayConfigError);
    expect((error as QfpayConfigError).variable).toBe('QFPAY_RATE_LIMITS');
    expect((error as Error).message).toContain("above QFPay's quota of 100 per second");
    expect((error as QfpayConfigError).nextAction).toContain('95/1s,380/60s');
  });

  it('counts windows together: one per second alone would allow too many in a minute', () => {
    expect(() => loadConfig({ ...sandbox, QFPAY_RATE_LIMITS: '95/1s' })).toThrow(/400 per minute/);
    expect(loadConfig({ ...sandbox, QFPAY_RATE_LIMITS: '100/1s,400/60s' }).rateLimits).toHaveLength(2);
    expect(loadConfig({ ...sandbox, QFPAY_RATE_LIMITS: '6/1s' }).rateLimits).toHaveLength(1);
  });

  it('is accepted against the local simulator, which is not QFPay', () => {
    expect(loadConfig({ QFPAY_ENV: 'local', QFPAY_RATE_LIMITS: '1000000/1s' }).rateLimits).toEqual([
      { count: 1_000_000, durationMs: 1_000 },
    ]);
  });
});
