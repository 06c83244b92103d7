import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { QfpayConfigError } from '../../src/qfpay/errors.js';
import {
  checkAmountCaps,
  checkNoCardNumbers,
  checkUrlAllowed,
  confirmationRequired,
  loadMoneyPolicy,
  parseConfirmSecret,
} from '../../src/safety/policy.js';
import type { MoneyPolicy } from '../../src/safety/policy.js';

const STATE = { QFPAY_STATE_DIR: '/var/lib/qfpay-test' };

function policyError(env: NodeJS.ProcessEnv, environment: 'local' | 'prod' = 'prod'): QfpayConfigError {
  try {
    loadMoneyPolicy({ ...STATE, ...env }, environment);
  } catch (error) {
    expect(error).toBeInstanceOf(QfpayConfigError);
    return error as QfpayConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('loadMoneyPolicy', () => {
  it('defaults to no production writes, confirmation in real-money environments, no caps, no callback URLs', () => {
    const policy = loadMoneyPolicy(STATE, 'prod');
    expect(policy).toEqual({
      allowProdWrites: false,
      confirm: 'real-money',
      maxTxamt: new Map(),
      dailyLimit: new Map(),
      allowedUrlPrefixes: [],
      allowLoopbackUrls: false,
      approval: 'agent',
      auditLogPath: path.join('/var/lib/qfpay-test', 'audit-prod.jsonl'),
    });
    expect(confirmationRequired(policy, 'prod')).toBe(true);
    // test moves real wallet money: confirmed by default too.
    expect(confirmationRequired(policy, 'test')).toBe(true);
    expect(confirmationRequired(policy, 'sandbox')).toBe(false);
    expect(confirmationRequired(policy, 'local')).toBe(false);
    const prodOnly = loadMoneyPolicy({ ...STATE, QFPAY_CONFIRM: 'prod' }, 'test');
    expect(confirmationRequired(prodOnly, 'test')).toBe(false);
    expect(confirmationRequired(prodOnly, 'prod')).toBe(true);
    expect(loadMoneyPolicy(STATE, 'local').allowLoopbackUrls).toBe(true);
  });

  it('reads every variable', () => {
    const secret = randomBytes(32).toString('hex');
    const policy = loadMoneyPolicy(
      {
        ...STATE,
        QFPAY_ALLOW_PROD_WRITES: 'true',
        QFPAY_CONFIRM: 'ALWAYS',
        QFPAY_MAX_TXAMT: ' HKD:500000 , usd:50000 ',
        QFPAY_DAILY_LIMIT: 'HKD:2000000',
        QFPAY_ALLOWED_URLS: 'https://Shop.Example.com/qfpay/, https://ops.example.com',
        QFPAY_CONFIRM_SECRET: secret,
        QFPAY_AUDIT_LOG: '/srv/audit/ledger.jsonl',
      },
      'sandbox',
    );
    expect(policy.allowProdWrites).toBe(true);
    expect(policy.confirm).toBe('always');
    expect(confirmationRequired(policy, 'sandbox')).toBe(true);
    expect(policy.maxTxamt).toEqual(
      new Map([
        ['HKD', 500000],
        ['USD', 50000],
      ]),
    );
    expect(policy.dailyLimit).toEqual(new Map([['HKD', 2000000]]));
    expect(policy.allowedUrlPrefixes).toEqual([
      'https://shop.example.com/qfpay/',
      'https://ops.example.com/',
    ]);
    expect(policy.confirmSecret?.toString('hex')).toBe(secret);
    expect(policy.auditLogPath).toBe('/srv/audit/ledger.jsonl');
  });

  it('lets the --allow-prod-writes flag decide when given', () => {
    expect(loadMoneyPolicy(STATE, 'prod', { allowProdWrites: true }).allowProdWrites).toBe(true);
    expect(loadMoneyPolicy({ ...STATE, QFPAY_ALLOW_PROD_WRITES: '1' }, 'prod', {}).allowProdWrites).toBe(
      true,
    );
    expect(loadMoneyPolicy({ ...STATE, QFPAY_ALLOW_PROD_WRITES: '0' }, 'prod').allowProdWrites).toBe(false);
  });

  it.each([
    [{ QFPAY_ALLOW_PROD_WRITES: 'maybe' }, 'QFPAY_ALLOW_PROD_WRITES', /1 or 0/],
    [{ QFPAY_CONFIRM: 'off' }, 'QFPAY_CONFIRM', /cannot be turned off/],
    [{ QFPAY_MAX_TXAMT: 'HKD500000' }, 'QFPAY_MAX_TXAMT', /HKD:500000/],
    [{ QFPAY_MAX_TXAMT: 'HKD:10.50' }, 'QFPAY_MAX_TXAMT', /minor units/],
    [{ QFPAY_MAX_TXAMT: 'XXX:100' }, 'QFPAY_MAX_TXAMT', /HKD/],
    [{ QFPAY_MAX_TXAMT: 'HKD:0' }, 'QFPAY_MAX_TXAMT', /positive/],
    [{ QFPAY_MAX_TXAMT: 'HKD:99999999999999999999' }, 'QFPAY_MAX_TXAMT', /positive/],
    [{ QFPAY_DAILY_LIMIT: 'HKD:1,hkd:2' }, 'QFPAY_DAILY_LIMIT', /one HKD/],
    [{ QFPAY_DAILY_LIMIT: 'HKD:-5' }, 'QFPAY_DAILY_LIMIT', /CURRENCY:AMOUNT/],
    [{ QFPAY_ALLOWED_URLS: 'ftp://files.example.com/' }, 'QFPAY_ALLOWED_URLS', /https/],
    [{ QFPAY_ALLOWED_URLS: 'http://shop.example.com/' }, 'QFPAY_ALLOWED_URLS', /https/],
    [{ QFPAY_ALLOWED_URLS: 'https://user:pw@shop.example.com/' }, 'QFPAY_ALLOWED_URLS', /https/],
    [{ QFPAY_ALLOWED_URLS: 'shop.example.com' }, 'QFPAY_ALLOWED_URLS', /https/],
    [{ QFPAY_ALLOWED_URLS: 'https://shop.example.com/?x=1' }, 'QFPAY_ALLOWED_URLS', /https/],
    [
      { QFPAY_CONFIRM_SECRET: 'correct horse battery staple' },
      'QFPAY_CONFIRM_SECRET',
      /openssl rand -hex 32/,
    ],
    [{ QFPAY_CONFIRM_SECRET: 'abcd1234' }, 'QFPAY_CONFIRM_SECRET', /openssl rand/],
    [{ QFPAY_CONFIRM_SECRET: '00'.repeat(32) }, 'QFPAY_CONFIRM_SECRET', /openssl rand/],
  ])('refuses %j, naming %s and the fix', (env, variable, fix) => {
    const error = policyError(env);
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}:`)).toBe(true);
    expect(`${error.message} ${error.nextAction}`).toMatch(fix);
  });

  it('never echoes the confirm secret in an error', () => {
    const weak = 'c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0'; // base64, 24 bytes
    const error = policyError({ QFPAY_CONFIRM_SECRET: weak });
    expect(`${error.message} ${error.nextAction}`).not.toContain(weak);
    expect(error.message).toMatch(/24 bytes/);
  });

  it('accepts the confirm secret as hex, base64 or base64url, with or without a label', () => {
    const bytes = randomBytes(32);
    for (const spelling of [
      bytes.toString('hex'),
      `hex:${bytes.toString('hex')}`,
      bytes.toString('base64'),
      `base64:${bytes.toString('base64')}`,
      bytes.toString('base64url'),
    ]) {
      expect(parseConfirmSecret(spelling)?.equals(bytes)).toBe(true);
    }
    expect(parseConfirmSecret(undefined)).toBeUndefined();
  });
});

function policy(overrides: Partial<MoneyPolicy> = {}): MoneyPolicy {
  return { ...loadMoneyPolicy(STATE, 'prod'), ...overrides };
}

describe('checkAmountCaps', () => {
  const capped = policy({
    maxTxamt: new Map([
      ['HKD', 500000],
      ['JPY', 100000],
    ]),
    dailyLimit: new Map([
      ['HKD', 2000000],
      ['JPY', 1000000],
    ]),
  });

  it('allows amounts up to and including the caps', () => {
    expect(
      checkAmountCaps(capped, { kind: 'payment', txamt: 500000, txcurrcd: 'HKD', todayTotal: 1500000 }),
    ).toEqual({
      ok: true,
    });
    expect(
      checkAmountCaps(policy(), { kind: 'refund', txamt: 10 ** 10, txcurrcd: 'USD', todayTotal: 0 }),
    ).toEqual({
      ok: true,
    });
  });

  it('names the per-transaction cap with both amounts', () => {
    const result = checkAmountCaps(capped, {
      kind: 'payment',
      txamt: 600000,
      txcurrcd: 'hkd',
      todayTotal: 0,
    });
    expect(result).toEqual({
      ok: false,
      message:
        'QFPAY_MAX_TXAMT caps HKD payments at HKD 5,000.00 (500000) each; this one is HKD 6,000.00 (600000).',
      next_action: expect.stringContaining('cannot be changed from a tool call') as unknown,
    });
    const yen = checkAmountCaps(capped, { kind: 'refund', txamt: 100001, txcurrcd: 'JPY', todayTotal: 0 });
    expect(!yen.ok && yen.message).toBe(
      'QFPAY_MAX_TXAMT caps JPY refunds at JPY 100,000 (100000) each; this one is JPY 100,001 (100001).',
    );
  });

  it('names the daily limit, what already counts and the excess', () => {
    const result = checkAmountCaps(capped, {
      kind: 'refund',
      txamt: 300000,
      txcurrcd: 'HKD',
      todayTotal: 1800000,
    });
    expect(!result.ok && result.message).toBe(
      'QFPAY_DAILY_LIMIT caps HKD refunds at HKD 20,000.00 (2000000) per day (UTC+8); HKD 18,000.00 (1800000) already counts today (including any whose outcome is still unknown), so this HKD 3,000.00 (300000) would exceed it by HKD 1,000.00 (100000).',
    );
  });

  it('refuses currencies a configured cap does not list (fails closed)', () => {
    const result = checkAmountCaps(capped, { kind: 'payment', txamt: 1, txcurrcd: 'USD', todayTotal: 0 });
    expect(!result.ok && result.message).toMatch(/QFPAY_MAX_TXAMT sets caps for HKD, JPY but not USD/);
    const dailyOnly = policy({ dailyLimit: new Map([['HKD', 1000]]) });
    const daily = checkAmountCaps(dailyOnly, { kind: 'payment', txamt: 1, txcurrcd: 'USD', todayTotal: 0 });
    expect(!daily.ok && daily.message).toMatch(/QFPAY_DAILY_LIMIT .* not USD/);
  });

  it('refuses what it cannot check', () => {
    for (const request of [
      { kind: 'payment' as const, txamt: 10.5, txcurrcd: 'HKD', todayTotal: 0 },
      { kind: 'payment' as const, txamt: -1, txcurrcd: 'HKD', todayTotal: 0 },
      { kind: 'payment' as const, txamt: 1, txcurrcd: 'HKD', todayTotal: Number.NaN },
      { kind: 'payment' as const, txamt: 1, txcurrcd: 'XXX', todayTotal: 0 },
    ]) {
      expect(checkAmountCaps(capped, request).ok).toBe(false);
    }
  });
});

describe('checkUrlAllowed', () => {
  const shop = policy({ allowedUrlPrefixes: ['https://shop.example.com/qfpay', 'https://ops.example.com/'] });

  it.each([
    'https://shop.example.com/qfpay',
    'https://shop.example.com/qfpay/notify',
    'https://shop.example.com/qfpay?order=1',
    'HTTPS://SHOP.EXAMPLE.COM/qfpay/notify',
    'https://shop.example.com:443/qfpay/notify',
    'https://shop.example.com/other/../qfpay/notify',
    'https://ops.example.com/anything',
  ])('allows %s', (url) => {
    expect(checkUrlAllowed(shop, 'notify_url', url)).toEqual({ ok: true });
  });

  it.each([
    ['https://shop.example.com/qfpay-evil/notify', /allowed prefixes/],
    ['https://shop.example.com.evil.io/qfpay/notify', /allowed prefixes/],
    ['https://shop.example.com:8443/qfpay/notify', /allowed prefixes/],
    ['https://shop.example.com/qfpay/../admin', /allowed prefixes/],
    ['https://evil.io/?https://shop.example.com/qfpay', /allowed prefixes/],
    ['http://shop.example.com/qfpay/notify', /plain http/],
    ['https://user:pw@shop.example.com/qfpay/notify', /user name or password/],
    ['javascript:alert(1)', /only https and http/],
    ['/qfpay/notify', /absolute URL/],
    ['https://shop.example.com/qfpay/' + 'a'.repeat(2100), /absolute URL/],
  ])('refuses %s', (url, reason) => {
    const result = checkUrlAllowed(shop, 'return_url', url);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(reason);
    expect(!result.ok && result.message.startsWith('return_url')).toBe(true);
    expect(!result.ok && result.next_action).toMatch(/Nothing was sent to QFPay/);
  });

  it('accepts nothing when no prefixes are configured outside local', () => {
    const result = checkUrlAllowed(policy(), 'notify_url', 'https://shop.example.com/notify');
    expect(!result.ok && result.message).toMatch(/QFPAY_ALLOWED_URLS is empty/);
    expect(checkUrlAllowed(policy(), 'notify_url', 'http://127.0.0.1:8080/notify').ok).toBe(false);
  });

  it('accepts loopback callbacks in the local environment so rehearsals work', () => {
    const local = loadMoneyPolicy(STATE, 'local');
    for (const url of [
      'http://127.0.0.1:8080/notify',
      'http://localhost/cb',
      'http://[::1]:9/x',
      'https://127.0.0.2/',
    ]) {
      expect(checkUrlAllowed(local, 'notify_url', url)).toEqual({ ok: true });
    }
    expect(checkUrlAllowed(local, 'notify_url', 'http://user:pw@127.0.0.1/x').ok).toBe(false);
    expect(checkUrlAllowed(local, 'notify_url', 'https://shop.example.com/notify').ok).toBe(false);
  });
});

describe('checkNoCardNumbers', () => {
  it('refuses a card number in goods_name, in goods_info, or split between them', () => {
    const inName = checkNoCardNumbers({ goods_name: '4111.1111.1111.1111' });
    expect(!inName.ok && inName.message).toMatch(/^goods_name contains .*\(\*{12}1111\)/);
    // Kills the mutation "card-number check on goods_info switched off".
    const inInfo = checkNoCardNumbers({ goods_name: 'Tea', goods_info: 'card 5555 5555 5555 4444' });
    expect(!inInfo.ok && inInfo.message).toMatch(/^goods_info contains .*\(\*{12}4444\)/);
    expect(!inInfo.ok && inInfo.next_action).toMatch(/Remove the number from goods_info/);
    const split = checkNoCardNumbers({ goods_name: 'Tea 4111 1111', goods_info: '1111 1111' });
    expect(!split.ok && split.message).toMatch(/^goods_name and goods_info contains/);
    const reversed = checkNoCardNumbers({ goods_name: '1111 1111', goods_info: '4111 1111' });
    expect(reversed.ok).toBe(false);
  });

  it('lets ordinary text, other fields and long references through', () => {
    expect(checkNoCardNumbers({ goods_name: 'Flat white x2', goods_info: 'table 12, HKD 38.00' })).toEqual({
      ok: true,
    });
    expect(checkNoCardNumbers({ out_trade_no: '4111111111111111' })).toEqual({ ok: true });
    expect(checkNoCardNumbers({ goods_info: 'syssn 20261201000100020012345671' })).toEqual({ ok: true });
  });
});
