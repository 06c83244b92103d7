import { spawn } from 'node:child_process';

import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { createRuntime } from '../src/mcp/runtime.js';
import { startStdioServer } from '../src/transports/stdio.js';
import { assertFreshDist, CLI, isolatedHome, ROOT } from './support/dist.js';

/** Spawned servers get a throw-away HOME: their ledger never lands in the user's state directory. */
const home = isolatedHome('stdio');
afterAll(() => home.remove());

/** Canary credentials for the embedded simulator: they must never show up in output. */
const CANARY_APPCODE = 'CANARYAPPCODE0123456789ABCDEF01';
const CANARY_KEY = 'CANARYKEY-do-not-print-0123456789abcdef';
const CANARY_TOKEN = 'canary-mcp-token-0123456789abcdef0123456789';

function structured(result: unknown): Record<string, unknown> {
  return (result as { structuredContent?: Record<string, unknown> }).structuredContent ?? {};
}

function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((block) => block.text ?? '').join('\n');
}

describe('stdio transport through the built qfpay-mcp', () => {
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = '';

  beforeAll(async () => {
    assertFreshDist();
    transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI],
      cwd: ROOT,
      // Without env the child would only inherit HOME, PATH, … (the SDK's default allow-list).
      env: {
        ...getDefaultEnvironment(),
        ...home.env,
        QFPAY_ENV: 'local',
        QFPAY_APPCODE: CANARY_APPCODE,
        QFPAY_KEY: CANARY_KEY,
        QFPAY_MCP_TOKEN: CANARY_TOKEN,
      },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    client = new Client({ name: 'stdio-test', version: '1.0.0' });
    // Any non-protocol byte on the child's stdout would make this connect or a later call fail.
    await client.connect(transport);
  });

  afterAll(async () => {
    await client?.close();
  });

  it('writes the startup line to stderr, with the app code masked and no secrets', async () => {
    await client.listTools();
    expect(stderr).toMatch(
      /qfpay-mcp \S+ ready: transport=stdio environment=local base_url=http:\/\/127\.0\.0\.1:\d+/,
    );
    expect(stderr).toMatch(/merchant=CAN\*{4}F01 /);
    expect(stderr).toMatch(/toolsets=all tools=\d+ read_only=no$/m);
    for (const secret of [CANARY_APPCODE, CANARY_KEY, CANARY_TOKEN]) expect(stderr).not.toContain(secret);
  });

  it('lists tools and answers explain_respcd', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    for (const name of ['explain_respcd', 'list_currencies', 'create_payment', 'wait_for_payment', 'refund'])
      expect(names).toContain(name);
    const result = await client.callTool({ name: 'explain_respcd', arguments: { respcd: '1143' } });
    expect(result.isError).not.toBe(true);
    expect(textOf(result)).toContain('1143');
  });

  it('runs a whole local flow: MPM payment, customer pays, wait, refund', async () => {
    // QFPay refuses refunds 23:30-00:30 HKT and so does the simulator: pin its clock to midday.
    const baseUrl = /ready: .* base_url=(\S+)/.exec(stderr)?.[1];
    const clock = await fetch(`${baseUrl}/__sim/clock`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ set: '2026-11-26 12:00:00' }),
    });
    expect(clock.status).toBe(200);

    const payment = await callConfirmed(client, 'create_payment', {
      pay_type: '800101',
      txamt: 1050,
      txcurrcd: 'HKD',
    });
    expect(payment.isError, textOf(payment)).not.toBe(true);
    const created = structured(payment);
    expect(created.status).toBe('AWAITING_CUSTOMER');
    expect(typeof created.qrcode).toBe('string');
    const outTradeNo = created.out_trade_no as string;

    const paid = await client.callTool({
      name: 'simulate_customer_payment',
      arguments: { out_trade_no: outTradeNo, outcome: 'pay' },
    });
    expect(paid.isError, textOf(paid)).not.toBe(true);

    const waited = await client.callTool({
      name: 'wait_for_payment',
      arguments: { out_trade_no: outTradeNo, timeout_seconds: 10 },
    });
    expect(structured(waited)).toMatchObject({ status: 'PAID', final: true });
    const syssn = structured(waited).syssn as string;

    const refund = await callConfirmed(client, 'refund', { syssn, txamt: 1050 });
    expect(refund.isError, textOf(refund)).not.toBe(true);
    expect(structured(refund).status).toBe('REFUNDED');
    for (const secret of [CANARY_KEY, CANARY_TOKEN])
      expect(JSON.stringify([payment, paid, waited, refund])).not.toContain(secret);
  });
});

/** Money-moving tools may ask for a bound confirmation first; give it the way a user would. */
async function callConfirmed(client: Client, name: string, args: Record<string, unknown>) {
  const first = await client.callTool({ name, arguments: args });
  const token = structured(first).confirmation_token;
  if (structured(first).status !== 'CONFIRMATION_REQUIRED' || typeof token !== 'string') return first;
  return client.callTool({ name, arguments: { ...args, confirmation_token: token } });
}

describe('stdio transport in-process', () => {
  it('serves JSON-RPC lines from its input and settles `closed` when the input ends', async () => {
    const runtime = await createRuntime({ env: {}, toolsets: ['reference'], log: () => undefined });
    const input = new PassThrough();
    const output = new PassThrough();
    let out = '';
    output.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const logs: string[] = [];
    const server = startStdioServer({
      createServer: () => runtime.createServer(),
      input,
      output,
      log: (line) => logs.push(line),
    });
    try {
      input.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1.0.0' } } })}\n`,
      );
      await waitForLines(() => out, 1);
      input.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
      input.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'explain_respcd', arguments: { respcd: '1143' } } })}\n`,
      );
      await waitForLines(() => out, 2);
      const answer = JSON.parse(out.split('\n')[1]!) as {
        id: number;
        result: { structuredContent: { respcd: string } };
      };
      expect(answer.id).toBe(2);
      expect(answer.result.structuredContent.respcd).toBe('1143');
      input.end();
      await server.closed;
      expect(logs).toEqual([]);
    } finally {
      await server.close();
      await runtime.close();
    }
  });
});

describe('stdio process behaviour', () => {
  beforeAll(() => {
    assertFreshDist();
  });

  it('puts only JSON-RPC on stdout and exits 0 when the client closes stdin', async () => {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      cwd: ROOT,
      env: { ...home.env, QFPAY_ENV: 'local' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout = new PassThrough();
    child.stdout.pipe(stdout);
    let out = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const send = (message: unknown) => child.stdin.write(`${JSON.stringify(message)}\n`);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'raw', version: '1.0.0' },
      },
    });
    await waitForLines(() => out, 1);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_currencies', arguments: {} } });
    send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    await waitForLines(() => out, 3);
    child.stdin.end();

    expect(await exited).toBe(0);
    const lines = out.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
    const ids = lines
      .map((line) => (JSON.parse(line) as { id?: number }).id)
      .filter((id) => id !== undefined);
    expect(ids).toEqual(expect.arrayContaining([1, 2, 3]));
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI], {
      cwd: ROOT,
      env: { ...home.env, QFPAY_ENV: 'local' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitForLines(() => (err.includes('ready:') ? 'x\n' : ''), 1);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

async function waitForLines(read: () => string, count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (
    read()
      .split('\n')
      .filter((line) => line !== '').length < count
  ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} lines`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
