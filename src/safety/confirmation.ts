import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

import { canonicalJson } from './idempotency.js';

/**
 * Bound confirmation tokens: the server-enforced half of two-step confirmation for production
 * writes (OWASP "bind each approval to the exact action").
 *
 * The prepare step issues a token for one exact action; the confirm step executes only when the
 * token verifies against the identical action, has not expired and has not been used. A model cannot
 * forge one, stretch it to a different amount, currency, pay type, order number, merchant, tool or
 * environment, or replay it.
 *
 * Token: base64url(payload JSON) "." base64url(HMAC-SHA256(secret, domain ‖ base64url payload)).
 * Payload: { v: 1, n: 128-bit CSPRNG nonce, e: expiry (epoch ms), b: SHA-256 of the canonical
 * binding }. The binding itself is not in the token, so the token reveals nothing about the action.
 *
 * Single use: redeemed nonces are remembered until they expire, which is strict within one process.
 * Instances sharing QFPAY_CONFIRM_SECRET accept each other's tokens but do not share that memory, so
 * across instances a token could be redeemed once per instance; what stops a second execution there
 * is the ledger and the out_trade_no idempotency (QFPay itself refuses a repeated out_trade_no).
 */

export interface ConfirmationBinding {
  readonly tool: string;
  readonly environment: string;
  readonly merchant: { readonly appcode: string; readonly mchid?: string };
  readonly params: Readonly<Record<string, string | number | boolean | undefined>>;
}

export type RedeemFailureReason = 'malformed' | 'bad_signature' | 'expired' | 'mismatch' | 'reused';

export type RedeemResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: RedeemFailureReason; readonly message: string };

export interface ConfirmationTokensOptions {
  /** QFPAY_CONFIRM_SECRET, at least 32 bytes. Without it a random per-process secret is used. */
  readonly secret?: Buffer | string;
  /** Lifetime of a token; default 5 minutes. */
  readonly ttlMs?: number;
  /** Clock (epoch ms), for tests. */
  readonly now?: () => number;
}

export const DEFAULT_CONFIRMATION_TTL_MS = 5 * 60 * 1000;
export const MIN_CONFIRM_SECRET_BYTES = 32;
const TOKEN_VERSION = 1;
const NONCE_BYTES = 16;
const MAX_TOKEN_LENGTH = 512;
/** Separates these MACs from any other use of the same secret. */
const MAC_DOMAIN = 'qfpay-mcp/confirmation/v1\n';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const payloadSchema = z.strictObject({
  v: z.literal(TOKEN_VERSION),
  n: z.string().regex(BASE64URL).length(22),
  e: z.number().int().positive(),
  b: z.string().regex(BASE64URL).length(43),
});

const RENEW =
  'Prepare the action again to get a fresh token, show the person the summary, and confirm with exactly the same parameters.';

/** SHA-256 of the canonical binding: tool, environment, merchant and every parameter, undefined dropped. */
export function bindingDigest(binding: ConfirmationBinding): Buffer {
  const canonical = canonicalJson({
    tool: binding.tool,
    environment: binding.environment,
    merchant: { appcode: binding.merchant.appcode, mchid: binding.merchant.mchid },
    params: binding.params,
  });
  return createHash('sha256').update(canonical, 'utf8').digest();
}

export class ConfirmationTokens {
  readonly ttlMs: number;
  private readonly secret: Buffer;
  private readonly now: () => number;
  /** nonce → expiry (epoch ms) of tokens already redeemed. */
  private readonly redeemed = new Map<string, number>();

  constructor(options: ConfirmationTokensOptions = {}) {
    this.secret = options.secret === undefined ? randomBytes(32) : toSecret(options.secret);
    this.ttlMs = options.ttlMs ?? DEFAULT_CONFIRMATION_TTL_MS;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs <= 0) {
      throw new RangeError('ConfirmationTokens: ttlMs must be a positive integer number of milliseconds');
    }
    this.now = options.now ?? Date.now;
  }

  issue(binding: ConfirmationBinding): { token: string; expires_at: string } {
    const expiresAt = this.now() + this.ttlMs;
    const payload = {
      v: TOKEN_VERSION,
      n: randomBytes(NONCE_BYTES).toString('base64url'),
      e: expiresAt,
      b: bindingDigest(binding).toString('base64url'),
    };
    const encoded = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    return {
      token: `${encoded}.${this.mac(encoded).toString('base64url')}`,
      expires_at: new Date(expiresAt).toISOString(),
    };
  }

  /** Verifies `token` against `binding` and, when it matches, uses it up. */
  redeem(token: string, binding: ConfirmationBinding): RedeemResult {
    const now = this.now();
    this.forgetExpired(now);

    const parts = typeof token === 'string' && token.length <= MAX_TOKEN_LENGTH ? token.split('.') : [];
    const [encoded, signature] = parts;
    if (
      parts.length !== 2 ||
      !encoded ||
      !signature ||
      !BASE64URL.test(encoded) ||
      !BASE64URL.test(signature)
    ) {
      return refuse('malformed', 'The confirmation token is not one this server issues.');
    }
    // Compared as text: base64url decoding is lenient about the final character's spare bits, and
    // a token must have exactly one valid spelling.
    const expected = Buffer.from(this.mac(encoded).toString('base64url'), 'utf8');
    if (!constantTimeEqual(Buffer.from(signature, 'utf8'), expected)) {
      return refuse(
        'bad_signature',
        'The confirmation token was not issued by this server (or was altered); tokens cannot be made or edited by hand.',
      );
    }
    const payload = parsePayload(encoded);
    if (!payload) return refuse('malformed', 'The confirmation token is not one this server issues.');
    if (now >= payload.e) {
      return refuse(
        'expired',
        `The confirmation token expired at ${new Date(payload.e).toISOString()}; tokens last ${Math.round(this.ttlMs / 1000)} s.`,
      );
    }
    if (!constantTimeEqual(Buffer.from(payload.b, 'base64url'), bindingDigest(binding))) {
      return refuse(
        'mismatch',
        'The confirmation token was issued for a different action: the tool, environment, merchant or at least one parameter (amount, currency, pay type, out_trade_no…) differs from what was prepared.',
      );
    }
    if (this.redeemed.has(payload.n)) {
      return refuse('reused', 'The confirmation token was already used; each token confirms one execution.');
    }
    this.redeemed.set(payload.n, payload.e);
    return { ok: true };
  }

  private mac(encodedPayload: string): Buffer {
    return createHmac('sha256', this.secret).update(MAC_DOMAIN).update(encodedPayload, 'utf8').digest();
  }

  private forgetExpired(now: number): void {
    for (const [nonce, expiresAt] of this.redeemed) {
      if (expiresAt <= now) this.redeemed.delete(nonce);
    }
  }
}

function refuse(reason: RedeemFailureReason, message: string): RedeemResult {
  return { ok: false, reason, message: `${message} ${RENEW}` };
}

function parsePayload(encoded: string): z.infer<typeof payloadSchema> | undefined {
  try {
    const parsed = payloadSchema.safeParse(JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Length is not secret (a MAC always has 43 characters); the content comparison is constant-time. */
function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function toSecret(secret: Buffer | string): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < MIN_CONFIRM_SECRET_BYTES) {
    throw new RangeError(
      `ConfirmationTokens: the secret must be at least ${MIN_CONFIRM_SECRET_BYTES} bytes (got ${bytes.length})`,
    );
  }
  return bytes;
}
