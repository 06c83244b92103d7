import { mkdir, open, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Where the server keeps per-user state (the audit ledger). Resolution order:
 *
 * 1. `QFPAY_STATE_DIR` (relative paths are resolved against the working directory);
 * 2. Windows: `%LOCALAPPDATA%\qfpay-mcp` (else `<home>\AppData\Local\qfpay-mcp`);
 * 3. elsewhere: `$XDG_STATE_HOME/qfpay-mcp` when XDG_STATE_HOME is an absolute path (the XDG spec
 *    says relative values are invalid and must be ignored), else `~/.local/state/qfpay-mcp`.
 *
 * macOS uses the XDG layout too: it is what CLI tools there conventionally do, and it keeps the
 * path predictable for operators who ship the ledger off the host.
 */

export const STATE_DIR_NAME = 'qfpay-mcp';

export interface StateDirOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly platform?: NodeJS.Platform;
  readonly home?: string;
  readonly cwd?: string;
}

export function resolveStateDir(options: StateDirOptions = {}): string {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const paths = platform === 'win32' ? path.win32 : path.posix;
  const cwd = options.cwd ?? process.cwd();

  const explicit = nonEmpty(env.QFPAY_STATE_DIR);
  if (explicit) return paths.resolve(cwd, explicit);

  const home = options.home ?? homedir();
  if (platform === 'win32') {
    const localAppData = nonEmpty(env.LOCALAPPDATA);
    return localAppData
      ? paths.join(localAppData, STATE_DIR_NAME)
      : paths.join(home, 'AppData', 'Local', STATE_DIR_NAME);
  }
  const xdgStateHome = nonEmpty(env.XDG_STATE_HOME);
  if (xdgStateHome && paths.isAbsolute(xdgStateHome)) return paths.join(xdgStateHome, STATE_DIR_NAME);
  return paths.join(home, '.local', 'state', STATE_DIR_NAME);
}

/**
 * `<state dir>/audit-<environment>.jsonl`. One ledger per environment keeps each hash chain about
 * one kind of money: a local rehearsal never appears in the production audit trail, and daily caps
 * count only the environment they protect.
 */
export function defaultAuditLogPath(environment: string, options: StateDirOptions = {}): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(environment)) {
    // Environment names come from the catalog; anything else must not become part of a path.
    throw new RangeError(`invalid environment name for a ledger file: ${JSON.stringify(environment)}`);
  }
  const paths = (options.platform ?? process.platform) === 'win32' ? path.win32 : path.posix;
  return paths.join(resolveStateDir(options), `audit-${environment}.jsonl`);
}

/** `QFPAY_AUDIT_LOG` when set (resolved against the working directory), else {@link defaultAuditLogPath}. */
export function resolveAuditLogPath(environment: string, options: StateDirOptions = {}): string {
  const env = options.env ?? process.env;
  const explicit = nonEmpty(env.QFPAY_AUDIT_LOG);
  if (explicit) {
    const paths = (options.platform ?? process.platform) === 'win32' ? path.win32 : path.posix;
    return paths.resolve(options.cwd ?? process.cwd(), explicit);
  }
  return defaultAuditLogPath(environment, options);
}

/**
 * Creates `dir` (and parents) readable only by the current user. Existing directories keep their
 * mode: tightening a directory the operator chose (e.g. a shared log volume) is not our call.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} exists but is not a directory`);
}

/**
 * Makes a newly created directory entry durable (fsync of the parent directory). Not possible on
 * Windows, where directories cannot be opened; NTFS journals the entry anyway.
 */
export async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
