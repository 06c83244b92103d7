import { request as httpRequest } from 'node:http';
import path from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { createRuntime } from '../../src/mcp/runtime.js';
import type { RunningSimulator, SimCredential } from '../../src/simulator/index.js';
import { startHttpServer } from '../../src/transports/http.js';
import {
  call,
  envFor,
  ledgerRecords,
  openSession,
  randomCredential,
  type Session,
  startWitness,
  tempDir,
  upstreamCount,
} from '../money-safety/helpers.js';
import { EmbeddedMoneyStore } from '../../src/safety/stores/embedded.js';
import { describeWithServices } from '../support/services.js';

/**
 * Operator approval end to end: the server plays production (QFPAY_ENV=prod, the simulator on
 * loopback as the witness of what reached "QFPay"), the agent is a real MCP client, and the
 * operator is headless Chromium with a virtual WebAuthn authenticator (DevTools protocol) on the
 * server's own approval page. The agent only ever gets the page's address and a reference.
 */

const PAYMENT = '/trade/v1/payment';
const OPERATOR_SECRET = 'operator-secret-for-tests-0123456789abcdef';
const APPROVAL_URL = /http:\/\/localhost:\d+\/approve\/[A-Za-z0-9_-]{22}/;
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

describeWithServices('operator approval in a browser with a passkey', ['chromium'], ([executablePath]) => {
  let credential: SimCredential;
  let simulator: RunningSimulator;
  let dir: { dir: string; remove: () => Promise<void> };
  // The real embedded money-state store (a ledger file and its state file), shared by the instances.
  let store: EmbeddedMoneyStore;
  let session: Session;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const env = (ledger: string, extra: NodeJS.ProcessEnv = {}) =>
    envFor('prod', simulator, credential, path.join(dir.dir, ledger), {
      QFPAY_OPERATOR_SECRET: OPERATOR_SECRET,
      ...extra,
    });

  beforeAll(async () => {
    credential = randomCredential();
    simulator = await startWitness(credential);
    dir = await tempDir('operator');
    store = new EmbeddedMoneyStore(path.join(dir.dir, 'approvals.jsonl'));
    session = await openSession({ env: env('operator.jsonl'), allowProdWrites: true, approvalStore: store });
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    context = await browser.newContext();
    page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await session?.close();
    await store?.close();
    await simulator?.close();
    await dir?.remove();
  });

  /** The agent's first call: nothing sent, only a page address and a reference come back. */
  async function prepare(
    args: Record<string, unknown>,
  ): Promise<{ url: string; reference: string; out_trade_no: string }> {
    const before = upstreamCount(simulator, PAYMENT);
    const first = await call(session.client, 'create_payment', args);
    expect(first.structured.status).toBe('CONFIRMATION_REQUIRED');
    expect(upstreamCount(simulator, PAYMENT)).toBe(before);
    const url = APPROVAL_URL.exec(String(first.structured.next_action))?.[0];
    expect(url).toBeDefined();
    return {
      url: String(url),
      reference: String(first.structured.confirmation_token),
      out_trade_no: String(first.structured.out_trade_no),
    };
  }

  /** Clicks and returns the page's new status line (the page runs no eval'd code: its CSP forbids it). */
  async function statusAfterClick(selector: string): Promise<string> {
    const previous = (await page.textContent('#status')) ?? '';
    await page.click(selector);
    await expect
      .poll(async () => (await page.textContent('#status')) ?? '', { timeout: 15_000, interval: 50 })
      .not.toBe(previous);
    return (await page.textContent('#status')) ?? '';
  }

  async function intentsFor(outTradeNo: string) {
    const records = await ledgerRecords(path.join(dir.dir, 'operator.jsonl')).catch(() => []);
    return records.filter((r) => r.step === 'intent' && r.out_trade_no === outTradeNo);
  }

  it('the operator registers a passkey with the operator secret', async () => {
    const registration = await session.runtime.approvalRegistrationUrl?.();
    expect(registration).toMatch(/^http:\/\/localhost:\d+\/approve\/register$/);
    await page.goto(String(registration));
    await page.fill('#secret', 'a wrong secret, typed by someone else');
    expect(await statusAfterClick('#register')).toMatch(/operator secret is wrong/);
    await page.fill('#secret', OPERATOR_SECRET);
    expect(await statusAfterClick('#register')).toMatch(/Passkey registered/);
    expect(await store.listOperatorCredentials()).toHaveLength(1);
  }, 30_000);

  it('approved with the passkey on the page: exactly 1 upstream payment, ledger approval operator', async () => {
    const args = { pay_type: '800101', txamt: 12_345, txcurrcd: 'HKD' };
    const prepared = await prepare(args);
    const repeat = { ...args, out_trade_no: prepared.out_trade_no, confirmation_token: prepared.reference };
    const before = upstreamCount(simulator, PAYMENT);

    // The agent repeats the call before anyone approved: still nothing.
    const early = await call(session.client, 'create_payment', repeat);
    expect(early.isError).toBe(true);
    expect(early.text).toMatch(/operator has not approved this yet/);
    expect(upstreamCount(simulator, PAYMENT)).toBe(before);

    await page.goto(prepared.url);
    const summary = (await page.textContent('#summary')) ?? '';
    expect(summary).toContain('HKD 123.45');
    expect(summary).toContain('txamt 12345');
    expect(summary).toContain('REAL MONEY');
    expect(summary).toContain(prepared.out_trade_no);
    expect(summary).not.toContain(credential.appcode);
    expect(await statusAfterClick('#approve-passkey')).toMatch(/^Approved/);

    const done = await call(session.client, 'create_payment', repeat);
    expect(done.structured.status).toBe('AWAITING_CUSTOMER');
    expect(upstreamCount(simulator, PAYMENT)).toBe(before + 1);
    const intents = await intentsFor(prepared.out_trade_no);
    expect(intents.map((r) => r.approval)).toEqual(['operator']);

    // Re-sent as is: replayed from the ledger, nothing sent again.
    const again = await call(session.client, 'create_payment', repeat);
    expect(again.isError).toBe(false);
    expect(upstreamCount(simulator, PAYMENT)).toBe(before + 1);

    // Another instance sharing the store but not this ledger: the approval is used up there too.
    const other = await openSession({
      env: env('operator-other.jsonl'),
      allowProdWrites: true,
      approvalStore: store,
    });
    try {
      const reused = await call(other.client, 'create_payment', repeat);
      expect(reused.isError).toBe(true);
      expect(reused.text).toMatch(/already used/);
    } finally {
      await other.close();
    }
    expect(upstreamCount(simulator, PAYMENT)).toBe(before + 1);
  }, 60_000);

  it('declined on the page: 0 upstream', async () => {
    const args = { pay_type: '800101', txamt: 500, txcurrcd: 'HKD' };
    const prepared = await prepare(args);
    const before = upstreamCount(simulator, PAYMENT);
    await page.goto(prepared.url);
    expect(await statusAfterClick('#decline')).toMatch(/^Declined/);
    const answer = await call(session.client, 'create_payment', {
      ...args,
      out_trade_no: prepared.out_trade_no,
      confirmation_token: prepared.reference,
    });
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/operator declined it/);
    expect(upstreamCount(simulator, PAYMENT)).toBe(before);
    expect(await intentsFor(prepared.out_trade_no)).toEqual([]);
  }, 60_000);

  it('a browser speaking Hong Kong Chinese gets the page in Traditional Chinese; declined there: 0 upstream', async () => {
    const args = { pay_type: '800101', txamt: 700, txcurrcd: 'HKD', lang: 'zh-HK' };
    const prepared = await prepare(args);
    const before = upstreamCount(simulator, PAYMENT);
    // Playwright's locale sets the context's Accept-Language, which the page's own POSTs carry too.
    const chinese = await browser.newContext({ locale: 'zh-HK' });
    try {
      const tab = await chinese.newPage();
      await tab.goto(prepared.url);
      expect(await tab.getAttribute('html', 'lang')).toBe('zh-HK');
      expect(await tab.textContent('h1')).toBe('批准一項 QFPay 操作');
      expect(await tab.textContent('#decline')).toBe('拒絕');
      expect(await tab.textContent('#approve-secret')).toBe('用密碼批准');
      // The summary was worded in the call's language when the action was prepared.
      expect(await tab.textContent('#summary')).toMatch(/港幣|港元/);
      await tab.click('#decline');
      await expect
        .poll(async () => (await tab.textContent('#status')) ?? '', { timeout: 15_000, interval: 50 })
        .toBe('已拒絕。這項操作不會向 QFPay 發出任何請求。');
      expect(await tab.getAttribute('body', 'data-state')).toBe('pending');
      await tab.reload();
      expect(await tab.textContent('#state')).toBe('已拒絕');
      expect(await tab.getAttribute('body', 'data-state')).toBe('declined');
    } finally {
      await chinese.close();
    }
    const { lang: _lang, ...repeat } = args;
    const answer = await call(session.client, 'create_payment', {
      ...repeat,
      out_trade_no: prepared.out_trade_no,
      confirmation_token: prepared.reference,
    });
    expect(answer.isError).toBe(true);
    expect(upstreamCount(simulator, PAYMENT)).toBe(before);
  }, 60_000);

  it('QFPAY_LANG words the page when the browser asks for none of the three languages', async () => {
    const simplified = await openSession({
      env: env('operator-lang.jsonl', { QFPAY_LANG: 'zh-CN' }),
      allowProdWrites: true,
      approvalStore: store,
    });
    try {
      const first = await call(simplified.client, 'create_payment', {
        pay_type: '800101',
        txamt: 800,
        txcurrcd: 'HKD',
      });
      const url = String(APPROVAL_URL.exec(String(first.structured.next_action))?.[0]);
      const french = await fetch(url, { headers: { 'accept-language': 'fr-FR, de;q=0.8' } });
      const html = await french.text();
      expect(html).toContain('<html lang="zh-CN">');
      expect(html).toContain('<h1>批准一项 QFPay 操作</h1>');
      const english = await fetch(url, { headers: { 'accept-language': 'en-GB' } });
      expect(await english.text()).toContain('<h1>Approve a QFPay action</h1>');
    } finally {
      await simplified.close();
    }
  }, 60_000);

  it('an approval for other parameters: 0 upstream (approved with the operator secret fallback)', async () => {
    const args = { pay_type: '800101', txamt: 100, txcurrcd: 'HKD' };
    const prepared = await prepare(args);
    const before = upstreamCount(simulator, PAYMENT);
    await page.goto(prepared.url);
    await page.fill('#secret', OPERATOR_SECRET);
    expect(await statusAfterClick('#approve-secret')).toMatch(/^Approved/);
    for (const altered of [
      { txamt: 100_000 },
      { pay_type: '800201' },
      { out_trade_no: `${prepared.out_trade_no}X` },
    ]) {
      const answer = await call(session.client, 'create_payment', {
        ...args,
        out_trade_no: prepared.out_trade_no,
        confirmation_token: prepared.reference,
        ...altered,
      });
      expect(answer.isError).toBe(true);
      expect(answer.text).toMatch(/approved for a different action/);
    }
    expect(upstreamCount(simulator, PAYMENT)).toBe(before);
  }, 60_000);

  it('the agent calling the approval endpoints without the passkey or the secret: 0 upstream', async () => {
    const args = { pay_type: '800101', txamt: 900, txcurrcd: 'HKD' };
    const prepared = await prepare(args);
    const before = upstreamCount(simulator, PAYMENT);
    const origin = new URL(prepared.url).origin;
    const post = (suffix: string, body: unknown, headers: Record<string, string> = { origin }) =>
      fetch(`${prepared.url}${suffix}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const pageAnswer = await fetch(prepared.url);
    expect(pageAnswer.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(pageAnswer.headers.get('content-security-policy')).not.toMatch(/unsafe/);
    // Another Host (DNS rebinding) is refused before anything else.
    const rebound = await new Promise<number>((resolve, reject) => {
      const target = new URL(prepared.url);
      httpRequest(
        { host: '127.0.0.1', port: target.port, path: target.pathname, headers: { host: 'evil.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end();
    });
    expect(rebound).toBe(403);
    expect((await post('/secret', { secret: 'guess' })).status).toBe(403);
    expect((await post('/secret', { secret: OPERATOR_SECRET }, {})).status).toBe(403);
    const options = await post('/passkey/options', {});
    const { flow } = (await options.json()) as { flow: string };
    const forged = await post('/passkey/verify', {
      flow,
      response: {
        id: (await store.listOperatorCredentials())[0]?.id,
        rawId: 'AAAA',
        type: 'public-key',
        response: { clientDataJSON: 'AAAA', authenticatorData: 'AAAA', signature: 'AAAA' },
        clientExtensionResults: {},
      },
    });
    expect(forged.status).toBe(403);
    expect((await store.getApproval(prepared.reference.replace('qfpay-approval.', '')))?.state).toBe(
      'pending',
    );
    const answer = await call(session.client, 'create_payment', {
      ...args,
      out_trade_no: prepared.out_trade_no,
      confirmation_token: prepared.reference,
    });
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/operator has not approved this yet/);
    expect(upstreamCount(simulator, PAYMENT)).toBe(before);
  }, 60_000);

  it('an expired approval: 0 upstream', async () => {
    const short = await openSession({
      env: env('operator-expiry.jsonl'),
      allowProdWrites: true,
      approvalStore: store,
      approvalTtlMs: 1_000,
    });
    try {
      const args = { pay_type: '800101', txamt: 300, txcurrcd: 'HKD' };
      const first = await call(short.client, 'create_payment', args);
      const url = String(APPROVAL_URL.exec(String(first.structured.next_action))?.[0]);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      await page.goto(url);
      expect(await page.textContent('#state')).toBe('expired');
      const before = upstreamCount(simulator, PAYMENT);
      const answer = await call(short.client, 'create_payment', {
        ...args,
        out_trade_no: first.structured.out_trade_no,
        confirmation_token: first.structured.confirmation_token,
      });
      expect(answer.isError).toBe(true);
      expect(answer.text).toMatch(/expired/);
      expect(upstreamCount(simulator, PAYMENT)).toBe(before);
    } finally {
      await short.close();
    }
  }, 60_000);

  it('a client with URL-mode elicitation opens the page; the call waits for the passkey and runs once', async () => {
    const server = session.runtime.createServer();
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await server.connect(serverTransport);
    const client = new Client(
      { name: 'url-elicitation', version: '1.0.0' },
      { capabilities: { elicitation: { url: {} } } },
    );
    const opened: string[] = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      if (request.params.mode !== 'url') return { action: 'decline' };
      opened.push(request.params.url);
      // The person follows the link and approves with the passkey before answering the client.
      await page.goto(request.params.url);
      expect(await statusAfterClick('#approve-passkey')).toMatch(/^Approved/);
      return { action: 'accept' };
    });
    await client.connect(clientTransport);
    try {
      const before = upstreamCount(simulator, PAYMENT);
      const done = await call(client, 'create_payment', {
        pay_type: '800101',
        txamt: 4_200,
        txcurrcd: 'HKD',
      });
      expect(done.structured.status).toBe('AWAITING_CUSTOMER');
      expect(opened).toHaveLength(1);
      expect(opened[0]).toMatch(APPROVAL_URL);
      expect(upstreamCount(simulator, PAYMENT)).toBe(before + 1);
      expect((await intentsFor(String(done.structured.out_trade_no))).map((r) => r.approval)).toEqual([
        'operator',
      ]);
    } finally {
      await client.close();
    }
  }, 60_000);

  it('over Streamable HTTP the page is served by the HTTP server itself, outside the bearer token', async () => {
    const token = 'operator-http-test-token-0123456789abcdef';
    const runtime = await createRuntime({
      env: env('operator-http.jsonl'),
      allowProdWrites: true,
      approvalStore: store,
      log: () => undefined,
    });
    const routes = runtime.approvalRoutes;
    expect(routes).toBeDefined();
    const server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      environment: runtime.environment,
      port: 0,
      bearerTokens: [token],
      ...(routes ? { routes: [routes.route] } : {}),
    });
    await routes?.serveOn(`http://localhost:${server.port}`);
    const client = new Client({ name: 'operator-http', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.url), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    try {
      const args = { pay_type: '800101', txamt: 6_600, txcurrcd: 'HKD' };
      const first = await call(client, 'create_payment', args);
      const url = String(APPROVAL_URL.exec(String(first.structured.next_action))?.[0]);
      expect(new URL(url).port).toBe(String(server.port));
      // The person has no bearer token: the page answers without one, /mcp does not.
      expect((await fetch(url)).status).toBe(200);
      const unauthenticated = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: '{}',
      });
      expect(unauthenticated.status).toBe(401);
      await page.goto(url);
      expect(await statusAfterClick('#approve-passkey')).toMatch(/^Approved/);
      const before = upstreamCount(simulator, PAYMENT);
      const done = await call(client, 'create_payment', {
        ...args,
        out_trade_no: first.structured.out_trade_no,
        confirmation_token: first.structured.confirmation_token,
      });
      expect(done.structured.status).toBe('AWAITING_CUSTOMER');
      expect(upstreamCount(simulator, PAYMENT)).toBe(before + 1);
    } finally {
      await client.close();
      await server.close();
      await runtime.close();
    }
  }, 60_000);

  // Last: it leaves the page refusing proofs for a while.
  it('failed proofs are rate-limited: after 5, even the right secret is refused for a while', async () => {
    const args = { pay_type: '800101', txamt: 800, txcurrcd: 'HKD' };
    const prepared = await prepare(args);
    const attempt = (secret: string) =>
      fetch(`${prepared.url}/secret`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: new URL(prepared.url).origin },
        body: JSON.stringify({ secret }),
      });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await attempt(`wrong guess ${i}`)).status);
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((status) => status === 403).length).toBeLessThanOrEqual(5);
    expect((await attempt(OPERATOR_SECRET)).status).toBe(429);
    expect((await store.getApproval(prepared.reference.replace('qfpay-approval.', '')))?.state).toBe(
      'pending',
    );
  }, 60_000);
});
