import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { maskAppcode } from '../../src/safety/sanitize.js';
import {
  call,
  CPM_AUTH_CODE,
  envFor,
  ledgerRecords,
  openSession,
  type Session,
  upstreamCount,
  useWitness,
} from './helpers.js';

/**
 * Production writes: refused unless the operator opened the gate; with the gate open, every write
 * takes two calls, the second carrying a token bound to exactly what the person saw.
 * The simulator plays production (QFPAY_ENV=prod, QFPAY_BASE_URL on loopback); its request log
 * proves what was, and was not, sent.
 */

const PAYMENT = '/trade/v1/payment';
const REFUND = '/trade/v1/refund';
const CLOSE = '/trade/v1/close';
const REVERSAL = '/trade/v1/reversal';

const witness = useWitness('prod');

function prodEnv(extra: NodeJS.ProcessEnv = {}, ledger = 'audit-prod.jsonl'): NodeJS.ProcessEnv {
  return envFor('prod', witness.simulator, witness.credential, path.join(witness.dir, ledger), extra);
}

describe('production without --allow-prod-writes', () => {
  let session: Session;
  beforeAll(async () => {
    session = await openSession({ env: prodEnv({}, 'gate-closed.jsonl') });
  });
  afterAll(async () => {
    await session.close();
  });

  it('refuses every write tool with the way to enable it, and sends nothing', async () => {
    const paid = witness.simulator.control.requests().length;
    const answers = [
      await call(session.client, 'create_payment', { pay_type: '800101', txamt: 100, txcurrcd: 'HKD' }),
      await call(session.client, 'create_payment', {
        pay_type: '800108',
        txamt: 100,
        txcurrcd: 'HKD',
        auth_code: CPM_AUTH_CODE,
      }),
    ];
    for (const answer of answers) {
      expect(answer.isError).toBe(true);
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(answer.text).toMatch(/--allow-prod-writes/);
      expect(answer.text).toMatch(/QFPAY_ALLOW_PROD_WRITES=1/);
    }
    expect(witness.simulator.control.requests().length).toBe(paid);
  });

  it('still serves reads and reference tools', async () => {
    const listed = await call(session.client, 'list_pay_types', {});
    expect(listed.isError).toBe(false);
    const queries = upstreamCount(witness.simulator, '/trade/v1/query');
    const queried = await call(session.client, 'query_transaction', { out_trade_no: 'nothing_here_1' });
    expect(queried.isError).toBe(false);
    expect(queried.structured.count).toBe(0);
    // This month (QFPay's default range) and the previous one: a lookup by out_trade_no.
    expect(upstreamCount(witness.simulator, '/trade/v1/query')).toBe(queries + 2);
  });
});

describe('production with the gate open: bound confirmation', () => {
  let session: Session;
  const ledgerFile = () => path.join(witness.dir, 'gate-open.jsonl');
  beforeAll(async () => {
    session = await openSession({ env: prodEnv({}, 'gate-open.jsonl'), allowProdWrites: true });
  });
  afterAll(async () => {
    await session.close();
  });

  const args = { pay_type: '800101', txamt: 1_050, txcurrcd: 'HKD' } as const;

  async function prepare(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const before = upstreamCount(witness.simulator, PAYMENT);
    const first = await call(session.client, 'create_payment', { ...args, ...extra });
    expect(first.isError).toBe(false);
    expect(first.structured.status).toBe('CONFIRMATION_REQUIRED');
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
    return first.structured;
  }

  it('the first call sends nothing and shows everything the person approves', async () => {
    const prepared = await prepare();
    const summary = String(prepared.confirmation_summary);
    expect(summary).toContain('prod');
    expect(summary).toContain('REAL MONEY');
    expect(summary).toContain(maskAppcode(witness.credential.appcode));
    expect(summary).not.toContain(witness.credential.appcode);
    expect(summary).toContain(`mchid ${witness.credential.mchid}`);
    expect(summary).toContain('HKD 10.50');
    expect(summary).toContain('ten Hong Kong dollars and fifty cents');
    expect(summary).toContain('txamt 1050');
    expect(summary).toMatch(/Pay type: 800101 Alipay/);
    // The order number was generated now; the repeat must carry the same one.
    expect(prepared.out_trade_no).toEqual(expect.any(String));
    expect(summary).toContain(String(prepared.out_trade_no));
    expect(String(prepared.next_action)).toContain(`out_trade_no "${String(prepared.out_trade_no)}"`);
    expect(prepared.confirmation_token).toEqual(expect.any(String));
    expect(Date.parse(String(prepared.confirmation_expires_at))).toBeGreaterThan(Date.now());
  });

  it('refuses a tampered token, a token for other parameters and one for another tool, sending nothing', async () => {
    const prepared = await prepare();
    const token = String(prepared.confirmation_token);
    const outTradeNo = String(prepared.out_trade_no);
    const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    const before = witness.simulator.control.requests().length;
    const attempts: [string, Record<string, unknown>][] = [
      ['create_payment', { ...args, out_trade_no: outTradeNo, confirmation_token: tampered }],
      ['create_payment', { ...args, txamt: 1_051, out_trade_no: outTradeNo, confirmation_token: token }],
      ['create_payment', { ...args, txamt: 1_049, out_trade_no: outTradeNo, confirmation_token: token }],
      ['create_payment', { ...args, txcurrcd: 'USD', out_trade_no: outTradeNo, confirmation_token: token }],
      [
        'create_payment',
        { ...args, pay_type: '800201', out_trade_no: outTradeNo, confirmation_token: token },
      ],
      ['create_payment', { ...args, out_trade_no: `${outTradeNo}x`, confirmation_token: token }],
      // No out_trade_no: a new one would be generated, so the token cannot match.
      ['create_payment', { ...args, confirmation_token: token }],
      ['create_payment', { ...args, out_trade_no: outTradeNo, goods_name: 'x', confirmation_token: token }],
    ];
    for (const [tool, attempt] of attempts) {
      const answer = await call(session.client, tool, attempt);
      expect(answer.isError, JSON.stringify(attempt)).toBe(true);
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(answer.text).toMatch(/confirmation was refused/i);
    }
    const moneyMoving = witness.simulator.control
      .requests()
      .slice(before)
      .filter((r) => r.path !== '/trade/v1/query');
    expect(moneyMoving).toEqual([]);

    // A create_payment token on a refund of a real payment is refused too.
    const paid = await payInProduction();
    const refundBefore = upstreamCount(witness.simulator, REFUND);
    const refund = await call(session.client, 'refund', {
      syssn: paid,
      txamt: 100,
      out_trade_no: outTradeNo,
      confirmation_token: token,
    });
    expect(refund.isError).toBe(true);
    expect(refund.text).toMatch(/different action/);
    expect(upstreamCount(witness.simulator, REFUND)).toBe(refundBefore);
  });

  it('the right token executes exactly once; repeating it replays instead of paying again', async () => {
    const prepared = await prepare();
    const before = upstreamCount(witness.simulator, PAYMENT);
    const confirmed = {
      ...args,
      out_trade_no: prepared.out_trade_no,
      confirmation_token: prepared.confirmation_token,
    };
    const done = await call(session.client, 'create_payment', confirmed);
    expect(done.isError).toBe(false);
    expect(done.structured.status).toBe('AWAITING_CUSTOMER');
    expect(done.structured.out_trade_no).toBe(prepared.out_trade_no);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);

    const again = await call(session.client, 'create_payment', confirmed);
    expect(again.isError).toBe(false);
    expect(again.structured.replayed).toBe(true);
    expect(again.structured.syssn).toBe(done.structured.syssn);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);

    const records = await ledgerRecords(ledgerFile());
    const intents = records.filter((r) => r.step === 'intent' && r.out_trade_no === prepared.out_trade_no);
    expect(intents).toHaveLength(1);
    expect(intents[0]?.approval).toBe('agent-token');
  });

  it('a token whose execution QFPay never processed cannot be used a second time', async () => {
    const prepared = await prepare();
    witness.simulator.control.addFault({ kind: 'http429', paths: [PAYMENT], count: 5 });
    const confirmed = {
      ...args,
      out_trade_no: prepared.out_trade_no,
      confirmation_token: prepared.confirmation_token,
    };
    try {
      const limited = await call(session.client, 'create_payment', confirmed);
      expect(limited.structured.error).toEqual(expect.objectContaining({ kind: 'rate_limited' }));
    } finally {
      witness.simulator.control.clearFaults();
    }
    const before = upstreamCount(witness.simulator, PAYMENT);
    const reused = await call(session.client, 'create_payment', confirmed);
    expect(reused.isError).toBe(true);
    expect(reused.text).toMatch(/already used/);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
  });

  it('a refund binds its resolved default amount and its generated reference at the first call', async () => {
    const syssn = await payInProduction(2_000);
    const first = await call(session.client, 'refund', { syssn });
    expect(first.structured.status).toBe('CONFIRMATION_REQUIRED');
    expect(first.structured.txamt).toBe(2_000);
    expect(String(first.structured.confirmation_summary)).toContain('twenty Hong Kong dollars');
    expect(String(first.structured.next_action)).toContain('txamt 2000');
    const refundNo = String(first.structured.out_trade_no);
    const before = upstreamCount(witness.simulator, REFUND);
    const done = await call(session.client, 'refund', {
      syssn,
      out_trade_no: refundNo,
      txamt: 2_000,
      confirmation_token: first.structured.confirmation_token,
    });
    expect(done.isError).toBe(false);
    expect(done.structured.status).toBe('REFUNDED');
    expect(upstreamCount(witness.simulator, REFUND)).toBe(before + 1);
  });

  it('cancel_payment needs the same confirmation', async () => {
    const prepared = await prepare();
    const order = await call(session.client, 'create_payment', {
      ...args,
      out_trade_no: prepared.out_trade_no,
      confirmation_token: prepared.confirmation_token,
    });
    const cancels = () =>
      upstreamCount(witness.simulator, CLOSE) + upstreamCount(witness.simulator, REVERSAL);
    const before = cancels();
    const first = await call(session.client, 'cancel_payment', { syssn: order.structured.syssn });
    expect(first.structured.status).toBe('CONFIRMATION_REQUIRED');
    expect(String(first.structured.confirmation_summary)).toMatch(
      /Cancel \((close|reversal)\) the unpaid order/,
    );
    expect(cancels()).toBe(before);
    const done = await call(session.client, 'cancel_payment', {
      syssn: order.structured.syssn,
      confirmation_token: first.structured.confirmation_token,
    });
    expect(done.structured.status).toBe('CANCELLED');
    expect(cancels()).toBe(before + 1);
  });

  /** A PAID CPM payment in production, through the two-step confirmation. */
  async function payInProduction(txamt = 5_000): Promise<string> {
    const cpm = { pay_type: '800108', txamt, txcurrcd: 'HKD', auth_code: CPM_AUTH_CODE };
    const first = await call(session.client, 'create_payment', cpm);
    const paid = await call(session.client, 'create_payment', {
      ...cpm,
      out_trade_no: first.structured.out_trade_no,
      confirmation_token: first.structured.confirmation_token,
    });
    expect(paid.structured.status).toBe('PAID');
    return String(paid.structured.syssn);
  }
});

describe('token lifetime and sharing', () => {
  it('an expired token is refused and nothing is sent', async () => {
    const session = await openSession({
      env: prodEnv({}, 'expiry.jsonl'),
      allowProdWrites: true,
      confirmationTtlMs: 200,
    });
    try {
      const args = { pay_type: '800101', txamt: 300, txcurrcd: 'HKD' };
      const first = await call(session.client, 'create_payment', args);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const before = upstreamCount(witness.simulator, PAYMENT);
      const late = await call(session.client, 'create_payment', {
        ...args,
        out_trade_no: first.structured.out_trade_no,
        confirmation_token: first.structured.confirmation_token,
      });
      expect(late.isError).toBe(true);
      expect(late.text).toMatch(/expired/);
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
    } finally {
      await session.close();
    }
  });

  it('instances sharing QFPAY_CONFIRM_SECRET accept each other’s tokens; others do not', async () => {
    const secret = { QFPAY_CONFIRM_SECRET: randomBytes(32).toString('hex') };
    const issuer = await openSession({ env: prodEnv(secret, 'shared-a.jsonl'), allowProdWrites: true });
    const peer = await openSession({ env: prodEnv(secret, 'shared-b.jsonl'), allowProdWrites: true });
    const stranger = await openSession({ env: prodEnv({}, 'shared-c.jsonl'), allowProdWrites: true });
    try {
      const args = { pay_type: '800101', txamt: 400, txcurrcd: 'HKD' };
      const first = await call(issuer.client, 'create_payment', args);
      const confirmed = {
        ...args,
        out_trade_no: first.structured.out_trade_no,
        confirmation_token: first.structured.confirmation_token,
      };
      const refusedElsewhere = await call(stranger.client, 'create_payment', confirmed);
      expect(refusedElsewhere.text).toMatch(/not issued by this server/);
      const done = await call(peer.client, 'create_payment', confirmed);
      expect(done.structured.status).toBe('AWAITING_CUSTOMER');
    } finally {
      await Promise.all([issuer.close(), peer.close(), stranger.close()]);
    }
  });
});

describe('QFPAY_CONFIRM=always', () => {
  it('rehearses the confirmation step outside production', async () => {
    const session = await openSession({
      env: envFor('local', witness.simulator, witness.credential, path.join(witness.dir, 'always.jsonl'), {
        QFPAY_CONFIRM: 'always',
      }),
    });
    try {
      const args = { pay_type: '800101', txamt: 500, txcurrcd: 'HKD' };
      const before = upstreamCount(witness.simulator, PAYMENT);
      const first = await call(session.client, 'create_payment', args);
      expect(first.structured.status).toBe('CONFIRMATION_REQUIRED');
      expect(String(first.structured.confirmation_summary)).toMatch(/local .*no real money/);
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
      const done = await call(session.client, 'create_payment', {
        ...args,
        out_trade_no: first.structured.out_trade_no,
        confirmation_token: first.structured.confirmation_token,
      });
      expect(done.structured.status).toBe('AWAITING_CUSTOMER');
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
    } finally {
      await session.close();
    }
  });
});

describe('test (live testing: real wallets, real money)', () => {
  it('needs a bound confirmation by default: a write without one sends nothing', async () => {
    const session = await openSession({
      env: envFor('test', witness.simulator, witness.credential, path.join(witness.dir, 'test-env.jsonl'), {
        // envFor opts its other suites out; this one checks the default.
        QFPAY_CONFIRM: undefined,
      }),
    });
    try {
      const args = { pay_type: '800101', txamt: 700, txcurrcd: 'HKD' };
      const before = upstreamCount(witness.simulator, PAYMENT);
      const first = await call(session.client, 'create_payment', args);
      expect(first.structured.status).toBe('CONFIRMATION_REQUIRED');
      expect(String(first.structured.confirmation_summary)).toMatch(/test .*REAL MONEY/);
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
      const withoutToken = await call(session.client, 'create_payment', {
        ...args,
        out_trade_no: first.structured.out_trade_no,
      });
      expect(withoutToken.structured.status).toBe('CONFIRMATION_REQUIRED');
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
      const done = await call(session.client, 'create_payment', {
        ...args,
        out_trade_no: first.structured.out_trade_no,
        confirmation_token: first.structured.confirmation_token,
      });
      expect(done.structured.status).toBe('AWAITING_CUSTOMER');
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
    } finally {
      await session.close();
    }
  });
});
