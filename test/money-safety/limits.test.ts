import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  call,
  CPM_AUTH_CODE,
  envFor,
  openSession,
  type Session,
  upstreamCount,
  useWitness,
} from './helpers.js';

/**
 * Limits the operator sets and no tool call can change: per-transaction and daily caps per
 * currency, the callback URL allow-list, no card numbers in free text. Each refusal names the
 * rule and happens before anything reaches QFPay.
 */

const PAYMENT = '/trade/v1/payment';

const witness = useWitness('limits');

function session(ledger: string, environment: 'local' | 'test', extra: NodeJS.ProcessEnv): Promise<Session> {
  return openSession({
    env: envFor(environment, witness.simulator, witness.credential, path.join(witness.dir, ledger), extra),
  });
}

const mpm = (txamt: number, txcurrcd = 'HKD') => ({ pay_type: '800101', txamt, txcurrcd });

describe('per-transaction caps (QFPAY_MAX_TXAMT)', () => {
  let s: Session;
  beforeAll(async () => {
    s = await session('max.jsonl', 'test', { QFPAY_MAX_TXAMT: 'HKD:10000,USD:2000' });
  });
  afterAll(async () => {
    await s.close();
  });

  it('refuses an amount over the cap, naming it, with nothing sent', async () => {
    const before = witness.simulator.control.requests().length;
    const answer = await call(s.client, 'create_payment', mpm(10_001));
    expect(answer.isError).toBe(true);
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
    expect(answer.text).toMatch(/QFPAY_MAX_TXAMT caps HKD payments at HKD 100\.00 \(10000\) each/);
    expect(answer.text).toMatch(/cannot be changed from a tool call/);
    expect(witness.simulator.control.requests().length).toBe(before);
  });

  it('lets the cap itself through', async () => {
    const answer = await call(s.client, 'create_payment', mpm(10_000));
    expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
  });

  it('refuses a currency the cap does not list (fail closed)', async () => {
    const before = witness.simulator.control.requests().length;
    const answer = await call(s.client, 'create_payment', mpm(100, 'CNY'));
    expect(answer.text).toMatch(/sets caps for HKD, USD but not CNY/);
    expect(witness.simulator.control.requests().length).toBe(before);
  });

  it('caps refunds too', async () => {
    const paid = await call(s.client, 'create_payment', {
      pay_type: '800108',
      txamt: 10_000,
      txcurrcd: 'HKD',
      auth_code: CPM_AUTH_CODE,
    });
    expect(paid.structured.status).toBe('PAID');
    const refunds = upstreamCount(witness.simulator, '/trade/v1/refund');
    // QFPAY_MAX_TXAMT is per transaction, so a whole-payment refund at the cap passes…
    const ok = await call(s.client, 'refund', { syssn: paid.structured.syssn, txamt: 10_000 });
    expect(ok.structured.status).toBe('REFUNDED');
    expect(upstreamCount(witness.simulator, '/trade/v1/refund')).toBe(refunds + 1);
  });
});

describe('daily caps (QFPAY_DAILY_LIMIT)', () => {
  let s: Session;
  beforeAll(async () => {
    s = await session('daily.jsonl', 'test', { QFPAY_DAILY_LIMIT: 'HKD:1000' });
  });
  afterAll(async () => {
    await s.close();
  });

  it('counts payments across calls and refuses the one that would exceed the day', async () => {
    expect((await call(s.client, 'create_payment', mpm(400))).structured.status).toBe('AWAITING_CUSTOMER');
    expect((await call(s.client, 'create_payment', mpm(400))).structured.status).toBe('AWAITING_CUSTOMER');
    const before = upstreamCount(witness.simulator, PAYMENT);
    const third = await call(s.client, 'create_payment', mpm(400));
    expect(third.isError).toBe(true);
    expect(third.text).toMatch(/QFPAY_DAILY_LIMIT caps HKD payments at HKD 10\.00 \(1000\) per day/);
    expect(third.text).toMatch(/HKD 8\.00 \(800\) already counts today/);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
    // The rest of the day's allowance still works.
    expect((await call(s.client, 'create_payment', mpm(200))).structured.status).toBe('AWAITING_CUSTOMER');
  });

  it('counts refunds separately from payments', async () => {
    const fresh = await session('daily-refunds.jsonl', 'test', { QFPAY_DAILY_LIMIT: 'HKD:1000' });
    const uncapped = await session('daily-uncapped.jsonl', 'test', {});
    const cpm = (txamt: number) => ({ pay_type: '800108', txamt, txcurrcd: 'HKD', auth_code: CPM_AUTH_CODE });
    try {
      // Payments reach the day's cap…
      const paid = await call(fresh.client, 'create_payment', cpm(1_000));
      expect(paid.structured.status).toBe('PAID');
      // …and refunds still have their own allowance.
      const refund = await call(fresh.client, 'refund', { syssn: paid.structured.syssn, txamt: 700 });
      expect(refund.structured.status).toBe('PARTIALLY_REFUNDED');
      // A bigger payment taken elsewhere: its remainder is not what limits the next refund here.
      const big = await call(uncapped.client, 'create_payment', cpm(5_000));
      expect(big.structured.status).toBe('PAID');
      const before = upstreamCount(witness.simulator, '/trade/v1/refund');
      const over = await call(fresh.client, 'refund', { syssn: big.structured.syssn, txamt: 301 });
      expect(over.isError).toBe(true);
      expect(over.text).toMatch(/QFPAY_DAILY_LIMIT caps HKD refunds at HKD 10\.00 \(1000\) per day/);
      expect(upstreamCount(witness.simulator, '/trade/v1/refund')).toBe(before);
      const within = await call(fresh.client, 'refund', { syssn: big.structured.syssn, txamt: 300 });
      expect(within.structured.status).toBe('PARTIALLY_REFUNDED');
      expect(upstreamCount(witness.simulator, '/trade/v1/refund')).toBe(before + 1);
    } finally {
      await fresh.close();
      await uncapped.close();
    }
  });

  it('holds under concurrency: simultaneous payments cannot jointly overshoot the day', async () => {
    const fresh = await session('daily-concurrent.jsonl', 'test', { QFPAY_DAILY_LIMIT: 'HKD:1000' });
    try {
      const before = upstreamCount(witness.simulator, PAYMENT);
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => call(fresh.client, 'create_payment', mpm(300))),
      );
      const sent = answers.filter((a) => a.structured.status === 'AWAITING_CUSTOMER');
      expect(sent).toHaveLength(3);
      expect(answers.filter((a) => /QFPAY_DAILY_LIMIT/.test(a.text))).toHaveLength(3);
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 3);
    } finally {
      await fresh.close();
    }
  });
});

describe('callback URLs and free text', () => {
  it('outside local, notify_url and return_url must start with an allowed prefix', async () => {
    const s = await session('urls.jsonl', 'test', {
      QFPAY_ALLOWED_URLS: 'https://shop.example.com/qfpay/',
    });
    try {
      const before = witness.simulator.control.requests().length;
      for (const [field, url] of [
        ['notify_url', 'https://attacker.example.net/steal'],
        ['notify_url', 'https://shop.example.com.evil.io/qfpay/n'],
        ['notify_url', 'https://shop.example.com/other'],
        ['return_url', 'https://attacker.example.net/back'],
      ] as const) {
        const answer = await call(s.client, 'create_payment', {
          pay_type: field === 'return_url' ? '801512' : '800101',
          txamt: 100,
          txcurrcd: 'HKD',
          [field]: url,
        });
        expect(answer.isError, url).toBe(true);
        expect(answer.text).toMatch(new RegExp(`${field} .* is refused|${field} `));
        expect(answer.text).toMatch(/QFPAY_ALLOWED_URLS|allowed prefixes/);
      }
      expect(witness.simulator.control.requests().length).toBe(before);
      const allowed = await call(s.client, 'create_payment', {
        ...mpm(100),
        notify_url: 'https://shop.example.com/qfpay/notify',
      });
      expect(allowed.structured.status).toBe('AWAITING_CUSTOMER');
    } finally {
      await s.close();
    }
  });

  it('without QFPAY_ALLOWED_URLS no callback URL is accepted outside local; loopback is fine in local', async () => {
    const strict = await session('urls-none.jsonl', 'test', {});
    const local = await session('urls-local.jsonl', 'local', {});
    try {
      const refused = await call(strict.client, 'create_payment', {
        ...mpm(100),
        notify_url: 'https://shop.example.com/notify',
      });
      expect(refused.text).toMatch(/QFPAY_ALLOWED_URLS is empty/);
      const accepted = await call(local.client, 'create_payment', {
        ...mpm(100),
        notify_url: 'http://127.0.0.1:9/notify',
      });
      expect(accepted.structured.status).toBe('AWAITING_CUSTOMER');
    } finally {
      await strict.close();
      await local.close();
    }
  });

  it('refuses a card number in goods_name and never echoes it in full', async () => {
    const s = await session('pan.jsonl', 'test', {});
    try {
      const before = witness.simulator.control.requests().length;
      const answer = await call(s.client, 'create_payment', {
        ...mpm(100),
        goods_name: 'card 4111 1111 1111 1111',
      });
      expect(answer.isError).toBe(true);
      expect(answer.text).toMatch(/looks like a card number \(\*{12}1111\)/);
      expect(JSON.stringify(answer)).not.toMatch(/4111 1111 1111 1111|4111111111111111/);
      expect(witness.simulator.control.requests().length).toBe(before);
    } finally {
      await s.close();
    }
  });

  it('mchid is configuration, never an argument', async () => {
    const s = await session('mchid.jsonl', 'test', {});
    try {
      const answer = await call(s.client, 'create_payment', { ...mpm(100), mchid: 'someone_else' });
      expect(answer.isError).toBe(true);
      expect(answer.text).toMatch(/mchid/);
    } finally {
      await s.close();
    }
  });
});
