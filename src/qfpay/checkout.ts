import { createHash } from 'node:crypto';

import { signaturesEqual, type SignType } from './signature.js';

/**
 * QFPay's hosted checkout link (docs/simulator.md, "Hosted checkout"): a browser GET of
 * `{base}/checkstand/#/?<params>&sign=…`. Unlike the header-signed API, the signature travels in the
 * link: the fields are sorted by name, empty values are left out, `sign` and `lang` are not signed,
 * `sign_type` is; the values are signed raw and URL-encoded in the link. The one worked example in
 * QFPay's checkout page signs with lowercase hex, so links carry lowercase; verification ignores case.
 */

export const CHECKOUT_PATH = '/checkstand/';
/** The documented example's value; QFPay requires only that it ends in `_checkout`. */
export const DEFAULT_PAYSOURCE = 'remotepay_checkout';
export const CHECKOUT_LANGUAGES = ['en', 'zh-hk', 'zh-cn'] as const;
export type CheckoutLanguage = (typeof CHECKOUT_LANGUAGES)[number];

/** Fields of a checkout link, as QFPay names them. Amounts are minor units. */
export interface CheckoutFields {
  readonly appcode: string;
  readonly paysource: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly out_trade_no: string;
  /** `YYYY-MM-DD hh:mm:ss`, UTC+8. */
  readonly txdtm: string;
  readonly return_url: string;
  readonly failed_url: string;
  readonly notify_url: string;
  readonly mchntid?: string | undefined;
  readonly goods_name?: string | undefined;
  readonly cancel_url?: string | undefined;
  /** QR lifetime in minutes (5-120) for the wallets that honour it. */
  readonly expired_time?: number | undefined;
  /** When the page stops taking payment: 13-digit epoch milliseconds. */
  readonly checkout_expired_time?: number | undefined;
  readonly limit_pay?: string | undefined;
  readonly udid?: string | undefined;
}

const UNSIGNED_FIELDS: ReadonlySet<string> = new Set(['sign', 'lang']);

/** `sign_type` as the link carries it. */
export function linkSignType(signType: SignType): 'sha256' | 'md5' {
  return signType === 'SHA256' ? 'sha256' : 'md5';
}

/** The fields that are signed and sent: empty values dropped, `sign` and `lang` excluded. */
function signedEntries(fields: Readonly<Record<string, string | number | undefined>>): [string, string][] {
  return Object.entries(fields)
    .filter(([name, value]) => !UNSIGNED_FIELDS.has(name) && value !== undefined && String(value) !== '')
    .map(([name, value]): [string, string] => [name, String(value)])
    .sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** The string QFPay hashes for a checkout link: `name=value` pairs, sorted, raw values, joined by '&'. */
export function checkoutCanonicalString(
  fields: Readonly<Record<string, string | number | undefined>>,
): string {
  return signedEntries(fields)
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

export function checkoutSignature(
  fields: Readonly<Record<string, string | number | undefined>>,
  key: string,
  signType: 'sha256' | 'md5',
): string {
  return createHash(signType)
    .update(checkoutCanonicalString(fields) + key, 'utf8')
    .digest('hex');
}

export interface CheckoutLink {
  readonly url: string;
  readonly sign_type: 'sha256' | 'md5';
}

/** Builds the signed link. `baseUrl` is the environment's API base (the checkout page lives on it). */
export function buildCheckoutLink(
  baseUrl: string,
  fields: CheckoutFields,
  key: string,
  signType: SignType,
  lang?: CheckoutLanguage,
): CheckoutLink {
  const sign_type = linkSignType(signType);
  const signed = { ...fields, sign_type };
  const query = signedEntries(signed)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
  const sign = checkoutSignature(signed, key, sign_type);
  const language = lang ? `&lang=${encodeURIComponent(lang)}` : '';
  return {
    url: `${baseUrl.replace(/\/+$/, '')}${CHECKOUT_PATH}#/?${query}${language}&sign=${sign}`,
    sign_type,
  };
}

/** The query of a checkout link (what follows `#/?`), decoded. Later duplicates win, as in a browser. */
export function parseCheckoutQuery(query: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(query.replace(/^#?\/?\??/, ''))) fields[name] = value;
  return fields;
}

export type CheckoutVerification =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'missing_sign' | 'bad_sign_type' | 'bad_signature' };

/** Checks a link's signature with the merchant's key, as QFPay's page does: either algorithm, either case. */
export function verifyCheckoutFields(
  fields: Readonly<Record<string, string>>,
  key: string,
): CheckoutVerification {
  const sign = fields['sign'];
  if (!sign) return { ok: false, reason: 'missing_sign' };
  const signType = (fields['sign_type'] ?? '').toLowerCase();
  if (signType !== 'sha256' && signType !== 'md5') return { ok: false, reason: 'bad_sign_type' };
  const expected = checkoutSignature(fields, key, signType);
  return signaturesEqual(expected, sign) ? { ok: true } : { ok: false, reason: 'bad_signature' };
}

/**
 * When a link stops taking payment. QFPay's pages disagree: one gives `checkout_expired_time` as
 * 13-digit epoch milliseconds, an older one as minutes (docs/simulator.md). Values of 10^12 and above
 * are read as epoch milliseconds, smaller ones as minutes after `txdtmEpochMs`.
 */
export function checkoutDeadlineMs(value: string | undefined, txdtmEpochMs: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,13}$/.test(value)) return Number.NaN;
  const number = Number(value);
  return number >= 1e12 ? number : txdtmEpochMs + number * 60_000;
}
