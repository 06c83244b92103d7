import * as z from 'zod';
import type {
  ModificationResponse,
  NotificationBody,
  PaymentResponse,
  QueryResponse,
  TransactionRecord,
} from './types.js';
import { sanitizeUpstreamText } from './text.js';

/**
 * zod schemas for what QFPay sends back. QFPay's examples disagree on whether numbers arrive as
 * strings (`"txamt": "10"`) or numbers (`"txamt": 10`), so every scalar accepts both.
 * Free text written by QFPay or a wallet (`resperr`, `respmsg`, `errmsg`, `goods_name`) is
 * sanitised here, once, because it ends up in messages shown to a model.
 */

const nullAsAbsent = (value: unknown): unknown => (value === null ? undefined : value);

/** Any scalar rendered as a string (`"0"` and `0` both become "0"). */
const scalarText = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const optionalText = z.preprocess(nullAsAbsent, scalarText.optional());
const textOr = (fallback: string) => z.preprocess(nullAsAbsent, scalarText.optional().default(fallback));

const upstreamText = z.preprocess(
  nullAsAbsent,
  scalarText
    .optional()
    .default('')
    .transform((text) => sanitizeUpstreamText(text)),
);
const optionalUpstreamTextField = z.preprocess(
  nullAsAbsent,
  scalarText.transform((text) => sanitizeUpstreamText(text)).optional(),
);

/** Response codes are four digits; a numeric 0 would otherwise lose its leading zeros. */
const responseCode = z.union([
  z
    .string()
    .trim()
    .regex(/^[0-9A-Za-z]{1,8}$/, 'respcd must be a short code'),
  z
    .int()
    .nonnegative()
    .transform((n) => String(n).padStart(4, '0')),
]);

/** Minor-unit integer amount, strictly: digits only or a non-negative safe integer. */
export const amountSchema = z
  .union([z.string().regex(/^\d{1,15}$/, 'amount must be an integer in minor units'), z.int().nonnegative()])
  .transform(Number)
  .refine((n) => Number.isSafeInteger(n), 'amount out of range');

/**
 * Echoed amounts (payment/refund answers) are informative, not authoritative: a shape we do not
 * recognise is dropped rather than failing the whole answer. Query rows use the strict schema.
 */
const echoedAmount = z.preprocess(nullAsAbsent, amountSchema.optional().catch(undefined));

const pageNumber = z.preprocess(
  nullAsAbsent,
  z
    .union([z.string().regex(/^\d{1,6}$/), z.int().nonnegative()])
    .transform(Number)
    .optional(),
);

const payParams = z.preprocess(
  nullAsAbsent,
  z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
);

/** Answer of POST /trade/v1/payment. */
export const paymentResponseSchema = z.object({
  respcd: responseCode,
  resperr: upstreamText,
  respmsg: upstreamText,
  syssn: optionalText,
  out_trade_no: textOr(''),
  pay_type: optionalText,
  txamt: echoedAmount,
  txcurrcd: optionalText,
  txdtm: optionalText,
  sysdtm: optionalText,
  paydtm: optionalText,
  qrcode: optionalText,
  pay_url: optionalText,
  pay_params: payParams,
  web_url: optionalText,
  cardcd: optionalText,
  chnlsn: optionalText,
  chnlsn2: optionalText,
  udid: optionalText,
}) satisfies z.ZodType<PaymentResponse, unknown>;

/** Answer of refund, close and reversal. */
export const modificationResponseSchema = z.object({
  respcd: responseCode,
  resperr: upstreamText,
  respmsg: upstreamText,
  syssn: optionalText,
  orig_syssn: optionalText,
  out_trade_no: optionalText,
  txamt: echoedAmount,
  txcurrcd: optionalText,
  txdtm: optionalText,
  sysdtm: optionalText,
}) satisfies z.ZodType<ModificationResponse, unknown>;

/** One `data[]` row of a query answer. Amount and status fields are strict: they decide money. */
export const transactionRecordSchema = z
  .object({
    syssn: scalarText.pipe(z.string().min(1, 'syssn must not be empty')),
    out_trade_no: textOr(''),
    pay_type: textOr(''),
    order_type: optionalText,
    txamt: amountSchema,
    txcurrcd: textOr(''),
    txdtm: optionalText,
    sysdtm: optionalText,
    paydtm: optionalText,
    respcd: responseCode,
    errmsg: upstreamText,
    cancel: textOr('0'),
    origssn: optionalText,
    goods_name: optionalUpstreamTextField,
    cardcd: optionalText,
    chnlsn: optionalText,
  })
  .transform((row) => ({
    ...row,
    // order_type is documented on every row; if it is ever missing, a row pointing at an
    // original payment can only be a refund.
    order_type: row.order_type ?? (row.origssn ? 'refund' : 'payment'),
  })) satisfies z.ZodType<TransactionRecord, unknown>;

/** Answer of POST /trade/v1/query. `data` is absent when the query itself failed. */
export const queryResponseSchema = z
  .object({
    respcd: responseCode,
    resperr: upstreamText,
    respmsg: upstreamText,
    page: pageNumber,
    page_size: pageNumber,
    data: z.preprocess(nullAsAbsent, z.array(transactionRecordSchema).optional().default([])),
  })
  .transform((answer) => ({
    ...answer,
    page: answer.page ?? 1,
    page_size: answer.page_size ?? answer.data.length,
  })) satisfies z.ZodType<QueryResponse, unknown>;

/** An async notification body (payment or refund); unknown keys are kept, as QFPay may add some. */
export const notificationBodySchema = z.looseObject({
  status: scalarText,
  notify_type: scalarText,
  syssn: scalarText.pipe(z.string().min(1, 'syssn must not be empty')),
  out_trade_no: scalarText,
  pay_type: scalarText,
  txamt: amountSchema,
  txcurrcd: scalarText,
  respcd: responseCode,
  cancel: textOr('0'),
  txdtm: optionalText,
  sysdtm: optionalText,
  paydtm: optionalText,
  mchid: optionalText,
  goods_name: optionalUpstreamTextField,
}) satisfies z.ZodType<NotificationBody, unknown>;

/** Field paths of a zod failure, never the offending values (they may be anything upstream sent). */
export function describeIssues(error: z.ZodError, limit = 5): string {
  const parts = error.issues.slice(0, limit).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.code.replace(/_/g, ' ')}`;
  });
  const more = error.issues.length > limit ? ` and ${error.issues.length - limit} more` : '';
  return parts.join('; ') + more;
}
