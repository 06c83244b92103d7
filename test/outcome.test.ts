import { describe, expect, it } from 'vitest';
import { findPayType } from '../src/qfpay/catalog/index.js';
import {
  isFinal,
  statusOfNotification,
  statusOfPaymentResponse,
  statusOfRecord,
  summariseTransactions,
} from '../src/qfpay/outcome.js';
import { NORMALISED_STATUSES } from '../src/qfpay/types.js';
import type { NormalisedStatus, PaymentResponse, TransactionRecord } from '../src/qfpay/types.js';

const CPM = '800208'; // WeChat CPM
const MPM = '800201'; // WeChat MPM
const WAP = '801512'; // Alipay WAP (HK)
const JSAPI = '800207';
const APP = '800210';
const MINI = '800213';
const WEB = '801514';
const FPS = '802001'; // no refunds
const CARD = '802801';

function payment(overrides: Partial<TransactionRecord> = {}): TransactionRecord {
  return {
    syssn: '20250101000100020000000001',
    out_trade_no: 'order-1',
    pay_type: CPM,
    order_type: 'payment',
    txamt: 1000,
    txcurrcd: 'HKD',
    respcd: '0000',
    errmsg: '',
    cancel: '0',
    sysdtm: '2025-01-01 10:00:00',
    ...overrides,
  };
}

function refund(n: number, overrides: Partial<TransactionRecord> = {}): TransactionRecord {
  return payment({
    syssn: `2025010100010002000000010${n}`,
    out_trade_no: `refund-${n}`,
    order_type: 'refund',
    origssn: '20250101000100020000000001',
    txamt: 100,
    ...overrides,
  });
}

describe('statusOfRecord: payment rows', () => {
  it.each<[string, Partial<TransactionRecord>, NormalisedStatus]>([
    ['0000 cancel 0', { respcd: '0000', cancel: '0' }, 'PAID'],
    ['0000 cancel 3', { respcd: '0000', cancel: '3' }, 'REFUNDED'],
    ['0000 cancel 5', { respcd: '0000', cancel: '5' }, 'PARTIALLY_REFUNDED'],
    ['0000 cancel 2 (paid, then closed: revoked)', { respcd: '0000', cancel: '2' }, 'CANCELLED'],
    ['0000 cancel 1 without refunds (reversed)', { respcd: '0000', cancel: '1' }, 'CANCELLED'],
    ['0000 cancel 4 (pre-auth finished)', { respcd: '0000', cancel: '4' }, 'CANCELLED'],
    ['0000 with an undocumented cancel flag', { respcd: '0000', cancel: '9' }, 'UNKNOWN'],
    ['1143 CPM (PIN entry)', { respcd: '1143', pay_type: CPM }, 'PROCESSING'],
    ['1145 CPM', { respcd: '1145', pay_type: CPM }, 'PROCESSING'],
    ['1298 CPM (network slow, may be paid)', { respcd: '1298', pay_type: CPM }, 'PROCESSING'],
    ['1143 MPM', { respcd: '1143', pay_type: MPM }, 'AWAITING_CUSTOMER'],
    ['1143 WEB', { respcd: '1143', pay_type: WEB }, 'AWAITING_CUSTOMER'],
    ['1143 WAP', { respcd: '1143', pay_type: WAP }, 'AWAITING_CUSTOMER'],
    ['1143 APP', { respcd: '1143', pay_type: APP }, 'AWAITING_CUSTOMER'],
    ['1143 JSAPI', { respcd: '1143', pay_type: JSAPI }, 'AWAITING_CUSTOMER'],
    ['1143 MINI', { respcd: '1143', pay_type: MINI }, 'AWAITING_CUSTOMER'],
    ['1145 CARD', { respcd: '1145', pay_type: CARD }, 'PROCESSING'],
    ['1143 unknown pay type', { respcd: '1143', pay_type: '999999' }, 'PROCESSING'],
    ['1143 MPM closed (cancel 2)', { respcd: '1143', pay_type: MPM, cancel: '2' }, 'CANCELLED'],
    ['1145 CPM reversed (cancel 1)', { respcd: '1145', pay_type: CPM, cancel: '1' }, 'CANCELLED'],
    ['1181 expired', { respcd: '1181', pay_type: MPM }, 'EXPIRED'],
    ['1202 bad payment code', { respcd: '1202' }, 'FAILED'],
    ['1201 insufficient balance', { respcd: '1201' }, 'FAILED'],
    ['1294 risk blocked', { respcd: '1294' }, 'FAILED'],
    ['code unknown to the catalog', { respcd: '7777' }, 'UNKNOWN'],
  ])('%s', (_name, overrides, expected) => {
    expect(statusOfRecord(payment(overrides))).toBe(expected);
  });

  it('reads cancel 1 on CPM by its refunds: full → REFUNDED, partial → PARTIALLY_REFUNDED, none → CANCELLED', () => {
    const row = payment({ cancel: '1' });
    expect(statusOfRecord(row, { refunds: [refund(1, { txamt: 1000 })] })).toBe('REFUNDED');
    expect(statusOfRecord(row, { refunds: [refund(1, { txamt: 400 })] })).toBe('PARTIALLY_REFUNDED');
    expect(statusOfRecord(row, { refunds: [refund(1, { txamt: 400, respcd: '1155' })] })).toBe('CANCELLED');
    expect(statusOfRecord(row, { refunds: [refund(1, { origssn: 'another' })] })).toBe('CANCELLED');
  });
});

describe('statusOfRecord: refund rows', () => {
  it.each<[string, NormalisedStatus]>([
    ['0000', 'REFUNDED'],
    ['1143', 'PROCESSING'],
    ['1145', 'PROCESSING'],
    ['1155', 'FAILED'],
    ['1272', 'FAILED'],
    ['7777', 'FAILED'],
  ])('refund %s → %s', (respcd, expected) => {
    expect(statusOfRecord(refund(1, { respcd }))).toBe(expected);
  });
});

describe('statusOfRecord: other row kinds', () => {
  it.each<[string, string, NormalisedStatus]>([
    ['close', '0000', 'CANCELLED'],
    ['close', '1145', 'PROCESSING'],
    ['close', '1297', 'FAILED'],
    ['something-new', '0000', 'UNKNOWN'],
  ])('%s row with %s → %s', (order_type, respcd, expected) => {
    expect(statusOfRecord(payment({ order_type, respcd }))).toBe(expected);
  });

  it('summaries leave close rows out of the money figures', () => {
    const summaries = summariseTransactions([payment(), payment({ syssn: 'C1', order_type: 'close' })]);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ syssn: '20250101000100020000000001', refundable_txamt: 1000 });
  });
});

describe('statusOfPaymentResponse', () => {
  const base: PaymentResponse = { respcd: '0000', resperr: '', respmsg: '', out_trade_no: 'o1' };

  it.each<[string, Partial<PaymentResponse>, NormalisedStatus]>([
    ['CPM 0000 (money taken)', { pay_type: CPM, syssn: '20250101000100020000000001' }, 'PAID'],
    ['unified CPM 0000', { pay_type: '800008', syssn: '20250101000100020000000001' }, 'PAID'],
    ['CPM 0000 without a syssn (never PAID unproven)', { pay_type: CPM }, 'UNKNOWN'],
    ['CPM 0000, data{} shape, txstatus SUCCESS', { pay_type: CPM, syssn: '1', txstatus: 'SUCCESS' }, 'PAID'],
    [
      'CPM 0000, data{} shape, txstatus PENDING',
      { pay_type: CPM, syssn: '1', txstatus: 'PENDING' },
      'PROCESSING',
    ],
    ['CPM 0000, data{} shape, txstatus FAILED', { pay_type: CPM, syssn: '1', txstatus: 'FAILED' }, 'UNKNOWN'],
    [
      'MPM 0000, data{} shape, txstatus FAILED',
      { pay_type: MPM, qrcode: 'x', txstatus: 'FAILED' },
      'UNKNOWN',
    ],
    [
      'MPM 0000 (QR created)',
      { pay_type: MPM, qrcode: 'weixin://wxpay/bizpayurl?pr=x' },
      'AWAITING_CUSTOMER',
    ],
    ['WAP 0000 (pay_url created)', { pay_type: WAP, pay_url: 'https://example.test' }, 'AWAITING_CUSTOMER'],
    ['JSAPI 0000', { pay_type: JSAPI, pay_params: { appId: 'x' } }, 'AWAITING_CUSTOMER'],
    ['unknown type with a QR', { pay_type: '999999', qrcode: 'x' }, 'AWAITING_CUSTOMER'],
    ['unknown type, nothing for the customer', { pay_type: '999999' }, 'UNKNOWN'],
    ['1143', { respcd: '1143', pay_type: CPM }, 'PROCESSING'],
    ['1145', { respcd: '1145', pay_type: MPM }, 'PROCESSING'],
    ['1298', { respcd: '1298', pay_type: CPM }, 'PROCESSING'],
    ['1181', { respcd: '1181', pay_type: MPM }, 'EXPIRED'],
    ['1202', { respcd: '1202', pay_type: CPM }, 'FAILED'],
    ['unknown code', { respcd: '7777', pay_type: CPM }, 'UNKNOWN'],
  ])('%s', (_name, overrides, expected) => {
    expect(statusOfPaymentResponse({ ...base, ...overrides })).toBe(expected);
  });

  it('prefers the pay type entry the caller passes over the echoed pay_type', () => {
    const resp = { ...base, pay_type: MPM };
    expect(statusOfPaymentResponse({ ...resp, syssn: '1' }, findPayType(CPM))).toBe('PAID');
    expect(statusOfPaymentResponse({ ...base }, findPayType(MPM))).toBe('AWAITING_CUSTOMER');
  });
});

describe('statusOfNotification', () => {
  it.each<[string, string, string, NormalisedStatus]>([
    ['payment', '1', '0000', 'PAID'],
    ['refund', '1', '0000', 'REFUNDED'],
    ['payment', '0', '0000', 'UNKNOWN'],
    ['payment', '1', '1143', 'UNKNOWN'],
    // A pre-authorisation's rest released: the authorisation is finished.
    ['unfreeze', '1', '0000', 'CANCELLED'],
    ['unfreeze', '0', '0000', 'UNKNOWN'],
    ['close', '1', '0000', 'UNKNOWN'],
  ])('%s status %s respcd %s → %s', (notify_type, status, respcd, expected) => {
    expect(statusOfNotification({ notify_type, status, respcd })).toBe(expected);
  });
});

describe('isFinal', () => {
  it.each<[NormalisedStatus, boolean]>([
    ['PAID', true],
    ['FAILED', true],
    ['CANCELLED', true],
    ['REFUNDED', true],
    ['PARTIALLY_REFUNDED', true],
    ['EXPIRED', true],
    ['AWAITING_CUSTOMER', false],
    ['PROCESSING', false],
    ['UNKNOWN', false],
  ])('%s → %s', (status, final) => {
    expect(isFinal(status)).toBe(final);
  });

  it('covers every status', () => {
    expect(NORMALISED_STATUSES).toHaveLength(9);
  });
});

describe('summariseTransactions', () => {
  it('groups refunds under their payment and sums them', () => {
    const rows = [
      refund(1, { txamt: 300 }),
      payment({ cancel: '5' }),
      refund(2, { txamt: 200 }),
      refund(3, { txamt: 150, respcd: '1145' }),
      refund(4, { txamt: 999, respcd: '1272' }),
    ];
    const [summary, ...rest] = summariseTransactions(rows);
    expect(rest).toEqual([]);
    expect(summary).toMatchObject({
      payment_found: true,
      syssn: '20250101000100020000000001',
      status: 'PARTIALLY_REFUNDED',
      txamt: 1000,
      refunded_txamt: 500,
      refund_processing_txamt: 150,
      refundable_txamt: 350,
      refunds_incomplete: false,
      pay_type_name: findPayType(CPM)!.name,
    });
    expect(summary!.refunds.map((r) => [r.out_trade_no, r.status])).toEqual([
      ['refund-1', 'REFUNDED'],
      ['refund-2', 'REFUNDED'],
      ['refund-3', 'PROCESSING'],
      ['refund-4', 'FAILED'],
    ]);
  });

  it('a paid payment without refunds can be refunded in full', () => {
    expect(summariseTransactions([payment()])[0]).toMatchObject({
      status: 'PAID',
      refunded_txamt: 0,
      refundable_txamt: 1000,
      refunds: [],
    });
  });

  it.each<[string, Partial<TransactionRecord>]>([
    ['fully refunded', { cancel: '3' }],
    ['awaiting the customer', { respcd: '1143', pay_type: MPM }],
    ['failed', { respcd: '1202' }],
    ['cancelled', { cancel: '2' }],
    ['a non-refundable pay type (FPS)', { pay_type: FPS }],
  ])('nothing is refundable when %s', (_name, overrides) => {
    expect(summariseTransactions([payment(overrides)])[0]!.refundable_txamt).toBe(0);
  });

  it('flags refund figures the rows cannot explain', () => {
    expect(summariseTransactions([payment({ cancel: '5' })])[0]).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refunds_incomplete: true,
    });
    expect(summariseTransactions([payment({ cancel: '3' }), refund(1, { txamt: 100 })])[0]).toMatchObject({
      status: 'REFUNDED',
      refunds_incomplete: true,
      refundable_txamt: 0,
    });
  });

  it('cancel 1 with a full refund row reads as REFUNDED', () => {
    expect(summariseTransactions([payment({ cancel: '1' }), refund(1, { txamt: 1000 })])[0]).toMatchObject({
      status: 'REFUNDED',
      refunded_txamt: 1000,
      refundable_txamt: 0,
    });
  });

  it('lists orphan refunds under a placeholder without inventing an amount', () => {
    const summaries = summariseTransactions([
      payment({ syssn: 'P2', out_trade_no: 'order-2' }),
      refund(1, { origssn: 'P-missing', txamt: 250 }),
      refund(2, { origssn: undefined, txamt: 50 }),
    ]);
    expect(summaries).toHaveLength(3);
    expect(summaries[1]).toMatchObject({
      payment_found: false,
      syssn: 'P-missing',
      txamt: null,
      status: 'UNKNOWN',
      refunded_txamt: 250,
      refundable_txamt: 0,
    });
    expect(summaries[2]).toMatchObject({ payment_found: false, syssn: '', refunded_txamt: 50 });
  });

  it('cancel 1 with a partial refund row reads as PARTIALLY_REFUNDED, with the remainder refundable', () => {
    expect(summariseTransactions([payment({ cancel: '1' }), refund(1, { txamt: 400 })])[0]).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refunded_txamt: 400,
      refundable_txamt: 600,
    });
  });

  it('keeps rows without a syssn: refunds still count, nothing is pinned on or refunded from them', () => {
    const summaries = summariseTransactions([
      payment({ cancel: '5' }),
      refund(1, { syssn: '', txamt: 200 }),
      refund(2, { syssn: '', txamt: 300 }),
      payment({ syssn: '', out_trade_no: 'order-9' }),
      refund(3, { syssn: '', origssn: undefined, txamt: 50 }),
    ]);
    expect(summaries[0]).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refunded_txamt: 500,
      refundable_txamt: 500,
    });
    expect(summaries[1]).toMatchObject({
      payment_found: true,
      syssn: '',
      status: 'PAID',
      refunds: [],
      refundable_txamt: 0,
    });
    expect(summaries[2]).toMatchObject({ payment_found: false, refunded_txamt: 50 });
  });

  it('counts a row seen twice once', () => {
    const rows = [payment({ cancel: '5' }), refund(1, { txamt: 300 }), refund(1, { txamt: 300 })];
    expect(summariseTransactions(rows)[0]!.refunded_txamt).toBe(300);
  });
});
