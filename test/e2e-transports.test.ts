import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { formatQfpayDateTime } from '../src/qfpay/time.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/index.js';
import { assertFreshDist, CLI, isolatedHome, ROOT } from './support/dist.js';
import { serveHttp } from './support/serve-http.js';

/**
 * The agent's whole journey, end to end, through the BUILT command over both real transports:
 * a spawned stdio server and a spawned Streamable HTTP server, each pointed at one simulator
 * (QFPAY_ENV=local + QFPAY_BASE_URL) whose request log witnesses what reached "QFPay".
 */

interface Answer {
  isError: boolean;
  text: string;
  data: Record<string, unknown>;
  images: string[];
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Answer> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as { type: string; text?: string; mimeType?: string }[];
  return {
    isError: result.isError === true,
    text: content.map((block) => block.text ?? '').join('\n'),
    data: (result.structuredContent ?? {}) as Record<string, unknown>,
    images: content.filter((block) => block.type === 'image').map((block) => block.mimeType ?? ''),
  };
}

const run = promisify(execFile);

/** Spawned servers get a throw-away HOME, so their ledgers never reach the user's state directory. */
const home = isolatedHome('e2e');
afterAll(() => home.remove());

function serverEnv(simulator: RunningSimulator): Record<string, string> {
  return {
    ...getDefaultEnvironment(),
    ...home.env,
    QFPAY_ENV: 'local',
    QFPAY_BASE_URL: simulator.baseUrl,
  };
}

async function connectStdio(
  simulator: RunningSimulator,
): Promise<{ client: Client; close(): Promise<void> }> {
  const client = new Client({ name: 'e2e-stdio', version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [CLI],
      cwd: ROOT,
      env: serverEnv(simulator),
    }),
  );
  return { client, close: () => client.close() };
}

async function connectHttp(simulator: RunningSimulator): Promise<{ client: Client; close(): Promise<void> }> {
  const served = await serveHttp({ env: serverEnv(simulator), timeoutMs: 15_000 });
  const client = new Client({ name: 'e2e-http', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(served.url)));
  return {
    client,
    async close() {
      await client.close();
      await served.stop();
    },
  };
}

const TRANSPORTS = [
  ['stdio', connectStdio],
  ['Streamable HTTP', connectHttp],
] as const;

describe.each(TRANSPORTS)('an agent over %s against the simulator', (_name, connect) => {
  let simulator: RunningSimulator;
  let session: { client: Client; close(): Promise<void> };

  const upstream = (path: string) =>
    simulator.control.requests().filter((entry) => entry.path === `/trade/v1/${path}`).length;

  beforeAll(async () => {
    assertFreshDist();
    simulator = await startSimulator({ port: 0, quiet: true });
    // QFPay refuses refunds 23:30–00:30 Hong Kong time, and so does the simulator: work at noon.
    simulator.control.setClock({ set: `${formatQfpayDateTime().slice(0, 10)} 12:00:00` });
    session = await connect(simulator);
  });

  afterAll(async () => {
    await session?.close();
    await simulator?.close();
  });

  it('takes a QR payment, refunds part of it and refuses a refund beyond the remainder', async () => {
    const { client } = session;
    const created = await call(client, 'create_payment', {
      pay_type: '800101',
      txamt: 1000,
      txcurrcd: 'HKD',
    });
    expect(created.isError).toBe(false);
    expect(created.data.status).toBe('AWAITING_CUSTOMER');
    expect(created.data.qrcode).toEqual(expect.any(String));
    expect(created.images).toEqual(['image/png']);
    const outTradeNo = created.data.out_trade_no as string;

    const paid = await call(client, 'simulate_customer_payment', {
      out_trade_no: outTradeNo,
      outcome: 'pay',
    });
    expect(paid.isError).toBe(false);
    const waited = await call(client, 'wait_for_payment', { out_trade_no: outTradeNo, timeout_seconds: 10 });
    expect(waited.data.status).toBe('PAID');
    const syssn = waited.data.syssn as string;

    const partial = await call(client, 'refund', { syssn, txamt: 300 });
    expect(partial.isError).toBe(false);
    expect(partial.data.status).toBe('PARTIALLY_REFUNDED');

    const queried = await call(client, 'query_transaction', { syssn: [syssn] });
    expect(queried.isError).toBe(false);
    expect(JSON.stringify(queried.data)).toContain('"refundable_txamt":700');

    const refundsBefore = upstream('refund');
    const tooMuch = await call(client, 'refund', { syssn, txamt: 800 });
    expect(tooMuch.isError).toBe(true);
    expect(tooMuch.text).toMatch(/HKD 8\.00/);
    expect(tooMuch.text).toMatch(/HKD 7\.00/);
    expect(upstream('refund')).toBe(refundsBefore);
  });

  it('refuses to refund an FPS payment before asking QFPay', async () => {
    const { client } = session;
    const created = await call(client, 'create_payment', { pay_type: '802001', txamt: 500, txcurrcd: 'HKD' });
    const outTradeNo = created.data.out_trade_no as string;
    await call(client, 'simulate_customer_payment', { out_trade_no: outTradeNo, outcome: 'pay' });
    const refundsBefore = upstream('refund');
    const refused = await call(client, 'refund', { orig_out_trade_no: outTradeNo });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/FPS|not refundable|cannot be refunded/i);
    expect(upstream('refund')).toBe(refundsBefore);
  });

  it('follows the magic auth codes of customer-presented payments', async () => {
    const { client } = session;
    const declined = await call(client, 'create_payment', {
      pay_type: '800008',
      txamt: 1200,
      txcurrcd: 'HKD',
      auth_code: '134567890123451201',
    });
    expect(declined.isError).toBe(true);
    expect(declined.data.status).toBe('FAILED');
    expect(declined.data.respcd).toBe('1201');

    const pending = await call(client, 'create_payment', {
      pay_type: '800008',
      txamt: 1200,
      txcurrcd: 'HKD',
      auth_code: '134567890123451143',
    });
    expect(pending.data.status).toBe('PROCESSING');
    const settled = await call(client, 'wait_for_payment', {
      out_trade_no: pending.data.out_trade_no,
      timeout_seconds: 20,
    });
    expect(settled.data.status).toBe('PAID');

    const slow = await call(client, 'create_payment', {
      pay_type: '800008',
      txamt: 1200,
      txcurrcd: 'HKD',
      auth_code: '134567890123451298',
    });
    expect(slow.data.status).not.toBe('FAILED');
    const truth = await call(client, 'query_transaction', { out_trade_no: [slow.data.out_trade_no] });
    expect(JSON.stringify(truth.data)).toContain('"status":"PAID"');
  });

  it('cancels an unpaid order with exactly one close request', async () => {
    const { client } = session;
    const created = await call(client, 'create_payment', { pay_type: '800201', txamt: 800, txcurrcd: 'HKD' });
    const closesBefore = upstream('close') + upstream('reversal');
    const cancelled = await call(client, 'cancel_payment', { out_trade_no: created.data.out_trade_no });
    expect(cancelled.isError).toBe(false);
    expect(cancelled.data.status).toBe('CANCELLED');
    expect(upstream('close') + upstream('reversal')).toBe(closesBefore + 1);
  });
});

describe('a rehearsal across separate stdio launches (embedded simulator, no configuration)', () => {
  const rehearsal = isolatedHome('rehearsal');
  afterAll(() => rehearsal.remove());

  /** One short-lived stdio server, as a one-shot client starts it for a single call. */
  async function launch(name: string, args: Record<string, unknown>): Promise<Answer> {
    const client = new Client({ name: 'one-shot', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI],
        cwd: ROOT,
        env: { ...getDefaultEnvironment(), ...rehearsal.env, QFPAY_ENV: 'local' },
      }),
    );
    try {
      return await call(client, name, args);
    } finally {
      await client.close();
    }
  }

  const cli = (args: string[]) =>
    run(process.execPath, [CLI, ...args], { cwd: ROOT, env: rehearsal.env, timeout: 30_000 });

  it('create, pay and refund in three processes; audit list shows them; simulator reset clears them', async () => {
    assertFreshDist();
    const created = await launch('create_payment', { pay_type: '800101', txamt: 1000, txcurrcd: 'HKD' });
    expect(created.data.status, created.text).toBe('AWAITING_CUSTOMER');
    const syssn = created.data.syssn as string;
    const outTradeNo = created.data.out_trade_no as string;

    const paid = await launch('simulate_customer_payment', { syssn, outcome: 'pay' });
    expect(paid.isError, paid.text).toBe(false);

    // QFPay (and the simulator) refuse refunds 23:30–00:30 Hong Kong time; then the third launch
    // only looks the order up, which still proves the state survived.
    const hongKongTime = formatQfpayDateTime().slice(11, 16);
    const inCutOff = hongKongTime >= '23:25' || hongKongTime <= '00:35';
    const third = inCutOff
      ? await launch('query_transaction', { syssn })
      : await launch('refund', { syssn, txamt: 300 });
    expect(third.isError, third.text).toBe(false);
    expect(JSON.stringify(third.data)).toContain(inCutOff ? 'PAID' : 'PARTIALLY_REFUNDED');

    const { stdout: audit } = await cli(['audit', 'list', '--json']);
    expect(audit).toContain(outTradeNo);

    await cli(['simulator', 'reset']);
    const gone = await launch('query_transaction', { syssn });
    expect(gone.isError, gone.text).toBe(false);
    expect(gone.text).toContain('No transactions found');
  }, 120_000);
});
