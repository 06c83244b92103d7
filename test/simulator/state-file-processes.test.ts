import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpmPayment, qfOk } from './helpers.js';

/**
 * Lasting rehearsals across real processes: two `qfpay-mcp simulator --state-file F` runs one
 * after the other see each other's orders, and `qfpay-mcp simulator reset --state-file F` clears
 * them. Runs the built bin (`npm test` builds first).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const dir = mkdtempSync(path.join(tmpdir(), 'qfpay-sim-processes-'));
const stateFile = path.join(dir, 'state.jsonl');

beforeAll(() => {
  if (!existsSync(CLI))
    throw new Error('dist/cli.js is missing: run `npm run build` first (npm test does this).');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Running {
  readonly baseUrl: string;
  stop(): Promise<number | null>;
}

function run(args: string[]): { output: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'simulator', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { output: exited.then(() => stdout), exited };
}

async function startProcess(): Promise<Running> {
  const child = spawn(
    process.execPath,
    [CLI, 'simulator', '--port', '0', '--quiet', '--state-file', stateFile],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /listening on (http:\/\/[^\s]+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`simulator exited early (${String(code)})`)));
  });
  return {
    baseUrl,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('two simulator processes on one state file', () => {
  it('the second sees the first one’s orders; reset clears them', async () => {
    const first = await startProcess();
    const paid = await qfOk(first, '/trade/v1/payment', cpmPayment());
    expect(await first.stop()).toBe(0);

    const second = await startProcess();
    const seen = await qfOk(second, '/trade/v1/query', { syssn: paid.syssn! });
    expect(seen.data?.map((r) => r.out_trade_no)).toEqual([paid.out_trade_no]);
    const again = await qfOk(second, '/trade/v1/payment', cpmPayment({ out_trade_no: paid.out_trade_no! }));
    expect(again.respcd).toBe('1102');
    expect(await second.stop()).toBe(0);

    const reset = run(['reset', '--state-file', stateFile]);
    expect(await reset.exited).toBe(0);
    expect(await reset.output).toContain('Simulator state cleared');
    expect(readFileSync(stateFile, 'utf8')).toBe('');

    const third = await startProcess();
    expect((await qfOk(third, '/trade/v1/query', { syssn: paid.syssn! })).data).toEqual([]);
    expect(await third.stop()).toBe(0);
  }, 60_000);
});
