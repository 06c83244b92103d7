import type { IncomingHttpHeaders } from 'node:http';
import { matchRequestSignature } from '../qfpay/signature.js';
import type { SignType } from '../qfpay/signature.js';
import { merchantKey } from './options.js';
import type { SimCredential } from './options.js';

/**
 * A business error answered as HTTP 200 with this respcd (QFPay reports business errors inside
 * a normal JSON body). `respmsg` names the field and the fix; it never contains a
 * key or an expected signature.
 */
export class WireError extends Error {
  constructor(
    readonly respcd: string,
    readonly respmsg: string,
    readonly resperr: string = defaultResperr(respcd),
  ) {
    super(`${respcd}: ${respmsg}`);
    this.name = 'WireError';
  }
}

function defaultResperr(respcd: string): string {
  switch (respcd) {
    case '1103':
      return 'malformed request';
    case '1104':
      return 'invalid parameter';
    case '1108':
      return 'signature error';
    default:
      return 'request failed';
  }
}

export type FormParams = ReadonlyMap<string, string>;

/**
 * Decodes an application/x-www-form-urlencoded UTF-8 body (or a GET query string). A field sent
 * twice is refused: which copy was signed would be ambiguous.
 */
export function parseForm(text: string): FormParams {
  const params = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (params.has(name))
      throw new WireError('1103', `field ${name} was sent more than once; send each field once`);
    params.set(name, value);
  }
  return params;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeUtf8Body(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new WireError('1103', 'request body is not valid UTF-8; QFPay expects UTF-8 form fields');
  }
}

export function checkFormContentType(headers: IncomingHttpHeaders): void {
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded')
    throw new WireError(
      '1103',
      `Content-Type ${type === '' ? '(none)' : type} is not accepted; send the fields as application/x-www-form-urlencoded (UTF-8)`,
    );
}

export interface Authenticated {
  readonly credential: SimCredential;
  readonly merchant: string;
  /** The algorithm the request was signed with (for `responseSign: 'request'`). */
  readonly signType: SignType;
}

/**
 * Result of checking X-QF-APPCODE, mchid and X-QF-SIGN, in that order. `signingKey` is known as
 * soon as the app code is, so even a signature failure gets a signed answer.
 */
export type AuthOutcome =
  | { ok: true; auth: Authenticated; signingKey: string }
  | { ok: false; error: WireError; signingKey: string | undefined };

/**
 * `merchant`: the request names one merchant by its mchid (the rule below). `channel`: the answer
 * covers every merchant of the app code (the trade bill), so mchid must not be sent and the
 * signature may be any of the app code's keys.
 */
export type AuthScope = 'merchant' | 'channel';

export function authenticate(
  headers: IncomingHttpHeaders,
  params: FormParams,
  credentials: readonly SimCredential[],
  scope: AuthScope = 'merchant',
): AuthOutcome {
  const appcode = singleHeader(headers, 'x-qf-appcode');
  if (appcode === undefined || appcode === '')
    return fail('1108', 'missing X-QF-APPCODE header; send your app code in X-QF-APPCODE', undefined);
  const candidates = credentials.filter((c) => c.appcode === appcode);
  const first = candidates[0];
  if (!first)
    return fail(
      '1108',
      'X-QF-APPCODE is not an app code this simulator knows; check the app code',
      undefined,
    );

  if (scope === 'channel') return authenticateChannel(headers, params, candidates);
  const mchidCheck = pickCredential(candidates, params.get('mchid'));
  if (mchidCheck instanceof WireError) return { ok: false, error: mchidCheck, signingKey: first.key };
  const credential = mchidCheck;

  const signature = singleHeader(headers, 'x-qf-sign');
  if (signature === undefined || signature.trim() === '')
    return fail('1108', 'missing X-QF-SIGN header; sign the request and send the hex digest', credential.key);
  const signType = parseSignType(singleHeader(headers, 'x-qf-signtype'));
  if (signType === undefined)
    return fail('1108', 'X-QF-SIGNTYPE must be SHA256 (or MD5, or absent for MD5)', credential.key);
  // Both readings of the empty-value rule (docs/simulator.md, "Choices"): the current page's
  // "non-empty fields only" and the official sample code's "every key sent, empty ones as name=".
  if (matchRequestSignature(Object.fromEntries(params), signature, credential.key, signType) === undefined)
    return fail(
      '1108',
      `signature mismatch (${signType}): sort the fields by name, join them as name=value with &, append the key with no separator, hash, hex-encode (empty fields may be left out or signed as name=)`,
      credential.key,
    );
  return {
    ok: true,
    auth: { credential, merchant: merchantKey(credential.appcode, credential.mchid), signType },
    signingKey: credential.key,
  };
}

/** The channel-wide check: the first credential of the app code whose key the signature matches. */
function authenticateChannel(
  headers: IncomingHttpHeaders,
  params: FormParams,
  candidates: readonly SimCredential[],
): AuthOutcome {
  const answerKey = candidates[0]!.key;
  if (params.has('mchid'))
    return fail(
      '1104',
      'mchid cannot be passed: this answer covers every merchant of the app code; remove the field',
      answerKey,
    );
  const signature = singleHeader(headers, 'x-qf-sign');
  if (signature === undefined || signature.trim() === '')
    return fail('1108', 'missing X-QF-SIGN header; sign the request and send the hex digest', answerKey);
  const signType = parseSignType(singleHeader(headers, 'x-qf-signtype'));
  if (signType === undefined)
    return fail('1108', 'X-QF-SIGNTYPE must be SHA256 (or MD5, or absent for MD5)', answerKey);
  const fields = Object.fromEntries(params);
  const credential = candidates.find(
    (c) => matchRequestSignature(fields, signature, c.key, signType) !== undefined,
  );
  if (!credential)
    return fail(
      '1108',
      `signature mismatch (${signType}): sort the fields by name, join them as name=value with &, append the key with no separator, hash, hex-encode`,
      answerKey,
    );
  return {
    ok: true,
    auth: { credential, merchant: credential.appcode, signType },
    signingKey: credential.key,
  };
}

function fail(respcd: string, respmsg: string, signingKey: string | undefined): AuthOutcome {
  return { ok: false, error: new WireError(respcd, respmsg), signingKey };
}

/**
 * The mchid rule: if QFPay gave you an mchid, send it on every call; if it did not,
 * never send the field. An app code may front several stores, one credential per mchid.
 */
function pickCredential(
  candidates: readonly SimCredential[],
  sentMchid: string | undefined,
): SimCredential | WireError {
  const withoutMchid = candidates.find((c) => c.mchid === undefined);
  if (sentMchid === undefined || sentMchid === '') {
    if (withoutMchid) return withoutMchid;
    return new WireError(
      '1104',
      'mchid is required: this app code was issued with an mchid; send it on every call',
    );
  }
  const match = candidates.find((c) => c.mchid === sentMchid);
  if (match) return match;
  if (candidates.every((c) => c.mchid === undefined))
    return new WireError(
      '1104',
      'mchid must not be sent: this app code was issued without an mchid; remove the field',
    );
  return new WireError('1104', 'mchid does not belong to this app code; check the mchid QFPay issued');
}

export function parseSignType(header: string | undefined): SignType | undefined {
  if (header === undefined || header.trim() === '') return 'MD5';
  const upper = header.trim().toUpperCase();
  if (upper === 'SHA256' || upper === 'SHA-256') return 'SHA256';
  if (upper === 'MD5') return 'MD5';
  return undefined;
}

function singleHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
