import * as z from 'zod';
import {
  type DestinationClass,
  ENVIRONMENT_CAPABILITIES,
  ENVIRONMENT_NAMES,
  getEnvironment,
  NON_PRODUCTION_HOSTS,
} from './catalog/environments.js';
import type { EnvironmentName } from './catalog/types.js';
import { type Env, readBoolean, readVariable } from './env.js';
import { QfpayConfigError } from './errors.js';
import { type Language, resolveLanguageSetting } from './language.js';
import { formatRateWindows, parseRateWindows } from './rate-windows.js';
import type { SignType } from './signature.js';
import { maskAppcode } from './text.js';
import type { Credentials, RateWindow } from './types.js';

/**
 * Environment variables → QfpayConfig. Fails fast with an error naming the variable and the fix.
 * Secret values (the client key) never appear in any message; the app code is never echoed
 * either, only its length or its masked ends (maskAppcode) in describeConfig.
 */

export interface QfpayConfig {
  environment: EnvironmentName;
  /** null = start the embedded simulator (local without QFPAY_BASE_URL). */
  baseUrl: string | null;
  /**
   * Where requests really go, from the host alone (see classifyDestination). loadConfig refuses a
   * label laxer than its destination, so the environment's gate is never weaker than the host's.
   */
  destination: DestinationClass;
  /** null only in local without credentials: the embedded simulator's default credential is used. */
  credentials: Credentials | null;
  signType: SignType;
  /** Deadline for one HTTP exchange with QFPay, from sending to the last byte of the answer. */
  timeoutMs: number;
  rateLimits: RateWindow[];
  verifyResponseSignatures: boolean;
  /** QFPAY_REDIS_URL: share each merchant's rate budget with every instance on this Redis. */
  redisUrl?: string;
  /** QFPAY_LANG: the language of words for people when a call names none (default en). */
  language: Language;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const MIN_TIMEOUT_MS = 1_000;
export const MAX_TIMEOUT_MS = 120_000;

/**
 * QFPay allows 100 requests/s and 400/min per merchant. We stay 5% under both: the
 * limiter stamps requests when they leave this process, and network jitter can bunch them up by
 * the time QFPay counts them; a margin keeps that jitter from turning into 429s.
 */
export const DEFAULT_RATE_LIMITS: readonly RateWindow[] = [
  { count: 95, durationMs: 1_000 },
  { count: 380, durationMs: 60_000 },
];

const ENVIRONMENT_ALIASES: Record<string, EnvironmentName> = { production: 'prod' };

/** Printable ASCII without spaces: what every QFPay credential example looks like. */
const token = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/);

const appcodeSchema = token(64);
const keySchema = token(128);
const mchidSchema = token(64);

export function loadConfig(env: Env = process.env): QfpayConfig {
  const environment = resolveEnvironment(env);
  const credentials = resolveCredentials(env, environment);
  const baseUrl = resolveBaseUrl(env, environment);
  return {
    environment,
    baseUrl,
    destination: checkDestination(environment, baseUrl),
    credentials,
    signType: resolveSignType(env),
    timeoutMs: resolveTimeout(env),
    rateLimits: resolveRateLimits(env, environment),
    verifyResponseSignatures: readBoolean(env, 'QFPAY_VERIFY_RESPONSES', true),
    ...resolveRedisUrl(env),
    language: resolveLanguageSetting(env),
  };
}

/** A summary safe to log or show: which secrets are set, never their values. */
export function describeConfig(config: QfpayConfig): Record<string, string | number | boolean | null> {
  return {
    environment: config.environment,
    baseUrl: config.baseUrl ?? '(embedded simulator)',
    destination: config.destination,
    appcode: config.credentials ? maskAppcode(config.credentials.appcode) : null,
    key: config.credentials ? 'set' : 'not set',
    mchid: config.credentials?.mchid ? 'set' : 'not set',
    credentials: config.credentials ? 'configured' : 'embedded simulator default',
    signType: config.signType,
    timeoutMs: config.timeoutMs,
    rateLimits: formatRateWindows(config.rateLimits),
    verifyResponseSignatures: config.verifyResponseSignatures,
    // The URL may carry a password: only whether the budget is shared is shown.
    rateLimiter: config.redisUrl ? 'shared (Redis)' : 'in-process',
    language: config.language,
  };
}

/** Re-exported for src/cli/report.ts; the one implementation lives in ./text.ts. */

/**
 * QFPAY_ENV as the server reads it; `production` is accepted for `prod`. Unset: local (the
 * embedded simulator) when no QFPay credential variable is set; with credentials, the environment
 * QFPAY_BASE_URL's host belongs to (loopback: local), and otherwise a QfpayConfigError asking for
 * a choice. The old default, sandbox, only simulates cards, which this server does not make, so
 * credentials sent there silently tested nothing (fidelity audit §1 #1); each choice is spelled
 * out in the message instead. Needs no valid credentials, so tools that only locate
 * per-environment state (the audit CLI) resolve it exactly as the server does.
 */
export function resolveEnvironment(env: Env): EnvironmentName {
  const raw = readVariable(env, 'QFPAY_ENV');
  if (raw === undefined) return anyCredentialSet(env) ? environmentFromBaseUrl(env) : 'local';
  const lower = raw.toLowerCase();
  const name = ENVIRONMENT_ALIASES[lower] ?? lower;
  const parsed = z.enum(ENVIRONMENT_NAMES).safeParse(name);
  if (!parsed.success)
    throw new QfpayConfigError(
      'QFPAY_ENV',
      'is not a known environment',
      `Set QFPAY_ENV to one of ${ENVIRONMENT_NAMES.join(', ')} (production is accepted for prod). ${environmentChoices()}`,
    );
  return parsed.data;
}

/** One sentence per environment: what it can test. */
export function environmentChoices(): string {
  return ENVIRONMENT_NAMES.map((name) => `${name}: ${ENVIRONMENT_CAPABILITIES[name]}.`).join(' ');
}

function environmentFromBaseUrl(env: Env): EnvironmentName {
  const raw = readVariable(env, 'QFPAY_BASE_URL');
  const host = raw === undefined ? undefined : hostnameOf(raw);
  if (host !== undefined) {
    if (isLoopbackHost(host)) return 'local';
    const known = NON_PRODUCTION_HOSTS[host];
    if (known) return known;
  }
  throw new QfpayConfigError(
    'QFPAY_ENV',
    'is not set while QFPay credentials are',
    `Set QFPAY_ENV to say where the credentials belong; QFPay issues different ones per environment. ${environmentChoices()} To try wallet payments against QFPay, use QFPAY_ENV=test.${otherEnvironmentHint(env, 'local')}`,
  );
}

function hostnameOf(raw: string): string | undefined {
  try {
    return new URL(raw).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Where requests to `baseUrl` end up: the embedded simulator or a loopback host is a simulator,
 * QFPay's documented non-production hosts are what they are, and anything else is production
 * (an egress proxy, another region, a typo: all may reach real money).
 */
export function classifyDestination(baseUrl: string | null): DestinationClass {
  if (baseUrl === null) return 'simulator';
  const host = hostnameOf(baseUrl);
  if (host === undefined) return 'production';
  if (isLoopbackHost(host)) return 'simulator';
  return NON_PRODUCTION_HOSTS[host] ?? 'production';
}

/** How much money each label and destination can move, for "is the label at least as strict". */
const STRICTNESS: Readonly<Record<EnvironmentName | DestinationClass, number>> = {
  local: 0,
  simulator: 0,
  sandbox: 1,
  test: 2,
  prod: 3,
  production: 3,
};

/**
 * The money gate and the confirmation rule follow the label, so a label laxer than the host
 * would let real money move ungated (red-team B3). Refused at start: a label below its
 * destination, and a known QFPay host under another environment's label. A stricter label on
 * loopback (a rehearsal of production against a simulator, or a local egress proxy) is kept, and
 * the stricter rules apply.
 */
function checkDestination(environment: EnvironmentName, baseUrl: string | null): DestinationClass {
  const destination = classifyDestination(baseUrl);
  const knownHost = destination === 'sandbox' || destination === 'test';
  const contradicts =
    STRICTNESS[environment] < STRICTNESS[destination] || (knownHost && environment !== destination);
  if (!contradicts) return destination;
  const where =
    destination === 'production'
      ? `${hostnameOf(baseUrl ?? '') ?? 'that host'} is not a QFPay test host or loopback, so it is treated as production (real money)`
      : `${hostnameOf(baseUrl ?? '') ?? 'that host'} is QFPay's ${destination} host`;
  throw new QfpayConfigError(
    'QFPAY_BASE_URL',
    `points somewhere QFPAY_ENV=${environment} does not go: ${where}`,
    destination === 'production'
      ? 'Set QFPAY_ENV=prod if production is intended (writes then need --allow-prod-writes and a confirmation), or point QFPAY_BASE_URL at the environment you meant (unset it for the default host).'
      : `Set QFPAY_ENV=${destination} to match the host, or unset QFPAY_BASE_URL to use the ${environment} environment's own host.`,
  );
}

function anyCredentialSet(env: Env): boolean {
  const names = ['QFPAY_APPCODE', 'QFPAY_KEY'];
  for (const e of ENVIRONMENT_NAMES) names.push(envVar(e, 'APPCODE'), envVar(e, 'KEY'));
  return names.some((name) => readVariable(env, name) !== undefined);
}

function envVar(environment: EnvironmentName, field: 'APPCODE' | 'KEY' | 'MCHID'): string {
  return `QFPAY_${environment.toUpperCase()}_${field}`;
}

/** The per-environment variable wins over the plain one; returns the name that supplied the value. */
function pick(
  env: Env,
  environment: EnvironmentName,
  field: 'APPCODE' | 'KEY' | 'MCHID',
): { name: string; value: string } | undefined {
  for (const name of [envVar(environment, field), `QFPAY_${field}`]) {
    const value = readVariable(env, name);
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

function resolveCredentials(env: Env, environment: EnvironmentName): Credentials | null {
  const appcode = pick(env, environment, 'APPCODE');
  const key = pick(env, environment, 'KEY');
  const mchid = pick(env, environment, 'MCHID');
  const preferred = (field: 'APPCODE' | 'KEY') => `QFPAY_${field} (or ${envVar(environment, field)})`;

  if (!appcode && !key) {
    if (mchid)
      throw new QfpayConfigError(
        mchid.name,
        'is set but no app code and key are configured',
        `Set ${preferred('APPCODE')} and ${preferred('KEY')} too, or unset ${mchid.name}.`,
      );
    if (environment === 'local') return null;
    throw new QfpayConfigError(
      preferred('APPCODE'),
      `QFPay credentials are required for the ${environment} environment`,
      `Set ${preferred('APPCODE')} and ${preferred('KEY')} to the app code and client key QFPay issued, ` +
        'or set QFPAY_ENV=local to use the embedded simulator.' +
        otherEnvironmentHint(env, environment),
    );
  }
  if (!appcode)
    throw new QfpayConfigError(
      preferred('APPCODE'),
      `is missing while ${key?.name} is set`,
      `Set ${preferred('APPCODE')} to the app code that belongs to the client key.`,
    );
  if (!key)
    throw new QfpayConfigError(
      preferred('KEY'),
      `is missing while ${appcode.name} is set`,
      `Set ${preferred('KEY')} to the client key QFPay issued with the app code.`,
    );

  checkToken(appcode.name, appcode.value, appcodeSchema, 'app code', 64);
  checkToken(key.name, key.value, keySchema, 'client key', 128);
  if (mchid) checkToken(mchid.name, mchid.value, mchidSchema, 'mchid', 64);
  return { appcode: appcode.value, key: key.value, ...(mchid ? { mchid: mchid.value } : {}) };
}

function otherEnvironmentHint(env: Env, environment: EnvironmentName): string {
  const others = ENVIRONMENT_NAMES.filter(
    (e) => e !== environment && readVariable(env, envVar(e, 'APPCODE')) !== undefined,
  );
  return others.length > 0
    ? ` Credentials were found for ${others.join(', ')}; set QFPAY_ENV accordingly if that is what you meant.`
    : '';
}

/** Validates a credential without ever putting its value (or any part of it) into the message. */
function checkToken(variable: string, value: string, schema: z.ZodString, what: string, max: number): void {
  if (schema.safeParse(value).success) return;
  const problem =
    value.length > max
      ? `is too long for a QFPay ${what} (${value.length} characters, at most ${max})`
      : `contains characters a QFPay ${what} cannot have (spaces, control or non-ASCII characters)`;
  throw new QfpayConfigError(
    variable,
    problem,
    `Copy the ${what} exactly as QFPay issued it, without quotes or surrounding text.`,
  );
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * QFPAY_BASE_URL overrides the environment's host. Plain http is accepted for loopback hosts only
 * (a simulator or an egress proxy on the same machine), in every environment: a remote host may
 * be production whatever the label says, the app code and the request signature travel in
 * headers, and an answer that could be altered in transit cannot be trusted about money.
 */
function resolveBaseUrl(env: Env, environment: EnvironmentName): string | null {
  const raw = readVariable(env, 'QFPAY_BASE_URL');
  if (raw === undefined) return getEnvironment(environment).baseUrl;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new QfpayConfigError(
      'QFPAY_BASE_URL',
      'is not a valid URL',
      'Set it to an origin such as https://openapi-hk.qfapi.com or http://127.0.0.1:8787.',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new QfpayConfigError(
      'QFPAY_BASE_URL',
      `uses ${url.protocol.replace(':', '')}, not http or https`,
      'Use an https:// URL (http:// only for a loopback host such as 127.0.0.1).',
    );
  if (url.username || url.password)
    throw new QfpayConfigError(
      'QFPAY_BASE_URL',
      'contains a user name or password',
      'Remove the credentials from the URL; QFPay credentials go in QFPAY_APPCODE and QFPAY_KEY.',
    );
  if (url.search || url.hash)
    throw new QfpayConfigError(
      'QFPAY_BASE_URL',
      'contains a query string or fragment',
      'Give only the origin (and an optional path prefix), e.g. https://openapi-hk.qfapi.com.',
    );
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
    throw new QfpayConfigError(
      'QFPAY_BASE_URL',
      `uses plain http to a non-loopback host (in the ${environment} environment)`,
      'Use https://, or point it at 127.0.0.1/localhost (a simulator in another container: publish its port on loopback).',
    );
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function resolveSignType(env: Env): SignType {
  const raw = readVariable(env, 'QFPAY_SIGN_TYPE');
  if (raw === undefined) return 'SHA256';
  const normalised = raw.toUpperCase().replace(/[-_]/g, '');
  if (normalised === 'SHA256' || normalised === 'MD5') return normalised;
  throw new QfpayConfigError(
    'QFPAY_SIGN_TYPE',
    'must be SHA256 or MD5',
    'Set QFPAY_SIGN_TYPE=SHA256 (recommended by QFPay) or MD5 if your channel requires it.',
  );
}

function resolveTimeout(env: Env): number {
  const raw = readVariable(env, 'QFPAY_TIMEOUT_MS');
  if (raw === undefined) return DEFAULT_TIMEOUT_MS;
  const parsed = z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.int().min(MIN_TIMEOUT_MS).max(MAX_TIMEOUT_MS))
    .safeParse(raw);
  if (!parsed.success)
    throw new QfpayConfigError(
      'QFPAY_TIMEOUT_MS',
      `must be a whole number of milliseconds between ${MIN_TIMEOUT_MS} and ${MAX_TIMEOUT_MS}`,
      `Set QFPAY_TIMEOUT_MS to e.g. ${DEFAULT_TIMEOUT_MS}, or unset it for the default.`,
    );
  return parsed.data;
}

function resolveRedisUrl(env: Env): { redisUrl?: string } {
  const raw = readVariable(env, 'QFPAY_REDIS_URL');
  if (raw === undefined) return {};
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '')
    throw new QfpayConfigError(
      'QFPAY_REDIS_URL',
      'is not a redis:// or rediss:// URL',
      'Set it to e.g. redis://127.0.0.1:6379 (rediss:// for TLS), or unset it to limit per process.',
    );
  return { redisUrl: raw };
}

function resolveRateLimits(env: Env, environment: EnvironmentName): RateWindow[] {
  const raw = readVariable(env, 'QFPAY_RATE_LIMITS');
  if (raw === undefined) return DEFAULT_RATE_LIMITS.map((w) => ({ ...w }));
  let windows: RateWindow[];
  try {
    windows = parseRateWindows(raw);
  } catch (error) {
    throw new QfpayConfigError(
      'QFPAY_RATE_LIMITS',
      error instanceof Error ? error.message : 'is not a list of COUNT/DURATION windows',
      `Use comma-separated windows such as ${formatRateWindows(DEFAULT_RATE_LIMITS)}, or unset it for the default.`,
    );
  }
  // The simulator is not QFPay: rehearsals and benchmarks may go faster than QFPay's quota there.
  if (environment === 'local') return windows;
  for (const quota of QFPAY_QUOTA) {
    const allowed = mostRequestsIn(quota.durationMs, windows);
    if (allowed > quota.count)
      throw new QfpayConfigError(
        'QFPAY_RATE_LIMITS',
        `lets up to ${Number.isFinite(allowed) ? allowed : 'unlimited'} requests through in ${quota.label}, above QFPay's quota of ${quota.count} per ${quota.label} per merchant: QFPay would answer 429`,
        `Stay within ${QFPAY_QUOTA.map((q) => `${q.count} per ${q.label}`).join(' and ')}, e.g. ${formatRateWindows(DEFAULT_RATE_LIMITS)} (the default, which keeps a 5 % margin).`,
      );
  }
  return windows;
}

/** QFPay's published request quota per merchant (README, QFPAY_RATE_LIMITS). */
const QFPAY_QUOTA = [
  { count: 100, durationMs: 1_000, label: 'second' },
  { count: 400, durationMs: 60_000, label: 'minute' },
] as const;

/**
 * The most requests sliding windows can let through in any interval of `intervalMs`: a window of
 * `count` per `durationMs` admits at most `count × ceil(interval / duration)` there, and every
 * window applies at once, so the tightest one decides.
 */
function mostRequestsIn(intervalMs: number, windows: readonly RateWindow[]): number {
  return Math.min(...windows.map((w) => w.count * Math.ceil(intervalMs / w.durationMs)));
}
