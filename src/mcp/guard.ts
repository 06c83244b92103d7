import type { EnvironmentName } from '../qfpay/catalog/types.js';

/**
 * The money-movement seam. Every write tool goes tool → guard → client, so that the
 * production gate, confirmations, caps, idempotency and the audit ledger live in one place
 * and can never be skipped by a tool. `BasicGuard` is the minimal policy (production gate
 * only); the full guard implements the same interface.
 */

export type WriteToolName = 'create_payment' | 'refund' | 'cancel_payment';

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
  /** The reference QFPay deduplicates on: the payment's, or the refund's own. */
  readonly out_trade_no: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  /** Human-readable, with the amount in words, for a person to approve. */
  readonly summary: string;
}

/** Who is asking, as far as the transport knows. */
export interface GuardContext {
  /** MCP session id (stateful transports only). */
  readonly sessionId?: string;
  /** OAuth client id or token subject from the HTTP transport, when authenticated. */
  readonly clientId?: string;
  /** The MCP request being served, for correlating ledger lines. */
  readonly requestId?: string | number;
  readonly log: (line: string) => void;
}

export type GuardOutcome<T> =
  | { readonly kind: 'executed'; readonly value: T }
  | {
      readonly kind: 'confirmation_required';
      readonly token: string;
      readonly summary: string;
      /** ISO 8601. */
      readonly expires_at: string;
    }
  | { readonly kind: 'refused'; readonly reason: string; readonly next_action: string };

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
  ): Promise<GuardOutcome<T>>;
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

/** Refuses production writes unless explicitly allowed; otherwise executes. */
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
        reason: `${intent.tool} would move real money in production, and production writes are switched off on this server.`,
        next_action:
          'Nothing was sent to QFPay. Ask the operator to restart the server with --allow-prod-writes (QFPAY_ALLOW_PROD_WRITES=1) if production writes are intended.',
      };
    }
    return { kind: 'executed', value: await execute() };
  }
}
