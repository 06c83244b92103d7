import { describe, expect, it } from 'vitest';

import type { TransactionRecord } from '../../src/qfpay/types.js';
import type { LedgerRecord } from '../../src/safety/ledger.js';
import { compareDay, dayQueryRange, dayQueryRanges } from '../../src/safety/reconcile-day.js';

const DAY = '2026-12-01';
let seq = 0;

function record(
  fields: Partial<LedgerRecord> & Pick<LedgerRecord, 'intent_id' | 'step' | 'status'>,
): LedgerRecord {
  seq += 1;
  return {
    seq,
    time: '2026-12-01T04:00:00.000Z', // 12:00 in Hong Kong
    environment: 'local',
    merchant: { appcode: 'SIMU****0000', fingerprint: '0123456789abcdef' },
    tool: 'create_payment',
    kind: 'payment',
    out_trade_no: fields.intent_id,
    txamt: 1000,
    txcurrcd: 'HKD',
    prev_hash: '',
    hash: '',
    ...fields,
  };
}

function action(ref: string, status: string, over: Partial<LedgerRecord> = {}): LedgerRecord[] {
  return [
    record({ intent_id: ref, step: 'intent', status: 'INTENDED', ...over }),
    record({ intent_id: ref, step: 'outcome', status: status as LedgerRecord['status'], ...over }),
  ];
}

function row(ref: string, over: Partial<TransactionRecord> = {}): TransactionRecord {
  return {
    syssn: `S${ref}`,
    out_trade_no: ref,
    pay_type: '800101',
    order_type: 'payment',
    txamt: 1000,
    txcurrcd: 'HKD',
    sysdtm: `${DAY} 12:00:05`,
    respcd: '0000',
    errmsg: '',
    cancel: '0',
    ...over,
  };
}

describe('compareDay', () => {
  it('finds nothing when both sides agree, including a payment refunded later and its refund', () => {
    const result = compareDay(
      DAY,
      [
        ...action('P1', 'PAID'),
        ...action('P2', 'AWAITING_CUSTOMER', { tool: 'create_checkout_link' }),
        ...action('R1', 'REFUNDED', { kind: 'refund', tool: 'refund', orig_syssn: 'SP1', txamt: 400 }),
      ],
      [
        row('P1', { cancel: '5' }),
        row('R1', { order_type: 'refund', origssn: 'SP1', txamt: 400 }),
        row('P2', { respcd: '1143', pay_type: '802801' }),
      ],
    );
    expect(result.differences).toEqual([]);
    expect(result.matched).toBe(3);
    expect(result.ledger_actions).toBe(3);
  });

  it('agrees on a pre-authorisation the ledger saw held and QFPay shows finished (cancel 4), not on a plain payment', () => {
    const result = compareDay(
      DAY,
      [...action('A1', 'PAID'), ...action('P9', 'PAID')],
      [row('A1', { pay_type: '801801', cancel: '4' }), row('P9', { cancel: '2' })],
    );
    expect(result.differences.map((difference) => difference.out_trade_no)).toEqual(['P9']);
    expect(result.matched).toBe(2);
  });

  it('lists money QFPay moved that the ledger does not know, and nothing for orders that took no money', () => {
    const result = compareDay(
      DAY,
      [],
      [row('X1'), row('X2', { respcd: '1181' }), row('X3', { sysdtm: '2026-12-02 00:10:00' })],
    );
    expect(result.differences).toEqual([
      {
        kind: 'missing_from_ledger',
        out_trade_no: 'X1',
        syssn: 'SX1',
        order_type: 'payment',
        txamt: 1000,
        txcurrcd: 'HKD',
        qfpay_status: 'PAID',
      },
    ]);
  });

  it('lists what the ledger says moved but QFPay does not know, never what moved nothing', () => {
    const result = compareDay(
      DAY,
      [...action('L1', 'PAID'), ...action('L2', 'UNKNOWN'), ...action('L3', 'FAILED')],
      [],
    );
    expect(result.differences.map((d) => [d.kind, d.out_trade_no])).toEqual([
      ['unknown_to_qfpay', 'L1'],
      ['unknown_to_qfpay', 'L2'],
    ]);
  });

  it('ignores intents QFPay certainly never processed and records of other days', () => {
    const result = compareDay(
      DAY,
      [
        record({ intent_id: 'N1', step: 'intent', status: 'INTENDED' }),
        record({ intent_id: 'N1', step: 'outcome', status: 'UNKNOWN', processed: false }),
        ...action('OLD', 'PAID', { time: '2026-11-30T12:00:00.000Z' }),
      ],
      [],
    );
    expect(result.differences).toEqual([]);
    expect(result.ledger_actions).toBe(0);
  });

  it('reports amounts and final statuses that disagree, and a ledger that only lags', () => {
    const result = compareDay(
      DAY,
      [...action('A1', 'PAID'), ...action('A2', 'PAID'), ...action('A3', 'PROCESSING')],
      [row('A1', { txamt: 1001 }), row('A2', { respcd: '1205' }), row('A3')],
    );
    expect(result.differences).toEqual([
      {
        kind: 'amount_differs',
        out_trade_no: 'A1',
        syssn: 'SA1',
        order_type: 'payment',
        ledger_txamt: 1000,
        qfpay_txamt: 1001,
        ledger_txcurrcd: 'HKD',
        qfpay_txcurrcd: 'HKD',
      },
      {
        kind: 'status_differs',
        out_trade_no: 'A2',
        syssn: 'SA2',
        order_type: 'payment',
        ledger_status: 'PAID',
        qfpay_status: 'FAILED',
        ledger_final: true,
      },
      {
        kind: 'status_differs',
        out_trade_no: 'A3',
        syssn: 'SA3',
        order_type: 'payment',
        ledger_status: 'PROCESSING',
        qfpay_status: 'PAID',
        ledger_final: false,
      },
    ]);
  });

  it('queries the day with a margin on both sides', () => {
    expect(dayQueryRange(DAY)).toEqual({
      start_time: '2026-11-30 23:30:00',
      end_time: '2026-12-02 00:29:59',
    });
    expect(() => dayQueryRange('2026-13-01')).toThrow(/YYYY-MM-DD/);
    // QFPay answers range queries within one calendar month: the margin is cut at the boundary.
    expect(dayQueryRanges(DAY)).toEqual([
      { start_time: '2026-11-30 23:30:00', end_time: '2026-11-30 23:59:59' },
      { start_time: '2026-12-01 00:00:00', end_time: '2026-12-02 00:29:59' },
    ]);
    expect(dayQueryRanges('2026-12-31').map((r) => r.end_time)).toEqual([
      '2026-12-31 23:59:59',
      '2027-01-01 00:29:59',
    ]);
    expect(dayQueryRanges('2026-12-15')).toHaveLength(1);
  });
});
