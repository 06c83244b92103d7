import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';

/** Exit codes: 0 ok, 1 runtime/configuration failure, 2 wrong usage (bad flag or value). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Wrong command-line usage; printed with a pointer to --help and exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose --help to point at, e.g. "serve". */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Text output of the command line; injectable so commands can be tested in-process. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  env: process.env,
};

/**
 * Flags that would carry a secret. Secrets on a command line leak into shell history, `ps` and
 * host config files, so they are refused with a pointer to the environment variable instead.
 */
const SECRET_FLAGS: ReadonlyArray<{ pattern: RegExp; variable: string }> = [
  { pattern: /^(mcp-?)?token$|^bearer(-token)?$|^auth(orization)?$/, variable: 'QFPAY_MCP_TOKEN' },
  {
    pattern:
      /^(app-?|client-?|api-?|sign-?|secret-?)?key$|^secret$|^password$|^app-?secret$|^client-?secret$/,
    variable: 'QFPAY_KEY',
  },
];

export function rejectSecretFlags(argv: readonly string[], command: string): void {
  for (const arg of argv) {
    if (arg === '--') return;
    if (!arg.startsWith('--')) continue;
    // Only the flag name is ever echoed, never a value after "=".
    const name = arg.slice(2).split('=')[0]!.toLowerCase();
    const secret = SECRET_FLAGS.find((entry) => entry.pattern.test(name));
    if (secret) {
      throw new UsageError(
        `--${name} is not accepted: secrets are never taken from the command line (they leak into shell history and process lists). ` +
          `Set ${secret.variable} in the environment instead.`,
        command,
      );
    }
  }
}

/** `parseArgs` in strict mode, with its errors turned into UsageErrors that never echo values. */
type FlagOptions = NonNullable<ParseArgsConfig['options']>;
type StrictConfig<T extends FlagOptions> = {
  args: string[];
  options: T;
  strict: true;
  allowPositionals: false;
};
export type ParsedFlags<T extends FlagOptions> = ReturnType<typeof parseArgs<StrictConfig<T>>>['values'];

export function parseStrict<const T extends FlagOptions>(
  argv: readonly string[],
  options: T,
  command: string,
): ParsedFlags<T> {
  rejectSecretFlags(argv, command);
  try {
    return parseArgs({ args: [...argv], options, strict: true as const, allowPositionals: false as const })
      .values;
  } catch (error) {
    throw new UsageError(describeParseError(error), command);
  }
}

function describeParseError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return 'unexpected argument; this command takes flags only';
  }
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    // Node names only the option in these messages; strip its trailing hints about "--" for brevity.
    return message
      .replace(/\. To specify a positional argument.*$/s, '')
      .replace(/^Unknown option/, 'unknown option');
  }
  return message;
}

export function parsePort(value: string, flag = '--port'): number {
  if (!/^\d+$/.test(value))
    throw new UsageError(`${flag} must be a whole number from 0 to 65535, got "${value}"`, 'serve');
  const port = Number(value);
  if (port > 65535)
    throw new UsageError(`${flag} must be a whole number from 0 to 65535, got "${value}"`, 'serve');
  return port;
}

export function parsePositiveInteger(value: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got "${value}"`, 'serve');
  }
  return Number(value);
}

/** Comma-separated list; empty items are dropped. */
export function parseList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
