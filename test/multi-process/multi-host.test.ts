import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RateWindow } from '../../src/qfpay/types.js';
import { type RunningSimulator, type SimCredential, startSimulator } from '../../src/simulator/index.js';
import { maxInAnyWindow } from '../faults/helpers.js';
import { call, CPM_AUTH_CODE, randomCredential, upstreamCount } from '../money-safety/helpers.js';
import { createTestDatabase, queryDatabase } from '../safety/postgres-helpers.js';
import { serveHttp } from '../support/serve-http.js';
import { describeWithServices } from '../support/services.js';

/**
 * Several hosts sharing one merchant the way a team deploys it: three BUILT `qfpay-mcp serve --http`
 * processes, each with its own HOME and state directory, sharing nothing but one PostgreSQL
 * database (QFPAY_DATABASE_URL: money state) and one Redis (QFPAY_REDIS_URL: the merchant's rate
 * budget). Real MCP clients over Streamable HTTP, one per host. One standalone simulator is the
 * witness of what reached "QFPay", and it enforces the same windows as the hosts: with the budget
 * shared, no 429 is ever needed, so every count below is also a count of attempts. QFPay's two
 * windows (per second and per minute) are scaled to 50/1s and 200/5s so the queued-query check
 * takes seconds, not minutes. Every number is a correctness property; speed is `npm run bench`'s.
 */

const PAYMENT = '/trade/v1/payment';
const REFUND = '/trade/v1/refund';
const QUERY = '/trade/v1/query';
const WINDOWS: RateWindow[] = [
  { count: 50, durationMs: 1_000 },
  { count: 200, durationMs: 5_000 },
];
const WINDOWS_TEXT = '50/1s,200/5s';
const KEYS = 40;
/** HKD cents paid before the cap scenario: 40 keys × 10, and the payment the refund race uses. */
const PAID_BEFORE_CAP = KEYS * 10 + 1_000;
const DAILY_CAP = 10_000 + PAID_BEFORE_CAP;

interface Instance {
  readonly client: Client;
  close(): Promise<void>;
}

async function startInstance(env: NodeJS.ProcessEnv): Promise<Instance> {
  const home = await mkdtemp(path.join(tmpdir(), 'qfpay-multi-host-'));
  const served = await serveHttp({
    env: { ...getDefaultEnvironment(), HOME: home, QFPAY_STATE_DIR: path.join(home, 'state'), ...env },
  });
  const client = new Client({ name: 'multi-host', version: '1.0.0' });
  // The clients' default connection pool: the server keeps idle sockets longer than clients do.
  await client.connect(new StreamableHTTPClientTransport(new URL(served.url)));
  return {
    client,
    async close() {
      await client.close().catch(() => undefined);
      await served.stop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

interface Shared {
  readonly credential: SimCredential;
  readonly simulator: RunningSimulator;
  readonly database: { url: string; drop: () => Promise<void> };
}

async function startShared(): Promise<Shared> {
  const credential = randomCredential();
  const simulator = await startSimulator({
    port: 0,
    credentials: [credential],
    quiet: true,
    rateLimits: WINDOWS,
  });
  // Refunds are refused 23:30-00:30 UTC+8 of simulated time: keep the clock at noon.
  simulator.control.setClock({ set: '2026-03-16 12:00:00' });
  return { credential, simulator, database: await createTestDatabase(postgresUrl) };
}

function hostEnv(shared: Shared, redisUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { credential, simulator, database } = shared;
  return {
    QFPAY_ENV: 'local',
    QFPAY_BASE_URL: simulator.baseUrl,
    QFPAY_APPCODE: credential.appcode,
    QFPAY_KEY: credential.key,
    ...(credential.mchid ? { QFPAY_MCHID: credential.mchid } : {}),
    QFPAY_DATABASE_URL: database.url,
    QFPAY_REDIS_URL: redisUrl,
    QFPAY_RATE_LIMITS: WINDOWS_TEXT,
    ...extra,
  };
}

/** The Redis keys of this merchant's shared budget (src/qfpay/client.ts and shared-limiter.ts name them). */
function budgetKeys(shared: Shared): string[] {
  const { simulator, credential } = shared;
  const merchantKey = `${new URL(simulator.baseUrl).origin}|${credential.appcode}|${credential.mchid ?? ''}`;
  const id = createHash('sha256').update(merchantKey, 'utf8').digest('hex').slice(0, 24);
  return ['log', 'open', 'hold'].map((part) => `qfpay-mcp:rate:{${id}}:${part}`);
}

async function stopShared(shared: Shared | undefined, redisUrl: string): Promise<void> {
  if (!shared) return;
  await shared.simulator.close();
  await shared.database.drop();
  const redis = new Redis(redisUrl);
  try {
    await redis.del(...budgetKeys(shared));
  } finally {
    await redis.quit();
  }
}

function payment(out_trade_no: string, txamt: number) {
  return { pay_type: '800108', txamt, txcurrcd: 'HKD', auth_code: CPM_AUTH_CODE, out_trade_no };
}

let postgresUrl = '';

describeWithServices(
  'three HTTP instances sharing one merchant through PostgreSQL and Redis',
  ['postgres', 'redis'],
  ([serverUrl, redisUrl]) => {
    postgresUrl = serverUrl!;

    describe('money state and the rate budget', () => {
      let shared: Shared | undefined;
      let hosts: Instance[] = [];
      let refundable = '';

      beforeAll(async () => {
        shared = await startShared();
        const env = hostEnv(shared, redisUrl!, { QFPAY_DAILY_LIMIT: `HKD:${DAILY_CAP}` });
        hosts = await Promise.all([0, 1, 2].map(() => startInstance(env)));
      }, 120_000);

      afterAll(async () => {
        await Promise.all(hosts.map((host) => host.close()));
        await stopShared(shared, redisUrl!);
      }, 60_000);

      it('40 keys × 3–6 identical concurrent create_payment across the hosts: 1 upstream payment per key, every caller PAID, every loser replayed', async () => {
        const { simulator, database } = shared!;
        const keys = Array.from({ length: KEYS }, (_, i) => `MH_${i}`);
        const answers = [];
        for (let batch = 0; batch < keys.length; batch += 10) {
          const calls = keys.slice(batch, batch + 10).flatMap((key, i) => {
            const copies = 3 + ((batch + i) % 4); // 3, 4, 5 or 6 callers per key
            return Array.from({ length: copies }, async (_, copy) => ({
              key,
              answer: await call(hosts[copy % hosts.length]!.client, 'create_payment', payment(key, 10)),
            }));
          });
          answers.push(...(await Promise.all(calls)));
        }
        expect(answers.length).toBeGreaterThanOrEqual(3 * KEYS);
        for (const { answer } of answers) {
          expect(answer.isError, answer.text).toBe(false);
          expect(answer.structured.status, answer.text).toBe('PAID');
        }
        // The losers, on the winner's host or another one, get the winner's truth (issue #10 ¶5).
        for (const key of keys) {
          const fresh = answers.filter(
            (entry) => entry.key === key && entry.answer.structured.replayed !== true,
          );
          expect(fresh, key).toHaveLength(1);
        }
        const sent = simulator.control.requests().filter((entry) => entry.path === PAYMENT);
        const perKey = new Map<string, number>();
        for (const entry of sent)
          perKey.set(String(entry.out_trade_no), (perKey.get(String(entry.out_trade_no)) ?? 0) + 1);
        expect(keys.map((key) => perKey.get(key) ?? 0)).toEqual(keys.map(() => 1));
        // The hosts kept their money state in the database (nothing else is shared between them).
        const [intents] = await queryDatabase<{ n: number }>(
          database.url,
          `SELECT count(*)::int AS n FROM qfpay_intents WHERE out_trade_no LIKE 'MH\\_%' AND kind = 'payment'`,
        );
        expect(intents!.n).toBe(KEYS);
      }, 180_000);

      it('conflicting parameters for every key already used: 0 upstream sends beyond the first', async () => {
        const before = upstreamCount(shared!.simulator, PAYMENT);
        const answers = await Promise.all(
          Array.from({ length: KEYS }, (_, i) =>
            call(hosts[i % hosts.length]!.client, 'create_payment', payment(`MH_${i}`, 11)),
          ),
        );
        expect(answers.filter((answer) => !answer.isError)).toEqual([]);
        for (const answer of answers) expect(answer.text).toMatch(/different parameters/);
        expect(upstreamCount(shared!.simulator, PAYMENT)).toBe(before);
      }, 120_000);

      it('pays the payment the refund race will use', async () => {
        const paid = await call(hosts[0]!.client, 'create_payment', payment('MH_REFUND', 1_000));
        expect(paid.structured.status, paid.text).toBe('PAID');
        refundable = String(paid.structured.syssn);
      }, 60_000);

      it('30 × 1,000 against a 10,000 daily cap across the hosts: exactly 10 upstream', async () => {
        const before = upstreamCount(shared!.simulator, PAYMENT);
        const answers = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            call(hosts[i % hosts.length]!.client, 'create_payment', payment(`MH_CAP_${i}`, 1_000)),
          ),
        );
        expect(upstreamCount(shared!.simulator, PAYMENT) - before).toBe(10);
        expect(answers.filter((answer) => answer.structured.status === 'PAID')).toHaveLength(10);
        const refused = answers.filter((answer) => answer.isError);
        expect(refused).toHaveLength(20);
        for (const refusal of refused) expect(refusal.text).toMatch(/QFPAY_DAILY_LIMIT/);
      }, 120_000);

      it('6 concurrent full refunds of one payment across the hosts: 1 refund sent, 0 excess upstream', async () => {
        const before = upstreamCount(shared!.simulator, REFUND);
        const answers = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            call(hosts[i % hosts.length]!.client, 'refund', {
              syssn: refundable,
              txamt: 1_000,
              out_trade_no: `MH_RF_${i}`,
            }),
          ),
        );
        expect(upstreamCount(shared!.simulator, REFUND) - before).toBe(1);
        expect(answers.filter((answer) => !answer.isError)).toHaveLength(1);
        const [ledger] = await queryDatabase<{ n: number }>(
          shared!.database.url,
          `SELECT count(*)::int AS n FROM qfpay_intents WHERE kind = 'refund'`,
        );
        expect(ledger!.n).toBe(1);
      }, 120_000);

      it('600 query_transaction calls queued at once across the hosts: 0 window violations and 0 HTTP 429 at the simulator', async () => {
        const { simulator } = shared!;
        const before = upstreamCount(simulator, QUERY);
        const answers = await Promise.all(
          Array.from({ length: 600 }, (_, i) =>
            call(hosts[i % hosts.length]!.client, 'query_transaction', { out_trade_no: `MH_${i % KEYS}` }),
          ),
        );
        for (const answer of answers) expect(answer.structured.status, answer.text).toBe('PAID');
        expect(upstreamCount(simulator, QUERY) - before).toBeGreaterThanOrEqual(600);
        // The whole file's traffic (payments, refunds, queries) drew on one budget: the simulator
        // never had to refuse, and no window ever held more than its count.
        const trade = simulator.control.requests().filter((entry) => entry.path.startsWith('/trade/'));
        expect(trade.filter((entry) => entry.http_status === 429)).toHaveLength(0);
        const arrivals = trade.map((entry) => entry.at_ms).sort((a, b) => a - b);
        for (const { count, durationMs } of WINDOWS) {
          expect(maxInAnyWindow(arrivals, durationMs), `${count}/${durationMs}ms`).toBeLessThanOrEqual(count);
        }
        // Once every call is answered, nothing holds a slot of the shared budget.
        const redis = new Redis(redisUrl!);
        try {
          expect(await redis.zcard(budgetKeys(shared!)[1]!)).toBe(0);
        } finally {
          await redis.quit();
        }
      }, 180_000);
    });

    describe('confirmation tokens', () => {
      let shared: Shared | undefined;
      let env: NodeJS.ProcessEnv;
      let hosts: Instance[] = [];

      beforeAll(async () => {
        shared = await startShared();
        // Every host accepts every host's tokens (shared secret); only the database can make them single-use.
        env = hostEnv(shared, redisUrl!, {
          QFPAY_CONFIRM: 'always',
          QFPAY_CONFIRM_SECRET: randomBytes(32).toString('hex'),
        });
        hosts = await Promise.all([0, 1].map(() => startInstance(env)));
      }, 120_000);

      afterAll(async () => {
        await Promise.all(hosts.map((host) => host.close()));
        await stopShared(shared, redisUrl!);
      }, 60_000);

      it('a token is redeemed once across hosts and across a restart, even when its first use moved no money', async () => {
        const { simulator } = shared!;
        const args = { pay_type: '800101', txamt: 1_050, txcurrcd: 'HKD', out_trade_no: 'MHTOKEN_1' };
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
  },
);
