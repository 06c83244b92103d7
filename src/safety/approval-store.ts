/**
 * What the money-state store keeps for operator approvals: requests a person approves on this server's
 * own page, the operator's registered passkeys, and the short-lived WebAuthn challenges. Every state
 * change here is one atomic step of the store, so approvals are single-use across processes, hosts and
 * restarts. Implemented by every money-state store (embedded and PostgreSQL).
 */

/** How a person decided: a registered passkey, or the operator secret (the fallback). */
export type OperatorProof = 'passkey' | 'secret';

export interface ApprovalRequest {
  /** Random and unguessable (at least 128 bits, base64url): the page's address carries it. */
  readonly id: string;
  /** Hex SHA-256 of the canonical intent (tool, environment, merchant, parameters) it approves. */
  readonly bindingDigest: string;
  /** The sanitised summary shown to the operator (environment, merchant, amount in words and units, orders). */
  readonly summary: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

export type ApprovalState = 'pending' | 'approved' | 'declined' | 'redeemed';

export interface ApprovalRecord extends ApprovalRequest {
  readonly state: ApprovalState;
  readonly decidedAt?: string | undefined;
  readonly decidedBy?: OperatorProof | undefined;
  readonly credentialId?: string | undefined;
}

export interface ApprovalDecision {
  readonly approved: boolean;
  readonly by: OperatorProof;
  readonly credentialId?: string | undefined;
}

export type ApprovalRedemption =
  | { readonly ok: true; readonly record: ApprovalRecord }
  | {
      readonly ok: false;
      readonly reason: 'unknown' | 'pending' | 'declined' | 'expired' | 'mismatch' | 'reused';
    };

export interface OperatorCredential {
  /** base64url credential id. */
  readonly id: string;
  /** base64url COSE public key. */
  readonly publicKey: string;
  readonly counter: number;
  readonly transports?: readonly string[] | undefined;
  readonly label?: string | undefined;
  readonly createdAt: string;
}

export interface ApprovalStore {
  createApproval(request: ApprovalRequest): Promise<void>;
  getApproval(id: string): Promise<ApprovalRecord | undefined>;
  /** pending → approved | declined in one atomic step; false when it is not pending or has expired. */
  decideApproval(id: string, decision: ApprovalDecision, now: Date): Promise<boolean>;
  /** approved → redeemed in one atomic step, only for the same binding and before expiry. */
  redeemApproval(id: string, bindingDigest: string, now: Date): Promise<ApprovalRedemption>;

  addOperatorCredential(credential: OperatorCredential): Promise<void>;
  listOperatorCredentials(): Promise<readonly OperatorCredential[]>;
  /** Raises the signature counter only (WebAuthn clone detection): false when `counter` is not higher. */
  raiseOperatorCredentialCounter(id: string, counter: number): Promise<boolean>;

  /** Stores a WebAuthn challenge until `expiresAt`. */
  putChallenge(id: string, challenge: string, expiresAt: Date): Promise<void>;
  /** Returns the challenge and deletes it (single use); undefined when unknown or expired. */
  takeChallenge(id: string, now: Date): Promise<string | undefined>;
}
