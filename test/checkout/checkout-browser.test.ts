/**
 * The hosted checkout end to end: an agent makes the link through the real MCP tool, a real headless
 * Chromium opens it on the simulator's checkout page and pays (card with 3-D Secure, a declined card,
 * a tampered link, an expired link), then the agent waits for the payment and refunds it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { verifyNotificationSignature } from '../../src/qfpay/signature.js';
import { DEFAULT_SIMULATOR_CREDENTIAL } from '../../src/simulator/options.js';
import {
  call,
  connect,
  type Connected,
  setSimulatedNoon,
  simulatorControl,
  simulatorRequests,
} from '../mcp/helpers.js';
import { describeWithServices } from '../support/services.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface Shop {
  readonly url: string;
  readonly visits: string[];
  readonly notifications: { body: string; sign: string }[];
  close(): Promise<void>;
}

/** The merchant's site: the pages the browser returns to and the notification endpoint. */
async function startShop(): Promise<Shop> {
  const visits: string[] = [];
  const notifications: { body: string; sign: string }[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/notify') {
        notifications.push({
          body: Buffer.concat(chunks).toString('utf8'),
          sign: String(req.headers['x-qf-sign'] ?? ''),
        });
        res.end('SUCCESS');
        return;
      }
      visits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<h1 id="shop">${req.url?.startsWith('/return') ? 'Thank you' : 'Payment failed'}</h1>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    visits,
    notifications,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describeWithServices('hosted checkout in Chromium', ['chromium'], ([chromiumPath]) => {
  let agent: Connected;
  let shop: Shop;
  let browser: Browser;

  beforeAll(async () => {
    shop = await startShop();
    agent = await connect();
    await setSimulatedNoon(agent.runtime.baseUrl);
    browser = await chromium.launch({ executablePath: chromiumPath!, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await agent?.close();
    await shop?.close();
  });

  async function link(args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const answer = await call(agent.client, 'create_checkout_link', {
      txamt: 2500,
      txcurrcd: 'HKD',
      goods_name: 'Tea set',
      return_url: `${shop.url}/return`,
      failed_url: `${shop.url}/failed`,
      notify_url: `${shop.url}/notify`,
      ...args,
    });
    expect(answer.isError, answer.text).toBe(false);
    expect(answer.images).toHaveLength(1);
    return answer.structured;
  }

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(url);
    return page;
  }

  async function transactionsOf(outTradeNo: string): Promise<unknown[]> {
    const body = (await simulatorControl(agent.runtime.baseUrl, 'POST', '/__sim/clock', {})) as object;
    expect(body).toBeDefined();
    const response = await fetch(`${agent.runtime.baseUrl}/__sim/transactions`);
    const { transactions } = (await response.json()) as { transactions: { out_trade_no: string }[] };
    return transactions.filter((t) => t.out_trade_no === outTradeNo);
  }

  it('pays by card through a 3-D Secure challenge, returns to the shop, then waits and refunds', async () => {
    const created = await link({ out_trade_no: 'CHK3DS0001', lang: 'en' });
    const url = created['checkout_url'] as string;
    expect(url.startsWith(`${agent.runtime.baseUrl}/checkstand/#/?`)).toBe(true);
    expect(created['status']).toBe('AWAITING_CUSTOMER');

    const page = await open(url);
    await expect.poll(() => page.locator('#amount').textContent()).toBe('HKD 25.00');
    expect(await page.locator('#goods').textContent()).toBe('Tea set');
    await page.check('#method-card');
    await page.fill('#card-number', '4000 0000 0000 3220');
    await page.click('#pay-button');
    await page.locator('#challenge').waitFor({ state: 'visible' });
    await page.fill('#challenge-code', '123456');
    await Promise.all([page.waitForURL(`${shop.url}/return`), page.click('#challenge-button')]);
    expect(await page.locator('#shop').textContent()).toBe('Thank you');
    await page.close();

    const waited = await call(agent.client, 'wait_for_payment', {
      out_trade_no: 'CHK3DS0001',
      timeout_seconds: 5,
    });
    expect(waited.structured['status']).toBe('PAID');
    expect(waited.structured['txamt']).toBe(2500);
    expect(waited.structured['pay_type']).toBe('802801');

    await expect.poll(() => shop.notifications.length).toBeGreaterThanOrEqual(1);
    const notification = shop.notifications[0]!;
    expect(
      verifyNotificationSignature(notification.body, notification.sign, DEFAULT_SIMULATOR_CREDENTIAL.key),
    ).toBe(true);
    expect(JSON.parse(notification.body)).toMatchObject({
      out_trade_no: 'CHK3DS0001',
      txamt: '2500',
      notify_type: 'payment',
    });

    const refund = await call(agent.client, 'refund', {
      syssn: waited.structured['syssn'],
      txamt: 1000,
      out_trade_no: 'CHK3DS0001R1',
    });
    expect(refund.isError, refund.text).toBe(false);
    expect(refund.structured['status']).toBe('PARTIALLY_REFUNDED');
    const after = await call(agent.client, 'query_transaction', { out_trade_no: 'CHK3DS0001' });
    const payments = after.structured['payments'] as { refundable_txamt: number }[];
    expect(payments[0]!.refundable_txamt).toBe(1500);
  });

  it('sends a declined card to failed_url and records no payment', async () => {
    const created = await link({ out_trade_no: 'CHKDECL001' });
    const page = await open(created['checkout_url'] as string);
    await page.check('#method-card');
    await page.fill('#card-number', '4000000000000002');
    await Promise.all([page.waitForURL(`${shop.url}/failed`), page.click('#pay-button')]);
    await page.close();
    const query = await call(agent.client, 'query_transaction', { out_trade_no: 'CHKDECL001' });
    expect(query.structured['status']).not.toBe('PAID');
  });

  it('shows an error page for a tampered link and records nothing', async () => {
    const created = await link({ out_trade_no: 'CHKTAMPER1' });
    const tampered = (created['checkout_url'] as string).replace('txamt=2500', 'txamt=1');
    expect(tampered).not.toBe(created['checkout_url']);
    const page = await open(tampered);
    await page.locator('#error').waitFor({ state: 'visible' });
    expect(await page.locator('#error-message').textContent()).toMatch(/not signed by this merchant/);
    expect(await page.locator('#order').isHidden()).toBe(true);
    // The page offers no way to pay; a direct call to the pay step is refused too.
    const direct = await fetch(`${agent.runtime.baseUrl}/checkstand/api/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: tampered.split('#/?')[1], method: 'alipay_hk' }),
    });
    expect(direct.status).toBe(403);
    await page.close();
    expect(await transactionsOf('CHKTAMPER1')).toHaveLength(0);
  });

  it('refuses an expired link with a way back to failed_url', async () => {
    const created = await link({ out_trade_no: 'CHKEXPIRE1', expires_in_minutes: 5 });
    await simulatorControl(agent.runtime.baseUrl, 'POST', '/__sim/clock', { advanceMs: 6 * 60_000 });
    const page = await open(created['checkout_url'] as string);
    await page.locator('#error').waitFor({ state: 'visible' });
    expect(await page.locator('#error-message').textContent()).toMatch(/expired/);
    expect(await page.locator('#error-back').getAttribute('href')).toBe(`${shop.url}/failed`);
    await page.close();
    expect(await transactionsOf('CHKEXPIRE1')).toHaveLength(0);
  });

  it('gives the same link for the same order and refuses other parameters', async () => {
    const first = await link({ out_trade_no: 'CHKSAME001' });
    const again = await link({ out_trade_no: 'CHKSAME001' });
    expect(again['replayed']).toBe(true);
    expect(again['checkout_url']).toBe(first['checkout_url']);
    const other = await call(agent.client, 'create_checkout_link', {
      txamt: 9999,
      txcurrcd: 'HKD',
      out_trade_no: 'CHKSAME001',
      return_url: `${shop.url}/return`,
      failed_url: `${shop.url}/failed`,
      notify_url: `${shop.url}/notify`,
    });
    expect(other.isError).toBe(true);
    const requests = await simulatorRequests(agent.runtime.baseUrl);
    expect(requests.filter((r) => r.path === '/trade/v1/payment')).toHaveLength(0);
  });
});
