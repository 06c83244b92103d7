import { parseRateWindows, formatRateWindows } from '../qfpay/rate-windows.js';
import { DEFAULT_RATE_LIMITS, DEFAULT_SIMULATOR_CREDENTIAL, SimulatorOptionsError } from './options.js';
import type { SimCredential, SimulatorOptions } from './options.js';
import { defaultSimulatorStateFile, resetStateFile } from './persistence.js';
import { RESPONSE_SIGN_MODES } from './options.js';
import type { ResponseSignMode } from './options.js';
import { startSimulator } from './server.js';

/** A bad command line. The message says which flag and what is expected; the caller exits non-zero. */
export class SimulatorCliError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(`${message}\nRun "qfpay-mcp simulator --help" for usage.`);
    this.name = 'SimulatorCliError';
  }
}

export const SIMULATOR_USAGE = `Usage: qfpay-mcp simulator [options]
       qfpay-mcp simulator reset [--state-file FILE]

Runs a local, stateful QFPay OpenAPI simulator (no real money, no network).

Options:
  --host HOST                 interface to listen on (default 127.0.0.1)
  --port PORT                 port, 0 for any free port (default 8787)
  --credential APPCODE:KEY[:MCHID]
                              accept this merchant; repeat for more
                              (default: the built-in simulator credential)
  --rate-limits WINDOWS       per-merchant limits, e.g. 100/1s,400/60s (the default)
  --time-scale N              simulated seconds per real second for expiries,
                              pending settlement and notification retries (default 1)
  --response-sign MODE        algorithm of the answers' X-QF-SIGN: md5 (default,
                              the documented rule), sha256, or request (the
                              algorithm the request was signed with)
  --state-file FILE           keep orders and refunds in FILE across restarts
  --quiet                     no warnings on stderr
  -h, --help                  show this help

reset: empties the state file (default: simulator-state.jsonl in the
       qfpay-mcp state directory, QFPAY_STATE_DIR or ~/.local/state/qfpay-mcp).

Docs: docs/simulator.md (magic auth codes, control API under /__sim/, faults).
`;

export type SimulatorCliCommand =
  { kind: 'help' } | { kind: 'run'; options: SimulatorOptions } | { kind: 'reset'; stateFile: string };

const VALUE_FLAGS = new Set([
  '--host',
  '--port',
  '--credential',
  '--rate-limits',
  '--time-scale',
  '--response-sign',
  '--state-file',
]);

/** Parses the arguments after `simulator`. Throws SimulatorCliError for anything it cannot use. */
export function parseSimulatorArgs(argv: readonly string[]): SimulatorCliCommand {
  if (argv[0] === 'reset') return parseResetArgs(argv.slice(1));
  const options: SimulatorOptions = { port: 8787 };
  const credentials: SimCredential[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (arg === '--quiet') {
      options.quiet = true;
      continue;
    }
    const [flag, inlineValue] = splitFlag(arg);
    if (!VALUE_FLAGS.has(flag))
      throw new SimulatorCliError(
        flag.startsWith('-') ? `unknown option ${flag}` : `unexpected argument ${JSON.stringify(arg)}`,
      );
    let value = inlineValue;
    if (value === undefined) {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || (inlineValue === undefined && value.startsWith('--')))
      throw new SimulatorCliError(`${flag} needs a value`);
    applyFlag(options, credentials, flag, value);
  }
  if (credentials.length > 0) options.credentials = credentials;
  return { kind: 'run', options };
}

function parseResetArgs(argv: readonly string[]): SimulatorCliCommand {
  let stateFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    const [flag, inlineValue] = splitFlag(arg);
    if (flag !== '--state-file')
      throw new SimulatorCliError(`reset takes only --state-file FILE, got ${JSON.stringify(arg)}`);
    const value = inlineValue ?? argv[++i];
    if (value === undefined || value.trim() === '') throw new SimulatorCliError('--state-file needs a value');
    stateFile = value;
  }
  return { kind: 'reset', stateFile: stateFile ?? defaultSimulatorStateFile() };
}

function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
}

function applyFlag(
  options: SimulatorOptions,
  credentials: SimCredential[],
  flag: string,
  value: string,
): void {
  switch (flag) {
    case '--host':
      if (value.trim() === '') throw new SimulatorCliError('--host must not be empty');
      options.host = value;
      return;
    case '--port': {
      const port = Number(value);
      if (!/^\d{1,5}$/.test(value) || port > 65_535)
        throw new SimulatorCliError(`--port must be an integer 0–65535, got ${JSON.stringify(value)}`);
      options.port = port;
      return;
    }
    case '--credential':
      credentials.push(parseCredential(value));
      return;
    case '--rate-limits':
      try {
        options.rateLimits = parseRateWindows(value);
      } catch (error) {
        throw new SimulatorCliError(`--rate-limits: ${(error as Error).message}`);
      }
      return;
    case '--time-scale': {
      const scale = Number(value);
      if (value.trim() === '' || !Number.isFinite(scale) || scale <= 0)
        throw new SimulatorCliError(`--time-scale must be a positive number, got ${JSON.stringify(value)}`);
      options.timeScale = scale;
      return;
    }
    case '--response-sign': {
      const mode = value.trim().toLowerCase();
      if (!(RESPONSE_SIGN_MODES as readonly string[]).includes(mode))
        throw new SimulatorCliError(
          `--response-sign must be one of ${RESPONSE_SIGN_MODES.join(', ')}, got ${JSON.stringify(value)}`,
        );
      options.responseSign = mode as ResponseSignMode;
      return;
    }
    case '--state-file':
      if (value.trim() === '') throw new SimulatorCliError('--state-file must not be empty');
      options.stateFile = value;
      return;
  }
}

/**
 * `APPCODE:KEY` or `APPCODE:KEY:MCHID`. A key containing `:` cannot be given this way, because
 * the third part would be read as the mchid.
 */
export function parseCredential(text: string): SimCredential {
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((part) => part === ''))
    throw new SimulatorCliError('--credential must be APPCODE:KEY or APPCODE:KEY:MCHID with no empty part');
  const [appcode, key, mchid] = parts as [string, string, string | undefined];
  return mchid === undefined ? { appcode, key } : { appcode, key, mchid };
}

export interface SimulatorCliIo {
  /** Where the banner and help go (default process.stdout). */
  readonly out?: (text: string) => void;
  /** Stops the simulator when aborted, in addition to SIGINT / SIGTERM (for embedding and tests). */
  readonly stop?: AbortSignal;
}

/**
 * `qfpay-mcp simulator …`: starts the simulator, prints where it listens and which credentials it
 * accepts, and runs until SIGINT or SIGTERM.
 */
export async function runSimulatorCli(argv: string[], io: SimulatorCliIo = {}): Promise<void> {
  const out = io.out ?? ((text: string) => void process.stdout.write(text));
  const command = parseSimulatorArgs(argv);
  if (command.kind === 'help') {
    out(SIMULATOR_USAGE);
    return;
  }
  if (command.kind === 'reset') {
    resetStateFile(command.stateFile);
    out(`Simulator state cleared: ${command.stateFile}\n`);
    return;
  }
  let simulator;
  try {
    simulator = await startSimulator(command.options);
  } catch (error) {
    if (error instanceof SimulatorOptionsError) throw new SimulatorCliError(error.message);
    if ((error as { code?: unknown }).code === 'EADDRINUSE')
      throw new SimulatorCliError(
        `port ${command.options.port ?? 8787} is already in use; pick another with --port`,
      );
    throw error;
  }
  out(startupBanner(simulator.baseUrl, simulator.credentials, command.options));
  if (!isLoopbackHost(command.options.host ?? '127.0.0.1') && !command.options.quiet)
    console.warn(
      '[qfpay-simulator] listening beyond loopback: anyone who can reach this port can use the trade API (the /__sim/ control API still answers loopback only)',
    );
  await waitForStop(io.stop);
  await simulator.close();
}

function startupBanner(
  baseUrl: string,
  credentials: readonly SimCredential[],
  options: SimulatorOptions,
): string {
  const lines = [`QFPay simulator listening on ${baseUrl}`, 'Accepted credentials:'];
  for (const credential of credentials) {
    // The built-in key is fake and documented; a key given on the command line is not echoed.
    const isDefault =
      credential.appcode === DEFAULT_SIMULATOR_CREDENTIAL.appcode &&
      credential.key === DEFAULT_SIMULATOR_CREDENTIAL.key;
    const key = isDefault ? credential.key : '(as given with --credential)';
    lines.push(
      `  appcode ${credential.appcode}  key ${key}  ${credential.mchid ? `mchid ${credential.mchid}` : '(no mchid)'}`,
    );
  }
  lines.push(
    `Rate limits: ${formatRateWindows(options.rateLimits ?? DEFAULT_RATE_LIMITS)} per appcode+mchid; time scale ${options.timeScale ?? 1}`,
    `Control API (loopback only): ${baseUrl}/__sim/  (pay, clock, faults, requests, notifications, transactions, reset)`,
    'Press Ctrl+C to stop.',
    '',
  );
  return lines.join('\n');
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop);
  });
}
