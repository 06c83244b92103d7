import path from 'node:path';

import { InMemoryServerEventBus, type McpServer, type ServerEventBus } from '@modelcontextprotocol/server';

import type { EnvironmentName } from '../qfpay/catalog/types.js';
import { type ClientEvent, QfpayClient, type RetryOptions } from '../qfpay/client.js';
import { loadConfig, type QfpayConfig, resolveEnvironment } from '../qfpay/config.js';
import { type Language, resolveLanguageSetting } from '../qfpay/language.js';
import { readBoolean } from '../qfpay/env.js';
import { PaymentEvents } from '../qfpay/payment-events.js';
import { QfpayConfigError } from '../qfpay/errors.js';
import type { Credentials } from '../qfpay/types.js';
import { DEFAULT_SIMULATOR_CREDENTIAL, type SimulatorOptions } from '../simulator/options.js';
import type { ApprovalStore } from '../safety/approval-store.js';
import type { HttpRoute } from '../transports/http.js';
import { ConfirmationTokens, InBandQuestions } from '../safety/confirmation.js';
import { OperatorApprovals, secretMatcher, storeNonces } from '../safety/operator-approval.js';
import { BasicGuard, type GuardFactory, type MerchantIdentity, type MoneyGuard } from '../safety/guard.js';
import { loadMoneyPolicy, type MoneyPolicy } from '../safety/policy.js';
import { mcpServerFactory, type ServerScope } from './server.js';
import { announceTransactionChanges } from './transaction-resource.js';
import { type ReconcileTiming, type ToolDeps, type Toolset, TOOLSETS } from './tools/define.js';
import { selectTools } from './tools/index.js';
import { ReferenceAnswers } from './tools/reference-answers.js';
import { chooseLedgerLocation } from '../safety/ledger-location.js';
import { describeDatabaseUrl, openMoneyStore } from '../safety/open-money-store.js';
import { NotificationInbox } from '../safety/notification-inbox.js';
import { SafeGuard, type StartupReconciliation } from '../safety/safe-guard.js';
import { resolveStateDir } from '../safety/state-dir.js';

export interface RuntimeOptions {
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** payments, reporting, reference, integration (local is added in the local environment); default all. Also QFPAY_TOOLSETS. */
  toolsets?: string[];
  /** Also QFPAY_READ_ONLY=1|true: no tool that changes anything is registered at all. */
  readOnly?: boolean;
  /** Also QFPAY_ALLOW_PROD_WRITES=1: carried to the guard, which refuses production writes without it. */
  allowProdWrites?: boolean;
  /** Line logger for operators (stderr by default). Never receives secrets. */
  log?: (line: string) => void;
  /**
   * Replaces the default guard (SafeGuard: production gate, confirmations, caps, idempotency and
   * the audit ledger, all from the environment's policy) with another one: a guard, or a factory
   * called once configuration is resolved. The runtime closes it (`close()`) on shutdown.
   */
  guard?: MoneyGuard | GuardFactory;
  /** Lifetime of a confirmation token (default 5 minutes). */
  confirmationTtlMs?: number;
  /** How long unfinished ledger intents are reconciled by query on start, in total (default 15 s). */
  startupReconcileMs?: number;
  /** How long a write whose answer was lost is reconciled by querying (default 20 s). */
  unknownOutcomeWindowMs?: number;
  /** Pause between polls while waiting or reconciling (default: the poller's 2 s growing to 5 s). */
  pollIntervalMs?: number;
  /** Retry tuning of the QFPay client (HTTP 429 back-off, query retries). */
  retry?: RetryOptions;
  /** How long a write may wait for the rate budget before it is dropped unsent (default 10 s). */
  writeQueueTimeoutMs?: number;
  /** Options for the embedded simulator (local environment without QFPAY_BASE_URL). */
  simulator?: Omit<SimulatorOptions, 'credentials'>;
  /**
   * The money-state store's approval part (src/safety/approval-store.ts). Operator approval
   * (QFPAY_APPROVAL=operator) keeps its approvals, passkeys and challenges there and refuses to
   * start without it; in-band question nonces use it too when given (single use across restarts).
   */
  approvalStore?: ApprovalStore;
  /** Lifetime of an operator approval (default 10 minutes). */
  approvalTtlMs?: number;
  /** How often a call waiting on URL-mode elicitation looks for the operator's decision (default 500 ms). */
  approvalPollMs?: number;
  /**
   * Keep the embedded simulator's orders in `<state dir>/simulator-state.jsonl` (what
   * `qfpay-mcp simulator reset` clears), beside the ledger, so a rehearsal can span several
   * short-lived processes. The command line turns this on; in-process embedders get a simulator
   * that lives and dies with the runtime unless they pass `simulator.stateFile`.
   */
  lastingSimulator?: boolean;
}

export interface ApprovalRoutes {
  /** `/approve/…` for startHttpServer's `routes`. */
  readonly route: HttpRoute;
  readonly serveOn: (origin: string) => Promise<void>;
}

export interface QfpayMcpRuntime {
  readonly environment: EnvironmentName;
  /** Resolved base URL (the embedded simulator's in local); empty when running without credentials. */
  readonly baseUrl: string;
  readonly merchant: MerchantIdentity | null;
  readonly toolNames: readonly string[];
  readonly readOnly: boolean;
  /** The audit ledger file (or database), when this runtime serves money-moving tools with the default guard. */
  readonly ledgerPath: string | null;
  /**
   * The reconciliation of earlier runs' unfinished intents, started in the background once the
   * runtime is built (never on the initialize path); null when there is nothing to reconcile with.
   */
  readonly startupReconciliation: Promise<StartupReconciliation> | null;
  /**
   * Receives QFPay's notifications for this merchant (the HTTP server's notification route): null
   * without credentials or without the money guard that records them.
   */
  readonly notifications: NotificationInbox | null;
  /**
   * A fresh McpServer per session or request; all share one client, limiter and simulator. A
   * `scope` naming one tool builds an instance that serves only that tool's call.
   */
  createServer(scope?: ServerScope): McpServer;
  /**
   * Changes of `qfpay://transactions/{syssn}` for 2026-07-28 clients' `subscriptions/listen`
   * streams: hand it to the HTTP server (`startHttpServer({ eventBus })`).
   */
  readonly resourceEvents: ServerEventBus;
  /** Operator approval only: where the operator registers a passkey (starts the page on demand). */
  readonly approvalRegistrationUrl?: () => Promise<string>;
  /**
   * Operator approval only: the page's route for the Streamable HTTP server (`routes`), and
   * `serveOn(origin)` to serve the page there instead of on its own loopback listener.
   */
  readonly approvalRoutes?: ApprovalRoutes;
  /** Stops the embedded simulator and closes the client's connections. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_UNKNOWN_OUTCOME_WINDOW_MS = 20_000;

/** Tools that need no QFPay credentials (integration tools degrade: they say no key is configured). */
const CREDENTIAL_FREE: ReadonlySet<Toolset> = new Set(['reference', 'integration']);

/**
 * Builds everything a server needs once per process: configuration, the QFPay client (with its
 * shared rate limiter), the embedded simulator in `local`, the guard and the tool selection.
 *
 * Without credentials: `local` always has the simulator's. In sandbox/test/prod the configuration
 * fails fast (a payments server must not start half-configured), except when only credential-free
 * toolsets are enabled (QFPAY_TOOLSETS=reference,integration): then it runs with no client at all.
 */
export async function createRuntime(options: RuntimeOptions = {}): Promise<QfpayMcpRuntime> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const requested = resolveToolsets(options.toolsets, env);
  const readOnly = options.readOnly ?? readBoolean(env, 'QFPAY_READ_ONLY', false);
  const allowProdWrites = options.allowProdWrites ?? readBoolean(env, 'QFPAY_ALLOW_PROD_WRITES', false);
  const config = loadOrDegrade(env, requested);

  const environment = config ? config.environment : resolveEnvironment(env);
  const language = config ? config.language : resolveLanguageSetting(env);
  const toolsets = withLocalToolset(requested, environment);
  const tools = selectTools({ environment, toolsets, readOnly });

  const connection = config ? await connect(config, options, log) : undefined;
  const merchant = connection?.client.merchant ?? null;
  let guard: MoneyGuard;
  const reconcileStop = new AbortController();
  let approvalPage: { registrationUrl: () => Promise<string>; routes: ApprovalRoutes } | undefined;
  try {
    guard =
      options.guard === undefined
        ? await buildDefaultGuard({
            options,
            env,
            environment,
            allowProdWrites,
            log,
            connection,
            servesWrites: tools.some((entry) => entry.access === 'write'),
            language,
            onApprovalPage: (page) => (approvalPage = page),
          })
        : await buildGuard(options.guard, { environment, merchant, allowProdWrites, env, log });
  } catch (error) {
    await connection?.client.destroy();
    await connection?.stopSimulator?.();
    throw error;
  }
  const paymentEvents = new PaymentEvents();
  const deps: ToolDeps = {
    environment,
    client: connection?.client ?? null,
    credentials: connection?.credentials ?? null,
    merchant,
    guard,
    simulatorBaseUrl: environment === 'local' ? (connection?.baseUrl ?? null) : null,
    timing: timing(options),
    paymentEvents,
    referenceAnswers: new ReferenceAnswers(),
    language,
    log,
  };
  const toolNames = tools.map((entry) => entry.tool.name);
  if (!connection)
    log(`qfpay-mcp: no QFPay credentials for ${environment}; serving ${toolNames.join(', ')} only`);

  const startupReconciliation =
    guard instanceof SafeGuard && connection
      ? guard.reconcilePending(connection.client, options.startupReconcileMs, reconcileStop.signal)
      : null;

  const createServer = mcpServerFactory(deps, tools);
  const resourceEvents = new InMemoryServerEventBus((error) =>
    log(`qfpay-mcp: resource update: ${error.message}`),
  );
  const stopAnnouncing = announceTransactionChanges(paymentEvents, resourceEvents);
  let closed = false;
  return {
    environment,
    baseUrl: connection?.baseUrl ?? '',
    merchant: deps.merchant,
    toolNames,
    readOnly,
    ledgerPath: guard instanceof SafeGuard ? guard.storeLocation : null,
    startupReconciliation,
    notifications:
      guard instanceof SafeGuard && connection
        ? new NotificationInbox({
            key: connection.credentials.key,
            ledger: guard,
            events: paymentEvents,
            log,
          })
        : null,
    createServer,
    resourceEvents,
    ...(approvalPage
      ? { approvalRegistrationUrl: approvalPage.registrationUrl, approvalRoutes: approvalPage.routes }
      : {}),
    async close() {
      if (closed) return;
      closed = true;
      stopAnnouncing();
      reconcileStop.abort();
      try {
        await startupReconciliation?.catch(() => undefined);
        await guard.close?.();
      } finally {
        await connection?.client.destroy();
        await connection?.stopSimulator?.();
      }
    },
  };
}

async function buildGuard(
  option: MoneyGuard | GuardFactory,
  context: Parameters<GuardFactory>[0],
): Promise<MoneyGuard> {
  return typeof option === 'function' ? option(context) : option;
}

/**
 * The guard every deployment gets: the operator's money policy from the environment (fails fast
 * on a malformed value) and the money-state store (`openMoneyStore`: PostgreSQL when
 * QFPAY_DATABASE_URL is set, else the embedded store on the ledger file, opened on first use and
 * created by the first intent). Unfinished intents of earlier runs are reconciled in the background
 * once the runtime is up (see createRuntime). A store that cannot be opened does not stop the server
 * (reads keep working); every write is then refused until it is fixed.
 */
async function buildDefaultGuard(context: {
  options: RuntimeOptions;
  env: NodeJS.ProcessEnv;
  environment: EnvironmentName;
  allowProdWrites: boolean;
  log: (line: string) => void;
  connection: Connection | undefined;
  servesWrites: boolean;
  language: Language;
  onApprovalPage: (page: { registrationUrl: () => Promise<string>; routes: ApprovalRoutes }) => void;
}): Promise<MoneyGuard> {
  const { options, env, environment, allowProdWrites, log, connection } = context;
  // No money-moving tool can be called: nothing to guard, no ledger to hold open.
  if (!connection || !context.servesWrites) return new BasicGuard({ allowProdWrites });
  const policy = loadMoneyPolicy(env, environment, { allowProdWrites });
  const location = await chooseLedgerLocation({
    env,
    environment,
    // Only a simulator that forgets its orders needs a ledger that forgets them too.
    embeddedSimulator: connection.stopSimulator !== undefined && connection.simulatorStateFile === undefined,
    configuredPath: policy.auditLogPath,
  });
  const databaseUrl = (env.QFPAY_DATABASE_URL ?? '').trim();
  const store = await openMoneyStore({
    env,
    ledgerFile: location.file,
    storeOptions: { secrets: secretsToKeepOut(env, connection.credentials), onWarning: log },
  });
  log(
    databaseUrl
      ? `qfpay-mcp: money state in PostgreSQL ${describeDatabaseUrl(databaseUrl)}`
      : `qfpay-mcp: audit ledger ${location.file}${location.temporary ? ' (temporary: the embedded simulator forgets its orders on exit; set QFPAY_STATE_DIR or QFPAY_AUDIT_LOG to keep it)' : ''}`,
  );
  // Approvals, passkeys and in-band questions live in the money-state store unless an embedder brings its own.
  const approvalStore = options.approvalStore ?? store;
  const operator = await operatorApprovals(policy, env, { ...options, approvalStore }, context.language, log);
  if (operator) context.onApprovalPage(operator);
  const guard = new SafeGuard({
    environment,
    language: context.language,
    merchant: connection.client.merchant,
    policy,
    store,
    tokens: new ConfirmationTokens({
      nonces: store,
      ...(policy.confirmSecret ? { secret: policy.confirmSecret } : {}),
      ...(options.confirmationTtlMs !== undefined ? { ttlMs: options.confirmationTtlMs } : {}),
    }),
    inBand: new InBandQuestions({
      ...(policy.confirmSecret ? { secret: policy.confirmSecret } : {}),
      nonces: storeNonces(approvalStore),
    }),
    ...(operator ? { operator: operator.approvals } : {}),
    log,
    onClose: async () => {
      await operator?.close();
      await location.remove?.();
    },
  });
  return guard;
}

/**
 * Operator approval (QFPAY_APPROVAL=operator): approvals in the money-state store, decided on the
 * approval page, which a loopback listener serves on demand (QFPAY_APPROVAL_PORT, default a free
 * port). Loaded only in this mode, so other servers never import WebAuthn.
 */
async function operatorApprovals(
  policy: MoneyPolicy,
  env: NodeJS.ProcessEnv,
  options: RuntimeOptions,
  language: Language | undefined,
  log: (line: string) => void,
): Promise<
  | {
      approvals: OperatorApprovals;
      registrationUrl: () => Promise<string>;
      routes: ApprovalRoutes;
      close: () => Promise<void>;
    }
  | undefined
> {
  if (policy.approval !== 'operator' || !policy.operatorSecret) return undefined;
  const store = options.approvalStore;
  if (!store)
    throw new QfpayConfigError(
      'QFPAY_APPROVAL',
      'operator approval needs the money-state store, and none is configured for this server',
      'Configure the money-state store (see README "Safety model"), or set QFPAY_APPROVAL=agent to confirm with tokens and client elicitation.',
    );
  const { ApprovalPage } = await import('../transports/approval-page.js');
  const page = new ApprovalPage({
    store,
    secretMatches: secretMatcher(policy.operatorSecret),
    port: approvalPort(env),
    ...(language ? { language } : {}),
    log,
  });
  const approvals = new OperatorApprovals({
    store,
    pageUrl: (id) => page.urlFor(id),
    ...(options.approvalTtlMs !== undefined ? { ttlMs: options.approvalTtlMs } : {}),
    ...(options.approvalPollMs !== undefined ? { pollMs: options.approvalPollMs } : {}),
  });
  return {
    approvals,
    registrationUrl: () => page.registrationUrl(),
    routes: { route: page.httpRoute(), serveOn: (origin) => page.serveOn(origin) },
    close: () => page.close(),
  };
}

function approvalPort(env: NodeJS.ProcessEnv): number {
  const raw = (env.QFPAY_APPROVAL_PORT ?? '').trim();
  if (raw === '') return 0;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65_535)
    throw new QfpayConfigError(
      'QFPAY_APPROVAL_PORT',
      'is not a TCP port number',
      'Set QFPAY_APPROVAL_PORT to a port between 1 and 65535 for the loopback approval page, or unset it for a free port.',
    );
  return port;
}

/** Values the ledger must never store, wherever they might turn up: the client key, bearer tokens, the confirm secret. */
function secretsToKeepOut(env: NodeJS.ProcessEnv, credentials: Credentials): string[] {
  const tokens = (env.QFPAY_MCP_TOKEN ?? '').split(',').map((token) => token.trim());
  const confirmSecret = (env.QFPAY_CONFIRM_SECRET ?? '').trim();
  const operatorSecret = (env.QFPAY_OPERATOR_SECRET ?? '').trim();
  return [credentials.key, ...tokens, confirmSecret, operatorSecret].filter((secret) => secret.length >= 8);
}

interface Connection {
  client: QfpayClient;
  credentials: Credentials;
  baseUrl: string;
  stopSimulator?: () => Promise<void>;
  /** Where the embedded simulator keeps its orders; absent when it forgets them on exit. */
  simulatorStateFile?: string;
}

async function connect(
  config: QfpayConfig,
  options: RuntimeOptions,
  log: (line: string) => void,
): Promise<Connection> {
  // In local, a simulator (embedded, or standalone via QFPAY_BASE_URL) accepts its documented
  // default credential unless other credentials are configured.
  const credentials =
    config.credentials ?? (config.environment === 'local' ? DEFAULT_SIMULATOR_CREDENTIAL : null);
  if (!credentials) {
    throw new QfpayConfigError(
      'QFPAY_APPCODE',
      'no credentials for the configured QFPay base URL',
      'Set QFPAY_APPCODE and QFPAY_KEY.',
    );
  }
  let baseUrl = config.baseUrl;
  let stopSimulator: (() => Promise<void>) | undefined;
  let simulatorStateFile: string | undefined;
  if (baseUrl === null) {
    // local without QFPAY_BASE_URL: an in-process simulator on a free loopback port. Loaded on
    // demand so that servers pointed at QFPay (or a standalone simulator) never import it.
    const { startSimulator } = await import('../simulator/server.js');
    const { SIMULATOR_STATE_FILE_NAME } = await import('../simulator/persistence.js');
    const stateFile =
      options.simulator?.stateFile ??
      (options.lastingSimulator
        ? path.join(resolveStateDir({ env: options.env ?? process.env }), SIMULATOR_STATE_FILE_NAME)
        : undefined);
    const simulator = await startSimulator({
      ...options.simulator,
      ...(stateFile ? { stateFile } : {}),
      port: options.simulator?.port ?? 0,
      credentials: [credentials],
    });
    baseUrl = simulator.baseUrl;
    stopSimulator = () => simulator.close();
    simulatorStateFile = stateFile;
  }
  const client = new QfpayClient({
    baseUrl,
    credentials,
    signType: config.signType,
    timeoutMs: config.timeoutMs,
    rateLimits: config.rateLimits,
    verifyResponseSignatures: config.verifyResponseSignatures,
    ...(config.redisUrl ? { sharedLimiter: { redisUrl: config.redisUrl } } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.writeQueueTimeoutMs !== undefined
      ? { writeQueueTimeoutMs: options.writeQueueTimeoutMs }
      : {}),
    onEvent: (event) => logClientEvent(event, log),
  });
  return {
    client,
    credentials,
    baseUrl,
    ...(stopSimulator ? { stopSimulator } : {}),
    ...(simulatorStateFile ? { simulatorStateFile } : {}),
  };
}

/** Operators see every exchange that did not simply succeed; never a key, signature or body. */
function logClientEvent(event: ClientEvent, log: (line: string) => void): void {
  if (event.outcome === 'ok' || event.outcome === 'pending') return;
  const parts = [
    `qfpay ${event.endpoint} attempt ${event.attempt}: ${event.outcome}`,
    event.respcd ? `respcd ${event.respcd}` : '',
    event.httpStatus !== undefined ? `HTTP ${event.httpStatus}` : '',
    event.out_trade_no ? `out_trade_no ${event.out_trade_no}` : '',
    event.reason ?? '',
    event.retryInMs !== undefined ? `retry in ${event.retryInMs} ms` : '',
  ];
  log(parts.filter(Boolean).join(', '));
}

function timing(options: RuntimeOptions): ReconcileTiming {
  return {
    unknownOutcomeWindowMs: options.unknownOutcomeWindowMs ?? DEFAULT_UNKNOWN_OUTCOME_WINDOW_MS,
    ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
  };
}

/** The toolsets asked for (explicit list or QFPAY_TOOLSETS); all when unspecified. */
export function resolveToolsets(
  explicit: readonly string[] | undefined,
  env: NodeJS.ProcessEnv,
): Set<Toolset> {
  const fromEnv = env.QFPAY_TOOLSETS?.trim();
  const names = explicit ?? (fromEnv ? fromEnv.split(',') : undefined);
  if (names === undefined) return new Set(TOOLSETS);
  const cleaned = names.map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
  if (cleaned.includes('all')) return new Set(TOOLSETS);
  const unknown = cleaned.filter((n) => !(TOOLSETS as readonly string[]).includes(n));
  if (unknown.length > 0 || cleaned.length === 0) {
    const valid = `${TOOLSETS.filter((t) => t !== 'local').join(', ')}, all`;
    throw new QfpayConfigError(
      'QFPAY_TOOLSETS',
      `${unknown.length > 0 ? `unknown toolset ${unknown.map((n) => `"${n}"`).join(', ')}` : 'is empty'} (valid: ${valid})`,
      `Use a comma-separated list of ${valid}; local is added automatically with payments in the local environment.`,
    );
  }
  return new Set(cleaned as Toolset[]);
}

/** The simulator controls come with the payment tools in `local`: rehearsing a flow needs both. */
function withLocalToolset(requested: Set<Toolset>, environment: EnvironmentName): Set<Toolset> {
  const toolsets = new Set(requested);
  if (environment === 'local' && toolsets.has('payments')) toolsets.add('local');
  return toolsets;
}

const CREDENTIAL_VARIABLE = /^QFPAY_(?:[A-Z]+_)?(?:APPCODE|KEY|MCHID)$/;

function loadOrDegrade(env: NodeJS.ProcessEnv, requested: ReadonlySet<Toolset>): QfpayConfig | undefined {
  try {
    return loadConfig(env);
  } catch (error) {
    const credentialFreeOnly = [...requested].every((t) => CREDENTIAL_FREE.has(t));
    const noCredentialSet = !Object.entries(env).some(
      ([name, value]) => CREDENTIAL_VARIABLE.test(name) && (value ?? '').trim() !== '',
    );
    if (error instanceof QfpayConfigError && credentialFreeOnly && noCredentialSet) return undefined;
    throw error;
  }
}
