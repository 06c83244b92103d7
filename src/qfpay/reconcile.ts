import type { QfpayClient, TransactionRef } from './client.js';
import { QfpayError } from './errors.js';
import { isFinal, isRefundRow, statusOfRecord, summariseTransactions } from './outcome.js';
import type { PaymentSummary } from './outcome.js';
import { sleep } from './time.js';
import type { NormalisedStatus, TransactionRecord } from './types.js';

/**
 * Resolving a pending or unknown transaction: query the SAME reference (out_trade_no or syssn)
 * until it is final or the window closes. Never re-POSTs anything.
 */

export interface PollInfo {
  attempt: number;
  status: NormalisedStatus;
  elapsedMs: number;
}

export interface PollOptions {
  /** How long to keep polling in total. */
  timeoutMs: number;
  /** First pause between polls (default 2000 ms); grows by half each time up to maxIntervalMs. */
  intervalMs?: number;
  /** Longest pause between polls (default 5000 ms, WeChat's 3–5 s guidance). */
  maxIntervalMs?: number;
  signal?: AbortSignal;
  onPoll?: (info: PollInfo) => void | Promise<void>;
  /** When to stop; default: the status is final. */
  isDone?: (status: NormalisedStatus) => boolean;
  /**
   * Lets news of a change (a verified notification) cut a pause short: called with a function that
   * ends the current pause; returns the function that stops listening.
   */
  wakeOn?: (wake: () => void) => () => void;
}

export interface PollResult {
  status: NormalisedStatus;
  /** The payment (with its refunds) the reference belongs to. */
  summary?: PaymentSummary;
  /** The row the reference names (a payment or a refund). */
  record?: TransactionRecord;
  polls: number;
  timedOut: boolean;
  /** The last query error seen, already safe to show (no keys, signatures or bodies). */
  lastError?: string;
}

const DEFAULT_INTERVAL_MS = 2_000;
const DEFAULT_MAX_INTERVAL_MS = 5_000;
const BACKOFF_FACTOR = 1.5;
const MIN_QUERY_WINDOW_MS = 1_000;

interface Observation {
  status: NormalisedStatus;
  summary?: PaymentSummary;
  record?: TransactionRecord;
}

/** Polls `ref` until `isDone` says so or `timeoutMs` passes; always polls at least once. */
export async function pollUntilFinal(
  client: Pick<QfpayClient, 'findTransaction'>,
  ref: TransactionRef,
  opts: PollOptions,
): Promise<PollResult> {
  const started = Date.now();
  const deadline = started + Math.max(0, opts.timeoutMs);
  const isDone = opts.isDone ?? isFinal;
  let interval = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  const maxInterval = Math.max(interval, opts.maxIntervalMs ?? DEFAULT_MAX_INTERVAL_MS);
  let lastError: string | undefined;
  let observation: Observation = { status: 'UNKNOWN' };

  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      const rows = await client.findTransaction(ref, { signal: querySignal(deadline, opts.signal) });
      observation = observe(rows, ref);
      lastError = undefined;
    } catch (error) {
      // The caller cancelling is not a query error.
      opts.signal?.throwIfAborted();
      lastError = describeError(error);
      observation = { status: 'UNKNOWN' };
    }
    const elapsedMs = Date.now() - started;
    await opts.onPoll?.({ attempt, status: observation.status, elapsedMs });
    const result = (timedOut: boolean): PollResult => ({
      ...observation,
      polls: attempt,
      timedOut,
      ...(lastError ? { lastError } : {}),
    });
    if (isDone(observation.status)) return result(false);
    const remaining = deadline - Date.now();
    if (remaining <= 0) return result(true);
    // The last poll lands on the deadline rather than past it.
    await pause(Math.min(interval, remaining), opts.signal, opts.wakeOn);
    interval = Math.min(maxInterval, interval * BACKOFF_FACTOR);
  }
}

/** Sleeps `ms`, or less when `wakeOn` says the transaction changed; rejects when `signal` aborts. */
async function pause(
  ms: number,
  signal: AbortSignal | undefined,
  wakeOn: PollOptions['wakeOn'],
): Promise<void> {
  if (!wakeOn) return sleep(ms, signal);
  const woken = new AbortController();
  const stop = wakeOn(() => woken.abort());
  try {
    await sleep(ms, signal ? AbortSignal.any([signal, woken.signal]) : woken.signal);
  } catch (error) {
    signal?.throwIfAborted();
    if (!woken.signal.aborted) throw error;
  } finally {
    stop();
  }
}

/** The status of the row `ref` names, read together with its payment and refunds. */
export function observe(rows: readonly TransactionRecord[], ref: TransactionRef): Observation {
  const record = rows.find(
    (r) =>
      (ref.syssn !== undefined && r.syssn === ref.syssn) ||
      (!ref.syssn && r.out_trade_no === ref.out_trade_no),
  );
  // Not found (yet) is not a failure: an order whose answer was lost may not be queryable at once.
  if (!record) return { status: 'UNKNOWN' };
  const summaries = summariseTransactions(rows);
  const paymentSyssn = isRefundRow(record) ? record.origssn : record.syssn;
  const summary =
    summaries.find((s) => s.syssn === paymentSyssn && s.payment_found) ??
    summaries.find((s) => s.syssn === paymentSyssn);
  const status = isRefundRow(record) ? statusOfRecord(record) : (summary?.status ?? statusOfRecord(record));
  return { status, record, ...(summary ? { summary } : {}) };
}

/**
 * A query does not outlive the polling window by more than MIN_QUERY_WINDOW_MS (so even a
 * window that is already over gets one real attempt), and the caller can still cancel it.
 */
function querySignal(deadline: number, caller: AbortSignal | undefined): AbortSignal {
  const window = AbortSignal.timeout(Math.max(MIN_QUERY_WINDOW_MS, deadline - Date.now()));
  return caller ? AbortSignal.any([window, caller]) : window;
}

function describeError(error: unknown): string {
  if (error instanceof QfpayError) return error.message;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'the query did not finish within the polling window';
  return 'the query failed unexpectedly';
}
