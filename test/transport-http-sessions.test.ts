import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';

import type { QfpayMcpRuntime } from '../src/mcp/runtime.js';
import { createRuntime } from '../src/mcp/runtime.js';
import { ANONYMOUS_PRINCIPAL, startHttpServer } from '../src/transports/http.js';
import type { HttpClock, HttpServeOptions, RunningHttpServer } from '../src/transports/http.js';
import { countRequests } from './mcp/helpers.js';

/**
 * 2025-era sessions over real HTTP on loopback: JSON-RPC batches (red-team H11), capacity and
 * eviction per principal (H12), idle expiry and the shutdown grace period with an injected clock.
 */

const TOKEN_A = 'token-a-0123456789abcdef0123456789abcdef';
const TOKEN_B = 'token-b-0123456789abcdef0123456789abcdef';
const TOKEN_C = 'token-c-0123456789abcdef0123456789abcdef';
const PAYMENT_PATH = '/trade/v1/payment';
const dispatcher = new Agent({ connections: 32 });

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The JSON body, or the last `data:` message of an SSE body. */
  readonly json: unknown;
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
    dispatcher,
  });
  const text = await response.body.text();
  const sse = text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => line.slice('data: '.length));
  const payload = sse.length > 0 ? sse[sse.length - 1]! : text;
  return {
    status: response.statusCode,
    headers: response.headers,
    json: payload ? JSON.parse(payload) : null,
  };
}

const auth = (token: string | undefined): Record<string, string> =>
  token ? { authorization: `Bearer ${token}` } : {};

function initialize(protocolVersion: string) {
  return {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'sessions-test', version: '1.0.0' } },
  };
}

interface RawSession {
  readonly id: string;
  readonly headers: Record<string, string>;
}

/** initialize + notifications/initialized, as a client does; returns the headers later requests need. */
async function openSession(
  url: string,
  token: string | undefined,
  protocolVersion = '2025-06-18',
): Promise<RawSession> {
  const opened = await post(url, initialize(protocolVersion), auth(token));
  expect(opened.status, JSON.stringify(opened.json)).toBe(200);
  const id = opened.headers['mcp-session-id'] as string;
  const headers = { ...auth(token), 'mcp-session-id': id, 'mcp-protocol-version': protocolVersion };
  const initialized = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  expect(initialized.status).toBe(202);
  return { id, headers };
}

async function ping(url: string, session: RawSession): Promise<number> {
  return (await post(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, session.headers)).status;
}

function createPayment(id: number) {
  return {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: 'create_payment',
      arguments: { pay_type: '800101', txamt: 100 + id, txcurrcd: 'HKD', goods_name: `batch ${id}` },
    },
  };
}

let runtime: QfpayMcpRuntime;
const running: RunningHttpServer[] = [];

async function serve(options: Partial<HttpServeOptions> = {}): Promise<RunningHttpServer> {
  const server = await startHttpServer({
    createServer: (scope) => runtime.createServer(scope),
    environment: runtime.environment,
    port: 0,
    ...options,
  });
  running.push(server);
  return server;
}

beforeAll(async () => {
  runtime = await createRuntime({ env: {}, log: () => undefined });
});

afterAll(async () => {
  await Promise.all(running.map((server) => server.close()));
  await runtime.close();
  await dispatcher.close();
});

describe('JSON-RPC batches', () => {
  it('refuses a 50-call batch on a 2025-06-18 session: 400 -32600, and the simulator sees 0 payments', async () => {
    const server = await serve();
    const session = await openSession(server.url, undefined, '2025-06-18');
    const before = await countRequests(runtime.baseUrl, PAYMENT_PATH);
    const batch = Array.from({ length: 50 }, (_, i) => createPayment(i + 1));
    const refused = await post(server.url, batch, session.headers);
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: expect.stringContaining('2025-06-18') as unknown },
    });
    expect(await countRequests(runtime.baseUrl, PAYMENT_PATH)).toBe(before);
    // The session itself still works: one call per POST goes through, and reaches QFPay once.
    const single = await post(server.url, createPayment(99), session.headers);
    expect(single.status).toBe(200);
    expect((single.json as { result?: { isError?: boolean } }).result?.isError).not.toBe(true);
    expect(await countRequests(runtime.baseUrl, PAYMENT_PATH)).toBe(before + 1);
  });

  it('refuses batches on 2025-11-25 sessions, without a session and in the 2026-07-28 era, whatever the header claims', async () => {
    const server = await serve();
    const session = await openSession(server.url, undefined, '2025-11-25');
    const before = await countRequests(runtime.baseUrl, PAYMENT_PATH);
    const forgedHeader = { ...session.headers, 'mcp-protocol-version': '2025-03-26' };
    for (const headers of [session.headers, forgedHeader, {}]) {
      const refused = await post(server.url, [createPayment(1), createPayment(2)], headers);
      expect(refused.status).toBe(400);
      expect(refused.json).toMatchObject({ error: { code: -32600 } });
    }
    // 2026-07-28 calls in a batch are refused by the SDK's modern path (that revision has none either).
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'sessions-test', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const modernBatch = [1, 2].map((id) => {
      const call = createPayment(id);
      return { ...call, params: { ...call.params, _meta: meta } };
    });
    const modern = await post(server.url, modernBatch, { 'mcp-protocol-version': '2026-07-28' });
    expect(modern.status).toBe(400);
    expect(modern.json).toMatchObject({ error: { code: -32600 } });
    expect(await countRequests(runtime.baseUrl, PAYMENT_PATH)).toBe(before);
  });

  it('still accepts a batch on a session that negotiated 2025-03-26, which allowed them', async () => {
    const server = await serve();
    const session = await openSession(server.url, undefined, '2025-03-26');
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'explain_respcd', arguments: { respcd: '1143' } },
      },
    ];
    const answered = await post(server.url, batch, session.headers);
    expect(answered.status).toBe(200);
  });
});

describe('session capacity per principal', () => {
  it('300 sessions opened by token B evict 0 of token A’s; B recycles only its own', async () => {
    const logs: string[] = [];
    const server = await serve({
      bearerTokens: [TOKEN_A, TOKEN_B, TOKEN_C],
      maxSessions: 100,
      maxSessionsPerPrincipal: 50,
      log: (line) => logs.push(line),
    });
    const sessionsOfA = [];
    for (let i = 0; i < 20; i++) sessionsOfA.push(await openSession(server.url, TOKEN_A));
    const sessionsOfB = [];
    for (let i = 0; i < 300; i++) sessionsOfB.push(await openSession(server.url, TOKEN_B));

    const statusesOfA = await Promise.all(sessionsOfA.map((session) => ping(server.url, session)));
    expect(statusesOfA.filter((status) => status !== 200)).toEqual([]);
    expect(server.sessionCount()).toBe(70);
    // B holds its 50 most recent sessions; its first 250 were closed (404), and only those.
    const statusesOfB = await Promise.all(sessionsOfB.map((session) => ping(server.url, session)));
    expect(statusesOfB.slice(0, 250).every((status) => status === 404)).toBe(true);
    expect(statusesOfB.slice(250).every((status) => status === 200)).toBe(true);
    expect(logs.filter((line) => line.includes('at its limit of 50'))).toHaveLength(250);
  });

  it('when the table is full, a principal without sessions gets 503 and nobody is evicted', async () => {
    const server = await serve({
      bearerTokens: [TOKEN_A, TOKEN_B, TOKEN_C],
      maxSessions: 6,
      maxSessionsPerPrincipal: 4,
    });
    const sessionsOfA = [];
    for (let i = 0; i < 3; i++) sessionsOfA.push(await openSession(server.url, TOKEN_A));
    const sessionsOfB = [];
    for (let i = 0; i < 3; i++) sessionsOfB.push(await openSession(server.url, TOKEN_B));
    expect(server.sessionCount()).toBe(6);

    const refused = await post(server.url, initialize('2025-06-18'), auth(TOKEN_C));
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.headers['mcp-session-id']).toBeUndefined();
    expect(refused.json).toMatchObject({
      error: { code: -32000, message: expect.stringContaining('QFPAY_HTTP_MAX_SESSIONS') as unknown },
    });
    for (const session of [...sessionsOfA, ...sessionsOfB]) expect(await ping(server.url, session)).toBe(200);

    // A principal that holds sessions recycles its own oldest instead: B's first goes, A keeps all.
    const nextOfB = await openSession(server.url, TOKEN_B);
    expect(await ping(server.url, sessionsOfB[0]!)).toBe(404);
    for (const session of [...sessionsOfA, ...sessionsOfB.slice(1), nextOfB])
      expect(await ping(server.url, session)).toBe(200);
    expect(server.sessionCountFor(principalOf(TOKEN_A))).toBe(3);
  });

  it('counts sessions without a token under one anonymous principal', async () => {
    const server = await serve({ maxSessionsPerPrincipal: 2 });
    const first = await openSession(server.url, undefined);
    await openSession(server.url, undefined);
    await openSession(server.url, undefined);
    expect(server.sessionCountFor(ANONYMOUS_PRINCIPAL)).toBe(2);
    expect(await ping(server.url, first)).toBe(404);
  });

  it('ends a session on DELETE and frees its slot', async () => {
    const server = await serve({ maxSessions: 1 });
    const session = await openSession(server.url, undefined);
    const deleted = await request(server.url, { method: 'DELETE', headers: session.headers, dispatcher });
    await deleted.body.dump();
    expect(deleted.statusCode).toBe(200);
    expect(server.sessionCount()).toBe(0);
    expect(await ping(server.url, session)).toBe(404);
  });
});

describe('idle expiry and shutdown, on an injected clock', () => {
  function manualClock(start = 1_000_000) {
    const scheduled: { ms: number; callback: () => void; cancelled: boolean }[] = [];
    const clock: HttpClock & { time: number } = {
      time: start,
      now: () => clock.time,
      schedule(callback, ms) {
        const entry = { ms, callback, cancelled: false };
        scheduled.push(entry);
        return () => {
          entry.cancelled = true;
        };
      },
    };
    return { clock, scheduled };
  }

  it('closes a session after 30 minutes without a request, and not a millisecond before', async () => {
    const { clock } = manualClock();
    const server = await serve({ clock });
    const started = clock.time;
    const idle = await openSession(server.url, undefined);
    // Opening a session sweeps expired ones, so each probe below is also the sweep's trigger.
    clock.time = started + 30 * 60 * 1000 - 1;
    await openSession(server.url, undefined);
    expect(server.sessionCount()).toBe(2);
    clock.time = started + 30 * 60 * 1000;
    await openSession(server.url, undefined);
    expect(server.sessionCount()).toBe(2);
    expect(await ping(server.url, idle)).toBe(404);
  });

  it('a request keeps a session alive for another 30 minutes', async () => {
    const { clock } = manualClock();
    const server = await serve({ clock });
    const session = await openSession(server.url, undefined);
    clock.time += 20 * 60 * 1000;
    expect(await ping(server.url, session)).toBe(200);
    clock.time += 20 * 60 * 1000;
    await openSession(server.url, undefined);
    expect(await ping(server.url, session)).toBe(200);
  });

  it('gives a request in flight 3 s to finish at shutdown, then cuts its socket', async () => {
    const { clock, scheduled } = manualClock();
    let holding: ServerResponse | undefined;
    const reached = deferred<void>();
    const server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      environment: runtime.environment,
      port: 0,
      clock,
      routes: [
        {
          path: '/slow',
          methods: ['GET'],
          bearer: 'none',
          handle(_req, res) {
            holding = res; // answered only when the test says so
            reached.resolve();
          },
        },
      ],
    });
    const base = server.url.replace(/\/mcp$/, '');
    const inFlight = request(`${base}/slow`, { dispatcher }).then(
      () => 'answered',
      () => 'cut',
    );
    await reached.promise;
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const grace = scheduled.filter((entry) => !entry.cancelled);
    expect(grace.map((entry) => entry.ms)).toEqual([3000]);
    expect(closed).toBe(false);
    expect(holding?.destroyed).toBe(false);
    grace[0]!.callback(); // the grace period is over
    await closing;
    expect(await inFlight).toBe('cut');
  });

  it('lets a request that finishes within the grace period answer, and cancels the cut', async () => {
    const { clock, scheduled } = manualClock();
    const reached = deferred<ServerResponse>();
    const server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      environment: runtime.environment,
      port: 0,
      clock,
      routes: [
        { path: '/slow', methods: ['GET'], bearer: 'none', handle: (_req, res) => reached.resolve(res) },
      ],
    });
    const base = server.url.replace(/\/mcp$/, '');
    const inFlight = request(`${base}/slow`, { dispatcher }).then((response) => response.body.text());
    const res = await reached.promise;
    const closing = server.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    res.end('done');
    await closing;
    expect(await inFlight).toBe('done');
    expect(scheduled.map((entry) => [entry.ms, entry.cancelled])).toEqual([[3000, true]]);
  });
});

/** The principal the server derives for a token: `bearer:` and a SHA-256 prefix, never the token. */
function principalOf(token: string): string {
  return `bearer:${createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12)}`;
}

/** A promise and its resolver (Promise.withResolvers needs Node 22; the package supports 20.19). */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}
