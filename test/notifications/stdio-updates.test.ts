/**
 * Resource updates over stdio, both protocol eras, through the BUILT command: a real
 * `@modelcontextprotocol/client` spawns `qfpay-mcp serve` (embedded simulator) and hears
 * `notifications/resources/updated` for `qfpay://transactions/{syssn}` when the payment changes.
 * A 2026-07-28 connection asks through `subscriptions/listen`; a 2025-era one through
 * `resources/subscribe`. A transaction nobody named is never announced.
 */
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call } from '../mcp/helpers.js';
import { assertFreshDist, CLI, isolatedHome, ROOT } from '../support/dist.js';
import { createAwaitingOrder } from './orders.js';

const home = isolatedHome('stdio-updates');
afterAll(() => home.remove());
beforeAll(() => assertFreshDist());

interface Listener {
  client: Client;
  updated: string[];
}

async function connect(era: 'modern' | 'legacy'): Promise<Listener> {
  const client = new Client(
    { name: `stdio-updates-${era}`, version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: 'auto' } } : {},
  );
  const updated: string[] = [];
  client.setNotificationHandler('notifications/resources/updated', (notification) => {
    updated.push(notification.params.uri);
  });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'serve'],
      cwd: ROOT,
      env: { ...getDefaultEnvironment(), ...home.env, QFPAY_ENV: 'local' },
      stderr: 'ignore',
    }),
  );
  return { client, updated };
}

const createOrder = (client: Client, outTradeNo: string) => createAwaitingOrder(client, outTradeNo);

async function pay(client: Client, outTradeNo: string): Promise<void> {
  const paid = await call(client, 'simulate_customer_payment', { out_trade_no: outTradeNo, outcome: 'pay' });
  expect(paid.structured['status']).toBe('PAID');
}

const suffix = Date.now().toString(36).toUpperCase();

describe('stdio resource updates', () => {
  let modern: Listener;
  let legacy: Listener;
  beforeAll(async () => {
    [modern, legacy] = await Promise.all([connect('modern'), connect('legacy')]);
  });
  afterAll(async () => {
    await Promise.all([modern?.client.close(), legacy?.client.close()]);
  });

  it('a 2026-07-28 connection hears the change of the transaction its listen stream named', async () => {
    expect(modern.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const named = await createOrder(modern.client, `STDIOM1${suffix}`);
    const other = await createOrder(modern.client, `STDIOM2${suffix}`);
    const subscription = await modern.client.listen({ resourceSubscriptions: [named] });
    expect(subscription.honoredFilter.resourceSubscriptions).toEqual([named]);
    await pay(modern.client, `STDIOM1${suffix}`);
    await expect.poll(() => modern.updated, { timeout: 10_000 }).toEqual([named]);
    await pay(modern.client, `STDIOM2${suffix}`);
    // The second payment was announced on the bus too; no stream asked for it, so none hears it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(modern.updated).toEqual([named]);
    expect(modern.updated).not.toContain(other);
    await subscription.close();
  });

  it('a closed listen stream hears nothing more', async () => {
    const uri = await createOrder(modern.client, `STDIOM3${suffix}`);
    const subscription = await modern.client.listen({ resourceSubscriptions: [uri] });
    await subscription.close();
    const before = modern.updated.length;
    await pay(modern.client, `STDIOM3${suffix}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(modern.updated.slice(before)).toEqual([]);
  });

  it('a 2025-era connection hears the transaction it subscribed to, and only that one', async () => {
    expect(legacy.client.getNegotiatedProtocolVersion()).not.toBe('2026-07-28');
    const named = await createOrder(legacy.client, `STDIOL1${suffix}`);
    await createOrder(legacy.client, `STDIOL2${suffix}`);
    await legacy.client.subscribeResource({ uri: named });
    await pay(legacy.client, `STDIOL2${suffix}`);
    await pay(legacy.client, `STDIOL1${suffix}`);
    await expect.poll(() => legacy.updated, { timeout: 10_000 }).toEqual([named]);
    const read = await legacy.client.readResource({ uri: named });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ status: 'PAID' });
  });
});
