import { request as httpRequest } from 'node:http';
import { createServer as createNetServer, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/server';
import type { QfpayMcpRuntime } from '../src/mcp/runtime.js';
import { createRuntime } from '../src/mcp/runtime.js';
import { ANONYMOUS_PRINCIPAL, HttpStartupError, startHttpServer } from '../src/transports/http.js';
import type { RunningHttpServer } from '../src/transports/http.js';
import {
  BearerTokenVerifier,
  buildHostAllowList,
  checkOriginHeader,
  buildOriginRules,
  isLoopbackHost,
  jsonNestingExceeds,
  parseBearerTokens,
  parseJsonBody,
  parseOriginRule,
  parseSessionLimits,
} from '../src/transports/http-guards.js';

const TOKEN = 'test-token-0123456789abcdef0123456789abcdef';
const ROTATED_TOKEN = 'rotated-token-fedcba9876543210fedcba9876543210';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** node:http rather than fetch, because fetch will not let a test forge Host. */
function rawRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    chunked?: boolean;
  } = {},
): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'POST',
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) {
      if (options.chunked) {
        // Stream in pieces without a Content-Length, so only the streaming limit can catch it.
        const body = Buffer.from(options.body);
        for (let offset = 0; offset < body.length; offset += 64 * 1024)
          req.write(body.subarray(offset, offset + 64 * 1024));
      } else req.write(options.body);
    }
    req.end();
  });
}

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1.0.0' } },
});

function mcpHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...extra };
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function connectClient(
  url: string,
  token: string | undefined,
  mode: 'legacy' | 'auto' = 'legacy',
): Promise<Client> {
  const client = new Client({ name: 'transport-test', version: '1.0.0' }, { versionNegotiation: { mode } });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token ? { headers: bearer(token) } : {},
  });
  await client.connect(transport);
  return client;
}

function structured(result: unknown): Record<string, unknown> {
  return (result as { structuredContent?: Record<string, unknown> }).structuredContent ?? {};
}

function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((block) => block.text ?? '').join('\n');
}

let runtime: QfpayMcpRuntime;

beforeAll(async () => {
  runtime = await createRuntime({ env: {}, log: () => undefined });
});

afterAll(async () => {
  await runtime.close();
});

describe('Streamable HTTP with a bearer token', () => {
  let server: RunningHttpServer;
  const logs: string[] = [];

  beforeAll(async () => {
    server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      environment: runtime.environment,
      port: 0,
      bearerTokens: [TOKEN, ROTATED_TOKEN],
      allowedOrigins: ['https://console.example.com'],
      maxBodyBytes: 64 * 1024,
      log: (line) => logs.push(line),
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('binds loopback by default and serves the official client with the bearer header (2025 era, session)', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/mcp`);
    const client = await connectClient(server.url, TOKEN);
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((tool) => tool.name)).toContain('explain_respcd');
      const result = await client.callTool({ name: 'explain_respcd', arguments: { respcd: '1143' } });
      expect(result.isError).not.toBe(true);
      expect(structured(result).respcd).toBe('1143');
    } finally {
      await client.close();
    }
  });

  it('serves a 2026-07-28 client per request, without a session', async () => {
    const client = await connectClient(server.url, TOKEN, 'auto');
    try {
      const result = await client.callTool({ name: 'explain_respcd', arguments: { respcd: '1145' } });
      expect(structured(result).respcd).toBe('1145');
    } finally {
      await client.close();
    }
  });

  it('answers 401 with a Bearer challenge when the token is missing, malformed or wrong', async () => {
    const sessionsBefore = server.sessionCount();
    for (const headers of [
      {},
      { Authorization: 'Basic dXNlcjpwYXNz' },
      bearer('x'.repeat(40)),
      bearer(`${TOKEN}x`),
    ]) {
      const response = await rawRequest(server.url, { headers: mcpHeaders(headers), body: INITIALIZE });
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(response.body).not.toContain(TOKEN);
    }
    // None of the refused initializes opened a session, for anyone.
    expect(server.sessionCount()).toBe(sessionsBefore);
    expect(server.sessionCountFor(ANONYMOUS_PRINCIPAL)).toBe(0);
  });

  it('refuses a token in the query string even alongside a valid header', async () => {
    for (const query of [`?access_token=${TOKEN}`, `?token=${TOKEN}`]) {
      const response = await rawRequest(`${server.url}${query}`, {
        headers: mcpHeaders(bearer(TOKEN)),
        body: INITIALIZE,
      });
      expect(response.status).toBe(401);
      expect(response.body).toContain('query string');
    }
  });

  it('answers 403 to a forged Host (DNS rebinding) before checking anything else', async () => {
    for (const host of ['evil.example.com', `attacker.test:${server.port}`, '10.0.0.8']) {
      const response = await rawRequest(server.url, {
        headers: mcpHeaders({ ...bearer(TOKEN), Host: host }),
        body: INITIALIZE,
      });
      expect(response.status).toBe(403);
    }
    const loopbackName = await rawRequest(server.url, {
      headers: mcpHeaders({ ...bearer(TOKEN), Host: `localhost:${server.port}` }),
      body: INITIALIZE,
    });
    expect(loopbackName.status).toBe(200);
  });

  it('answers 403 to an unlisted or opaque Origin and accepts listed ones', async () => {
    for (const origin of [
      'https://evil.example.com',
      'null',
      'http://console.example.com',
      'https://console.example.com:8443',
    ]) {
      const response = await rawRequest(server.url, {
        headers: mcpHeaders({ ...bearer(TOKEN), Origin: origin }),
        body: INITIALIZE,
      });
      expect(response.status, origin).toBe(403);
    }
    for (const origin of [
      'https://console.example.com',
      `http://localhost:${server.port}`,
      'http://127.0.0.1:5173',
    ]) {
      const response = await rawRequest(server.url, {
        headers: mcpHeaders({ ...bearer(TOKEN), Origin: origin }),
        body: INITIALIZE,
      });
      expect(response.status, origin).toBe(200);
    }
  });

  it('answers 413 to a body over the limit, declared or streamed', async () => {
    const oversized = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
      params: { pad: 'x'.repeat(70 * 1024) },
    });
    const declared = await rawRequest(server.url, { headers: mcpHeaders(bearer(TOKEN)), body: oversized });
    expect(declared.status).toBe(413);
    const streamed = await rawRequest(server.url, {
      headers: mcpHeaders(bearer(TOKEN)),
      body: oversized,
      chunked: true,
    });
    expect(streamed.status).toBe(413);
  });

  it('answers 415 to a body that is not JSON by content type', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const response = await rawRequest(server.url, {
        headers: mcpHeaders({ ...bearer(TOKEN), 'Content-Type': type }),
        body: INITIALIZE,
      });
      expect(response.status, type).toBe(415);
    }
  });

  it('answers 400 to malformed JSON, an empty body and deep nesting', async () => {
    const malformed = await rawRequest(server.url, {
      headers: mcpHeaders(bearer(TOKEN)),
      body: '{"jsonrpc":"2.0",',
    });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ error: { code: -32700 } });
    const empty = await rawRequest(server.url, { headers: mcpHeaders(bearer(TOKEN)), body: '' });
    expect(empty.status).toBe(400);
    const deep = `{"jsonrpc":"2.0","id":1,"method":"ping","params":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}`;
    const nested = await rawRequest(server.url, { headers: mcpHeaders(bearer(TOKEN)), body: deep });
    expect(nested.status).toBe(400);
    expect(nested.body).toContain('nested');
  });

  it('rejects unknown paths and methods, and requests without a session', async () => {
    expect(
      (await rawRequest(`http://127.0.0.1:${server.port}/other`, { method: 'GET', headers: bearer(TOKEN) }))
        .status,
    ).toBe(404);
    expect(
      (await rawRequest(server.url, { method: 'PUT', headers: mcpHeaders(bearer(TOKEN)), body: '{}' }))
        .status,
    ).toBe(405);
    const toolsList = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(
      (await rawRequest(server.url, { headers: mcpHeaders(bearer(TOKEN)), body: toolsList })).status,
    ).toBe(400);
    const unknownSession = await rawRequest(server.url, {
      headers: mcpHeaders({ ...bearer(TOKEN), 'Mcp-Session-Id': '00000000-0000-4000-8000-000000000000' }),
      body: toolsList,
    });
    expect(unknownSession.status).toBe(404);
  });

  it('binds a session to the token that opened it', async () => {
    const opened = await rawRequest(server.url, { headers: mcpHeaders(bearer(TOKEN)), body: INITIALIZE });
    expect(opened.status).toBe(200);
    const sessionId = opened.headers['mcp-session-id'];
    expect(typeof sessionId).toBe('string');
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' });
    const sameToken = await rawRequest(server.url, {
      headers: mcpHeaders({
        ...bearer(TOKEN),
        'Mcp-Session-Id': sessionId as string,
        'Mcp-Protocol-Version': '2025-06-18',
      }),
      body: ping,
    });
    expect(sameToken.status).toBe(200);
    const otherToken = await rawRequest(server.url, {
      headers: mcpHeaders({
        ...bearer(ROTATED_TOKEN),
        'Mcp-Session-Id': sessionId as string,
        'Mcp-Protocol-Version': '2025-06-18',
      }),
      body: ping,
    });
    expect(otherToken.status).toBe(404);
  });

  it('gives each of several concurrent clients with overlapping JSON-RPC ids its own answers (CVE-2026-25536)', async () => {
    const codes = ['1143', '1145', '1150', '1155', '1296', '1297', '1100', '1142'];
    // Every client numbers its requests from 0, so ids collide across clients on every round.
    const clients = await Promise.all([
      connectClient(server.url, TOKEN),
      connectClient(server.url, ROTATED_TOKEN),
      connectClient(server.url, TOKEN, 'auto'),
    ]);
    try {
      for (let round = 0; round < 40; round++) {
        const calls = clients.flatMap((client, clientIndex) =>
          codes.map(async (_, i) => {
            // Each client asks for a different code at the same position, so a misrouted answer shows.
            const asked = codes[(i + clientIndex * 3 + round) % codes.length]!;
            const result = await client.callTool({ name: 'explain_respcd', arguments: { respcd: asked } });
            return { asked, answered: structured(result).respcd };
          }),
        );
        for (const { asked, answered } of await Promise.all(calls)) expect(answered).toBe(asked);
      }
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('serves /healthz liveness to anyone, and the environment only to a token holder', async () => {
    const healthUrl = `http://127.0.0.1:${server.port}/healthz`;
    for (const headers of [{}, bearer(`${TOKEN}x`), { Authorization: 'Basic dXNlcjpwYXNz' }]) {
      const health = await rawRequest(healthUrl, { method: 'GET', headers });
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toEqual({ ok: true });
    }
    for (const token of [TOKEN, ROTATED_TOKEN]) {
      const detailed = await rawRequest(healthUrl, { method: 'GET', headers: bearer(token) });
      expect(detailed.status).toBe(200);
      expect(JSON.parse(detailed.body)).toEqual({ ok: true, environment: 'local' });
      expect(detailed.body).not.toContain(token);
    }
    const head = await rawRequest(healthUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const post = await rawRequest(`http://127.0.0.1:${server.port}/healthz`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    const forged = await rawRequest(`http://127.0.0.1:${server.port}/healthz`, {
      method: 'GET',
      headers: { Host: 'evil.example.com' },
    });
    expect(forged.status).toBe(403);
  });

  it('keeps an idle keep-alive connection past Node’s 5 s default and says so (timeout=65)', async () => {
    // A proxy reusing a socket the server closes at that instant gets ECONNRESET (a 502 to its
    // client); the server must outlast the 60 s idle timeout of common proxies and load balancers.
    const socket = connect(server.port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    let closed = false;
    socket.on('close', () => (closed = true));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const ask = async (): Promise<string> => {
      const start = received.length;
      socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
      await expect.poll(() => received.slice(start), { timeout: 5_000 }).toMatch(/\{"ok":true\}$/);
      return received.slice(start);
    };
    try {
      expect(await ask()).toMatch(/^Keep-Alive: timeout=65$/im);
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      expect(closed).toBe(false);
      expect(await ask()).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      socket.destroy();
    }
  }, 20_000);

  it('answers 408 and cuts a client whose request headers take longer than 10 s (slow loris)', async () => {
    const socket = connect(server.port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const started = Date.now();
    // Headers that never end: one more header line every second.
    socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`);
    const trickle = setInterval(() => socket.write('X-Slow: 1\r\n'), 1_000);
    try {
      const elapsed = (await closed) - started;
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
      expect(elapsed).toBeGreaterThanOrEqual(10_000);
      expect(elapsed).toBeLessThan(13_000);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  }, 20_000);

  it('never logs the token', () => {
    expect(logs.join('\n')).not.toContain(TOKEN);
    expect(logs.join('\n')).not.toContain(ROTATED_TOKEN);
  });
});

describe('Streamable HTTP exposure rules', () => {
  it('refuses to start on a non-loopback address without a token, leaving no socket', async () => {
    const port = await freePort();
    for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
      await expect(
        startHttpServer({
          createServer: (scope) => runtime.createServer(scope),
          environment: 'local',
          host,
          port,
        }),
      ).rejects.toThrow(HttpStartupError);
    }
    await expect(
      startHttpServer({
        createServer: (scope) => runtime.createServer(scope),
        environment: 'local',
        host: '0.0.0.0',
        port,
      }),
    ).rejects.toThrow(/QFPAY_MCP_TOKEN/);
    await expect(canConnect(port)).resolves.toBe(false);
  });

  it('starts on all interfaces with a token, still checking Host', async () => {
    const server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      environment: 'local',
      host: '0.0.0.0',
      port: 0,
      bearerTokens: [TOKEN],
      allowedHosts: ['mcp.internal.example'],
    });
    try {
      const url = `http://127.0.0.1:${server.port}/mcp`;
      const listed = await rawRequest(url, {
        headers: mcpHeaders({ ...bearer(TOKEN), Host: `mcp.internal.example:${server.port}` }),
        body: INITIALIZE,
      });
      expect(listed.status).toBe(200);
      const unlisted = await rawRequest(url, {
        headers: mcpHeaders({ ...bearer(TOKEN), Host: 'other.example' }),
        body: INITIALIZE,
      });
      expect(unlisted.status).toBe(403);
    } finally {
      await server.close();
    }
  });

  it('without a token on loopback, serves clients and closes their sessions on shutdown', async () => {
    const server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      environment: 'local',
      port: 0,
    });
    const client = await connectClient(server.url, undefined);
    const result = await client.callTool({ name: 'list_currencies', arguments: {} });
    expect(result.isError).not.toBe(true);
    expect(server.sessionCount()).toBe(1);
    await server.close();
    expect(server.sessionCount()).toBe(0);
    await expect(canConnect(server.port)).resolves.toBe(false);
    await client.close();
  });

  it('serves on IPv6 loopback, bracketed or not', async () => {
    for (const host of ['::1', '[::1]']) {
      const server = await startHttpServer({
        createServer: (scope) => runtime.createServer(scope),
        environment: 'local',
        host,
        port: 0,
      });
      try {
        expect(server.url).toBe(`http://[::1]:${server.port}/mcp`);
        const health = await fetch(server.url.replace(/\/mcp$/, '/healthz'));
        expect(health.status).toBe(200);
      } finally {
        await server.close();
      }
    }
  });

  it('answers /healthz with details when no token is configured (loopback only)', async () => {
    const server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      environment: 'local',
      port: 0,
    });
    try {
      const health = await rawRequest(`http://127.0.0.1:${server.port}/healthz`, { method: 'GET' });
      expect(JSON.parse(health.body)).toEqual({ ok: true, environment: 'local' });
    } finally {
      await server.close();
    }
  });

  it('recycles the principal’s own least recently used session at its session limit', async () => {
    const server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      environment: 'local',
      port: 0,
      maxSessionsPerPrincipal: 2,
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const opened = await rawRequest(server.url, { headers: mcpHeaders(), body: INITIALIZE });
        expect(opened.status).toBe(200);
        ids.push(opened.headers['mcp-session-id'] as string);
      }
      expect(server.sessionCount()).toBe(2);
      const ping = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' });
      const statusFor = async (id: string) =>
        (
          await rawRequest(server.url, {
            headers: mcpHeaders({ 'Mcp-Session-Id': id, 'Mcp-Protocol-Version': '2025-06-18' }),
            body: ping,
          })
        ).status;
      expect(await statusFor(ids[0]!)).toBe(404);
      expect(await statusFor(ids[1]!)).toBe(200);
      expect(await statusFor(ids[2]!)).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('keeps a return path per session so a tool can ask the client for confirmation (elicitation)', async () => {
    const server = await startHttpServer({ createServer: confirmingServer, environment: 'local', port: 0 });
    const client = new Client(
      { name: 'eliciting', version: '1.0.0' },
      { capabilities: { elicitation: { form: {} } } },
    );
    client.setRequestHandler('elicitation/create', (request) => {
      expect(request.params.message).toBe('Refund HKD 1.00?');
      return Promise.resolve({ action: 'accept', content: { confirm: true } });
    });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      const result = await client.callTool({ name: 'confirm_refund', arguments: {} });
      expect(textOf(result)).toBe('accept:true');
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe('HTTP guards', () => {
  it('recognises loopback addresses only', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1'])
      expect(isLoopbackHost(host), host).toBe(false);
  });

  it('allows loopback names, a concrete bind address and listed hosts', () => {
    expect(buildHostAllowList('127.0.0.1', [])).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(buildHostAllowList('0.0.0.0', ['MCP.example.com'])).toEqual([
      'localhost',
      '127.0.0.1',
      '[::1]',
      'mcp.example.com',
    ]);
    expect(buildHostAllowList('192.0.2.10', [])).toContain('192.0.2.10');
    expect(buildHostAllowList('fd00::1', [])).toContain('[fd00::1]');
  });

  it('matches exact origins by scheme, host and port, and bare hostnames on any port', () => {
    const rules = buildOriginRules(['https://app.example.com', 'tools.example.com']);
    expect(checkOriginHeader(undefined, rules).ok).toBe(true);
    expect(checkOriginHeader('https://app.example.com', rules).ok).toBe(true);
    expect(checkOriginHeader('http://app.example.com', rules).ok).toBe(false);
    expect(checkOriginHeader('https://app.example.com:444', rules).ok).toBe(false);
    expect(checkOriginHeader('https://tools.example.com:9000', rules).ok).toBe(true);
    expect(checkOriginHeader('chrome-extension://tools.example.com', rules).ok).toBe(false);
    expect(checkOriginHeader('https://app.example.com.evil.test', rules).ok).toBe(false);
    expect(checkOriginHeader('null', rules).ok).toBe(false);
    expect(() => parseOriginRule('https://app.example.com/path')).toThrow(/path/);
    expect(() => parseOriginRule('ftp://files.example.com')).toThrow(/http/);
  });

  it('verifies bearer tokens exactly, accepting every rotated token', () => {
    const verifier = new BearerTokenVerifier([TOKEN, ROTATED_TOKEN]);
    const first = verifier.verify(`Bearer ${TOKEN}`);
    const second = verifier.verify(`bearer ${ROTATED_TOKEN}`);
    expect(first.ok && second.ok && first.fingerprint !== second.fingerprint).toBe(true);
    expect(verifier.verify(`Bearer ${TOKEN.slice(0, -1)}`).ok).toBe(false);
    expect(verifier.verify(`Bearer ${TOKEN} extra`).ok).toBe(false);
    expect(verifier.verify(TOKEN).ok).toBe(false);
    expect(verifier.verify(undefined)).toMatchObject({ ok: false, error: 'invalid_request' });
    if (first.ok) expect(TOKEN).not.toContain(first.fingerprint);
  });

  it('requires strong tokens and never echoes them', () => {
    expect(parseBearerTokens(undefined)).toEqual([]);
    expect(parseBearerTokens(` ${TOKEN} , ${ROTATED_TOKEN} `)).toEqual([TOKEN, ROTATED_TOKEN]);
    expect(() => parseBearerTokens('short-secret')).toThrow(/32 characters/);
    try {
      parseBearerTokens('short-secret');
    } catch (error) {
      expect((error as Error).message).not.toContain('short-secret');
    }
    expect(() => parseBearerTokens(`${TOKEN} with space`)).toThrow();
  });

  it('reads session limits from the environment, refusing anything but a whole number in range', () => {
    expect(parseSessionLimits({})).toEqual({});
    expect(
      parseSessionLimits({ QFPAY_HTTP_MAX_SESSIONS: ' 5000 ', QFPAY_HTTP_MAX_SESSIONS_PER_PRINCIPAL: '40' }),
    ).toEqual({ maxSessions: 5000, maxSessionsPerPrincipal: 40 });
    for (const value of ['0', '-1', '1.5', 'many', '100001']) {
      expect(() => parseSessionLimits({ QFPAY_HTTP_MAX_SESSIONS: value })).toThrow(
        /QFPAY_HTTP_MAX_SESSIONS must be a whole number from 1 to 100000/,
      );
    }
    expect(() => parseSessionLimits({ QFPAY_HTTP_MAX_SESSIONS_PER_PRINCIPAL: '0' })).toThrow(
      /QFPAY_HTTP_MAX_SESSIONS_PER_PRINCIPAL/,
    );
  });

  it('measures JSON nesting without being fooled by brackets inside strings', () => {
    expect(jsonNestingExceeds('{"a":[[1]]}', 3)).toBe(false);
    expect(jsonNestingExceeds('{"a":[[[1]]]}', 3)).toBe(true);
    expect(jsonNestingExceeds(`{"a":"${'['.repeat(100)}"}`, 2)).toBe(false);
    expect(jsonNestingExceeds(`{"a":"\\"${'{'.repeat(100)}"}`, 2)).toBe(false);
    expect(parseJsonBody('[1, 2]')).toEqual({ ok: true, value: [1, 2] });
    expect(parseJsonBody('{')).toMatchObject({ ok: false, code: -32700 });
  });
});

function confirmingServer(): McpServer {
  const server = new McpServer({ name: 'confirming', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.registerTool('confirm_refund', { inputSchema: z.object({}) }, async (_args, ctx) => {
    const answer = await ctx.mcpReq.elicitInput({
      mode: 'form',
      message: 'Refund HKD 1.00?',
      requestedSchema: {
        type: 'object',
        properties: { confirm: { type: 'boolean' } },
        required: ['confirm'],
      },
    });
    return { content: [{ type: 'text', text: `${answer.action}:${String(answer.content?.confirm)}` }] };
  });
  return server;
}

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
