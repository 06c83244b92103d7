import process from 'node:process';
import { URL } from 'node:url';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { rounded, summarise, nowMs, round } from './lib/stats.mjs';
import { serverEverythingBin } from './lib/paths.mjs';
import {
  OUR_SERVER,
  connectOfficialClient,
  embeddedServerEnv,
  runIfMain,
  serverEnvFor,
  startUnlimitedSimulator,
} from './lib/harness.mjs';

/**
 * Benchmark 4 — cold start: spawn → initialize answered → tools/list answered, with the official
 * client over stdio, interleaved run by run (the order rotates every round):
 *   ours-embedded  node dist/cli.js, QFPAY_ENV=local: starts the embedded simulator (what a user gets)
 *   ours-external  the same pointed at an already running simulator (QFPAY_BASE_URL): isolates it
 *   everything     @modelcontextprotocol/server-everything, stdio (v1 SDK)
 *   v2-echo        one echo tool on OUR SDK (v2, serveStdio): what the SDK generation costs alone
 *   node           `node -e 0` spawn to exit: the floor any Node server pays
 */

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
const IMPORT_RUNS = 7;

/** Median incremental import cost of each dependency, from fresh processes. */
async function importBreakdown() {
  const child = new URL('./lib/import-cost-child.mjs', import.meta.url).pathname;
  const runs = [];
  for (let i = 0; i < IMPORT_RUNS; i++) {
    const { stdout } = await promisify(execFile)(process.execPath, [child]);
    runs.push(JSON.parse(stdout));
  }
  const labels = runs[0].costs.map(([label]) => label);
  return {
    runs: IMPORT_RUNS,
    median_ms: Object.fromEntries(
      labels.map((label, i) => [label, round(summarise(runs.map((r) => r.costs[i][1])).p50)]),
    ),
    total_median_ms: round(summarise(runs.map((r) => r.total)).p50),
  };
}

function nodeFloor() {
  return new Promise((resolve, reject) => {
    const started = nowMs();
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(nowMs() - started));
  });
}

async function timeToToolList(spec, expectTool) {
  const started = nowMs();
  const client = await connectOfficialClient(spec);
  const initialized = nowMs() - started;
  const { tools } = await client.listTools();
  const listed = nowMs() - started;
  await client.close();
  if (!tools.some((t) => t.name === expectTool)) throw new Error(`tools/list lacks ${expectTool}`);
  return { initialized, listed, tools: tools.length };
}

export async function run({ log }) {
  const { simulator, credential } = await startUnlimitedSimulator();
  const everything = serverEverythingBin();
  const variants = {
    'ours-embedded': () => timeToToolList(OUR_SERVER(embeddedServerEnv()), 'create_payment'),
    'ours-external': () =>
      timeToToolList(OUR_SERVER(serverEnvFor(simulator.baseUrl, credential)), 'create_payment'),
    everything: () =>
      timeToToolList(
        { command: process.execPath, args: [everything.path, 'stdio'], env: getDefaultEnvironment() },
        'echo',
      ),
    'v2-echo': () =>
      timeToToolList(
        {
          command: process.execPath,
          args: [new URL('./lib/v2-echo-server.mjs', import.meta.url).pathname],
          env: getDefaultEnvironment(),
        },
        'echo',
      ),
    node: async () => ({ listed: await nodeFloor(), initialized: Number.NaN, tools: 0 }),
  };
  const names = Object.keys(variants);
  const listed = Object.fromEntries(names.map((n) => [n, []]));
  const initialized = Object.fromEntries(names.map((n) => [n, []]));
  const toolCounts = {};
  try {
    log(`cold-start: 1 warm-up + ${RUNS} interleaved runs of ${names.join(', ')}`);
    for (const name of names) await variants[name](); // warm the file-system cache once
    for (let round = 0; round < RUNS; round++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(round + k) % names.length];
        const t = await variants[name]();
        listed[name].push(t.listed);
        initialized[name].push(t.initialized);
        toolCounts[name] = t.tools;
      }
    }
  } finally {
    await simulator.close();
  }
  const summary = Object.fromEntries(
    names.map((n) => [
      n,
      {
        tools_list_ms: rounded(summarise(listed[n])),
        initialize_ms_median: n === 'node' ? null : round(summarise(initialized[n]).p50),
        tools: toolCounts[n],
      },
    ]),
  );
  log('cold-start: import-cost breakdown');
  const imports = await importBreakdown();
  const ratio = summary['ours-embedded'].tools_list_ms.p50 / summary.everything.tools_list_ms.p50;
  return {
    runs: RUNS,
    reference: `@modelcontextprotocol/server-everything ${everything.version}`,
    variants: summary,
    ratio_embedded_vs_reference_median: round(ratio),
    ratio_external_vs_reference_median: round(
      summary['ours-external'].tools_list_ms.p50 / summary.everything.tools_list_ms.p50,
    ),
    ratio_v2_echo_vs_reference_median: round(
      summary['v2-echo'].tools_list_ms.p50 / summary.everything.tools_list_ms.p50,
    ),
    embedded_simulator_cost_ms_median: round(
      summary['ours-embedded'].tools_list_ms.p50 - summary['ours-external'].tools_list_ms.p50,
    ),
    import_cost_breakdown: imports,
    target: { no_slower_than_reference: true },
    met: ratio <= 1,
  };
}

runIfMain(import.meta.url, run);
