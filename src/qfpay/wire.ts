import * as z from 'zod';
import type {
  AddNoteResponse,
  ModificationResponse,
  NotificationBody,
  PaymentResponse,
  QueryResponse,
  TransactionRecord,
  WechatOpenidResponse,
} from './types.js';
import { hasHiddenCharacters, neutraliseMarkup, sanitizeUpstreamText } from './text.js';

/**
 * zod schemas for what QFPay sends back. QFPay's examples disagree on whether numbers arrive as
 * strings (`"txamt": "10"`) or numbers (`"txamt": 10`), so every scalar accepts both.
 *
 * Upstream text is data: identifiers (`syssn`, `orig_syssn`, `origssn`,
 * `pay_type`, `txcurrcd`, `respcd`, dates, `cancel`, `out_trade_no`, …) must have their documented
 * shape, otherwise the whole answer fails to parse and the client treats it as untrusted (a write's
 * outcome becomes UNKNOWN and is reconciled by querying). Free text written by QFPay, a wallet or
 * whoever created the order (`resperr`, `respmsg`, `errmsg`, `goods_name`) is sanitised here, once.
 * Customer-facing artefacts (`qrcode`, `pay_url`, `pay_params`) must carry no hidden characters.
 */

const nullAsAbsent = (value: unknown): unknown => (value === null ? undefined : value);
const emptyAsAbsent = (value: unknown): unknown => (value === null || value === '' ? undefined : value);

/** Any scalar rendered as a string (`"0"` and `0` both become "0"). */
const scalarText = z.union([z.string(), z.number(), z.boolean()]).transform(String);

/** A scalar that must match `pattern` once rendered as text; the message names the shape, never the value. */
const shaped = (pattern: RegExp, shape: string) =>
  scalarText.pipe(z.string().regex(pattern, `must be ${shape}`));

/**
 * QFPay transaction numbers: digits in every example (26 now, 24 in older ones; String(40)).
 * Letters are tolerated, as no document promises digits only; nothing else is.
 */
const SYSSN = /^[0-9A-Za-z]{1,40}$/;
const syssnText = shaped(SYSSN, 'a QFPay transaction number (letters and digits)');
/** Six-digit pay type codes (catalog/pay-types.ts). */
const payTypeText = shaped(/^[0-9]{6}$/, 'a six-digit pay type');
/** ISO 4217 letters; upper-cased because the catalog is. */
const currencyText = shaped(/^[A-Za-z]{3}$/, 'a three-letter currency code').transform((c) =>
  c.toUpperCase(),
);
/** `YYYY-MM-DD hh:mm:ss` (notes §1.4), fractions of a second tolerated. */
const dateTimeText = shaped(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/, 'YYYY-MM-DD hh:mm:ss');
/** Merchant order references: printable ASCII without spaces, quotes, backslashes or angle brackets. */
const outTradeNoText = shaped(/^[!#-&(-;=?-[\]-_a-~]{1,128}$/, 'an order reference of printable characters');
const cancelFlag = shaped(/^[0-9]$/, 'a one-digit cancel flag');
const wordText = shaped(/^[a-z_]{1,32}$/, 'a lower-case word');
/**
 * Wallet and channel identifiers (`chnlsn`, `cardcd`, `udid`) are kept but never interpreted or
 * shown, so an odd one is sanitised rather than making the whole answer untrusted.
 */
const opaqueId = scalarText.transform((text) => sanitizeUpstreamText(text, 128));

const optional = <T extends z.ZodType>(schema: T) => z.preprocess(emptyAsAbsent, schema.optional());
const withDefault = (schema: z.ZodType<string, unknown>, fallback: string) =>
  z.preprocess(emptyAsAbsent, schema.optional().default(fallback));

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

/** A URL or QR payload for the customer: printable ASCII (EMV QR payloads contain spaces), no markup. */
const customerArtefact = z.preprocess(
  emptyAsAbsent,
  z
    .string()
    .max(4096)
    .regex(/^[ !#-;=?-~]+$/, 'must be printable characters without quotes or angle brackets')
    .optional(),
);

const PAY_PARAM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_PAY_PARAMS = 64;

/** One pay_params value: passed to a wallet SDK byte for byte, so it is checked, and only markup is defused. */
const payParamValue = z.union([
  z
    .string()
    .max(4096)
    .refine((text) => !hasHiddenCharacters(text), 'must not contain control or invisible characters')
    .transform(neutraliseMarkup),
  z.number(),
  z.boolean(),
]);
const payParamRecord = z
  .record(
    z.string().regex(PAY_PARAM_NAME, 'pay_params names are letters, digits, "_", "." and "-"'),
    payParamValue,
  )
  .refine((record) => Object.keys(record).length <= MAX_PAY_PARAMS, `at most ${MAX_PAY_PARAMS} pay_params`);

/**
 * `pay_params`: a flat object for the wallet SDK (one level of nesting tolerated, as in the legacy
 * 3-D Secure data), or a URL string (FPS app-to-app; notes §3.2).
 */
const payParams = z.preprocess(
  emptyAsAbsent,
  z
    .union([
      z
        .record(z.string().regex(PAY_PARAM_NAME), z.union([payParamValue, payParamRecord]))
        .refine(
          (record) => Object.keys(record).length <= MAX_PAY_PARAMS,
          `at most ${MAX_PAY_PARAMS} pay_params`,
        ),
      z
        .string()
        .max(4096)
        .regex(/^[!#-;=?-~]+$/, 'must be a URL without spaces, quotes or angle brackets'),
    ])
    .optional(),
);

/**
 * The newest "response format" page describes answers as `{respcd, respmsg, data: {…, txstatus,
 * qf_trade_no}}`; no real answer looks like that (fidelity audit §2), but if one arrives its `data`
 * fields are read like flat ones (flat ones win). `qf_trade_no` is not taken for a `syssn`: no
 * document says they are the same, and outcome.ts never reads a payment as PAID without a syssn.
 */
function liftDataObject(answer: unknown): unknown {
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) return answer;
  const { data, ...flat } = answer as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return answer;
  return { ...(data as Record<string, unknown>), ...flat };
}

const transactionStatus = optional(shaped(/^[A-Z_]{1,16}$/, 'an upper-case status word'));

/** Answer of POST /trade/v1/payment. */
export const paymentResponseSchema = z.preprocess(
  liftDataObject,
  z.object({
    respcd: responseCode,
    resperr: upstreamText,
    respmsg: upstreamText,
    syssn: optional(syssnText),
    out_trade_no: withDefault(outTradeNoText, ''),
    pay_type: optional(payTypeText),
    txamt: echoedAmount,
    txcurrcd: optional(currencyText),
    txdtm: optional(dateTimeText),
    sysdtm: optional(dateTimeText),
    paydtm: optional(dateTimeText),
    txstatus: transactionStatus,
    qrcode: customerArtefact,
    pay_url: customerArtefact,
    pay_params: payParams,
    web_url: customerArtefact,
    cardcd: optional(opaqueId),
    chnlsn: optional(opaqueId),
    chnlsn2: optional(opaqueId),
    udid: optional(opaqueId),
  }),
) satisfies z.ZodType<PaymentResponse, unknown>;

/** Answer of refund, close and reversal. */
export const modificationResponseSchema = z.preprocess(
  liftDataObject,
  z.object({
    respcd: responseCode,
    resperr: upstreamText,
    respmsg: upstreamText,
    syssn: optional(syssnText),
    orig_syssn: optional(syssnText),
    out_trade_no: optional(outTradeNoText),
    txamt: echoedAmount,
    txcurrcd: optional(currencyText),
    txdtm: optional(dateTimeText),
    sysdtm: optional(dateTimeText),
  }),
) satisfies z.ZodType<ModificationResponse, unknown>;

/**
 * One `data[]` row of a query answer. Amount and status fields are strict: they decide money. An
 * empty `syssn` is kept as "" rather than failing the page: the old docs show a refund row like
 * that (fidelity audit #13), and its amount still counts towards what was refunded.
 */
export const transactionRecordSchema = z
  .object({
    syssn: withDefault(syssnText, ''),
    out_trade_no: withDefault(outTradeNoText, ''),
    pay_type: withDefault(payTypeText, ''),
    order_type: optional(wordText),
    txamt: amountSchema,
    txcurrcd: withDefault(currencyText, ''),
    txdtm: optional(dateTimeText),
    sysdtm: optional(dateTimeText),
    paydtm: optional(dateTimeText),
    respcd: responseCode,
    errmsg: upstreamText,
    cancel: withDefault(cancelFlag, '0'),
    origssn: optional(syssnText),
    goods_name: optionalUpstreamTextField,
    cardcd: optional(opaqueId),
    chnlsn: optional(opaqueId),
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

/**
 * A WeChat openid: WeChat documents 28 characters of letters, digits, `-` and `_`; up to 128 is
 * accepted (QFPay's `sub_openid` is String(128)). It goes into `sub_openid` verbatim, so nothing else.
 */
const openidText = shaped(/^[A-Za-z0-9_-]{6,128}$/, 'a WeChat openid (letters, digits, "-" and "_")');

/** Answer of GET /tool/v1/get_weixin_openid: flat, `openid` only on success. */
export const wechatOpenidResponseSchema = z.object({
  respcd: responseCode,
  resperr: upstreamText,
  respmsg: upstreamText,
  openid: optional(openidText),
}) satisfies z.ZodType<WechatOpenidResponse, unknown>;

/** The head every QFPay answer shares: all a JSON answer to a file download carries (its error). */
export const answerHeadSchema = z.object({
  respcd: responseCode,
  resperr: upstreamText,
  respmsg: upstreamText,
});

/** Answer of POST /trade/v1/add_note: `{respcd, resperr, respmsg, data: {syssn}}` (data lifted). */
export const addNoteResponseSchema = z.preprocess(
  liftDataObject,
  z.object({
    respcd: responseCode,
    resperr: upstreamText,
    respmsg: upstreamText,
    syssn: optional(syssnText),
  }),
) satisfies z.ZodType<AddNoteResponse, unknown>;

/**
 * An async notification body (payment or refund). Unknown keys are kept, as QFPay may add some,
 * but only the known ones are ever shown; those have the same shapes as in answers.
 */
export const notificationBodySchema = z.looseObject({
  status: shaped(/^[0-9]{1,2}$/, 'a status digit'),
  notify_type: wordText,
  syssn: syssnText,
  out_trade_no: outTradeNoText,
  pay_type: payTypeText,
  txamt: amountSchema,
  txcurrcd: currencyText,
  respcd: responseCode,
  cancel: withDefault(cancelFlag, '0'),
  txdtm: optional(dateTimeText),
  sysdtm: optional(dateTimeText),
  paydtm: optional(dateTimeText),
  mchid: optional(shaped(/^[A-Za-z0-9_-]{1,64}$/, 'a merchant id')),
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
