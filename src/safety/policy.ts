import { findCurrency, CURRENCY_CODES } from '../qfpay/catalog/currencies.js';
import type { EnvironmentName } from '../qfpay/catalog/types.js';
import { type Env, readBoolean, readVariable } from '../qfpay/env.js';
import { QfpayConfigError } from '../qfpay/errors.js';
import { formatMinor } from '../qfpay/money.js';
import { MIN_CONFIRM_SECRET_BYTES } from './confirmation.js';
import { findLuhnPan } from './sanitize.js';
import { resolveAuditLogPath } from './state-dir.js';

/**
 * Money limits set by the operator through the environment. Nothing a tool call says can change
 * them.
 *
 * | Variable | Meaning |
 * |---|---|
 * | `QFPAY_ALLOW_PROD_WRITES` | `1`/`true` (or `--allow-prod-writes`) enables money-moving calls in prod |
 * | `QFPAY_CONFIRM` | `real-money` (default): bound confirmation for writes in prod and test (both move real money); `prod`: production only; `always`: every environment. Production cannot be switched off. |
 * | `QFPAY_MAX_TXAMT` | per-transaction caps, `HKD:500000,USD:50000` (minor units) |
 * | `QFPAY_DAILY_LIMIT` | per-day caps (UTC+8 calendar day), same format; payments and refunds counted separately |
 * | `QFPAY_ALLOWED_URLS` | comma-separated URL prefixes every callback URL must start with (notify, return, failed, cancel, WeChat OAuth redirect) |
 * | `QFPAY_CONFIRM_SECRET` | HMAC secret for confirmation tokens, ≥ 32 bytes as hex or base64 |
 * | `QFPAY_APPROVAL` | `operator`: confirmations only by the operator on this server's approval page; `agent`: tokens and client elicitation. Default: `operator` in prod once `QFPAY_OPERATOR_SECRET` is set, else `agent` |
 * | `QFPAY_OPERATOR_SECRET` | enrols operator passkeys and is the approval page's fallback proof; ≥ 20 characters |
 * | `QFPAY_AUDIT_LOG` | ledger file (default `<state dir>/audit-<env>.jsonl`) |
 *
 * Caps fail closed: once a cap variable lists any currency, a currency it does not list is refused
 * rather than left uncapped (an operator who capped HKD did not mean "USD is unlimited").
 * Empty or unset means no cap of that kind.
 */
export interface MoneyPolicy {
  readonly allowProdWrites: boolean;
  readonly confirm: ConfirmMode;
  /** Per transaction, minor units, by currency. */
  readonly maxTxamt: ReadonlyMap<string, number>;
  /** Per UTC+8 day, minor units, by currency; payments and refunds are counted separately. */
  readonly dailyLimit: ReadonlyMap<string, number>;
  /** Normalised URL prefixes for notify_url/return_url. Empty: none allowed (but see allowLoopbackUrls). */
  readonly allowedUrlPrefixes: readonly string[];
  /**
   * In the local environment any http(s) URL on a loopback host is accepted too, so rehearsals
   * against the simulator work without configuration. Off everywhere else.
   */
  readonly allowLoopbackUrls: boolean;
  readonly confirmSecret?: Buffer;
  /** Who may confirm: the agent's channel (tokens, client elicitation) or only the operator's page. */
  readonly approval: ApprovalMode;
  /** QFPAY_OPERATOR_SECRET (set whenever `approval` is operator). */
  readonly operatorSecret?: string;
  readonly auditLogPath: string;
}

export type ApprovalMode = 'agent' | 'operator';

export const MIN_OPERATOR_SECRET_LENGTH = 20;

/** Which environments need a bound confirmation (QFPAY_CONFIRM). */
export type ConfirmMode = 'real-money' | 'prod' | 'always';

export type PolicyCheck =
  { readonly ok: true } | { readonly ok: false; readonly message: string; readonly next_action: string };

export function loadMoneyPolicy(
  env: Env,
  environment: EnvironmentName,
  overrides: { readonly allowProdWrites?: boolean } = {},
): MoneyPolicy {
  const confirmSecret = parseConfirmSecret(readVariable(env, 'QFPAY_CONFIRM_SECRET'));
  const operatorSecret = parseOperatorSecret(readVariable(env, 'QFPAY_OPERATOR_SECRET'));
  return {
    allowProdWrites: overrides.allowProdWrites ?? readBoolean(env, 'QFPAY_ALLOW_PROD_WRITES', false),
    confirm: parseConfirmMode(readVariable(env, 'QFPAY_CONFIRM')),
    maxTxamt: parseCurrencyAmounts('QFPAY_MAX_TXAMT', readVariable(env, 'QFPAY_MAX_TXAMT')),
    dailyLimit: parseCurrencyAmounts('QFPAY_DAILY_LIMIT', readVariable(env, 'QFPAY_DAILY_LIMIT')),
    allowedUrlPrefixes: parseUrlPrefixes(readVariable(env, 'QFPAY_ALLOWED_URLS')),
    allowLoopbackUrls: environment === 'local',
    ...(confirmSecret ? { confirmSecret } : {}),
    approval: parseApprovalMode(readVariable(env, 'QFPAY_APPROVAL'), environment, operatorSecret),
    ...(operatorSecret ? { operatorSecret } : {}),
    auditLogPath: resolveAuditLogPath(environment, { env }),
  };
}

/**
 * QFPAY_APPROVAL. Unset: operator approval for production once the operator configured it (a
 * secret is set), because nothing else proves that a person, not the agent, approved a real
 * payment; the agent's channel otherwise.
 */
function parseApprovalMode(
  raw: string | undefined,
  environment: EnvironmentName,
  operatorSecret: string | undefined,
): ApprovalMode {
  if (raw === undefined) return environment === 'prod' && operatorSecret ? 'operator' : 'agent';
  const lower = raw.toLowerCase();
  if (lower !== 'operator' && lower !== 'agent')
    throw new QfpayConfigError(
      'QFPAY_APPROVAL',
      'must be operator or agent',
      'Set QFPAY_APPROVAL=operator to have the operator approve each confirmation on this server’s page (passkey or operator secret), or agent for confirmation tokens and client elicitation.',
    );
  if (lower === 'operator' && !operatorSecret)
    throw new QfpayConfigError(
      'QFPAY_OPERATOR_SECRET',
      'is required when QFPAY_APPROVAL=operator',
      'Generate one with `openssl rand -hex 32` and set QFPAY_OPERATOR_SECRET in the server’s environment (never in a file the agent can read); it enrols your passkey and is the fallback on the approval page.',
    );
  return lower;
}

function parseOperatorSecret(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.length < MIN_OPERATOR_SECRET_LENGTH || [...raw].every((c) => c === raw[0]))
    throw new QfpayConfigError(
      'QFPAY_OPERATOR_SECRET',
      `is shorter than ${MIN_OPERATOR_SECRET_LENGTH} characters or one character repeated`,
      'Generate one with `openssl rand -hex 32` and set QFPAY_OPERATOR_SECRET to it.',
    );
  return raw;
}

/**
 * Whether a write in `environment` needs a bound confirmation under this policy. The environment
 * is never laxer than the host requests go to (loadConfig refuses that at start), so this follows
 * the destination. `test` moves real wallet money, so it is confirmed unless the operator chose
 * QFPAY_CONFIRM=prod.
 */
export function confirmationRequired(policy: MoneyPolicy, environment: EnvironmentName): boolean {
  switch (policy.confirm) {
    case 'always':
      return true;
    case 'real-money':
      return environment === 'prod' || environment === 'test';
    case 'prod':
      return environment === 'prod';
  }
}

function parseConfirmMode(raw: string | undefined): ConfirmMode {
  if (raw === undefined) return 'real-money';
  const lower = raw.toLowerCase();
  if (lower === 'real-money' || lower === 'prod' || lower === 'always') return lower;
  throw new QfpayConfigError(
    'QFPAY_CONFIRM',
    'must be real-money, prod or always',
    'Unset QFPAY_CONFIRM for the default (real-money: writes in test and prod need confirmation), set it to always for every environment, or to prod to confirm production only (production writes always need confirmation; this cannot be turned off).',
  );
}

/** `HKD:500000, USD:50000` → Map { HKD → 500000, USD → 50000 }. */
export function parseCurrencyAmounts(variable: string, raw: string | undefined): Map<string, number> {
  const amounts = new Map<string, number>();
  if (raw === undefined) return amounts;
  const example = `${variable}=HKD:500000,USD:50000 (minor units: HKD:500000 is HKD 5,000.00)`;
  for (const item of raw.split(',').map((part) => part.trim())) {
    if (item === '') continue;
    const match = /^([A-Za-z]{3})\s*:\s*(\d+)$/.exec(item);
    if (!match) {
      throw new QfpayConfigError(
        variable,
        `"${item}" is not CURRENCY:AMOUNT with AMOUNT a whole number of minor units`,
        `Write it as ${example}.`,
      );
    }
    const [, code, digits] = match as unknown as [string, string, string];
    const currency = findCurrency(code);
    if (!currency) {
      throw new QfpayConfigError(
        variable,
        `${code.toUpperCase()} is not a currency QFPay lists`,
        `Use one of ${CURRENCY_CODES.join(', ')}.`,
      );
    }
    const amount = Number(digits);
    if (!Number.isSafeInteger(amount) || amount <= 0) {
      throw new QfpayConfigError(
        variable,
        `the amount for ${currency.code} must be a positive whole number of minor units`,
        `Write it as ${example}.`,
      );
    }
    if (amounts.has(currency.code)) {
      throw new QfpayConfigError(
        variable,
        `lists ${currency.code} twice`,
        `Keep one ${currency.code}:AMOUNT entry.`,
      );
    }
    amounts.set(currency.code, amount);
  }
  return amounts;
}

function parseUrlPrefixes(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const prefixes: string[] = [];
  for (const item of raw.split(',').map((part) => part.trim())) {
    if (item === '') continue;
    const url = parseUrl(item);
    const problem = url ? urlProblem(url, true) : 'is not an absolute URL';
    if (!url || problem) {
      throw new QfpayConfigError(
        'QFPAY_ALLOWED_URLS',
        `"${item}" ${problem}`,
        'List https:// URL prefixes separated by commas, e.g. QFPAY_ALLOWED_URLS=https://shop.example.com/qfpay/ (http:// only for loopback hosts).',
      );
    }
    prefixes.push(url.href);
  }
  return prefixes;
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Why a URL may not be used as (or in) an allowed callback, or undefined when it may. */
function urlProblem(url: URL, isPrefix: boolean): string | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return `uses ${url.protocol} (only https and http are allowed)`;
  if (url.username || url.password) return 'contains a user name or password';
  if (!url.hostname) return 'has no host';
  if (isPrefix && (url.search || url.hash))
    return 'contains a query string or fragment (a prefix is an origin and path)';
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
    return 'uses plain http to a non-loopback host (use https)';
  return undefined;
}

function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/**
 * `QFPAY_CONFIRM_SECRET`: 64+ hex digits, or base64/base64url decoding to ≥ 32 bytes. An explicit
 * `hex:` or `base64:` prefix removes any doubt. Plain passphrases are refused: their entropy is
 * unknown, and a guessable secret lets anyone mint confirmations.
 */
export function parseConfirmSecret(raw: string | undefined): Buffer | undefined {
  if (raw === undefined) return undefined;
  const fix =
    'Generate one with `openssl rand -hex 32` and set QFPAY_CONFIRM_SECRET to it (or unset it for a random per-process secret).';
  const bytes = decodeSecret(raw);
  if (!bytes) throw new QfpayConfigError('QFPAY_CONFIRM_SECRET', 'is neither hex nor base64', fix);
  if (bytes.length < MIN_CONFIRM_SECRET_BYTES) {
    throw new QfpayConfigError(
      'QFPAY_CONFIRM_SECRET',
      `decodes to ${bytes.length} bytes; at least ${MIN_CONFIRM_SECRET_BYTES} are required`,
      fix,
    );
  }
  if (bytes.every((byte) => byte === bytes[0])) {
    throw new QfpayConfigError('QFPAY_CONFIRM_SECRET', 'is one byte repeated, not a secret', fix);
  }
  return bytes;
}

const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decodeSecret(raw: string): Buffer | undefined {
  const labelled = /^(hex|base64|base64url):(.*)$/i.exec(raw);
  const kind = labelled?.[1]?.toLowerCase() ?? 'auto';
  const body = labelled?.[2] ?? raw;
  const asHex = (): Buffer | undefined =>
    HEX.test(body) && body.length % 2 === 0 ? Buffer.from(body, 'hex') : undefined;
  const asBase64 = (): Buffer | undefined => {
    if (BASE64.test(body)) return Buffer.from(body, 'base64');
    if (BASE64URL.test(body)) return Buffer.from(body, 'base64url');
    return undefined;
  };
  if (kind === 'hex') return asHex();
  if (kind === 'auto') return asHex() ?? asBase64();
  return asBase64();
}

// ---------------------------------------------------------------------------------------------
// Checks, made before anything is sent upstream
// ---------------------------------------------------------------------------------------------

const OPERATOR_LIMIT =
  'Nothing was sent to QFPay. This limit is set by the server operator and cannot be changed from a tool call; tell the person, who can take the payment another way or ask the operator to raise the limit.';

export function checkAmountCaps(
  policy: MoneyPolicy,
  request: {
    readonly kind: 'payment' | 'refund';
    readonly txamt: number;
    readonly txcurrcd: string;
    readonly todayTotal: number;
  },
): PolicyCheck {
  const { kind, txamt, todayTotal } = request;
  if (!Number.isSafeInteger(txamt) || txamt < 0 || !Number.isSafeInteger(todayTotal) || todayTotal < 0) {
    return {
      ok: false,
      message: 'The amount to check is not a non-negative whole number of minor units.',
      next_action:
        'Nothing was sent to QFPay. Pass txamt as an integer in the smallest currency unit (HKD 10.50 is 1050).',
    };
  }
  const currency = findCurrency(request.txcurrcd)?.code;
  if (!currency) {
    return {
      ok: false,
      message: `${request.txcurrcd} is not a currency QFPay lists, so no cap can be applied.`,
      next_action: `Use one of ${CURRENCY_CODES.join(', ')}.`,
    };
  }
  const plural = kind === 'payment' ? 'payments' : 'refunds';
  const amount = describe(txamt, currency);

  if (policy.maxTxamt.size > 0) {
    const cap = policy.maxTxamt.get(currency);
    if (cap === undefined) {
      return {
        ok: false,
        message: `QFPAY_MAX_TXAMT sets caps for ${[...policy.maxTxamt.keys()].join(', ')} but not ${currency}, so ${currency} ${plural} are refused.`,
        next_action: OPERATOR_LIMIT,
      };
    }
    if (txamt > cap) {
      return {
        ok: false,
        message: `QFPAY_MAX_TXAMT caps ${currency} ${plural} at ${describe(cap, currency)} each; this one is ${amount}.`,
        next_action: OPERATOR_LIMIT,
      };
    }
  }

  if (policy.dailyLimit.size > 0) {
    const limit = policy.dailyLimit.get(currency);
    if (limit === undefined) {
      return {
        ok: false,
        message: `QFPAY_DAILY_LIMIT sets daily limits for ${[...policy.dailyLimit.keys()].join(', ')} but not ${currency}, so ${currency} ${plural} are refused.`,
        next_action: OPERATOR_LIMIT,
      };
    }
    if (todayTotal + txamt > limit) {
      return {
        ok: false,
        message:
          `QFPAY_DAILY_LIMIT caps ${currency} ${plural} at ${describe(limit, currency)} per day (UTC+8); ` +
          `${describe(todayTotal, currency)} already counts today (including any whose outcome is still unknown), ` +
          `so this ${amount} would exceed it by ${describe(todayTotal + txamt - limit, currency)}.`,
        next_action: OPERATOR_LIMIT,
      };
    }
  }
  return { ok: true };
}

/** "HKD 5,000.00 (500000)": the grouped amount for people, the minor units for the agent. */
function describe(txamt: number, currency: string): string {
  const formatted = formatMinor(txamt, currency);
  const [code, major = ''] = formatted.split(' ');
  const [whole = '', fraction] = major.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${code} ${grouped}${fraction === undefined ? '' : `.${fraction}`} (${txamt})`;
}

/** The free-text fields QFPay shows to people; card numbers are searched in them, alone and together. */
export const FREE_TEXT_FIELDS = ['goods_name', 'goods_info'] as const;

/**
 * No card number (PAN) in the free-text fields, however it is spelt or split between them: this
 * server never handles card data (reliability notes §3). The message shows the number masked.
 */
export function checkNoCardNumbers(params: Readonly<Record<string, unknown>>): PolicyCheck {
  for (const field of FREE_TEXT_FIELDS) {
    const pan = findLuhnPan(params[field]);
    if (pan) return cardNumberRefusal(field, pan.masked);
  }
  const together = findLuhnPan(...FREE_TEXT_FIELDS.map((field) => params[field]));
  return together ? cardNumberRefusal(FREE_TEXT_FIELDS.join(' and '), together.masked) : { ok: true };
}

function cardNumberRefusal(where: string, masked: string): PolicyCheck {
  return {
    ok: false,
    message: `${where} contains what looks like a card number (${masked}); this server never handles card data.`,
    next_action: `Nothing was sent to QFPay. Remove the number from ${where} and call again.`,
  };
}

/**
 * `notify_url` and `return_url` redirect money notifications and customers, so only operator-listed
 * prefixes are accepted. The URL is parsed and normalised (host case,
 * default port, dot segments, percent-encoding) before a prefix match that respects path
 * boundaries: prefix `https://shop.example.com/qfpay` allows `/qfpay` and `/qfpay/notify` but
 * not `/qfpay-evil`, and `https://shop.example.com` never allows `shop.example.com.evil.io`.
 */
export type CallbackUrlField = 'notify_url' | 'return_url' | 'failed_url' | 'cancel_url' | 'redirect_uri';

export function checkUrlAllowed(policy: MoneyPolicy, field: CallbackUrlField, url: string): PolicyCheck {
  const parsed = typeof url === 'string' && url.length <= 2048 ? parseUrl(url) : undefined;
  if (!parsed) {
    return {
      ok: false,
      message: `${field} is not an absolute URL of at most 2048 characters.`,
      next_action: `Nothing was sent to QFPay. Pass a full https:// URL, or leave ${field} out.`,
    };
  }
  // Plain http is only acceptable to loopback hosts, which urlProblem already allows.
  const problem = urlProblem(parsed, false);
  if (problem) {
    return {
      ok: false,
      message: `${field} ${problem}.`,
      next_action: `Nothing was sent to QFPay. Use an https:// URL without credentials, or leave ${field} out.`,
    };
  }
  if (policy.allowLoopbackUrls && isLoopbackHost(parsed.hostname)) return { ok: true };
  // Outside local (the only environment with allowLoopbackUrls), where QFPay itself delivers.
  const portProblem =
    field === 'notify_url' && !policy.allowLoopbackUrls ? notifyUrlPortProblem(parsed) : undefined;
  if (portProblem) return portProblem;
  if (policy.allowedUrlPrefixes.some((prefix) => matchesPrefix(parsed.href, prefix))) return { ok: true };
  const listed = policy.allowedUrlPrefixes.length
    ? `it does not start with any of the operator's allowed prefixes (${policy.allowedUrlPrefixes.join(', ')})`
    : 'the operator has not allowed any callback URLs (QFPAY_ALLOWED_URLS is empty)';
  return {
    ok: false,
    message: `${field} ${parsed.origin}${parsed.pathname} is refused: ${listed}.`,
    next_action: `Nothing was sent to QFPay. Leave ${field} out, or ask the operator to add its prefix to QFPAY_ALLOWED_URLS; it cannot be allowed from a tool call.`,
  };
}

/**
 * QFPay's notifications "only work with ports 80 and 443" (D asynchronous notifications): a
 * notify_url on another port is accepted by QFPay and then never called. Refused before sending.
 */
export function notifyUrlPortProblem(url: URL): Extract<PolicyCheck, { ok: false }> | undefined {
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  if (port === '80' || port === '443') return undefined;
  return {
    ok: false,
    message: `notify_url uses port ${port}; QFPay only delivers notifications to ports 80 and 443, so none would ever arrive.`,
    next_action:
      'Nothing was sent to QFPay. Serve the notification endpoint on port 443 (https) or 80, or leave notify_url out and rely on query_transaction / wait_for_payment.',
  };
}

function matchesPrefix(href: string, prefix: string): boolean {
  if (!href.startsWith(prefix)) return false;
  if (href.length === prefix.length || prefix.endsWith('/')) return true;
  return '/?#'.includes(href.charAt(prefix.length));
}
