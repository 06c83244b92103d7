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

/** Gives an admitted request's place back: `used` false when it was never sent (abort race). */
export type ReleaseAdmission = (used: boolean) => void;

/**
 * What both per-merchant limiters share: the FIFO line (p-queue, concurrency 1, so one request at
 * a time is at the gate and requests start in arrival order), leaving it on abort or deadline
 * (`leaveLine`), the cap on requests in flight, and the wake-up of waiters when one is answered.
 * A subclass decides admission (`admit`): the in-process log below, or the Redis log of
 * SharedMerchantLimiter (./shared-limiter.ts).
 */
export abstract class QueuedLimiter implements RateLimiter {
  protected readonly clock: LimiterClock;
  readonly #maxInFlight: number;
  readonly #line = new PQueue({ concurrency: 1 });
  #inFlight = 0;
  /** Woken whenever an admitted request is released: a slot or a log entry may have freed. */
  #answerWaiters = new Set<() => void>();

  protected constructor(clock: LimiterClock, maxInFlight: number) {
    this.clock = clock;
    this.#maxInFlight = maxInFlight;
  }

  abstract get windows(): readonly RateWindow[];
  abstract ensureWindows(windows: readonly RateWindow[]): void;
  abstract holdFor(ms: number): void;

  /**
   * Waits until every window has room; resolves with the function that releases the admission.
   * Runs with nothing else at the gate, and must record the admission in the same synchronous step
   * as its final check.
   */
  protected abstract admit(
    signal: AbortSignal | undefined,
    options: AcquireOptions,
  ): Promise<ReleaseAdmission>;

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
    const leave = leaveLine(options, this.clock);
    const ticket: { release?: ReleaseAdmission } = {};
    try {
      await this.#line.add(() => this.#admitWithinCap(ticket, leave.signal, options), {
        signal: leave.signal,
      });
    } catch (error) {
      // An abort can race the admission by a microtask; never leak an admitted place.
      ticket.release?.(false);
      throw leave.explain(error);
    } finally {
      leave.dispose();
    }
    const release = ticket.release!;
    return { release: () => release(true) };
  }

  protected get queuedCount(): number {
    return this.#line.size + this.#line.pending;
  }

  protected get inFlightCount(): number {
    return this.#inFlight;
  }

  /** Resolves once an admitted request of this process is released, or after `ms`; rejects on abort. */
  protected waitForAnswer(signal: AbortSignal | undefined, ms = Number.POSITIVE_INFINITY): Promise<void> {
    return new Promise((resolve, reject) => {
      const stopTimer = new AbortController();
      const settle = (): void => {
        this.#answerWaiters.delete(onAnswer);
        signal?.removeEventListener('abort', onAbort);
        stopTimer.abort();
      };
      const onAnswer = (): void => {
        settle();
        resolve();
      };
      const onAbort = (): void => {
        settle();
        reject(signal?.reason as Error);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#answerWaiters.add(onAnswer);
      if (Number.isFinite(ms)) this.clock.sleep(ms, stopTimer.signal).then(onAnswer, () => undefined);
    });
  }

  /** Tells every waiter that an admitted request was released. */
  protected wakeWaiters(): void {
    for (const wake of [...this.#answerWaiters]) wake();
  }

  async #admitWithinCap(
    ticket: { release?: ReleaseAdmission },
    signal: AbortSignal | undefined,
    options: AcquireOptions,
  ): Promise<void> {
    // Only this gate admits, so while it waits the count of requests in flight can only fall.
    while (this.#inFlight >= this.#maxInFlight) await this.waitForAnswer(signal);
    const release = await this.admit(signal, options);
    this.#inFlight++;
    let released = false;
    ticket.release = (used) => {
      if (released) return;
      released = true;
      this.#inFlight--;
      release(used);
      this.wakeWaiters();
    };
    // Aborted between the admission and this line: give the place back, send nothing.
    if (signal?.aborted) {
      ticket.release(false);
      signal.throwIfAborted();
    }
  }
}

export class MerchantLimiter extends QueuedLimiter {
  readonly #stamp: LimiterStamp;
  #windows: RateWindow[];
  #longestWindowMs: number;
  #log: Entry[] = [];
  /** Upstream told us to back off (HTTP 429): no admission before this instant. */
  #holdUntil = Number.NEGATIVE_INFINITY;

  constructor(windows: readonly RateWindow[], options: MerchantLimiterOptions = {}) {
    super(options.clock ?? realClock, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    if (windows.length === 0) throw new Error('MerchantLimiter needs at least one rate window');
    windows.forEach(checkWindow);
    this.#windows = [...windows];
    this.#longestWindowMs = Math.max(...windows.map((w) => w.durationMs));
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

  /** No task starts before `clock.now() + ms` (used after an upstream 429). */
  holdFor(ms: number): void {
    this.#holdUntil = Math.max(this.#holdUntil, this.clock.now() + ms);
  }

  stats(): MerchantLimiterStats {
    this.#prune(this.clock.now());
    return {
      queued: this.queuedCount,
      inFlight: this.inFlightCount,
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

  protected async admit(signal: AbortSignal | undefined): Promise<ReleaseAdmission> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.clock.now();
      const wait = this.delayUntilFree(now);
      if (wait <= 0) {
        // Check and record happen in one synchronous step: nothing else can slip in between.
        const entry: Entry = { at: now, open: this.#stamp === 'completion' };
        this.#log.push(entry);
        // Counted even when unused (abort race): it may not be sent, and over-counting is safe.
        return () => this.#close(entry);
      }
      if (wait === Number.POSITIVE_INFINITY) await this.waitForAnswer(signal);
      else await this.clock.sleep(wait, signal);
    }
  }

  #close(entry: Entry): void {
    if (entry.open) {
      entry.open = false;
      entry.at = this.clock.now();
    }
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
