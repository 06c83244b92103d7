/**
 * Resource updates for 2026-07-28 clients: a real `@modelcontextprotocol/client` negotiating
 * 2026-07-28 over Streamable HTTP opens `subscriptions/listen` for `qfpay://transactions/{syssn}`
 * and receives `notifications/resources/updated` when the payment changes: through a received
 * QFPay notification, a wait_for_payment that saw it paid, and a simulated customer. A stream that
 * named another transaction hears nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRuntime, type QfpayMcpRuntime } from '../../src/mcp/runtime.js';
import { startHttpServer, type RunningHttpServer } from '../../src/transports/http.js';
import { DEFAULT_NOTIFY_PATH, notificationRoute } from '../../src/transports/notify-route.js';
import { call, simulatorControl } from '../mcp/helpers.js';
import { createAwaitingOrder } from './orders.js';

let stateDir: string;
let runtime: QfpayMcpRuntime;
let http: RunningHttpServer;
let client: Client;
const updated: string[] = [];

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'qfpay-modern-updates-'));
  runtime = await createRuntime({
    env: { QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir, HOME: stateDir },
    log: () => {},
    pollIntervalMs: 100,
  });
  http = await startHttpServer({
    createServer: (scope) => runtime.createServer(scope),
    eventBus: runtime.resourceEvents,
    environment: runtime.environment,
    port: 0,
    routes: [notificationRoute(runtime.notifications!)],
    log: () => {},
  });
  client = new Client(
    { name: 'modern-listener', version: '1.0.0' },
    { versionNegotiation: { mode: 'auto' } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(http.url)));
  client.setNotificationHandler('notifications/resources/updated', (notification) => {
    updated.push(notification.params.uri);
  });
});

afterAll(async () => {
  await client?.close();
  await http?.close();
  await runtime?.close();
  await rm(stateDir, { recursive: true, force: true });
});

function createOrder(outTradeNo: string, notify: boolean): Promise<string> {
  const notifyUrl = notify ? `${http.url.replace(/\/mcp$/, '')}${DEFAULT_NOTIFY_PATH}` : undefined;
  return createAwaitingOrder(client, outTradeNo, notifyUrl);
}

async function statusOf(uri: string): Promise<unknown> {
  const read = await client.readResource({ uri });
  return (JSON.parse((read.contents[0] as { text: string }).text) as { status: unknown }).status;
}

describe('2026-07-28 subscriptions/listen for transactions', () => {
  it('negotiated 2026-07-28 and the server honours resource subscriptions', async () => {
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const uri = await createOrder('MODERN0001', false);
    const subscription = await client.listen({ resourceSubscriptions: [uri] });
    expect(subscription.honoredFilter.resourceSubscriptions).toEqual([uri]);
    await subscription.close();
  });

  it('a simulated customer payment is announced to the stream that named it, not to others', async () => {
    const uri = await createOrder('MODERN0002', false);
    const other = await createOrder('MODERN0003', false);
    const subscription = await client.listen({ resourceSubscriptions: [uri] });
    const start = updated.length;
    const paid = await call(client, 'simulate_customer_payment', {
      out_trade_no: 'MODERN0002',
      outcome: 'pay',
    });
    expect(paid.structured['status']).toBe('PAID');
    await expect.poll(() => updated.slice(start), { timeout: 10_000 }).toEqual([uri]);
    expect(await statusOf(uri)).toBe('PAID');
    expect(updated).not.toContain(other);
    await subscription.close();
  });

  it('a received QFPay notification is announced', async () => {
    const uri = await createOrder('MODERN0004', true);
    const subscription = await client.listen({ resourceSubscriptions: [uri] });
    const start = updated.length;
    await simulatorControl(runtime.baseUrl, 'POST', '/__sim/pay', {
      out_trade_no: 'MODERN0004',
      outcome: 'pay',
    });
    await expect.poll(() => updated.slice(start), { timeout: 10_000 }).toEqual([uri]);
    expect(await statusOf(uri)).toBe('PAID');
    await subscription.close();
  });

  it('a wait_for_payment that sees the payment become final announces it (no notification sent)', async () => {
    const uri = await createOrder('MODERN0005', false);
    const subscription = await client.listen({ resourceSubscriptions: [uri] });
    const start = updated.length;
    const waiting = call(client, 'wait_for_payment', { out_trade_no: 'MODERN0005', timeout_seconds: 30 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(updated.slice(start)).toEqual([]);
    await simulatorControl(runtime.baseUrl, 'POST', '/__sim/pay', {
      out_trade_no: 'MODERN0005',
      outcome: 'pay',
    });
    expect((await waiting).structured['status']).toBe('PAID');
    await expect.poll(() => updated.slice(start), { timeout: 10_000 }).toEqual([uri]);
    await subscription.close();
  });
});
