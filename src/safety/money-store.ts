import type { ApprovalStore } from './approval-store.js';
import type { IntentInput, LedgerRecord, OutcomeInput, VerifyResult } from './ledger.js';

/**
 * The one source of truth for money state, shared by every process of a deployment.
 *
 * Everything the guard must decide exclusively is ONE atomic step of the store, never a read
 * followed by a write across an `await`: claiming an idempotency key together with the cap
 * headroom and the refund or capture remainder it needs (`beginWrite`), redeeming a confirmation nonce
 * (`redeemNonce`), owning the reconciliation of an unfinished intent (`claimReconciliation`), and
 * every approval state change (`ApprovalStore`). Two implementations:
 *
 * - embedded (`stores/embedded.ts`, the default): the hash-chained JSONL ledger is the truth, a lock
 *   file makes each step exclusive across the processes of one host, incremental indexes and a
 *   verified checkpoint keep the cost of a step independent of the ledger's size;
 * - PostgreSQL (`stores/postgres.ts`, when `QFPAY_DATABASE_URL` is set): the same records in
 *   tables, each step one transaction, for several hosts.
 *
 * Records keep the ledger's shape (`LedgerRecord`: seq, prev_hash, hash) in both, so `audit verify`
 * and `audit list` mean the same thing whichever store holds them. The store stamps every record's
 * time from ONE clock of its own (see {@link MoneyStore.beginWrite}), so caps never follow the clock
 * of whichever process happens to write.
 *
 * Errors: any failure to decide or to record durably rejects with a `LedgerError` (from
 * `./ledger.js`), whose message and `nextAction` are safe to show a model; a write whose
 * `beginWrite` rejected must not be sent (fail closed).
 */

/** Which merchant account in which environment a key, a total or a record belongs to. */
export interface StoreScope {
  readonly environment: string;
  /** `merchantFingerprint(merchant)` from `./ledger.js`: 16 hex digits, never the app code. */
  readonly merchant: string;
}

/**
 * The idempotency key of a write within its scope: `order:<out_trade_no>` for payments, refunds
 * and captures (they share QFPay's namespace), `cancel:<out_trade_no>`, or
 * `release:<out_trade_no>` (a release names the authorisation's own out_trade_no: one per
 * authorisation).
 */
export type IdempotencyKey = string;

/** What the store knows about the latest holder of a key: enough to replay it or refuse a conflict. */
export interface KeyHolder {
  /** The intent that holds the key (its `step` is `intent`). */
  readonly intent: LedgerRecord;
  /** The latest outcome or reconciliation of that intent; absent while it is in flight (or was interrupted). */
  readonly latest?: LedgerRecord | undefined;
  /** The latest record of that intent carrying a syssn, when there is one. */
  readonly syssn?: string | undefined;
}

/** Per-day totals the store hands to {@link WriteAdmission.admit}, inside the atomic step. */
export interface AdmissionTotals {
  /** `YYYY-MM-DD` in UTC+8 of the time the store is about to stamp on the intent. */
  readonly day: string;
  /**
   * Sum of `txamt` of intents of this kind, scope and currency on `day` whose money may have moved
   * (every intent not definitely "moved nothing": FAILED, CANCELLED, EXPIRED or processed:false).
   * Excludes the intent being admitted.
   */
  readonly dayTotal: number;
  /**
   * Draws only (`drawOn` given): sum of `txamt` of intents of kind `drawOn.kind` on
   * `drawOn.orig_syssn` in this scope that may have moved money and whose out_trade_no is not in
   * `drawOn.visible` (refunds of a payment, captures of a pre-authorisation). Zero otherwise.
   */
  readonly unaccountedDraws: number;
  /**
   * Draws only: whether a release of `drawOn.orig_syssn` holds its key in this scope (sent, or
   * possibly sent, and not definitely refused). After it, no capture may be sent.
   */
  readonly released: boolean;
}

/** What a write draws on: a payment (refunds) or a pre-authorisation (captures and its release). */
export type DrawKind = 'refund' | 'capture';

/** The origin a write draws on and the draws of that kind QFPay's query of it shows. */
export interface DrawOn {
  readonly kind: DrawKind;
  readonly orig_syssn: string;
  /** out_trade_nos of the draws QFPay already shows (they are in its remainder already). */
  readonly visible: readonly string[];
}

/** Why an admission was refused: shown to the model as is (no secrets, no upstream text). */
export interface AdmissionRefusal {
  readonly message: string;
  readonly next_action: string;
}

/**
 * The exclusive decision of one write. The store, in ONE atomic step: looks the key up; if it is
 * free, computes the totals, calls `admit`, and when admitted appends `intent` (durably: fsync or
 * commit) with the time it stamps itself. Nothing another process appends can slip in between.
 */
export interface WriteAdmission {
  /** Must be the intent's own (its environment and merchant fingerprint). */
  readonly scope: StoreScope;
  readonly key: IdempotencyKey;
  /** `intentFingerprint(intent)`: the same key with another fingerprint is a conflict. */
  readonly fingerprint: string;
  /**
   * The record to append when admitted (the store adds time, intent_id, seq and hashes). Its
   * `kind` decides which daily total it counts towards (`cancel` counts nowhere).
   */
  readonly intent: IntentInput;
  /** Refunds, captures and releases: the origin they draw on (see {@link AdmissionTotals}). */
  readonly drawOn?: DrawOn;
  /**
   * Synchronous and pure: the caps and remainder checks, given the totals at that instant.
   * Returns undefined to admit, or the refusal. Called at most once, inside the atomic step.
   */
  readonly admit: (totals: AdmissionTotals) => AdmissionRefusal | undefined;
}

export type WriteAdmissionResult =
  /** The key is ours: `intent` is durably recorded; the caller sends once, then records the outcome. */
  | { readonly kind: 'claimed'; readonly intent: LedgerRecord }
  /**
   * The key is held by an intent with the same fingerprint: nothing may be sent. `holder.latest`
   * absent means it is still in flight (possibly in another process) or was interrupted; the
   * caller waits for its outcome or answers from what is recorded, never sends again.
   */
  | { readonly kind: 'held'; readonly holder: KeyHolder }
  /** The key is held by an intent with different parameters: refused, nothing sent. */
  | { readonly kind: 'conflict'; readonly holder: KeyHolder }
  /** `admit` refused (a cap, the refund or capture remainder): nothing recorded, nothing sent. */
  | { readonly kind: 'refused'; readonly refusal: AdmissionRefusal };

/** Filter for {@link MoneyStore.listRecords}; every field optional (all records when empty). */
export interface RecordFilter {
  readonly scope?: StoreScope;
  readonly out_trade_no?: string;
  /** Records at or after this instant (ISO 8601). */
  readonly since?: string;
  /** At most this many, oldest first (after the other filters). */
  readonly limit?: number;
}

/** Unfinished intents worth reconciling by query. */
export interface PendingFilter {
  readonly scope: StoreScope;
  /** Only intents at or after this instant. */
  readonly since: Date;
  /** The newest `limit` of them. */
  readonly limit: number;
}

export interface MoneyStore extends ApprovalStore {
  /** What an operator needs to find the store (file path, or database host/name without password). */
  readonly location: string;

  /**
   * Claims `key`, checks caps/remainder and appends the intent: one atomic step (see
   * {@link WriteAdmission}). The intent's time, and so the day its caps count in, comes from the
   * store's single clock: the embedded store never stamps a record earlier than the ledger's last
   * one and refuses (LedgerError `clock`) when the writer's clock is behind it by more than a
   * tolerance; PostgreSQL uses the database server's clock.
   */
  beginWrite(admission: WriteAdmission): Promise<WriteAdmissionResult>;

  /**
   * Appends what QFPay answered. An outcome with `processed: false` or status FAILED releases the
   * key (QFPay certainly did not process it, or definitely refused it): the next `beginWrite` with
   * that key is admitted afresh. Anything else keeps it held.
   */
  recordOutcome(intentId: string, outcome: OutcomeInput): Promise<LedgerRecord>;
  /** Appends what a later query established about an intent whose outcome was lost or not final. */
  recordReconciliation(intentId: string, outcome: OutcomeInput): Promise<LedgerRecord>;

  /** The current holder of `key` in `scope` (any fingerprint), or undefined when it is free. */
  keyHolder(scope: StoreScope, key: IdempotencyKey): Promise<KeyHolder | undefined>;

  /**
   * Intents of `kind` on `orig_syssn` in `scope` (refunds of a payment, captures of a
   * pre-authorisation) that may have moved money and are not among `visible`: their sum in minor
   * units. Informational (the binding check is inside `beginWrite`).
   */
  unaccountedDraws(
    scope: StoreScope,
    kind: DrawKind,
    orig_syssn: string,
    visible: ReadonlySet<string>,
  ): Promise<number>;

  /**
   * Redeems a confirmation token's nonce: true exactly once per nonce across all processes and
   * restarts; false when it was redeemed before. `expiresAt` lets the store forget it afterwards
   * (a token past its expiry is refused before this is called).
   */
  redeemNonce(nonce: string, expiresAt: Date): Promise<boolean>;

  /**
   * Makes `owner` the only reconciler of `intentId` until `leaseMs` from now: true when no other
   * owner holds an unexpired lease on it. Lets one process query an unfinished intent while others
   * leave it alone.
   */
  claimReconciliation(intentId: string, owner: string, leaseMs: number): Promise<boolean>;

  /** Intents in scope whose outcome is not final (none, PROCESSING, AWAITING_CUSTOMER, UNKNOWN), newest first. */
  pendingIntents(filter: PendingFilter): Promise<readonly LedgerRecord[]>;

  /** The latest `limit` records (of `scope` when given), newest first; cost independent of the store's size. */
  recent(limit: number, scope?: StoreScope): Promise<readonly LedgerRecord[]>;

  /** Records matching `filter`, oldest first (for `audit list`). */
  listRecords(filter?: RecordFilter): Promise<readonly LedgerRecord[]>;

  /** Verifies the whole hash chain (for `audit verify` and `doctor`); never repairs. */
  verify(): Promise<VerifyResult>;

  /** Releases files, locks, connections. Further calls reject. Idempotent. */
  close(): Promise<void>;
}

/** Options every store factory takes. */
export interface MoneyStoreOptions {
  /** Values that must never be stored (client key, bearer tokens, confirm secret). */
  readonly secrets?: readonly string[];
  /** Where repair notices and warnings go. Never receives record contents. */
  readonly onWarning?: (message: string) => void;
  /** The store's clock, for tests. Production stores use their own single clock. */
  readonly now?: () => Date;
}

/** How `openMoneyStore` opens the PostgreSQL store (`stores/postgres.ts` exports it under this name). */
export type OpenPostgresStore = (url: string, options: MoneyStoreOptions) => Promise<MoneyStore>;
