import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';

import type { QfpayMcpRuntime } from '../src/mcp/runtime.js';
import { createRuntime } from '../src/mcp/runtime.js';
import { startHttpServer } from '../src/transports/http.js';
import type { RunningHttpServer } from '../src/transports/http.js';

/**
 * 1,000 concurrent 2025-era sessions on the default limits, over real HTTP on loopback, each
 * making calls while all the others stay open (performance audit §5.1: at 128 sessions 22–53 % of
 * calls used to fail "Session not found"). Raw JSON-RPC rather than 1,000 official clients keeps
 * the client side cheap; the server side is exactly what `serve --http` runs.
 */

const SESSIONS = 1000;
const TOKEN = 'scale-token-0123456789abcdef0123456789abcdef';
const PROTOCOL = '2025-06-18';
const dispatcher = new Agent({ connections: 64, pipelining: 1 });

interface Session {
  readonly id: string;
  readonly headers: Record<string, string>;
}

const baseHeaders = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  authorization: `Bearer ${TOKEN}`,
};

/** POST one message; the answer is the last `data:` line of the SSE body (or the JSON body). */
async function post(
  url: string,
  message: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; sessionId: string | undefined; body: unknown }> {
  const response = await request(url, {
    method: 'POST',
    headers: { ...baseHeaders, ...headers },
    body: JSON.stringify(message),
    dispatcher,
  });
  const text = await response.body.text();
  const data = text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .at(-1)
    ?.slice('data: '.length);
  const sessionId = response.headers['mcp-session-id'];
  return {
    status: response.statusCode,
    sessionId: typeof sessionId === 'string' ? sessionId : undefined,
    body: data !== undefined ? JSON.parse(data) : text === '' ? null : JSON.parse(text),
  };
}

async function openSession(url: string, index: number): Promise<Session> {
  const opened = await post(
    url,
    {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: PROTOCOL,
        capabilities: {},
        clientInfo: { name: `scale-${index}`, version: '1' },
      },
    },
    {},
  );
  if (opened.status !== 200 || opened.sessionId === undefined) {
    throw new Error(`initialize ${index}: HTTP ${opened.status} ${JSON.stringify(opened.body)}`);
  }
  const headers = { 'mcp-session-id': opened.sessionId, 'mcp-protocol-version': PROTOCOL };
  const initialized = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  if (initialized.status !== 202) throw new Error(`initialized ${index}: HTTP ${initialized.status}`);
  return { id: opened.sessionId, headers };
}

const RESPCDS = ['1143', '1145', '1150', '1155', '1296', '1297'];

/** One explain_respcd call; null when it answered what was asked, else what went wrong. */
async function callExplain(
  url: string,
  session: Session,
  index: number,
  round: number,
): Promise<string | null> {
  const respcd = RESPCDS[(index + round) % RESPCDS.length]!;
  const answer = await post(
    url,
    {
      jsonrpc: '2.0',
      id: round + 1,
      method: 'tools/call',
      params: { name: 'explain_respcd', arguments: { respcd } },
    },
    session.headers,
  );
  const result = (answer.body as { result?: { isError?: boolean; structuredContent?: { respcd?: string } } })
    ?.result;
  if (answer.status === 200 && result?.isError !== true && result?.structuredContent?.respcd === respcd)
    return null;
  return `session ${index} round ${round}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 160)}`;
}

/** Runs `task` for 0..count-1 with at most `width` in flight. */
async function inParallel<T>(
  count: number,
  width: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

let runtime: QfpayMcpRuntime;
let server: RunningHttpServer;

beforeAll(async () => {
  runtime = await createRuntime({ env: {}, log: () => undefined });
  server = await startHttpServer({
    createServer: (scope) => runtime.createServer(scope),
    environment: runtime.environment,
    port: 0,
    bearerTokens: [TOKEN],
  });
});

afterAll(async () => {
  await server.close();
  await runtime.close();
  await dispatcher.close();
});

describe('HTTP at scale', () => {
  it(`holds ${SESSIONS} concurrent sessions of one token on the default limits, every call answered`, async () => {
    const sessions = await inParallel(SESSIONS, 64, (index) => openSession(server.url, index));
    expect(new Set(sessions.map((session) => session.id)).size).toBe(SESSIONS);
    expect(server.sessionCount()).toBe(SESSIONS);

    // Two rounds in which every session calls while all the others stay open.
    const failures: string[] = [];
    for (let round = 0; round < 2; round++) {
      const answers = await inParallel(SESSIONS, 64, (index) =>
        callExplain(server.url, sessions[index]!, index, round),
      );
      failures.push(...answers.filter((answer): answer is string => answer !== null));
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(failures).toHaveLength(0);
    expect(server.sessionCount()).toBe(SESSIONS);
  }, 120_000);
});
