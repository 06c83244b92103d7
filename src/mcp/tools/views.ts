import * as z from 'zod';

import { explainRespcd, findPayType } from '../../qfpay/catalog/index.js';
import { DEFAULT_LANGUAGE, type Language, payTypeName, statusWord } from '../../qfpay/language.js';
import { amountDisplay } from '../../qfpay/money.js';
import type { PaymentSummary, RefundSummary } from '../../qfpay/outcome.js';
import type { NormalisedStatus } from '../../qfpay/types.js';
import { refundViewSchema, type RefundView, statusSchema, untrustedTextSchema } from '../result-shape.js';
import { optionalUpstreamText, sanitizeUpstreamText } from '../../safety/sanitize.js';

/**
 * How transactions are shown to an agent: one view per payment with its refunds and refundable
 * remainder, and one sentence of next action per status, worded once here.
 *
 * Every value from QFPay is shown through `shownId`/`optionalUpstreamText`: the wire schemas
 * already refuse identifiers of the wrong shape, and this keeps any other path (a summary built by
 * hand, a test double) from putting raw upstream text in front of a model (red-team finding B5).
 */

/** An upstream identifier as shown: sanitised and bounded (wire.ts has already checked its shape). */
export function shownId(value: string | undefined, max = 128): string {
  return sanitizeUpstreamText(value ?? '', max);
}

function shownOptional(value: string | undefined): string | undefined {
  return optionalUpstreamText(value, 32);
}

/** "HKD 10.50"; never throws (an unknown currency from upstream is shown as raw minor units). */
export interface TransactionRef {
  readonly syssn?: string | undefined;
  readonly out_trade_no?: string | undefined;
}

export function describeRef(ref: TransactionRef): string {
  const syssn = shownId(ref.syssn, 64);
  const outTradeNo = shownId(ref.out_trade_no);
  if (syssn) return `syssn ${syssn}`;
  if (outTradeNo) return `out_trade_no ${outTradeNo}`;
  return 'the same syssn or out_trade_no';
}

/** The next step for a transaction in this state, naming the reference to use. */
export function nextActionFor(
  status: NormalisedStatus,
  ref: TransactionRef & { readonly authorisation?: boolean | undefined },
  refundableDisplay?: string,
): string {
  const id = describeRef(ref);
  switch (status) {
    case 'PAID':
      if (ref.authorisation)
        return `Authorised: the amount is held, not taken. capture_preauth with syssn ${ref.syssn ?? '(its syssn)'} takes it (in parts if needed, within the capture window); release_preauth frees what is not captured.`;
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
  status_text: z.string().optional(),
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
  const sysdtm = shownOptional(refund.sysdtm);
  return {
    syssn: shownId(refund.syssn, 64),
    out_trade_no: shownId(refund.out_trade_no),
    status: refund.status,
    txamt: refund.txamt,
    amount_display: amountDisplay(refund.txamt, shownId(refund.txcurrcd, 8)),
    respcd: shownId(refund.respcd, 8),
    ...(sysdtm ? { sysdtm } : {}),
  };
}

/**
 * One payment for a tool result. Words for people (the code's meaning, the pay type's name and,
 * outside English, the status as a word) follow `language`; codes and enums never change.
 */
export function paymentView(summary: PaymentSummary, language: Language = DEFAULT_LANGUAGE): PaymentView {
  const shown = {
    syssn: shownId(summary.syssn, 64),
    out_trade_no: shownId(summary.out_trade_no),
    pay_type: shownId(summary.pay_type, 16),
    txcurrcd: shownId(summary.txcurrcd, 8),
    respcd: shownId(summary.respcd, 8),
    txdtm: shownOptional(summary.txdtm),
    sysdtm: shownOptional(summary.sysdtm),
    paydtm: shownOptional(summary.paydtm),
  };
  const refundableDisplay = amountDisplay(summary.refundable_txamt, shown.txcurrcd);
  const errmsg = optionalUpstreamText(summary.errmsg, 120);
  const meaning = shown.respcd
    ? explainRespcd(shown.respcd, { endpoint: 'query_row', payType: shown.pay_type }, language)
    : undefined;
  const payType = findPayType(shown.pay_type);
  const payTypeWords = payType ? payTypeName(payType, language) : summary.pay_type_name;
  return {
    payment_found: summary.payment_found,
    syssn: shown.syssn,
    out_trade_no: shown.out_trade_no,
    pay_type: shown.pay_type,
    ...(payTypeWords ? { pay_type_name: payTypeWords } : {}),
    status: summary.status,
    ...(language === 'en' ? {} : { status_text: statusWord(summary.status, language) }),
    ...(summary.txamt !== null
      ? { txamt: summary.txamt, amount_display: amountDisplay(summary.txamt, shown.txcurrcd) }
      : {}),
    txcurrcd: shown.txcurrcd,
    respcd: shown.respcd,
    ...(meaning ? { respcd_meaning: meaning.meaning } : {}),
    ...(errmsg ? { errmsg } : {}),
    ...(shown.txdtm ? { txdtm: shown.txdtm } : {}),
    ...(shown.sysdtm ? { sysdtm: shown.sysdtm } : {}),
    ...(shown.paydtm ? { paydtm: shown.paydtm } : {}),
    refunded_txamt: summary.refunded_txamt,
    refund_processing_txamt: summary.refund_processing_txamt,
    refundable_txamt: summary.refundable_txamt,
    refundable_display: refundableDisplay,
    refunds_incomplete: summary.refunds_incomplete,
    refunds: summary.refunds.map(refundView),
    next_action: summary.payment_found
      ? nextActionFor(summary.status, { ...shown, authorisation: summary.authorisation }, refundableDisplay)
      : `Only refunds of payment ${shown.syssn} were found; call query_transaction with syssn ${shown.syssn} to see the payment.`,
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
  return entry ? `${entry.name} (${entry.payType})` : `pay type ${shownId(code, 16)}`;
}
