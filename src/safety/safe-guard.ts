import { createHash } from 'node:crypto';

import { upstreamWriteVerdict } from '../qfpay/outcome.js';
import { amountDisplay } from '../qfpay/money.js';
import type { RespcdEndpoint } from '../qfpay/catalog/types.js';
import type { QfpayClient } from '../qfpay/client.js';
import {
  QfpayConfigError,
  QfpayRateLimitedError,
  QfpayUnknownOutcomeError,
  QfpayUpstreamError,
  QfpayValidationError,
} from '../qfpay/errors.js';
import { observe } from '../qfpay/reconcile.js';
import type { NormalisedStatus } from '../qfpay/types.js';
import type { ConfirmationBinding, ConfirmationTokens } from './confirmation.js';
import {
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
import { type EarlierDecision, fingerprintParams, IdempotencyRegistry } from './idempotency.js';
import {
  type AuditLedger,
  hongKongDay,
  type LedgerEntry,
  LedgerError,
  type LedgerRecord,
  merchantFingerprint,
  type MoneyActionKind,
  movedNothing,
} from './ledger.js';
import { checkAmountCaps, checkUrlAllowed, confirmationRequired, type MoneyPolicy } from './policy.js';
import { findLuhnPan } from './sanitize.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { LedgerAccess } from './ledger-access.js';
import { confirmationSummary } from './summary.js';

/**
 * The full money guard: every rule that stands between an agent and QFPay, enforced here and
 * nowhere else (docs/ARCHITECTURE.md, "The money guard").
 *
 * For each write, in order:
 * 1. production gate: `prod` writes are refused unless the operator allowed them;
 * 2. idempotency: the same out_trade_no with the same parameters returns what was recorded (or
 *    shares the execution still running), a different one is refused; nothing is sent either way;
 * 3. policy: notify/return URLs on the allow-list, no card number in free text, per-transaction
 *    and daily caps (counted from the ledger plus what is being sent right now);
 * 4. confirmation, in prod (or everywhere with QFPAY_CONFIRM=always): the person is asked
 *    directly when the client can carry the question (a pushed elicitation on 2025-era
 *    connections; on 2026-07-28 requests an `input_required` answer whose request state carries
 *    the bound token, redeemed when the call comes back approved), otherwise a bound single-use
 *    token is issued and the call must be repeated with it;
 * 5. the intent is written to the ledger and fsync'd; if that fails, nothing is sent;
 * 6. the call is made once; its outcome (or the fact that it is unknown) is recorded.
 *
 * From the idempotency check of a confirmed call to claiming its key there is no await, so
 * identical calls arriving together see each other: one executes, the others share its result.
 */

type Settled =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/** What the idempotency registry holds per out_trade_no. */
interface Remembered {
  readonly tool: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly recorded: RecordedWrite;
  /** The answer itself, for executions of this process. */
  readonly settled?: Settled;
}

export interface SafeGuardOptions {
  readonly environment: WriteIntent['environment'];
  readonly merchant: MerchantIdentity;
  readonly policy: MoneyPolicy;
  /** The audit ledger; when it cannot be opened or written, every write is refused (fail closed). */
  readonly ledger: LedgerAccess;
  readonly tokens: ConfirmationTokens;
  readonly log: (line: string) => void;
  /** Clock for daily caps (tests). */
  readonly now?: () => Date;
  /** Called once after the ledger is closed (removes a temporary ledger). */
  readonly onClose?: () => Promise<void>;
}

export interface StartupReconciliation {
  readonly unfinished: number;
  readonly resolved: number;
  readonly stillOpen: number;
}

/** How long an unfinished intent is worth querying on start (QFPay answers for recent months). */
const RECONCILE_MAX_AGE_MS = 35 * 24 * 3_600_000;
const RECONCILE_MAX_INTENTS = 200;
const RECONCILE_CONCURRENCY = 4;

/** payment and refund numbers share QFPay's namespace; a cancel acts on a payment's number. */
function idempotencyKey(tool: WriteToolName, outTradeNo: string): string {
  return tool === 'cancel_payment' ? `cancel:${outTradeNo}` : `order:${outTradeNo}`;
}

function kindOf(tool: WriteToolName): MoneyActionKind {
  switch (tool) {
    case 'create_payment':
      return 'payment';
    case 'refund':
      return 'refund';
    case 'cancel_payment':
      return 'cancel';
  }
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

/**
 * An intent holds its out_trade_no (replays, conflicts) unless QFPay certainly did not process it
 * or definitely refused it: then the same number may be sent again, and QFPay decides.
 */
function holdsKey(entry: LedgerEntry): boolean {
  const latest = entry.outcome;
  return !(latest && (latest.processed === false || latest.status === 'FAILED'));
}

export class SafeGuard implements MoneyGuard {
  private readonly registry: IdempotencyRegistry<Remembered, LedgerEntry>;
  private readonly refundLocks = new KeyedMutex();
  /** Amounts of payments/refunds claimed but not yet in the ledger, per day|kind|currency. */
  private readonly reserved = new Map<string, number>();
  private readonly merchantPrint: string;
  private readonly now: () => Date;
  private closed = false;

  constructor(private readonly options: SafeGuardOptions) {
    this.merchantPrint = merchantFingerprint(options.merchant);
    this.now = options.now ?? (() => new Date());
    this.registry = new IdempotencyRegistry<Remembered, LedgerEntry>({
      ledger: { findByOutTradeNo: (key) => this.ledgerEntriesFor(key) },
      replayFromLedger: (entry) => rememberedFromLedger(entry),
    });
  }

  get ledgerFile(): string {
    return this.options.ledger.file;
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
      exclusive: (key, work) => this.exclusive(key, work),
      unaccountedRefunds: (origSyssn, visible) => this.unaccountedRefunds(origSyssn, visible),
      noteReconciliation: (intent, report) => this.noteReconciliation(intent, report),
      auditView: () => this.auditView(),
    };
  }

  async recall(tool: WriteToolName, outTradeNo: string): Promise<RecalledWrite | undefined> {
    try {
      // Another process may have written since this one last looked.
      await (await this.options.ledger.existing())?.refresh();
    } catch {
      // An unusable ledger refuses the write itself (fail closed); what it held is unknown here.
      return undefined;
    }
    const remembered = this.registry.recorded(idempotencyKey(tool, outTradeNo));
    if (!remembered || remembered.tool !== tool) return undefined;
    return {
      txamt: remembered.txamt,
      txcurrcd: remembered.txcurrcd,
      params: remembered.params,
      recorded: remembered.recorded,
    };
  }

  exclusive<R>(key: string, work: () => Promise<R>): Promise<R> {
    return this.refundLocks.run(key, work);
  }

  async unaccountedRefunds(origSyssn: string, visibleRefunds: ReadonlySet<string>): Promise<number> {
    const ledger = await this.options.ledger.existing();
    if (!ledger) return 0;
    await ledger.refresh();
    return ledger
      .intents((intent) => this.isOurs(intent) && intent.kind === 'refund' && intent.orig_syssn === origSyssn)
      .filter((entry) => !movedNothing(entry.outcome) && !visibleRefunds.has(entry.intent.out_trade_no))
      .reduce((sum, entry) => sum + entry.intent.txamt, 0);
  }

  async noteReconciliation(intent: WriteIntent, report: ExecutionReport): Promise<void> {
    const ledger = this.options.ledger.current;
    if (!ledger) return;
    const fingerprint = intentFingerprint(intent);
    const entry = ledger
      .findByOutTradeNo(intent.out_trade_no)
      .filter((e) => this.isOurs(e.intent) && e.intent.fingerprint === fingerprint)
      .at(-1);
    if (!entry || entry.outcome?.status === report.status) return;
    try {
      await ledger.recordReconciliation(entry.intent.intent_id, {
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

  auditView(): AuditView {
    return {
      recent: async (limit) => {
        const ledger = await this.options.ledger.existing();
        if (!ledger) return [];
        await ledger.refresh();
        return ledger
          .recent(ledger.count)
          .filter((record) => this.isOurs(record))
          .slice(0, Math.max(0, limit))
          .map(auditLine);
      },
    };
  }

  /**
   * On start, before any write is served: every intent of this merchant whose outcome is not final
   * (the process stopped mid-call, or the answer was lost) is queried once by its out_trade_no,
   * within `budgetMs` in total, and what QFPay says is recorded. Never re-sends anything.
   */
  async reconcilePending(
    client: Pick<QfpayClient, 'findTransaction'>,
    budgetMs: number,
  ): Promise<StartupReconciliation> {
    let ledger: AuditLedger | undefined;
    try {
      ledger = await this.options.ledger.existing();
    } catch (error) {
      this.options.log(
        `qfpay-mcp: ${errorText(error)} Money-moving tools refuse every call until this is fixed.`,
      );
      return { unfinished: 0, resolved: 0, stillOpen: 0 };
    }
    if (!ledger) return { unfinished: 0, resolved: 0, stillOpen: 0 };
    const oldest = this.now().getTime() - RECONCILE_MAX_AGE_MS;
    const pending = ledger
      .pendingIntents()
      .filter((intent) => this.isOurs(intent) && Date.parse(intent.time) >= oldest)
      .reverse()
      .slice(0, RECONCILE_MAX_INTENTS);
    if (pending.length === 0) return { unfinished: 0, resolved: 0, stillOpen: 0 };
    const deadline = Date.now() + budgetMs;
    let resolved = 0;
    const queue = [...pending];
    const worker = async (): Promise<void> => {
      for (let intent = queue.shift(); intent; intent = queue.shift()) {
        if (Date.now() >= deadline) return;
        if (await this.reconcileOne(client, ledger, intent, deadline)) resolved += 1;
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
      await this.options.ledger.close();
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
    try {
      await (await this.options.ledger.existing())?.refresh();
    } catch (error) {
      return ledgerRefusal(error);
    }
    const key = idempotencyKey(intent.tool, intent.out_trade_no);
    const fingerprint = intentFingerprint(intent);
    const earlier = this.registry.peek(key, fingerprint);
    if (earlier.kind !== 'none') return this.answerFromEarlier<T>(earlier);
    const problem = this.policyProblem(intent);
    if (problem) return problem;

    let approvedBy: 'token' | 'elicitation' | undefined;
    if (confirmationRequired(this.options.policy, intent.environment)) {
      const confirmation =
        ctx.inBand?.kind === 'answered'
          ? this.answeredInBand(intent, ctx.inBand)
          : confirmationToken !== undefined
            ? this.redeem(intent, confirmationToken, 'token')
            : await this.askOrIssue(intent, ctx, approval, options.signal);
      if (confirmation.kind !== 'approved') return confirmation.outcome;
      approvedBy = confirmation.via;
      if (approvedBy === 'elicitation') {
        // Time passed while the person decided: the same action may have run meanwhile.
        const meanwhile = this.registry.peek(key, fingerprint);
        if (meanwhile.kind !== 'none') return this.answerFromEarlier<T>(meanwhile);
        const changed = this.policyProblem(intent);
        if (changed) return changed;
      }
    }

    const decision = this.registry.begin(key, fingerprint);
    if (decision.kind !== 'new') return this.answerFromEarlier<T>(decision);
    const releaseReservation = this.reserve(intent);
    let ledger: AuditLedger;
    let intentRecord: LedgerRecord;
    try {
      ledger = await this.options.ledger.writable();
      intentRecord = await ledger.recordIntent({
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
      });
    } catch (error) {
      decision.fail(error);
      return ledgerRefusal(error);
    } finally {
      // Recorded (the ledger counts it from now on) or refused: either way no longer reserved.
      releaseReservation();
    }

    const remembered = (settled: Settled, report: ExecutionReport): Remembered => ({
      tool: intent.tool,
      txamt: intent.txamt,
      txcurrcd: intent.txcurrcd,
      params: intent.params,
      recorded: {
        status: report.status,
        ...(report.syssn ? { syssn: report.syssn } : {}),
        ...(report.respcd ? { respcd: report.respcd } : {}),
        recorded_at: intentRecord.time,
        source: 'memory',
      },
      settled,
    });

    let value: T;
    try {
      value = await execute();
    } catch (error) {
      const failure = classifyFailure(error, intent);
      await this.recordOutcome(ledger, intentRecord, failure.report);
      if (failure.holdsKey) decision.complete(remembered({ ok: false, error }, failure.report));
      else decision.fail(error);
      throw error;
    }
    const report = options.describe?.(value) ?? {
      status: 'UNKNOWN' as const,
      message: 'QFPay answered; this tool did not classify the answer',
    };
    await this.recordOutcome(ledger, intentRecord, report);
    decision.complete(remembered({ ok: true, value }, report));
    return { kind: 'executed', value, ...(approvedBy ? { approval: approvedBy } : {}) };
  }

  private async answerFromEarlier<T>(decision: EarlierDecision<Remembered>): Promise<GuardOutcome<T>> {
    switch (decision.kind) {
      case 'conflict':
        return refused(decision.message, decision.next_action);
      case 'replay':
        return replayed<T>(decision.result);
      case 'in_flight': {
        let shared: Remembered;
        try {
          shared = await decision.promise;
        } catch (error) {
          // The execution we waited for stopped before anything could reach QFPay.
          if (error instanceof LedgerError) return ledgerRefusal(error);
          throw error;
        }
        if (shared.settled?.ok) return { kind: 'executed', value: shared.settled.value as T };
        if (shared.settled) throw shared.settled.error;
        return replayed<T>(shared);
      }
    }
  }

  /**
   * A 2026-07-28 call repeated with the person's answer. Their approval counts only through the
   * token the request state carried back: it is redeemed against this call's own parameters, so
   * altered state, a different action, an expired or a reused question all execute nothing.
   */
  private answeredInBand(
    intent: WriteIntent,
    inBand: Extract<InBandConfirmation, { kind: 'answered' }>,
  ): { kind: 'approved'; via: 'elicitation' } | { kind: 'stop'; outcome: GuardOutcome<never> } {
    if (inBand.answer !== 'approved')
      return { kind: 'stop', outcome: this.personSaidNo(intent, inBand.answer) };
    return this.redeem(intent, inBand.token, 'elicitation');
  }

  private redeem<Via extends 'token' | 'elicitation'>(
    intent: WriteIntent,
    token: string,
    via: Via,
  ): { kind: 'approved'; via: Via } | { kind: 'stop'; outcome: GuardOutcome<never> } {
    const result = this.options.tokens.redeem(token, binding(intent));
    if (result.ok) return { kind: 'approved', via };
    this.options.log(
      `qfpay-mcp: ${intent.tool} ${intent.out_trade_no}: confirmation refused (${result.reason}, ${via})`,
    );
    return {
      kind: 'stop',
      outcome: refused(
        `The confirmation was refused: ${result.message}`,
        via === 'token'
          ? `Nothing was sent to QFPay. Call ${intent.tool} again WITHOUT confirmation_token to get a fresh summary and token, show the summary to the person, and repeat the call with exactly the same arguments and the new token once they approve.`
          : `Nothing was sent to QFPay. Call ${intent.tool} again if the action is still wanted: the person is asked afresh.`,
      ),
    };
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

  private async askOrIssue(
    intent: WriteIntent,
    ctx: GuardContext,
    approval: HumanApproval | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ kind: 'approved'; via: 'elicitation' } | { kind: 'stop'; outcome: GuardOutcome<never> }> {
    const summary = confirmationSummary(intent);
    // A 2026-07-28 request has no channel for a pushed question: it is asked in the answer instead.
    if (ctx.inBand === undefined && approval?.canAsk()) {
      const answer = await approval.ask(summary, ctx, signal);
      // An approval that arrives after the caller gave up must not move money nobody will hear of.
      if (answer === 'approved' && !signal?.aborted) return { kind: 'approved', via: 'elicitation' };
      if (answer === 'approved' || signal?.aborted) {
        return {
          kind: 'stop',
          outcome: refused(
            'The request was cancelled while the person was being asked; nothing was sent.',
            'Nothing was sent to QFPay. Call again if the action is still wanted.',
          ),
        };
      }
      if (answer === 'declined' || answer === 'cancelled') {
        return { kind: 'stop', outcome: this.personSaidNo(intent, answer) };
      }
    }
    const issued = this.options.tokens.issue(binding(intent));
    return {
      kind: 'stop',
      outcome: {
        kind: 'confirmation_required',
        token: issued.token,
        summary,
        expires_at: issued.expires_at,
        ...(ctx.inBand?.kind === 'ask' ? { askInBand: true } : {}),
      },
    };
  }

  /** URL allow-list, card numbers in free text, caps; undefined when the intent may proceed. */
  private policyProblem(intent: WriteIntent): GuardOutcome<never> | undefined {
    const { policy } = this.options;
    for (const field of ['notify_url', 'return_url'] as const) {
      const url = intent.params[field];
      if (typeof url !== 'string') continue;
      const check = checkUrlAllowed(policy, field, url);
      if (!check.ok) return refused(check.message, check.next_action);
    }
    for (const field of ['goods_name', 'goods_info']) {
      const pan = findLuhnPan(intent.params[field]);
      if (pan) {
        return refused(
          `${field} contains what looks like a card number (${pan.masked}); this server never handles card data.`,
          `Nothing was sent to QFPay. Remove the number from ${field} and call again.`,
        );
      }
    }
    const kind = kindOf(intent.tool);
    if (kind === 'cancel') return undefined;
    const check = checkAmountCaps(policy, {
      kind,
      txamt: intent.txamt,
      txcurrcd: intent.txcurrcd,
      todayTotal: this.countedToday(kind, intent.txcurrcd),
    });
    return check.ok ? undefined : refused(check.message, check.next_action);
  }

  private countedToday(kind: 'payment' | 'refund', currency: string): number {
    const day = hongKongDay(this.now());
    const recorded = this.options.ledger.current?.totals(day, kind).get(currency) ?? 0;
    return recorded + (this.reserved.get(`${day}|${kind}|${currency}`) ?? 0);
  }

  /** Counts an amount towards today's caps until its intent is in the ledger. */
  private reserve(intent: WriteIntent): () => void {
    const kind = kindOf(intent.tool);
    if (kind === 'cancel') return () => undefined;
    const slot = `${hongKongDay(this.now())}|${kind}|${intent.txcurrcd}`;
    this.reserved.set(slot, (this.reserved.get(slot) ?? 0) + intent.txamt);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.reserved.get(slot) ?? 0) - intent.txamt;
      if (left > 0) this.reserved.set(slot, left);
      else this.reserved.delete(slot);
    };
  }

  private async recordOutcome(
    ledger: AuditLedger,
    intentRecord: LedgerRecord,
    report: ExecutionReport & { processed?: boolean },
  ): Promise<void> {
    try {
      await ledger.recordOutcome(intentRecord.intent_id, {
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
    ledger: AuditLedger,
    intent: LedgerRecord,
    deadline: number,
  ): Promise<boolean> {
    const entry = ledger
      .findByOutTradeNo(intent.out_trade_no)
      .find((e) => e.intent.intent_id === intent.intent_id);
    let rows;
    try {
      rows = await client.findTransaction(
        { out_trade_no: intent.out_trade_no },
        { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) },
      );
    } catch (error) {
      this.options.log(
        `qfpay-mcp: could not query ${intent.out_trade_no} while reconciling the audit ledger: ${errorText(error)}`,
      );
      return false;
    }
    const seen = observe(rows, { out_trade_no: intent.out_trade_no });
    if (!seen.record) {
      if (!entry?.outcome) {
        await ledger
          .recordReconciliation(intent.intent_id, {
            status: 'UNKNOWN',
            message: 'interrupted before its outcome was recorded; QFPay does not show it (yet)',
          })
          .catch((error: unknown) => this.options.log(`qfpay-mcp: audit ledger: ${errorText(error)}`));
      }
      return false;
    }
    const status: NormalisedStatus = seen.status;
    if (entry?.outcome?.status !== status) {
      try {
        await ledger.recordReconciliation(intent.intent_id, {
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

  /** Ledger entries that hold `key` for this merchant and environment (the registry's fallback). */
  private ledgerEntriesFor(key: string): LedgerEntry[] {
    const ledger = this.options.ledger.current;
    if (!ledger) return [];
    const separator = key.indexOf(':');
    const namespace = key.slice(0, separator);
    const outTradeNo = key.slice(separator + 1);
    return ledger
      .findByOutTradeNo(outTradeNo)
      .filter(
        (entry) =>
          this.isOurs(entry.intent) &&
          (entry.intent.kind === 'cancel') === (namespace === 'cancel') &&
          holdsKey(entry),
      );
  }

  private isOurs(record: LedgerRecord): boolean {
    return (
      record.environment === this.options.environment && record.merchant.fingerprint === this.merchantPrint
    );
  }
}

function isSettled(status: NormalisedStatus): boolean {
  return status !== 'UNKNOWN' && status !== 'PROCESSING' && status !== 'AWAITING_CUSTOMER';
}

function refused(reason: string, nextAction: string): GuardOutcome<never> {
  return { kind: 'refused', reason, next_action: nextAction };
}

function replayed<T>(remembered: Remembered): GuardOutcome<T> {
  return {
    kind: 'replayed',
    recorded: remembered.recorded,
    ...(remembered.settled?.ok ? { value: remembered.settled.value as T } : {}),
  };
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
  if (intent.tool === 'create_payment') return 'payment';
  if (intent.tool === 'refund') return 'refund';
  return intent.params.endpoint === 'reversal' ? 'reversal' : 'close';
}

/**
 * What a failed execution means for the ledger and for the out_trade_no: not processed by QFPay
 * (rate limited, refused before sending) and definite refusals release the number; anything that
 * may have been processed keeps it, with the outcome UNKNOWN until a query says otherwise.
 */
function classifyFailure(
  error: unknown,
  intent: WriteIntent,
): { report: ExecutionReport & { processed?: boolean }; holdsKey: boolean } {
  if (error instanceof QfpayRateLimitedError) {
    return {
      report: { status: 'FAILED', processed: false, message: 'QFPay kept answering HTTP 429; not processed' },
      holdsKey: false,
    };
  }
  if (error instanceof QfpayValidationError || error instanceof QfpayConfigError) {
    return {
      report: { status: 'FAILED', processed: false, message: `refused before sending: ${error.message}` },
      holdsKey: false,
    };
  }
  if (error instanceof QfpayUpstreamError) {
    const { explanation, status } = upstreamWriteVerdict(error, endpointOf(intent));
    return {
      report: { status, respcd: error.respcd, message: explanation.meaning },
      holdsKey: status === 'UNKNOWN',
    };
  }
  if (error instanceof QfpayUnknownOutcomeError) {
    return { report: { status: 'UNKNOWN', message: `answer lost: ${error.reason}` }, holdsKey: true };
  }
  return {
    report: { status: 'UNKNOWN', message: 'unexpected failure after the call was started; outcome unknown' },
    holdsKey: true,
  };
}

function rememberedFromLedger(entry: LedgerEntry): Remembered {
  const latest = entry.outcome;
  const withSyssn = [...entry.outcomes].reverse().find((record) => record.syssn);
  const status: NormalisedStatus = latest && latest.status !== 'INTENDED' ? latest.status : 'UNKNOWN';
  return {
    tool: entry.intent.tool,
    txamt: entry.intent.txamt,
    txcurrcd: entry.intent.txcurrcd,
    params: entry.intent.params ?? {},
    recorded: {
      status,
      ...(withSyssn?.syssn ? { syssn: withSyssn.syssn } : {}),
      ...(latest?.respcd ? { respcd: latest.respcd } : {}),
      recorded_at: entry.intent.time,
      source: 'ledger',
    },
  };
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
    ...(record.approval ? { approval: record.approval } : {}),
    ...(record.processed === false ? { processed: false } : {}),
    ...(record.params ? { params: record.params } : {}),
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : 'unknown error';
}
