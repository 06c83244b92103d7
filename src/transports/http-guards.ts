import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { validateHostHeader } from '@modelcontextprotocol/server';

import { HttpStartupError } from './errors.js';

/**
 * Request guards for the Streamable HTTP endpoint, kept free of I/O so each rule can be tested on
 * its own: DNS-rebinding protection (Host and Origin, 403), static bearer-token rules and the
 * framing limits listed in README "HTTP server".
 */

/** Hostnames a loopback-bound server answers to; anything else in `Host` is a rebinding attempt. */
export const LOOPBACK_HOSTNAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** Shortest bearer token accepted: 32 characters is 128+ bits when generated as hex or base64url. */
export const MIN_TOKEN_LENGTH = 32;

/** Nesting deeper than this is refused before parsing; QFPay tool arguments are flat. */
export const MAX_JSON_DEPTH = 32;

export function isLoopbackHost(host: string): boolean {
  const bare = stripBrackets(host).toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare.startsWith('::ffff:127.');
}

export function isWildcardHost(host: string): boolean {
  const bare = stripBrackets(host);
  return bare === '0.0.0.0' || bare === '::' || bare === '';
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The form `Host` headers and URLs use: IPv6 literals in brackets, names lower-cased. */
export function toUrlHostname(host: string): string {
  const bare = stripBrackets(host.trim()).toLowerCase();
  return isIP(bare) === 6 ? `[${bare}]` : bare;
}

/**
 * The `Host` allow-list: loopback names always (local clients of an exposed server still use
 * them), the literal bind address when it is a concrete address (an IP literal cannot be
 * rebound), plus what the operator listed.
 */
export function buildHostAllowList(bindHost: string, extraHosts: readonly string[]): string[] {
  const names = new Set(LOOPBACK_HOSTNAMES);
  if (!isWildcardHost(bindHost)) names.add(toUrlHostname(bindHost));
  for (const host of extraHosts) names.add(toUrlHostname(host));
  return [...names];
}

export type GuardVerdict = { ok: true } | { ok: false; status: number; message: string };

const ALLOWED: GuardVerdict = { ok: true };

export function checkHostHeader(hostHeader: string | undefined, allowList: readonly string[]): GuardVerdict {
  const result = validateHostHeader(hostHeader, [...allowList]);
  if (result.ok) return ALLOWED;
  return {
    ok: false,
    status: 403,
    message:
      result.errorCode === 'missing_host'
        ? 'Forbidden: the Host header is required.'
        : 'Forbidden: this Host is not allowed (DNS-rebinding protection). Add it with --allowed-hosts or QFPAY_MCP_ALLOWED_HOSTS.',
  };
}

/**
 * An allowed browser origin: either an exact origin (`https://app.example.com`, scheme and port
 * must match) or a bare hostname (any http/https origin with that hostname, any port — the SDK's
 * convention, used for the loopback defaults).
 */
export type OriginRule = { kind: 'origin'; origin: string } | { kind: 'hostname'; hostname: string };

export function parseOriginRule(entry: string): OriginRule {
  const trimmed = entry.trim();
  if (trimmed.includes('://')) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      throw new Error(`"${trimmed}" is not a valid origin; use https://host[:port] or a bare hostname`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`"${trimmed}" is not an http(s) origin`);
    }
    if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
      throw new Error(`"${trimmed}" is not an origin; drop the path, query and credentials`);
    }
    return { kind: 'origin', origin: url.origin };
  }
  if (!/^[a-z0-9.\-[\]:]+$/i.test(trimmed)) {
    throw new Error(`"${trimmed}" is not a hostname; use https://host[:port] or a bare hostname`);
  }
  return { kind: 'hostname', hostname: toUrlHostname(trimmed) };
}

export function buildOriginRules(extraOrigins: readonly string[]): OriginRule[] {
  const loopback = LOOPBACK_HOSTNAMES.map((hostname): OriginRule => ({ kind: 'hostname', hostname }));
  return [...loopback, ...extraOrigins.map(parseOriginRule)];
}

/**
 * Browsers send `Origin` on cross-site requests; MCP clients that are not browsers send none.
 * A present but unlisted or unparseable value (including the opaque `null`) is refused with 403,
 * as the 2025-11-25 transport rules require.
 */
export function checkOriginHeader(
  originHeader: string | undefined,
  rules: readonly OriginRule[],
): GuardVerdict {
  if (originHeader === undefined || originHeader === '') return ALLOWED;
  let url: URL;
  try {
    url = new URL(originHeader);
  } catch {
    return forbiddenOrigin();
  }
  const webScheme = url.protocol === 'http:' || url.protocol === 'https:';
  const allowed = rules.some((rule) =>
    rule.kind === 'origin' ? url.origin === rule.origin : webScheme && url.hostname === rule.hostname,
  );
  return allowed ? ALLOWED : forbiddenOrigin();
}

function forbiddenOrigin(): GuardVerdict {
  return {
    ok: false,
    status: 403,
    message:
      'Forbidden: this Origin is not allowed. Add it with --allowed-origins or QFPAY_MCP_ALLOWED_ORIGINS.',
  };
}

/** Query parameter names clients use to smuggle credentials into URLs (which end up in logs). */
const CREDENTIAL_QUERY_NAMES = new Set([
  'access_token',
  'token',
  'bearer',
  'auth',
  'authorization',
  'api_key',
  'apikey',
  'key',
]);

export function hasCredentialInQuery(searchParams: URLSearchParams): boolean {
  for (const name of searchParams.keys()) {
    if (CREDENTIAL_QUERY_NAMES.has(name.toLowerCase())) return true;
  }
  return false;
}

/** One accepted bearer token, held only as a SHA-256 digest so comparisons take constant time. */
interface AcceptedToken {
  readonly digest: Buffer;
  /** Short non-reversible label for session binding and logs; never the token. */
  readonly fingerprint: string;
}

export type BearerVerdict =
  | { ok: true; fingerprint: string }
  | { ok: false; error: 'invalid_request' | 'invalid_token'; message: string };

/**
 * Static bearer tokens: high-entropy, compared in constant time, never in
 * a URL. Several tokens may be accepted at once so an operator can rotate without downtime
 * (`QFPAY_MCP_TOKEN=new,old`, then drop `old`).
 */
export class BearerTokenVerifier {
  private readonly accepted: readonly AcceptedToken[];

  constructor(tokens: readonly string[]) {
    if (tokens.length === 0) throw new Error('at least one bearer token is required');
    this.accepted = tokens.map((token) => {
      const digest = sha256(token);
      return { digest, fingerprint: digest.subarray(0, 6).toString('hex') };
    });
  }

  verify(authorizationHeader: string | undefined): BearerVerdict {
    if (!authorizationHeader) {
      return {
        ok: false,
        error: 'invalid_request',
        message: 'Unauthorized: send Authorization: Bearer <QFPAY_MCP_TOKEN>.',
      };
    }
    const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(authorizationHeader);
    if (!match?.[1]) {
      return {
        ok: false,
        error: 'invalid_request',
        message: 'Unauthorized: the Authorization header must be "Bearer <token>".',
      };
    }
    const presented = sha256(match[1]);
    // Compare against every accepted token without short-circuiting, so timing says nothing about which matched.
    let matched: AcceptedToken | undefined;
    for (const candidate of this.accepted) {
      if (timingSafeEqual(presented, candidate.digest)) matched ??= candidate;
    }
    return matched
      ? { ok: true, fingerprint: matched.fingerprint }
      : { ok: false, error: 'invalid_token', message: 'Unauthorized: the bearer token is not valid.' };
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Splits `QFPAY_MCP_TOKEN` into accepted tokens and checks each is strong enough to stand in for
 * OAuth on an exposed port. Throws with an actionable message; never echoes the value.
 */
export function parseBearerTokens(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  const tokens = raw
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '');
  for (const [index, token] of tokens.entries()) {
    const which = tokens.length > 1 ? `token #${index + 1} in QFPAY_MCP_TOKEN` : 'QFPAY_MCP_TOKEN';
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new Error(
        `${which} is shorter than ${MIN_TOKEN_LENGTH} characters. Generate one with: openssl rand -hex 32`,
      );
    }
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new Error(`${which} contains spaces or non-ASCII characters; use a hex or base64url token.`);
    }
  }
  return tokens;
}

/**
 * Deepest array/object nesting in a JSON text, found by scanning rather than parsing so hostile
 * input is refused before any allocation. Stops as soon as `limit` is exceeded.
 */
export function jsonNestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c /* \ */) i++;
      else if (char === 0x22 /* " */) inString = false;
      continue;
    }
    if (char === 0x22) inString = true;
    else if (char === 0x5b /* [ */ || char === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (char === 0x5d /* ] */ || char === 0x7d /* } */) depth--;
  }
  return false;
}

/** JSON-RPC error codes for bodies refused before dispatch. */
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;

export type JsonBodyVerdict =
  { ok: true; value: unknown } | { ok: false; status: number; code: number; message: string };

export function parseJsonBody(text: string, maxDepth: number = MAX_JSON_DEPTH): JsonBodyVerdict {
  if (text.trim() === '')
    return {
      ok: false,
      status: 400,
      code: INVALID_REQUEST,
      message: 'Bad Request: the body is empty; send a JSON-RPC message.',
    };
  if (jsonNestingExceeds(text, maxDepth)) {
    return {
      ok: false,
      status: 400,
      code: INVALID_REQUEST,
      message: `Bad Request: JSON nested deeper than ${maxDepth} levels is refused.`,
    };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, status: 400, code: PARSE_ERROR, message: 'Parse error: the body is not valid JSON.' };
  }
}

/** A 2025-era HTTP session with no request for this long is closed. */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60 * 1000;
/** Each open session holds one McpServer and transport: this bounds the process's memory. */
export const DEFAULT_MAX_SESSIONS = 2000;
/** Half the table, so one token alone can never fill it and lock every other principal out. */
export const DEFAULT_MAX_SESSIONS_PER_PRINCIPAL = 1000;

/** Session capacity from the environment; absent variables leave the server's defaults. */
export interface SessionLimitSettings {
  maxSessions?: number;
  maxSessionsPerPrincipal?: number;
}

const SESSION_LIMIT_VARIABLES = {
  maxSessions: 'QFPAY_HTTP_MAX_SESSIONS',
  maxSessionsPerPrincipal: 'QFPAY_HTTP_MAX_SESSIONS_PER_PRINCIPAL',
} as const;

/** The largest session count accepted: each open session holds a server instance in memory. */
export const MAX_SESSION_LIMIT = 100_000;

/**
 * Reads QFPAY_HTTP_MAX_SESSIONS and QFPAY_HTTP_MAX_SESSIONS_PER_PRINCIPAL. Throws with the
 * variable's name and the accepted range on anything but a whole number in range.
 */
export function parseSessionLimits(env: NodeJS.ProcessEnv): SessionLimitSettings {
  const limits: SessionLimitSettings = {};
  for (const [field, variable] of Object.entries(SESSION_LIMIT_VARIABLES) as [
    keyof SessionLimitSettings,
    string,
  ][]) {
    const raw = env[variable]?.trim();
    if (raw === undefined || raw === '') continue;
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_SESSION_LIMIT) {
      throw new Error(`${variable} must be a whole number from 1 to ${MAX_SESSION_LIMIT}, got "${raw}"`);
    }
    limits[field] = Number(raw);
  }
  return limits;
}

// Defaults and the exposure check live here, apart from the HTTP server itself, so that the CLI can
// validate HTTP flags without loading the HTTP stack on a stdio start.
export const DEFAULT_HTTP_HOST = '127.0.0.1';
export const DEFAULT_HTTP_PORT = 3939;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * A server reachable from other machines must authenticate every request:
 * without a token, anyone on the network could move money.
 */
export function assertSafeExposure(host: string, hasToken: boolean): void {
  if (isLoopbackHost(host) || hasToken) return;
  const where = isWildcardHost(host) ? `all interfaces (${host})` : `a non-loopback address (${host})`;
  throw new HttpStartupError(
    `Refusing to listen on ${where} without authentication. Set QFPAY_MCP_TOKEN to a random token ` +
      `(e.g. export QFPAY_MCP_TOKEN=$(openssl rand -hex 32)) and send it as "Authorization: Bearer <token>", ` +
      `or bind to 127.0.0.1.`,
  );
}
