import PQueue from 'p-queue';
import { QfpayNotSentError } from './errors.js';
import { sleep } from './time.js';
import type { RateWindow } from './types.js';

/**
 * Per-merchant outbound rate limiting.
 *
 * QFPay counts requests per merchant: 100 per second AND 400 per minute. Meeting an
 * exact sliding-window bound also meets every fixed-window bound, whatever alignment QFPay uses.
 * Two chained p-queues are not atomic (the outer stamp is taken at hand-off, not at send time),
 * so this gate keeps ONE log of requests and checks every window against it
 * at the same instant, immediately before the task starts. p-queue (concurrency 1) provides the
 * FIFO waiting line and abort-while-queued; it does no rate limiting itself.
 *
 * What a log entry's instant is (`stamp`):
 * - 'dispatch': the moment the task starts. Exact for what leaves this process, but QFPay counts
 *   arrivals, and arrivals can bunch up: a cold burst waits for TCP/TLS handshakes while a later
 *   burst rides warm keep-alive sockets, so two bursts spaced one window apart at dispatch can
 *   land well inside one window at QFPay (the simulator test shows exactly this).
 * - 'completion' (default): a request occupies every window from dispatch until it is answered,
 *   and then counts at the instant of its answer. A request's arrival lies between those two
 *   instants, so arrival spacing can never be shorter than what the log enforces, whatever the
 *   network does. The cost is one round trip per window: negligible for the 60 s window that
 *   bounds sustained traffic (380/min ≈ 6/s), and only shaves bursts on the 1 s window.
 *
 * Leaving the line: a request whose caller gives up (`signal`) or whose deadline (`maxWaitMs`)
 * passes while it waits is removed without ever entering the log, and rejects with
 * QfpayNotSentError. A slot is taken only at the instant of admission, which is the instant the
 * request is dispatched, so a write never goes out for a caller that has stopped waiting.
 */

/** What a queued request may say about itself and how long it will wait. */
export interface AcquireOptions {
  /** The caller stopped waiting: leave the line, take no slot, reject with QfpayNotSentError. */
  signal?: AbortSignal;
  /** Wait at most this long for a slot (from the call); past it, the same as an abort. */
  maxWaitMs?: number;
  /** Named in the not-sent error so callers learn which order number was not used. */
  request?: { endpoint: string; out_trade_no?: string };
}

/** An admitted request. `release` once its answer arrived (or it failed); extra calls do nothing. */
export interface RateSlot {
  release(): void;
}

/**
 * The interface every per-merchant limiter offers: this in-process one, and the Redis-backed
 * SharedMerchantLimiter (./shared-limiter.ts) that several instances draw from together.
 */
export interface RateLimiter {
  readonly windows: readonly RateWindow[];
  ensureWindows(windows: readonly RateWindow[]): void;
  acquire(options?: AcquireOptions): Promise<RateSlot>;
  /** acquire, run `task`, release: the task starts only once admitted. */
  schedule<T>(task: () => Promise<T>, options?: AcquireOptions): Promise<T>;
  /** No admission before `ms` from now (after an upstream 429). */
  holdFor(ms: number): void;
  /** Lets go of what the limiter holds for this user (a shared connection); a no-op here. */
  detach?(): Promise<void>;
}

/** Time source and sleeper, injectable so property tests can run on a virtual clock. */
export interface LimiterClock {
  /** Monotonic milliseconds (fractional allowed). */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: LimiterClock = {
  now: () => performance.now(),
  // Timers may fire a fraction of a millisecond early relative to performance.now(); the gate
  // re-checks after every wake-up, so rounding up only avoids a needless extra loop.
  sleep: (ms, signal) => sleep(Math.ceil(ms), signal),
};

export type LimiterStamp = 'dispatch' | 'completion';

export interface MerchantLimiterOptions {
  clock?: LimiterClock;
  /**
   * Cap on requests in flight at once. It bounds sockets, not rate: at 95/s and sub-second
   * latency it never binds; it stops a stalled upstream from accumulating unbounded connections.
   */
  maxInFlight?: number;
  /** See the module comment; default 'completion'. */
  stamp?: LimiterStamp;
}

export interface MerchantLimiterStats {
  /** Tasks admitted to no window yet (waiting in line or at the gate). */
  readonly queued: number;
  /** Tasks admitted and still running. */
  readonly inFlight: number;
  readonly windows: readonly RateWindow[];
  readonly stamp: LimiterStamp;
  /** Instants of finished entries still inside the longest window, oldest first (clock units). */
  readonly recentStamps: readonly number[];
}

export const DEFAULT_MAX_IN_FLIGHT = 64;

/** One request in the log. Open entries (still running, completion mode) sit in every window. */
interface Entry {
  at: number;
  open: boolean;
}

export class MerchantLimiter implements RateLimiter {
  readonly #clock: LimiterClock;
  readonly #maxInFlight: number;
  readonly #stamp: LimiterStamp;
  readonly #line = new PQueue({ concurrency: 1 });
  #windows: RateWindow[];
  #longestWindowMs: number;
  #log: Entry[] = [];
  #inFlight = 0;
  /** Woken whenever a task finishes: a slot or an open log entry was freed. */
  #changeWaiters: Array<() => void> = [];
  /** Upstream told us to back off (HTTP 429): no admission before this instant. */
  #holdUntil = Number.NEGATIVE_INFINITY;

  constructor(windows: readonly RateWindow[], options: MerchantLimiterOptions = {}) {
    if (windows.length === 0) throw new Error('MerchantLimiter needs at least one rate window');
    windows.forEach(checkWindow);
    this.#windows = [...windows];
    this.#longestWindowMs = Math.max(...windows.map((w) => w.durationMs));
    this.#clock = options.clock ?? realClock;
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.#stamp = options.stamp ?? 'completion';
  }

  get windows(): readonly RateWindow[] {
    return this.#windows;
  }

  /**
   * Adds windows not enforced yet. Two callers sharing one merchant with different settings both
   * get their bounds respected: enforcing the union is never less safe than either alone.
   */
  ensureWindows(windows: readonly RateWindow[]): void {
    for (const w of windows) {
      checkWindow(w);
      if (!this.#windows.some((have) => have.count === w.count && have.durationMs === w.durationMs))
        this.#windows.push(w);
    }
    this.#longestWindowMs = Math.max(...this.#windows.map((w) => w.durationMs));
  }

  /**
   * Runs `task` once every window has room and fewer than `maxInFlight` tasks run. Tasks start in
   * arrival order. A task whose signal aborts or whose deadline passes while it waits is removed
   * (QfpayNotSentError); once started, the task is not interrupted by the limiter.
   */
  async schedule<T>(task: () => Promise<T>, options: AcquireOptions = {}): Promise<T> {
    const slot = await this.acquire(options);
    try {
      return await task();
    } finally {
      slot.release();
    }
  }

  /** Waits in line for a slot in every window; see AcquireOptions for leaving the line. */
  async acquire(options: AcquireOptions = {}): Promise<RateSlot> {
    const leave = leaveLine(options, this.#clock);
    const ticket: { entry?: Entry } = {};
    try {
      await this.#line.add(() => this.#admit(ticket, leave.signal), { signal: leave.signal });
    } catch (error) {
      // An abort can race the admission by a microtask; never leak an in-flight slot.
      if (ticket.entry) this.#finish(ticket.entry);
      throw leave.explain(error);
    } finally {
      leave.dispose();
    }
    const entry = ticket.entry!;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#finish(entry);
      },
    };
  }

  /** No task starts before `clock.now() + ms` (used after an upstream 429). */
  holdFor(ms: number): void {
    this.#holdUntil = Math.max(this.#holdUntil, this.#clock.now() + ms);
  }

  stats(): MerchantLimiterStats {
    this.#prune(this.#clock.now());
    return {
      queued: this.#line.size + this.#line.pending,
      inFlight: this.#inFlight,
      windows: [...this.#windows],
      stamp: this.#stamp,
      recentStamps: this.#log
        .filter((e) => !e.open)
        .map((e) => e.at)
        .sort((a, b) => a - b),
    };
  }

  /**
   * How long from `now` until every window has room: 0 when a task may start right away,
   * Infinity when only a running task finishing can make room.
   */
  delayUntilFree(now: number): number {
    this.#prune(now);
    let wait = this.#holdUntil - now;
    for (const { count, durationMs } of this.#windows) {
      const horizon = now - durationMs;
      const inside = this.#log.filter((e) => e.open || e.at > horizon);
      if (inside.length < count) continue;
      // Room opens when enough finished entries slide out, oldest first; open ones never do.
      const mustLeave = inside.length - count + 1;
      const finished = inside
        .filter((e) => !e.open)
        .map((e) => e.at)
        .sort((a, b) => a - b);
      const leaving = finished[mustLeave - 1];
      wait = Math.max(wait, leaving === undefined ? Number.POSITIVE_INFINITY : leaving + durationMs - now);
    }
    return Math.max(0, wait);
  }

  async #admit(ticket: { entry?: Entry }, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.#inFlight >= this.#maxInFlight) {
        await this.#waitForChange(signal);
        continue;
      }
      const now = this.#clock.now();
      const wait = this.delayUntilFree(now);
      if (wait <= 0) {
        // Check and record happen in one synchronous step: nothing else can slip in between.
        const entry = { at: now, open: this.#stamp === 'completion' };
        this.#log.push(entry);
        this.#inFlight++;
        ticket.entry = entry;
        return;
      }
      if (wait === Number.POSITIVE_INFINITY) await this.#waitForChange(signal);
      else await this.#clock.sleep(wait, signal);
    }
  }

  #finish(entry: Entry): void {
    if (entry.open) {
      entry.open = false;
      entry.at = this.#clock.now();
    }
    this.#inFlight--;
    const waiters = this.#changeWaiters;
    this.#changeWaiters = [];
    for (const wake of waiters) wake();
  }

  #waitForChange(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#changeWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  #prune(now: number): void {
    const horizon = now - this.#longestWindowMs;
    if (this.#log.some((e) => !e.open && e.at <= horizon))
      this.#log = this.#log.filter((e) => e.open || e.at > horizon);
  }
}

/** The signal a queued request leaves the line by: its caller's, or its deadline on `clock`. */
export function leaveLine(
  options: AcquireOptions,
  clock: LimiterClock,
): { signal: AbortSignal | undefined; explain(error: unknown): unknown; dispose(): void } {
  const { signal: caller, maxWaitMs, request } = options;
  const notSent = (reason: 'cancelled' | 'deadline'): QfpayNotSentError =>
    new QfpayNotSentError(reason, request?.endpoint ?? 'QFPay', request?.out_trade_no);
  if (maxWaitMs === undefined) {
    return {
      signal: caller,
      explain: (error) => (caller?.aborted ? notSent('cancelled') : error),
      dispose: () => undefined,
    };
  }
  const deadline = new AbortController();
  const stopTimer = new AbortController();
  clock.sleep(Math.max(0, maxWaitMs), stopTimer.signal).then(
    () => deadline.abort(notSent('deadline')),
    () => undefined,
  );
  return {
    signal: caller ? AbortSignal.any([caller, deadline.signal]) : deadline.signal,
    explain: (error) => {
      if (caller?.aborted) return notSent('cancelled');
      return deadline.signal.aborted ? notSent('deadline') : error;
    },
    dispose: () => stopTimer.abort(),
  };
}

function checkWindow(w: RateWindow): void {
  if (!Number.isSafeInteger(w.count) || w.count < 1 || !(w.durationMs > 0))
    throw new Error(`invalid rate window ${w.count}/${w.durationMs}ms`);
}

const registry = new Map<string, MerchantLimiter>();

/**
 * The process-wide limiter for one merchant. Every client for the same merchant key shares it,
 * so parallel tool calls, retries and reconciliation polls all draw from one budget. Options
 * apply when the limiter is first created.
 */
export function getMerchantLimiter(
  merchantKey: string,
  windows: readonly RateWindow[],
  options?: MerchantLimiterOptions,
): MerchantLimiter {
  const existing = registry.get(merchantKey);
  if (existing) {
    existing.ensureWindows(windows);
    return existing;
  }
  const created = new MerchantLimiter(windows, options);
  registry.set(merchantKey, created);
  return created;
}

/** Forget every limiter (tests only: limiters are meant to live as long as the process). */
export function resetMerchantLimiters(): void {
  registry.clear();
}
