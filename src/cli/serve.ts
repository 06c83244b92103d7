import { createRuntime, resolveToolsets } from '../mcp/runtime.js';
import { ENVIRONMENT_CAPABILITIES } from '../qfpay/catalog/environments.js';
import type { QfpayMcpRuntime, RuntimeOptions } from '../mcp/runtime.js';
import { QfpayConfigError } from '../qfpay/errors.js';
import type { RunningHttpServer } from '../transports/http.js';
import {
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_SESSIONS_PER_PRINCIPAL,
  assertSafeExposure,
  buildOriginRules,
  parseBearerTokens,
  parseSessionLimits,
} from '../transports/http-guards.js';
import type { SessionLimitSettings } from '../transports/http-guards.js';
import { DEFAULT_NOTIFY_PATH, notificationRoute } from '../transports/notify-route.js';
import { routeConsoleToStderr, startStdioServer } from '../transports/stdio.js';
import { EXIT_OK, UsageError, parseList, parsePort, parsePositiveInteger, parseStrict } from './args.js';
import type { CliIo, ParsedFlags } from './args.js';
import { clientConfigSnippet, startupLine } from './report.js';

export const SERVE_HELP = `Usage: qfpay-mcp serve [--http [--host <addr>] [--port <n>]] [options]

Serve the QFPay MCP server. Without --http it speaks MCP over stdio (what hosts such as
Claude Desktop, Claude Code and Cursor spawn); stdout then carries only protocol, logs go to stderr.

Options:
  --http                      Serve Streamable HTTP at /mcp (plus GET /healthz) instead of stdio
  --host <addr>               HTTP bind address (default ${DEFAULT_HTTP_HOST}). A non-loopback
                              address requires QFPAY_MCP_TOKEN
  --port <n>                  HTTP port (default ${DEFAULT_HTTP_PORT}; 0 picks a free port)
  --allowed-hosts <a,b>       Extra Host names to accept (DNS-rebinding allow-list)
                              [env QFPAY_MCP_ALLOWED_HOSTS]
  --allowed-origins <a,b>     Browser origins to accept: https://app.example.com or a hostname
                              [env QFPAY_MCP_ALLOWED_ORIGINS]
  --max-body-bytes <n>        Largest accepted HTTP request body (default ${DEFAULT_MAX_BODY_BYTES})
  --toolsets <a,b>            Tool groups to expose: payments, reporting, reference, integration
                              (default: all)
  --read-only                 Expose no money-moving tools
  --allow-prod-writes         Allow money-moving tools against production (QFPAY_ENV=prod)
                              (confirmations: QFPAY_APPROVAL=operator|agent, QFPAY_OPERATOR_SECRET,
                              QFPAY_APPROVAL_PORT; see README "Safety model")
  -h, --help                  Show this help

Secrets come only from the environment, never from flags:
  QFPAY_MCP_TOKEN             Bearer token HTTP clients must send (Authorization: Bearer ...).
                              Several, comma-separated, are accepted while rotating. At least 32
                              characters; generate with: openssl rand -hex 32
  QFPAY_HTTP_MAX_SESSIONS     Open 2025-era HTTP sessions at most (default ${DEFAULT_MAX_SESSIONS})
  QFPAY_HTTP_MAX_SESSIONS_PER_PRINCIPAL
                              Open sessions at most per token (default ${DEFAULT_MAX_SESSIONS_PER_PRINCIPAL})
  QFPAY_NOTIFY_PATH           Where QFPay's notifications are received, outside the bearer token
                              (default ${DEFAULT_NOTIFY_PATH}); verified by their signature
  QFPAY_ENV, QFPAY_APPCODE, QFPAY_KEY, QFPAY_MCHID, ...
                              QFPay credentials and target; with none set, the server runs against
                              the embedded simulator (environment "local", no real money)
`;

const SERVE_OPTIONS = {
  http: { type: 'boolean' },
  host: { type: 'string' },
  port: { type: 'string' },
  'allowed-hosts': { type: 'string' },
  'allowed-origins': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  toolsets: { type: 'string' },
  'read-only': { type: 'boolean' },
  'allow-prod-writes': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HTTP_ONLY_FLAGS = ['host', 'port', 'allowed-hosts', 'allowed-origins', 'max-body-bytes'] as const;

interface HttpSettings {
  host: string;
  port: number;
  allowedHosts: string[];
  allowedOrigins: string[];
  maxBodyBytes: number;
  bearerTokens: string[];
  sessionLimits: SessionLimitSettings;
  /** Where QFPay's notifications are received (QFPAY_NOTIFY_PATH). */
  notifyPath: string;
}

interface ServeSettings {
  runtime: RuntimeOptions;
  http: HttpSettings | undefined;
}

export async function runServe(argv: readonly string[], io: CliIo): Promise<number> {
  const values = parseStrict(argv, SERVE_OPTIONS, 'serve');
  if (values.help) {
    io.out(SERVE_HELP);
    return EXIT_OK;
  }
  const settings = readSettings(values, io);
  return settings.http ? serveHttp(settings.runtime, settings.http, io) : serveStdio(settings.runtime, io);
}

function readSettings(values: ParsedFlags<typeof SERVE_OPTIONS>, io: CliIo): ServeSettings {
  if (!values.http) {
    const misplaced = HTTP_ONLY_FLAGS.find((flag) => values[flag] !== undefined);
    if (misplaced) throw new UsageError(`--${misplaced} only applies with --http`, 'serve');
  }
  const toolsets = values.toolsets === undefined ? undefined : parseToolsets(values.toolsets);
  // Flags only override when given, so QFPAY_READ_ONLY / QFPAY_ALLOW_PROD_WRITES still apply otherwise.
  const runtime: RuntimeOptions = {
    env: io.env,
    ...(toolsets && { toolsets }),
    ...(values['read-only'] && { readOnly: true }),
    ...(values['allow-prod-writes'] && { allowProdWrites: true }),
    log: (line: string) => io.err(`${line}\n`),
    // A rehearsal spans processes: one-shot clients start a new server for every call.
    lastingSimulator: true,
  };
  if (!values.http) return { runtime, http: undefined };

  const allowedOrigins = parseList(values['allowed-origins'] ?? io.env.QFPAY_MCP_ALLOWED_ORIGINS);
  try {
    buildOriginRules(allowedOrigins);
  } catch (error) {
    throw new UsageError(`--allowed-origins: ${(error as Error).message}`, 'serve');
  }
  const http: HttpSettings = {
    host: values.host ?? DEFAULT_HTTP_HOST,
    port: values.port === undefined ? DEFAULT_HTTP_PORT : parsePort(values.port),
    allowedHosts: parseList(values['allowed-hosts'] ?? io.env.QFPAY_MCP_ALLOWED_HOSTS),
    allowedOrigins,
    maxBodyBytes:
      values['max-body-bytes'] === undefined
        ? DEFAULT_MAX_BODY_BYTES
        : parsePositiveInteger(values['max-body-bytes'], '--max-body-bytes', 64 * 1024 * 1024),
    bearerTokens: parseBearerTokens(io.env.QFPAY_MCP_TOKEN),
    sessionLimits: readSessionLimits(io.env),
    notifyPath: readNotifyPath(io.env),
  };
  if (http.host.trim() === '') throw new UsageError('--host must not be empty', 'serve');
  // Refuse unsafe exposure before anything (simulator, upstream pools) is started.
  assertSafeExposure(http.host, http.bearerTokens.length > 0);
  return { runtime, http };
}

/** A path of its own: one that starts with `/`, no query, and not the MCP endpoint or the health check. */
function readNotifyPath(env: NodeJS.ProcessEnv): string {
  const raw = (env.QFPAY_NOTIFY_PATH ?? '').trim();
  if (raw === '') return DEFAULT_NOTIFY_PATH;
  if (!/^\/[A-Za-z0-9._~/-]{1,200}$/.test(raw) || raw === '/mcp' || raw === '/healthz')
    throw new UsageError(
      `QFPAY_NOTIFY_PATH must be a path such as ${DEFAULT_NOTIFY_PATH} (letters, digits, - . _ ~ /), not /mcp or /healthz`,
      'serve',
    );
  return raw;
}

function readSessionLimits(env: NodeJS.ProcessEnv): SessionLimitSettings {
  try {
    return parseSessionLimits(env);
  } catch (error) {
    throw new UsageError((error as Error).message, 'serve');
  }
}

function parseToolsets(value: string): string[] {
  const toolsets = parseList(value);
  if (toolsets.length === 0) throw new UsageError('--toolsets needs at least one toolset name', 'serve');
  try {
    resolveToolsets(toolsets, {});
  } catch (error) {
    if (error instanceof QfpayConfigError)
      throw new UsageError(
        `--toolsets: ${error.message.replace(/^QFPAY_TOOLSETS: /, '')}. ${error.nextAction}`,
        'serve',
      );
    throw error;
  }
  return toolsets;
}

async function serveStdio(runtimeOptions: RuntimeOptions, io: CliIo): Promise<number> {
  routeConsoleToStderr();
  const runtime = await createRuntime(runtimeOptions);
  const server = startStdioServer({
    createServer: () => runtime.createServer(),
    eventBus: runtime.resourceEvents,
    log: (line) => io.err(`${line}\n`),
  });
  io.err(`${startupLine(runtime, { transport: 'stdio', options: runtimeOptions })}\n`);
  await reportEnvironment(runtime, io);
  const stopSignals = onStopSignal(() => void server.close());
  await server.closed;
  stopSignals.dispose();
  await closeRuntime(runtime, io);
  return EXIT_OK;
}

async function serveHttp(runtimeOptions: RuntimeOptions, settings: HttpSettings, io: CliIo): Promise<number> {
  const runtime = await createRuntime(runtimeOptions);
  let server: RunningHttpServer;
  try {
    // Loaded here so a stdio start never pays for the HTTP stack.
    const { startHttpServer } = await import('../transports/http.js');
    server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      eventBus: runtime.resourceEvents,
      environment: runtime.environment,
      host: settings.host,
      port: settings.port,
      bearerTokens: settings.bearerTokens,
      allowedHosts: settings.allowedHosts,
      allowedOrigins: settings.allowedOrigins,
      maxBodyBytes: settings.maxBodyBytes,
      ...settings.sessionLimits,
      // Both receivers share the port: QFPay's notifications and, when configured, the approval page.
      routes: [
        ...(runtime.notifications ? [notificationRoute(runtime.notifications, settings.notifyPath)] : []),
        ...(runtime.approvalRoutes ? [runtime.approvalRoutes.route] : []),
      ],
      log: (line) => io.err(`${line}\n`),
    });
    const origin = runtime.approvalRoutes ? approvalOrigin(io.env, settings.host, server.port) : undefined;
    if (origin) await runtime.approvalRoutes?.serveOn(origin);
  } catch (error) {
    await closeRuntime(runtime, io);
    throw error;
  }
  io.err(
    `${startupLine(runtime, { transport: 'http', url: server.url, authenticated: server.authenticated, options: runtimeOptions })}\n`,
  );
  await reportEnvironment(runtime, io);
  for (const warning of exposureWarnings(settings)) io.err(`warning: ${warning}\n`);
  io.out(
    clientConfigSnippet({
      url: server.url,
      authenticated: server.authenticated,
      environment: runtime.environment,
    }),
  );

  await new Promise<void>((resolve) => {
    const stopSignals = onStopSignal(() => {
      stopSignals.dispose();
      resolve();
    });
  });
  io.err('qfpay-mcp: shutting down\n');
  await server.close();
  await closeRuntime(runtime, io);
  return EXIT_OK;
}

/**
 * Where the operator's browser reaches the approval page on the HTTP server: QFPAY_APPROVAL_ORIGIN
 * (the public https origin behind a proxy), else `http://localhost:<port>` when the server listens on
 * loopback (WebAuthn needs a host name, not an IP). Otherwise the page keeps its own loopback listener.
 */
function approvalOrigin(env: NodeJS.ProcessEnv, host: string, port: number): string | undefined {
  const configured = (env.QFPAY_APPROVAL_ORIGIN ?? '').trim();
  if (configured !== '') {
    let url: URL;
    try {
      url = new URL(configured);
    } catch {
      throw new UsageError(
        'QFPAY_APPROVAL_ORIGIN must be an origin such as https://mcp.example.com',
        'serve',
      );
    }
    if (url.protocol !== 'https:' && url.hostname !== 'localhost')
      throw new UsageError('QFPAY_APPROVAL_ORIGIN must use https (or be http://localhost:<port>)', 'serve');
    return url.origin;
  }
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host) ? `http://localhost:${port}` : undefined;
}

/**
 * What this environment can test, in plain words (fidelity audit §1 #1), and with operator
 * approval where the operator registers a passkey (the page then runs until it is idle).
 */
async function reportEnvironment(runtime: QfpayMcpRuntime, io: CliIo): Promise<void> {
  io.err(`qfpay-mcp: ${runtime.environment} can test: ${ENVIRONMENT_CAPABILITIES[runtime.environment]}\n`);
  if (!runtime.approvalRegistrationUrl) return;
  const url = await runtime.approvalRegistrationUrl();
  io.err(
    `qfpay-mcp: operator approval is on: every confirmation is made on this server's page. Register your passkey at ${url} (needs QFPAY_OPERATOR_SECRET)\n`,
  );
}

function exposureWarnings(settings: HttpSettings): string[] {
  const warnings: string[] = [];
  if (settings.host === '0.0.0.0' || settings.host === '::' || settings.host === '[::]') {
    warnings.push(
      `listening on all interfaces; remote clients must address the server by a name listed in --allowed-hosts ` +
        `(currently: ${settings.allowedHosts.join(', ') || 'none'}).`,
    );
  }
  if (
    settings.bearerTokens.length > 0 &&
    !['127.0.0.1', 'localhost', '::1', '[::1]'].includes(settings.host)
  ) {
    warnings.push(
      'plain HTTP: put a TLS-terminating proxy in front before sending the bearer token over a network.',
    );
  }
  return warnings;
}

async function closeRuntime(runtime: QfpayMcpRuntime, io: CliIo): Promise<void> {
  try {
    await runtime.close();
  } catch (error) {
    io.err(
      `qfpay-mcp: closing the runtime failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
  // Everything we opened is closed. A handle some dependency left open must not keep a host
  // waiting for the process to exit; the timer is unref'd, so a clean exit never waits for it.
  setTimeout(() => process.exit(process.exitCode ?? EXIT_OK), 2000).unref();
}

/** SIGINT/SIGTERM request a graceful stop; a second signal exits at once. */
function onStopSignal(stop: () => void): { dispose(): void } {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(signal === 'SIGINT' ? 130 : 143);
    stopping = true;
    stop();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    dispose: () => {
      // Keep a handler installed while shutting down so a second signal can force the exit.
      if (!stopping) {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      }
    },
  };
}
