import PQueue from 'p-queue';
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
 */

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

export class MerchantLimiter {
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
   * arrival order. Aborting `signal` while waiting removes the task (the promise rejects with the
   * signal's reason); once started, the task is not interrupted by the limiter.
   */
  async schedule<T>(task: () => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    const ticket: { entry?: Entry } = {};
    try {
      await this.#line.add(() => this.#admit(ticket, options.signal), { signal: options.signal });
    } catch (error) {
      // An abort can race the admission by a microtask; never leak an in-flight slot.
      if (ticket.entry) this.#finish(ticket.entry);
      throw error;
    }
    try {
      return await task();
    } finally {
      this.#finish(ticket.entry!);
    }
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
