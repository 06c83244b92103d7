import * as z from 'zod';

import { explainRespcd, findPayType } from '../../qfpay/catalog/index.js';
import { amountDisplay } from '../../qfpay/money.js';
import type { PaymentSummary, RefundSummary } from '../../qfpay/outcome.js';
import type { NormalisedStatus } from '../../qfpay/types.js';
import { refundViewSchema, type RefundView, statusSchema, untrustedTextSchema } from '../result-shape.js';
import { optionalUpstreamText } from '../../safety/sanitize.js';

/**
 * How transactions are shown to an agent: one view per payment with its refunds and refundable
 * remainder, and one sentence of next action per status, worded once here.
 */

/** "HKD 10.50"; never throws (an unknown currency from upstream is shown as raw minor units). */
export interface TransactionRef {
  readonly syssn?: string | undefined;
  readonly out_trade_no?: string | undefined;
}

export function describeRef(ref: TransactionRef): string {
  if (ref.syssn) return `syssn ${ref.syssn}`;
  if (ref.out_trade_no) return `out_trade_no ${ref.out_trade_no}`;
  return 'the same syssn or out_trade_no';
}

/** The next step for a transaction in this state, naming the reference to use. */
export function nextActionFor(
  status: NormalisedStatus,
  ref: TransactionRef,
  refundableDisplay?: string,
): string {
  const id = describeRef(ref);
  switch (status) {
    case 'PAID':
      return 'The money has been taken; nothing more is needed. If the customer wants it back, use refund.';
    case 'AWAITING_CUSTOMER':
      return `The customer has not paid yet. Show them the QR code / link, then call wait_for_payment with ${id}. If they give up, call cancel_payment.`;
    case 'PROCESSING':
      return `The wallet is still deciding (e.g. the customer is entering a password). Call wait_for_payment with ${id}. Do not create a new order and do not re-send.`;
    case 'FAILED':
      return 'Nothing was charged. To try again, create a new payment with a NEW out_trade_no (for a scanned code, ask the customer to refresh it).';
    case 'CANCELLED':
      return 'The order is closed and nothing is owed on it. If the customer still wants to pay, create a new payment with a new out_trade_no.';
    case 'EXPIRED':
      return 'The order expired unpaid. If the customer still wants to pay, create a new payment with a new out_trade_no.';
    case 'REFUNDED':
      return 'The payment is fully refunded; nothing is left to refund.';
    case 'PARTIALLY_REFUNDED':
      return `The payment is partly refunded${refundableDisplay ? `; ${refundableDisplay} can still be refunded` : ''}.`;
    case 'UNKNOWN':
      return `The outcome is not known yet. Do not create a new order: call query_transaction (or wait_for_payment) with ${id} until the status is final.`;
  }
}

export const paymentViewSchema = z.object({
  payment_found: z
    .boolean()
    .describe(
      'False when only refunds were found and their payment was outside the query (amount then unknown).',
    ),
  syssn: z.string(),
  out_trade_no: z.string(),
  pay_type: z.string(),
  pay_type_name: z.string().optional(),
  status: statusSchema,
  txamt: z.int().optional(),
  txcurrcd: z.string(),
  amount_display: z.string().optional(),
  respcd: z.string(),
  respcd_meaning: z.string().optional(),
  errmsg: untrustedTextSchema.optional(),
  txdtm: z.string().optional(),
  sysdtm: z.string().optional(),
  paydtm: z.string().optional(),
  refunded_txamt: z.int(),
  refund_processing_txamt: z.int().describe('Refunds still processing; reserved, not refundable again.'),
  refundable_txamt: z.int().describe('What refund may still return, in minor units (0 when not refundable).'),
  refundable_display: z.string().optional(),
  refunds_incomplete: z
    .boolean()
    .describe(
      'True when QFPay flags refunds that the rows do not explain: the refund totals are a lower bound.',
    ),
  refunds: z.array(refundViewSchema),
  next_action: z.string(),
});
export type PaymentView = z.output<typeof paymentViewSchema>;

export function refundView(refund: RefundSummary): RefundView {
  return {
    syssn: refund.syssn,
    out_trade_no: refund.out_trade_no,
    status: refund.status,
    txamt: refund.txamt,
    amount_display: amountDisplay(refund.txamt, refund.txcurrcd),
    respcd: refund.respcd,
    ...(refund.sysdtm ? { sysdtm: refund.sysdtm } : {}),
  };
}

export function paymentView(summary: PaymentSummary): PaymentView {
  const refundableDisplay = amountDisplay(summary.refundable_txamt, summary.txcurrcd);
  const errmsg = optionalUpstreamText(summary.errmsg, 120);
  const meaning = summary.respcd
    ? explainRespcd(summary.respcd, { endpoint: 'query_row', payType: summary.pay_type })
    : undefined;
  return {
    payment_found: summary.payment_found,
    syssn: summary.syssn,
    out_trade_no: summary.out_trade_no,
    pay_type: summary.pay_type,
    ...(summary.pay_type_name ? { pay_type_name: summary.pay_type_name } : {}),
    status: summary.status,
    ...(summary.txamt !== null
      ? { txamt: summary.txamt, amount_display: amountDisplay(summary.txamt, summary.txcurrcd) }
      : {}),
    txcurrcd: summary.txcurrcd,
    respcd: summary.respcd,
    ...(meaning ? { respcd_meaning: meaning.meaning } : {}),
    ...(errmsg ? { errmsg } : {}),
    ...(summary.txdtm ? { txdtm: summary.txdtm } : {}),
    ...(summary.sysdtm ? { sysdtm: summary.sysdtm } : {}),
    ...(summary.paydtm ? { paydtm: summary.paydtm } : {}),
    refunded_txamt: summary.refunded_txamt,
    refund_processing_txamt: summary.refund_processing_txamt,
    refundable_txamt: summary.refundable_txamt,
    refundable_display: refundableDisplay,
    refunds_incomplete: summary.refunds_incomplete,
    refunds: summary.refunds.map(refundView),
    next_action: summary.payment_found
      ? nextActionFor(summary.status, summary, refundableDisplay)
      : `Only refunds of payment ${summary.syssn} were found; call query_transaction with syssn ${summary.syssn} to see the payment.`,
  };
}

export interface SharedPaymentFields {
  status: NormalisedStatus;
  syssn: string;
  out_trade_no: string;
  txamt?: number;
  txcurrcd: string;
  amount_display?: string;
  respcd: string;
  next_action: string;
}

/** The shared top-level fields for one payment. */
export function sharedFieldsOf(view: PaymentView): SharedPaymentFields {
  return {
    status: view.status,
    syssn: view.syssn,
    out_trade_no: view.out_trade_no,
    ...(view.txamt !== undefined ? { txamt: view.txamt } : {}),
    txcurrcd: view.txcurrcd,
    ...(view.amount_display ? { amount_display: view.amount_display } : {}),
    respcd: view.respcd,
    next_action: view.next_action,
  };
}

export function payTypeLabel(code: string): string {
  const entry = findPayType(code);
  return entry ? `${entry.name} (${code})` : `pay type ${code}`;
}
