import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { importDist } from './lib/paths.mjs';
import { runIfMain, UNLIMITED_WINDOWS } from './lib/harness.mjs';
import { RawQfpay, qfpayNow } from './lib/qfpay-raw.mjs';
import { round, summarise } from './lib/stats.mjs';

/**
 * Benchmark 7 — simulator cost against its number of orders. The simulator is started on a state
 * file holding 1,000 or 100,000 orders (the `stateFile` option; the books are loaded exactly as a
 * lasting rehearsal would), then the same raw signed queries are timed against each: by syssn, by
 * out_trade_no (default range), and the first page of the last hour's range. Target: the 100k p50 of the raw
 * query by syssn at most 1.5× the 1k p50 (the performance audit measured 0.55 → 27.95 ms).
 */

const SIZES = [1_000, 100_000];
const SAMPLES = Number(process.env.BENCH_SCALE_SAMPLES ?? 400);
const WARMUP = 50;
const DAY_MS = 24 * 3_600_000;

/** Orders in the state file's own format (src/simulator/persistence.ts), spread over 20 days. */
function stateFileText(count, appcode, now) {
  const lines = [];
  for (let i = 0; i < count; i++) {
    const created = now - DAY_MS * 20 + Math.floor((i * DAY_MS * 20) / count);
    const syssn = `20260101${String(900000 + (i % 100000)).padStart(6, '0')}${String(i).padStart(12, '0')}`;
    lines.push(
      JSON.stringify({
        v: 1,
        t: {
          syssn,
          merchant: appcode,
          appcode,
          orderType: 'payment',
          outTradeNo: `bench_scale_${i}`,
          payType: '800208',
          mode: 'CPM',
          txamt: 100 + (i % 900),
          txcurrcd: 'HKD',
          txdtm: qfpayNow(new Date(created)),
          createdAtSimMs: created,
          udid: 'qiantai2',
          state: 'PAID',
          respcd: '0000',
          errmsg: '交易成功',
          cancel: '0',
          paidAtSimMs: created,
          chnlsn: '',
          cardcd: '',
          refundedAmount: 0,
          pendingQueriesSeen: 0,
        },
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

async function timeQueries(raw, makeFields) {
  const samples = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const fields = makeFields(i);
    const started = performance.now();
    const { status, json } = await raw.post('/trade/v1/query', fields);
    const elapsed = performance.now() - started;
    if (status !== 200 || json.respcd !== '0000') throw new Error(`query answered ${status} ${json.respcd}`);
    if (i >= WARMUP) samples.push(elapsed);
  }
  return summarise(samples);
}

async function measure(count, dir) {
  const { startSimulator, DEFAULT_SIMULATOR_CREDENTIAL } = await importDist('simulator/index.js');
  const stateFile = path.join(dir, `orders-${count}.jsonl`);
  const now = Date.now();
  writeFileSync(stateFile, stateFileText(count, DEFAULT_SIMULATOR_CREDENTIAL.appcode, now));
  const loadStarted = performance.now();
  const simulator = await startSimulator({ quiet: true, rateLimits: UNLIMITED_WINDOWS, stateFile });
  const loadMs = performance.now() - loadStarted;
  const raw = new RawQfpay(simulator.baseUrl, DEFAULT_SIMULATOR_CREDENTIAL);
  const pick = (i) => (i * 7_919) % count;
  const syssnOf = (i) =>
    `20260101${String(900000 + (i % 100000)).padStart(6, '0')}${String(i).padStart(12, '0')}`;
  try {
    const bySyssn = await timeQueries(raw, (i) => ({ syssn: syssnOf(pick(i)) }));
    // Orders of the last 20 days: the default range (this month) or the previous month holds them.
    const byOutTradeNo = await timeQueries(raw, (i) => ({ out_trade_no: `bench_scale_${pick(i)}` }));
    // The last hour (clipped to this UTC+8 month: a range may not cross one), first page of 10.
    const monthStart = Date.parse(`${qfpayNow(new Date(now)).slice(0, 7)}-01T00:00:00+08:00`);
    const rangePage = await timeQueries(raw, () => ({
      start_time: qfpayNow(new Date(Math.max(now - 3_600_000, monthStart))),
      end_time: qfpayNow(new Date(now)),
      page_size: '10',
    }));
    return {
      orders: count,
      load_ms: round(loadMs),
      by_syssn: bySyssn,
      by_out_trade_no: byOutTradeNo,
      range_page: rangePage,
    };
  } finally {
    await raw.close();
    await simulator.close();
  }
}

export async function run({ log }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'qfpay-bench-scale-'));
  try {
    // A discarded first run warms the JIT, so the first measured size is not penalised.
    await measure(SIZES[0], dir);
    const runs = [];
    for (const count of SIZES) {
      log(`simulator-scale: ${count} orders, ${SAMPLES} samples per query kind`);
      runs.push(await measure(count, dir));
    }
    const [small, large] = runs;
    const ratio = (kind) => round(large[kind].p50 / small[kind].p50);
    const ratios = {
      by_syssn: ratio('by_syssn'),
      by_out_trade_no: ratio('by_out_trade_no'),
      range_page: ratio('range_page'),
    };
    const rounded = runs.map((r) => ({
      ...r,
      by_syssn: roundStats(r.by_syssn),
      by_out_trade_no: roundStats(r.by_out_trade_no),
      range_page: roundStats(r.range_page),
    }));
    return {
      sizes: SIZES,
      samples: SAMPLES,
      runs: rounded,
      ratio_p50_100k_vs_1k: ratios,
      target: { by_syssn_ratio_at_most: 1.5 },
      met: ratios.by_syssn <= 1.5,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function roundStats(stats) {
  return Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, k === 'n' ? v : round(v)]));
}

runIfMain(import.meta.url, run);
