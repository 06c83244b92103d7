import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { isJsonContentType } from '@modelcontextprotocol/server';
import { Agent, request } from 'undici';

import { createRuntime } from '../../src/mcp/runtime.js';
import type { QfpayMcpRuntime } from '../../src/mcp/runtime.js';
import { MAX_JSON_DEPTH } from '../../src/transports/http-guards.js';
import { startHttpServer } from '../../src/transports/http.js';
import type { RunningHttpServer } from '../../src/transports/http.js';
import { countRequests, removeStateDir, scratchStateDir } from './helpers.js';

/**
 * Fuzzed frames at the Streamable HTTP endpoint: malformed JSON-RPC, wrong content types, deep nesting, oversize bodies, random
 * Host/Origin/Authorization/session/protocol headers.
 *
 * What is correct, and asserted:
 * - A body that is not JSON, or JSON that is not a JSON-RPC message, is refused at the HTTP level
 *   with 400 and a JSON-RPC error object with id null (-32700 parse error / -32600 invalid
 *   request): the Streamable HTTP transport says a server that cannot accept the input MUST
 *   answer an HTTP error status, and the body MAY be a JSON-RPC error without id.
 * - A well-formed JSON-RPC request that is invalid at the protocol level (unknown method, bad
 *   params, unknown tool) gets a JSON-RPC error response carrying the request's id (code -32601
 *   / -32602). The SDK answers an unknown method with HTTP 404 and invalid params with HTTP 200;
 *   both are accepted as long as the body is that error.
 * - Invalid tool ARGUMENTS are a tool-execution error (SEP-1303): HTTP 200, result.isError.
 * - Wrong content type → 415; over the size limit → 413; nesting beyond the limit → 400; a
 *   non-allowlisted Host or Origin → 403; a bad bearer token → 401 with WWW-Authenticate.
 * - Never a 5xx, never an upstream request, and the server still answers afterwards.
 */

const MAX_BODY_BYTES = 64 * 1024;
const RUNS = 120;
const TOKEN = 'fuzz-token-0123456789abcdef0123456789abcdef';
const PROTOCOL = '2026-07-28';
const META = {
  'io.modelcontextprotocol/protocolVersion': PROTOCOL,
  'io.modelcontextprotocol/clientInfo': { name: 'http-fuzz', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

let runtime: QfpayMcpRuntime;
const stateDir = scratchStateDir();
let open: RunningHttpServer;
let guarded: RunningHttpServer;
const logs: string[] = [];
const dispatcher = new Agent({ connections: 16 });

beforeAll(async () => {
  runtime = await createRuntime({
    env: { QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir },
    log: (line) => logs.push(line),
  });
  const common = {
    createServer: runtime.createServer.bind(runtime),
    environment: runtime.environment,
    port: 0,
    maxBodyBytes: MAX_BODY_BYTES,
    log: (line: string) => logs.push(line),
  };
  open = await startHttpServer(common);
  guarded = await startHttpServer({ ...common, bearerTokens: [TOKEN] });
});

afterAll(async () => {
  await open.close();
  await guarded.close();
  await runtime.close();
  await dispatcher.close();
  removeStateDir(stateDir);
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: unknown;
}

async function post(
  url: string,
  body: string | Buffer | Readable,
  headers: Record<string, string> = JSON_HEADERS,
): Promise<Answer> {
  const response = await request(url, { method: 'POST', headers, body, dispatcher });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

interface JsonRpcError {
  jsonrpc: string;
  id: unknown;
  error: { code: number; message: string };
}

function expectJsonRpcError(answer: Answer, status: number | number[], codes?: number[]): JsonRpcError {
  expect([status].flat()).toContain(answer.status);
  const body = answer.json as JsonRpcError;
  expect(body?.jsonrpc, answer.text.slice(0, 200)).toBe('2.0');
  expect(Number.isInteger(body.error?.code)).toBe(true);
  expect(body.error.message.length).toBeGreaterThan(0);
  if (codes) expect(codes).toContain(body.error.code);
  return body;
}

function modernHeaders(method: string, name?: string): Record<string, string> {
  return {
    ...JSON_HEADERS,
    'mcp-protocol-version': PROTOCOL,
    'mcp-method': method,
    ...(name !== undefined ? { 'mcp-name': name } : {}),
  };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Header values undici will send (visible ASCII and spaces, no leading/trailing blanks). */
const headerValue = fc
  .string({
    unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789-._~:/ ?=&%+'.split('')),
    minLength: 1,
    maxLength: 60,
  })
  .map((s) => s.trim())
  .filter((s) => s.length > 0);

describe('malformed bodies', () => {
  it('text that is not JSON → 400 with a JSON-RPC parse error, id null', async () => {
    const notJson = fc
      .oneof(
        fc.string({ maxLength: 300 }),
        fc.string({ unit: 'grapheme', maxLength: 100 }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
        fc.json().map((text) => text.slice(0, Math.max(1, text.length - 1))), // truncated JSON
      )
      .filter((text) => text.trim() !== '' && !isJson(text));
    await fc.assert(
      fc.asyncProperty(notJson, async (text) => {
        const body = expectJsonRpcError(await post(open.url, text), 400, [-32700]);
        expect(body.id).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it('JSON that is not a JSON-RPC message → 400 with a JSON-RPC error', async () => {
    const notJsonRpc = fc
      .jsonValue({ maxDepth: 4 })
      .filter(
        (value) =>
          typeof value !== 'object' ||
          value === null ||
          Array.isArray(value) ||
          !Object.prototype.hasOwnProperty.call(value, 'jsonrpc'),
      );
    await fc.assert(
      fc.asyncProperty(notJsonRpc, async (value) => {
        expectJsonRpcError(await post(open.url, JSON.stringify(value)), 400, [-32600, -32000]);
      }),
      { numRuns: RUNS },
    );
  });

  it(`JSON nested deeper than ${MAX_JSON_DEPTH} levels → 400 before any parsing work`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_JSON_DEPTH + 1, max: 20_000 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        async (depth, shape) => {
          let open_ = '';
          let close = '';
          for (let i = 0; i < depth; i++) {
            const asObject = shape[i % shape.length];
            open_ += asObject ? '{"a":' : '[';
            close = (asObject ? '}' : ']') + close;
          }
          const text = `${open_}1${close}`;
          if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
            expectJsonRpcError(await post(open.url, text), 413);
          } else {
            const body = expectJsonRpcError(await post(open.url, text), 400, [-32600]);
            expect(body.error.message).toMatch(/nested/);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('bodies over the limit → 413, whether declared by Content-Length or streamed chunked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_BODY_BYTES + 1, max: 4 * MAX_BODY_BYTES }),
        fc.boolean(),
        async (size, chunked) => {
          const payload = `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"${'x'.repeat(size)}"}}`;
          const body = chunked
            ? Readable.from(
                (function* () {
                  for (let i = 0; i < payload.length; i += 16 * 1024) yield payload.slice(i, i + 16 * 1024);
                })(),
              )
            : payload;
          expectJsonRpcError(await post(open.url, body), 413);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('a content type other than JSON → 415', async () => {
    const contentType = fc
      .oneof(
        fc.constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          'text/html',
          'application/octet-stream',
          'application/jsonp',
          'json',
        ),
        headerValue,
      )
      .filter((value) => !isJsonContentType(value));
    await fc.assert(
      fc.asyncProperty(contentType, fc.json(), async (type, text) => {
        expectJsonRpcError(
          await post(open.url, text, { 'content-type': type, accept: JSON_HEADERS.accept }),
          415,
        );
      }),
      { numRuns: RUNS },
    );
  });
});

describe('well-formed JSON-RPC that is wrong', () => {
  it('unknown methods (2026-07-28 requests) → a JSON-RPC error with the same id', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[a-z][a-zA-Z0-9_/]{0,30}$/).map((m) => `fuzz/${m}`),
        fc.oneof(fc.integer(), fc.string({ minLength: 1, maxLength: 30 })),
        fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
        async (method, id, params) => {
          const text = JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: META } });
          const body = expectJsonRpcError(
            await post(open.url, text, modernHeaders(method)),
            [200, 400, 404],
            [-32601, -32602, -32600],
          );
          expect([id, null]).toContainEqual(body.id);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('tools/call with random names and arguments → a JSON-RPC error or an isError result, never a call upstream', async () => {
    const names = fc.oneof(
      fc.constantFrom(
        'create_payment',
        'refund',
        'cancel_payment',
        'query_transaction',
        'wait_for_payment',
        'explain_respcd',
      ),
      fc.stringMatching(/^[a-z_]{1,24}$/),
    );
    const args = fc.oneof(
      fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1, maxKeys: 5 }),
      fc.record({
        txamt: fc.oneof(fc.integer({ max: 0 }), fc.double({ noNaN: true, noDefaultInfinity: true })),
        txcurrcd: fc.string(),
      }),
    );
    const before = await countRequests(runtime.baseUrl);
    await fc.assert(
      fc.asyncProperty(
        names,
        args,
        fc.integer({ min: 1, max: 1_000_000 }),
        async (name, argumentsValue, id) => {
          const text = JSON.stringify({
            jsonrpc: '2.0',
            id,
            method: 'tools/call',
            params: { name, arguments: argumentsValue, _meta: META },
          });
          const answer = await post(open.url, text, modernHeaders('tools/call', name));
          expect(answer.status).toBeLessThan(500);
          const body = answer.json as {
            id?: unknown;
            result?: { isError?: boolean };
            error?: { code: number };
          };
          if (body.error) {
            expect([400, 404, 200]).toContain(answer.status);
            expect(Number.isInteger(body.error.code)).toBe(true);
          } else {
            expect(answer.status).toBe(200);
            expect(body.id).toBe(id);
            expect(body.result?.isError).toBe(true);
          }
        },
      ),
      { numRuns: RUNS },
    );
    expect(await countRequests(runtime.baseUrl)).toBe(before);
  });
});

describe('random headers', () => {
  it('a Host that is not allow-listed → 403 (DNS rebinding), whatever the body', async () => {
    const host = fc
      .tuple(
        fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
        fc.constantFrom('.example', '.com', '.internal', ''),
        fc.option(fc.integer({ min: 1, max: 65_535 })),
      )
      .map(([name, tld, port]) => `${name}${tld}${port === null ? '' : `:${port}`}`)
      .filter((h) => !/^(localhost|127\.)/.test(h));
    await fc.assert(
      fc.asyncProperty(host, fc.json(), async (hostHeader, text) => {
        expectJsonRpcError(await post(open.url, text, { ...JSON_HEADERS, host: hostHeader }), 403);
      }),
      { numRuns: RUNS },
    );
  });

  it('an Origin that is not allow-listed → 403', async () => {
    const origin = fc.oneof(
      fc
        .webUrl()
        .map((u) => new URL(u).origin)
        .filter((o) => !/\/\/(localhost|127\.|\[::1\])/.test(o)),
      fc.constantFrom('null', 'file://', 'chrome-extension://abcdef'),
      headerValue,
    );
    await fc.assert(
      fc.asyncProperty(origin, async (originHeader) => {
        const answer = await post(open.url, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', {
          ...JSON_HEADERS,
          origin: originHeader,
        });
        expectJsonRpcError(answer, 403);
      }),
      { numRuns: RUNS },
    );
  });

  it('a wrong, malformed or missing bearer token → 401 with a Bearer challenge, never the token echoed', async () => {
    const authorization = fc.oneof(
      headerValue.map((v) => `Bearer ${v}`),
      headerValue.map((v) => `Basic ${Buffer.from(v).toString('base64')}`),
      headerValue,
      fc.constant(`Bearer ${TOKEN}x`),
      fc.constant(`Bearer ${TOKEN.slice(0, -1)}`),
      fc.constant(''),
    );
    await fc.assert(
      fc.asyncProperty(authorization, async (value) => {
        const headers: Record<string, string> = { ...JSON_HEADERS };
        if (value !== '') headers.authorization = value;
        const answer = await post(guarded.url, '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', headers);
        expectJsonRpcError(answer, 401);
        expect(String(answer.headers['www-authenticate'])).toMatch(/^Bearer /);
        expect(answer.text).not.toContain(TOKEN);
      }),
      { numRuns: RUNS },
    );
  });

  it('random session ids and protocol-version headers → 4xx JSON-RPC errors', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          headerValue.map((v) => ({ 'mcp-session-id': v })),
          headerValue
            .filter((v) => v !== PROTOCOL && !/^20\d\d-\d\d-\d\d$/.test(v))
            .map((v) => ({ 'mcp-protocol-version': v })),
          headerValue.map((v) => ({ 'mcp-method': v, 'mcp-protocol-version': PROTOCOL })),
        ),
        async (extra) => {
          const answer = await post(
            open.url,
            JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: META } }),
            {
              ...JSON_HEADERS,
              ...extra,
            },
          );
          expectJsonRpcError(answer, [400, 404]);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('JSON-RPC batches', () => {
  it('random batches of money-moving calls on a 2025-06-18 session → 400 -32600, never a call upstream', async () => {
    const initialize = await post(
      open.url,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'fuzz', version: '1' },
        },
      }),
    );
    expect(initialize.status).toBe(200);
    const session = {
      ...JSON_HEADERS,
      'mcp-session-id': initialize.headers['mcp-session-id'] as string,
      'mcp-protocol-version': '2025-06-18',
    };
    const writeCall = fc.record({
      jsonrpc: fc.constant('2.0'),
      id: fc.integer({ min: 1, max: 1_000_000 }),
      method: fc.constant('tools/call'),
      params: fc.record({
        name: fc.constantFrom('create_payment', 'refund', 'cancel_payment'),
        arguments: fc.record({
          pay_type: fc.constantFrom('800101', '800108', '802001'),
          txamt: fc.integer({ min: 1, max: 100_000 }),
          txcurrcd: fc.constant('HKD'),
          syssn: fc.stringMatching(/^[0-9]{10,20}$/),
        }),
      }),
    });
    const other = fc.oneof(
      fc.constant({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      fc.integer({ min: 1, max: 1000 }).map((id) => ({ jsonrpc: '2.0', id, method: 'ping' })),
    );
    const before = await countRequests(runtime.baseUrl);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(writeCall, other), { minLength: 1, maxLength: 60 }),
        async (batch) => {
          expectJsonRpcError(await post(open.url, JSON.stringify(batch), session), 400, [-32600]);
        },
      ),
      { numRuns: 60 },
    );
    expect(await countRequests(runtime.baseUrl)).toBe(before);
  });
});

describe('after the fuzzing', () => {
  it('the server still answers /healthz and valid calls in both protocol eras, and logged no internal error', async () => {
    const health = await request(open.url.replace(/\/mcp$/, '/healthz'), { dispatcher });
    expect(health.statusCode).toBe(200);
    expect(await health.body.json()).toEqual({ ok: true, environment: 'local' });

    for (const mode of ['legacy', 'auto'] as const) {
      const client = new Client({ name: 'after-fuzz', version: '1.0.0' }, { versionNegotiation: { mode } });
      await client.connect(new StreamableHTTPClientTransport(new URL(open.url)));
      try {
        const result = await client.callTool({ name: 'explain_respcd', arguments: { respcd: '1143' } });
        expect(result.isError).not.toBe(true);
      } finally {
        await client.close();
      }
    }
    expect(logs.filter((line) => /unhandled error|request failed|Internal error/.test(line))).toEqual([]);
  });
});
