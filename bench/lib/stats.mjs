import { performance } from 'node:perf_hooks';
/**
 * Small, dependency-free statistics for latency samples (milliseconds). Percentiles use linear
 * interpolation between closest ranks, so p50 of an even-sized sample is the mean of the middle two.
 */

/** @param {readonly number[]} sorted ascending @param {number} p in [0, 100] */
export function percentileOfSorted(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

/** @param {readonly number[]} samples */
export function median(samples) {
  return percentileOfSorted(
    [...samples].sort((a, b) => a - b),
    50,
  );
}

/**
 * @param {readonly number[]} samples
 * @returns {{ n: number, min: number, p50: number, p90: number, p99: number, max: number, mean: number }}
 */
export function summarise(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p99: percentileOfSorted(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean,
  };
}

/** Rounds for tables and JSON: 3 decimals below 10, 2 below 100, 1 above. */
export function round(value) {
  if (!Number.isFinite(value)) return value;
  const digits = Math.abs(value) < 10 ? 3 : Math.abs(value) < 100 ? 2 : 1;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A summary with every figure rounded (for the report). */
export function rounded(summary) {
  return Object.fromEntries(
    Object.entries(summary).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]),
  );
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function nowMs() {
  return performance.now();
}
