import { randomUUID } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport, isInitializeRequest } from '@modelcontextprotocol/server';
import type { AuthInfo, McpServer } from '@modelcontextprotocol/server';

import {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_SESSIONS_PER_PRINCIPAL,
  DEFAULT_SESSION_IDLE_MS,
} from './http-guards.js';

/*
 * 2025-era Streamable HTTP sessions: one McpServer + transport per `initialize`, bound to the
 * principal (bearer-token fingerprint, or "anonymous") that opened it.
 *
 * Capacity rules (red-team finding H12, performance audit §5.1):
 * - sessions end by DELETE, by idle expiry (no request for `idleMs`), or by shutdown;
 * - a principal at its own limit recycles ITS least recently used session, never another's;
 * - when the whole table is full, a principal that holds sessions recycles its own oldest, and
 *   one that holds none is refused with 503: an active session of someone else is never evicted.
 */

export { DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_PRINCIPAL, DEFAULT_SESSION_IDLE_MS };
export const ANONYMOUS_PRINCIPAL = 'anonymous';

/**
 * JSON-RPC batches were removed from MCP in the 2025-06-18 revision (changelog in the reference
 * notes, mcp-stack.md); sessions that negotiated an earlier revision may still send them.
 */
const BATCHING_REVISIONS: ReadonlySet<string> = new Set(['2024-11-05', '2025-03-26']);

export function allowsJsonRpcBatches(protocolVersion: string | undefined): boolean {
  return protocolVersion !== undefined && BATCHING_REVISIONS.has(protocolVersion);
}

/** Time source for idle expiry (tests inject one). */
export interface SessionClock {
  now(): number;
}

export interface SessionLimits {
  idleMs: number;
  maxSessions: number;
  maxSessionsPerPrincipal: number;
  clock: SessionClock;
  log: (line: string) => void;
}

interface LegacySession {
  readonly id: string;
  readonly server: McpServer;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly principal: string;
  lastSeen: number;
}

export class LegacySessions {
  /** Every session, in least-recently-used-first order (a touched session moves to the end). */
  private readonly sessions = new Map<string, LegacySession>();
  /** The same sessions per principal, in the same order, so recycling one's own oldest is O(1). */
  private readonly byPrincipal = new Map<string, Map<string, LegacySession>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly createServer: () => McpServer,
    private readonly limits: SessionLimits,
  ) {
    this.sweeper = setInterval(() => this.closeIdle(), Math.max(1000, Math.min(60_000, limits.idleMs / 2)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Open sessions of one principal (for tests and diagnostics). */
  countFor(principal: string): number {
    return this.byPrincipal.get(principal)?.size ?? 0;
  }

  async handle(request: Request, parsedBody: unknown, authInfo: AuthInfo | undefined): Promise<Response> {
    const principal = principalOf(authInfo);
    const sessionId = request.headers.get('mcp-session-id');
    if (sessionId !== null) {
      const session = this.sessions.get(sessionId);
      // A session presented with another principal's credentials is treated as unknown, revealing nothing.
      if (!session || session.principal !== principal) {
        return jsonRpcErrorResponse(404, -32001, 'Session not found: initialize a new session.');
      }
      if (Array.isArray(parsedBody)) {
        const version = session.server.server.getNegotiatedProtocolVersion();
        if (!allowsJsonRpcBatches(version)) return batchRefusal(version);
      }
      this.touch(session);
      return session.transport.handleRequest(request, { parsedBody, ...(authInfo && { authInfo }) });
    }
    if (request.method === 'POST' && isInitializeRequest(parsedBody)) {
      return this.open(request, parsedBody, authInfo, principal);
    }
    if (Array.isArray(parsedBody)) return batchRefusal(undefined);
    return jsonRpcErrorResponse(400, -32000, 'Bad Request: no Mcp-Session-Id; send initialize first.');
  }

  private async open(
    request: Request,
    parsedBody: unknown,
    authInfo: AuthInfo | undefined,
    principal: string,
  ): Promise<Response> {
    this.closeIdle();
    if (!this.makeRoomFor(principal)) {
      this.limits.log(`http: session table full (${this.limits.maxSessions}); refused a new session`);
      return jsonRpcErrorResponse(
        503,
        -32000,
        `Service Unavailable: the server holds its maximum of ${this.limits.maxSessions} sessions. ` +
          'Retry later; idle sessions expire, and the operator can raise QFPAY_HTTP_MAX_SESSIONS.',
        { 'Retry-After': '60' },
      );
    }
    const server = this.createServer();
    let sessionId: string | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      // randomUUID is a CSPRNG v4 UUID: 122 random bits, as the session-hijacking guidance asks.
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessionId = id;
        this.remember({ id, server, transport, principal, lastSeen: this.limits.clock.now() });
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

  /** Frees a slot for `principal` from its own sessions only; false when only others' could go. */
  private makeRoomFor(principal: string): boolean {
    const own = this.byPrincipal.get(principal);
    const ownCount = own?.size ?? 0;
    const tableFull = this.sessions.size >= this.limits.maxSessions;
    if (ownCount < this.limits.maxSessionsPerPrincipal && !tableFull) return true;
    const oldest = own?.values().next().value;
    if (oldest === undefined) return false;
    this.limits.log(
      tableFull
        ? `http: session table full (${this.limits.maxSessions}); closing this principal's least recently used session`
        : `http: principal at its limit of ${this.limits.maxSessionsPerPrincipal} sessions; closing its least recently used one`,
    );
    this.forget(oldest.id);
    return true;
  }

  private remember(session: LegacySession): void {
    this.sessions.set(session.id, session);
    let own = this.byPrincipal.get(session.principal);
    if (!own) {
      own = new Map();
      this.byPrincipal.set(session.principal, own);
    }
    own.set(session.id, session);
  }

  /** Marks a session used now: it moves to the most-recently-used end of both orders. */
  private touch(session: LegacySession): void {
    session.lastSeen = this.limits.clock.now();
    this.sessions.delete(session.id);
    this.sessions.set(session.id, session);
    const own = this.byPrincipal.get(session.principal);
    own?.delete(session.id);
    own?.set(session.id, session);
  }

  private forget(sessionId: string): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    this.sessions.delete(sessionId);
    const own = this.byPrincipal.get(session.principal);
    own?.delete(sessionId);
    if (own?.size === 0) this.byPrincipal.delete(session.principal);
    session.server.close().catch((error: unknown) => {
      this.limits.log(
        `http: closing session failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }

  /** Least recently used first, so the scan stops at the first session still in use. */
  private closeIdle(): void {
    const cutoff = this.limits.clock.now() - this.limits.idleMs;
    for (const session of this.sessions.values()) {
      if (session.lastSeen > cutoff) break;
      this.forget(session.id);
    }
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.sessions.keys()]) this.forget(id);
  }
}

function principalOf(authInfo: AuthInfo | undefined): string {
  return authInfo?.clientId ?? ANONYMOUS_PRINCIPAL;
}

function batchRefusal(protocolVersion: string | undefined): Response {
  const where = protocolVersion ? `on protocol revision ${protocolVersion}` : 'here';
  return jsonRpcErrorResponse(
    400,
    -32600,
    `Invalid Request: JSON-RPC batches are not accepted ${where} ` +
      '(MCP removed batching in revision 2025-06-18); send one JSON-RPC message per POST.',
  );
}

export function jsonRpcErrorResponse(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status, headers });
}
