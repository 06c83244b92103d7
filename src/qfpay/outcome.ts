import { explainRespcd, findPayType, findResponseCode, PENDING_CODES } from './catalog/index.js';
import type { PayMode, PayTypeEntry, RespcdEndpoint, RespcdExplanation } from './catalog/types.js';
import type { QfpayUpstreamError } from './errors.js';
import { DEFAULT_LANGUAGE, type Language } from './language.js';
import { FINAL_STATUSES } from './types.js';
import type { NormalisedStatus, NotificationBody, PaymentResponse, TransactionRecord } from './types.js';

/**
 * The ONLY place that turns QFPay's `respcd` + `cancel` + `order_type` into a NormalisedStatus.
 * QFPay has no state field: a row's state is its per-transaction `respcd` combined
 * with `cancel` (0 none, 1 CPM reversed/refunded, 2 MPM closed, 3 refunded, 4 pre-auth finished,
 * 5 partially refunded).
 */

const SUCCESS = '0000';
/** "Order expired" (an MPM QR not paid within `expired_time`). */
const EXPIRED = '1181';

/** Modes where 0000 on the payment call only means "order created; the customer still has to pay". */
const CUSTOMER_ACTION_MODES: ReadonlySet<PayMode> = new Set(['MPM', 'WEB', 'WAP', 'APP', 'JSAPI', 'MINI']);

export function isPendingCode(respcd: string): boolean {
  return PENDING_CODES.has(respcd);
}

export function isFinal(status: NormalisedStatus): boolean {
  return FINAL_STATUSES.has(status);
}

export function isRefundRow(row: TransactionRecord): boolean {
  return row.order_type === 'refund';
}

export function isPaymentRow(row: TransactionRecord): boolean {
  return row.order_type === 'payment';
}

/**
 * A pre-authorisation (a pre-auth pay type's payment row of its own): it holds money without
 * taking it. Its captures are payment rows of the same pay type whose origssn names it.
 */
export function isAuthorisationRow(
  row: Pick<TransactionRecord, 'order_type' | 'pay_type' | 'origssn'>,
): boolean {
  return row.order_type === 'payment' && !row.origssn && findPayType(row.pay_type)?.mode === 'PREAUTH';
}

/** Optional context: successful refunds of this payment, needed to read an ambiguous `cancel 1`. */
export interface RecordContext {
  refunds?: readonly TransactionRecord[];
}

/** The normalised state of one query row. */
export function statusOfRecord(row: TransactionRecord, context: RecordContext = {}): NormalisedStatus {
  switch (row.order_type) {
    case 'payment':
      return statusOfPaymentRow(row, context);
    case 'refund':
      return statusOfRefundRow(row);
    case 'close':
      return statusOfCloseRow(row);
    default:
      return 'UNKNOWN';
  }
}

/**
 * The old Japan reference lists `close` rows: the cancellation itself, as its own transaction.
 * 0000 means the cancellation went through (the original order is CANCELLED).
 */
function statusOfCloseRow(row: TransactionRecord): NormalisedStatus {
  if (row.respcd === SUCCESS) return 'CANCELLED';
  if (isPendingCode(row.respcd)) return 'PROCESSING';
  return 'FAILED';
}

function statusOfRefundRow(row: TransactionRecord): NormalisedStatus {
  if (row.respcd === SUCCESS) return 'REFUNDED';
  if (isPendingCode(row.respcd)) return 'PROCESSING';
  // QFPay's tables: unknown codes on refunds count as failures (nothing was refunded).
  return 'FAILED';
}

function statusOfPaymentRow(row: TransactionRecord, context: RecordContext): NormalisedStatus {
  if (row.respcd === SUCCESS) return statusOfSettledPayment(row, context);
  // A closed or reversed order is cancelled whatever code it was left with
  // (CLOSED/CANCELLED shows as cancel 2 for MPM, cancel 1 for CPM).
  if (row.cancel === '1' || row.cancel === '2') return 'CANCELLED';
  if (isPendingCode(row.respcd)) return statusWhileWaiting(row.pay_type);
  if (row.respcd === EXPIRED) return 'EXPIRED';
  // QFPay's tables: a code missing from the catalog on a payment means "query before deciding",
  // so it is not reported as a definite failure.
  if (!findResponseCode(row.respcd)) return 'UNKNOWN';
  return 'FAILED';
}

function statusOfSettledPayment(row: TransactionRecord, context: RecordContext): NormalisedStatus {
  switch (row.cancel) {
    case '0':
    case '':
      return 'PAID';
    case '3':
      return 'REFUNDED';
    case '5':
      return 'PARTIALLY_REFUNDED';
    case '2':
      // A paid order closed later: QFPay revokes it through the wallet and the money goes back (J).
      return 'CANCELLED';
    case '1': {
      // cancel 1 means "CPM reversed OR refunded". Refund rows tell the two apart: with
      // successful refunds it was refunded (fully or partly by their sum); without any, it was
      // reversed, which returns the whole amount, so it reads as CANCELLED.
      const refunded = sumSuccessfulRefunds(context.refunds ?? [], row.syssn);
      if (refunded <= 0) return 'CANCELLED';
      return refunded >= row.txamt ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    }
    case '4':
      // Alipay pre-auth finished: the hold is over. Captured money appears on the capture's own
      // payment row, so this authorisation row itself ends as cancelled.
      return 'CANCELLED';
    default:
      return 'UNKNOWN';
  }
}

function statusWhileWaiting(payType: string): NormalisedStatus {
  const mode = findPayType(payType)?.mode;
  return mode !== undefined && CUSTOMER_ACTION_MODES.has(mode) ? 'AWAITING_CUSTOMER' : 'PROCESSING';
}

/**
 * The state right after POST /trade/v1/payment. For CPM, 0000 means the money was taken. For
 * every other mode 0000 means the order (QR, URL, app parameters) was created and the customer
 * has not paid yet (J says so outright).
 */
export function statusOfPaymentResponse(resp: PaymentResponse, payType?: PayTypeEntry): NormalisedStatus {
  const entry = payType ?? (resp.pay_type ? findPayType(resp.pay_type) : undefined);
  if (resp.respcd === SUCCESS) {
    // The `data{}` shape (wire.ts) says in txstatus whether the transaction itself succeeded; a
    // shape never seen from QFPay is not trusted to mean a final FAILED either: query instead.
    if (resp.txstatus !== undefined && resp.txstatus !== 'SUCCESS')
      return resp.txstatus === 'PENDING' ? 'PROCESSING' : 'UNKNOWN';
    // Money taken is only believed with the transaction number that proves it (fidelity audit §2).
    // A pre-authorisation by scanned customer code (801801) is authorised at once, like CPM.
    if (entry?.mode === 'CPM' || entry?.requiredFields.includes('auth_code'))
      return resp.syssn ? 'PAID' : 'UNKNOWN';
    if (entry || resp.qrcode || resp.pay_url || resp.pay_params) return 'AWAITING_CUSTOMER';
    // Unknown pay type and nothing for the customer: we cannot tell "paid" from "created".
    return 'UNKNOWN';
  }
  if (isPendingCode(resp.respcd)) return 'PROCESSING';
  if (resp.respcd === EXPIRED) return 'EXPIRED';
  if (!findResponseCode(resp.respcd)) return 'UNKNOWN';
  return 'FAILED';
}

/**
 * QFPay only notifies after success (`status` "1", `respcd` "0000"): a payment notification means
 * the payment is PAID, a refund notification means that refund went through (REFUNDED, for the
 * refund's own syssn). Anything else in a signed body is not trusted to mean success.
 */
export function statusOfNotification(
  body: Pick<NotificationBody, 'notify_type' | 'status' | 'respcd'>,
): NormalisedStatus {
  const succeeded = body.status === '1' && body.respcd === SUCCESS;
  if (!succeeded) return 'UNKNOWN';
  if (body.notify_type === 'payment') return 'PAID';
  if (body.notify_type === 'refund') return 'REFUNDED';
  // The authorisation is finished (query shows cancel 4, read as CANCELLED): nothing more to capture.
  if (body.notify_type === 'unfreeze') return 'CANCELLED';
  return 'UNKNOWN';
}

function sumSuccessfulRefunds(rows: readonly TransactionRecord[], paymentSyssn: string): number {
  return rows
    .filter((r) => isRefundRow(r) && r.origssn === paymentSyssn && r.respcd === SUCCESS)
    .reduce((sum, r) => sum + r.txamt, 0);
}

export interface RefundSummary {
  syssn: string;
  out_trade_no: string;
  /** The payment this refund belongs to, when QFPay reported it. */
  origssn?: string;
  txamt: number;
  txcurrcd: string;
  status: NormalisedStatus;
  respcd: string;
  errmsg: string;
  sysdtm?: string;
}

export interface PaymentSummary {
  /**
   * False for a placeholder that groups refunds whose payment was not among the rows (orphan
   * refunds); its amount fields are then null because the payment's amount is not known.
   */
  payment_found: boolean;
  syssn: string;
  out_trade_no: string;
  /** Captures of a pre-authorisation: the authorisation's syssn. */
  origssn?: string;
  /** True for a pre-authorisation itself (it holds money; its captures take it). */
  authorisation?: boolean;
  pay_type: string;
  pay_type_name?: string;
  txamt: number | null;
  txcurrcd: string;
  status: NormalisedStatus;
  respcd: string;
  cancel: string;
  errmsg: string;
  txdtm?: string;
  sysdtm?: string;
  paydtm?: string;
  /** Sum of successful refunds seen. */
  refunded_txamt: number;
  /** Sum of refunds still processing; reserved, so not refundable again. */
  refund_processing_txamt: number;
  /**
   * What may still be refunded: 0 unless the payment is PAID or PARTIALLY_REFUNDED and its pay
   * type is refundable; otherwise the amount minus successful and processing refunds.
   */
  refundable_txamt: number;
  /**
   * True when the payment's `cancel` flag says refunds exist that the rows do not explain (for
   * example cancel 5 with no successful refund row): the refund figures are then a lower bound.
   */
  refunds_incomplete: boolean;
  refunds: RefundSummary[];
}

function summariseRefund(row: TransactionRecord): RefundSummary {
  return {
    syssn: row.syssn,
    out_trade_no: row.out_trade_no,
    ...(row.origssn ? { origssn: row.origssn } : {}),
    txamt: row.txamt,
    txcurrcd: row.txcurrcd,
    status: statusOfRecord(row),
    respcd: row.respcd,
    errmsg: row.errmsg,
    ...(row.sysdtm ? { sysdtm: row.sysdtm } : {}),
  };
}

/**
 * Groups rows into payments with their refunds (joined on `origssn`), in the order given. Refunds whose payment is not among the rows are listed under a placeholder with
 * `payment_found: false`. Duplicate rows (same syssn) are counted once.
 */
export function summariseTransactions(rows: readonly TransactionRecord[]): PaymentSummary[] {
  const unique = dedupeBySyssn(rows);
  // Other row kinds (old `close` rows) describe actions, not money held; statusOfRecord reads them.
  const payments = unique.filter(isPaymentRow);
  const refunds = unique.filter(isRefundRow);
  const refundsByPayment = new Map<string, TransactionRecord[]>();
  for (const refund of refunds) {
    const key = refund.origssn ?? '';
    refundsByPayment.set(key, [...(refundsByPayment.get(key) ?? []), refund]);
  }

  // A payment row without a syssn (fidelity audit #13) cannot own refunds: refunds without an
  // origssn are grouped under "" too, and must not be pinned on it.
  const summaries = payments.map((payment) =>
    summarisePayment(payment, payment.syssn === '' ? [] : (refundsByPayment.get(payment.syssn) ?? [])),
  );
  const known = new Set(payments.map((p) => p.syssn).filter((syssn) => syssn !== ''));
  for (const [origssn, orphans] of refundsByPayment) {
    if (!known.has(origssn)) summaries.push(summariseOrphans(origssn, orphans));
  }
  return summaries;
}

function summarisePayment(payment: TransactionRecord, refundRows: TransactionRecord[]): PaymentSummary {
  const status = statusOfRecord(payment, { refunds: refundRows });
  const refunds = refundRows.map(summariseRefund);
  const refunded = sumByStatus(refunds, 'REFUNDED');
  const processing = sumByStatus(refunds, 'PROCESSING');
  const payType = findPayType(payment.pay_type);
  // Only the `***` pay types are documented as non-refundable; an unknown pay type is
  // left to QFPay to refuse rather than blocked here.
  const refundableType = payType?.refundable ?? true;
  // A refund names the payment by its syssn, so a row without one cannot be refunded from here;
  // nor can a pre-authorisation itself (qfpay-api.md §3.4: its captures are refunded).
  const canRefund =
    (status === 'PAID' || status === 'PARTIALLY_REFUNDED') &&
    refundableType &&
    payment.syssn !== '' &&
    !isAuthorisationRow(payment);
  return {
    payment_found: true,
    syssn: payment.syssn,
    out_trade_no: payment.out_trade_no,
    ...(payment.origssn ? { origssn: payment.origssn } : {}),
    ...(isAuthorisationRow(payment) ? { authorisation: true } : {}),
    pay_type: payment.pay_type,
    ...(payType ? { pay_type_name: payType.name } : {}),
    txamt: payment.txamt,
    txcurrcd: payment.txcurrcd,
    status,
    respcd: payment.respcd,
    cancel: payment.cancel,
    errmsg: payment.errmsg,
    ...(payment.txdtm ? { txdtm: payment.txdtm } : {}),
    ...(payment.sysdtm ? { sysdtm: payment.sysdtm } : {}),
    ...(payment.paydtm ? { paydtm: payment.paydtm } : {}),
    refunded_txamt: refunded,
    refund_processing_txamt: processing,
    refundable_txamt: canRefund ? Math.max(0, payment.txamt - refunded - processing) : 0,
    refunds_incomplete: refundsUnexplained(payment, refunded),
    refunds,
  };
}

/** Whether the payment's cancel flag claims refunds that the visible refund rows do not add up to. */
function refundsUnexplained(payment: TransactionRecord, refunded: number): boolean {
  if (payment.respcd !== SUCCESS) return false;
  if (payment.cancel === '3') return refunded < payment.txamt;
  if (payment.cancel === '5') return refunded <= 0 || refunded >= payment.txamt;
  return false;
}

function summariseOrphans(origssn: string, rows: TransactionRecord[]): PaymentSummary {
  const refunds = rows.map(summariseRefund);
  const first = rows[0];
  return {
    payment_found: false,
    syssn: origssn,
    out_trade_no: '',
    pay_type: first?.pay_type ?? '',
    txamt: null,
    txcurrcd: first?.txcurrcd ?? '',
    status: 'UNKNOWN',
    respcd: '',
    cancel: '',
    errmsg: '',
    refunded_txamt: sumByStatus(refunds, 'REFUNDED'),
    refund_processing_txamt: sumByStatus(refunds, 'PROCESSING'),
    refundable_txamt: 0,
    refunds_incomplete: false,
    refunds,
  };
}

function sumByStatus(refunds: readonly RefundSummary[], status: NormalisedStatus): number {
  return refunds.filter((r) => r.status === status).reduce((sum, r) => sum + r.txamt, 0);
}

function dedupeBySyssn(rows: readonly TransactionRecord[]): TransactionRecord[] {
  const seen = new Set<string>();
  return rows.filter((row) => {
    // Rows without a syssn cannot be told apart; each is kept (its amount still counts).
    if (row.syssn === '') return true;
    if (seen.has(row.syssn)) return false;
    seen.add(row.syssn);
    return true;
  });
}

/**
 * What QFPay's refusal of a write means for the money: FAILED when the code is final (nothing was
 * done), UNKNOWN when it is transient (query before anything else). The tool's answer and the
 * audit ledger both decide by this, so they cannot disagree.
 */
export function upstreamWriteVerdict(
  error: QfpayUpstreamError,
  endpoint: RespcdEndpoint,
  payType?: string,
  language: Language = DEFAULT_LANGUAGE,
): { readonly explanation: RespcdExplanation; readonly status: 'FAILED' | 'UNKNOWN' } {
  // The language changes the meaning's words only, never the outcome class.
  const explanation = explainRespcd(error.respcd, { endpoint, ...(payType ? { payType } : {}) }, language);
  return { explanation, status: explanation.outcome === 'failed' ? 'FAILED' : 'UNKNOWN' };
}
