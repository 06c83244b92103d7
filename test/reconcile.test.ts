import { describe, expect, it } from 'vitest';
import type { QfpayClient, TransactionRef } from '../src/qfpay/client.js';
import { QfpayUnknownOutcomeError } from '../src/qfpay/errors.js';
import { observe, pollUntilFinal } from '../src/qfpay/reconcile.js';
import type { PollInfo } from '../src/qfpay/reconcile.js';
import type { TransactionRecord } from '../src/qfpay/types.js';

/**
 * pollUntilFinal's own logic, against a scripted findTransaction. The end-to-end runs (MPM paid
 * by the simulated customer, answer lost after commit) are in client.test.ts, on the simulator.
 */

function row(overrides: Partial<TransactionRecord> = {}): TransactionRecord {
  return {
    syssn: 'P1',
    out_trade_no: 'order-1',
    pay_type: '800201',
    order_type: 'payment',
    txamt: 1000,
    txcurrcd: 'HKD',
    respcd: '0000',
    errmsg: '',
    cancel: '0',
    ...overrides,
  };
}

type Step = TransactionRecord[] | Error;

function scripted(steps: Step[]): Pick<QfpayClient, 'findTransaction'> & { refs: TransactionRef[] } {
  const refs: TransactionRef[] = [];
  return {
    refs,
    findTransaction(ref) {
      refs.push(ref);
      const step = steps.length > 1 ? steps.shift()! : steps[0]!;
      return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
    },
  };
}

describe('pollUntilFinal', () => {
  it('keeps polling through "not found" and "awaiting customer" until paid, always by the same reference', async () => {
    const client = scripted([[], [row({ respcd: '1143' })], [row({ respcd: '1143' })], [row()]]);
    const seen: PollInfo[] = [];
    const result = await pollUntilFinal(
      client,
      { out_trade_no: 'order-1' },
      {
        timeoutMs: 5_000,
        intervalMs: 5,
        onPoll: (info) => {
          seen.push(info);
        },
      },
    );
    expect(result).toMatchObject({ status: 'PAID', polls: 4, timedOut: false, record: { syssn: 'P1' } });
    expect(result.summary).toMatchObject({ status: 'PAID', refundable_txamt: 1000 });
    expect(seen.map((s) => [s.attempt, s.status])).toEqual([
      [1, 'UNKNOWN'],
      [2, 'AWAITING_CUSTOMER'],
      [3, 'AWAITING_CUSTOMER'],
      [4, 'PAID'],
    ]);
    expect(client.refs.every((ref) => ref.out_trade_no === 'order-1' && ref.syssn === undefined)).toBe(true);
  });

  it('tolerates query errors until the deadline and reports the last one', async () => {
    const failure = new QfpayUnknownOutcomeError(
      'query',
      'QFPay answered HTTP 503 (after 3 attempts)',
      undefined,
    );
    const recovered = await pollUntilFinal(
      scripted([failure, failure, [row({ respcd: '1181' })]]),
      { syssn: 'P1' },
      {
        timeoutMs: 5_000,
        intervalMs: 5,
      },
    );
    expect(recovered).toMatchObject({ status: 'EXPIRED', polls: 3, timedOut: false });
    expect(recovered.lastError).toBeUndefined();

    const stuck = await pollUntilFinal(
      scripted([failure]),
      { syssn: 'P1' },
      { timeoutMs: 120, intervalMs: 10 },
    );
    expect(stuck.status).toBe('UNKNOWN');
    expect(stuck.timedOut).toBe(true);
    expect(stuck.polls).toBeGreaterThan(1);
    expect(stuck.lastError).toContain('HTTP 503');
  });

  it('times out on a transaction that stays pending, polling at least once even with no time left', async () => {
    const pending = await pollUntilFinal(
      scripted([[row({ respcd: '1145', pay_type: '800208' })]]),
      { syssn: 'P1' },
      {
        timeoutMs: 60,
        intervalMs: 10,
      },
    );
    expect(pending).toMatchObject({ status: 'PROCESSING', timedOut: true });
    const once = await pollUntilFinal(
      scripted([[row({ respcd: '1143' })]]),
      { syssn: 'P1' },
      { timeoutMs: 0 },
    );
    expect(once).toMatchObject({ status: 'AWAITING_CUSTOMER', polls: 1, timedOut: true });
  });

  it('backs off from intervalMs towards maxIntervalMs and never sleeps past the deadline', async () => {
    const at: number[] = [];
    const started = Date.now();
    await pollUntilFinal(
      scripted([[]]),
      { syssn: 'P1' },
      {
        timeoutMs: 400,
        intervalMs: 40,
        maxIntervalMs: 90,
        onPoll: () => {
          at.push(Date.now() - started);
        },
      },
    );
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // Pauses of 40, 60, 90, 90, 90 and a last one cut to the deadline (0, 40, 100, 190, 280,
    // 370, 400): at most 7 polls. Only lower bounds on the real clock; a busy machine only slows it.
    expect(gaps[0]!).toBeGreaterThanOrEqual(35);
    expect(gaps[1]!).toBeGreaterThanOrEqual(55);
    expect(gaps[2]!).toBeGreaterThanOrEqual(85);
    expect(at.length).toBeLessThanOrEqual(7);
  });

  it('stops on a custom isDone', async () => {
    const result = await pollUntilFinal(
      scripted([[row({ respcd: '1143' })]]),
      { syssn: 'P1' },
      {
        timeoutMs: 5_000,
        intervalMs: 5,
        isDone: (status) => status !== 'UNKNOWN',
      },
    );
    expect(result).toMatchObject({ status: 'AWAITING_CUSTOMER', polls: 1, timedOut: false });
  });

  it('rejects with the caller’s reason when aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    setTimeout(() => controller.abort(reason), 30);
    await expect(
      pollUntilFinal(
        scripted([[]]),
        { syssn: 'P1' },
        { timeoutMs: 5_000, intervalMs: 10, signal: controller.signal },
      ),
    ).rejects.toBe(reason);
  });
});

describe('observe', () => {
  const payment = row({ cancel: '5' });
  const refundRow = row({
    syssn: 'R1',
    out_trade_no: 'refund-1',
    order_type: 'refund',
    origssn: 'P1',
    txamt: 300,
  });

  it('reads a refund reference as the refund’s status, with its payment’s summary', () => {
    const seen = observe([payment, refundRow], { out_trade_no: 'refund-1' });
    expect(seen.status).toBe('REFUNDED');
    expect(seen.record?.syssn).toBe('R1');
    expect(seen.summary).toMatchObject({
      syssn: 'P1',
      status: 'PARTIALLY_REFUNDED',
      refunded_txamt: 300,
      refundable_txamt: 700,
    });
  });

  it('reads a payment reference through its refunds', () => {
    expect(observe([payment, refundRow], { syssn: 'P1' }).status).toBe('PARTIALLY_REFUNDED');
  });

  it('prefers syssn when both are given and returns UNKNOWN when the reference is absent', () => {
    expect(observe([payment], { syssn: 'other', out_trade_no: 'order-1' }).status).toBe('UNKNOWN');
    expect(observe([], { out_trade_no: 'order-1' })).toEqual({ status: 'UNKNOWN' });
  });
});
