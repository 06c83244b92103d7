/**
 * Sliding-window arithmetic shared by the rate-limit bench and the fault suite's expectations.
 * A window of length d ending at t covers (t − d, t], as the simulator's limiter does.
 */

/**
 * Earliest instants (ms after the first) at which n requests can arrive without any window
 * (count c per d ms) ever holding more than c: greedy, t[k] = max over windows of t[k − c] + d.
 * Greedy is optimal here: delaying any request can only delay the ones after it.
 */
export function minimumArrivalSchedule(n, windows) {
  const t = new Array(n).fill(0);
  for (let k = 0; k < n; k++) {
    for (const { count, durationMs } of windows) {
      if (k >= count) t[k] = Math.max(t[k], t[k - count] + durationMs);
    }
  }
  return t;
}

/**
 * The largest number of arrivals inside any window of `durationMs` (sliding, (t − d, t]) for
 * sorted timestamps; `toleranceMs` shortens the window to absorb timestamp rounding.
 */
export function maxInAnyWindow(sortedTimes, durationMs, toleranceMs = 0) {
  const span = durationMs - toleranceMs;
  let max = 0;
  let first = 0;
  for (let last = 0; last < sortedTimes.length; last++) {
    while (sortedTimes[first] <= sortedTimes[last] - span) first++;
    max = Math.max(max, last - first + 1);
  }
  return max;
}
