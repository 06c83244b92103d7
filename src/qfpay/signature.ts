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

/**
 * The reading of QFPay's sample code (every official make_req_sign signs every key it sends,
 * empty values included, as `name=`). Only the simulator uses it, to accept such requests.
 */
export function canonicalStringWithEmpty(params: Readonly<Record<string, string>>): string {
  return Object.keys(params)
    .sort(compareBytes)
    .map((name) => `${name}=${params[name]}`)
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

/**
 * Uppercase hash over the raw bytes followed by the key. MD5 is the rule for notifications and
 * the documented rule for answers; answers may also be signed with SHA-256 (see below).
 */
export function signRawBody(rawBody: string | Uint8Array, key: string, signType: SignType = 'MD5'): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody);
  return digestUpperHex(Buffer.concat([body, Buffer.from(key, 'utf8')]), signType);
}

/** Case-insensitive, constant-time comparison of two hex signatures. */
export function signaturesEqual(expected: string, received: string): boolean {
  const a = Buffer.from(expected.trim().toUpperCase(), 'utf8');
  const b = Buffer.from(received.trim().toUpperCase(), 'utf8');
  if (a.length !== b.length || a.length === 0) return false;
  return timingSafeEqual(a, b);
}

/**
 * One way QFPay's documents allow an answer's X-QF-SIGN to be computed (docs/simulator.md,
 * "Choices"): `raw-body` = hash(raw body bytes + key), the only rule with a verified test vector
 * (old Japan reference §3.4, MD5); `sorted-fields` = hash(the answer's `data` object, or its
 * top-level scalar fields, signed like a request), the rule of the newer response-format page.
 */
export interface ResponseSignatureReading {
  readonly rule: 'raw-body' | 'sorted-fields';
  readonly signType: SignType;
}

export type ResponseSignatureCheck =
  | { readonly ok: true; readonly reading: ResponseSignatureReading }
  | {
      readonly ok: false;
      /** Why, in words safe to log (no signature, no key, no body). */
      readonly reason: string;
      /** Readings outside the accepted set that do match: the diagnosis for `doctor`. */
      readonly matchesOtherwise: readonly ResponseSignatureReading[];
    };

const ALL_READINGS: readonly ResponseSignatureReading[] = [
  { rule: 'raw-body', signType: 'MD5' },
  { rule: 'raw-body', signType: 'SHA256' },
  { rule: 'sorted-fields', signType: 'MD5' },
  { rule: 'sorted-fields', signType: 'SHA256' },
];

/** The X-QF-SIGNTYPE value of an answer: absent → undefined; unreadable → 'unknown'. */
export function parseDeclaredSignType(header: string | undefined): SignType | 'unknown' | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const upper = header.trim().toUpperCase().replace('-', '');
  return upper === 'MD5' || upper === 'SHA256' ? upper : 'unknown';
}

/**
 * Verifies an answer's X-QF-SIGN. With X-QF-SIGNTYPE declared, only that algorithm counts (either
 * rule). Without one, the documented raw-body MD5 counts, and so do the other readings the docs
 * allow: raw-body SHA-256 (an answer signed like its SHA-256 request) and the sorted-fields rule
 * with MD5. Every reading uses the merchant's key, so accepting several never lets a forger in.
 */
export function checkResponseSignature(
  rawBody: string | Uint8Array,
  signature: string,
  key: string,
  declaredHeader?: string,
): ResponseSignatureCheck {
  const declared = parseDeclaredSignType(declaredHeader);
  const accepted =
    declared === 'unknown'
      ? []
      : declared !== undefined
        ? ALL_READINGS.filter((r) => r.signType === declared)
        : ALL_READINGS.filter((r) => !(r.rule === 'sorted-fields' && r.signType === 'SHA256'));
  const matching = ALL_READINGS.filter((reading) =>
    signaturesEqual(responseDigest(rawBody, key, reading), signature),
  );
  const reading = matching.find((m) => accepted.includes(m));
  if (reading) return { ok: true, reading };
  const declaredText =
    declared === undefined
      ? 'no X-QF-SIGNTYPE'
      : declared === 'unknown'
        ? 'an X-QF-SIGNTYPE that is neither MD5 nor SHA256'
        : `X-QF-SIGNTYPE ${declared}`;
  return {
    ok: false,
    reason:
      matching.length > 0
        ? `the answer declares ${declaredText} but its X-QF-SIGN matches ${describeReading(matching[0]!)} under your key`
        : `the answer's X-QF-SIGN (${declaredText}) matches its body under your key with neither MD5 nor SHA-256 (tampered, or another key)`,
    matchesOtherwise: matching,
  };
}

export function describeReading(reading: ResponseSignatureReading): string {
  return `${reading.signType === 'SHA256' ? 'SHA-256' : 'MD5'} over the ${reading.rule === 'raw-body' ? 'raw body' : 'sorted fields'}`;
}

function responseDigest(
  rawBody: string | Uint8Array,
  key: string,
  reading: ResponseSignatureReading,
): string {
  if (reading.rule === 'raw-body') return signRawBody(rawBody, key, reading.signType);
  const fields = signedAnswerFields(rawBody);
  return fields === undefined ? '' : signRequest(fields, key, reading.signType);
}

/** The `data` object of an answer shaped like the response-format page, else its scalar fields. */
function signedAnswerFields(rawBody: string | Uint8Array): Record<string, string> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isPlainObject(json)) return undefined;
  const source = isPlainObject(json.data) ? json.data : json;
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      fields[name] = String(value);
  }
  return fields;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Response X-QF-SIGN under the accepted readings (see checkResponseSignature). */
export function verifyResponseSignature(
  rawBody: string | Uint8Array,
  signature: string,
  key: string,
  declaredHeader?: string,
): boolean {
  return checkResponseSignature(rawBody, signature, key, declaredHeader).ok;
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

/** Which reading of the empty-value rule a request signature matches, if any. */
export function matchRequestSignature(
  params: Readonly<Record<string, string>>,
  signature: string,
  key: string,
  signType: SignType,
): 'non-empty' | 'with-empty' | undefined {
  if (verifyRequestSignature(params, signature, key, signType)) return 'non-empty';
  const withEmpty = digestUpperHex(canonicalStringWithEmpty(params) + key, signType);
  return signaturesEqual(withEmpty, signature) ? 'with-empty' : undefined;
}
