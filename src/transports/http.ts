import { createServer as createNodeServer } from 'node:http';
import type { IncomingMessage, Server as NodeHttpServer, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, isJsonContentType, isLegacyRequest } from '@modelcontextprotocol/server';
import type { AuthInfo, McpHttpHandler, McpServer, ServerEventBus } from '@modelcontextprotocol/server';
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
import {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_SESSIONS_PER_PRINCIPAL,
  DEFAULT_SESSION_IDLE_MS,
  LegacySessions,
  jsonRpcErrorResponse,
} from './http-sessions.js';
import type { SessionClock } from './http-sessions.js';
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
 *   Resource updates reach that era's `subscriptions/listen` streams through the SDK's event bus
 *   (`eventBus`, the runtime's `resourceEvents`), not through a server instance.
 * - 2025-era requests (what most hosts speak today) get STATEFUL sessions: a fresh McpServer and
 *   transport per `initialize`, kept in a map keyed by a random session id. Stateless 2025 serving
 *   or JSON-only responses would leave no channel for the server→client `elicitation/create`
 *   request a payment confirmation needs; a session with SSE responses has one.
 *
 * Every request passes Host and Origin validation (DNS rebinding), the bearer check when a token
 * is configured, content-type, size and nesting limits before any MCP code sees it. Sessions are
 * bound to the token that created them; capacity and eviction rules are in `http-sessions.ts`.
 *
 * Routes are a table: `/mcp` (bearer required), `/healthz` (liveness for anyone, details only for
 * a token holder) and whatever the embedder adds through `routes` (for example a payment
 * notification callback, which authenticates by its own signature rather than the MCP token).
 */

export {
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_MAX_BODY_BYTES,
  assertSafeExposure,
} from './http-guards.js';
export const MCP_PATH = '/mcp';
export const HEALTH_PATH = '/healthz';

export {
  ANONYMOUS_PRINCIPAL,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_SESSIONS_PER_PRINCIPAL,
  DEFAULT_SESSION_IDLE_MS,
} from './http-sessions.js';

/** How long requests still in flight at shutdown may run before their sockets are cut. */
const SHUTDOWN_GRACE_MS = 3000;

/** Time source for idle expiry and the shutdown grace period; tests inject one instead of waiting. */
export interface HttpClock extends SessionClock {
  /** Runs `callback` once after `ms` without keeping the process alive; returns a cancel function. */
  schedule(callback: () => void, ms: number): () => void;
}

const SYSTEM_CLOCK: HttpClock = {
  now: () => Date.now(),
  schedule(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Who called, as the gate established it: the fingerprint-derived principal, never the token. */
export type Caller = AuthInfo | undefined;

/**
 * One path of the HTTP server. Host and Origin are checked for every route; the bearer check is
 * the route's choice:
 * - `required`: 401 without a valid token (the MCP endpoint);
 * - `optional`: never refused; `caller` says whether a valid token came (health details);
 * - `none`: the route authenticates by its own means (a signed QFPay notification, a one-time link).
 */
export interface HttpRoute {
  /** The exact path served; with `prefix`, also every path below it (`/approve/…`). */
  readonly path: string;
  readonly prefix?: boolean;
  readonly methods: readonly string[];
  readonly bearer: 'required' | 'optional' | 'none';
  handle(req: IncomingMessage, res: ServerResponse, caller: Caller): void | Promise<void>;
}

export interface HttpServeOptions {
  /**
   * Builds a fresh McpServer; called once per session (2025 era) or per request (2026 era). A
   * 2026-07-28 `tools/call` passes the tool it calls, so the instance may register only that one.
   */
  createServer: (scope?: { readonly tool?: string }) => McpServer;
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
  /** A 2025-era session with no request for this long is closed (default 30 minutes). */
  sessionIdleMs?: number;
  /** Open 2025-era sessions at most, all principals together (QFPAY_HTTP_MAX_SESSIONS). */
  maxSessions?: number;
  /** Open sessions at most per principal (QFPAY_HTTP_MAX_SESSIONS_PER_PRINCIPAL). */
  maxSessionsPerPrincipal?: number;
  /** Extra routes (paths other than /mcp and /healthz). */
  routes?: readonly HttpRoute[];
  /**
   * Where 2026-07-28 `subscriptions/listen` streams get their change events (resource updates):
   * the runtime's `resourceEvents`. Without it the SDK's own in-process bus is used, which nothing
   * here publishes to, so such streams only see their acknowledgement.
   */
  eventBus?: ServerEventBus;
  log?: (line: string) => void;
  /** Default: the system clock and timers. */
  clock?: HttpClock;
}

export interface RunningHttpServer {
  /** The MCP endpoint a local client should use, e.g. http://127.0.0.1:3939/mcp. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly authenticated: boolean;
  /** Open 2025-era sessions (for tests and diagnostics). */
  sessionCount(): number;
  /** Open 2025-era sessions of one principal: `bearer:<fingerprint>` or `anonymous`. */
  sessionCountFor(principal: string): number;
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

  const clock = options.clock ?? SYSTEM_CLOCK;
  const limits = {
    idleMs: options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS,
    maxSessions: options.maxSessions ?? DEFAULT_MAX_SESSIONS,
    maxSessionsPerPrincipal: options.maxSessionsPerPrincipal ?? DEFAULT_MAX_SESSIONS_PER_PRINCIPAL,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new HttpStartupError(`${name} must be a positive integer`);
    }
  }
  const sessions = new LegacySessions(options.createServer, { ...limits, clock, log });
  const modern = createMcpHandler((context) => options.createServer(toolScopeOf(context.requestInfo)), {
    legacy: 'reject',
    ...(options.eventBus ? { bus: options.eventBus } : {}),
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
  let routes: Map<string, HttpRoute>;
  try {
    routes = buildRouteTable([
      mcpRoute(mcpNodeHandler, maxBodyBytes),
      healthRoute(options.environment, tokens.length > 0),
      ...(options.routes ?? []),
    ]);
  } catch (error) {
    sessions.closeAll();
    await modern.close();
    throw error;
  }
  const gate: RequestGate = {
    hostAllowList: buildHostAllowList(host, options.allowedHosts ?? []),
    originRules,
    verifier: tokens.length > 0 ? new BearerTokenVerifier(tokens) : undefined,
    routes,
  };

  const connections = new ConnectionTracker();
  // Timeouts are checked every second (Node's default is every 30 s), so a slow client is cut
  // close to its deadline rather than up to half a minute after it.
  const server = createNodeServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    if (connections.draining) {
      res.setHeader('Connection', 'close');
      return sendJsonRpcError(res, 503, -32000, 'Server is shutting down.');
    }
    handleNodeRequest(req, res, gate).catch((error: unknown) => {
      log(`http: unhandled error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, 'Internal error');
      else res.destroy();
    });
  });
  connections.watch(server);
  // Slow-loris limits: a whole request (headers and at most maxBodyBytes) must arrive promptly.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // Idle keep-alive sockets outlast the 60 s idle timeout of common proxies and load balancers:
  // with Node's 5 s default, a proxy reusing a socket just as the server closes it gets ECONNRESET.
  server.keepAliveTimeout = 65_000;

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
    sessionCountFor: (principal) => sessions.countFor(principal),
    close: () => (closing ??= shutdown(server, connections, sessions, modern, clock)),
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
  clock: HttpClock,
): Promise<void> {
  connections.draining = true;
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  sessions.closeAll();
  await modern.close();
  connections.destroyIdle();
  // Requests in flight get a short grace period to finish; whatever is still attached after it is cut.
  const cancelForce = clock.schedule(() => connections.destroyAll(), SHUTDOWN_GRACE_MS);
  await stopped;
  cancelForce();
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
  routes: ReadonlyMap<string, HttpRoute>;
}

function buildRouteTable(routes: readonly HttpRoute[]): Map<string, HttpRoute> {
  const table = new Map<string, HttpRoute>();
  for (const route of routes) {
    if (table.has(route.path)) throw new HttpStartupError(`two HTTP routes claim the path ${route.path}`);
    table.set(route.path, route);
  }
  return table;
}

/** The route whose `prefix` path contains `pathname` (the operator approval page's `/approve/<id>/…`). */
function prefixRoute(routes: ReadonlyMap<string, HttpRoute>, pathname: string): HttpRoute | undefined {
  for (const route of routes.values())
    if (route.prefix && pathname.startsWith(`${route.path}/`)) return route;
  return undefined;
}

type NodeRequestWithAuth = IncomingMessage & { auth?: AuthInfo };

/** Header-only checks first, so nothing unauthenticated or oversized is ever buffered. */
async function handleNodeRequest(
  req: NodeRequestWithAuth,
  res: ServerResponse,
  gate: RequestGate,
): Promise<void> {
  const hostVerdict = checkHostHeader(req.headers.host, gate.hostAllowList);
  if (!hostVerdict.ok) return sendJsonRpcError(res, hostVerdict.status, -32000, hostVerdict.message);
  const originVerdict = checkOriginHeader(req.headers.origin, gate.originRules);
  if (!originVerdict.ok) return sendJsonRpcError(res, originVerdict.status, -32000, originVerdict.message);

  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = gate.routes.get(url.pathname) ?? prefixRoute(gate.routes, url.pathname);
  if (!route) return sendJsonRpcError(res, 404, -32000, `Not found: the MCP endpoint is ${MCP_PATH}.`);
  if (!route.methods.includes(req.method ?? '')) {
    res.setHeader('Allow', route.methods.join(', '));
    return sendJsonRpcError(res, 405, -32000, 'Method not allowed.');
  }
  delete req.auth; // only this gate may set it
  if (route.bearer === 'none') return route.handle(req, res, undefined);

  if (hasCredentialInQuery(url.searchParams)) {
    // Tokens in URLs end up in proxy and shell logs; the spec forbids them.
    return sendUnauthorized(
      res,
      'invalid_request',
      'Unauthorized: credentials are not accepted in the query string; send Authorization: Bearer <token>.',
    );
  }
  if (!gate.verifier) return route.handle(req, res, undefined);
  const verdict = gate.verifier.verify(req.headers.authorization);
  if (!verdict.ok) {
    if (route.bearer === 'optional') return route.handle(req, res, undefined);
    return sendUnauthorized(res, verdict.error, verdict.message);
  }
  // Handlers see who called, never the credential: `token` carries the fingerprint, not the secret.
  req.auth = {
    token: `sha256:${verdict.fingerprint}`,
    clientId: `bearer:${verdict.fingerprint}`,
    scopes: [],
  };
  return route.handle(req, res, req.auth);
}

/** POST/GET/DELETE /mcp: content type and declared size checked before the SDK reads the body. */
function mcpRoute(mcpNodeHandler: ReturnType<typeof toNodeHandler>, maxBodyBytes: number): HttpRoute {
  return {
    path: MCP_PATH,
    methods: ['POST', 'GET', 'DELETE'],
    bearer: 'required',
    async handle(req, res) {
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
        if (declaredLength > maxBodyBytes) {
          res.setHeader('Connection', 'close');
          return sendJsonRpcError(res, 413, -32000, `Payload Too Large: the limit is ${maxBodyBytes} bytes.`);
        }
      }
      await mcpNodeHandler(req, res);
    },
  };
}

/**
 * GET /healthz: liveness for anyone (load balancers send no token). The environment is for a
 * caller holding a valid token, or for anyone on a server without tokens (which only listens on
 * loopback): it tells an attacker which deployment answers (red-team findings, HTTP).
 */
function healthRoute(environment: string, tokenRequired: boolean): HttpRoute {
  return {
    path: HEALTH_PATH,
    methods: ['GET', 'HEAD'],
    bearer: 'optional',
    handle(req, res, caller) {
      const details = !tokenRequired || caller !== undefined;
      const body = JSON.stringify(details ? { ok: true, environment } : { ok: true });
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-store',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}

/** The tool each 2026-07-28 `tools/call` request in flight names, for the factory it reaches. */
const toolCalls = new WeakMap<Request, string>();

function toolScopeOf(request: Request | undefined): { tool?: string } | undefined {
  const tool = request ? toolCalls.get(request) : undefined;
  return tool === undefined ? undefined : { tool };
}

/** The tool a single JSON-RPC `tools/call` request names (the SDK checks the rest of it). */
function calledTool(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const message = body as { method?: unknown; params?: { name?: unknown } };
  if (message.method !== 'tools/call') return undefined;
  return typeof message.params?.name === 'string' ? message.params.name : undefined;
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
    if (!legacy) {
      const tool = calledTool(parsedBody);
      if (tool !== undefined) toolCalls.set(request, tool);
      return await modern.fetch(request, { ...(authInfo && { authInfo }), parsedBody });
    }
    return await sessions.handle(request, parsedBody, authInfo);
  } catch (error) {
    log(`http: request failed: ${error instanceof Error ? error.message : String(error)}`);
    return jsonRpcErrorResponse(500, -32603, 'Internal error');
  }
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
