import type { RateWindow } from '../qfpay/types.js';

/**
 * QFPay's per-merchant limit ("100 requests per second and 400 per minute") as an exact sliding
 * log: a request is admitted only if, counting it, no window of any configured length ending
 * now holds more than that window's count.
 *
 * Only ADMITTED requests are recorded. QFPay does not say whether rejected requests count; we
 * chose not to count them because (a) the documented limit is about requests QFPay processes,
 * (b) counting rejections would keep a client that retries at a steady pace locked out forever,
 * which would make it impossible to test a client's recovery, and (c) a client that stays under
 * the limit never sees the difference. Clients must not rely on this: back off on every 429.
 */
export class SlidingWindowLimiter {
  private readonly admitted = new Map<string, number[]>();
  private readonly longestMs: number;
  private calls = 0;

  constructor(
    private readonly windows: readonly RateWindow[],
    private readonly now: () => number = Date.now,
  ) {
    this.longestMs = Math.max(0, ...windows.map((w) => w.durationMs));
  }

  /** Admits and records the request, or returns false without recording it. */
  tryAdmit(key: string): boolean {
    const at = this.now();
    this.forgetIdleKeys(at);
    const log = this.prunedLog(key, at);
    for (const window of this.windows) {
      if (countSince(log, at - window.durationMs) + 1 > window.count) return false;
    }
    log.push(at);
    return true;
  }

  clear(): void {
    this.admitted.clear();
  }

  /** Unauthenticated callers can send any app code; keys with nothing in any window are dropped. */
  private forgetIdleKeys(at: number): void {
    this.calls += 1;
    if (this.calls % 1_000 !== 0) return;
    for (const [key, log] of this.admitted) {
      const newest = log[log.length - 1];
      if (newest === undefined || newest <= at - this.longestMs) this.admitted.delete(key);
    }
  }

  private prunedLog(key: string, at: number): number[] {
    let log = this.admitted.get(key);
    if (!log) {
      log = [];
      this.admitted.set(key, log);
    }
    const firstKept = countBefore(log, at - this.longestMs);
    if (firstKept > 0) log.splice(0, firstKept);
    return log;
  }
}

/** Entries strictly after `since` (a window of length d ending at t covers (t-d, t]). */
function countSince(sortedLog: readonly number[], since: number): number {
  return sortedLog.length - countBefore(sortedLog, since);
}

/** How many entries are ≤ `limit`, by binary search (the log is sorted by arrival). */
function countBefore(sortedLog: readonly number[], limit: number): number {
  let low = 0;
  let high = sortedLog.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sortedLog[mid]! <= limit) low = mid + 1;
    else high = mid;
  }
  return low;
}
