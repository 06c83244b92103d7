import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyLedgerFile } from '../../src/safety/ledger.js';
import type { RunningSimulator, SimCredential } from '../../src/simulator/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import { call, CPM_AUTH_CODE, randomCredential, tempDir, type ToolAnswer } from '../money-safety/helpers.js';

/**
 * Several real server processes (the built CLI over stdio, as Claude Desktop, Claude Code and
 * OpenClaw each spawn one) share one embedded money-state store and one simulator. The simulator's
 * request log is the witness of what reached "QFPay". Every number here is a correctness property:
 * one upstream payment per key, no upstream send for a conflicting call, a daily cap that holds
 * exactly across processes, one refund out of six concurrent full refunds.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PAYMENT = '/trade/v1/payment';
const REFUND = '/trade/v1/refund';
const KEYS = 40;
/** What the scenarios before the cap scenario pay, in HKD cents (see the order of the tests). */
const PAID_BEFORE_CAP = 3 * KEYS * 1 + 1_000;
const DAILY_CAP = 10_000 + PAID_BEFORE_CAP;

interface Server {
  readonly client: Client;
  close(): Promise<void>;
}

let credential: SimCredential;
let simulator: RunningSimulator;
let dir: { dir: string; remove: () => Promise<void> };
let servers: Server[] = [];

function ledgerFile(): string {
  return path.join(dir.dir, 'state', 'audit-test.jsonl');
}

async function spawnServer(index: number): Promise<Server> {
  const home = path.join(dir.dir, `home-${index}`);
  const client = new Client({ name: `multi-process-${index}`, version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [CLI],
      cwd: ROOT,
      stderr: 'ignore',
      env: {
        ...getDefaultEnvironment(),
        HOME: home,
        XDG_STATE_HOME: path.join(home, '.local', 'state'),
        QFPAY_ENV: 'test',
        QFPAY_BASE_URL: simulator.baseUrl,
        QFPAY_APPCODE: credential.appcode,
        QFPAY_KEY: credential.key,
        QFPAY_MCHID: credential.mchid!,
        QFPAY_STATE_DIR: path.join(dir.dir, 'state'),
        QFPAY_DAILY_LIMIT: `HKD:${DAILY_CAP}`,
        // test confirms real-money writes by default; these suites are about the shared store.
        QFPAY_CONFIRM: 'prod',
        // Within QFPay's quota (higher windows are refused outside local); the simulator has none.
        QFPAY_RATE_LIMITS: '100/1s,400/60s',
      },
    }),
  );
  return { client, close: () => client.close() };
}

function upstream(pathName: string, outTradeNo?: string): number {
  return simulator.control
    .requests()
    .filter(
      (entry) => entry.path === pathName && (outTradeNo === undefined || entry.out_trade_no === outTradeNo),
    ).length;
}

function cpm(
  outTradeNo: string,
  txamt: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    pay_type: '800108',
    txamt,
    txcurrcd: 'HKD',
    out_trade_no: outTradeNo,
    auth_code: CPM_AUTH_CODE,
    ...extra,
  };
}

/** Every process sends the same payment for every key at once. */
async function identicalRace(processes: number, prefix: string): Promise<ToolAnswer[]> {
  const calls: Promise<ToolAnswer>[] = [];
  for (let key = 0; key < KEYS; key += 1) {
    for (const server of servers.slice(0, processes)) {
      calls.push(call(server.client, 'create_payment', cpm(`${prefix}_${key}`, 1)));
    }
  }
  return Promise.all(calls);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  credential = randomCredential();
  simulator = await startSimulator({
    port: 0,
    credentials: [credential],
    quiet: true,
    rateLimits: [{ count: 100_000, durationMs: 1_000 }],
  });
  // Refunds are refused 23:30-00:30 UTC+8 of simulated time: keep the clock at noon.
  simulator.control.setClock({ set: '2026-03-16 12:00:00' });
  dir = await tempDir('multi');
  servers = await Promise.all(Array.from({ length: 6 }, (_, index) => spawnServer(index)));
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await simulator?.close();
  await dir?.remove();
});

describe('processes sharing one embedded store', () => {
  it('3 processes × 40 keys of identical concurrent create_payment: exactly 1 upstream payment per key, every caller PAID', async () => {
    const answers = await identicalRace(3, 'id3');
    for (let key = 0; key < KEYS; key += 1) expect(upstream(PAYMENT, `id3_${key}`)).toBe(1);
    expect(answers.filter((answer) => answer.isError)).toEqual([]);
    expect(answers.every((answer) => answer.structured.status === 'PAID')).toBe(true);
    // One winner per key; the two others were told the winner's truth as a replay.
    expect(answers.filter((answer) => answer.structured.replayed === true)).toHaveLength(2 * KEYS);
  }, 120_000);

  it('3 processes × 40 keys with conflicting parameters: 0 upstream sends beyond the first', async () => {
    const calls: Promise<ToolAnswer>[] = [];
    for (let key = 0; key < KEYS; key += 1) {
      servers.slice(0, 3).forEach((server, index) => {
        calls.push(
          call(server.client, 'create_payment', cpm(`cf3_${key}`, 1, { goods_name: `variant ${index}` })),
        );
      });
    }
    const answers = await Promise.all(calls);
    for (let key = 0; key < KEYS; key += 1) expect(upstream(PAYMENT, `cf3_${key}`)).toBe(1);
    expect(answers.filter((answer) => !answer.isError)).toHaveLength(KEYS);
    const refusals = answers.filter((answer) => answer.isError);
    expect(refusals).toHaveLength(2 * KEYS);
    for (const refusal of refusals) expect(refusal.text).toMatch(/different parameters/);
  }, 120_000);

  it('6 processes × 40 keys of identical concurrent create_payment: exactly 1 upstream payment per key', async () => {
    const answers = await identicalRace(6, 'id6');
    for (let key = 0; key < KEYS; key += 1) expect(upstream(PAYMENT, `id6_${key}`)).toBe(1);
    expect(answers.filter((answer) => answer.isError)).toEqual([]);
    expect(answers.every((answer) => answer.structured.status === 'PAID')).toBe(true);
    expect(answers.filter((answer) => answer.structured.replayed === true)).toHaveLength(5 * KEYS);
  }, 120_000);

  let refundable: string;
  it('pays the payment the refund race will use', async () => {
    const paid = await call(servers[0]!.client, 'create_payment', cpm('to_refund', 1_000));
    expect(paid.structured.status).toBe('PAID');
    refundable = paid.structured.syssn as string;
  });

  it('30 × 1,000 across 3 processes against a 10,000 daily cap: exactly 10 reach QFPay', async () => {
    const before = upstream(PAYMENT);
    const calls: Promise<ToolAnswer>[] = [];
    for (let i = 0; i < 30; i += 1) {
      calls.push(call(servers[i % 3]!.client, 'create_payment', cpm(`cap_${i}`, 1_000)));
    }
    const answers = await Promise.all(calls);
    expect(upstream(PAYMENT) - before).toBe(10);
    expect(answers.filter((answer) => !answer.isError)).toHaveLength(10);
    for (const refusal of answers.filter((answer) => answer.isError)) {
      expect(refusal.text).toMatch(/QFPAY_DAILY_LIMIT/);
    }
  }, 120_000);

  it('6 concurrent full refunds of one payment across 6 processes: 1 sent, 0 excess refund requests upstream', async () => {
    const answers = await Promise.all(
      servers.map((server, index) =>
        call(server.client, 'refund', { syssn: refundable, txamt: 1_000, out_trade_no: `rf_${index}` }),
      ),
    );
    expect(upstream(REFUND)).toBe(1);
    expect(answers.filter((answer) => !answer.isError)).toHaveLength(1);
    expect(answers.filter((answer) => answer.isError)).toHaveLength(5);
  }, 120_000);

  it('leaves one intact hash chain', async () => {
    expect(await verifyLedgerFile(ledgerFile())).toMatchObject({ ok: true });
  });
});
