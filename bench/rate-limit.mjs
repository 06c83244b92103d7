import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { median, round } from './lib/stats.mjs';
import { importDist, ROOT } from './lib/paths.mjs';
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

/**
 * The shared case: SHARED_INSTANCES processes (bench/lib/limiter-instance.mjs), each with its own
 * QfpayClient and the Redis-shared limiter, split N queries between them, against one simulator
 * enforcing QFPay's real quota (100/s and 400/min per merchant). One trial: it takes a minute.
 * Needs a Redis (BENCH_REDIS_URL, else QFPAY_TEST_REDIS_URL); without one it is reported skipped.
 */
const SHARED_INSTANCES = 3;
const SHARED_WINDOWS_TEXT = process.env.BENCH_SHARED_WINDOWS ?? '100/1s,400/60s';
const SHARED_REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.QFPAY_TEST_REDIS_URL;

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
    const startedAt = performance.timeOrigin + started;
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
    return {
      elapsedMs,
      arrivalSpanMs: admitted[admitted.length - 1] - admitted[0],
      // The simulator runs in this process: its arrival clock (epoch ms) is this clock.
      lastArrivalMs: admitted[admitted.length - 1] - startedAt,
      ...judgeArrivals(trade, WINDOWS),
    };
  } finally {
    await client.destroy();
    await simulator.close();
  }
}

/** Arrival-log checks shared by both cases: requests, 429s, the fullest window of each length. */
function judgeArrivals(trade, windows) {
  const admitted = trade
    .filter((r) => r.http_status !== 429)
    .map((r) => r.at_ms)
    .sort((a, b) => a - b);
  const maxPerWindow = windows.map((w) => ({
    window: `${w.count}/${w.durationMs}ms`,
    max_seen: maxInAnyWindow(admitted, w.durationMs),
    limit: w.count,
  }));
  return {
    requests: trade.length,
    http429: trade.filter((r) => r.http_status === 429).length,
    maxPerWindow,
    violations: maxPerWindow.filter((w) => w.max_seen > w.limit).length,
  };
}

function startInstance(index, env) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'lib', 'limiter-instance.mjs')], {
    env: { ...process.env, ...env, LIMITER_LABEL: `bench_shared_${index}` },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return lines.next().then(({ value }) => {
    if (value !== 'ready') throw new Error(`limiter instance ${index} did not start`);
    return {
      go: () => child.stdin.write('go\n'),
      report: lines.next().then(({ value: v }) => JSON.parse(v)),
    };
  });
}

async function sharedTrial(log) {
  const { startSimulator, DEFAULT_SIMULATOR_CREDENTIAL } = await importDist('simulator/index.js');
  const { parseRateWindows } = await importDist('qfpay/rate-windows.js');
  const windows = parseRateWindows(SHARED_WINDOWS_TEXT);
  const minimumMs = minimumArrivalSchedule(N, windows)[N - 1];
  log(
    `rate-limit (shared): ${SHARED_INSTANCES} processes, ${N} queries under ${SHARED_WINDOWS_TEXT}; minimum ${minimumMs} ms`,
  );
  const simulator = await startSimulator({ rateLimits: windows, quiet: true });
  const keyPrefix = `qfpay-bench:${randomUUID()}:`;
  try {
    const perInstance = Math.ceil(N / SHARED_INSTANCES);
    const instances = await Promise.all(
      Array.from({ length: SHARED_INSTANCES }, (_, i) =>
        startInstance(i, {
          LIMITER_N: String(
            i < SHARED_INSTANCES - 1 ? perInstance : N - perInstance * (SHARED_INSTANCES - 1),
          ),
          LIMITER_BASE_URL: simulator.baseUrl,
          LIMITER_APPCODE: DEFAULT_SIMULATOR_CREDENTIAL.appcode,
          LIMITER_KEY: DEFAULT_SIMULATOR_CREDENTIAL.key,
          LIMITER_WINDOWS: SHARED_WINDOWS_TEXT,
          LIMITER_REDIS_URL: SHARED_REDIS_URL,
          LIMITER_KEY_PREFIX: keyPrefix,
        }),
      ),
    );
    const startedAt = performance.timeOrigin + performance.now();
    for (const instance of instances) instance.go();
    const reports = await Promise.all(instances.map((instance) => instance.report));
    const elapsedMs = Math.max(...reports.map((r) => r.lastAnswerAt)) - startedAt;
    const answered = reports.reduce((sum, r) => sum + r.ok, 0);
    const log_ = await request(`${simulator.baseUrl}/__sim/requests`);
    const { requests } = await log_.body.json();
    const judged = judgeArrivals(
      requests.filter((r) => r.path === '/trade/v1/query'),
      windows,
    );
    const ratio = elapsedMs / minimumMs;
    // Where the time beyond the minimum went: the limiter's own spacing (last arrival against the
    // minimum) and the last request's round trip after it arrived, which the minimum leaves out.
    const lastArrivalMs =
      Math.max(...requests.filter((r) => r.path === '/trade/v1/query').map((r) => r.at_ms)) - startedAt;
    return {
      instances: SHARED_INSTANCES,
      queries: N,
      windows: `${SHARED_WINDOWS_TEXT} (QFPay's quota; simulator and every instance identical)`,
      theoretical_minimum_ms: minimumMs,
      completion_ms: round(elapsedMs),
      ratio: round(ratio),
      last_arrival_ms: round(lastArrivalMs),
      arrival_ratio: round(lastArrivalMs / minimumMs),
      last_round_trip_ms: round(elapsedMs - lastArrivalMs),
      load_average: os.loadavg().map((x) => round(x)),
      answered_0000: answered,
      upstream_requests: judged.requests,
      http_429: judged.http429,
      max_per_window: judged.maxPerWindow,
      violations: judged.violations,
      target: { ratio_at_most: 1.05, violations: 0, http_429: 0 },
      met: ratio <= 1.05 && judged.violations === 0 && judged.http429 === 0 && answered === N,
    };
  } finally {
    await simulator.close();
    const { Redis } = await import('ioredis');
    const redis = new Redis(SHARED_REDIS_URL);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
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
      arrival_ratio: round(t.lastArrivalMs / minimumMs),
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
    shared: SHARED_REDIS_URL
      ? await sharedTrial(log)
      : {
          skipped: 'set BENCH_REDIS_URL (or QFPAY_TEST_REDIS_URL) to measure several instances sharing Redis',
        },
  };
}

runIfMain(import.meta.url, run);
