import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { Pool, request } from 'undici';

import { createRuntime, type QfpayMcpRuntime, type RuntimeOptions } from '../../src/mcp/runtime.js';
import type { FaultInput, RequestLogEntry } from '../../src/simulator/index.js';
import { countRequests, setSimulatedNoon, simulatorControl, simulatorRequests } from '../mcp/helpers.js';

export { countRequests, setSimulatedNoon, simulatorControl, simulatorRequests };

/**
 * Shared fixtures of the fault suite: a real runtime (embedded simulator over loopback HTTP) with
 * a real MCP client, the simulator's control API over HTTP, a wire tap, and sliding-window
 * arithmetic for assertions made at the receiving end.
 */

/** A throw-away state directory: the suite never writes an audit ledger into the user's home. */
export function scratchStateDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'qfpay-faults-'));
}

export function removeStateDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface Connected {
  readonly runtime: QfpayMcpRuntime;
  readonly client: Client;
  readonly logs: string[];
  readonly simulatorUrl: string;
  close(): Promise<void>;
}

/** A runtime in the local environment (embedded simulator) and an official client on it. */
export async function connectRuntime(
  env: NodeJS.ProcessEnv = {},
  options: Omit<RuntimeOptions, 'env' | 'log'> = {},
): Promise<Connected> {
  const logs: string[] = [];
  const stateDir = scratchStateDir();
  const runtime = await createRuntime({
    env: { QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir, ...env },
    log: (line) => logs.push(line),
    ...options,
  });
  const server = runtime.createServer();
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: 'qfpay-fault-suite', version: '1.0.0' });
  await client.connect(clientTransport);
  // Listing first makes the client validate every structuredContent against its outputSchema.
  await client.listTools();
  return {
    runtime,
    client,
    logs,
    simulatorUrl: runtime.baseUrl,
    async close() {
      await client.close();
      await server.close();
      await runtime.close();
      removeStateDir(stateDir);
    },
  };
}

export interface ToolAnswer {
  readonly isError: boolean;
  readonly text: string;
  readonly structured: Record<string, unknown>;
}

export async function callTool(client: Client, name: string, args: unknown): Promise<ToolAnswer> {
  const result = await client.callTool({ name, arguments: args as Record<string, unknown> });
  const content = result.content as { type: string; text?: string }[];
  return {
    isError: result.isError === true,
    text: content
      .filter((c) => c.type === 'text')
      .map((c) => c.text ?? '')
      .join('\n'),
    structured: (result.structuredContent ?? {}) as Record<string, unknown>,
  };
}

/**
 * Calls a money-moving tool the way an approving human would: when the guard answers
 * CONFIRMATION_REQUIRED, the same call is repeated once with the token. Nothing is sent upstream
 * before the confirmed call, so upstream counts are unaffected.
 */
export async function callWrite(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<ToolAnswer> {
  const first = await callTool(client, name, args);
  const token = first.structured.confirmation_token;
  if (first.isError || typeof token !== 'string') return first;
  return callTool(client, name, { ...args, confirmation_token: token });
}

export interface SimTransaction {
  readonly syssn: string;
  readonly out_trade_no: string;
  readonly order_type: string;
  readonly state: string;
  readonly txamt: number;
  readonly refunded_amount: number;
  readonly orig_syssn: string | null;
}

/** The simulator's books (GET /__sim/transactions): the ground truth a tool result is checked against. */
export async function simulatorTransactions(simulatorUrl: string): Promise<SimTransaction[]> {
  const response = await request(`${simulatorUrl}/__sim/transactions`);
  const body = (await response.body.json()) as { transactions: SimTransaction[] };
  return body.transactions;
}

export function injectFault(simulatorUrl: string, fault: FaultInput): Promise<unknown> {
  return simulatorControl(simulatorUrl, 'POST', '/__sim/faults', fault);
}

export function clearFaults(simulatorUrl: string): Promise<unknown> {
  return simulatorControl(simulatorUrl, 'DELETE', '/__sim/faults');
}

/**
 * Requests the simulator counted against the merchant's windows: everything its limiter admitted,
 * which includes requests then answered 429 by an injected fault (the limiter runs first), and
 * excludes the limiter's own 429s (those carry no `fault`).
 */
export function admittedArrivals(entries: readonly RequestLogEntry[]): number[] {
  return entries
    .filter((r) => r.http_status !== 429 || r.fault === 'http429')
    .map((r) => r.at_ms)
    .sort((a, b) => a - b);
}

/** 429s produced by the simulator's real limiter (a client that over-sends), not by a fault. */
export function limiterRejections(entries: readonly RequestLogEntry[]): number {
  return entries.filter((r) => r.http_status === 429 && r.fault === undefined).length;
}

/**
 * The most arrivals inside any sliding window (t − d, t] of the sorted timestamps. `at_ms` has a
 * 1 ms resolution (Date.now at arrival), so two arrivals exactly d apart may read as d − 1 apart;
 * `toleranceMs` shortens the window by that much to keep the check free of rounding artefacts.
 */
export function maxInAnyWindow(sortedTimes: readonly number[], durationMs: number, toleranceMs = 0): number {
  const span = durationMs - toleranceMs;
  let max = 0;
  let first = 0;
  for (let last = 0; last < sortedTimes.length; last++) {
    while (sortedTimes[first]! <= sortedTimes[last]! - span) first++;
    max = Math.max(max, last - first + 1);
  }
  return max;
}

export interface TappedExchange {
  readonly path: string;
  readonly outTradeNo: string | undefined;
  readonly status: number | null;
}

export interface WireTap {
  /** Point the client here instead of at the simulator. */
  readonly url: string;
  readonly exchanges: readonly TappedExchange[];
  close(): Promise<void>;
}

/**
 * A transparent HTTP relay in front of the simulator that records, per request, which
 * out_trade_no it carried and what status came back. The simulator's own request log has no
 * out_trade_no, and the client emits no per-query reference, so this is how the suite proves that
 * every individual query was answered exactly once.
 */
export async function startWireTap(targetUrl: string): Promise<WireTap> {
  const upstream = new Pool(targetUrl, { connections: 128 });
  const exchanges: TappedExchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const outTradeNo = new URLSearchParams(body.toString('utf8')).get('out_trade_no') ?? undefined;
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          (entry): entry is [string, string] =>
            typeof entry[1] === 'string' && !['host', 'connection', 'content-length'].includes(entry[0]),
        ),
      );
      upstream
        .request({ path: req.url ?? '/', method: 'POST', headers, body })
        .then(async (answer) => {
          const payload = Buffer.from(await answer.body.arrayBuffer());
          exchanges.push({ path: req.url ?? '/', outTradeNo, status: answer.statusCode });
          const relayed: Record<string, string> = {};
          for (const [name, value] of Object.entries(answer.headers))
            if (
              typeof value === 'string' &&
              !['connection', 'keep-alive', 'transfer-encoding'].includes(name)
            )
              relayed[name] = value;
          res.writeHead(answer.statusCode, { ...relayed, 'content-length': String(payload.length) });
          res.end(payload);
        })
        .catch(() => {
          exchanges.push({ path: req.url ?? '/', outTradeNo, status: null });
          res.socket?.destroy();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await upstream.close();
    },
  };
}
