import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  BasicGuard,
  type GuardContext,
  type GuardFactoryContext,
  type GuardOutcome,
  type MoneyGuard,
  type WriteIntent,
} from '../../src/safety/guard.js';
import { call, type Connected, connect, countRequests, simulatorControl } from './helpers.js';

const ctx: GuardContext = { log: () => {} };

function intent(environment: WriteIntent['environment']): WriteIntent {
  return {
    tool: 'create_payment',
    environment,
    merchant: { appcode: 'APP' },
    params: { txamt: 100 },
    out_trade_no: 'o1',
    txamt: 100,
    txcurrcd: 'HKD',
    summary: 'Take HKD 1.00',
  };
}

describe('BasicGuard', () => {
  it('refuses production writes unless allowed, without executing', async () => {
    let executed = 0;
    const execute = () => Promise.resolve(++executed);
    const refused = await new BasicGuard({ allowProdWrites: false }).run(
      intent('prod'),
      undefined,
      ctx,
      execute,
    );
    expect(refused.kind).toBe('refused');
    expect(executed).toBe(0);
    const allowed = await new BasicGuard({ allowProdWrites: true }).run(
      intent('prod'),
      undefined,
      ctx,
      execute,
    );
    expect(allowed).toEqual({ kind: 'executed', value: 1 });
  });

  it('executes outside production and lets execution errors through unchanged', async () => {
    const guard = new BasicGuard({ allowProdWrites: false });
    expect(await guard.run(intent('test'), undefined, ctx, () => Promise.resolve('ok'))).toEqual({
      kind: 'executed',
      value: 'ok',
    });
    const boom = new Error('upstream');
    await expect(guard.run(intent('local'), undefined, ctx, () => Promise.reject(boom))).rejects.toBe(boom);
  });
});

/** A guard that asks for confirmation once per intent and records what it was shown. */
class ConfirmingGuard implements MoneyGuard {
  readonly seen: WriteIntent[] = [];
  async run<T>(
    intent: WriteIntent,
    token: string | undefined,
    _ctx: GuardContext,
    execute: () => Promise<T>,
  ): Promise<GuardOutcome<T>> {
    this.seen.push(intent);
    const expected = `tok-${intent.tool}-${intent.out_trade_no}-${intent.txamt}`;
    if (token !== expected) {
      return {
        kind: 'confirmation_required',
        token: expected,
        summary: intent.summary,
        expires_at: '2030-01-01T00:00:00.000Z',
      };
    }
    return { kind: 'executed', value: await execute() };
  }
}

describe('confirmation through the guard seam', () => {
  let env: Connected;
  const guard = new ConfirmingGuard();
  beforeAll(async () => {
    env = await connect({ guard });
    await simulatorControl(env.runtime.baseUrl, 'POST', '/__sim/clock', { set: '2026-03-16 12:00:00' });
  });
  afterAll(async () => {
    await env.close();
  });

  it('create_payment answers CONFIRMATION_REQUIRED with the summary and token, sending nothing, then executes with the token', async () => {
    const before = await countRequests(env.runtime.baseUrl, '/trade/v1/payment');
    const args = { pay_type: '800101', txamt: 1_050, txcurrcd: 'HKD' };
    const first = await call(env.client, 'create_payment', args);
    expect(first.isError).toBe(false);
    const s = first.structured;
    expect(s.status).toBe('CONFIRMATION_REQUIRED');
    expect(s.confirmation_summary).toMatch(/HKD 10\.50 \(ten Hong Kong dollars and fifty cents\)/);
    expect(s.confirmation_token).toEqual(expect.any(String));
    expect(s.confirmation_expires_at).toBe('2030-01-01T00:00:00.000Z');
    expect(String(s.next_action)).toContain(`out_trade_no "${String(s.out_trade_no)}"`);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/payment')).toBe(before);

    const second = await call(env.client, 'create_payment', {
      ...args,
      out_trade_no: s.out_trade_no,
      confirmation_token: s.confirmation_token,
    });
    expect(second.isError).toBe(false);
    expect(second.structured.status).toBe('AWAITING_CUSTOMER');
    expect(second.structured.out_trade_no).toBe(s.out_trade_no);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/payment')).toBe(before + 1);
  });

  it('the guard sees a normalised intent with the auth code masked and bound by digest', async () => {
    guard.seen.length = 0;
    await call(env.client, 'create_payment', {
      pay_type: '800108',
      txamt: 200,
      txcurrcd: 'HKD',
      auth_code: '280000000000009876',
    });
    const seen = guard.seen[0]!;
    expect(seen.tool).toBe('create_payment');
    expect(seen.environment).toBe('local');
    expect(seen.merchant.appcode).toEqual(expect.any(String));
    expect(seen.params.auth_code).toBe('**************9876');
    expect(seen.params.auth_code_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(seen)).not.toContain('280000000000009876');
    expect(seen.summary).toMatch(/Take HKD 2\.00 \(two Hong Kong dollars\) by Alipay CPM \(800108\)/);
  });

  it('refund and cancel_payment go through the guard too', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '800201',
      txamt: 600,
      txcurrcd: 'HKD',
    });
    expect(created.structured.status).toBe('CONFIRMATION_REQUIRED');

    const cancelBefore = await countRequests(env.runtime.baseUrl, '/trade/v1/close');
    const order = await call(env.client, 'create_payment', {
      pay_type: '800201',
      txamt: 600,
      txcurrcd: 'HKD',
      out_trade_no: created.structured.out_trade_no,
      confirmation_token: created.structured.confirmation_token,
    });
    expect(order.structured.status).toBe('AWAITING_CUSTOMER');
    const cancel = await call(env.client, 'cancel_payment', { syssn: order.structured.syssn });
    expect(cancel.structured.status).toBe('CONFIRMATION_REQUIRED');
    expect(cancel.structured.confirmation_summary).toMatch(/Cancel \(close\) the unpaid order/);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/close')).toBe(cancelBefore);

    await call(env.client, 'simulate_customer_payment', { syssn: order.structured.syssn, outcome: 'pay' });
    const refund = await call(env.client, 'refund', { syssn: order.structured.syssn, txamt: 100 });
    expect(refund.structured.status).toBe('CONFIRMATION_REQUIRED');
    expect(refund.structured.confirmation_summary).toMatch(
      /Refund HKD 1\.00 \(one Hong Kong dollar\) of payment/,
    );
    const done = await call(env.client, 'refund', {
      syssn: order.structured.syssn,
      txamt: 100,
      out_trade_no: refund.structured.out_trade_no,
      confirmation_token: refund.structured.confirmation_token,
    });
    expect(done.structured.status).toBe('PARTIALLY_REFUNDED');
  });
});

describe('a guard that fails unexpectedly', () => {
  it('yields a sanitised UNKNOWN result that still carries the out_trade_no, and logs an incident', async () => {
    const failing: MoneyGuard = {
      run: () => Promise.reject(new Error('ledger write failed at /var/lib/qfpay/ledger.jsonl')),
    };
    const env = await connect({ guard: failing });
    try {
      const answer = await call(env.client, 'create_payment', {
        pay_type: '800101',
        txamt: 100,
        txcurrcd: 'HKD',
        out_trade_no: 'guard_failure_1',
      });
      expect(answer.isError).toBe(true);
      expect(answer.structured.status).toBe('UNKNOWN');
      expect(answer.structured.out_trade_no).toBe('guard_failure_1');
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'internal' }));
      expect(String(answer.structured.next_action)).toMatch(
        /query_transaction with out_trade_no guard_failure_1/,
      );
      expect(answer.text).not.toContain('/var/lib');
      const incident = /incident ([0-9a-f]{8})/.exec(answer.text)?.[1];
      expect(incident).toBeDefined();
      expect(env.logs.some((line) => line.includes(incident!) && line.includes('ledger write failed'))).toBe(
        true,
      );
    } finally {
      await env.close();
    }
  });
});

class ClosableGuard extends BasicGuard {
  closed = 0;
  close(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }
}

describe('guard factory', () => {
  it('is built once with the resolved environment and merchant, and closed with the runtime', async () => {
    const contexts: GuardFactoryContext[] = [];
    let built: ClosableGuard | undefined;
    const env = await connect({
      allowProdWrites: false,
      guard: (context) => {
        contexts.push(context);
        built = new ClosableGuard({ allowProdWrites: context.allowProdWrites });
        return built;
      },
    });
    const answer = await call(env.client, 'create_payment', {
      pay_type: '800101',
      txamt: 100,
      txcurrcd: 'HKD',
    });
    expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
    await env.close();
    await env.runtime.close();
    expect(contexts).toHaveLength(1);
    expect(contexts[0]).toMatchObject({
      environment: 'local',
      allowProdWrites: false,
      merchant: { appcode: env.runtime.merchant!.appcode },
    });
    expect(built?.closed).toBe(1);
  });
});
