import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { request } from 'undici';

import { createRuntime, type QfpayMcpRuntime, type RuntimeOptions } from '../../src/mcp/runtime.js';
import { formatQfpayDateTime } from '../../src/qfpay/time.js';
import type { RequestLogEntry } from '../../src/simulator/index.js';

export interface Connected {
  readonly runtime: QfpayMcpRuntime;
  readonly client: Client;
  readonly logs: string[];
  close(): Promise<void>;
}

/** A real MCP client talking to a fresh server of a real runtime over an in-memory pair. */
export async function connect(options: RuntimeOptions = {}): Promise<Connected> {
  const logs: string[] = [];
  const runtime = await createRuntime({
    env: { QFPAY_ENV: 'local' },
    log: (line) => logs.push(line),
    unknownOutcomeWindowMs: 2_000,
    pollIntervalMs: 50,
    ...options,
  });
  const { client, close } = await attach(runtime);
  return {
    runtime,
    client,
    logs,
    async close() {
      await close();
      await runtime.close();
    },
  };
}

export async function attach(
  runtime: QfpayMcpRuntime,
): Promise<{ client: Client; close: () => Promise<void> }> {
  const server = runtime.createServer();
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: 'qfpay-mcp-test', version: '1.0.0' });
  await client.connect(clientTransport);
  // Listing tools first makes the client validate every structuredContent against its outputSchema.
  await client.listTools();
  return {
    client,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

export interface ToolAnswer {
  readonly isError: boolean;
  readonly text: string;
  readonly structured: Record<string, unknown>;
  readonly images: { data: string; mimeType: string }[];
}

export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
  onprogress?: (progress: { progress: number; total?: number; message?: string }) => void,
): Promise<ToolAnswer> {
  const result = await client.callTool({ name, arguments: args }, onprogress ? { onprogress } : undefined);
  const content = result.content as { type: string; text?: string; data?: string; mimeType?: string }[];
  return {
    isError: result.isError === true,
    text: content
      .filter((c) => c.type === 'text')
      .map((c) => c.text ?? '')
      .join('\n'),
    structured: (result.structuredContent ?? {}) as Record<string, unknown>,
    images: content
      .filter((c) => c.type === 'image')
      .map((c) => ({ data: c.data ?? '', mimeType: c.mimeType ?? '' })),
  };
}

/** What the simulator received, through its HTTP control API (GET /__sim/requests). */
export async function simulatorRequests(baseUrl: string): Promise<RequestLogEntry[]> {
  const response = await request(`${baseUrl}/__sim/requests`);
  const body = (await response.body.json()) as { requests: RequestLogEntry[] };
  return body.requests;
}

/** Requests the simulator received, all or only those for one trade path. */
export async function countRequests(baseUrl: string, path?: string): Promise<number> {
  const all = await simulatorRequests(baseUrl);
  return path === undefined ? all.length : all.filter((r) => r.path === path).length;
}

/**
 * Puts the simulated clock at noon of `date` (Hong Kong; today by default), far from the
 * 23:30–00:30 HKT refund blackout the simulator enforces as QFPay does: a test that refunds would
 * otherwise fail whenever it runs in that hour of real time.
 */
export function setSimulatedNoon(
  baseUrl: string,
  date = formatQfpayDateTime().slice(0, 10),
): Promise<unknown> {
  return simulatorControl(baseUrl, 'POST', '/__sim/clock', { set: `${date} 12:00:00` });
}

export async function simulatorControl(
  baseUrl: string,
  method: 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<unknown> {
  const response = await request(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json: unknown = await response.body.json();
  if (response.statusCode >= 300)
    throw new Error(`simulator control ${path}: HTTP ${response.statusCode} ${JSON.stringify(json)}`);
  return json;
}
