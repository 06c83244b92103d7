import { randomUUID } from 'node:crypto';
import { createServer as createNodeServer } from 'node:http';
import type { IncomingMessage, Server as NodeHttpServer, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  WebStandardStreamableHTTPServerTransport,
  createMcpHandler,
  isInitializeRequest,
  isJsonContentType,
  isLegacyRequest,
} from '@modelcontextprotocol/server';
import type { AuthInfo, McpHttpHandler, McpServer } from '@modelcontextprotocol/server';
import {
  BearerTokenVerifier,
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_MAX_BODY_BYTES,
  MAX_JSON_DEPTH,
  assertSafeExposure,
  MIN_TOKEN_LENGTH,
  buildHostAllowList,
  buildOriginRules,
  checkHostHeader,
  checkOriginHeader,
  hasCredentialInQuery,
  isWildcardHost,
  parseJsonBody,
  toUrlHostname,
} from './http-guards.js';
import type { OriginRule } from './http-guards.js';
import { HttpStartupError } from './errors.js';

/*
 * Streamable HTTP, safe to expose.
 *
 * Design (documented choice): one endpoint, two legs, and never a server instance shared between
 * clients (CVE-2026-25536: shared transports/servers misrouted responses between clients).
 *
 * - 2026-07-28 ("modern") requests go to the SDK's `createMcpHandler`, which builds a fresh
 *   McpServer per request. That era has no sessions and no push requests: a payment
 *   confirmation is asked in the tool call's own answer (`input_required`, when the request
 *   declares form elicitation) and the client sends the call again with the person's answer and
 *   the request state (the bound confirmation token, redeemed by the runtime-wide guard, so any
 *   per-request instance can finish it). Without form elicitation, the token round trip.
 * - 2025-era requests (what most hosts speak today) get STATEFUL sessions: a fresh McpServer and
 *   transport per `initialize`, kept in a map keyed by a random session id. Stateless 2025 serving
 *   or JSON-only responses would leave no channel for the server→client `elicitation/create`
 *   request a payment confirmation needs; a session with SSE responses has one.
 *
 * Every request passes Host and Origin validation (DNS rebinding), the bearer check when a token
 * is configured, content-type, size and nesting limits before any MCP code sees it. Sessions are
 * bound to the token that created them.
 */

export {
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_MAX_BODY_BYTES,
  assertSafeExposure,
} from './http-guards.js';
export const MCP_PATH = '/mcp';
export const HEALTH_PATH = '/healthz';

const DEFAULT_SESSION_IDLE_MS = 30 * 60 * 1000;
const DEFAULT_MAX_SESSIONS = 100;
const SHUTDOWN_GRACE_MS = 3000;
const ANONYMOUS_PRINCIPAL = 'anonymous';

export interface HttpServeOptions {
  /** Builds a fresh McpServer; called once per session (2025 era) or per request (2026 era). */
  createServer: () => McpServer;
  /** Shown by GET /healthz. */
  environment: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Accepted bearer tokens (from QFPAY_MCP_TOKEN). Empty: no authentication, loopback only. */
  bearerTokens?: readonly string[];
  /** Extra `Host` names to accept besides loopback names and the literal bind address. */
  allowedHosts?: readonly string[];
  /** Extra browser origins: `https://host[:port]` (exact) or a bare hostname (any port). */
  allowedOrigins?: readonly string[];
  maxBodyBytes?: number;
  sessionIdleMs?: number;
  maxSessions?: number;
  log?: (line: string) => void;
}

export interface RunningHttpServer {
  /** The MCP endpoint a local client should use, e.g. http://127.0.0.1:3939/mcp. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly authenticated: boolean;
  /** Open 2025-era sessions (for tests and diagnostics). */
  sessionCount(): number;
  /** Stops accepting, closes every session and server instance, then the listening socket. */
  close(): Promise<void>;
}

export { HttpStartupError };

export async function startHttpServer(options: HttpServeOptions): Promise<RunningHttpServer> {
  const host = options.host ?? DEFAULT_HTTP_HOST;
  const port = options.port ?? DEFAULT_HTTP_PORT;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? (() => undefined);
  const tokens = options.bearerTokens ?? [];

  assertSafeExposure(host, tokens.length > 0);
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new HttpStartupError('maxBodyBytes must be a positive integer');
  }

  if (tokens.some((token) => token.length < MIN_TOKEN_LENGTH)) {
    throw new HttpStartupError(`every bearer token must be at least ${MIN_TOKEN_LENGTH} characters long`);
  }
  let originRules: OriginRule[];
  try {
    originRules = buildOriginRules(options.allowedOrigins ?? []);
  } catch (error) {
    throw new HttpStartupError(`allowed origins: ${(error as Error).message}`);
  }

  const gate: RequestGate = {
    hostAllowList: buildHostAllowList(host, options.allowedHosts ?? []),
    originRules,
    verifier: tokens.length > 0 ? new BearerTokenVerifier(tokens) : undefined,
    maxBodyBytes,
    environment: options.environment,
  };
  const sessions = new LegacySessions(options.createServer, {
    idleMs: options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS,
    maxSessions: options.maxSessions ?? DEFAULT_MAX_SESSIONS,
    log,
  });
  const modern = createMcpHandler(() => options.createServer(), {
    legacy: 'reject',
    maxRequestBodySize: maxBodyBytes,
    onerror: (error) => log(`http: ${error.message}`),
  });
  const mcpNodeHandler = toNodeHandler(
    {
      fetch: (request, extra) =>
        routeMcpRequest(request, extra?.authInfo, modern, sessions, maxBodyBytes, log),
    },
    { maxRequestBodySize: maxBodyBytes, onerror: (error) => log(`http: ${error.message}`) },
  );

  const connections = new ConnectionTracker();
  const server = createNodeServer((req, res) => {
    if (connections.draining) {
      res.setHeader('Connection', 'close');
      return sendJsonRpcError(res, 503, -32000, 'Server is shutting down.');
    }
    handleNodeRequest(req, res, gate, mcpNodeHandler).catch((error: unknown) => {
      log(`http: unhandled error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, 'Internal error');
      else res.destroy();
    });
  });
  connections.watch(server);
  // Slow-loris limits: a whole request (headers and at most maxBodyBytes) must arrive promptly.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  try {
    // Node wants IPv6 literals without the brackets URLs and Host headers use.
    await listen(server, host.replace(/^\[(.*)\]$/, '$1'), port);
  } catch (error) {
    sessions.closeAll();
    await modern.close();
    throw error;
  }

  const address = server.address() as AddressInfo;
  const url = `http://${displayHost(host)}:${address.port}${MCP_PATH}`;
  let closing: Promise<void> | undefined;

  return {
    url,
    host,
    port: address.port,
    authenticated: gate.verifier !== undefined,
    sessionCount: () => sessions.size,
    close: () => (closing ??= shutdown(server, connections, sessions, modern)),
  };
}

function listen(server: NodeHttpServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const reason =
        error.code === 'EADDRINUSE'
          ? `port ${port} is already in use on ${host}; pick another with --port`
          : error.code === 'EADDRNOTAVAIL'
            ? `${host} is not an address of this machine`
            : error.code === 'EACCES'
              ? `not permitted to listen on port ${port}`
              : error.message;
      reject(new HttpStartupError(`Cannot listen on ${host}:${port}: ${reason}`));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function displayHost(host: string): string {
  if (isWildcardHost(host)) return '127.0.0.1';
  return toUrlHostname(host);
}

async function shutdown(
  server: NodeHttpServer,
  connections: ConnectionTracker,
  sessions: LegacySessions,
  modern: McpHttpHandler,
): Promise<void> {
  connections.draining = true;
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  sessions.closeAll();
  await modern.close();
  connections.destroyIdle();
  // Requests in flight get a short grace period to finish; whatever is still attached after it is cut.
  const force = setTimeout(() => connections.destroyAll(), SHUTDOWN_GRACE_MS);
  force.unref();
  await stopped;
  clearTimeout(force);
}

/**
 * Tracks sockets and their in-flight requests. Node's closeIdleConnections() leaves a socket that
 * connected but never sent a request (a client's spare pooled connection) open until
 * headersTimeout, which would stall shutdown; here such sockets count as idle.
 */
class ConnectionTracker {
  draining = false;
  private readonly inFlight = new Map<Socket, number>();

  watch(server: NodeHttpServer): void {
    server.on('connection', (socket: Socket) => {
      this.inFlight.set(socket, 0);
      socket.once('close', () => this.inFlight.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      this.inFlight.set(socket, (this.inFlight.get(socket) ?? 0) + 1);
      res.once('close', () => {
        const remaining = (this.inFlight.get(socket) ?? 1) - 1;
        if (!this.inFlight.has(socket)) return;
        this.inFlight.set(socket, remaining);
        if (this.draining && remaining === 0) socket.destroy();
      });
    });
  }

  destroyIdle(): void {
    for (const [socket, count] of this.inFlight) if (count === 0) socket.destroy();
  }

  destroyAll(): void {
    for (const socket of this.inFlight.keys()) socket.destroy();
  }
}

interface RequestGate {
  hostAllowList: readonly string[];
  originRules: readonly OriginRule[];
  verifier: BearerTokenVerifier | undefined;
  maxBodyBytes: number;
  environment: string;
}

type NodeRequestWithAuth = IncomingMessage & { auth?: AuthInfo };

/** Header-only checks first, so nothing unauthenticated or oversized is ever buffered. */
async function handleNodeRequest(
  req: NodeRequestWithAuth,
  res: ServerResponse,
  gate: RequestGate,
  mcpNodeHandler: ReturnType<typeof toNodeHandler>,
): Promise<void> {
  const hostVerdict = checkHostHeader(req.headers.host, gate.hostAllowList);
  if (!hostVerdict.ok) return sendJsonRpcError(res, hostVerdict.status, -32000, hostVerdict.message);
  const originVerdict = checkOriginHeader(req.headers.origin, gate.originRules);
  if (!originVerdict.ok) return sendJsonRpcError(res, originVerdict.status, -32000, originVerdict.message);

  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === HEALTH_PATH) return sendHealth(req, res, gate.environment);
  if (url.pathname !== MCP_PATH)
    return sendJsonRpcError(res, 404, -32000, `Not found: the MCP endpoint is ${MCP_PATH}.`);
  if (!['POST', 'GET', 'DELETE'].includes(req.method ?? '')) {
    res.setHeader('Allow', 'POST, GET, DELETE');
    return sendJsonRpcError(res, 405, -32000, 'Method not allowed.');
  }
  if (hasCredentialInQuery(url.searchParams)) {
    // Tokens in URLs end up in proxy and shell logs; the spec forbids them.
    return sendUnauthorized(
      res,
      'invalid_request',
      'Unauthorized: credentials are not accepted in the query string; send Authorization: Bearer <token>.',
    );
  }

  delete req.auth; // only this gate may set it
  if (gate.verifier) {
    const verdict = gate.verifier.verify(req.headers.authorization);
    if (!verdict.ok) return sendUnauthorized(res, verdict.error, verdict.message);
    // Handlers see who called, never the credential: `token` carries the fingerprint, not the secret.
    req.auth = {
      token: `sha256:${verdict.fingerprint}`,
      clientId: `bearer:${verdict.fingerprint}`,
      scopes: [],
    };
  }

  if (req.method === 'POST') {
    if (!isJsonContentType(req.headers['content-type'])) {
      return sendJsonRpcError(
        res,
        415,
        -32000,
        'Unsupported Media Type: Content-Type must be application/json.',
      );
    }
    const declaredLength = Number(req.headers['content-length'] ?? '0');
    if (declaredLength > gate.maxBodyBytes) {
      res.setHeader('Connection', 'close');
      return sendJsonRpcError(
        res,
        413,
        -32000,
        `Payload Too Large: the limit is ${gate.maxBodyBytes} bytes.`,
      );
    }
  }
  await mcpNodeHandler(req, res);
}

async function routeMcpRequest(
  request: Request,
  authInfo: AuthInfo | undefined,
  modern: McpHttpHandler,
  sessions: LegacySessions,
  maxBodyBytes: number,
  log: (line: string) => void,
): Promise<Response> {
  try {
    let parsedBody: unknown;
    if (request.method === 'POST') {
      const parsed = parseJsonBody(await request.text(), MAX_JSON_DEPTH);
      if (!parsed.ok) return jsonRpcErrorResponse(parsed.status, parsed.code, parsed.message);
      parsedBody = parsed.value;
    }
    const legacy = await isLegacyRequest(request, parsedBody, { maxRequestBodySize: maxBodyBytes });
    if (!legacy) return await modern.fetch(request, { ...(authInfo && { authInfo }), parsedBody });
    return await sessions.handle(request, parsedBody, authInfo);
  } catch (error) {
    log(`http: request failed: ${error instanceof Error ? error.message : String(error)}`);
    return jsonRpcErrorResponse(500, -32603, 'Internal error');
  }
}

interface LegacySession {
  readonly server: McpServer;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly principal: string;
  lastSeen: number;
}

/** 2025-era sessions: one McpServer + transport per client, bound to the principal that opened it. */
class LegacySessions {
  private readonly sessions = new Map<string, LegacySession>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly createServer: () => McpServer,
    private readonly limits: { idleMs: number; maxSessions: number; log: (line: string) => void },
  ) {
    this.sweeper = setInterval(() => this.closeIdle(), Math.max(1000, Math.min(60_000, limits.idleMs / 2)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  async handle(request: Request, parsedBody: unknown, authInfo: AuthInfo | undefined): Promise<Response> {
    const principal = authInfo?.clientId ?? ANONYMOUS_PRINCIPAL;
    const sessionId = request.headers.get('mcp-session-id');
    if (sessionId !== null) {
      const session = this.sessions.get(sessionId);
      // A session presented with another principal's credentials is treated as unknown, revealing nothing.
      if (!session || session.principal !== principal) {
        return jsonRpcErrorResponse(404, -32001, 'Session not found: initialize a new session.');
      }
      session.lastSeen = Date.now();
      return session.transport.handleRequest(request, { parsedBody, ...(authInfo && { authInfo }) });
    }
    if (request.method === 'POST' && isInitializeRequest(parsedBody)) {
      return this.open(request, parsedBody, authInfo, principal);
    }
    return jsonRpcErrorResponse(400, -32000, 'Bad Request: no Mcp-Session-Id; send initialize first.');
  }

  private async open(
    request: Request,
    parsedBody: unknown,
    authInfo: AuthInfo | undefined,
    principal: string,
  ): Promise<Response> {
    this.closeIdle();
    // At capacity the least recently used session goes; its client gets 404 and re-initializes.
    while (this.sessions.size >= this.limits.maxSessions) this.evictLeastRecentlyUsed();
    const server = this.createServer();
    let sessionId: string | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      // randomUUID is a CSPRNG v4 UUID: 122 random bits, as the session-hijacking guidance asks.
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessionId = id;
        this.sessions.set(id, { server, transport, principal, lastSeen: Date.now() });
      },
      onsessionclosed: (id) => {
        this.forget(id);
      },
    });
    transport.onclose = () => {
      if (sessionId !== undefined) this.forget(sessionId);
    };
    await server.connect(transport);
    const response = await transport.handleRequest(request, { parsedBody, ...(authInfo && { authInfo }) });
    if (sessionId === undefined) await server.close();
    return response;
  }

  private forget(sessionId: string): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    this.sessions.delete(sessionId);
    session.server.close().catch((error: unknown) => {
      this.limits.log(
        `http: closing session failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }

  private evictLeastRecentlyUsed(): void {
    let oldest: [string, LegacySession] | undefined;
    for (const entry of this.sessions) if (!oldest || entry[1].lastSeen < oldest[1].lastSeen) oldest = entry;
    if (!oldest) return;
    this.limits.log(`http: ${this.limits.maxSessions} sessions open; closing the least recently used one`);
    this.forget(oldest[0]);
  }

  private closeIdle(): void {
    const cutoff = Date.now() - this.limits.idleMs;
    for (const [id, session] of this.sessions) {
      if (session.lastSeen < cutoff) this.forget(id);
    }
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.sessions.keys()]) this.forget(id);
  }
}

function sendHealth(req: IncomingMessage, res: ServerResponse, environment: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return sendJsonRpcError(res, 405, -32000, 'Method not allowed.');
  }
  const body = JSON.stringify({ ok: true, environment });
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendUnauthorized(
  res: ServerResponse,
  error: 'invalid_request' | 'invalid_token',
  message: string,
): void {
  res.setHeader('WWW-Authenticate', `Bearer realm="qfpay-mcp", error="${error}"`);
  sendJsonRpcError(res, 401, -32001, message);
}

function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function jsonRpcErrorResponse(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status });
}
