import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readLedgerFile, verifyLedgerFile } from '../../src/safety/ledger.js';
import { EmbeddedMoneyStore } from '../../src/safety/stores/embedded.js';
import { startSimulator, type RunningSimulator, type SimCredential } from '../../src/simulator/index.js';
import { CPM_AUTH_CODE, randomCredential, tempDir } from '../money-safety/helpers.js';

/**
 * kill -9 of a money-moving process in the middle of its work, 50 times: every new process starts
 * again with the last key the killed one finished and the one it was working on, so whatever a
 * killed process claimed, sent or recorded is tried again. Nothing may be sent twice, no key may get two intents, and the chain stays intact.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = path.join(ROOT, 'test', 'multi-process', 'kill-child.mjs');
const KILLS = 50;

let credential: SimCredential;
let simulator: RunningSimulator;
let dir: { dir: string; remove: () => Promise<void> };

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist', 'safety', 'stores', 'embedded.js')))
    throw new Error('dist/ is missing: run "npm run build" first');
  credential = randomCredential();
  // Fifty short-lived processes each keep a rate budget of their own, together more than QFPay's
  // quota: the witness counts requests, it does not police the quota here.
  simulator = await startSimulator({
    port: 0,
    credentials: [credential],
    quiet: true,
    rateLimits: [{ count: 100_000, durationMs: 1_000 }],
  });
  simulator.control.setClock({ set: '2026-03-16 12:00:00' });
  dir = await tempDir('kill');
});
afterAll(async () => {
  await simulator.close();
  await dir.remove();
});

/**
 * Starts a child and SIGKILLs it a random moment after it reaches new work: once it has finished
 * a key at or beyond `frontier` (every earlier key is only replayed), or, for the very first
 * child, once it is ready. Resolves with the highest key it finished (or `frontier - 1`).
 */
function runAndKill(file: string, frontier: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        CHILD,
        simulator.baseUrl,
        credential.appcode,
        credential.key,
        credential.mchid!,
        file,
        CPM_AUTH_CODE,
        // The last key finished before and the one that was in flight when it was killed, again.
        String(Math.max(0, frontier - 2)),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    let stderr = '';
    let armed = false;
    let highest = frontier - 1;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const finished = output
        .split('\n')
        .filter((line) => /^\d+$/.test(line))
        .map(Number);
      highest = Math.max(highest, ...finished);
      const atNewWork = frontier === 0 ? output.includes('ready\n') : highest >= frontier;
      if (!armed && atNewWork) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 150));
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child ended with ${code}: ${stderr.slice(0, 500)}`));
      else resolve(highest);
    });
  });
}

describe('kill -9 in the middle of money-moving work', () => {
  it(`${KILLS} kills: 0 re-sends, 0 duplicate intents, the chain intact`, async () => {
    const file = path.join(dir.dir, 'audit-test.jsonl');
    let frontier = 0;
    for (let kill = 0; kill < KILLS; kill += 1) frontier = (await runAndKill(file, frontier)) + 1;

    // The next open repairs a torn final line, exactly as a restarted server would.
    const store = new EmbeddedMoneyStore(file);
    await store.recent(1);
    await store.close();
    expect(await verifyLedgerFile(file)).toMatchObject({ ok: true });

    const sent = new Map<string, number>();
    for (const entry of simulator.control.requests()) {
      if (entry.path === '/trade/v1/payment' && entry.out_trade_no)
        sent.set(entry.out_trade_no, (sent.get(entry.out_trade_no) ?? 0) + 1);
    }
    // Every child got past the keys done before it: the kills hit new work each time.
    expect(sent.size).toBeGreaterThanOrEqual(KILLS);
    expect([...sent.entries()].filter(([, count]) => count > 1)).toEqual([]);
    const intents = new Map<string, number>();
    for (const record of (await readLedgerFile(file)).records) {
      if (record.step === 'intent')
        intents.set(record.out_trade_no, (intents.get(record.out_trade_no) ?? 0) + 1);
    }
    expect([...intents.entries()].filter(([, count]) => count > 1)).toEqual([]);
    // Every payment QFPay received was recorded as an intent first.
    for (const outTradeNo of sent.keys()) expect(intents.get(outTradeNo)).toBe(1);
  }, 180_000);
});
