/**
 * The checkout link as QFPay documents it, checked by an independent implementation of the docs'
 * algorithm (sorted fields, empty ones dropped, `sign` and `lang` unsigned, values signed raw and
 * URL-encoded in the link), and the money rules the link goes through like any payment.
 */
import { createHash } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import {
  buildCheckoutLink,
  checkoutDeadlineMs,
  verifyCheckoutFields,
  parseCheckoutQuery,
} from '../../src/qfpay/checkout.js';
import { call, connect, type Connected } from '../mcp/helpers.js';

const KEY = 'B3D4CCFD4AB049DCA82C25000000TEST';

/** The docs' helper, written from their description: no project code. */
function independentSignature(query: string, key: string): { sign: string; computed: string } {
  const params = new URLSearchParams(query);
  const sign = params.get('sign') ?? '';
  const algorithm = (params.get('sign_type') ?? '').toLowerCase();
  const pairs = [...params.entries()]
    .filter(([name, value]) => name !== 'sign' && name !== 'lang' && value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`);
  return {
    sign,
    computed: createHash(algorithm)
      .update(pairs.join('&') + key)
      .digest('hex'),
  };
}

const FIELDS = {
  appcode: 'CC6FB660837E49F7A675D200000TEST',
  paysource: 'remotepay_checkout',
  txamt: 1099,
  txcurrcd: 'HKD',
  out_trade_no: '13322916216626239614',
  txdtm: '2026-12-01 18:33:20',
  return_url: 'https://shop.example.com/return?order=1&x=a b',
  failed_url: 'https://shop.example.com/failed',
  notify_url: 'https://shop.example.com/notify',
  goods_name: '茶具 & cups',
  mchntid: undefined,
  cancel_url: '',
};

describe('checkout link', () => {
  it.each(['SHA256', 'MD5'] as const)('is signed as the docs describe (%s), lang unsigned', (signType) => {
    const link = buildCheckoutLink('https://openapi-test.qfpay.com/', FIELDS, KEY, signType, 'zh-hk');
    expect(link.url.startsWith('https://openapi-test.qfpay.com/checkstand/#/?')).toBe(true);
    const query = link.url.split('#/?')[1]!;
    const { sign, computed } = independentSignature(query, KEY);
    expect(sign).toBe(computed);
    expect(sign).toMatch(signType === 'SHA256' ? /^[0-9a-f]{64}$/ : /^[0-9a-f]{32}$/);
    const params = new URLSearchParams(query);
    expect(params.get('lang')).toBe('zh-hk');
    expect(params.get('sign_type')).toBe(signType === 'SHA256' ? 'sha256' : 'md5');
    expect(params.has('cancel_url')).toBe(false);
    expect(params.has('mchntid')).toBe(false);
    expect(params.get('return_url')).toBe(FIELDS.return_url);
    // Values are URL-encoded in the link (no raw space or ampersand inside a value).
    expect(query).toContain(`goods_name=${encodeURIComponent(FIELDS.goods_name)}`);
  });

  it('is verified with the key and refused after any change', () => {
    const link = buildCheckoutLink('https://openapi-test.qfpay.com', FIELDS, KEY, 'SHA256');
    const fields = parseCheckoutQuery(link.url.split('#')[1]!);
    expect(verifyCheckoutFields(fields, KEY)).toEqual({ ok: true });
    expect(verifyCheckoutFields({ ...fields, lang: 'en' }, KEY)).toEqual({ ok: true });
    expect(verifyCheckoutFields({ ...fields, txamt: '1' }, KEY)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyCheckoutFields(fields, `${KEY}x`)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyCheckoutFields({ ...fields, sign: fields['sign']!.toUpperCase() }, KEY)).toEqual({
      ok: true,
    });
    const { sign: _sign, ...unsigned } = fields;
    expect(verifyCheckoutFields(unsigned, KEY)).toEqual({ ok: false, reason: 'missing_sign' });
  });

  it('reads checkout_expired_time as epoch milliseconds or as minutes after txdtm', () => {
    expect(checkoutDeadlineMs('1796000000000', 0)).toBe(1_796_000_000_000);
    expect(checkoutDeadlineMs('15', 1_000)).toBe(1_000 + 15 * 60_000);
    expect(checkoutDeadlineMs(undefined, 0)).toBeUndefined();
    expect(checkoutDeadlineMs('1e5', 0)).toBeNaN();
  });
});

describe('create_checkout_link goes through the money rules', () => {
  let agent: Connected | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });

  const args = (over: Record<string, unknown>) => ({
    txamt: 2500,
    txcurrcd: 'HKD',
    return_url: 'http://127.0.0.1:9/return',
    failed_url: 'http://127.0.0.1:9/failed',
    notify_url: 'http://127.0.0.1:9/notify',
    ...over,
  });

  it('counts links against the daily cap', async () => {
    agent = await connect({ env: { QFPAY_ENV: 'local', QFPAY_DAILY_LIMIT: 'HKD:4000' } });
    const first = await call(agent.client, 'create_checkout_link', args({ out_trade_no: 'CAP0000001' }));
    expect(first.isError, first.text).toBe(false);
    const second = await call(agent.client, 'create_checkout_link', args({ out_trade_no: 'CAP0000002' }));
    expect(second.isError).toBe(true);
    expect(second.text).toMatch(/daily/i);
    expect(second.structured['checkout_url']).toBeUndefined();
  });

  it.each(['return_url', 'failed_url', 'notify_url', 'cancel_url'])(
    'refuses a %s that is not allowed',
    async (field) => {
      agent = await connect();
      const answer = await call(
        agent.client,
        'create_checkout_link',
        args({ [field]: 'https://evil.example.net/x' }),
      );
      expect(answer.isError).toBe(true);
      expect(answer.text).toContain(field);
      expect(answer.structured['checkout_url']).toBeUndefined();
    },
  );

  it('never accepts card data', async () => {
    agent = await connect();
    const answer = await call(
      agent.client,
      'create_checkout_link',
      args({ goods_name: '4111 1111 1111 1111' }),
    );
    expect(answer.isError).toBe(true);
    expect(answer.text).not.toContain('4111 1111 1111 1111');
    const extra = await call(agent.client, 'create_checkout_link', args({ card_number: '4242424242424242' }));
    expect(extra.isError).toBe(true);
  });
});
