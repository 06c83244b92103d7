/**
 * What the payment view knows about one payment, read from this server's tool results. Pure: no DOM,
 * no host, so the rules (when to poll, which actions to offer, what a confirmation repeats) are in
 * one place. The fields are the tools' own structured output (`src/mcp/result-shape.ts`); anything
 * else in a result is ignored.
 */
import * as z from 'zod/mini';

import { amountInChinese } from '../qfpay/chinese-numerals.js';
import type { Language } from '../qfpay/language.js';
import { amountDisplay, amountInWords, toMajorString } from '../qfpay/money.js';
import { VIEW_WORDS } from './words.js';

const resultFields = z.looseObject({
  status: z.optional(z.string()),
  syssn: z.optional(z.string()),
  out_trade_no: z.optional(z.string()),
  orig_syssn: z.optional(z.string()),
  orig_out_trade_no: z.optional(z.string()),
  txamt: z.optional(z.int().check(z.nonnegative())),
  txcurrcd: z.optional(z.string()),
  qrcode: z.optional(z.string()),
  pay_url: z.optional(z.string()),
  checkout_url: z.optional(z.string()),
  refunded_txamt: z.optional(z.int().check(z.nonnegative())),
  refundable_txamt: z.optional(z.int().check(z.nonnegative())),
  confirmation_token: z.optional(z.string()),
  confirmation_summary: z.optional(z.string()),
  confirmation_expires_at: z.optional(z.string()),
  next_action: z.optional(z.string()),
  timed_out: z.optional(z.boolean()),
  error: z.optional(z.looseObject({ message: z.string(), next_action: z.optional(z.string()) })),
});
/** query_transaction puts each payment's refund totals in `payments`; its top level repeats the rest. */
const queryFields = z.looseObject({
  payments: z.optional(z.array(resultFields)),
});
type ResultFields = z.infer<typeof resultFields>;

/** The parts of an MCP CallToolResult the view reads. */
export interface ToolResultLike {
  readonly content?: readonly { type: string; data?: string; mimeType?: string }[];
  readonly structuredContent?: unknown;
  readonly isError?: boolean;
}

export interface Payment {
  readonly syssn?: string;
  readonly outTradeNo?: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly status: string;
  /** A data: URL of the QR image the tool attached. */
  readonly qrImage?: string;
  readonly link?: string;
  readonly refundedTxamt?: number;
  readonly refundableTxamt?: number;
}

/** A write the guard stopped before sending: the same call again with the token, once a person says so. */
export interface PendingConfirmation {
  readonly tool: 'refund' | 'cancel_payment';
  readonly summary: string;
  readonly expiresAt?: string;
  /** The arguments to send when the person confirms: the first call's, plus what the answer bound. */
  readonly confirmArguments: Record<string, unknown>;
  /** Set when only the operator can approve, on the approval page this link opens. */
  readonly operatorApprovalUrl?: string;
}

/** Statuses that can still change without anyone acting: the view keeps asking. */
const PENDING = new Set(['AWAITING_CUSTOMER', 'PROCESSING', 'UNKNOWN']);
const REFUNDABLE = new Set(['PAID', 'PARTIALLY_REFUNDED']);

export function readFields(result: ToolResultLike): ResultFields | undefined {
  const parsed = resultFields.safeParse(result.structuredContent ?? {});
  if (!parsed.success) return undefined;
  const payments = queryFields.safeParse(result.structuredContent).data?.payments;
  const only = payments?.length === 1 ? payments[0] : undefined;
  return only ? { ...only, ...parsed.data } : parsed.data;
}

/** The payment a create_payment, create_checkout_link or wait_for_payment result describes. */
export function paymentFromResult(result: ToolResultLike): Payment | undefined {
  const fields = readFields(result);
  if (!fields || fields.txamt === undefined || fields.txcurrcd === undefined || !fields.status)
    return undefined;
  // A payment still awaiting the person's confirmation is shown too (nothing sent, no actions): the
  // agent's confirmed call is a new tool call with a view of its own.
  const image = result.content?.find((block) => block.type === 'image' && block.data);
  return {
    ...(fields.syssn !== undefined ? { syssn: fields.syssn } : {}),
    ...(fields.out_trade_no !== undefined ? { outTradeNo: fields.out_trade_no } : {}),
    txamt: fields.txamt,
    txcurrcd: fields.txcurrcd,
    status: fields.status,
    ...(image?.data ? { qrImage: `data:${image.mimeType ?? 'image/png'};base64,${image.data}` } : {}),
    ...linkOf(fields),
    ...(fields.refunded_txamt !== undefined ? { refundedTxamt: fields.refunded_txamt } : {}),
    ...(fields.refundable_txamt !== undefined ? { refundableTxamt: fields.refundable_txamt } : {}),
  };
}

function linkOf(fields: ResultFields): { link?: string } {
  const link = fields.checkout_url ?? fields.pay_url;
  return link && /^https?:\/\//.test(link) ? { link } : {};
}

/**
 * A later answer about the same payment (a wait, a query, a refund) laid over what the view shows:
 * the amount and the QR stay; the status and the refund totals move. A refund's own syssn and
 * out_trade_no are the refund transaction's, never the payment's, so they are not taken.
 */
export function updatedPayment(current: Payment, result: ToolResultLike, tool: string): Payment {
  const fields = readFields(result);
  if (!fields || result.isError || !fields.status || fields.status === 'CONFIRMATION_REQUIRED')
    return current;
  const isRefund = tool === 'refund';
  const sameCurrency = fields.txcurrcd === undefined || fields.txcurrcd === current.txcurrcd;
  if (!sameCurrency) return current;
  return {
    ...current,
    status: fields.status,
    ...(!isRefund && fields.syssn !== undefined && current.syssn === undefined
      ? { syssn: fields.syssn }
      : {}),
    ...(fields.refunded_txamt !== undefined ? { refundedTxamt: fields.refunded_txamt } : {}),
    ...(fields.refundable_txamt !== undefined ? { refundableTxamt: fields.refundable_txamt } : {}),
  };
}

export function isPending(payment: Payment): boolean {
  return PENDING.has(payment.status);
}

export function canRefund(payment: Payment): boolean {
  return REFUNDABLE.has(payment.status) && refundable(payment) > 0;
}

/** An order nobody has paid yet can be closed; a paid one is refunded instead. */
export function canCancel(payment: Payment): boolean {
  return payment.status === 'AWAITING_CUSTOMER';
}

/** What may still be refunded: the server's figure when it gave one, else the whole amount once paid. */
export function refundable(payment: Payment): number {
  return payment.refundableTxamt ?? (payment.status === 'PAID' ? payment.txamt : 0);
}

/** "HKD 12.34" and "(1234 minor units)", and the same amount in words for the person to read. */
export function describeAmount(
  txamt: number,
  txcurrcd: string,
  language: Language = 'en',
): { major: string; minor: string; words: string } {
  let words: string;
  try {
    words =
      language === 'en'
        ? amountInWords(txamt, txcurrcd)
        : amountInChinese(toMajorString(txamt, txcurrcd), txcurrcd, language);
  } catch {
    words = '';
  }
  return {
    major: amountDisplay(txamt, txcurrcd),
    minor: VIEW_WORDS[language].minorUnits(txamt),
    words,
  };
}

/** The payment's reference for read and write calls: syssn when known, else its out_trade_no. */
export function paymentReference(payment: Payment): Record<string, string> {
  if (payment.syssn) return { syssn: payment.syssn };
  return payment.outTradeNo ? { out_trade_no: payment.outTradeNo } : {};
}

/**
 * A CONFIRMATION_REQUIRED answer to a write the view sent: the confirmation repeats the same
 * arguments plus the reference and amount the answer bound and the token (as the tools describe).
 */
export function confirmationFrom(
  tool: 'refund' | 'cancel_payment',
  sentArguments: Record<string, unknown>,
  result: ToolResultLike,
): PendingConfirmation | undefined {
  const fields = readFields(result);
  if (!fields || fields.status !== 'CONFIRMATION_REQUIRED' || !fields.confirmation_token) return undefined;
  const bound: Record<string, unknown> =
    tool === 'refund'
      ? {
          ...(fields.out_trade_no !== undefined ? { out_trade_no: fields.out_trade_no } : {}),
          ...(fields.txamt !== undefined ? { txamt: fields.txamt } : {}),
        }
      : {};
  const operatorApprovalUrl = fields.next_action?.match(/https?:\/\/[^\s)]+/)?.[0];
  return {
    tool,
    summary: fields.confirmation_summary ?? fields.next_action ?? 'Confirm this action.',
    ...(fields.confirmation_expires_at !== undefined ? { expiresAt: fields.confirmation_expires_at } : {}),
    confirmArguments: { ...sentArguments, ...bound, confirmation_token: fields.confirmation_token },
    ...(operatorApprovalUrl ? { operatorApprovalUrl: operatorApprovalUrl.replace(/[.,;]+$/, '') } : {}),
  };
}

/** The message a failed call shows: the server's own words (already free of keys and dumps). */
export function failureText(result: ToolResultLike): string {
  const fields = readFields(result);
  const error = fields?.error;
  if (error) return error.next_action ? `${error.message} ${error.next_action}` : error.message;
  return 'The call failed.';
}
