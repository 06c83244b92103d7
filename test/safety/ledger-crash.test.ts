import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AuditLedger, readLedgerFile, verifyLedgerFile } from '../../src/safety/ledger.js';
import { makeTempDir } from './helpers.js';

/**
 * Checklist G38: a writer killed with SIGKILL at random points leaves a ledger that parses up to
 * the last complete record, with at most one torn final line, every acknowledged record present,
 * and a chain that open() continues. The writer is a real separate process running the ledger
 * module, transpiled with the project's TypeScript compiler.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let dir: string;
let cleanup: () => Promise<void>;

/** Transpiles `entry` and every relative module it imports into `outDir`, keeping the layout. */
async function transpileGraph(entry: string, outDir: string): Promise<void> {
  const pending = [entry];
  const done = new Set<string>();
  while (pending.length > 0) {
    const source = pending.pop()!;
    if (done.has(source)) continue;
    done.add(source);
    const text = await readFile(source, 'utf8');
    for (const match of text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(path.resolve(path.dirname(source), `${match[1]}.ts`));
    }
    const output = ts.transpileModule(text, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
    }).outputText;
    const target = path.join(outDir, path.relative(repoRoot, source)).replace(/\.ts$/, '.js');
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, output);
  }
}

const WRITER = `
import { AuditLedger } from './src/safety/ledger.js';
const ledger = await AuditLedger.open(process.argv[2], { onWarning: () => {} });
for (let i = 0; ; i += 1) {
  const out_trade_no = 'P' + process.pid + '-' + i;
  const intent = await ledger.recordIntent({
    environment: 'sandbox', merchant: { appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F90' }, tool: 'create_payment',
    kind: 'payment', out_trade_no, txamt: 100 + i, txcurrcd: 'HKD',
    params: { pay_type: '800101', txamt: 100 + i, txcurrcd: 'HKD', out_trade_no, goods_name: 'x'.repeat(i % 700) },
  });
  process.stdout.write('ack ' + intent.seq + '\\n');
  const outcome = await ledger.recordOutcome(intent.intent_id, { status: 'PAID', respcd: '0000' });
  process.stdout.write('ack ' + outcome.seq + '\\n');
}
`;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('ledger-crash'));
  await transpileGraph(path.join(repoRoot, 'src', 'safety', 'ledger.ts'), dir);
  await writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
  await symlink(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  await writeFile(path.join(dir, 'writer.mjs'), WRITER);
});

afterAll(async () => {
  await cleanup();
});

/** Starts the writer, kills it with SIGKILL `delayMs` after its first acknowledgement. */
function runAndKill(file: string, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [path.join(dir, 'writer.mjs'), file], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let highestAck = 0;
    let buffered = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const match of buffered.matchAll(/ack (\d+)\n/g))
        highestAck = Math.max(highestAck, Number(match[1]));
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
      timer ??= setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited without being killed: ${stderr}`));
      else resolve(highestAck);
    });
  });
}

describe('AuditLedger under SIGKILL', () => {
  it('keeps every acknowledged record and an intact, continuable chain across 25 random kills', async () => {
    const file = path.join(dir, 'state', 'audit-sandbox.jsonl');
    for (let round = 0; round < 25; round += 1) {
      const acknowledged = await runAndKill(file, Math.floor(Math.random() * 60));
      const verdict = await verifyLedgerFile(file);
      const { records, problem } = await readLedgerFile(file);
      if (!verdict.ok) {
        // The only damage a kill may leave is one unterminated final line.
        expect(problem?.reason).toMatch(/final (line|record)/);
        expect(verdict.firstBrokenSeq).toBe(records.length + 1);
      }
      // Durability: everything the writer was told is on disk, is on disk.
      expect(records.length).toBeGreaterThanOrEqual(acknowledged);

      const reopened = await AuditLedger.open(file, { onWarning: () => undefined });
      expect(reopened.count).toBeGreaterThanOrEqual(acknowledged);
      await reopened.close();
      expect((await verifyLedgerFile(file)).ok).toBe(true);
    }
    const final = await verifyLedgerFile(file);
    expect(final.ok && final.records).toBeGreaterThan(25);
  }, 60_000);
});
