import type { RateWindow } from '../qfpay/types.js';

/** One merchant credential the simulator accepts. Mirrors what QFPay issues (app code, key, optional mchid). */
export interface SimCredential {
  appcode: string;
  key: string;
  /** When set, every request with this app code must carry exactly this mchid; when absent, none. */
  mchid?: string;
  /**
   * The notification URL QFPay support configured for this merchant: used when a payment or
   * refund request carries no notify_url (QFPay notifies the configured URL, D notifications).
   */
  notifyUrl?: string;
}

/** How the simulator signs its answers: the documented MD5, SHA-256, or the request's algorithm. */
export const RESPONSE_SIGN_MODES = ['md5', 'sha256', 'request'] as const;
export type ResponseSignMode = (typeof RESPONSE_SIGN_MODES)[number];

/**
 * Refund refusals that depend on the merchant's channel contract. QFPay's docs name the codes
 * (1270 currency, 1271 transaction: no partial refunds) and say refund periods "vary across payment
 * channels", but name no currency, channel or period for the wallets; so none apply by default.
 */
export interface RefundRuleOptions {
  /** Currencies whose payments may only be refunded in full (1270). */
  noPartialRefundCurrencies?: string[];
  /** Pay types whose payments may only be refunded in full (1271). */
  noPartialRefundPayTypes?: string[];
  /** Pay type → days after payment after which a refund is refused (1155). */
  refundWindowDays?: Record<string, number>;
  /**
   * 1269: refunding a payment from an earlier day (UTC+8) needs that merchant's same-day paid
   * takings in the currency, less today's refunds, to cover it (D FAQ Q6). Default true.
   */
  sameDayTakings?: boolean;
}

/**
 * The built-in credential. Deliberately fake and documented (docs/simulator.md): the key is printed
 * by the CLI and may appear in examples, so it must never be mistaken for a real QFPay key.
 */
export const DEFAULT_SIMULATOR_CREDENTIAL: SimCredential = Object.freeze({
  appcode: 'SIMULATOR0APPCODE000000000000000',
  key: 'qfpay-simulator-key-not-secret',
});

export interface PendingSettleOptions {
  /** A pending CPM payment (magic 1143/1145…) turns PAID on the query after this many queries saw it pending. */
  afterQueries?: number;
  /**
   * …or once this many simulated seconds have passed since it was created, whichever comes first.
   * Default 30; Infinity means only queries (or the control API) settle it.
   */
  afterSeconds?: number;
}

export interface SimulatorOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 0 here, 8787 from the CLI. */
  port?: number;
  /** Accepted merchants. Default: [DEFAULT_SIMULATOR_CREDENTIAL]. */
  credentials?: SimCredential[];
  /** Sliding windows per app code + mchid. Default QFPay's documented 100/1s and 400/60s. */
  rateLimits?: RateWindow[];
  /** Simulated seconds per real second (order expiry, pending settle, notification retries). Default 1. */
  timeScale?: number;
  pendingSettle?: PendingSettleOptions;
  /** Delays between notification attempts, in simulated ms. Default QFPay's 2m,10m,10m,60m,2h,6h,15h. */
  notificationRetryScheduleMs?: number[];
  /** Suppress the one-line warnings the simulator prints to stderr (for example failed notification deliveries). */
  quiet?: boolean;
  /** Algorithm of the answers' X-QF-SIGN (default 'md5', the documented rule). */
  responseSign?: ResponseSignMode;
  refundRules?: RefundRuleOptions;
  /** Capture window of pre-authorisations in days: 7 (default, general merchants) or 28 (hotels, rentals). */
  preauthCaptureWindowDays?: number;
  /**
   * Keep orders and refunds in this file (JSON lines): loaded at start, appended after every
   * change, so a later simulator on the same file continues the same books. Default: memory only.
   */
  stateFile?: string;
}

export const DEFAULT_RATE_LIMITS: readonly RateWindow[] = Object.freeze([
  { count: 100, durationMs: 1_000 },
  { count: 400, durationMs: 60_000 },
]);

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** QFPay's documented retry schedule after the first attempt. */
export const DEFAULT_NOTIFICATION_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  2 * MINUTE_MS,
  10 * MINUTE_MS,
  10 * MINUTE_MS,
  60 * MINUTE_MS,
  2 * HOUR_MS,
  6 * HOUR_MS,
  15 * HOUR_MS,
]);

export const DEFAULT_PENDING_SETTLE_AFTER_QUERIES = 2;
/** A customer typing a wallet PIN finishes within about half a minute; QFPay's CPM guidance polls for ~45 s. */
export const DEFAULT_PENDING_SETTLE_AFTER_SECONDS = 30;

export interface ResolvedSimulatorOptions {
  readonly host: string;
  readonly port: number;
  readonly credentials: readonly SimCredential[];
  readonly rateLimits: readonly RateWindow[];
  readonly timeScale: number;
  readonly pendingSettle: { readonly afterQueries: number; readonly afterSeconds: number };
  readonly notificationRetryScheduleMs: readonly number[];
  readonly quiet: boolean;
  readonly stateFile: string | undefined;
  readonly responseSign: ResponseSignMode;
  /** Days a pre-authorisation can be captured after it was authorised (qfpay-api.md §3.6). */
  readonly preauthCaptureWindowDays: number;
  readonly refundRules: {
    readonly noPartialRefundCurrencies: ReadonlySet<string>;
    readonly noPartialRefundPayTypes: ReadonlySet<string>;
    readonly refundWindowDays: ReadonlyMap<string, number>;
    readonly sameDayTakings: boolean;
  };
}

/** Thrown for options that cannot work; the message names the option and the accepted values. */
export class SimulatorOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulatorOptionsError';
  }
}

export function resolveSimulatorOptions(options: SimulatorOptions = {}): ResolvedSimulatorOptions {
  const credentials = (options.credentials ?? [DEFAULT_SIMULATOR_CREDENTIAL]).map(checkCredential);
  if (credentials.length === 0) throw new SimulatorOptionsError('credentials: give at least one credential');
  checkNoConflictingCredentials(credentials);
  const rateLimits = options.rateLimits ?? DEFAULT_RATE_LIMITS;
  for (const window of rateLimits) {
    if (!Number.isSafeInteger(window.count) || window.count < 1 || !(window.durationMs > 0))
      throw new SimulatorOptionsError(
        `rateLimits: ${window.count}/${window.durationMs}ms is not a positive COUNT/DURATION window`,
      );
  }
  const timeScale = options.timeScale ?? 1;
  if (!Number.isFinite(timeScale) || timeScale <= 0)
    throw new SimulatorOptionsError(`timeScale: must be a positive number, got ${String(timeScale)}`);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new SimulatorOptionsError(`port: must be an integer 0–65535, got ${String(port)}`);
  const afterQueries = options.pendingSettle?.afterQueries ?? DEFAULT_PENDING_SETTLE_AFTER_QUERIES;
  if (!Number.isSafeInteger(afterQueries) || afterQueries < 0)
    throw new SimulatorOptionsError('pendingSettle.afterQueries: must be a non-negative integer');
  const afterSeconds = options.pendingSettle?.afterSeconds ?? DEFAULT_PENDING_SETTLE_AFTER_SECONDS;
  if (!(afterSeconds >= 0))
    throw new SimulatorOptionsError(
      'pendingSettle.afterSeconds: must be a non-negative number (Infinity: only queries settle)',
    );
  const schedule = options.notificationRetryScheduleMs ?? DEFAULT_NOTIFICATION_RETRY_SCHEDULE_MS;
  if (schedule.some((ms) => !(ms >= 0 && Number.isFinite(ms))))
    throw new SimulatorOptionsError('notificationRetryScheduleMs: every delay must be a non-negative number');
  return {
    host: options.host ?? '127.0.0.1',
    port,
    credentials: Object.freeze(credentials),
    rateLimits: Object.freeze([...rateLimits]),
    timeScale,
    pendingSettle: { afterQueries, afterSeconds },
    notificationRetryScheduleMs: Object.freeze([...schedule]),
    quiet: options.quiet ?? false,
    stateFile: checkStateFile(options.stateFile),
    responseSign: checkResponseSign(options.responseSign),
    refundRules: resolveRefundRules(options.refundRules ?? {}),
    preauthCaptureWindowDays: checkCaptureWindow(options.preauthCaptureWindowDays),
  };
}

/** QFPay: 7 days for general merchants, 28 for hotels and rentals (a merchant's contract, so an option). */
export const DEFAULT_PREAUTH_CAPTURE_WINDOW_DAYS = 7;

function checkCaptureWindow(days: number | undefined): number {
  if (days === undefined) return DEFAULT_PREAUTH_CAPTURE_WINDOW_DAYS;
  if (!(Number.isFinite(days) && days > 0))
    throw new SimulatorOptionsError(
      'preauthCaptureWindowDays: must be a positive number of days (7 general merchants, 28 hotels and rentals)',
    );
  return days;
}

function checkResponseSign(mode: ResponseSignMode | undefined): ResponseSignMode {
  if (mode === undefined) return 'md5';
  if (!RESPONSE_SIGN_MODES.includes(mode))
    throw new SimulatorOptionsError(`responseSign: must be one of ${RESPONSE_SIGN_MODES.join(', ')}`);
  return mode;
}

function resolveRefundRules(rules: RefundRuleOptions): ResolvedSimulatorOptions['refundRules'] {
  const windows = new Map<string, number>();
  for (const [payType, days] of Object.entries(rules.refundWindowDays ?? {})) {
    if (!(Number.isFinite(days) && days >= 0))
      throw new SimulatorOptionsError(
        `refundRules.refundWindowDays.${payType}: must be a non-negative number of days`,
      );
    windows.set(payType, days);
  }
  return {
    noPartialRefundCurrencies: new Set((rules.noPartialRefundCurrencies ?? []).map((c) => c.toUpperCase())),
    noPartialRefundPayTypes: new Set(rules.noPartialRefundPayTypes ?? []),
    refundWindowDays: windows,
    sameDayTakings: rules.sameDayTakings ?? true,
  };
}

function checkStateFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  if (typeof file !== 'string' || file.trim() === '')
    throw new SimulatorOptionsError(
      'stateFile: must be a file path (or leave it out to keep state in memory)',
    );
  return file;
}

function checkCredential(credential: SimCredential): SimCredential {
  if (!/^[\x21-\x7e]{1,64}$/.test(credential.appcode))
    throw new SimulatorOptionsError(
      'credentials: appcode must be 1–64 printable ASCII characters without spaces',
    );
  if (credential.key.length === 0) throw new SimulatorOptionsError('credentials: key must not be empty');
  if (credential.mchid !== undefined && !/^[\x21-\x7e]{1,16}$/.test(credential.mchid))
    throw new SimulatorOptionsError(
      'credentials: mchid must be 1–16 printable ASCII characters without spaces',
    );
  if (credential.notifyUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(credential.notifyUrl))
    throw new SimulatorOptionsError('credentials: notifyUrl must be an absolute http(s) URL');
  return {
    appcode: credential.appcode,
    key: credential.key,
    ...(credential.mchid !== undefined ? { mchid: credential.mchid } : {}),
    ...(credential.notifyUrl !== undefined ? { notifyUrl: credential.notifyUrl } : {}),
  };
}

/** One app code may serve several stores (mchids), but each (appcode, mchid) pair must be unique. */
function checkNoConflictingCredentials(credentials: readonly SimCredential[]): void {
  const seen = new Set<string>();
  for (const credential of credentials) {
    const id = merchantKey(credential.appcode, credential.mchid);
    if (seen.has(id))
      throw new SimulatorOptionsError(
        `credentials: app code ${credential.appcode}${credential.mchid ? ` with mchid ${credential.mchid}` : ''} is listed twice`,
      );
    seen.add(id);
  }
}

/** The identity QFPay scopes orders, out_trade_no uniqueness and rate limits to. */
export function merchantKey(appcode: string, mchid: string | undefined): string {
  return mchid === undefined ? appcode : `${appcode}|${mchid}`;
}
