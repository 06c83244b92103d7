import { createHash, randomUUID } from 'node:crypto';
import { request } from 'undici';
import type { RunningSimulator } from '../../src/simulator/index.js';

/**
 * An independent QFPay client for driving the simulator: it signs with node:crypto directly and
 * does NOT use src/qfpay/signature.ts, so a bug there cannot hide a bug in the simulator.
 */

export interface TestCredential {
  readonly appcode: string;
  readonly key: string;
  readonly mchid?: string;
}

/** The documented default credential, written out literally on purpose. */
export const DEFAULT_CREDENTIAL: TestCredential = {
  appcode: 'SIMULATOR0APPCODE000000000000000',
  key: 'qfpay-simulator-key-not-secret',
};

export const TXDTM = '2026-03-15 12:00:00';
/** A safe simulated "now": mid-month, mid-day (far from the refund blackout and month ends). */
export const MID_MONTH = '2026-03-15 12:00:00';

export type Algorithm = 'md5' | 'sha256';

/** QFPay request signature: non-empty fields sorted by name, name=value joined by &, key appended. */
export function signParams(
  params: Readonly<Record<string, string>>,
  key: string,
  algorithm: Algorithm = 'md5',
  lowercase = false,
): string {
  const text =
    Object.keys(params)
      .filter((name) => params[name] !== '')
      .sort()
      .map((name) => `${name}=${params[name]}`)
      .join('&') + key;
  const hex = createHash(algorithm).update(text, 'utf8').digest('hex');
  return lowercase ? hex : hex.toUpperCase();
}

export function md5Upper(text: string | Buffer): string {
  return createHash('md5').update(text).digest('hex').toUpperCase();
}

export interface QfRow {
  readonly [field: string]: string;
}

export interface QfAnswer {
  readonly respcd: string;
  readonly resperr?: string;
  readonly respmsg?: string;
  readonly syssn?: string;
  readonly orig_syssn?: string;
  readonly out_trade_no?: string;
  readonly txamt?: string;
  readonly qrcode?: string;
  readonly pay_url?: string;
  readonly pay_params?: unknown;
  readonly data?: QfRow[];
  readonly [field: string]: unknown;
}

export interface CallOptions {
  credential?: TestCredential;
  algorithm?: Algorithm;
  lowercase?: boolean;
  /** Value of X-QF-SIGNTYPE; default: "SHA256" for sha256, absent for md5. null: never send. */
  signTypeHeader?: string | null;
  /** Overrides the computed X-QF-SIGN. */
  signature?: string;
  /** Extra or replacement headers. */
  headers?: Record<string, string>;
  method?: 'POST' | 'GET';
  /** Sends this body instead of the form encoding of params (params are still signed). */
  rawBody?: string;
}

export interface CallResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** Parsed body when it is JSON, else undefined. */
  readonly answer: QfAnswer | undefined;
  /** X-QF-SIGN equals upper(MD5(raw body + key)); undefined when the header is absent. */
  readonly signatureValid: boolean | undefined;
}

export async function qfpay(
  sim: Pick<RunningSimulator, 'baseUrl'>,
  path: string,
  params: Record<string, string>,
  options: CallOptions = {},
): Promise<CallResult> {
  const credential = options.credential ?? DEFAULT_CREDENTIAL;
  const signed: Record<string, string> = { ...params };
  if (credential.mchid !== undefined && signed.mchid === undefined) signed.mchid = credential.mchid;
  const algorithm = options.algorithm ?? 'md5';
  const headers: Record<string, string> = {
    'x-qf-appcode': credential.appcode,
    'x-qf-sign': options.signature ?? signParams(signed, credential.key, algorithm, options.lowercase),
  };
  const signType =
    options.signTypeHeader === undefined
      ? algorithm === 'sha256'
        ? 'SHA256'
        : null
      : options.signTypeHeader;
  if (signType !== null) headers['x-qf-signtype'] = signType;
  const form = new URLSearchParams(signed).toString();
  const method = options.method ?? 'POST';
  if (method === 'POST') headers['content-type'] = 'application/x-www-form-urlencoded';
  Object.assign(headers, options.headers);
  const url = method === 'GET' ? `${sim.baseUrl}${path}?${form}` : `${sim.baseUrl}${path}`;
  const response = await request(url, {
    method,
    headers,
    body: method === 'POST' ? (options.rawBody ?? form) : undefined,
  });
  const text = await response.body.text();
  const signature = response.headers['x-qf-sign'];
  return {
    status: response.statusCode,
    headers: response.headers,
    text,
    answer: parseJson(text),
    signatureValid: typeof signature === 'string' ? signature === md5Upper(text + credential.key) : undefined,
  };
}

function parseJson(text: string): QfAnswer | undefined {
  try {
    return JSON.parse(text) as QfAnswer;
  } catch {
    return undefined;
  }
}

/** The answer of a successful HTTP 200 call, or a test failure naming what came back. */
export async function qfOk(
  sim: Pick<RunningSimulator, 'baseUrl'>,
  path: string,
  params: Record<string, string>,
  options: CallOptions = {},
): Promise<QfAnswer> {
  const result = await qfpay(sim, path, params, options);
  if (result.status !== 200 || !result.answer) throw new Error(`HTTP ${result.status}: ${result.text}`);
  if (result.signatureValid !== true)
    throw new Error(`response signature invalid or missing: ${result.text}`);
  return result.answer;
}

export function uniqueOrderNo(prefix = 'T'): string {
  return `${prefix}${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

/** Fields of a CPM payment that succeeds (the auth code does not end in a response code). */
export function cpmPayment(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    pay_type: '800208',
    txamt: '1000',
    txcurrcd: 'HKD',
    out_trade_no: uniqueOrderNo('CPM'),
    txdtm: TXDTM,
    auth_code: '134567890123456789',
    ...overrides,
  };
}

/** Fields of a WeChat MPM order (supports expired_time and close). */
export function mpmPayment(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    pay_type: '800201',
    txamt: '2500',
    txcurrcd: 'HKD',
    out_trade_no: uniqueOrderNo('MPM'),
    txdtm: TXDTM,
    ...overrides,
  };
}

export async function queryOne(
  sim: Pick<RunningSimulator, 'baseUrl'>,
  selector: { syssn?: string; out_trade_no?: string },
  credential?: TestCredential,
): Promise<QfRow | undefined> {
  const answer = await qfOk(sim, '/trade/v1/query', { ...selector }, credential ? { credential } : {});
  return answer.data?.[0];
}

export interface ControlResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function control(
  sim: Pick<RunningSimulator, 'baseUrl'>,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<ControlResult> {
  const response = await request(`${sim.baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: JSON.parse(text) as Record<string, unknown> };
}

/** Clears the simulator and puts its clock at a calm moment (mid-month, noon HK time). */
export async function freshState(sim: Pick<RunningSimulator, 'baseUrl'>, clock = MID_MONTH): Promise<void> {
  expectStatus(await control(sim, 'POST', '/__sim/reset'), 200);
  expectStatus(await control(sim, 'POST', '/__sim/clock', { set: clock }), 200);
}

function expectStatus(result: ControlResult, status: number): void {
  if (result.status !== status)
    throw new Error(`control API answered ${result.status}: ${JSON.stringify(result.body)}`);
}

export async function customer(
  sim: Pick<RunningSimulator, 'baseUrl'>,
  body: Record<string, string>,
): Promise<ControlResult> {
  return control(sim, 'POST', '/__sim/pay', body);
}
