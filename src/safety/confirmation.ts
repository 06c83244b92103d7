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
 * Single use: a verified token's nonce is redeemed in the money-state store (`redeemNonce`, one
 * atomic step), so a token confirms one execution across every process sharing the store and across
 * restarts. Instances sharing QFPAY_CONFIRM_SECRET accept each other's tokens; without it each
 * process has its own random secret and accepts only its own.
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

/** Where redeemed nonces are kept: the money-state store (see MoneyStore.redeemNonce). */
export interface NonceRegistry {
  /** True exactly once per nonce; false when it was redeemed before. */
  redeemNonce(nonce: string, expiresAt: Date): Promise<boolean>;
}

export interface ConfirmationTokensOptions {
  /** Remembers redeemed nonces across processes and restarts. */
  readonly nonces: NonceRegistry;
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
  private readonly nonces: NonceRegistry;

  constructor(options: ConfirmationTokensOptions) {
    this.nonces = options.nonces;
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

  /**
   * Verifies `token` against `binding` and, when it matches, uses it up. Rejects only when the nonce
   * registry cannot be reached (then nothing may be executed either).
   */
  async redeem(token: string, binding: ConfirmationBinding): Promise<RedeemResult> {
    const now = this.now();

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
    if (!(await this.nonces.redeemNonce(payload.n, new Date(payload.e)))) {
      return refuse('reused', 'The confirmation token was already used; each token confirms one execution.');
    }
    return { ok: true };
  }

  private mac(encodedPayload: string): Buffer {
    return createHmac('sha256', this.secret).update(MAC_DOMAIN).update(encodedPayload, 'utf8').digest();
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

// ---------------------------------------------------------------------------------------------
// In-band questions (2026-07-28 `input_required`): the request state this server issues

/**
 * Single-use memory for nonces: `claim` is true exactly once per nonce before `expiresAt`. The
 * money-state store provides one that holds across restarts and instances (its WebAuthn challenge
 * slots are single-use by contract); without it, a process-local map is used.
 */
export interface QuestionNonces {
  /** Remembers a freshly issued nonce until it expires. */
  issue(nonce: string, expiresAt: Date): Promise<void>;
  /** True once for an issued, unexpired nonce; false afterwards, when unknown, or once expired. */
  claim(nonce: string, now: Date): Promise<boolean>;
}

export class ProcessNonces implements QuestionNonces {
  private readonly open = new Map<string, number>();

  issue(nonce: string, expiresAt: Date): Promise<void> {
    this.open.set(nonce, expiresAt.getTime());
    return Promise.resolve();
  }

  claim(nonce: string, now: Date): Promise<boolean> {
    for (const [known, expiry] of this.open) if (expiry <= now.getTime()) this.open.delete(known);
    const expiry = this.open.get(nonce);
    this.open.delete(nonce);
    return Promise.resolve(expiry !== undefined && expiry > now.getTime());
  }
}

const IN_BAND_PREFIX = 'qfpay-inband.v1.';
const IN_BAND_DOMAIN = 'qfpay-mcp/in-band-question/v1\n';
export const DEFAULT_IN_BAND_TTL_MS = 5 * 60 * 1000;

const inBandPayloadSchema = z.strictObject({
  n: z.string().regex(BASE64URL).length(22),
  e: z.number().int().positive(),
  b: z.string().regex(BASE64URL).length(43),
  /** The out_trade_no the question is about (generated in the asking round when not given). */
  o: z.string().regex(/^[\x21-\x7e]{1,128}$/),
});

type InBandPayload = z.infer<typeof inBandPayloadSchema>;

function splitInBandState(
  state: unknown,
): { encoded: string; signature: string; payload: InBandPayload } | undefined {
  if (typeof state !== 'string' || state.length > MAX_TOKEN_LENGTH || !state.startsWith(IN_BAND_PREFIX))
    return undefined;
  const parts = state.slice(IN_BAND_PREFIX.length).split('.');
  const [encoded, signature] = parts;
  if (parts.length !== 2 || !encoded || !signature || !BASE64URL.test(encoded) || !BASE64URL.test(signature))
    return undefined;
  try {
    const parsed = inBandPayloadSchema.safeParse(
      JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')),
    );
    return parsed.success ? { encoded, signature, payload: parsed.data } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The out_trade_no a returned state names, read WITHOUT checking its signature: the answered round
 * needs it to rebuild the action asked about, and the guard then verifies the state against that
 * action (an altered number fails there). Undefined when it is not shaped like this server's state.
 */
export function inBandStateOutTradeNo(state: unknown): string | undefined {
  return splitInBandState(state)?.payload.o;
}

export type InBandRedeemResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'foreign' | 'expired' | 'mismatch' | 'reused';
      readonly message: string;
    };

/**
 * The request state of an in-band question: a server-signed statement "this server asked about
 * exactly this action, once, until then". It is not a confirmation token (another MAC domain and
 * another shape), so a token handed to an agent cannot be passed off as an answered question, and
 * a question's state cannot be redeemed as a token. What the client answers is still the client's
 * word (recorded as `client-elicitation`); the state only binds that word to the question asked.
 */
export class InBandQuestions {
  readonly ttlMs: number;
  private readonly secret: Buffer;
  private readonly nonces: QuestionNonces;
  private readonly now: () => number;

  constructor(
    options: { secret?: Buffer; ttlMs?: number; nonces?: QuestionNonces; now?: () => number } = {},
  ) {
    this.secret = options.secret === undefined ? randomBytes(32) : toSecret(options.secret);
    this.ttlMs = options.ttlMs ?? DEFAULT_IN_BAND_TTL_MS;
    this.nonces = options.nonces ?? new ProcessNonces();
    this.now = options.now ?? Date.now;
  }

  async issue(
    binding: ConfirmationBinding,
    outTradeNo: string,
  ): Promise<{ state: string; expires_at: string }> {
    const expiresAt = this.now() + this.ttlMs;
    const payload = {
      n: randomBytes(NONCE_BYTES).toString('base64url'),
      e: expiresAt,
      b: bindingDigest(binding).toString('base64url'),
      o: outTradeNo,
    };
    await this.nonces.issue(payload.n, new Date(expiresAt));
    const encoded = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    return {
      state: `${IN_BAND_PREFIX}${encoded}.${this.mac(encoded).toString('base64url')}`,
      expires_at: new Date(expiresAt).toISOString(),
    };
  }

  /** Verifies a returned state against the repeated call's own action and uses it up. */
  async redeem(state: string, binding: ConfirmationBinding): Promise<InBandRedeemResult> {
    const payload = this.verified(state);
    if (!payload)
      return inBandRefusal('foreign', 'The answer came back with request state this server did not issue.');
    const now = this.now();
    if (now >= payload.e) return inBandRefusal('expired', 'The question expired before it was answered.');
    if (!constantTimeEqual(Buffer.from(payload.b, 'base64url'), bindingDigest(binding)))
      return inBandRefusal('mismatch', 'The answer is for a different action than the one asked about.');
    if (!(await this.nonces.claim(payload.n, new Date(now))))
      return inBandRefusal('reused', 'This question was already answered once; each answer counts once.');
    return { ok: true };
  }

  private verified(state: string): InBandPayload | undefined {
    const split = splitInBandState(state);
    if (!split) return undefined;
    const expected = Buffer.from(this.mac(split.encoded).toString('base64url'), 'utf8');
    if (!constantTimeEqual(Buffer.from(split.signature, 'utf8'), expected)) return undefined;
    return split.payload;
  }

  private mac(encoded: string): Buffer {
    return createHmac('sha256', this.secret).update(IN_BAND_DOMAIN).update(encoded, 'utf8').digest();
  }
}

function inBandRefusal(
  reason: 'foreign' | 'expired' | 'mismatch' | 'reused',
  message: string,
): InBandRedeemResult {
  return { ok: false, reason, message };
}
