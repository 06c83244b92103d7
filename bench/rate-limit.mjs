import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { median, round } from './lib/stats.mjs';
import { importDist } from './lib/paths.mjs';
import { runIfMain } from './lib/harness.mjs';
import { maxInAnyWindow, minimumArrivalSchedule } from './lib/windows.mjs';

/**
 * Benchmark 3 — rate-limit utilisation. N queries are queued at once through ONE QfpayClient
 * against a simulator enforcing the same scaled-down windows. Completion time is compared with
 * the theoretical minimum the windows allow: the instant the last request may ARRIVE, computed
 * exactly (minimumArrivalSchedule), i.e. ignoring even the last request's own round trip.
 * Violations are recounted from the simulator's /__sim/requests arrival timestamps; 429s counted.
 *
 * The windows are set explicitly on both sides, so the client's default 5% margin (which applies
 * only to its default 95/1s,380/60s) is not in play: the client runs at the full counts.
 */

const N = Number(process.env.BENCH_RATE_N ?? 600);
const TRIALS = Number(process.env.BENCH_RATE_TRIALS ?? 3);
const WINDOWS = [
  { count: 50, durationMs: 200 },
  { count: 200, durationMs: 2_000 },
];
const WINDOWS_TEXT = '50/200ms,200/2s';

async function trial(index) {
  const { startSimulator, DEFAULT_SIMULATOR_CREDENTIAL } = await importDist('simulator/index.js');
  const { QfpayClient } = await importDist('qfpay/client.js');
  const simulator = await startSimulator({ rateLimits: WINDOWS, quiet: true });
  const client = new QfpayClient({
    baseUrl: simulator.baseUrl,
    credentials: DEFAULT_SIMULATOR_CREDENTIAL,
    rateLimits: WINDOWS,
  });
  try {
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: N }, (_, i) => client.query({ out_trade_no: [`bench_rate_${index}_${i}`] })),
    );
    const elapsedMs = performance.now() - started;
    if (answers.some((a) => a.respcd !== '0000')) throw new Error('a query did not answer 0000');

    const log = await request(`${simulator.baseUrl}/__sim/requests`);
    const { requests } = await log.body.json();
    const trade = requests.filter((r) => r.path === '/trade/v1/query');
    const admitted = trade
      .filter((r) => r.http_status !== 429)
      .map((r) => r.at_ms)
      .sort((a, b) => a - b);
    const maxPerWindow = WINDOWS.map((w) => ({
      window: `${w.count}/${w.durationMs}ms`,
      max_seen: maxInAnyWindow(admitted, w.durationMs),
      limit: w.count,
    }));
    return {
      elapsedMs,
      arrivalSpanMs: admitted[admitted.length - 1] - admitted[0],
      requests: trade.length,
      http429: trade.filter((r) => r.http_status === 429).length,
      maxPerWindow,
      violations: maxPerWindow.filter((w) => w.max_seen > w.limit).length,
    };
  } finally {
    await client.destroy();
    await simulator.close();
  }
}

export async function run({ log }) {
  const schedule = minimumArrivalSchedule(N, WINDOWS);
  const minimumMs = schedule[N - 1];
  log(`rate-limit: ${TRIALS} trials of ${N} queries under ${WINDOWS_TEXT}; minimum ${minimumMs} ms`);
  const trials = [];
  for (let i = 0; i < TRIALS; i++) trials.push(await trial(i));
  const ratios = trials.map((t) => t.elapsedMs / minimumMs);
  const medianRatio = median(ratios);
  return {
    queries: N,
    windows: `${WINDOWS_TEXT} (simulator rateLimits option and QfpayClient rateLimits, identical)`,
    theoretical_minimum_ms: minimumMs,
    trials: trials.map((t, i) => ({
      completion_ms: round(t.elapsedMs),
      arrival_span_ms: t.arrivalSpanMs,
      ratio: round(ratios[i]),
      upstream_requests: t.requests,
      http_429: t.http429,
      max_per_window: t.maxPerWindow,
      violations: t.violations,
    })),
    median_ratio: round(medianRatio),
    total_429: trials.reduce((sum, t) => sum + t.http429, 0),
    total_violations: trials.reduce((sum, t) => sum + t.violations, 0),
    target: { ratio_at_most: 1.05, violations: 0, http_429: 0 },
    met:
      medianRatio <= 1.05 && trials.every((t) => t.violations === 0 && t.http429 === 0 && t.requests === N),
  };
}

runIfMain(import.meta.url, run);
