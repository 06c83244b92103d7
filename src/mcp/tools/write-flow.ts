import type { QfpayClient } from '../../qfpay/client.js';
import type { EnvironmentName, RespcdEndpoint } from '../../qfpay/catalog/types.js';
import { QfpayUnknownOutcomeError } from '../../qfpay/errors.js';
import { observe, pollUntilFinal } from '../../qfpay/reconcile.js';
import type { NormalisedStatus } from '../../qfpay/types.js';
import type { ExecutionReport, GuardOutcome, WriteIntent } from '../../safety/guard.js';
import { CONFIRMATION_REQUIRED } from '../result-shape.js';
import { type KnownFields, type ToolCall, type ToolOutput, ToolFailure } from './define.js';
import { explainWriteError } from './failures.js';
import { describeRef, type TransactionRef } from './views.js';

/**
 * Steps every money-moving tool shares: needing a client, going through the guard, turning the
 * guard's answers into results (failures are explained by ./failures.ts), and reconciling a lost
 * answer by querying the same reference (never by re-sending).
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

/** The guard's answer for an action already sent earlier with the same parameters. */
export type ReplayedWrite<T> = Extract<GuardOutcome<T>, { kind: 'replayed' }>;

/** One money-moving call of a tool, and how each of the guard's answers becomes its result. */
export interface GuardedWrite<T, Output> {
  readonly intent: WriteIntent;
  readonly confirmationToken: string | undefined;
  /** The one call to QFPay; the guard decides whether it runs. */
  readonly send: () => Promise<T>;
  /** What the ledger records of QFPay's answer. */
  readonly describe: (response: T) => ExecutionReport;
  /** Fields already known, carried into every answer and failure (the out_trade_no above all). */
  readonly known: KnownFields;
  /** How a failure of `send` is explained (see explainWriteError). */
  readonly endpoint: RespcdEndpoint;
  readonly payType: string | undefined;
  readonly ref: TransactionRef;
  /** What the caller must repeat with the token, e.g. `including out_trade_no "…"`. */
  readonly repeatHint: string;
  /** First line of a CONFIRMATION_REQUIRED summary. */
  readonly confirmationHeadline: string;
  /** QFPay's answer was lost: reconcile by querying the same reference, never by re-sending. */
  readonly answerLost: () => Promise<ToolOutput<Output>>;
  readonly replayed: (outcome: ReplayedWrite<T>) => Promise<ToolOutput<Output>>;
  readonly executed: (response: T) => ToolOutput<Output> | Promise<ToolOutput<Output>>;
}

/** What a tool answers when a person must approve first; nothing was sent. */
export type ConfirmationAnswer = ReturnType<typeof confirmationAnswer>;

function confirmationAnswer(
  environment: EnvironmentName,
  known: KnownFields,
  fields: ReturnType<typeof confirmationFields>,
  headline: string,
) {
  return {
    structured: { environment, ...known, ...fields },
    // The token is in the text too: a client that reads only text must still be able to confirm.
    summary: `${headline}\n${fields.confirmation_summary}\nNext: ${fields.next_action}\nconfirmation_token: ${fields.confirmation_token}`,
  };
}

/**
 * Sends one write through the guard and turns its answer into the tool's result, the same way
 * for every money-moving tool: a refusal or a failure keeps the known fields, a confirmation
 * answer says nothing was sent, and a lost answer is reconciled rather than retried.
 */
export async function sendThroughGuard<T, Output>(
  call: ToolCall,
  write: GuardedWrite<T, Output>,
): Promise<ToolOutput<Output> | ConfirmationAnswer> {
  const { intent, known } = write;
  let outcome: GuardOutcome<T>;
  try {
    // The signal only cuts short asking the person; once sent, a write is seen through.
    outcome = await call.deps.guard.run(intent, write.confirmationToken, call.guardContext, write.send, {
      describe: write.describe,
      signal: call.signal,
    });
  } catch (error) {
    if (error instanceof QfpayUnknownOutcomeError) return write.answerLost();
    throw explainWriteError(error, call, {
      endpoint: write.endpoint,
      payType: write.payType,
      ref: write.ref,
      known,
    });
  }
  switch (outcome.kind) {
    case 'refused':
      throw refusal(outcome, known);
    case 'confirmation_required': {
      if (outcome.askInBand && call.askInBand) {
        call.askInBand({
          summary: outcome.summary,
          state: outcome.token,
          out_trade_no: intent.out_trade_no,
          ...(intent.language ? { language: intent.language } : {}),
        });
      }
      // The registration wrapper then answers with the question; the token answer stays the fallback.
      const fields = confirmationFields(outcome, intent.tool, write.repeatHint);
      return confirmationAnswer(call.deps.environment, known, fields, write.confirmationHeadline);
    }
    case 'replayed':
      return write.replayed(outcome);
    case 'executed':
      return write.executed(outcome.value);
  }
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
function confirmationFields(
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
    next_action: outcome.approvalUrl
      ? `Nothing was sent to QFPay. This server takes approvals only from the operator, on its own page: give the person this link to open and approve there: ${outcome.approvalUrl} . Once they approved, call ${toolName} again with exactly the same arguments (${repeatHint}) plus confirmation_token, before ${outcome.expires_at}. The token approves nothing by itself.`
      : `Nothing was sent to QFPay. Show confirmation_summary to the user and ask for approval. If they approve, call ${toolName} again with exactly the same arguments (${repeatHint}) plus confirmation_token, before ${outcome.expires_at}.`,
  };
}

function refusal(
  outcome: Extract<GuardOutcome<unknown>, { kind: 'refused' }>,
  known: KnownFields,
): ToolFailure {
  return new ToolFailure(
    { kind: 'refused', message: outcome.reason, next_action: outcome.next_action },
    known,
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
