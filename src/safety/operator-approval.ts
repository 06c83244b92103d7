import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import type { ApprovalRecord, ApprovalRedemption, ApprovalStore, OperatorProof } from './approval-store.js';
import { bindingDigest, type ConfirmationBinding, type QuestionNonces } from './confirmation.js';

/**
 * Operator approval: a write runs only after a person proved, on this server's own approval page,
 * that they hold a credential the agent does not: a passkey registered by the operator, or the
 * operator secret as the fallback. The agent receives the page's address and a reference, neither
 * of which approves anything: the reference redeems only once the page recorded an approval for
 * exactly this action, and only once (README "Safety model").
 *
 * Everything is kept in the money-state store (ApprovalStore), whose state changes are atomic, so
 * approvals are single-use across processes and restarts. This module knows no HTTP and no MCP:
 * the page lives in src/transports/approval-page.ts, the question in src/mcp/approval.ts.
 */

export const DEFAULT_APPROVAL_TTL_MS = 10 * 60 * 1000;
const REFERENCE_PREFIX = 'qfpay-approval.';
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const SECRET_MAC_DOMAIN = 'qfpay-mcp/operator-secret/v1\n';

export interface OperatorApprovalsOptions {
  readonly store: ApprovalStore;
  /** The page address for one approval (a stdio server starts its loopback page here on demand). */
  readonly pageUrl: (id: string) => Promise<string>;
  readonly ttlMs?: number;
  /** How often a waiting call looks at the store for the decision (default 500 ms). */
  readonly pollMs?: number;
  readonly now?: () => Date;
}

export interface OpenedApproval {
  readonly id: string;
  /** What the agent sends back with the repeated call; worthless until the operator approves. */
  readonly reference: string;
  readonly url: string;
  readonly expiresAt: string;
}

export type OperatorRedemption =
  | { readonly ok: true; readonly by: OperatorProof }
  | {
      readonly ok: false;
      readonly reason: 'malformed' | Exclude<ApprovalRedemption, { ok: true }>['reason'];
    };

export class OperatorApprovals {
  readonly store: ApprovalStore;
  readonly ttlMs: number;
  private readonly options: OperatorApprovalsOptions;
  private readonly now: () => Date;

  constructor(options: OperatorApprovalsOptions) {
    this.options = options;
    this.store = options.store;
    this.ttlMs = options.ttlMs ?? DEFAULT_APPROVAL_TTL_MS;
    this.now = options.now ?? (() => new Date());
  }

  /** Records a pending approval for exactly this action and returns where the person approves it. */
  async open(binding: ConfirmationBinding, summary: string): Promise<OpenedApproval> {
    const id = randomBytes(16).toString('base64url');
    const created = this.now();
    const expiresAt = new Date(created.getTime() + this.ttlMs).toISOString();
    await this.store.createApproval({
      id,
      bindingDigest: digestHex(binding),
      summary,
      createdAt: created.toISOString(),
      expiresAt,
    });
    return { id, reference: `${REFERENCE_PREFIX}${id}`, url: await this.options.pageUrl(id), expiresAt };
  }

  /** The approval a reference names, when it is shaped like one this server hands out. */
  idOf(reference: string): string | undefined {
    if (typeof reference !== 'string' || !reference.startsWith(REFERENCE_PREFIX)) return undefined;
    const id = reference.slice(REFERENCE_PREFIX.length);
    return ID_PATTERN.test(id) ? id : undefined;
  }

  urlFor(id: string): Promise<string> {
    return this.options.pageUrl(id);
  }

  /** approved → redeemed, for this exact action, before expiry, once (one atomic store step). */
  async redeem(reference: string, binding: ConfirmationBinding): Promise<OperatorRedemption> {
    const id = this.idOf(reference);
    if (!id) return { ok: false, reason: 'malformed' };
    const result = await this.store.redeemApproval(id, digestHex(binding), this.now());
    if (!result.ok) return result;
    return { ok: true, by: result.record.decidedBy ?? 'passkey' };
  }

  /**
   * Waits until the approval is no longer pending, it expires, or `signal` aborts. Only reads the
   * store: redeeming is still the caller's (single) step.
   */
  async waitForDecision(id: string, signal?: AbortSignal): Promise<ApprovalRecord | undefined> {
    const pollMs = this.options.pollMs ?? 500;
    for (;;) {
      const record = await this.store.getApproval(id);
      if (!record || record.state !== 'pending') return record;
      if (Date.parse(record.expiresAt) <= this.now().getTime() || signal?.aborted) return record;
      await pause(pollMs, signal);
    }
  }
}

/**
 * A constant-time check of a typed operator secret (QFPAY_OPERATOR_SECRET): both sides are MAC'd
 * under a per-process key first, so the comparison is of equal-length values and reveals nothing
 * about length or content.
 */
export function secretMatcher(operatorSecret: string): (presented: string) => boolean {
  const key = randomBytes(32);
  const mac = (text: string) =>
    createHmac('sha256', key).update(SECRET_MAC_DOMAIN).update(text.trim(), 'utf8').digest();
  const expected = mac(operatorSecret);
  return (presented) =>
    typeof presented === 'string' &&
    presented.length > 0 &&
    presented.length <= 1024 &&
    timingSafeEqual(mac(presented), expected);
}

/** Hex SHA-256 of the canonical action, as ApprovalRequest.bindingDigest is defined. */
export function digestHex(binding: ConfirmationBinding): string {
  return bindingDigest(binding).toString('hex');
}

/**
 * Nonces held in the money-state store: its challenge slots are single-use and expire, which is
 * exactly what an in-band question's nonce needs to be single-use across restarts and instances.
 */
export function storeNonces(store: ApprovalStore): QuestionNonces {
  const slot = (nonce: string) => `inband:${createHash('sha256').update(nonce).digest('base64url')}`;
  return {
    issue: (nonce, expiresAt) => store.putChallenge(slot(nonce), nonce, expiresAt),
    claim: async (nonce, now) => (await store.takeChallenge(slot(nonce), now)) === nonce,
  };
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
