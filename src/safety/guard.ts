import type { EnvironmentName } from '../qfpay/catalog/types.js';
import type { Language } from '../qfpay/language.js';
import type { NormalisedStatus } from '../qfpay/types.js';
import type { LedgerRecord } from './ledger.js';
import type { CallbackUrlField, PolicyCheck } from './policy.js';

/**
 * The money-movement seam. Every write tool goes tool → guard → client, so that the
 * production gate, confirmations, caps, idempotency and the audit ledger live in one place
 * and can never be skipped by a tool. The runtime builds the full guard (`SafeGuard`, in
 * safe-guard.ts, on the money-state store) from the operator's policy; `BasicGuard` is the minimal one (production gate
 * only) for embedders and tests that bring their own policy.
 */

export type WriteToolName =
  | 'create_payment'
  | 'create_checkout_link'
  | 'refund'
  | 'cancel_payment'
  | 'capture_preauth'
  | 'release_preauth';

export interface MerchantIdentity {
  readonly appcode: string;
  readonly mchid?: string;
}

/** What a write tool is about to do, in normalised form; a confirmation is bound to exactly this. */
export interface WriteIntent {
  readonly tool: WriteToolName;
  readonly environment: EnvironmentName;
  readonly merchant: MerchantIdentity;
  /** The normalised parameters that will be sent (never the key or a signature). */
  readonly params: Readonly<Record<string, string | number | boolean | undefined>>;
  /**
   * The reference QFPay deduplicates on: the payment's, the refund's or capture's own, or (release)
   * the authorisation's.
   */
  readonly out_trade_no: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  /** Refunds, cancellations, captures and releases: the payment (authorisation) they act on. */
  readonly orig_syssn?: string;
  /**
   * Refunds, captures and releases: what QFPay's query of the origin showed just before. The guard
   * checks, in the same atomic step that records the intent, that `txamt` fits in
   * `available_txamt` minus the draws of `kind` recorded as sent that `visible` does not contain
   * yet (any process's); a release must take exactly that rest, and no capture follows a release.
   */
  readonly drawOn?: {
    /** refund: refunds of a payment; capture: captures (and the release) of an authorisation. */
    readonly kind: 'refund' | 'capture';
    readonly orig_syssn: string;
    /** The refundable remainder, or the uncaptured remainder, as QFPay's query shows it. */
    readonly available_txamt: number;
    /** out_trade_nos of the draws that query shows. */
    readonly visible: readonly string[];
  };
  /** Human-readable, with the amount in words, for a person to approve. */
  readonly summary: string;
  /**
   * The language of what a person reads about this intent (the approval summary and question):
   * the call's `lang`, else the operator's QFPAY_LANG. Words only: it is not part of `params`,
   * so it never enters the fingerprint or a confirmation's binding — the same payment asked for
   * in two languages is the same payment.
   */
  readonly language?: Language;
}

/** Who is asking, as far as the transport knows. */
export interface GuardContext {
  /** MCP session id (stateful transports only). */
  readonly sessionId?: string;
  /** OAuth client id or token subject from the HTTP transport, when authenticated. */
  readonly clientId?: string;
  /** The MCP request being served, for correlating ledger lines and routing a confirmation prompt. */
  readonly requestId?: string | number;
  /**
   * Set on 2026-07-28 requests only, where the person can be asked within the call's own answer
   * (multi round trip `input_required`) and never by a pushed request.
   */
  readonly inBand?: InBandConfirmation;
  readonly log: (line: string) => void;
}

/**
 * A 2026-07-28 request's confirmation state. `ask`: the client declared form elicitation, so a
 * confirmation is asked in the answer (a server-signed question state travels in the request
 * state); `answered`: the call came back with the person's answer and that state; `unsupported`:
 * only the token round trip is possible.
 */
export type InBandConfirmation =
  | { readonly kind: 'unsupported' }
  | { readonly kind: 'ask' }
  | {
      readonly kind: 'answered';
      readonly answer: 'approved' | 'declined' | 'cancelled';
      /** The request state echoed back: untrusted until the guard redeems it for this exact action. */
      readonly state: string;
    };

/**
 * How a write was approved, as the ledger records it, from weakest to strongest proof:
 * - `agent-token`: a bound token relayed by the agent; proves the exact action was prepared and
 *   repeated, not that a person saw it (the agent holds the token);
 * - `client-elicitation`: the MCP client said its person accepted (form elicitation, pushed or
 *   in-band); the client's word, bound to the question this server asked;
 * - `operator`: this server verified the operator's passkey (or operator secret) on its own
 *   approval page; nothing the agent holds can produce it.
 */
export type ApprovalKind = 'agent-token' | 'client-elicitation' | 'operator';

/** What an execution (or a later query) established, in the terms the ledger records. */
export interface ExecutionReport {
  readonly status: NormalisedStatus;
  readonly syssn?: string;
  readonly respcd?: string;
  readonly message?: string;
}

/** An earlier execution of the same action, as far as the server recorded it. */
export interface RecordedWrite {
  /** The latest known status; UNKNOWN when the outcome was lost or never written. */
  readonly status: NormalisedStatus;
  readonly syssn?: string;
  readonly respcd?: string;
  /** ISO 8601 time of the original intent. */
  readonly recorded_at: string;
  /** memory: this process ran it; ledger: found in the audit ledger (another process or before a restart). */
  readonly source: 'memory' | 'ledger';
}

export type GuardOutcome<T> =
  | {
      readonly kind: 'executed';
      readonly value: T;
      /** How it was approved, when a confirmation was required. */
      readonly approval?: ApprovalKind;
    }
  | {
      /**
       * The same action (same out_trade_no, same parameters) was already sent: nothing was sent
       * again. `value` is the original answer when this process still holds it; otherwise the
       * tool reads the current state by querying, never by re-sending.
       */
      readonly kind: 'replayed';
      readonly recorded: RecordedWrite;
      readonly value?: T;
    }
  | {
      readonly kind: 'confirmation_required';
      /**
       * What comes back with the repeated call: a bound confirmation token; with `askInBand`, the
       * question's signed request state; with `approvalUrl`, the operator approval's reference,
       * which is redeemable only once the operator approved on that page.
       */
      readonly token: string;
      readonly summary: string;
      /** ISO 8601. */
      readonly expires_at: string;
      /** Ask the person in this call's answer (GuardContext.inBand `ask`) rather than return the token. */
      readonly askInBand?: boolean;
      /** Operator approval: the page the person opens to approve (the agent relays it). */
      readonly approvalUrl?: string;
    }
  | { readonly kind: 'refused'; readonly reason: string; readonly next_action: string };

export interface RunOptions<T> {
  /** Turns a successful answer into what the ledger records as the outcome. */
  readonly describe?: (value: T) => ExecutionReport;
  /**
   * The MCP request's cancellation. Only waits are cut short by it (a person being asked): once
   * the call to QFPay has started, it is seen through whatever happens to the request.
   */
  readonly signal?: AbortSignal;
}

/** What the server remembers about an earlier action with this reference (see {@link MoneyGuard.recall}). */
export interface RecalledWrite {
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly recorded: RecordedWrite;
}

/** One audit ledger line as an agent may read it (secrets were never written; codes are masked). */
export interface AuditView {
  recent(limit: number): Promise<readonly Readonly<Record<string, unknown>>[]>;
}

/**
 * Asks the person at the client directly (MCP elicitation). `unavailable` means the question
 * could not be asked on this connection; the guard then falls back to a confirmation token.
 */
export interface HumanApproval {
  canAsk(): boolean;
  /** `language`: of the question around the summary (the summary is already in it). */
  ask(
    summary: string,
    ctx: GuardContext,
    signal?: AbortSignal,
    language?: Language,
  ): Promise<'approved' | 'declined' | 'cancelled' | 'unavailable'>;
  /** Whether the client declared URL-mode elicitation (it can open a page for its person). */
  canOpenUrl?(): boolean;
  /**
   * Asks the client to show its person `url` (URL-mode elicitation). `opened` means the person
   * agreed to go there, nothing more: the approval itself is decided on the page.
   */
  openUrl?(
    message: string,
    url: string,
    ctx: GuardContext,
    signal?: AbortSignal,
  ): Promise<'opened' | 'declined' | 'cancelled' | 'unavailable'>;
}

export interface MoneyGuard {
  /**
   * Decides whether `execute` may run for this intent and runs it at most once.
   * Errors thrown by `execute` propagate unchanged (the tool turns them into results).
   */
  run<T>(
    intent: WriteIntent,
    confirmationToken: string | undefined,
    ctx: GuardContext,
    execute: () => Promise<T>,
    options?: RunOptions<T>,
  ): Promise<GuardOutcome<T>>;
  /**
   * What this server already did under `out_trade_no` with `tool` (any parameters), when it
   * may have moved money. Lets a retried refund reuse the amount it was first resolved to.
   */
  recall?(tool: WriteToolName, out_trade_no: string): Promise<RecalledWrite | undefined>;
  /**
   * Draws of `kind` on `origSyssn` (refunds of a payment, captures of an authorisation) that this
   * server sent and that may have moved money but are not among `visible` (the out_trade_nos
   * QFPay's query shows): their sum in minor units.
   */
  unaccountedDraws?(
    kind: 'refund' | 'capture',
    origSyssn: string,
    visible: ReadonlySet<string>,
  ): Promise<number>;
  /** Records what a query established after the execution's answer was lost or not final. */
  noteReconciliation?(intent: WriteIntent, report: ExecutionReport): Promise<void>;
  /** The same guard, able to ask the person on one MCP connection directly. */
  forConnection?(approval: HumanApproval): MoneyGuard;
  /** The audit trail, for the qfpay://audit/recent resource. */
  auditView?(): AuditView | undefined;
  /**
   * This merchant's records from the start of a UTC+8 day on (intents of that day and whatever
   * was learnt of them later), for reconciling the day with QFPay. Absent without a money-state store.
   */
  dayRecords?(day: string): Promise<readonly LedgerRecord[]>;
  /**
   * Records what QFPay showed about an order this server sent, found by its out_trade_no (a
   * verified notification, a wait that saw it final). Absent without a money-state store.
   */
  noteObserved?(
    report: ExecutionReport & { readonly out_trade_no: string },
  ): Promise<'recorded' | 'duplicate' | 'unknown_order'>;
  /**
   * The operator's callback-URL allow-list (QFPAY_ALLOWED_URLS) for a URL that is not part of a
   * write intent: the redirect_uri a signed WeChat OAuth link sends the customer to. Absent on a
   * guard without a money policy, which checks no URL anywhere.
   */
  checkCallbackUrl?(field: CallbackUrlField, url: string): PolicyCheck;
  /** Releases what the guard holds (ledger file, timers); called once when the runtime closes. */
  close?(): Promise<void>;
}

/** What a guard factory knows when the runtime builds it (after configuration is resolved). */
export interface GuardFactoryContext {
  readonly environment: EnvironmentName;
  /** Null only when the runtime has no credentials (then no write tool can run anyway). */
  readonly merchant: MerchantIdentity | null;
  readonly allowProdWrites: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
}

export type GuardFactory = (context: GuardFactoryContext) => MoneyGuard | Promise<MoneyGuard>;

export interface BasicGuardOptions {
  readonly allowProdWrites: boolean;
}

export const PROD_WRITES_OFF_NEXT_ACTION =
  'Nothing was sent to QFPay. Ask the operator to restart the server with --allow-prod-writes (QFPAY_ALLOW_PROD_WRITES=1) if production writes are intended.';

export function prodWritesOffReason(tool: WriteToolName): string {
  return `${tool} would move real money in production, and production writes are switched off on this server.`;
}

/** Refuses production writes unless explicitly allowed; otherwise executes. No ledger, no caps. */
export class BasicGuard implements MoneyGuard {
  constructor(private readonly options: BasicGuardOptions) {}

  async run<T>(
    intent: WriteIntent,
    _confirmationToken: string | undefined,
    _ctx: GuardContext,
    execute: () => Promise<T>,
  ): Promise<GuardOutcome<T>> {
    if (intent.environment === 'prod' && !this.options.allowProdWrites) {
      return {
        kind: 'refused',
        reason: prodWritesOffReason(intent.tool),
        next_action: PROD_WRITES_OFF_NEXT_ACTION,
      };
    }
    return { kind: 'executed', value: await execute() };
  }
}
