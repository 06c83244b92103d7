import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, open, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import type { CliIo } from './cli/args.js';
import { processIo } from './cli/args.js';
import { readPackageVersion } from './cli/version.js';
import { verifyLedgerFile } from './safety/ledger.js';
import { readBoolean } from './qfpay/env.js';
import type { MoneyPolicy } from './safety/policy.js';
import { loadMoneyPolicy } from './safety/policy.js';
import { redactSecrets } from './safety/sanitize.js';
import { ensurePrivateDir } from './safety/state-dir.js';
import { resolveToolsets } from './mcp/runtime.js';
import { chooseLedgerLocation, type LedgerLocation } from './safety/ledger-location.js';
import { describeDatabaseUrl } from './safety/open-money-store.js';
import { ENVIRONMENT_NAMES, explainRespcd, getEnvironment } from './qfpay/catalog/index.js';
import { ENVIRONMENT_CAPABILITIES } from './qfpay/catalog/environments.js';
import type { EnvironmentName } from './qfpay/catalog/types.js';
import type { ClientEvent } from './qfpay/client.js';
import { QfpayClient } from './qfpay/client.js';
import type { QfpayConfig } from './qfpay/config.js';
import { loadConfig } from './qfpay/config.js';
import {
  QfpayConfigError,
  QfpayError,
  QfpayRateLimitedError,
  QfpayUnknownOutcomeError,
  QfpayUpstreamError,
} from './qfpay/errors.js';
import { formatMinor } from './qfpay/money.js';
import { formatRateWindows } from './qfpay/rate-windows.js';
import type { Credentials } from './qfpay/types.js';
import { DEFAULT_SIMULATOR_CREDENTIAL } from './simulator/options.js';

/**
 * `qfpay-mcp doctor`: checks what a person would check before blaming the agent. Configuration
 * (environment, which credentials are set, signing, limits, money policy), the audit ledger
 * (path, writable, chain intact) and a signed, harmless query against the configured QFPay host,
 * whose answer is explained in plain words.
 *
 * It never prints a secret: credentials are reported by the variable that supplied them and
 * their length, and the whole output passes through redactSecrets as a last line of defence.
 * The probe is `/trade/v1/query` for an out_trade_no that cannot exist: it moves no money,
 * creates nothing, and QFPay answers it with 0000 and no rows when the signature is accepted.
 */

export const DOCTOR_HELP = `Usage: qfpay-mcp doctor [--json]

Checks the qfpay-mcp configuration and the connection to QFPay, and explains what is wrong:

  - environment and QFPay host, which credentials are set (never their values), sign type
  - rate limits, timeout, production gate, caps and URL allow-list
  - audit ledger: location (temporary in local with the embedded simulator), directory
    writable, hash chain intact
  - a signed, harmless query (an order number that cannot exist) to the configured host:
    reachable? signature accepted? (1108 and mchid problems are explained with their causes)

With QFPAY_ENV=local (or no credentials at all) the embedded simulator is started and checked,
so the command works on a fresh machine. Nothing is paid, refunded or cancelled.

Options:
  --json        Print the report as JSON
  -h, --help    Show this help

Configuration comes from the same environment variables the server reads (QFPAY_ENV,
QFPAY_APPCODE, QFPAY_KEY, QFPAY_MCHID, ...; see qfpay-mcp serve --help).

Exit status: 0 no problem found (warnings allowed), 1 a problem was found, 2 usage error.
`;

export type CheckStatus = 'ok' | 'info' | 'warn' | 'fail';

export interface DoctorCheck {
  /** Stable identifier, e.g. "credentials" or "connection". */
  readonly id: string;
  readonly status: CheckStatus;
  /** One line. */
  readonly summary: string;
  /** Further lines: likely causes, values that were checked. */
  readonly details?: readonly string[];
  /** What to do, when something needs doing. */
  readonly fix?: string;
}

export interface DoctorReport {
  readonly version: string;
  /** False when any check failed. */
  readonly ok: boolean;
  readonly environment: EnvironmentName | null;
  readonly checks: readonly DoctorCheck[];
}

export interface DoctorOptions {
  readonly env?: NodeJS.ProcessEnv;
}

/** The variables qfpay-mcp reads; anything else spelled QFPAY_* is probably a typo. */
export const KNOWN_VARIABLES: readonly string[] = [
  'QFPAY_ENV',
  'QFPAY_NOTIFY_PATH',
  'QFPAY_APPCODE',
  'QFPAY_KEY',
  'QFPAY_MCHID',
  ...ENVIRONMENT_NAMES.flatMap((e) =>
    ['APPCODE', 'KEY', 'MCHID'].map((f) => `QFPAY_${e.toUpperCase()}_${f}`),
  ),
  'QFPAY_BASE_URL',
  'QFPAY_SIGN_TYPE',
  'QFPAY_TIMEOUT_MS',
  'QFPAY_RATE_LIMITS',
  'QFPAY_REDIS_URL',
  'QFPAY_VERIFY_RESPONSES',
  'QFPAY_LANG',
  'QFPAY_TOOLSETS',
  'QFPAY_READ_ONLY',
  'QFPAY_ALLOW_PROD_WRITES',
  'QFPAY_CONFIRM',
  'QFPAY_CONFIRM_SECRET',
  'QFPAY_APPROVAL',
  'QFPAY_OPERATOR_SECRET',
  'QFPAY_APPROVAL_PORT',
  'QFPAY_APPROVAL_ORIGIN',
  'QFPAY_MAX_TXAMT',
  'QFPAY_DAILY_LIMIT',
  'QFPAY_ALLOWED_URLS',
  'QFPAY_AUDIT_LOG',
  'QFPAY_STATE_DIR',
  'QFPAY_DATABASE_URL',
  'QFPAY_MCP_TOKEN',
  'QFPAY_MCP_ALLOWED_HOSTS',
  'QFPAY_MCP_ALLOWED_ORIGINS',
  'QFPAY_HTTP_MAX_SESSIONS',
  'QFPAY_HTTP_MAX_SESSIONS_PER_PRINCIPAL',
];

/** Spellings seen in other integrations' docs, mapped to ours. */
const LIKELY_MEANT: Readonly<Record<string, string>> = {
  QFPAY_APP_CODE: 'QFPAY_APPCODE',
  QFPAY_APP_KEY: 'QFPAY_KEY',
  QFPAY_CLIENT_KEY: 'QFPAY_KEY',
  QFPAY_SECRET: 'QFPAY_KEY',
  QFPAY_SECRET_KEY: 'QFPAY_KEY',
  QFPAY_API_KEY: 'QFPAY_KEY',
  QFPAY_MCH_ID: 'QFPAY_MCHID',
  QFPAY_MERCHANT_ID: 'QFPAY_MCHID',
  QFPAY_ENVIRONMENT: 'QFPAY_ENV',
  QFPAY_TOKEN: 'QFPAY_MCP_TOKEN',
};

export async function runDoctorCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let values: { json?: boolean; help?: boolean };
  try {
    values = parseArgs({
      args: [...argv],
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    // Node's message names the flag only; a positional (possibly a pasted secret) is not echoed.
    const message =
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
        ? 'doctor takes flags only'
        : (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    io.err(`qfpay-mcp doctor: ${message}\nRun "qfpay-mcp doctor --help" for usage.\n`);
    return 2;
  }
  if (values.help) {
    io.out(DOCTOR_HELP);
    return 0;
  }

  const env = io.env;
  const report = await runDoctor({ env });
  const text = values.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report);
  io.out(redactSecrets(text, secretsIn(env)));
  return report.ok ? 0 : 1;
}

/** Runs every check; never throws for a configuration or connection problem (they become checks). */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const checks: DoctorCheck[] = [];
  checks.push(...variableChecks(env));

  let config: QfpayConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof QfpayConfigError && credentialFreeServer(env)) {
      // The server runs without credentials when only reference/integration tools are enabled.
      checks.push({
        id: 'configuration',
        status: 'info',
        summary: `no QFPay credentials: only the reference and integration tools are served (QFPAY_TOOLSETS=${env.QFPAY_TOOLSETS?.trim()}); QFPay is never contacted`,
      });
      checks.push(...serverSwitchChecks(env));
      return finish(checks, null);
    }
    checks.push(configurationFailure('configuration', error));
    return finish(checks, null);
  }
  checks.push(environmentCheck(config, env));
  checks.push(credentialsCheck(config, env));
  checks.push(signingCheck(config));
  checks.push(limitsCheck(config));

  let policy: MoneyPolicy | undefined;
  try {
    policy = loadMoneyPolicy(env, config.environment);
    checks.push(policyCheck(policy, config.environment));
  } catch (error) {
    checks.push(configurationFailure('money-policy', error));
  }
  checks.push(...serverSwitchChecks(env));
  if (policy) checks.push(await ledgerCheck(env, config, policy.auditLogPath));
  checks.push(await connectionCheck(config));
  return finish(checks, config.environment);
}

function finish(checks: DoctorCheck[], environment: EnvironmentName | null): DoctorReport {
  return {
    version: readPackageVersion(),
    ok: checks.every((check) => check.status !== 'fail'),
    environment,
    checks,
  };
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

function configurationFailure(id: string, error: unknown): DoctorCheck {
  if (error instanceof QfpayConfigError)
    return { id, status: 'fail', summary: error.message, fix: error.nextAction };
  if (error instanceof QfpayError)
    return { id, status: 'fail', summary: error.message, fix: error.nextAction };
  return { id, status: 'fail', summary: `could not read the configuration: ${errorText(error)}` };
}

function variableChecks(env: NodeJS.ProcessEnv): DoctorCheck[] {
  const known = new Set(KNOWN_VARIABLES);
  const unknown = Object.keys(env)
    .filter((name) => name.startsWith('QFPAY_') && !known.has(name) && (env[name] ?? '').trim() !== '')
    .sort();
  return unknown.map((name) => {
    const meant = LIKELY_MEANT[name];
    return {
      id: 'unknown-variable',
      status: 'warn' as const,
      summary: `${name} is set but qfpay-mcp does not read it`,
      fix: meant
        ? `Did you mean ${meant}? Rename the variable.`
        : 'Check the spelling against the README configuration table.',
    };
  });
}

function environmentCheck(config: QfpayConfig, env: NodeJS.ProcessEnv): DoctorCheck {
  const entry = getEnvironment(config.environment);
  const how =
    (env.QFPAY_ENV ?? '').trim() !== ''
      ? 'from QFPAY_ENV'
      : config.environment === 'local'
        ? 'default: no credentials are set'
        : 'from the QFPAY_BASE_URL host; set QFPAY_ENV to choose explicitly';
  const host = config.baseUrl ?? 'the embedded simulator on loopback';
  const money = entry.realMoney ? 'REAL money' : 'no real money';
  const details = [
    `what ${config.environment} can test: ${ENVIRONMENT_CAPABILITIES[config.environment]}`,
    ...((env.QFPAY_BASE_URL ?? '').trim() !== ''
      ? [`host overridden by QFPAY_BASE_URL (destination: ${config.destination})`]
      : []),
  ];
  return {
    id: 'environment',
    status: 'info',
    summary: `${config.environment} (${entry.title}, ${money}) at ${host}; ${how}`,
    details,
  };
}

/** The variable that supplied a credential field, mirroring config.ts: per-environment name first. */
function supplyingVariable(
  env: NodeJS.ProcessEnv,
  environment: EnvironmentName,
  field: 'APPCODE' | 'KEY' | 'MCHID',
): string | undefined {
  return [`QFPAY_${environment.toUpperCase()}_${field}`, `QFPAY_${field}`].find(
    (name) => (env[name] ?? '').trim() !== '',
  );
}

function credentialsCheck(config: QfpayConfig, env: NodeJS.ProcessEnv): DoctorCheck {
  const credentials = config.credentials;
  if (!credentials)
    return {
      id: 'credentials',
      status: 'info',
      // Only possible in local: the runtime then uses the simulator's public default credential,
      // for the embedded simulator and for a standalone one at QFPAY_BASE_URL alike.
      summary: `none set: the simulator's built-in test credential is used (app code ${DEFAULT_SIMULATOR_CREDENTIAL.appcode}, public, no real money)`,
      ...(config.baseUrl !== null
        ? {
            details: [
              `a standalone simulator at QFPAY_BASE_URL accepts it unless it was started with other --credential values`,
            ],
          }
        : {}),
    };
  const describe = (field: 'APPCODE' | 'KEY', what: string, value: string) =>
    `${what}: set via ${supplyingVariable(env, config.environment, field)} (${value.length} characters${value.length === 32 ? '' : '; QFPay usually issues 32'})`;
  const mchidVariable = supplyingVariable(env, config.environment, 'MCHID');
  const details = [
    describe('APPCODE', 'app code', credentials.appcode),
    describe('KEY', 'client key', credentials.key),
    credentials.mchid
      ? `mchid: set via ${mchidVariable}; sent on every call (right only if QFPay issued you an mchid)`
      : 'mchid: not set, never sent (right unless QFPay issued you an mchid)',
  ];
  const otherEnvironments = ENVIRONMENT_NAMES.filter(
    (e) =>
      e !== config.environment && supplyingVariable(env, e, 'KEY')?.startsWith(`QFPAY_${e.toUpperCase()}_`),
  );
  if (otherEnvironments.length > 0)
    details.push(
      `credentials for ${otherEnvironments.join(', ')} are also set; they are not used in ${config.environment}`,
    );
  return { id: 'credentials', status: 'ok', summary: 'app code and client key are set', details };
}

function signingCheck(config: QfpayConfig): DoctorCheck {
  const verify = config.verifyResponseSignatures
    ? "answers' X-QF-SIGN verified"
    : "answers' X-QF-SIGN NOT verified (QFPAY_VERIFY_RESPONSES=0)";
  const unverifiedRemotely = !config.verifyResponseSignatures && config.environment !== 'local';
  return {
    id: 'signing',
    status: unverifiedRemotely ? 'warn' : 'ok',
    summary: `requests signed with ${config.signType}${config.signType === 'SHA256' ? '' : ' (QFPAY_SIGN_TYPE)'}; ${verify}`,
    ...(unverifiedRemotely
      ? {
          fix: 'Unset QFPAY_VERIFY_RESPONSES unless QFPay confirmed your answers are not signed: an unverified answer about money can be forged in transit.',
        }
      : {}),
  };
}

function limitsCheck(config: QfpayConfig): DoctorCheck {
  return {
    id: 'limits',
    status: 'ok',
    summary: `rate limit ${formatRateWindows(config.rateLimits)} per merchant; timeout ${config.timeoutMs} ms per request`,
  };
}

function policyCheck(policy: MoneyPolicy, environment: EnvironmentName): DoctorCheck {
  const caps = (map: ReadonlyMap<string, number>) =>
    map.size === 0 ? 'none' : [...map].map(([currency, amount]) => formatMinor(amount, currency)).join(', ');
  const gate =
    environment === 'prod'
      ? policy.allowProdWrites
        ? 'production writes ALLOWED (each needs a confirmation)'
        : 'production writes blocked (payments, refunds and cancels refused; add --allow-prod-writes or QFPAY_ALLOW_PROD_WRITES=1 to enable)'
      : `writes allowed in ${environment}`;
  const confirm =
    policy.confirm === 'always'
      ? 'confirmation required for every write (QFPAY_CONFIRM=always)'
      : policy.confirm === 'prod'
        ? 'confirmation required for production writes only (QFPAY_CONFIRM=prod; test writes move real wallet money unconfirmed)'
        : 'confirmation required for writes in test and prod (real money)';
  const urls =
    policy.allowedUrlPrefixes.length > 0
      ? `notify/return URLs allowed under: ${policy.allowedUrlPrefixes.join(', ')}`
      : policy.allowLoopbackUrls
        ? 'notify/return URLs: loopback only (QFPAY_ALLOWED_URLS not set)'
        : 'notify/return URLs: none allowed (set QFPAY_ALLOWED_URLS to allow some)';
  return {
    id: 'money-policy',
    status: 'ok',
    summary: gate,
    details: [
      confirm,
      `per-transaction caps: ${caps(policy.maxTxamt)}`,
      `daily caps: ${caps(policy.dailyLimit)}`,
      urls,
      policy.confirmSecret
        ? 'confirmation secret: set (QFPAY_CONFIRM_SECRET)'
        : 'confirmation secret: random per process',
      policy.approval === 'operator'
        ? 'approvals: operator only, on the approval page (passkey or QFPAY_OPERATOR_SECRET); needs the money-state store'
        : 'approvals: confirmation tokens and client elicitation (agent-token / client-elicitation; QFPAY_APPROVAL=operator for the operator page)',
    ],
  };
}

/** QFPAY_READ_ONLY as the server reads it; undefined when the value is not a boolean word. */
function readOnlySwitch(env: NodeJS.ProcessEnv): boolean | undefined {
  try {
    return readBoolean(env, 'QFPAY_READ_ONLY', false);
  } catch {
    return undefined;
  }
}

/** QFPAY_TOOLSETS and QFPAY_READ_ONLY, read exactly as the server reads them. */
function serverSwitchChecks(env: NodeJS.ProcessEnv): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const readOnly = readOnlySwitch(env);
  if (readOnly === undefined)
    checks.push({
      id: 'tools',
      status: 'fail',
      summary: 'QFPAY_READ_ONLY: must be 1 or 0',
      fix: 'Set QFPAY_READ_ONLY=1 to expose no money-moving tool, or unset it.',
    });
  let toolsets: string;
  try {
    const selected = resolveToolsets(undefined, env);
    toolsets =
      (env.QFPAY_TOOLSETS ?? '').trim() === '' ? 'all toolsets' : `toolsets ${[...selected].join(', ')}`;
  } catch (error) {
    checks.push(configurationFailure('tools', error));
    return checks;
  }
  checks.push({
    id: 'tools',
    status: 'info',
    summary: `${toolsets}${readOnly ? '; read-only: no money-moving tool is registered' : ''}`,
  });
  return checks;
}

/** Mirrors the runtime: no credential variable set, and only credential-free toolsets enabled. */
function credentialFreeServer(env: NodeJS.ProcessEnv): boolean {
  const credentialSet = Object.entries(env).some(
    ([name, value]) => /^QFPAY_(?:[A-Z]+_)?(?:APPCODE|KEY|MCHID)$/.test(name) && (value ?? '').trim() !== '',
  );
  if (credentialSet || (env.QFPAY_TOOLSETS ?? '').trim() === '') return false;
  try {
    return [...resolveToolsets(undefined, env)].every(
      (toolset) => toolset === 'reference' || toolset === 'integration',
    );
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Audit ledger
// ---------------------------------------------------------------------------------------------

/**
 * The server refuses every money-moving call when it cannot write the ledger, so this matters.
 * The ledger itself is never opened for writing here (a running server may hold its lock): the
 * directory is proven writable with a throw-away file, and the ledger is only read and verified.
 *
 * It reports what the runtime will do with the same configuration: no ledger at all when no
 * money-moving tool is served, a temporary per-process ledger in `local` with the embedded
 * simulator (chooseLedgerLocation, the runtime's own rule), the configured file otherwise.
 */
async function ledgerCheck(
  env: NodeJS.ProcessEnv,
  config: QfpayConfig,
  configuredPath: string,
): Promise<DoctorCheck> {
  const served = moneyMovingToolsServed(env);
  if (served === false)
    return {
      id: 'ledger',
      status: 'info',
      summary: `no audit ledger is used: no money-moving tool is served (${
        readOnlySwitch(env) === true ? 'QFPAY_READ_ONLY' : 'QFPAY_TOOLSETS without payments'
      })`,
    };
  const databaseUrl = (env.QFPAY_DATABASE_URL ?? '').trim();
  if (databaseUrl !== '') {
    // openMoneyStore's rule: the database replaces the ledger file. Not connected to from here.
    return {
      id: 'ledger',
      status: 'info',
      summary: `money state and audit trail in PostgreSQL ${describeDatabaseUrl(databaseUrl)} (QFPAY_DATABASE_URL); the ledger file is not used`,
    };
  }
  let location: LedgerLocation;
  try {
    location = await chooseLedgerLocation({
      env,
      environment: config.environment,
      // `qfpay-mcp serve` keeps its embedded simulator's orders in the state directory
      // (lastingSimulator), so the ledger it uses is the lasting one in every way of running.
      embeddedSimulator: false,
      configuredPath,
    });
  } catch (error) {
    return temporaryLedgerFailure(path.join(tmpdir(), 'qfpay-mcp-ledger-*'), error);
  }
  if (!location.temporary) return persistentLedgerCheck(location.file);
  const directory = path.dirname(location.file);
  try {
    await proveWritable(directory);
  } catch (error) {
    return temporaryLedgerFailure(directory, error);
  } finally {
    await location.remove?.().catch(() => undefined);
  }
  return {
    id: 'ledger',
    status: 'ok',
    summary:
      'audit ledger: temporary, one per server process, deleted when it stops (the embedded simulator forgets its orders on exit); set QFPAY_STATE_DIR or QFPAY_AUDIT_LOG to keep it',
    details: [`a new directory under ${tmpdir()} for each process (checked: writable)`],
  };
}

function temporaryLedgerFailure(where: string, error: unknown): DoctorCheck {
  return {
    id: 'ledger',
    status: 'fail',
    summary: `the temporary audit ledger cannot be written in ${where} (${errorText(error)})`,
    fix: 'Payments, refunds and cancels will be refused until it can. Set QFPAY_STATE_DIR or QFPAY_AUDIT_LOG to a writable place (or TMPDIR to a writable temporary directory).',
  };
}

/**
 * Mirrors the runtime, which opens a ledger only when a money-moving tool is registered: the
 * payments toolset is enabled and the server is not read-only. Undefined when the switches are
 * invalid (the tools check fails; the ledger is then checked anyway).
 */
function moneyMovingToolsServed(env: NodeJS.ProcessEnv): boolean | undefined {
  const readOnly = readOnlySwitch(env);
  if (readOnly === undefined) return undefined;
  try {
    return !readOnly && resolveToolsets(undefined, env).has('payments');
  } catch {
    return undefined;
  }
}

async function persistentLedgerCheck(file: string): Promise<DoctorCheck> {
  const directory = path.dirname(file);
  try {
    await ensurePrivateDir(directory);
    await proveWritable(directory);
  } catch (error) {
    return {
      id: 'ledger',
      status: 'fail',
      summary: `audit ledger directory ${directory} is not writable (${errorText(error)})`,
      fix: 'Payments, refunds and cancels will be refused until it is. Fix the permissions, or set QFPAY_AUDIT_LOG (or QFPAY_STATE_DIR) to a writable place.',
    };
  }
  let exists: boolean;
  try {
    exists = (await stat(file)).isFile();
    if (!exists)
      return {
        id: 'ledger',
        status: 'fail',
        summary: `audit ledger path ${file} exists but is not a file`,
        fix: 'Point QFPAY_AUDIT_LOG at a file.',
      };
  } catch {
    exists = false;
  }
  if (!exists)
    return {
      id: 'ledger',
      status: 'ok',
      summary: `audit ledger ${file}: directory writable; the file is created on the first money-moving call`,
    };
  try {
    await access(file, fsConstants.R_OK | fsConstants.W_OK);
  } catch (error) {
    return {
      id: 'ledger',
      status: 'fail',
      summary: `audit ledger ${file} cannot be read and appended to (${errorText(error)})`,
      fix: 'Fix its permissions for the user running qfpay-mcp; money-moving calls are refused until then.',
    };
  }
  const verdict = await verifyLedgerFile(file);
  if (!verdict.ok)
    return {
      id: 'ledger',
      status: 'fail',
      summary: `audit ledger ${file} is broken at record ${verdict.firstBrokenSeq} (line ${verdict.line}): ${verdict.reason}`,
      fix: `Money-moving calls are refused while it is. Run "qfpay-mcp audit verify ${file}"; keep the file as evidence and point QFPAY_AUDIT_LOG at a new one.`,
    };
  return {
    id: 'ledger',
    status: 'ok',
    summary: `audit ledger ${file}: writable, ${verdict.records} record${verdict.records === 1 ? '' : 's'}, hash chain intact`,
  };
}

async function proveWritable(directory: string): Promise<void> {
  const probe = path.join(directory, `.doctor-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(probe, 'wx', 0o600);
  try {
    await handle.appendFile('qfpay-mcp doctor write test\n');
    await handle.sync();
  } finally {
    await handle.close();
    await unlink(probe).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Connection: a signed, harmless query
// ---------------------------------------------------------------------------------------------

interface ProbeTarget {
  readonly baseUrl: string;
  readonly credentials: Credentials;
  readonly description: string;
  stop(): Promise<void>;
}

interface ProbeResult {
  readonly error?: unknown;
  readonly events: readonly ClientEvent[];
  readonly elapsedMs: number;
}

async function connectionCheck(config: QfpayConfig): Promise<DoctorCheck> {
  let target: ProbeTarget;
  try {
    target = await probeTarget(config);
  } catch (error) {
    return {
      id: 'connection',
      status: 'fail',
      summary: `could not start the embedded simulator: ${errorText(error)}`,
      fix: 'Check that the process may listen on 127.0.0.1, or set QFPAY_BASE_URL to a running simulator.',
    };
  }
  try {
    const first = await probe(config, target, config.verifyResponseSignatures);
    if (!first.error) return connectionOk(config, target, first);
    // An answer signed with another key usually carries a 1108 we could not trust: look again,
    // without verification, only to name the code (nothing is acted on).
    if (first.error instanceof QfpayUnknownOutcomeError && lastOutcome(first) === 'bad_signature') {
      const second = await probe(config, target, false);
      return answerSignedWithOtherKey(config, target, second, first.events.at(-1)?.reason);
    }
    return connectionProblem(config, target, first);
  } finally {
    await target.stop().catch(() => undefined);
  }
}

async function probeTarget(config: QfpayConfig): Promise<ProbeTarget> {
  const credentials = config.credentials ?? { ...DEFAULT_SIMULATOR_CREDENTIAL };
  if (config.baseUrl !== null)
    return { baseUrl: config.baseUrl, credentials, description: config.baseUrl, stop: async () => {} };
  // local without QFPAY_BASE_URL: the same embedded simulator the server would start.
  const { startSimulator } = await import('./simulator/index.js');
  const simulator = await startSimulator({ quiet: true, credentials: [credentials] });
  return {
    baseUrl: simulator.baseUrl,
    credentials,
    description: `embedded simulator at ${simulator.baseUrl}`,
    stop: () => simulator.close(),
  };
}

async function probe(config: QfpayConfig, target: ProbeTarget, verify: boolean): Promise<ProbeResult> {
  const events: ClientEvent[] = [];
  const client = new QfpayClient({
    baseUrl: target.baseUrl,
    credentials: target.credentials,
    signType: config.signType,
    timeoutMs: config.timeoutMs,
    rateLimits: config.rateLimits,
    verifyResponseSignatures: verify,
    // One attempt each: the doctor reports what happened instead of hiding it behind retries.
    retry: { maxAttempts429: 1, readAttempts: 1 },
    onEvent: (event) => events.push(event),
  });
  const started = performance.now();
  try {
    // Letters and digits only: valid under every out_trade_no rule QFPay documents.
    await client.query({ out_trade_no: [`doctor${randomBytes(8).toString('hex')}`], page_size: 1 });
    return { events, elapsedMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { error, events, elapsedMs: Math.round(performance.now() - started) };
  } finally {
    await client.destroy();
  }
}

function lastOutcome(result: ProbeResult): ClientEvent['outcome'] | undefined {
  return result.events.at(-1)?.outcome;
}

function connectionOk(config: QfpayConfig, target: ProbeTarget, result: ProbeResult): DoctorCheck {
  return {
    id: 'connection',
    status: 'ok',
    summary: `${target.description} answered a signed query in ${result.elapsedMs} ms: signature accepted (${config.signType})`,
    details: [
      'probe: /trade/v1/query for an order number that cannot exist (0000, no rows); nothing was created',
      config.verifyResponseSignatures
        ? "the answer's X-QF-SIGN, when present, matched your key"
        : 'answer signatures not checked',
    ],
  };
}

function signatureCauses(config: QfpayConfig, credentials: Credentials): string[] {
  const otherSignType = config.signType === 'SHA256' ? 'MD5' : 'SHA256';
  return [
    'the client key is not the one QFPay issued with this app code (copy both again from the same QFPay e-mail or portal entry)',
    `the key belongs to another environment: this is ${config.environment} (${config.baseUrl ?? 'embedded simulator'}); QFPay issues separate credentials for sandbox, test and prod (QFPAY_ENV, or QFPAY_<ENV>_APPCODE/KEY)`,
    credentials.mchid
      ? 'an mchid is sent (QFPAY_MCHID) but QFPay did not assign one to this app code: unset it'
      : 'QFPay assigned an mchid to this app code but none is sent: set QFPAY_MCHID',
    `the channel expects the other algorithm: requests are signed with ${config.signType}; try QFPAY_SIGN_TYPE=${otherSignType}`,
  ];
}

function answerSignedWithOtherKey(
  config: QfpayConfig,
  target: ProbeTarget,
  second: ProbeResult,
  signatureReason: string | undefined,
): DoctorCheck {
  const respcd =
    second.error instanceof QfpayUpstreamError ? second.error.respcd : second.error ? undefined : '0000';
  if (respcd === '1108')
    return {
      id: 'connection',
      status: 'fail',
      summary: `${target.description} rejected the request signature (respcd 1108), and signed its answer with a different key than yours`,
      details: [
        'The host knows this app code under another key, so the client key is wrong here. Likely causes:',
        ...signatureCauses(config, target.credentials)
          .slice(0, 2)
          .map((cause) => `- ${cause}`),
      ],
      fix: 'Correct QFPAY_KEY (or QFPAY_<ENV>_KEY) for this app code and environment, then run qfpay-mcp doctor again. Nothing was processed.',
    };
  if (respcd === '0000') return answerSignatureMismatch(target, signatureReason);
  return connectionProblem(config, target, second);
}

/**
 * The request was accepted but the answer's signature is not: diagnosed by algorithm. The client
 * already accepts every documented way of signing an answer (MD5 or SHA-256 over the raw body,
 * the sorted-fields rule) with your key, honouring X-QF-SIGNTYPE when the answer declares one.
 */
function answerSignatureMismatch(target: ProbeTarget, reason: string | undefined): DoctorCheck {
  const declaredOtherwise = reason?.includes(' but its X-QF-SIGN matches ') ?? false;
  return {
    id: 'connection',
    status: 'fail',
    summary: `${target.description} accepted the request signature, but its answer's X-QF-SIGN does not verify under your key`,
    details: [
      `checked: ${reason ?? "the answer's X-QF-SIGN against MD5 and SHA-256 over the raw body and the sorted fields"}`,
      'Every answer will be treated as untrustworthy, so payments would end UNKNOWN.',
      declaredOtherwise
        ? 'The answer is signed with your key, but not with the algorithm its X-QF-SIGNTYPE header declares.'
        : 'No algorithm reproduces the signature with your key: something between you and QFPay rewrites answers (a proxy), or the host is not QFPay.',
    ],
    fix: declaredOtherwise
      ? 'Report the mismatch to QFPay support (technical.support@qfpay.com) with the summary above; keep verification on: the declared algorithm is what proves the answer, and an answer that contradicts it stays untrusted.'
      : 'Check QFPAY_BASE_URL and any proxy or gateway in between; point QFPAY_BASE_URL at the QFPay host itself and run qfpay-mcp doctor again.',
  };
}

function connectionProblem(config: QfpayConfig, target: ProbeTarget, result: ProbeResult): DoctorCheck {
  const error = result.error;
  const where = target.description;
  if (error instanceof QfpayUpstreamError) return upstreamProblem(config, target, error);
  if (error instanceof QfpayRateLimitedError)
    return {
      id: 'connection',
      status: 'fail',
      summary: `${where} answered HTTP 429 (rate limited): the request was not processed`,
      details: [
        'QFPay allows 100 requests per second and 400 per minute per merchant; other processes using these credentials count too.',
      ],
      fix: 'Wait a minute and run qfpay-mcp doctor again. If it persists, look for another process hammering QFPay with these credentials, or lower QFPAY_RATE_LIMITS for this server.',
    };
  if (error instanceof QfpayUnknownOutcomeError) return transportProblem(config, where, lastEvent(result));
  return { id: 'connection', status: 'fail', summary: `probe failed: ${errorText(error)}` };
}

function lastEvent(result: ProbeResult): ClientEvent | undefined {
  return result.events.at(-1);
}

function upstreamProblem(config: QfpayConfig, target: ProbeTarget, error: QfpayUpstreamError): DoctorCheck {
  const where = target.description;
  const upstream = error.upstreamMessage ? ` (QFPay says: ${error.upstreamMessage})` : '';
  if (error.respcd === '1108')
    return {
      id: 'connection',
      status: 'fail',
      summary: `${where} is reachable but rejected the request signature (respcd 1108)${upstream}`,
      details: [
        'Likely causes:',
        ...signatureCauses(config, target.credentials).map((cause) => `- ${cause}`),
      ],
      fix: 'Fix the credential named above and run qfpay-mcp doctor again; the diagnose_signature tool shows the exact string that is signed. Nothing was processed.',
    };
  if (error.respcd === '1104' && /mchid/i.test(error.upstreamMessage))
    return {
      id: 'connection',
      status: 'fail',
      summary: `${where} is reachable but refused the mchid setting (respcd 1104)${upstream}`,
      details: [
        'QFPay rule: if you were issued an mchid, send it on every call; if you were not, never send the field.',
        target.credentials.mchid
          ? 'An mchid is currently sent (QFPAY_MCHID is set).'
          : 'No mchid is currently sent (QFPAY_MCHID is not set).',
      ],
      fix: target.credentials.mchid
        ? 'Unset QFPAY_MCHID unless QFPay issued it for this app code, or correct its value.'
        : 'Set QFPAY_MCHID to the mchid QFPay issued with this app code.',
    };
  const explanation = explainRespcd(error.respcd, { endpoint: 'query' });
  return {
    id: 'connection',
    status: 'fail',
    summary: `${where} is reachable and answered respcd ${error.respcd}: ${explanation.meaning}${upstream}`,
    details: [`likely cause: ${explanation.likely_cause}`],
    fix: explanation.next_action,
  };
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const REFUSED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO|ALTNAME/;

/** Explains a request that got no trustworthy answer, from the client's last event (exported for tests). */
export function transportProblem(
  config: Pick<QfpayConfig, 'timeoutMs'>,
  where: string,
  event: ClientEvent | undefined,
): DoctorCheck {
  const reason = event?.reason ?? 'no trustworthy answer';
  const code = /\(([A-Z0-9_]+)\)/.exec(reason)?.[1];
  const base = { id: 'connection', status: 'fail' as const };
  const host = hostOf(where);
  if (event?.outcome === 'timeout')
    return {
      ...base,
      summary: `${where} did not answer within ${config.timeoutMs} ms`,
      details: [
        'A firewall dropping the traffic, a proxy that is required but not used, or a very slow network.',
      ],
      fix: `Check that this machine can reach ${host} on port 443 (e.g. curl -I ${originOf(where)}); raise QFPAY_TIMEOUT_MS only if the network is known to be slow.`,
    };
  if (code && DNS_CODES.has(code))
    return {
      ...base,
      summary: `the name ${host} could not be resolved (${code})`,
      fix: 'Check DNS and the spelling of QFPAY_BASE_URL (or QFPAY_ENV, which chooses the QFPay host).',
    };
  if (code && REFUSED_CODES.has(code))
    return {
      ...base,
      summary: `nothing accepted the connection to ${where} (${code})`,
      fix: 'Check QFPAY_BASE_URL (host and port), and that the simulator or proxy it points at is running.',
    };
  if (code && TLS_CODE.test(code))
    return {
      ...base,
      summary: `TLS to ${host} failed (${code}): the certificate could not be verified`,
      details: ['Usually a company proxy that intercepts HTTPS with its own certificate authority.'],
      fix: 'Point NODE_EXTRA_CA_CERTS at your company CA bundle; never disable certificate checks for a payment API.',
    };
  if (event?.outcome === 'http_error')
    return {
      ...base,
      summary: `${where} answered HTTP ${event.httpStatus ?? '5xx'}: QFPay (or a proxy in front of it) is failing`,
      fix: 'Try again in a few minutes; if it persists, check QFPay status with QFPay support.',
    };
  if (event?.outcome === 'bad_answer')
    return {
      ...base,
      summary: `${where} answered, but not like QFPay: ${reason}`,
      fix: 'Check QFPAY_BASE_URL: it must be the QFPay API origin (e.g. https://openapi-hk.qfapi.com), without a path such as /trade/v1.',
    };
  return {
    ...base,
    summary: `no usable answer from ${where}: ${reason}`,
    fix: 'Check the network path to QFPay and QFPAY_BASE_URL, then run qfpay-mcp doctor again.',
  };
}

function hostOf(where: string): string {
  const match = /https?:\/\/[^\s/]+/.exec(where);
  if (!match) return where;
  return new URL(match[0]).host;
}

function originOf(where: string): string {
  return /https?:\/\/[^\s/]+/.exec(where)?.[0] ?? where;
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

const MARKS: Readonly<Record<CheckStatus, string>> = {
  ok: '[ok]  ',
  info: '[info]',
  warn: '[warn]',
  fail: '[FAIL]',
};

export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`qfpay-mcp doctor ${report.version}`, ''];
  for (const check of report.checks) {
    lines.push(`${MARKS[check.status]} ${check.id}: ${check.summary}`);
    for (const detail of check.details ?? []) lines.push(`         ${detail}`);
    if (check.fix) lines.push(`         fix: ${check.fix}`);
  }
  const failures = report.checks.filter((c) => c.status === 'fail').length;
  const warnings = report.checks.filter((c) => c.status === 'warn').length;
  lines.push('');
  lines.push(
    failures === 0
      ? `No problems found${warnings > 0 ? ` (${plural(warnings, 'warning')})` : ''}.`
      : `${plural(failures, 'problem')} found${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}.`,
  );
  return `${lines.join('\n')}\n`;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/** Every configured secret value, for the final redaction pass. */
function secretsIn(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env)
    .filter(([name]) =>
      /^QFPAY_(?:[A-Z]+_)?KEY$|^QFPAY_MCP_TOKEN$|^QFPAY_CONFIRM_SECRET$|^QFPAY_OPERATOR_SECRET$/.test(name),
    )
    .flatMap(([name, value]) => (name === 'QFPAY_MCP_TOKEN' ? (value ?? '').split(',') : [value ?? '']))
    .map((value) => value.trim())
    .filter((value) => value.length >= 6);
}
