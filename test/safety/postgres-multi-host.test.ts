import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type RunningSimulator, type SimCredential } from '../../src/simulator/index.js';
import {
  call,
  CPM_AUTH_CODE,
  randomCredential,
  startWitness,
  upstreamCount,
} from '../money-safety/helpers.js';
import { describeWithServices } from '../support/services.js';
import { createTestDatabase, queryDatabase } from './postgres-helpers.js';

/**
 * Several hosts sharing one merchant through PostgreSQL: three BUILT `qfpay-mcp serve --http`
 * processes (each with its own HOME and state directory, so nothing is shared but the database),
 * one standalone simulator whose request log is the witness of what reached "QFPay", and real MCP
 * clients over Streamable HTTP, one per instance.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PAYMENT = '/trade/v1/payment';
const REFUND = '/trade/v1/refund';

interface Instance {
  readonly client: Client;
  close(): Promise<void>;
}

async function startInstance(env: NodeJS.ProcessEnv): Promise<Instance> {
  const home = await mkdtemp(path.join(tmpdir(), 'qfpay-pg-host-'));
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--http', '--port', '0'], {
    cwd: ROOT,
    env: { ...getDefaultEnvironment(), HOME: home, QFPAY_STATE_DIR: path.join(home, 'state'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4_000)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
  const client = new Client({ name: 'pg-multi-host', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return {
    client,
    async close() {
      await client.close().catch(() => undefined);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(home, { recursive: true, force: true });
    },
  };
}

function hostEnv(
  simulator: RunningSimulator,
  credential: SimCredential,
  databaseUrl: string,
  extra: NodeJS.ProcessEnv = {},
) {
  return {
    QFPAY_ENV: 'local',
    QFPAY_BASE_URL: simulator.baseUrl,
    QFPAY_APPCODE: credential.appcode,
    QFPAY_KEY: credential.key,
    ...(credential.mchid ? { QFPAY_MCHID: credential.mchid } : {}),
    QFPAY_DATABASE_URL: databaseUrl,
    ...extra,
  };
}

function payment(out_trade_no: string, txamt: number) {
  return { pay_type: '800108', txamt, txcurrcd: 'HKD', auth_code: CPM_AUTH_CODE, out_trade_no };
}

describeWithServices(
  'three HTTP instances sharing one merchant through PostgreSQL',
  ['postgres'],
  ([serverUrl]) => {
    describe('idempotency and refunds', () => {
      let credential: SimCredential;
      let simulator: RunningSimulator;
      let database: { url: string; drop: () => Promise<void> };
      let hosts: Instance[] = [];

      beforeAll(async () => {
        credential = randomCredential();
        simulator = await startWitness(credential, { unmetered: true });
        database = await createTestDatabase(serverUrl!);
        hosts = await Promise.all(
          [0, 1, 2].map(() => startInstance(hostEnv(simulator, credential, database.url))),
        );
      }, 120_000);

      afterAll(async () => {
        await Promise.all(hosts.map((host) => host.close()));
        await simulator?.close();
        await database?.drop();
      }, 60_000);

      it('40 keys × 3–6 identical concurrent create_payment across the hosts: 1 upstream payment per key, every caller PAID', async () => {
        const keys = Array.from({ length: 40 }, (_, i) => `PGH_${i}`);
        const answers = [];
        for (let batch = 0; batch < keys.length; batch += 10) {
          const calls = keys.slice(batch, batch + 10).flatMap((key, i) => {
            const copies = 3 + ((batch + i) % 4); // 3, 4, 5 or 6 callers per key
            return Array.from({ length: copies }, (_, copy) =>
              call(hosts[copy % hosts.length]!.client, 'create_payment', payment(key, 10)).then((answer) => ({
                key,
                answer,
              })),
            );
          });
          answers.push(...(await Promise.all(calls)));
        }
        expect(answers.length).toBeGreaterThanOrEqual(120);
        for (const { answer } of answers) {
          expect(answer.isError, answer.text).toBe(false);
          expect(answer.structured.status, answer.text).toBe('PAID');
        }
        const sent = simulator.control.requests().filter((entry) => entry.path === PAYMENT);
        const perKey = new Map<string, number>();
        for (const entry of sent)
          perKey.set(String(entry.out_trade_no), (perKey.get(String(entry.out_trade_no)) ?? 0) + 1);
        expect(keys.map((key) => perKey.get(key) ?? 0)).toEqual(keys.map(() => 1));
        // The hosts kept their state in the database (nothing else is shared between them).
        const [intents] = await queryDatabase<{ n: number }>(
          database.url,
          `SELECT count(*)::int AS n FROM qfpay_intents WHERE out_trade_no LIKE 'PGH\\_%' AND kind = 'payment'`,
        );
        expect(intents!.n).toBe(40);
      }, 180_000);

      it('conflicting parameters for a key already used: 0 upstream sends beyond the first', async () => {
        const before = upstreamCount(simulator, PAYMENT);
        const answers = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            call(hosts[i % hosts.length]!.client, 'create_payment', payment(`PGH_${i}`, 11)),
          ),
        );
        expect(answers.every((answer) => answer.isError)).toBe(true);
        expect(answers[0]!.text).toMatch(/different parameters/);
        expect(upstreamCount(simulator, PAYMENT)).toBe(before);
      }, 120_000);

      it('6 concurrent full refunds of one payment across the hosts: 1 refund sent', async () => {
        const paid = await call(hosts[0]!.client, 'create_payment', payment('PGH_REFUND', 1000));
        expect(paid.structured.status).toBe('PAID');
        const before = upstreamCount(simulator, REFUND);
        const answers = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            call(hosts[i % hosts.length]!.client, 'refund', { syssn: paid.structured.syssn }),
          ),
        );
        expect(upstreamCount(simulator, REFUND) - before).toBe(1);
        expect(answers.filter((answer) => !answer.isError)).toHaveLength(1);
        const [ledger] = await queryDatabase<{ n: number }>(
          database.url,
          `SELECT count(*)::int AS n FROM qfpay_intents WHERE kind = 'refund'`,
        );
        expect(ledger!.n).toBe(1);
      }, 120_000);
    });

    describe('confirmation tokens', () => {
      let credential: SimCredential;
      let simulator: RunningSimulator;
      let database: { url: string; drop: () => Promise<void> };
      let env: NodeJS.ProcessEnv;
      let hosts: Instance[] = [];

      beforeAll(async () => {
        credential = randomCredential();
        simulator = await startWitness(credential, { unmetered: true });
        database = await createTestDatabase(serverUrl!);
        // Every host accepts every host's tokens (shared secret); only the database can make them single-use.
        env = hostEnv(simulator, credential, database.url, {
          QFPAY_CONFIRM: 'always',
          QFPAY_CONFIRM_SECRET: randomBytes(32).toString('hex'),
        });
        hosts = await Promise.all([0, 1].map(() => startInstance(env)));
      }, 120_000);

      afterAll(async () => {
        await Promise.all(hosts.map((host) => host.close()));
        await simulator?.close();
        await database?.drop();
      }, 60_000);

      it('a token is redeemed once across hosts and across a restart, even when its first use moved no money', async () => {
        const args = { pay_type: '800101', txamt: 1_050, txcurrcd: 'HKD', out_trade_no: 'PGTOKEN_1' };
        const prepared = await call(hosts[0]!.client, 'create_payment', args);
        expect(prepared.structured.status).toBe('CONFIRMATION_REQUIRED');
        const confirmed = { ...args, confirmation_token: prepared.structured.confirmation_token };
        // QFPay answers 429 to every try: not processed, so the out_trade_no is released again.
        simulator.control.addFault({ kind: 'http429', paths: [PAYMENT], count: 1_000 });
        try {
          const limited = await call(hosts[1]!.client, 'create_payment', confirmed);
          expect(limited.structured.error).toEqual(expect.objectContaining({ kind: 'rate_limited' }));
        } finally {
          simulator.control.clearFaults();
        }
        const before = upstreamCount(simulator, PAYMENT);
        const onOtherHost = await call(hosts[0]!.client, 'create_payment', confirmed);
        expect(onOtherHost.isError).toBe(true);
        expect(onOtherHost.text).toMatch(/already used/);

        await hosts[0]!.close();
        hosts[0] = await startInstance(env);
        const afterRestart = await call(hosts[0].client, 'create_payment', confirmed);
        expect(afterRestart.isError).toBe(true);
        expect(afterRestart.text).toMatch(/already used/);
        expect(upstreamCount(simulator, PAYMENT)).toBe(before);
      }, 120_000);
    });

    describe('daily cap', () => {
      let credential: SimCredential;
      let simulator: RunningSimulator;
      let database: { url: string; drop: () => Promise<void> };
      let hosts: Instance[] = [];

      beforeAll(async () => {
        credential = randomCredential();
        simulator = await startWitness(credential, { unmetered: true });
        database = await createTestDatabase(serverUrl!);
        const env = hostEnv(simulator, credential, database.url, { QFPAY_DAILY_LIMIT: 'HKD:10000' });
        hosts = await Promise.all([0, 1, 2].map(() => startInstance(env)));
      }, 120_000);

      afterAll(async () => {
        await Promise.all(hosts.map((host) => host.close()));
        await simulator?.close();
        await database?.drop();
      }, 60_000);

      it('30 × 1,000 against a 10,000 daily cap across the hosts: exactly 10 upstream', async () => {
        const answers = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            call(hosts[i % hosts.length]!.client, 'create_payment', payment(`PGCAP_${i}`, 1000)),
          ),
        );
        expect(upstreamCount(simulator, PAYMENT)).toBe(10);
        expect(answers.filter((answer) => answer.structured.status === 'PAID')).toHaveLength(10);
        const refused = answers.filter((answer) => answer.isError);
        expect(refused).toHaveLength(20);
        expect(refused[0]!.text).toMatch(/QFPAY_DAILY_LIMIT/);
      }, 120_000);
    });
  },
);
