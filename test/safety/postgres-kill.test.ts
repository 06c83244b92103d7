import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { openPostgresStore } from '../../src/safety/stores/postgres.js';
import { type RunningSimulator, type SimCredential } from '../../src/simulator/index.js';
import { CPM_AUTH_CODE, randomCredential, startWitness } from '../money-safety/helpers.js';
import { describeWithServices } from '../support/services.js';
import { createTestDatabase, queryDatabase } from './postgres-helpers.js';

/**
 * kill -9 of a server in the middle of a create_payment, 50 times, on the PostgreSQL store: every
 * iteration a fresh BUILT stdio server is spawned, initialised, sent one payment and killed after a
 * random few milliseconds (before, during or after its transaction or its HTTP call). Then each
 * payment is sent again, identically, to a healthy server. The simulator's request log is the
 * witness: no order may reach it twice, and the chain must verify.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'cli.js');
const ITERATIONS = 50;

interface Server {
  readonly child: ChildProcess;
  request(message: Record<string, unknown>): Promise<Record<string, unknown>>;
  send(message: Record<string, unknown>): void;
}

async function spawnServer(env: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawn(process.execPath, [CLI], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'ignore'] });
  const waiting = new Map<number, (message: Record<string, unknown>) => void>();
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    for (let newline = buffer.indexOf('\n'); newline !== -1; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const message = JSON.parse(line) as Record<string, unknown>;
      waiting.get(message.id as number)?.(message);
    }
  });
  child.stdin.on('error', () => undefined);
  const send = (message: Record<string, unknown>) =>
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  const server: Server = {
    child,
    send,
    request: (message) =>
      new Promise((resolve) => {
        waiting.set(message.id as number, resolve);
        send(message);
      }),
  };
  await server.request({
    id: 0,
    method: 'initialize',
    params: {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'kill-loop', version: '1' },
    },
  });
  send({ method: 'notifications/initialized' });
  return server;
}

function payment(out_trade_no: string) {
  return {
    name: 'create_payment',
    arguments: { pay_type: '800108', txamt: 100, txcurrcd: 'HKD', auth_code: CPM_AUTH_CODE, out_trade_no },
  };
}

describeWithServices('kill -9 mid-call on the PostgreSQL store', ['postgres'], ([serverUrl]) => {
  let credential: SimCredential;
  let simulator: RunningSimulator;
  let database: { url: string; drop: () => Promise<void> };
  let home: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    credential = randomCredential();
    simulator = await startWitness(credential);
    database = await createTestDatabase(serverUrl!);
    home = await mkdtemp(path.join(tmpdir(), 'qfpay-pg-kill-'));
    env = {
      ...getDefaultEnvironment(),
      HOME: home,
      QFPAY_STATE_DIR: path.join(home, 'state'),
      QFPAY_ENV: 'local',
      QFPAY_BASE_URL: simulator.baseUrl,
      QFPAY_APPCODE: credential.appcode,
      QFPAY_KEY: credential.key,
      QFPAY_MCHID: credential.mchid!,
      QFPAY_DATABASE_URL: database.url,
    };
  });

  afterAll(async () => {
    await simulator?.close();
    await database?.drop();
    await rm(home, { recursive: true, force: true });
  });

  it(`${ITERATIONS} kills mid-call, then every payment re-sent: 0 orders sent twice, 0 duplicate intents, chain intact`, async () => {
    const keys = Array.from({ length: ITERATIONS }, (_, i) => `PGKILL_${i}`);
    // Calibration: how long one create_payment takes on a fresh server of this machine right now.
    const calibration = await spawnServer(env);
    const started = Date.now();
    await calibration.request({ id: 1, method: 'tools/call', params: payment('PGKILL_CALIBRATION') });
    const callMs = Date.now() - started;
    calibration.child.kill('SIGKILL');

    for (const [i, key] of keys.entries()) {
      const server = await spawnServer(env);
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.send({ id: 1, method: 'tools/call', params: payment(key) });
      // Spread over 0-120 % of a call: before the transaction, inside it, during the HTTP call, after.
      await new Promise((resolve) => setTimeout(resolve, Math.round(((i % 25) / 24) * 1.2 * callMs)));
      server.child.kill('SIGKILL');
      await exited;
    }

    // Where the kills landed: intents recorded, and orders that reached QFPay, before any re-send.
    const [recorded] = await queryDatabase<{ n: number }>(
      database.url,
      'SELECT count(*)::int AS n FROM qfpay_intents',
    );
    const reached = new Set(
      simulator.control
        .requests()
        .filter((entry) => entry.path === '/trade/v1/payment')
        .map((entry) => entry.out_trade_no),
    ).size;
    console.log(
      `kill loop: ${ITERATIONS} kills over 0-${Math.round(1.2 * callMs)} ms (calibration call included below): ${recorded!.n} intents recorded, ${reached} orders reached QFPay before the re-sends`,
    );

    const healthy = await spawnServer(env);
    const answers = [];
    for (const [i, key] of keys.entries()) {
      answers.push(await healthy.request({ id: 100 + i, method: 'tools/call', params: payment(key) }));
    }
    const exited = new Promise((resolve) => healthy.child.once('exit', resolve));
    healthy.child.stdin!.end();
    await exited;

    const sent = new Map<string, number>();
    for (const entry of simulator.control.requests()) {
      if (entry.path === '/trade/v1/payment')
        sent.set(String(entry.out_trade_no), (sent.get(String(entry.out_trade_no)) ?? 0) + 1);
    }
    expect(keys.filter((key) => (sent.get(key) ?? 0) > 1)).toEqual([]);
    // Every answer is a result, not a protocol error; an order that reached QFPay is answered PAID.
    for (const answer of answers) expect(answer.error).toBeUndefined();

    const duplicates = await queryDatabase<{ out_trade_no: string }>(
      database.url,
      `SELECT out_trade_no FROM qfpay_intents i
       WHERE kind = 'payment' AND EXISTS (
         SELECT 1 FROM qfpay_intents j WHERE j.out_trade_no = i.out_trade_no AND j.intent_id <> i.intent_id AND j.counted AND i.counted)`,
    );
    expect(duplicates).toEqual([]);
    const store = await openPostgresStore(database.url, {});
    try {
      const verdict = await store.verify();
      expect(verdict.ok).toBe(true);
      expect(verdict.records).toBeGreaterThanOrEqual(ITERATIONS);
    } finally {
      await store.close();
    }
  }, 600_000);
});
