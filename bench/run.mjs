import process from 'node:process';
import console from 'node:console';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, RESULTS_DIR } from './lib/paths.mjs';
import { renderReport } from './report.mjs';

/**
 * `npm run bench`: runs every benchmark in sequence (never in parallel: they would measure each
 * other), writes bench/results/latest.json and regenerates BENCHMARKS.md from it.
 * `node bench/run.mjs overhead cold-start` runs a subset and merges it into latest.json.
 */

const BENCHES = {
  overhead: './overhead.mjs',
  'sdk-floor': './sdk-floor.mjs',
  'rate-limit': './rate-limit.mjs',
  'cold-start': './cold-start.mjs',
  'context-cost': './context-cost.mjs',
  'http-load': './http-load.mjs',
  'simulator-scale': './simulator-scale.mjs',
};

const LATEST = path.join(RESULTS_DIR, 'latest.json');

function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu_model: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memory_gb: Math.round(os.totalmem() / 1024 ** 3),
    load_average_at_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

async function main() {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown bench ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) {
    console.error('dist/cli.js is missing: run `npm run build` first (npm run bench does).');
    process.exitCode = 1;
    return;
  }
  const names = requested.length > 0 ? requested : Object.keys(BENCHES);
  const previous = requested.length > 0 && existsSync(LATEST) ? JSON.parse(readFileSync(LATEST, 'utf8')) : {};
  const results = { ...(previous.results ?? {}) };
  const durations = { ...(previous.durations_s ?? {}) };
  const started = Date.now();
  const facts = machine();
  for (const name of names) {
    const t = Date.now();
    console.error(`\n== ${name}`);
    const module = await import(BENCHES[name]);
    results[name] = await module.run({ log: (line) => console.error(`   ${line}`) });
    durations[name] = Math.round((Date.now() - t) / 100) / 10;
    console.error(
      `   done in ${durations[name]} s${'met' in results[name] ? `, target ${results[name].met ? 'met' : 'NOT met'}` : ''}`,
    );
  }
  const document = {
    generated_at: new Date().toISOString(),
    machine: { ...facts, load_average_at_end: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    total_runtime_s: Math.round((Date.now() - started) / 100) / 10,
    durations_s: durations,
    results,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(LATEST, `${JSON.stringify(document, null, 2)}\n`);
  writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), renderReport(document));
  console.error(`\nwrote ${path.relative(ROOT, LATEST)} and BENCHMARKS.md in ${document.total_runtime_s} s`);
}

await main();
