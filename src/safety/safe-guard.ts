import { createHash, randomUUID } from 'node:crypto';

import { upstreamWriteVerdict } from '../qfpay/outcome.js';
import { amountDisplay } from '../qfpay/money.js';
import type { RespcdEndpoint } from '../qfpay/catalog/types.js';
import type { QfpayClient } from '../qfpay/client.js';
import type { Language } from '../qfpay/language.js';
import {
  QfpayConfigError,
  QfpayNotSentError,
  QfpayRateLimitedError,
  QfpayUnknownOutcomeError,
  QfpayUpstreamError,
  QfpayValidationError,
} from '../qfpay/errors.js';
import { observe } from '../qfpay/reconcile.js';
import { parseQfpayDateTime } from '../qfpay/time.js';
import type { NormalisedStatus } from '../qfpay/types.js';
import { type ConfirmationBinding, type ConfirmationTokens, InBandQuestions } from './confirmation.js';
import type { OperatorApprovals, OperatorRedemption } from './operator-approval.js';
import {
  type ApprovalKind,
  type AuditView,
  type ExecutionReport,
  type GuardContext,
  type GuardOutcome,
  type HumanApproval,
  type InBandConfirmation,
  type MerchantIdentity,
  type MoneyGuard,
  PROD_WRITES_OFF_NEXT_ACTION,
  prodWritesOffReason,
  type RecalledWrite,
  type RecordedWrite,
  type RunOptions,
  type WriteIntent,
  type WriteToolName,
} from './guard.js';
import { fingerprintParams } from './idempotency.js';
import {
  approvalKindOf,
  LedgerError,
  type LedgerRecord,
  merchantFingerprint,
  type MoneyActionKind,
} from './ledger.js';
import type {
  AdmissionRefusal,
  AdmissionTotals,
  KeyHolder,
  MoneyStore,
  StoreScope,
  WriteAdmissionResult,
} from './money-store.js';
import {
  checkAmountCaps,
  checkNoCardNumbers,
  checkUrlAllowed,
  type CallbackUrlField,
  confirmationRequired,
  type MoneyPolicy,
  type PolicyCheck,
} from './policy.js';
import { confirmationSummary, operatorPageMessage } from './summary.js';

/**
 * The full money guard: every rule that stands between an agent and QFPay, enforced here and
 * nowhere else (docs/ARCHITECTURE.md, "The money guard"). Every decision that
 * must be exclusive is one atomic step of the money-state store (`MoneyStore`), so the rules hold
 * across every process sharing it, not just within this one.
 *
 * For each write, in order:
 * 1. production gate: `prod` writes are refused unless the operator allowed them;
 * 2. idempotency: the same out_trade_no with the same parameters returns what was recorded (or
 *    waits for the execution still running, here or in another process), a different one is
 *    refused; nothing is sent either way;
 * 3. policy: notify/return URLs on the allow-list, no card number in free text, the
 *    per-transaction cap;
 * 4. confirmation, in prod (or everywhere with QFPAY_CONFIRM=always): the person is asked
 *    directly when the client can carry the question (a pushed elicitation on 2025-era
 *    connections; on 2026-07-28 requests an `input_required` answer whose request state carries
 *    the bound token, redeemed when the call comes back approved), otherwise a bound single-use
 *    token is issued and the call must be repeated with it; a token's nonce is redeemed in the store;
 * 5. `store.beginWrite`, ONE atomic step: the key is claimed, the daily caps and a refund's or
 *    capture's remainder (and that no release came first) are checked against the store's totals at that instant, and the intent is recorded
 *    durably; if any of that fails, nothing is sent;
 * 6. the call is made once; its outcome (or the fact that it is unknown) is recorded.
 *
 * Within one process, identical calls arriving together share the one execution (and its answer);
 * across processes the loser of the claim waits for the winner's outcome and is answered with it
 * as a replay, never by sending again.
 */

type Shared =
  | { readonly ok: true; readonly outcome: GuardOutcome<unknown> }
  | { readonly ok: false; readonly error: unknown };

/** An execution of this process that identical calls arriving meanwhile share. */
interface LocalExecution {
  readonly fingerprint: string;
  readonly settled: Promise<Shared>;
}

export interface SafeGuardOptions {
  readonly environment: WriteIntent['environment'];
  readonly merchant: MerchantIdentity;
  readonly policy: MoneyPolicy;
  /** The money-state store; when it cannot record, every write is refused (fail closed). */
  readonly store: MoneyStore;
  readonly tokens: ConfirmationTokens;
  /** Questions asked in 2026-07-28 answers; default: signed with a per-process key, nonces in memory. */
  readonly inBand?: InBandQuestions;
  /** Set: every confirmation is the operator's, on the approval page (QFPAY_APPROVAL=operator). */
  readonly operator?: OperatorApprovals;
  readonly log: (line: string) => void;
  /** Clock for reconciliation deadlines (tests); record times come from the store's clock. */
  readonly now?: () => Date;
  /** How long a call waits for an identical call's outcome in another process (default 30 s). */
  readonly sharedWaitMs?: number;
  /** Called once after the store is closed (removes a temporary ledger). */
  readonly onClose?: () => Promise<void>;
  /** Language of the approval summaries shown to people (QFPAY_LANG; default English). */
  readonly language?: Language;
}

export interface StartupReconciliation {
  readonly unfinished: number;
  readonly resolved: number;
  readonly stillOpen: number;
}

/** How long an unfinished intent is worth querying on start (QFPay answers for recent months). */
export const RECONCILE_MAX_AGE_MS = 35 * 24 * 3_600_000;
/** At most this many unfinished intents (the newest) are queried on one start. */
export const RECONCILE_MAX_INTENTS = 200;
/** The whole start-up reconciliation's budget unless the runtime is told otherwise. */
export const RECONCILE_BUDGET_MS = 15_000;
const RECONCILE_CONCURRENCY = 4;
const DEFAULT_SHARED_WAIT_MS = 30_000;
const SHARED_POLL_MS = 50;
/** Values of executions of this process kept for replays (the store has the records anyway). */
const KEPT_VALUES = 1_000;

/**
 * payment, refund and capture numbers share QFPay's namespace; a cancel acts on a payment's
 * number, and a release on the authorisation's (so an authorisation is released at most once).
 */
function idempotencyKey(tool: WriteToolName, outTradeNo: string): string {
  if (tool === 'cancel_payment') return `cancel:${outTradeNo}`;
  if (tool === 'release_preauth') return `release:${outTradeNo}`;
  return `order:${outTradeNo}`;
}

function kindOf(tool: WriteToolName): MoneyActionKind {
  switch (tool) {
    case 'create_payment':
    case 'create_checkout_link':
      return 'payment';
    case 'refund':
      return 'refund';
    case 'cancel_payment':
      return 'cancel';
    case 'capture_preauth':
      return 'capture';
    case 'release_preauth':
      return 'release';
  }
}

/**
 * Kinds checked against the operator's amount caps. Captures and releases are not: they only
 * move money the authorisation already holds, and the authorisation counted as a payment (cap per
 * transaction and per day) when it was made, so counting a capture again would count it twice.
 */
function cappedKind(kind: MoneyActionKind): 'payment' | 'refund' | undefined {
  return kind === 'payment' || kind === 'refund' ? kind : undefined;
}

/** The parameters a confirmation and an idempotency key are bound to. */
export function intentFingerprint(intent: WriteIntent): string {
  return fingerprintParams({
    tool: intent.tool,
    environment: intent.environment,
    merchant: merchantFingerprint(intent.merchant),
    params: intent.params,
  });
}

const CONFLICT_NEXT_ACTION =
  'Nothing was sent to QFPay. To retry the earlier request, repeat it with exactly the same parameters; for a different request, use a new out_trade_no.';

/** The confirmation/approval step's verdict; `waited` means time passed while a person decided. */
type Confirmation =
  | { readonly kind: 'approved'; readonly via: ApprovalKind; readonly waited: boolean }
  | { readonly kind: 'stop'; readonly outcome: GuardOutcome<never> };

function stop(outcome: GuardOutcome<never>): Confirmation {
  return { kind: 'stop', outcome };
}

function cancelledWhileAsking(): GuardOutcome<never> {
  return refused(
    'The request was cancelled while the person was being asked; nothing was sent.',
    'Nothing was sent to QFPay. Call again if the action is still wanted.',
  );
}

const OPERATOR_REFUSALS: Readonly<Record<Exclude<OperatorRedemption, { ok: true }>['reason'], string>> = {
  malformed: 'confirmation_token is not an approval reference this server hands out.',
  unknown: 'this server has no such approval.',
  pending: 'the operator has not decided yet.',
  declined: 'the operator declined it.',
  expired: 'it expired before it was approved and used.',
  mismatch: 'it was approved for a different action (tool, environment, merchant or a parameter differs).',
  reused: 'it was already used; each approval moves money once.',
};

/** What recording a notification did. */
export type NotificationNote = 'recorded' | 'duplicate' | 'unknown_order';

export class SafeGuard implements MoneyGuard {
  private readonly scope: StoreScope;
  private readonly now: () => Date;
  private readonly running = new Map<string, LocalExecution>();
  /** intent_id → the answer this process got, so a replay of its own execution can show it. */
  private readonly values = new Map<string, unknown>();
  private readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly inBand: InBandQuestions;
  private closed = false;

  constructor(private readonly options: SafeGuardOptions) {
    this.scope = { environment: options.environment, merchant: merchantFingerprint(options.merchant) };
    this.inBand = options.inBand ?? new InBandQuestions();
    this.now = options.now ?? (() => new Date());
  }

  /** Where the store keeps its records (a file, or a database). */
  get storeLocation(): string {
    return this.options.store.location;
  }

  run<T>(
    intent: WriteIntent,
    confirmationToken: string | undefined,
    ctx: GuardContext,
    execute: () => Promise<T>,
    options: RunOptions<T> = {},
  ): Promise<GuardOutcome<T>> {
    return this.guardedRun(intent, confirmationToken, ctx, execute, options, undefined);
  }

  forConnection(approval: HumanApproval): MoneyGuard {
    return {
      run: (intent, token, ctx, execute, options) =>
        this.guardedRun(intent, token, ctx, execute, options ?? {}, approval),
      recall: (tool, outTradeNo) => this.recall(tool, outTradeNo),
      unaccountedDraws: (kind, origSyssn, visible) => this.unaccountedDraws(kind, origSyssn, visible),
      noteReconciliation: (intent, report) => this.noteReconciliation(intent, report),
      auditView: () => this.auditView(),
      dayRecords: (day) => this.dayRecords(day),
      noteObserved: (report) => this.noteObserved(report),
      checkCallbackUrl: (field, url) => this.checkCallbackUrl(field, url),
    };
  }

  async recall(tool: WriteToolName, outTradeNo: string): Promise<RecalledWrite | undefined> {
    let holder: KeyHolder | undefined;
    try {
      holder = await this.options.store.keyHolder(this.scope, idempotencyKey(tool, outTradeNo));
    } catch {
      // An unusable store refuses the write itself (fail closed); what it held is unknown here.
      return undefined;
    }
    if (!holder || holder.intent.tool !== tool) return undefined;
    return {
      txamt: holder.intent.txamt,
      txcurrcd: holder.intent.txcurrcd,
      params: holder.intent.params ?? {},
      recorded: this.recordedWrite(holder),
    };
  }

  unaccountedDraws(
    kind: 'refund' | 'capture',
    origSyssn: string,
    visible: ReadonlySet<string>,
  ): Promise<number> {
    return this.options.store.unaccountedDraws(this.scope, kind, origSyssn, visible);
  }

  async noteReconciliation(intent: WriteIntent, report: ExecutionReport): Promise<void> {
    try {
      const holder = await this.options.store.keyHolder(
        this.scope,
        idempotencyKey(intent.tool, intent.out_trade_no),
      );
      if (!holder || holder.intent.fingerprint !== intentFingerprint(intent)) return;
      if (holder.latest?.status === report.status) return;
      await this.options.store.recordReconciliation(holder.intent.intent_id, {
        status: report.status,
        ...(report.syssn ? { syssn: report.syssn } : {}),
        ...(report.respcd ? { respcd: report.respcd } : {}),
        message: report.message ?? 'reconciled by query',
      });
    } catch (error) {
      this.options.log(
        `qfpay-mcp: could not record the reconciliation of ${intent.out_trade_no} in the audit ledger: ${errorText(error)}`,
      );
    }
  }

  /**
   * Records what QFPay itself showed about an order this server sent (a verified notification, or
   * a wait that saw it final), by its out_trade_no: payments, checkout links and refunds share the
   * `order:` key. Repeating what is already recorded adds nothing, so QFPay's retries are harmless.
   */
  async noteObserved(report: ExecutionReport & { out_trade_no: string }): Promise<NotificationNote> {
    const holder = await this.options.store.keyHolder(this.scope, `order:${report.out_trade_no}`);
    if (!holder) return 'unknown_order';
    if (holder.latest?.status === report.status && (holder.syssn ?? '') === (report.syssn ?? ''))
      return 'duplicate';
    await this.options.store.recordReconciliation(holder.intent.intent_id, {
      status: report.status,
      ...(report.syssn ? { syssn: report.syssn } : {}),
      ...(report.respcd ? { respcd: report.respcd } : {}),
      message: report.message ?? 'QFPay notification',
    });
    return 'recorded';
  }

  dayRecords(day: string): Promise<readonly LedgerRecord[]> {
    const start = parseQfpayDateTime(`${day} 00:00:00`);
    if (!start) throw new RangeError(`day must be YYYY-MM-DD, got ${day}`);
    return this.options.store.listRecords({ scope: this.scope, since: start.toISOString() });
  }

  auditView(): AuditView {
    return {
      recent: async (limit) =>
        (await this.options.store.recent(Math.max(0, limit), this.scope)).map(auditLine),
    };
  }

  /**
   * Every intent of this merchant whose outcome is not final (a process stopped mid-call, or the
   * answer was lost) is queried once by its out_trade_no, within `budgetMs` in total, and what
   * QFPay says is recorded. Never re-sends anything. Runs in the background after the server is up:
   * a write meanwhile for a key still unfinished is answered from the store (a replay, whose
   * current state the tool reads by querying), never sent again. Each intent is leased in the store,
   * so processes starting together do not query the same one.
   */
  async reconcilePending(
    client: Pick<QfpayClient, 'findTransaction'>,
    budgetMs: number = RECONCILE_BUDGET_MS,
    signal?: AbortSignal,
  ): Promise<StartupReconciliation> {
    const none = { unfinished: 0, resolved: 0, stillOpen: 0 };
    let pending: readonly LedgerRecord[];
    try {
      pending = await this.options.store.pendingIntents({
        scope: this.scope,
        since: new Date(this.now().getTime() - RECONCILE_MAX_AGE_MS),
        limit: RECONCILE_MAX_INTENTS,
      });
    } catch (error) {
      this.options.log(
        `qfpay-mcp: ${errorText(error)} Money-moving tools refuse every call until this is fixed.`,
      );
      return none;
    }
    if (pending.length === 0) return none;
    const deadline = this.now().getTime() + budgetMs;
    let resolved = 0;
    const queue = [...pending];
    const worker = async (): Promise<void> => {
      for (let intent = queue.shift(); intent && !signal?.aborted; intent = queue.shift()) {
        if (this.now().getTime() >= deadline) return;
        if (await this.reconcileOne(client, intent, deadline, budgetMs, signal)) resolved += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECONCILE_CONCURRENCY, pending.length) }, worker));
    const summary = { unfinished: pending.length, resolved, stillOpen: pending.length - resolved };
    this.options.log(
      `qfpay-mcp: audit ledger: ${summary.unfinished} unfinished money-moving action(s) from earlier runs; ` +
        `${summary.resolved} now final by query, ${summary.stillOpen} still open` +
        (summary.stillOpen > 0
          ? ' (see "qfpay-mcp audit list"; they are queried again on the next start)'
          : ''),
    );
    return summary;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.options.store.close();
    } finally {
      await this.options.onClose?.();
    }
  }

  // -------------------------------------------------------------------------------------------

  private async guardedRun<T>(
    intent: WriteIntent,
    confirmationToken: string | undefined,
    ctx: GuardContext,
    execute: () => Promise<T>,
    options: RunOptions<T>,
    approval: HumanApproval | undefined,
  ): Promise<GuardOutcome<T>> {
    if (intent.environment === 'prod' && !this.options.policy.allowProdWrites) {
      return refused(prodWritesOffReason(intent.tool), PROD_WRITES_OFF_NEXT_ACTION);
    }
    const key = idempotencyKey(intent.tool, intent.out_trade_no);
    const fingerprint = intentFingerprint(intent);
    const earlier = await this.earlierUse<T>(intent, key, fingerprint, options.signal);
    if (earlier) return earlier;
    const problem = this.policyProblem(intent);
    if (problem) return problem;

    // ---- confirmation/approval step (README "Safety model") ----
    let approvedBy: ApprovalKind | undefined;
    if (confirmationRequired(this.options.policy, intent.environment)) {
      const confirmation = await this.confirm(intent, confirmationToken, ctx, approval, options.signal);
      if (confirmation.kind !== 'approved') return confirmation.outcome;
      approvedBy = confirmation.via;
      // Time may have passed while the person decided: the same action may have run meanwhile.
      const meanwhile = await this.earlierUse<T>(intent, key, fingerprint, options.signal);
      if (meanwhile) return meanwhile;
    }
    // ---- end of the confirmation/approval step ----

    // From this check to registering the execution there is no await: identical calls of this
    // process see each other and share one execution.
    for (let local = this.running.get(key); local; local = this.running.get(key)) {
      const shared = await this.shareLocal<T>(local, key, fingerprint, intent);
      if (shared) return shared;
    }
    let settle!: (shared: Shared) => void;
    const execution: LocalExecution = {
      fingerprint,
      settled: new Promise<Shared>((resolve) => {
        settle = resolve;
      }),
    };
    this.running.set(key, execution);
    try {
      const outcome = await this.claimAndExecute(intent, key, fingerprint, ctx, execute, options, approvedBy);
      settle({ ok: true, outcome });
      return outcome;
    } catch (error) {
      settle({ ok: false, error });
      throw error;
    } finally {
      this.running.delete(key);
    }
  }

  /**
   * The store's answer for a key already used: a replay (after waiting for an outcome still being
   * made elsewhere), a conflict refusal, or undefined when the key is free.
   */
  private async earlierUse<T>(
    intent: WriteIntent,
    key: string,
    fingerprint: string,
    signal: AbortSignal | undefined,
  ): Promise<GuardOutcome<T> | undefined> {
    const local = this.running.get(key);
    const shared = local ? await this.shareLocal<T>(local, key, fingerprint, intent) : undefined;
    if (shared) return shared;
    let holder: KeyHolder | undefined;
    try {
      holder = await this.options.store.keyHolder(this.scope, key);
    } catch (error) {
      return ledgerRefusal(error);
    }
    if (!holder) return undefined;
    if (holder.intent.fingerprint !== fingerprint) return conflictRefusal(key, holder);
    return this.replayHolder<T>(key, holder, signal);
  }

  private async claimAndExecute<T>(
    intent: WriteIntent,
    key: string,
    fingerprint: string,
    ctx: GuardContext,
    execute: () => Promise<T>,
    options: RunOptions<T>,
    approvedBy: ApprovalKind | undefined,
  ): Promise<GuardOutcome<T>> {
    let admission: WriteAdmissionResult;
    try {
      admission = await this.options.store.beginWrite({
        scope: this.scope,
        key,
        fingerprint,
        intent: {
          environment: intent.environment,
          merchant: intent.merchant,
          tool: intent.tool,
          kind: kindOf(intent.tool),
          params: ledgerParams(intent),
          out_trade_no: intent.out_trade_no,
          txamt: intent.txamt,
          txcurrcd: intent.txcurrcd,
          fingerprint,
          ...(intent.orig_syssn ? { orig_syssn: intent.orig_syssn } : {}),
          ...(callerOf(ctx) ? { caller: callerOf(ctx) } : {}),
          ...(approvedBy ? { approval: approvedBy } : {}),
        },
        ...(intent.drawOn
          ? {
              drawOn: {
                kind: intent.drawOn.kind,
                orig_syssn: intent.drawOn.orig_syssn,
                visible: intent.drawOn.visible,
              },
            }
          : {}),
        admit: (totals) => this.admit(intent, totals),
      });
    } catch (error) {
      // Fail closed: without a durable intent nothing is sent.
      return ledgerRefusal(error);
    }
    switch (admission.kind) {
      case 'refused':
        return refused(admission.refusal.message, admission.refusal.next_action);
      case 'conflict':
        return conflictRefusal(key, admission.holder);
      case 'held':
        return this.replayHolder<T>(key, admission.holder, options.signal);
      case 'claimed':
        break;
    }
    const intentRecord = admission.intent;
    let value: T;
    try {
      value = await execute();
    } catch (error) {
      await this.recordOutcome(intentRecord, classifyFailure(error, intent));
      throw error;
    }
    const report = options.describe?.(value) ?? {
      status: 'UNKNOWN' as const,
      message: 'QFPay answered; this tool did not classify the answer',
    };
    await this.recordOutcome(intentRecord, report);
    this.keepValue(intentRecord.intent_id, value);
    return { kind: 'executed', value, ...(approvedBy ? { approval: approvedBy } : {}) };
  }

  /** Daily caps and a refund's or capture's remainder, decided inside the store's atomic step. */
  private admit(intent: WriteIntent, totals: AdmissionTotals): AdmissionRefusal | undefined {
    const drawRefusal = intent.drawOn ? drawProblem(intent, intent.drawOn, totals) : undefined;
    if (drawRefusal) return drawRefusal;
    const kind = cappedKind(kindOf(intent.tool));
    if (!kind) return undefined;
    const check = checkAmountCaps(this.options.policy, {
      kind,
      txamt: intent.txamt,
      txcurrcd: intent.txcurrcd,
      todayTotal: totals.dayTotal,
    });
    return check.ok ? undefined : { message: check.message, next_action: check.next_action };
  }

  /** Answers from a holder of the key with the same parameters; waits while its outcome is being made. */
  private async replayHolder<T>(
    key: string,
    holder: KeyHolder,
    signal: AbortSignal | undefined,
  ): Promise<GuardOutcome<T>> {
    const settled = holder.latest ? holder : await this.awaitOutcome(key, holder, signal);
    return this.replayOf<T>(settled);
  }

  /**
   * Polls the store until the holder's outcome is recorded (by another process), the wait is over or
   * the caller gave up: the answer is then what is recorded (UNKNOWN while nothing is), never a
   * second send.
   */
  private async awaitOutcome(
    key: string,
    holder: KeyHolder,
    signal: AbortSignal | undefined,
  ): Promise<KeyHolder> {
    // Counted from when the holder's intent was recorded: an intent that has had no outcome for
    // that long belongs to a process that died mid-call, and waiting longer would only delay the
    // answer (which the tool then reads from QFPay, never by sending again).
    const wait = this.options.sharedWaitMs ?? DEFAULT_SHARED_WAIT_MS;
    const recordedAt = Date.parse(holder.intent.time);
    const until = Math.min(Date.now() + wait, Number.isFinite(recordedAt) ? recordedAt + wait : Infinity);
    let current = holder;
    while (!current.latest && Date.now() < until && !signal?.aborted && !this.closed) {
      await new Promise((resolve) => setTimeout(resolve, SHARED_POLL_MS));
      let next: KeyHolder | undefined;
      try {
        next = await this.options.store.keyHolder(this.scope, key);
      } catch {
        return current;
      }
      // Released (QFPay did not process it): answer with the record that released it.
      if (!next || next.intent.intent_id !== current.intent.intent_id) {
        return { ...current, latest: { ...current.intent, status: 'FAILED', processed: false } };
      }
      current = next;
    }
    return current;
  }

  private replayOf<T>(holder: KeyHolder): GuardOutcome<T> {
    const intentId = holder.intent.intent_id;
    return {
      kind: 'replayed',
      recorded: this.recordedWrite(holder),
      ...(this.values.has(intentId) ? { value: this.values.get(intentId) as T } : {}),
    };
  }

  private recordedWrite(holder: KeyHolder): RecordedWrite {
    const latest = holder.latest;
    const status: NormalisedStatus = latest && latest.status !== 'INTENDED' ? latest.status : 'UNKNOWN';
    return {
      status,
      ...(holder.syssn ? { syssn: holder.syssn } : {}),
      ...(latest?.respcd ? { respcd: latest.respcd } : {}),
      recorded_at: holder.intent.time,
      source: this.values.has(holder.intent.intent_id) ? 'memory' : 'ledger',
    };
  }

  /**
   * The outcome of an identical execution of this process, once it ends; undefined when it ended
   * without QFPay processing anything (not sent, HTTP 429, refused before sending): the number is
   * free again and the waiting call makes its own attempt.
   */
  private async shareLocal<T>(
    local: LocalExecution,
    key: string,
    fingerprint: string,
    intent: WriteIntent,
  ): Promise<GuardOutcome<T> | undefined> {
    if (local.fingerprint !== fingerprint) {
      return refused(
        'This out_trade_no is being used right now by a request with different parameters; QFPay treats out_trade_no as unique across all payments and refunds, so this request was refused.',
        CONFLICT_NEXT_ACTION,
      );
    }
    const shared = await local.settled;
    if (!shared.ok) {
      if (classifyFailure(shared.error, intent).processed === false) return undefined;
      throw shared.error;
    }
    const outcome = shared.outcome as GuardOutcome<T>;
    if (outcome.kind !== 'executed') return outcome;
    // A call that joined another's execution is told so, as a caller in another process is
    // (issue #10 ¶5: the loser gets the winner's truth, `replayed: true`); nobody approved it
    // twice: the person approved the first call only.
    const holder = await this.options.store.keyHolder(this.scope, key).catch(() => undefined);
    return holder?.latest ? this.replayOf<T>(holder) : { kind: 'executed', value: outcome.value };
  }

  private keepValue(intentId: string, value: unknown): void {
    this.values.set(intentId, value);
    if (this.values.size > KEPT_VALUES) this.values.delete(this.values.keys().next().value as string);
  }

  // ---- confirmation/approval step -------------------------------------------------------------

  /**
   * Who may approve: with operator approval configured, only the operator's page (anything the
   * agent or its client says is ignored); otherwise an in-band answer to a question this server
   * asked, a relayed token, or a pushed elicitation, in that order.
   */
  private async confirm(
    intent: WriteIntent,
    confirmationToken: string | undefined,
    ctx: GuardContext,
    approval: HumanApproval | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Confirmation> {
    if (this.options.operator)
      return this.operatorConfirmation(intent, confirmationToken, ctx, approval, signal);
    if (ctx.inBand?.kind === 'answered') return this.answeredInBand(intent, ctx.inBand);
    if (confirmationToken !== undefined) return this.redeemToken(intent, confirmationToken);
    return this.askOrIssue(intent, ctx, approval, signal);
  }

  /**
   * A 2026-07-28 call repeated with the person's answer. It counts only through the request state
   * this server issued for the question: signed, bound to this exact action, unexpired, unused.
   * A relayed confirmation token, altered state or another action's question executes nothing.
   */
  private async answeredInBand(
    intent: WriteIntent,
    inBand: Extract<InBandConfirmation, { kind: 'answered' }>,
  ): Promise<Confirmation> {
    const result = await this.inBand.redeem(inBand.state, binding(intent));
    if (!result.ok) {
      this.options.log(
        `qfpay-mcp: ${intent.tool} ${intent.out_trade_no}: in-band answer refused (${result.reason})`,
      );
      return stop(
        refused(
          `The answer was refused: ${result.message}`,
          `Nothing was sent to QFPay. Call ${intent.tool} again without request state if the action is still wanted: the person is asked afresh.`,
        ),
      );
    }
    if (inBand.answer !== 'approved') return stop(this.personSaidNo(intent, inBand.answer));
    return { kind: 'approved', via: 'client-elicitation', waited: false };
  }

  private async redeemToken(intent: WriteIntent, token: string): Promise<Confirmation> {
    let result;
    try {
      result = await this.options.tokens.redeem(token, binding(intent));
    } catch (error) {
      return stop(ledgerRefusal(error));
    }
    if (result.ok) return { kind: 'approved', via: 'agent-token', waited: false };
    this.options.log(
      `qfpay-mcp: ${intent.tool} ${intent.out_trade_no}: confirmation refused (${result.reason}, token)`,
    );
    return stop(
      refused(
        `The confirmation was refused: ${result.message}`,
        `Nothing was sent to QFPay. Call ${intent.tool} again WITHOUT confirmation_token to get a fresh summary and token, show the summary to the person, and repeat the call with exactly the same arguments and the new token once they approve.`,
      ),
    );
  }

  private personSaidNo(intent: WriteIntent, answer: 'declined' | 'cancelled'): GuardOutcome<never> {
    this.options.log(
      `qfpay-mcp: ${intent.tool} ${intent.out_trade_no}: the person ${answer} it; nothing sent`,
    );
    return refused(
      `The person ${answer === 'declined' ? 'declined' : 'dismissed'} the confirmation of: ${intent.summary}`,
      'Nothing was sent to QFPay. Do not retry unless the person asks for it again.',
    );
  }

  /** The call's own language, else the operator's (QFPAY_LANG), else English. */
  private languageOf(intent: WriteIntent): Language | undefined {
    return intent.language ?? this.options.language;
  }

  private async askOrIssue(
    intent: WriteIntent,
    ctx: GuardContext,
    approval: HumanApproval | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Confirmation> {
    const language = this.languageOf(intent);
    const summary = confirmationSummary(intent, language);
    // A 2026-07-28 request has no channel for a pushed question: it is asked in the answer instead.
    if (ctx.inBand?.kind === 'ask') {
      const question = await this.inBand.issue(binding(intent), intent.out_trade_no);
      return stop({
        kind: 'confirmation_required',
        token: question.state,
        summary,
        expires_at: question.expires_at,
        askInBand: true,
      });
    }
    if (ctx.inBand === undefined && approval?.canAsk()) {
      const answer = await approval.ask(summary, ctx, signal, language);
      // An approval that arrives after the caller gave up must not move money nobody will hear of.
      if (answer === 'approved' && !signal?.aborted)
        return { kind: 'approved', via: 'client-elicitation', waited: true };
      if (answer === 'approved' || signal?.aborted) return stop(cancelledWhileAsking());
      if (answer === 'declined' || answer === 'cancelled') return stop(this.personSaidNo(intent, answer));
    }
    const issued = this.options.tokens.issue(binding(intent));
    return stop({
      kind: 'confirmation_required',
      token: issued.token,
      summary,
      expires_at: issued.expires_at,
    });
  }

  /**
   * Operator approval. A reference sent back is redeemed in the store (approved → redeemed, for
   * this action only, once, before expiry). Without one, a pending approval is opened; when the
   * client can open URLs the person is sent to the page and the call waits for the decision,
   * otherwise the agent gets the page's address to relay and the reference to come back with.
   */
  private async operatorConfirmation(
    intent: WriteIntent,
    reference: string | undefined,
    ctx: GuardContext,
    approval: HumanApproval | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Confirmation> {
    const operator = this.options.operator as OperatorApprovals;
    if (reference !== undefined) return this.redeemOperator(operator, intent, reference, false);
    const summary = confirmationSummary(intent, this.languageOf(intent));
    const opened = await operator.open(binding(intent), summary);
    const waiting = stop({
      kind: 'confirmation_required',
      token: opened.reference,
      summary,
      expires_at: opened.expiresAt,
      approvalUrl: opened.url,
    });
    if (ctx.inBand !== undefined || !approval?.canOpenUrl?.() || !approval.openUrl) return waiting;
    const answer = await approval.openUrl(
      operatorPageMessage(intent, this.languageOf(intent)),
      opened.url,
      ctx,
      signal,
    );
    if (answer === 'declined' || answer === 'cancelled') return stop(this.personSaidNo(intent, answer));
    if (answer !== 'opened') return waiting;
    await operator.waitForDecision(opened.id, signal);
    if (signal?.aborted) return stop(cancelledWhileAsking());
    return this.redeemOperator(operator, intent, opened.reference, true);
  }

  private async redeemOperator(
    operator: OperatorApprovals,
    intent: WriteIntent,
    reference: string,
    waited: boolean,
  ): Promise<Confirmation> {
    const result = await operator.redeem(reference, binding(intent));
    if (result.ok) return { kind: 'approved', via: 'operator', waited };
    this.options.log(
      `qfpay-mcp: ${intent.tool} ${intent.out_trade_no}: operator approval refused (${result.reason})`,
    );
    const id = operator.idOf(reference);
    if (result.reason === 'pending' && id) {
      const url = await operator.urlFor(id);
      return stop(
        refused(
          `The operator has not approved this yet: ${intent.summary}`,
          `Nothing was sent to QFPay. Ask the person to open ${url} and approve it there, then call ${intent.tool} again with exactly the same arguments and the same confirmation_token.`,
        ),
      );
    }
    return stop(
      refused(
        `The operator approval was refused: ${OPERATOR_REFUSALS[result.reason]}`,
        `Nothing was sent to QFPay. Call ${intent.tool} again WITHOUT confirmation_token if the action is still wanted: a new approval page is opened for the person.`,
      ),
    );
  }

  // ---- end of the confirmation/approval step ---------------------------------------------------

  /**
   * URL allow-list, card numbers in free text, the per-transaction cap; undefined when the intent
   * may proceed. Daily caps need the store's totals and are checked in its atomic step (`admit`).
   */
  checkCallbackUrl(field: CallbackUrlField, url: string): PolicyCheck {
    return checkUrlAllowed(this.options.policy, field, url);
  }

  private policyProblem(intent: WriteIntent): GuardOutcome<never> | undefined {
    const { policy } = this.options;
    for (const field of ['notify_url', 'return_url', 'failed_url', 'cancel_url'] as const) {
      const url = intent.params[field];
      if (typeof url !== 'string') continue;
      const check = checkUrlAllowed(policy, field, url);
      if (!check.ok) return refused(check.message, check.next_action);
    }
    const card = checkNoCardNumbers(intent.params);
    if (!card.ok) return refused(card.message, card.next_action);
    const kind = cappedKind(kindOf(intent.tool));
    if (!kind) return undefined;
    const check = checkAmountCaps(policy, {
      kind,
      txamt: intent.txamt,
      txcurrcd: intent.txcurrcd,
      todayTotal: 0,
    });
    return check.ok ? undefined : refused(check.message, check.next_action);
  }

  private async recordOutcome(
    intentRecord: LedgerRecord,
    report: ExecutionReport & { processed?: boolean },
  ): Promise<void> {
    try {
      await this.options.store.recordOutcome(intentRecord.intent_id, {
        status: report.status,
        ...(report.syssn ? { syssn: report.syssn } : {}),
        ...(report.respcd ? { respcd: report.respcd } : {}),
        ...(report.message ? { message: report.message } : {}),
        ...(report.processed === false ? { processed: false } : {}),
      });
    } catch (error) {
      // The call was made; only its record is missing. The intent stays unfinished in the ledger
      // and is reconciled by query on the next start.
      this.options.log(
        `qfpay-mcp: ${intentRecord.tool} ${intentRecord.out_trade_no} was sent (${report.status}) but its outcome could not be recorded in the audit ledger: ${errorText(error)}`,
      );
    }
  }

  private async reconcileOne(
    client: Pick<QfpayClient, 'findTransaction'>,
    intent: LedgerRecord,
    deadline: number,
    leaseMs: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const { store } = this.options;
    try {
      if (!(await store.claimReconciliation(intent.intent_id, this.owner, leaseMs))) return false;
    } catch (error) {
      this.options.log(`qfpay-mcp: audit ledger: ${errorText(error)}`);
      return false;
    }
    // Checked right before the query (nothing awaited in between), so no query starts late.
    if (this.now().getTime() >= deadline) return false;
    let rows;
    try {
      rows = await client.findTransaction(
        // The intent's time names the month(s) to search, so a payment lost just before a month
        // ended is found after it (never "not found, create it again").
        { out_trade_no: intent.out_trade_no },
        {
          signal: AbortSignal.any([
            AbortSignal.timeout(Math.max(1, deadline - this.now().getTime())),
            ...(signal ? [signal] : []),
          ]),
        },
      );
    } catch (error) {
      this.options.log(
        `qfpay-mcp: could not query ${intent.out_trade_no} while reconciling the audit ledger: ${errorText(error)}`,
      );
      return false;
    }
    const holder = await store
      .keyHolder(this.scope, idempotencyKey(intent.tool as WriteToolName, intent.out_trade_no))
      .catch(() => undefined);
    const latest = holder?.intent.intent_id === intent.intent_id ? holder.latest : undefined;
    const seen = observe(rows, { out_trade_no: intent.out_trade_no });
    if (!seen.record) {
      if (!latest) {
        await store
          .recordReconciliation(intent.intent_id, {
            status: 'UNKNOWN',
            message: 'interrupted before its outcome was recorded; QFPay does not show it (yet)',
          })
          .catch((error: unknown) => this.options.log(`qfpay-mcp: audit ledger: ${errorText(error)}`));
      }
      return false;
    }
    const status: NormalisedStatus = seen.status;
    if (latest?.status !== status) {
      try {
        await store.recordReconciliation(intent.intent_id, {
          status,
          syssn: seen.record.syssn,
          respcd: seen.record.respcd,
          message: 'reconciled by query when the server started',
        });
      } catch (error) {
        this.options.log(`qfpay-mcp: audit ledger: ${errorText(error)}`);
        return false;
      }
    }
    return isSettled(status);
  }
}

/**
 * The remainder rules of a draw, given the store's totals at the instant of the decision: a refund
 * or capture fits in what QFPay showed minus the draws sent that it does not show yet; a capture
 * never follows a release; a release takes exactly the uncaptured rest, once.
 */
function drawProblem(
  intent: WriteIntent,
  draw: NonNullable<WriteIntent['drawOn']>,
  totals: AdmissionTotals,
): AdmissionRefusal | undefined {
  const remainder = draw.available_txamt - totals.unaccountedDraws;
  const amount = amountDisplay(intent.txamt, intent.txcurrcd);
  const left = amountDisplay(Math.max(0, remainder), intent.txcurrcd);
  if (draw.kind === 'refund') {
    if (intent.txamt <= remainder) return undefined;
    return {
      message: `refund of ${amount} exceeds the refundable remainder ${left} (counting refunds of payment ${draw.orig_syssn} already sent and not yet shown by QFPay).`,
      next_action: `Nothing was sent to QFPay. Query the payment again for its current remainder and refund at most that.`,
    };
  }
  if (totals.released) {
    return {
      message: `pre-authorisation ${draw.orig_syssn} was already released; nothing more can be captured or released on it.`,
      next_action:
        'Nothing was sent to QFPay. Take a new payment if money is still owed; query_transaction shows the captures made before the release.',
    };
  }
  if (intent.tool === 'release_preauth') {
    if (remainder <= 0) {
      return {
        message: `nothing is left to release on pre-authorisation ${draw.orig_syssn}: it is fully captured (counting captures already sent and not yet shown by QFPay).`,
        next_action: 'Nothing was sent to QFPay and nothing needs releasing.',
      };
    }
    if (intent.txamt === remainder) return undefined;
    return {
      message: `the uncaptured remainder of pre-authorisation ${draw.orig_syssn} is now ${left}, not ${amount} (a capture was sent meanwhile).`,
      next_action:
        'Nothing was sent to QFPay. Call release_preauth again: it releases the current remainder.',
    };
  }
  if (intent.txamt <= remainder) return undefined;
  return {
    message: `capture of ${amount} exceeds the uncaptured remainder ${left} of pre-authorisation ${draw.orig_syssn} (counting captures already sent and not yet shown by QFPay).`,
    next_action: `Nothing was sent to QFPay. Capture at most ${Math.max(0, remainder)} (${left}).`,
  };
}

function conflictRefusal(key: string, holder: KeyHolder): GuardOutcome<never> {
  const outTradeNo = key.slice(key.indexOf(':') + 1);
  if (key.startsWith('release:')) {
    return refused(
      `The pre-authorisation with out_trade_no ${outTradeNo} was already released by an earlier release_preauth call recorded at ${holder.intent.time} (with other parameters); a pre-authorisation is released once.`,
      'Nothing was sent to QFPay. Query the authorisation (query_transaction) to see its state.',
    );
  }
  return refused(
    `out_trade_no ${outTradeNo} was already used by an earlier ${holder.intent.tool} call recorded at ${holder.intent.time} with different parameters; QFPay treats out_trade_no as unique across all payments and refunds, so this request was refused.`,
    CONFLICT_NEXT_ACTION,
  );
}

function isSettled(status: NormalisedStatus): boolean {
  return status !== 'UNKNOWN' && status !== 'PROCESSING' && status !== 'AWAITING_CUSTOMER';
}

function refused(reason: string, nextAction: string): GuardOutcome<never> {
  return { kind: 'refused', reason, next_action: nextAction };
}

function ledgerRefusal(error: unknown): GuardOutcome<never> {
  if (error instanceof LedgerError) return refused(error.message, error.nextAction);
  return refused(
    `The audit ledger cannot record this action (${errorText(error)}); the money-moving action was not sent to QFPay.`,
    'Nothing was sent to QFPay. Ask the operator to check the audit ledger (qfpay-mcp doctor), then try again.',
  );
}

function binding(intent: WriteIntent): ConfirmationBinding {
  return {
    tool: intent.tool,
    environment: intent.environment,
    merchant: intent.merchant,
    params: intent.params,
  };
}

/** What goes into the ledger: the parameters minus digests of one-time codes (the code itself is masked). */
function ledgerParams(intent: WriteIntent): Record<string, unknown> {
  const { auth_code_sha256: _digest, ...rest } = intent.params;
  return rest;
}

/** Who asked, without storing a session id that could be replayed: an OAuth client id or a digest. */
function callerOf(ctx: GuardContext): string | undefined {
  if (ctx.clientId) return `client ${ctx.clientId}`;
  if (ctx.sessionId)
    return `session ${createHash('sha256').update(ctx.sessionId, 'utf8').digest('hex').slice(0, 12)}`;
  return undefined;
}

function endpointOf(intent: WriteIntent): RespcdEndpoint {
  if (intent.tool === 'create_payment' || intent.tool === 'create_checkout_link') return 'payment';
  if (intent.tool === 'refund') return 'refund';
  if (intent.tool === 'capture_preauth') return 'authtrade';
  if (intent.tool === 'release_preauth') return 'unfreeze';
  return intent.params.endpoint === 'reversal' ? 'reversal' : 'close';
}

/**
 * What a failed execution means for the ledger, and so for the out_trade_no (the store releases
 * the number on `processed: false` or FAILED): not processed by QFPay (not sent, rate limited,
 * refused before sending) and definite refusals release it; anything that may have been processed
 * keeps it, with the outcome UNKNOWN until a query says otherwise.
 */
function classifyFailure(error: unknown, intent: WriteIntent): ExecutionReport & { processed?: boolean } {
  // The request never left this process (its deadline passed or its caller gave up while it
  // waited for the merchant's rate budget): nothing was charged, the number is free again.
  if (error instanceof QfpayNotSentError) {
    return { status: 'FAILED', processed: false, message: `not sent: ${error.message}` };
  }
  if (error instanceof QfpayRateLimitedError) {
    return { status: 'FAILED', processed: false, message: 'QFPay kept answering HTTP 429; not processed' };
  }
  if (error instanceof QfpayValidationError || error instanceof QfpayConfigError) {
    return { status: 'FAILED', processed: false, message: `refused before sending: ${error.message}` };
  }
  if (error instanceof QfpayUpstreamError) {
    const { explanation, status } = upstreamWriteVerdict(error, endpointOf(intent));
    return { status, respcd: error.respcd, message: explanation.meaning };
  }
  if (error instanceof QfpayUnknownOutcomeError) {
    return { status: 'UNKNOWN', message: `answer lost: ${error.reason}` };
  }
  return { status: 'UNKNOWN', message: 'unexpected failure after the call was started; outcome unknown' };
}

/** One ledger record as the audit resource shows it. */
function auditLine(record: LedgerRecord): Readonly<Record<string, unknown>> {
  return {
    seq: record.seq,
    time: record.time,
    step: record.step,
    tool: record.tool,
    out_trade_no: record.out_trade_no,
    amount_display: amountDisplay(record.txamt, record.txcurrcd),
    txamt: record.txamt,
    txcurrcd: record.txcurrcd,
    status: record.status,
    intent_id: record.intent_id,
    ...(record.syssn ? { syssn: record.syssn } : {}),
    ...(record.orig_syssn ? { orig_syssn: record.orig_syssn } : {}),
    ...(record.respcd ? { respcd: record.respcd } : {}),
    ...(record.message ? { message: record.message } : {}),
    ...(record.approval ? { approval: approvalKindOf(record.approval) ?? record.approval } : {}),
    ...(record.processed === false ? { processed: false } : {}),
    ...(record.params ? { params: record.params } : {}),
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : 'unknown error';
}
