import process from 'node:process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarise, rounded, nowMs, round } from './lib/stats.mjs';
import { importDist } from './lib/paths.mjs';
import { OUR_SERVER, runIfMain, serverEnvFor, startUnlimitedSimulator } from './lib/harness.mjs';
import { StdioRpc } from './lib/stdio-rpc.mjs';

/**
 * Benchmark 7 — the money-state store at scale: a ledger of 100,000 records against one of 1,000
 * (same merchant, same shape: payment intents each with a PAID outcome), interleaved run by run.
 *   create_payment p50   per-call cost of a write (claim + caps + intent + outcome on the store)
 *   spawn → initialize   start-up (the store is opened on first use, reconciliation in the background)
 *   RSS after the calls  memory of the server process
 * Targets (issue [1/6]): create_payment p50 and spawn → initialize each ≤ 1.2 × the 1k ledger, and
 * RSS ≤ 1.1 × the 1k ledger (memory does not grow with the record count: the index is on disk).
 * Each ledger is opened once before measuring so its checkpoint exists, as on any host that has
 * run the server before.
 */

const SIZES = [1_000, 100_000];
const RUNS = Number(process.env.BENCH_LEDGER_RUNS ?? 5);
const CALLS = Number(process.env.BENCH_LEDGER_CALLS ?? 30);

/** Writes a verified chain of `records` records (half intents, half PAID outcomes) quickly. */
async function writeLedger(file, records, merchant) {
  const { canonicalJson } = await importDist('safety/idempotency.js');
  const { hashRecordBody, merchantFingerprint, GENESIS_HASH } = await importDist('safety/ledger.js');
  const { maskAppcode } = await importDist('qfpay/text.js');
  const party = { appcode: maskAppcode(merchant.appcode), fingerprint: merchantFingerprint(merchant) };
  const lines = [];
  let prev = GENESIS_HASH;
  const start = Date.now() - records * 10;
  for (let seq = 1; seq <= records; seq += 1) {
    const pair = Math.ceil(seq / 2);
    const out_trade_no = `scale_${pair}`;
    const intentId = `00000000-0000-4000-8000-${String(pair).padStart(12, '0')}`;
    const common = {
      time: new Date(start + seq * 10).toISOString(),
      environment: 'local',
      merchant: party,
      tool: 'create_payment',
      kind: 'payment',
      intent_id: intentId,
      out_trade_no,
      txamt: 100,
      txcurrcd: 'HKD',
    };
    const body =
      seq % 2 === 1
        ? {
            ...common,
            step: 'intent',
            status: 'INTENDED',
            params: { pay_type: '800101', txamt: 100, txcurrcd: 'HKD', out_trade_no },
            fingerprint: randomUUID().replace(/-/g, ''),
          }
        : {
            ...common,
            step: 'outcome',
            status: 'PAID',
            respcd: '0000',
            syssn: `2026${String(pair).padStart(12, '0')}`,
          };
    const unsigned = { ...body, seq, prev_hash: prev };
    const record = { ...unsigned, hash: hashRecordBody(unsigned) };
    prev = record.hash;
    lines.push(canonicalJson(record));
  }
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
}

async function measure(simulatorUrl, credential, file, tag) {
  const env = serverEnvFor(simulatorUrl, credential, { QFPAY_AUDIT_LOG: file });
  const t0 = nowMs();
  const rpc = new StdioRpc(OUR_SERVER(env));
  await rpc.initialize();
  const initializeMs = nowMs() - t0;
  const samples = [];
  for (let i = 0; i < CALLS; i += 1) {
    const started = nowMs();
    const { message } = await rpc.callTool('create_payment', {
      pay_type: '800101',
      txamt: 100,
      txcurrcd: 'HKD',
      out_trade_no: `bench_${tag}_${i}`,
    });
    samples.push(nowMs() - started);
    if (message.error || message.result?.isError)
      throw new Error(`create_payment failed: ${JSON.stringify(message).slice(0, 300)}`);
  }
  const rssMb = await rssOf(rpc.child.pid);
  await rpc.close();
  return { initializeMs, samples, rssMb };
}

async function rssOf(pid) {
  try {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kb) ? round(kb / 1024) : null;
  } catch {
    return null;
  }
}

export async function run({ log }) {
  const { simulator, credential } = await startUnlimitedSimulator();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qfpay-bench-ledger-'));
  try {
    const files = {};
    for (const size of SIZES) {
      files[size] = path.join(dir, `audit-${size}.jsonl`);
      const t = nowMs();
      await writeLedger(files[size], size, credential);
      log(`wrote a ${size}-record ledger in ${round(nowMs() - t)} ms`);
      // First open: full verification, then a checkpoint (what any later start reads from).
      await measure(simulator.baseUrl, credential, files[size], `warm${size}`);
    }
    const bySize = Object.fromEntries(SIZES.map((size) => [size, { initialize: [], calls: [], rss: [] }]));
    for (let runIndex = 0; runIndex < RUNS; runIndex += 1) {
      const order = runIndex % 2 === 0 ? SIZES : [...SIZES].reverse();
      for (const size of order) {
        const result = await measure(simulator.baseUrl, credential, files[size], `${size}_${runIndex}`);
        bySize[size].initialize.push(result.initializeMs);
        bySize[size].calls.push(...result.samples);
        if (result.rssMb !== null) bySize[size].rss.push(result.rssMb);
      }
      log(`round ${runIndex + 1}/${RUNS} done`);
    }
    const summary = Object.fromEntries(
      SIZES.map((size) => [
        size,
        {
          create_payment_ms: rounded(summarise(bySize[size].calls)),
          spawn_to_initialize_ms: rounded(summarise(bySize[size].initialize)),
          rss_mb: bySize[size].rss.length > 0 ? rounded(summarise(bySize[size].rss)) : null,
        },
      ]),
    );
    const small = summary[SIZES[0]];
    const large = summary[SIZES[1]];
    const callRatio = round(large.create_payment_ms.p50 / small.create_payment_ms.p50);
    const initializeRatio = round(large.spawn_to_initialize_ms.p50 / small.spawn_to_initialize_ms.p50);
    const rssRatio = small.rss_mb && large.rss_mb ? round(large.rss_mb.p50 / small.rss_mb.p50) : null;
    log(
      `create_payment p50 ratio ${callRatio}, spawn→initialize p50 ratio ${initializeRatio}, RSS ratio ${rssRatio}`,
    );
    return {
      runs: RUNS,
      calls_per_run: CALLS,
      sizes: summary,
      create_payment_p50_ratio: callRatio,
      spawn_to_initialize_p50_ratio: initializeRatio,
      rss_p50_ratio: rssRatio,
      target: 'create_payment p50 and spawn→initialize p50 each ≤ 1.2 × the 1k ledger; RSS p50 ≤ 1.1 ×',
      met: callRatio <= 1.2 && initializeRatio <= 1.2 && rssRatio !== null && rssRatio <= 1.1,
    };
  } finally {
    await simulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, run);
