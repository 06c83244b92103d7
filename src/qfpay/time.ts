/**
 * QFPay's clock: every date on the wire (`txdtm`, `sysdtm`, `paydtm`, `start_time`, `end_time`) is
 * `YYYY-MM-DD hh:mm:ss`, 24-hour, without a zone, in Hong Kong/Beijing time (UTC+8, no DST).
 * `sysdtm` sits eight hours ahead of UTC in the card examples.
 */

const UTC_PLUS_8_MS = 8 * 60 * 60 * 1000;
const QFPAY_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** `YYYY-MM-DD hh:mm:ss` in UTC+8 for the given instant (default: now). */
export function formatQfpayDateTime(date: Date = new Date()): string {
  const shifted = new Date(date.getTime() + UTC_PLUS_8_MS);
  return (
    `${pad(shifted.getUTCFullYear(), 4)}-${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())} ` +
    `${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}:${pad(shifted.getUTCSeconds())}`
  );
}

/** The instant a QFPay `YYYY-MM-DD hh:mm:ss` (UTC+8) denotes, or undefined when the text is not one. */
export function parseQfpayDateTime(text: string): Date | undefined {
  const match = QFPAY_DATE_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const utcMs = Date.UTC(year, month - 1, day, hour, minute, second) - UTC_PLUS_8_MS;
  const date = new Date(utcMs);
  // Reject calendar overflow such as 2025-02-30, which Date.UTC silently rolls forward.
  return formatQfpayDateTime(date) === text ? date : undefined;
}

export function isQfpayDateTime(text: string): boolean {
  return parseQfpayDateTime(text) !== undefined;
}

/** A UTC+8 calendar month, as the query endpoint's `start_time`/`end_time` bounds (inclusive). */
export interface QfpayMonthRange {
  readonly start_time: string;
  readonly end_time: string;
}

/**
 * The UTC+8 calendar month containing `date`, shifted by `offsetMonths`. The query endpoint
 * refuses ranges that cross a calendar month, so multi-month scans go month by month.
 */
export function qfpayMonthRange(date: Date, offsetMonths = 0): QfpayMonthRange {
  const shifted = new Date(date.getTime() + UTC_PLUS_8_MS);
  const year = shifted.getUTCFullYear();
  const month = shifted.getUTCMonth() + offsetMonths;
  const startUtc = Date.UTC(year, month, 1) - UTC_PLUS_8_MS;
  const nextStartUtc = Date.UTC(year, month + 1, 1) - UTC_PLUS_8_MS;
  return {
    start_time: formatQfpayDateTime(new Date(startUtc)),
    end_time: formatQfpayDateTime(new Date(nextStartUtc - 1000)),
  };
}

/**
 * Waits `ms` milliseconds; rejects with the signal's own reason when it aborts, so callers see
 * the same error whether they were cancelled while queued, sleeping or mid-request.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
