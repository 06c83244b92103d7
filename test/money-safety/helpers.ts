import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/client';
import { type ElicitResult, InMemoryTransport } from '@modelcontextprotocol/server';
import { afterAll, beforeAll } from 'vitest';

import { readLedgerFile, type LedgerRecord } from '../../src/safety/ledger.js';
import { createRuntime, type QfpayMcpRuntime, type RuntimeOptions } from '../../src/mcp/runtime.js';
import { type RunningSimulator, type SimCredential, startSimulator } from '../../src/simulator/index.js';
import { call, type ToolAnswer } from '../mcp/helpers.js';

export { call, type ToolAnswer };

/**
 * Fixtures for the money-safety suite: an external simulator (the witness: its request log shows
 * what really reached "QFPay"), runtimes pointed at it in any environment, and MCP clients that
 * may or may not answer elicitation. Every runtime writes its ledger into a temporary directory.
 */

/** A credential with an mchid, as QFPay issues to agent accounts; random per suite. */
export function randomCredential(): SimCredential {
  return {
    appcode: `MS${randomBytes(15).toString('hex').toUpperCase()}`,
    key: `key-${randomBytes(24).toString('hex')}`,
    mchid: `M${randomBytes(5).toString('hex')}`,
  };
}

/**
 * The simulator as a witness that counts what reaches it. `unmetered`: several processes that each
 * keep a rate budget of their own (no shared limiter) would together exceed QFPay's quota, and a
 * 429 they retry would count as a second request.
 */
export async function startWitness(
  credential: SimCredential,
  options: { unmetered?: boolean } = {},
): Promise<RunningSimulator> {
  const simulator = await startSimulator({
    port: 0,
    credentials: [credential],
    quiet: true,
    ...(options.unmetered ? { rateLimits: [{ count: 100_000, durationMs: 1_000 }] } : {}),
  });
  // Refunds are refused 23:30-00:30 UTC+8 of simulated time: keep the clock at noon.
  simulator.control.setClock({ set: '2026-03-16 12:00:00' });
  return simulator;
}

export async function tempDir(label: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `qfpay-ms-${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The witness every money-safety suite starts: a fresh credential, the simulator that counts what
 * reached "QFPay", and a temporary directory for ledgers, started before the suite and removed
 * after it. Read its fields inside tests and hooks (they are set once the suite starts).
 */
export function useWitness(label: string): {
  readonly credential: SimCredential;
  readonly simulator: RunningSimulator;
  readonly dir: string;
} {
  let started: { credential: SimCredential; simulator: RunningSimulator; dir: string } | undefined;
  let remove: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const credential = randomCredential();
    const simulator = await startWitness(credential);
    const temp = await tempDir(label);
    remove = temp.remove;
    started = { credential, simulator, dir: temp.dir };
  });
  afterAll(async () => {
    await started?.simulator.close();
    await remove?.();
  });
  const get = () => {
    if (!started) throw new Error('useWitness: read its fields inside tests or hooks');
    return started;
  };
  return {
    get credential() {
      return get().credential;
    },
    get simulator() {
      return get().simulator;
    },
    get dir() {
      return get().dir;
    },
  };
}

export function envFor(
  environment: 'local' | 'sandbox' | 'test' | 'prod',
  simulator: RunningSimulator,
  credential: SimCredential,
  ledgerFile: string,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    QFPAY_ENV: environment,
    QFPAY_BASE_URL: simulator.baseUrl,
    QFPAY_APPCODE: credential.appcode,
    QFPAY_KEY: credential.key,
    ...(credential.mchid ? { QFPAY_MCHID: credential.mchid } : {}),
    QFPAY_AUDIT_LOG: ledgerFile,
    // Suites about idempotency, caps and refunds use test for its real-money rules other than
    // confirmation, which prod-confirmation.test.ts covers (test confirms by default).
    ...(environment === 'test' ? { QFPAY_CONFIRM: 'prod' } : {}),
    ...extra,
  };
}

export interface ElicitationScript {
  /** What the person answers; called with the message they were shown. */
  answer(message: string): ElicitResult | Promise<ElicitResult>;
}

export interface Session {
  readonly runtime: QfpayMcpRuntime;
  readonly client: Client;
  readonly logs: string[];
  /** Messages of elicitation requests the client received. */
  readonly prompts: string[];
  close(): Promise<void>;
}

export async function openSession(
  options: RuntimeOptions & { elicitation?: ElicitationScript },
): Promise<Session> {
  const { elicitation, ...runtimeOptions } = options;
  const logs: string[] = [];
  const runtime = await createRuntime({
    log: (line) => logs.push(line),
    unknownOutcomeWindowMs: 1_500,
    pollIntervalMs: 50,
    startupReconcileMs: 3_000,
    retry: { maxAttempts429: 2, baseDelayMs: 5, maxDelayMs: 20 },
    ...runtimeOptions,
  });
  const attached = await attachClient(runtime, elicitation);
  return {
    runtime,
    client: attached.client,
    logs,
    prompts: attached.prompts,
    async close() {
      await attached.close();
      await runtime.close();
    },
  };
}

export async function attachClient(
  runtime: QfpayMcpRuntime,
  elicitation?: ElicitationScript,
): Promise<{ client: Client; prompts: string[]; close: () => Promise<void> }> {
  const server = runtime.createServer();
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const prompts: string[] = [];
  const client = new Client(
    { name: 'money-safety', version: '1.0.0' },
    elicitation ? { capabilities: { elicitation: { form: {} } } } : {},
  );
  if (elicitation) {
    client.setRequestHandler('elicitation/create', async (request) => {
      prompts.push(request.params.message);
      return elicitation.answer(request.params.message);
    });
  }
  await client.connect(clientTransport);
  await client.listTools();
  return {
    client,
    prompts,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

export function upstreamCount(simulator: RunningSimulator, pathName: string): number {
  return simulator.control.requests().filter((entry) => entry.path === pathName).length;
}

export async function ledgerRecords(file: string): Promise<LedgerRecord[]> {
  return (await readLedgerFile(file)).records;
}

/** A paid CPM payment, created without confirmation in `local`. */
export const CPM_AUTH_CODE = '280000000000000001';
