import type { QfpayClient } from '../../qfpay/client.js';
import { explainRespcd } from '../../qfpay/catalog/index.js';
import type { RespcdEndpoint } from '../../qfpay/catalog/types.js';
import {
  QfpayConfigError,
  QfpayRateLimitedError,
  QfpayUpstreamError,
  QfpayValidationError,
} from '../../qfpay/errors.js';
import { observe, pollUntilFinal } from '../../qfpay/reconcile.js';
import type { NormalisedStatus } from '../../qfpay/types.js';
import type { ExecutionReport, GuardOutcome, RunOptions, WriteIntent } from '../guard.js';
import { CONFIRMATION_REQUIRED } from '../result-shape.js';
import { type KnownFields, type ToolCall, ToolFailure } from './define.js';
import { cleanUpstreamText } from '../upstream-text.js';
import { describeFailure } from './failures.js';
import { describeRef, type TransactionRef } from './views.js';

/**
 * Steps every money-moving tool shares: needing a client, going through the guard, turning the
 * guard's answers into results, explaining QFPay's refusals, and reconciling a lost answer by
 * querying the same reference (never by re-sending).
 */

export function requireClient(call: ToolCall): QfpayClient {
  const { client } = call.deps;
  if (client) return client;
  throw new ToolFailure({
    kind: 'configuration',
    message: 'No QFPay credentials are configured on this server, so it cannot reach QFPay.',
    next_action:
      'Ask the operator to set QFPAY_APPCODE and QFPAY_KEY (or use QFPAY_ENV=local for the simulator). Reference tools (explain_respcd, list_pay_types, list_currencies) work without credentials.',
  });
}

export async function runThroughGuard<T>(
  call: ToolCall,
  intent: WriteIntent,
  confirmationToken: string | undefined,
  execute: () => Promise<T>,
  options?: RunOptions<T>,
): Promise<GuardOutcome<T>> {
  return call.deps.guard.run(intent, confirmationToken, call.guardContext, execute, options);
}

/** Runs `work` alone among calls with the same key when the guard can serialise; otherwise just runs it. */
export function exclusively<R>(call: ToolCall, key: string, work: () => Promise<R>): Promise<R> {
  const { guard } = call.deps;
  return guard.exclusive ? guard.exclusive(key, work) : work();
}

/**
 * Tells the guard what a query established about a write whose answer was lost or not final, so
 * the audit ledger has it. Best effort: the answer to the caller does not depend on it.
 */
export async function noteReconciliation(
  call: ToolCall,
  intent: WriteIntent,
  report: ExecutionReport,
): Promise<void> {
  try {
    await call.deps.guard.noteReconciliation?.(intent, report);
  } catch {
    // The guard logs what it could not record.
  }
}

export type Observation = ReturnType<typeof observe>;

/**
 * One query of the reference's current state, for answering a replay. Undefined when the query
 * itself failed (the caller then answers from what was recorded).
 */
export async function readCurrent(call: ToolCall, ref: TransactionRef): Promise<Observation | undefined> {
  const client = requireClient(call);
  const query = {
    ...(ref.syssn ? { syssn: ref.syssn } : {}),
    ...(!ref.syssn && ref.out_trade_no ? { out_trade_no: ref.out_trade_no } : {}),
  };
  try {
    return observe(await client.findTransaction(query, { signal: call.signal }), query);
  } catch (error) {
    if (call.signal.aborted) throw error;
    return undefined;
  }
}

/** The sentence that opens every answer replayed from an earlier identical call. */
export function replayPreamble(recordedAt: string, reference: string): string {
  return `Already sent earlier (${recordedAt}) with ${reference} and the same parameters: nothing was sent to QFPay again.`;
}

/** Fields of a CONFIRMATION_REQUIRED answer: nothing was sent; the caller repeats with the token. */
export function confirmationFields(
  outcome: Extract<GuardOutcome<unknown>, { kind: 'confirmation_required' }>,
  toolName: string,
  repeatHint: string,
): {
  status: typeof CONFIRMATION_REQUIRED;
  confirmation_token: string;
  confirmation_summary: string;
  confirmation_expires_at: string;
  next_action: string;
} {
  return {
    status: CONFIRMATION_REQUIRED,
    confirmation_token: outcome.token,
    confirmation_summary: outcome.summary,
    confirmation_expires_at: outcome.expires_at,
    next_action: `Nothing was sent to QFPay. Show confirmation_summary to the user and ask for approval. If they approve, call ${toolName} again with exactly the same arguments (${repeatHint}) plus confirmation_token, before ${outcome.expires_at}.`,
  };
}

export function refusal(
  outcome: Extract<GuardOutcome<unknown>, { kind: 'refused' }>,
  known: KnownFields,
): ToolFailure {
  return new ToolFailure(
    { kind: 'refused', message: outcome.reason, next_action: outcome.next_action },
    known,
  );
}

/**
 * QFPay refused a write with a definite code. The status is FAILED for final codes; transient
 * codes leave the outcome UNKNOWN because the safe next step is a query, then a retry with the
 * SAME out_trade_no (which QFPay deduplicates), never a new one.
 */
export function upstreamFailure(
  error: QfpayUpstreamError,
  endpoint: RespcdEndpoint,
  payType: string | undefined,
  known: KnownFields,
): ToolFailure {
  const explanation = explainRespcd(error.respcd, { endpoint, ...(payType ? { payType } : {}) });
  const upstreamText = cleanUpstreamText(error.upstreamMessage, 160);
  const status = explanation.outcome === 'failed' ? 'FAILED' : 'UNKNOWN';
  return new ToolFailure(
    {
      kind: 'upstream',
      respcd: error.respcd,
      message:
        `QFPay answered ${error.respcd}: ${explanation.meaning}` +
        (upstreamText ? ` (QFPay said: "${upstreamText}")` : ''),
      next_action: explanation.next_action,
    },
    {
      ...known,
      status,
      respcd: error.respcd,
      respcd_explanation: explanation,
      next_action: explanation.next_action,
    },
  );
}

export function rateLimitFailure(
  error: QfpayRateLimitedError,
  ref: TransactionRef,
  known: KnownFields,
): ToolFailure {
  return new ToolFailure(
    {
      kind: 'rate_limited',
      message: `${error.message}.`,
      next_action: `Nothing was processed. Wait a few seconds, then call again with the same arguments (same ${describeRef(ref)}).`,
    },
    known,
  );
}

/**
 * Translates whatever a write threw into a failure that keeps the references known so far (the
 * out_trade_no above all). QFPay's definite refusals and client-side validation say nothing was
 * done; anything unexpected leaves the outcome UNKNOWN, because the request may have been sent.
 */
export function explainWriteError(
  error: unknown,
  call: ToolCall,
  context: { endpoint: RespcdEndpoint; payType: string | undefined; ref: TransactionRef; known: KnownFields },
): ToolFailure {
  const { endpoint, payType, ref, known } = context;
  if (error instanceof ToolFailure) return new ToolFailure(error.info, { ...known, ...error.known });
  if (error instanceof QfpayUpstreamError) return upstreamFailure(error, endpoint, payType, known);
  if (error instanceof QfpayRateLimitedError) return rateLimitFailure(error, ref, known);
  const described = describeFailure(error, call.deps.log);
  if (error instanceof QfpayValidationError || error instanceof QfpayConfigError) {
    return new ToolFailure(described.info, { ...known, ...described.known });
  }
  const next = `The outcome is unknown. Do not create a new order or send this again: call query_transaction with ${describeRef(ref)} first.`;
  return new ToolFailure(
    { ...described.info, next_action: next },
    { ...known, ...described.known, status: 'UNKNOWN', next_action: next },
  );
}

export type PollResult = Awaited<ReturnType<typeof pollUntilFinal>>;

/**
 * After a write whose answer was lost: query the same reference until the transaction is final or
 * the reconciliation window passes. Progress is reported on every poll so the caller sees why
 * the call takes longer.
 */
export async function reconcileLostAnswer(
  call: ToolCall,
  ref: TransactionRef,
  what: string,
  isDone?: (status: NormalisedStatus) => boolean,
): Promise<PollResult> {
  const client = requireClient(call);
  const { unknownOutcomeWindowMs, pollIntervalMs } = call.deps.timing;
  await call.reportProgress({
    progress: 0,
    message: `QFPay's answer to the ${what} was lost; querying ${describeRef(ref)}`,
  });
  return pollUntilFinal(
    client,
    {
      ...(ref.syssn ? { syssn: ref.syssn } : {}),
      ...(ref.out_trade_no ? { out_trade_no: ref.out_trade_no } : {}),
    },
    {
      timeoutMs: unknownOutcomeWindowMs,
      ...(pollIntervalMs !== undefined ? { intervalMs: pollIntervalMs } : {}),
      signal: call.signal,
      ...(isDone ? { isDone } : {}),
      onPoll: ({ attempt, status, elapsedMs }) => {
        void call.reportProgress({
          progress: attempt,
          message: `reconciling ${what}: ${status} after ${Math.round(elapsedMs / 1000)} s`,
        });
      },
    },
  );
}
