import { createHash, timingSafeEqual } from 'node:crypto';

/** QFPay accepts MD5 (the default when no X-QF-SIGNTYPE header is sent) or SHA-256. */
export type SignType = 'MD5' | 'SHA256';
export const SIGN_TYPES: readonly SignType[] = ['MD5', 'SHA256'];

/** A parameter value as callers hold it; numbers are stringified exactly as they would be sent. */
export type ParamValue = string | number | boolean | null | undefined;
export type Params = Readonly<Record<string, ParamValue>>;

/**
 * The fields that are actually sent: empty, null and undefined values are dropped.
 * QFPay's docs disagree on whether empty fields are signed; never sending them makes
 * both readings agree. `0` is a value like any other.
 */
export function wireParams(params: Params): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    const text = String(value);
    if (text === '') continue;
    out[name] = text;
  }
  return out;
}

/** Sorted by name in byte (UTF-16 code unit = ASCII for QFPay's names) order, raw values, joined by '&'. */
export function canonicalString(params: Params): string {
  const sent = wireParams(params);
  return Object.keys(sent)
    .sort(compareBytes)
    .map((name) => `${name}=${sent[name]}`)
    .join('&');
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function digestUpperHex(data: string | Uint8Array, signType: SignType): string {
  const algorithm = signType === 'SHA256' ? 'sha256' : 'md5';
  return createHash(algorithm).update(data).digest('hex').toUpperCase();
}

/** X-QF-SIGN for a request: hash(canonical string + key), uppercase hex. */
export function signRequest(params: Params, key: string, signType: SignType = 'SHA256'): string {
  return digestUpperHex(canonicalString(params) + key, signType);
}

/** Headers that carry a request signature. X-QF-SIGNTYPE is only sent for SHA-256. */
export function signatureHeaders(
  params: Params,
  appcode: string,
  key: string,
  signType: SignType,
): Record<string, string> {
  const headers: Record<string, string> = {
    'X-QF-APPCODE': appcode,
    'X-QF-SIGN': signRequest(params, key, signType),
  };
  if (signType === 'SHA256') headers['X-QF-SIGNTYPE'] = 'SHA256';
  return headers;
}

/** Uppercase MD5 over the raw bytes followed by the key: the rule for responses and notifications. */
export function signRawBody(rawBody: string | Uint8Array, key: string): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody);
  return digestUpperHex(Buffer.concat([body, Buffer.from(key, 'utf8')]), 'MD5');
}

/** Case-insensitive, constant-time comparison of two hex signatures. */
export function signaturesEqual(expected: string, received: string): boolean {
  const a = Buffer.from(expected.trim().toUpperCase(), 'utf8');
  const b = Buffer.from(received.trim().toUpperCase(), 'utf8');
  if (a.length !== b.length || a.length === 0) return false;
  return timingSafeEqual(a, b);
}

/** Response X-QF-SIGN: uppercase MD5(raw response body bytes + key). */
export function verifyResponseSignature(
  rawBody: string | Uint8Array,
  signature: string,
  key: string,
): boolean {
  return signaturesEqual(signRawBody(rawBody, key), signature);
}

/** Async notification X-QF-SIGN: uppercase MD5(raw request body bytes + key), always MD5. */
export function verifyNotificationSignature(
  rawBody: string | Uint8Array,
  signature: string,
  key: string,
): boolean {
  return signaturesEqual(signRawBody(rawBody, key), signature);
}

/** Verifies a request signature as QFPay's server would: either algorithm, either hex case. */
export function verifyRequestSignature(
  params: Params,
  signature: string,
  key: string,
  signType: SignType,
): boolean {
  return signaturesEqual(signRequest(params, key, signType), signature);
}
