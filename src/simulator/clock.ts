import { formatQfpayDateTime, parseQfpayDateTime } from '../qfpay/time.js';
/**
 * The simulated clock. It runs `timeScale` times faster than the real clock and can be set or
 * advanced through the control API; expiries, pending settlement, notification retries, the
 * refund blackout and every `sysdtm` are read from it. Rate limiting uses the real clock.
 */
export class SimClock {
  private anchorRealMs: number;
  private anchorSimMs: number;

  constructor(
    private readonly timeScale: number,
    private readonly realNow: () => number = Date.now,
  ) {
    this.anchorRealMs = realNow();
    this.anchorSimMs = this.anchorRealMs;
  }

  /** Simulated epoch milliseconds. */
  now(): number {
    return this.anchorSimMs + (this.realNow() - this.anchorRealMs) * this.timeScale;
  }

  set(simMs: number): void {
    this.anchorRealMs = this.realNow();
    this.anchorSimMs = simMs;
  }

  advance(ms: number): void {
    this.set(this.now() + ms);
  }

  /** Back to real time, as after a reset. */
  reset(): void {
    this.anchorRealMs = this.realNow();
    this.anchorSimMs = this.anchorRealMs;
  }

  /** Real milliseconds until the simulated clock reaches `simMs` (0 when already past). */
  realDelayUntil(simMs: number): number {
    return Math.max(0, (simMs - this.now()) / this.timeScale);
  }
}

/** QFPay reports times in Hong Kong / Beijing time (UTC+8, no DST). */
const UTC8_OFFSET_MS = 8 * 60 * 60 * 1000;

/** `YYYY-MM-DD hh:mm:ss` in UTC+8, the format of sysdtm, txdtm, start_time and end_time. */
export function formatUtc8(epochMs: number): string {
  return formatQfpayDateTime(new Date(epochMs));
}

/** `YYYYMMDD` in UTC+8, the prefix of every syssn. */
export function utc8DatePrefix(epochMs: number): string {
  return formatUtc8(epochMs).slice(0, 10).replaceAll('-', '');
}

/** Parses `YYYY-MM-DD hh:mm:ss` as UTC+8; undefined for anything else, including 2026-02-30. */
export function parseUtc8(text: string): number | undefined {
  return parseQfpayDateTime(text)?.getTime();
}

/** The calendar month (UTC+8) an instant falls in, as `YYYY-MM`. */
export function utc8Month(epochMs: number): string {
  return formatUtc8(epochMs).slice(0, 7);
}

/** First and last millisecond of the UTC+8 calendar month containing `epochMs`. */
export function utc8MonthBounds(epochMs: number): { startMs: number; endMs: number } {
  const local = new Date(epochMs + UTC8_OFFSET_MS);
  const year = local.getUTCFullYear();
  const month = local.getUTCMonth();
  const startMs = Date.UTC(year, month, 1) - UTC8_OFFSET_MS;
  const endMs = Date.UTC(year, month + 1, 1) - UTC8_OFFSET_MS - 1;
  return { startMs, endMs };
}

/** Minutes since midnight, UTC+8. */
export function utc8MinuteOfDay(epochMs: number): number {
  const local = new Date(epochMs + UTC8_OFFSET_MS);
  return local.getUTCHours() * 60 + local.getUTCMinutes();
}

/**
 * Control API input: an ISO-8601 string with an explicit zone (`2026-03-15T12:00:00Z`,
 * `…+08:00`) or QFPay's `YYYY-MM-DD hh:mm:ss` read as UTC+8.
 */
export function parseClockInput(text: string): number | undefined {
  const qfpay = parseUtc8(text);
  if (qfpay !== undefined) return qfpay;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
