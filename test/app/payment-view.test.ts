/**
 * The payment MCP App in a real host harness: a real MCP client talks to the built server over stdio,
 * the library's `AppBridge` (host side of MCP Apps) relays between that client and the view, and the
 * view runs in headless Chromium inside a sandboxed iframe with the CSP its resource declares. A
 * whole MPM flow: the QR is shown, the customer pays (the simulator, called by the test), the view
 * shows PAID without a reload, the person refunds part of it from the view's button (the guard asks
 * for confirmation; the person's click sends it), and the remainder is shown.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { Client, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import {
  AppBridge,
  getToolUiResourceUri,
  type McpUiHostContext,
  type McpUiResourceCsp,
  RESOURCE_MIME_TYPE,
} from '@modelcontextprotocol/ext-apps/app-bridge';
import { chromium, type Browser, type Frame, type FrameLocator, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { assertFreshDist, CLI, isolatedHome, ROOT } from '../support/dist.js';
import { describeWithServices } from '../support/services.js';
import { setSimulatedNoon } from '../mcp/helpers.js';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.js';

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
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const DARK_BACKGROUND = 'rgb(20, 24, 32)';
const LIGHT_BACKGROUND = 'rgb(250, 250, 247)';
/** Evaluated in the view's frame as expressions: the test's own type check has no DOM. */
const BODY_BACKGROUND = 'getComputedStyle(document.body).backgroundColor';
const QR_WIDTH = "document.getElementById('qr').naturalWidth";

function viewFrame(page: Page): Frame {
  const frame = page.frames().find((candidate) => candidate !== page.mainFrame());
  if (!frame) throw new Error('the view frame is not there');
  return frame;
}

/** The page's end of the relay: what the view posts reaches the bridge, and the bridge's answers the view. */
class PageRelay implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  readonly fromView: JSONRPCMessage[] = [];

  constructor(private readonly page: Page) {}

  start(): Promise<void> {
    return Promise.resolve();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    await this.page.evaluate(`window.postToView(${JSON.stringify(message)})`);
  }

  close(): Promise<void> {
    this.onclose?.();
    return Promise.resolve();
  }

  receive(message: JSONRPCMessage): void {
    this.fromView.push(message);
    this.onmessage?.(message);
  }

  /** The tools the view called through the host, in order. */
  toolCalls(): { name: string; arguments: Record<string, unknown> }[] {
    return this.fromView.flatMap((m) =>
      'method' in m && m.method === 'tools/call'
        ? [m.params as unknown as { name: string; arguments: Record<string, unknown> }]
        : [],
    );
  }
}

/** The host's page: one sandboxed iframe (scripts only: no same-origin, no forms) and the relay. */
const HOST_PAGE = `<!doctype html><html><body style="margin:0;background:#888">
<iframe id="view" sandbox="allow-scripts" style="border:0;width:460px;height:560px"></iframe>
<script>
  const frame = document.getElementById('view');
  window.addEventListener('message', (event) => {
    if (event.source === frame.contentWindow) window.relayToHost(event.data);
  });
  window.postToView = (message) => frame.contentWindow.postMessage(message, '*');
  window.loadView = (html) => (frame.srcdoc = html);
  window.setViewHeight = (height) => (frame.style.height = height + 'px');
</script></body></html>`;

/** The CSP a host applies from the resource's `_meta.ui.csp`: nothing outside the document itself. */
function cspFor(csp: McpUiResourceCsp | undefined): string {
  const resources = (csp?.resourceDomains ?? []).join(' ');
  const connect = (csp?.connectDomains ?? []).join(' ') || "'none'";
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${resources}`,
    `style-src 'unsafe-inline' ${resources}`,
    `img-src data: ${resources}`,
    `font-src ${resources || "'none'"}`,
    `connect-src ${connect}`,
    "frame-src 'none'",
  ].join('; ');
}

function hostContext(theme: 'light' | 'dark', locale?: string): McpUiHostContext {
  return {
    theme,
    ...(locale ? { locale } : {}),
    displayMode: 'inline',
    styles: {
      variables: {
        '--color-background-primary': theme === 'dark' ? DARK_BACKGROUND : LIGHT_BACKGROUND,
      } as NonNullable<McpUiHostContext['styles']>['variables'] & object,
    },
  };
}

describeWithServices('payment MCP App in Chromium', ['chromium'], ([chromiumPath]) => {
  const home = isolatedHome('app');
  let client: Client;
  let browser: Browser;
  let stderr = '';
  let simulator: RunningSimulator;

  beforeAll(async () => {
    assertFreshDist();
    // The test's own simulator, so it can put the simulated clock at noon: a run at 23:30–00:30 HKT
    // of real time would otherwise meet QFPay's refund blackout.
    simulator = await startSimulator({ quiet: true });
    await setSimulatedNoon(simulator.baseUrl);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI],
      cwd: ROOT,
      stderr: 'pipe',
      env: {
        ...getDefaultEnvironment(),
        ...home.env,
        QFPAY_ENV: 'local',
        QFPAY_BASE_URL: simulator.baseUrl,
        // Every write needs a person's confirmation, so the view's refund meets the guard's question.
        QFPAY_CONFIRM: 'always',
      },
    });
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    client = new Client(
      { name: 'qfpay-app-harness', version: '1.0.0' },
      { capabilities: { extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: [RESOURCE_MIME_TYPE] } } } },
    );
    await client.connect(transport);
    browser = await chromium.launch({ executablePath: chromiumPath!, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await client?.close();
    await simulator?.close();
    home.remove();
  });

  /** The agent's part: create the payment and confirm it as the tools describe. */
  async function createMpmPayment(): Promise<Awaited<ReturnType<Client['callTool']>>> {
    const args = { pay_type: '800101', txamt: 1234, txcurrcd: 'HKD', goods_name: 'Tea' };
    const asked = await client.callTool({ name: 'create_payment', arguments: args });
    const question = asked.structuredContent as Record<string, unknown>;
    expect(question['status'], stderr).toBe('CONFIRMATION_REQUIRED');
    const confirmed = await client.callTool({
      name: 'create_payment',
      arguments: {
        ...args,
        out_trade_no: question['out_trade_no'],
        confirmation_token: question['confirmation_token'],
      },
    });
    expect((confirmed.structuredContent as Record<string, unknown>)['status']).toBe('AWAITING_CUSTOMER');
    return confirmed;
  }

  async function openView(
    page: Page,
    resourceUri: string,
    toolInput: Record<string, unknown>,
    toolResult: Awaited<ReturnType<Client['callTool']>>,
    context: McpUiHostContext = hostContext('dark'),
  ): Promise<{ bridge: AppBridge; relay: PageRelay; view: FrameLocator }> {
    const resource = await client.readResource({ uri: resourceUri });
    const content = resource.contents[0] as {
      mimeType?: string;
      text?: string;
      _meta?: { ui?: { csp?: McpUiResourceCsp } };
    };
    expect(content.mimeType).toBe(RESOURCE_MIME_TYPE);
    const relay = new PageRelay(page);
    await page.exposeFunction('relayToHost', (message: JSONRPCMessage) => relay.receive(message));
    await page.setContent(HOST_PAGE);
    const bridge = new AppBridge(
      client,
      { name: 'qfpay-test-host', version: '1.0.0' },
      { serverTools: {}, openLinks: {}, updateModelContext: { text: {} } },
      { hostContext: context },
    );
    const initialized = new Promise<void>((resolve) => (bridge.oninitialized = () => resolve()));
    bridge.onsizechange = ({ height }) => {
      if (height) void page.evaluate(`window.setViewHeight(${height})`);
    };
    bridge.onupdatemodelcontext = () => Promise.resolve({});
    await bridge.connect(relay);
    const csp = `<meta http-equiv="Content-Security-Policy" content="${cspFor(content._meta?.ui?.csp)}">`;
    const html = content.text!.replace('<head>', `<head>${csp}`);
    await page.evaluate(`window.loadView(${JSON.stringify(html)})`);
    await initialized;
    await bridge.sendToolInput({ arguments: toolInput });
    await bridge.sendToolResult(toolResult);
    return { bridge, relay, view: page.frameLocator('#view') };
  }

  it('shows the QR, turns PAID without a reload, refunds part from the view through the guard, and shows the remainder', async () => {
    const { tools } = await client.listTools();
    const createPayment = tools.find((tool) => tool.name === 'create_payment')!;
    const resourceUri = getToolUiResourceUri(createPayment)!;
    expect(resourceUri).toBe('ui://qfpay/payment');

    const created = await createMpmPayment();
    const payment = created.structuredContent as { out_trade_no: string; syssn: string };

    const page = await browser.newPage({ viewport: { width: 480, height: 640 } });
    const outside: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('data:') && request.url() !== 'about:srcdoc') outside.push(request.url());
    });
    const { bridge, relay, view } = await openView(page, resourceUri, { pay_type: '800101' }, created);

    await expect.poll(() => view.locator('#amount').innerText()).toBe('HKD 12.34 (1234 minor units)');
    expect(await view.locator('#amount-words').textContent()).toBe(
      'twelve Hong Kong dollars and thirty-four cents',
    );
    expect(await view.locator('#status').textContent()).toBe('Waiting for the customer to pay');
    await expect.poll(() => view.locator('#qr').isVisible()).toBe(true);
    expect(await view.locator('#qr').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(await viewFrame(page).evaluate(QR_WIDTH)).toBeGreaterThan(0);

    // The host's theme reaches the view: dark, with the host's own background colour.
    expect(await view.locator('html').getAttribute('data-theme')).toBe('dark');
    expect(await viewFrame(page).evaluate(BODY_BACKGROUND)).toBe(DARK_BACKGROUND);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'payment-view-awaiting-dark.png') });

    // The customer pays; the view, already waiting through wait_for_payment, shows it by itself.
    await expect.poll(() => relay.toolCalls().some((call) => call.name === 'wait_for_payment')).toBe(true);
    expect(relay.toolCalls()[0]).toEqual({
      name: 'wait_for_payment',
      arguments: { syssn: payment.syssn, timeout_seconds: 25 },
    });
    const paid = await client.callTool({
      name: 'simulate_customer_payment',
      arguments: { out_trade_no: payment.out_trade_no, outcome: 'pay' },
    });
    expect(paid.isError, JSON.stringify(paid.content)).not.toBe(true);
    await expect.poll(() => view.locator('#status').textContent(), { timeout: 20_000 }).toBe('Paid');
    expect(await view.locator('#qr-box').isHidden()).toBe(true);

    // A partial refund from the view's button: the guard asks, the person confirms in the view.
    await view.locator('#refund-amount').fill('5.00');
    await view.locator('#refund-button').click();
    await expect.poll(() => view.locator('#confirm-box').isVisible()).toBe(true);
    expect(await view.locator('#confirm-summary').textContent()).toContain(
      'HKD 5.00 (five Hong Kong dollars)',
    );
    expect(await view.locator('#confirm-operator').isHidden()).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'payment-view-confirm-dark.png') });
    await view.locator('#confirm-yes').click();
    await expect.poll(() => view.locator('#status').textContent()).toBe('Paid, partly refunded');
    expect(await view.locator('#refunds').textContent()).toBe(
      'Refunded HKD 5.00 · HKD 7.34 still refundable',
    );
    expect(await view.locator('#refund-amount').inputValue()).toBe('7.34');

    // The same tools, in the agent's order: the refund was sent twice, the second time with the token.
    const refunds = relay.toolCalls().filter((call) => call.name === 'refund');
    expect(refunds.map((call) => call.arguments)).toMatchObject([
      { syssn: payment.syssn, txamt: 500 },
      { syssn: payment.syssn, txamt: 500 },
    ]);
    expect(String(refunds[1]!.arguments['out_trade_no'])).toMatch(/^mcprf/);
    expect(refunds[0]!.arguments).not.toHaveProperty('confirmation_token');
    expect(typeof refunds[1]!.arguments['confirmation_token']).toBe('string');

    // QFPay (the simulator) and the audit ledger agree: one refund of 500, confirmed like an agent's.
    const queried = await client.callTool({ name: 'query_transaction', arguments: { syssn: payment.syssn } });
    const queriedPayment = (queried.structuredContent as { payments: Record<string, unknown>[] })
      .payments[0]!;
    expect(queriedPayment).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundable_txamt: 734 });
    const audit = await client.readResource({ uri: 'qfpay://audit/recent' });
    const { records } = JSON.parse((audit.contents[0] as { text: string }).text) as {
      records: { tool: string; step: string; txamt: number; approval?: string }[];
    };
    expect(records.filter((r) => r.tool === 'refund' && r.step === 'intent')).toEqual([
      expect.objectContaining({ txamt: 500, approval: 'agent-token' }),
    ]);

    // The theme follows the host when it changes: light, with the host's light background.
    await bridge.sendHostContextChange(hostContext('light'));
    await expect.poll(() => view.locator('html').getAttribute('data-theme')).toBe('light');
    expect(await viewFrame(page).evaluate(BODY_BACKGROUND)).toBe(LIGHT_BACKGROUND);
    await page.screenshot({ path: path.join(ARTIFACTS, 'payment-view-refunded-light.png') });

    expect(outside, 'requests the view made outside its document').toEqual([]);
    await page.close();
  }, 90_000);

  it('cancels an unpaid order from the view only after the person confirms; declining sends nothing', async () => {
    const created = await createMpmPayment();
    const payment = created.structuredContent as { out_trade_no: string; syssn: string };
    const page = await browser.newPage({ viewport: { width: 480, height: 640 } });
    const { relay, view } = await openView(page, 'ui://qfpay/payment', { pay_type: '800101' }, created);
    await expect.poll(() => view.locator('#cancel-button').isVisible()).toBe(true);

    await view.locator('#cancel-button').click();
    await expect.poll(() => view.locator('#confirm-box').isVisible()).toBe(true);
    await view.locator('#confirm-no').click();
    expect(await view.locator('#message').textContent()).toBe('Nothing was sent.');
    expect(await view.locator('#status').textContent()).toBe('Waiting for the customer to pay');
    const cancels = () => relay.toolCalls().filter((call) => call.name === 'cancel_payment');
    expect(cancels()).toHaveLength(1);
    expect(cancels()[0]!.arguments).toEqual({ syssn: payment.syssn });

    await view.locator('#cancel-button').click();
    await expect.poll(() => view.locator('#confirm-box').isVisible()).toBe(true);
    await view.locator('#confirm-yes').click();
    await expect.poll(() => view.locator('#status').textContent()).toBe('Cancelled');
    expect(cancels()).toHaveLength(3);
    expect(typeof cancels()[2]!.arguments['confirmation_token']).toBe('string');
    expect(await view.locator('#cancel-button').isHidden()).toBe(true);
    expect(await view.locator('#refund-form').isHidden()).toBe(true);

    const queried = await client.callTool({ name: 'query_transaction', arguments: { syssn: payment.syssn } });
    expect((queried.structuredContent as { status: string }).status).toBe('CANCELLED');
    await page.close();
  }, 90_000);

  it('speaks the host’s locale: zh-HK words, the tools asked in zh-HK, and zh-CN after a locale change', async () => {
    const created = await createMpmPayment();
    const payment = created.structuredContent as { out_trade_no: string; syssn: string };
    const page = await browser.newPage({ viewport: { width: 480, height: 640 } });
    const { bridge, relay, view } = await openView(
      page,
      'ui://qfpay/payment',
      { pay_type: '800101' },
      created,
      hostContext('light', 'zh-Hant-HK'),
    );

    await expect.poll(() => view.locator('#status').textContent()).toBe('等待顧客付款');
    expect(await view.locator('html').getAttribute('lang')).toBe('zh-HK');
    expect(await view.locator('#amount').innerText()).toBe('HKD 12.34 （1234 最小單位）');
    expect(await view.locator('#amount-words').textContent()).toBe('十二點三四港元');
    expect(await view.locator('#qr-caption').textContent()).toBe('請向顧客出示此二維碼');
    expect(await view.locator('#cancel-button').textContent()).toBe('取消訂單');
    await expect.poll(() => relay.toolCalls().some((call) => call.name === 'wait_for_payment')).toBe(true);
    expect(relay.toolCalls()[0]).toEqual({
      name: 'wait_for_payment',
      arguments: { syssn: payment.syssn, timeout_seconds: 25, lang: 'zh-HK' },
    });

    await client.callTool({
      name: 'simulate_customer_payment',
      arguments: { out_trade_no: payment.out_trade_no, outcome: 'pay' },
    });
    await expect.poll(() => view.locator('#status').textContent(), { timeout: 20_000 }).toBe('已付款');

    // The guard's question for a refund from the view is in the person's language too.
    await view.locator('#refund-amount').fill('2.00');
    await view.locator('#refund-button').click();
    await expect.poll(() => view.locator('#confirm-box').isVisible()).toBe(true);
    expect((await view.locator('#confirm-summary').textContent())?.split('\n')[0]).toBe(
      '退款給顧客：HKD 2.00',
    );
    expect(await view.locator('#confirm-yes').textContent()).toBe('確認');
    await page.screenshot({ path: path.join(ARTIFACTS, 'payment-view-confirm-zh-hk.png') });
    await view.locator('#confirm-no').click();
    expect(await view.locator('#message').textContent()).toBe('沒有發送任何請求。');

    await bridge.sendHostContextChange({ locale: 'zh-CN' });
    await expect.poll(() => view.locator('#status').textContent()).toBe('已支付');
    expect(await view.locator('#refund-button').textContent()).toBe('退款');
    expect(await view.locator('#amount-words').textContent()).toBe('十二点三四港元');
    await page.close();
  }, 90_000);
});
