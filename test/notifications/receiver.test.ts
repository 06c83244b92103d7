/**
 * The HTTP notification receiver against the simulator's real deliveries: a verified notification
 * is recorded once in the ledger (QFPay's retries add nothing), ends a waiting wait_for_payment
 * without its next poll, and a forged one is refused with nothing recorded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRuntime, type QfpayMcpRuntime } from '../../src/mcp/runtime.js';
import { pythonJsonDumps } from '../../src/qfpay/pyjson.js';
import { signRawBody } from '../../src/qfpay/signature.js';
import { DEFAULT_SIMULATOR_CREDENTIAL } from '../../src/simulator/options.js';
import { startHttpServer, type RunningHttpServer } from '../../src/transports/http.js';
import { DEFAULT_NOTIFY_PATH, notificationRoute } from '../../src/transports/notify-route.js';
import { attach, call, simulatorControl } from '../mcp/helpers.js';
import type { Client } from '@modelcontextprotocol/client';

let stateDir: string;
let runtime: QfpayMcpRuntime;
let http: RunningHttpServer;
let client: Client;
let detach: () => Promise<void>;

async function auditRecords(): Promise<
  { out_trade_no: string; step: string; status: string; message?: string }[]
> {
  const read = await client.readResource({ uri: 'qfpay://audit/recent' });
  const first = read.contents[0] as { text: string };
  return (
    JSON.parse(first.text) as {
      records: { out_trade_no: string; step: string; status: string; message?: string }[];
    }
  ).records;
}

async function post(body: string, sign: string | undefined): Promise<{ status: number; text: string }> {
  const response = await fetch(`${http.url.replace(/\/mcp$/, '')}${DEFAULT_NOTIFY_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(sign ? { 'x-qf-sign': sign } : {}) },
    body,
  });
  return { status: response.status, text: await response.text() };
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'qfpay-notify-'));
  runtime = await createRuntime({
    env: { QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir, HOME: stateDir },
    log: () => {},
    // A poll every 60 s: a wait that ends within the test's time was ended by the notification.
    pollIntervalMs: 60_000,
  });
  expect(runtime.notifications).not.toBeNull();
  http = await startHttpServer({
    createServer: (scope) => runtime.createServer(scope),
    environment: runtime.environment,
    port: 0,
    routes: [notificationRoute(runtime.notifications!)],
    log: () => {},
  });
  ({ client, close: detach } = await attach(runtime));
});

afterAll(async () => {
  await detach?.();
  await http?.close();
  await runtime?.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe('notification receiver', () => {
  it('records a delivered notification once and ends the wait without another poll', async () => {
    const notifyUrl = `${http.url.replace(/\/mcp$/, '')}${DEFAULT_NOTIFY_PATH}`;
    const created = await call(client, 'create_payment', {
      pay_type: '800101',
      txamt: 1200,
      txcurrcd: 'HKD',
      out_trade_no: 'NOTIFY0001',
      notify_url: notifyUrl,
    });
    expect(created.structured['status']).toBe('AWAITING_CUSTOMER');
    const waiting = call(client, 'wait_for_payment', { out_trade_no: 'NOTIFY0001', timeout_seconds: 120 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await simulatorControl(runtime.baseUrl, 'POST', '/__sim/pay', {
      out_trade_no: 'NOTIFY0001',
      outcome: 'pay',
    });
    const waited = await waiting;
    expect(waited.structured['status']).toBe('PAID');
    // The first poll saw it waiting; the second came right after the notification, not 60 s later.
    expect(waited.structured['polls']).toBe(2);
    expect(waited.structured['timed_out']).toBe(false);
    expect(waited.structured['waited_seconds'] as number).toBeLessThan(30);

    const notifications = (await (await fetch(`${runtime.baseUrl}/__sim/notifications`)).json()) as {
      notifications: { out_trade_no: string; body: string; state: string }[];
    };
    const delivered = notifications.notifications.find((n) => n.out_trade_no === 'NOTIFY0001')!;
    expect(delivered.state).toBe('delivered');
    const fromNotification = (await auditRecords()).filter(
      (r) => r.out_trade_no === 'NOTIFY0001' && r.message === 'QFPay payment notification',
    );
    expect(fromNotification).toHaveLength(1);
    expect(fromNotification[0]!.status).toBe('PAID');

    // QFPay retries until it reads SUCCESS: the same signed body again is accepted and adds nothing.
    const again = await post(delivered.body, signRawBody(delivered.body, DEFAULT_SIMULATOR_CREDENTIAL.key));
    expect(again).toEqual({ status: 200, text: 'SUCCESS' });
    expect(
      (await auditRecords()).filter(
        (r) => r.out_trade_no === 'NOTIFY0001' && r.message === 'QFPay payment notification',
      ),
    ).toHaveLength(1);
  });

  it('tells a subscribed client when its transaction changes, and the resource shows the new state', async () => {
    const notifyUrl = `${http.url.replace(/\/mcp$/, '')}${DEFAULT_NOTIFY_PATH}`;
    const created = await call(client, 'create_payment', {
      pay_type: '800101',
      txamt: 800,
      txcurrcd: 'HKD',
      out_trade_no: 'NOTIFY0002',
      notify_url: notifyUrl,
    });
    const uri = `qfpay://transactions/${created.structured['syssn'] as string}`;
    const before = await client.readResource({ uri });
    expect(JSON.parse((before.contents[0] as { text: string }).text)).toMatchObject({
      status: 'AWAITING_CUSTOMER',
    });
    const updated: string[] = [];
    client.setNotificationHandler('notifications/resources/updated', (notification) => {
      updated.push(notification.params.uri);
    });
    await client.subscribeResource({ uri });
    await simulatorControl(runtime.baseUrl, 'POST', '/__sim/pay', {
      out_trade_no: 'NOTIFY0002',
      outcome: 'pay',
    });
    await expect.poll(() => updated, { timeout: 10_000 }).toEqual([uri]);
    const after = await client.readResource({ uri });
    expect(JSON.parse((after.contents[0] as { text: string }).text)).toMatchObject({
      status: 'PAID',
      txamt: 800,
    });
    await expect(client.subscribeResource({ uri: 'qfpay://catalog/pay-types' })).rejects.toThrow();
  });

  it('refuses a forged or altered notification and records nothing', async () => {
    const before = (await auditRecords()).length;
    const body = pythonJsonDumps({
      status: '1',
      notify_type: 'payment',
      syssn: '20261201000000000001',
      out_trade_no: 'NOTIFY0001',
      pay_type: '800101',
      txamt: '1',
      txcurrcd: 'HKD',
      respcd: '0000',
      cancel: '0',
    });
    expect(await post(body, signRawBody(body, 'not-the-merchant-key'))).toEqual({
      status: 400,
      text: 'FAIL',
    });
    expect(await post(body, undefined)).toEqual({ status: 400, text: 'FAIL' });
    const signed = signRawBody(body, DEFAULT_SIMULATOR_CREDENTIAL.key);
    expect(await post(body.replace('"txamt": "1"', '"txamt": "9"'), signed)).toEqual({
      status: 400,
      text: 'FAIL',
    });
    expect((await auditRecords()).length).toBe(before);
  });

  it('needs no bearer token but is refused for a body over 64 KiB', async () => {
    const huge = 'x'.repeat(70 * 1024);
    expect((await post(huge, 'A'.repeat(32))).status).toBe(413);
  });
});
