import { parseArgs } from 'node:util';

import { ENVIRONMENT_NAMES } from '../qfpay/catalog/environments.js';
import type { EnvironmentName } from '../qfpay/catalog/types.js';
import { resolveEnvironment } from '../qfpay/config.js';
import { QfpayConfigError } from '../qfpay/errors.js';
import { formatMinor } from '../qfpay/money.js';
import { formatQfpayDateTime } from '../qfpay/time.js';
import type { LedgerRecord } from '../safety/ledger.js';
import { readLedgerFile, verifyLedgerFile } from '../safety/ledger.js';
import type { MoneyStore } from '../safety/money-store.js';
import { describeDatabaseUrl, openMoneyStore } from '../safety/open-money-store.js';
import { sanitizeUpstreamText } from '../safety/sanitize.js';
import { resolveAuditLogPath } from '../safety/state-dir.js';

/**
 * `qfpay-mcp audit verify [FILE]` and `qfpay-mcp audit list [--limit N] [--file FILE] [--json]`.
 *
 * Exit codes: 0 fine; 1 the hash chain is broken (list still shows the records before the break);
 * 2 usage error or unreadable file. Both commands only read the ledger: they never repair it.
 * The default file is QFPAY_AUDIT_LOG, else the state-dir ledger of QFPAY_ENV (resolved like the
 * server does: unset means sandbox when credentials are configured, local otherwise).
 */

export interface AuditCliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

const EXIT_OK = 0;
const EXIT_BROKEN = 1;
const EXIT_USAGE = 2;
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100_000;

const USAGE = `Usage: qfpay-mcp audit <command> [options]

Inspect the audit ledger of money-moving actions (hash-chained JSONL).

Commands:
  verify [FILE]   Check the hash chain; exit 1 and name the first broken record if it is not intact
  list            Show recent money-moving actions, newest first
  export          Write a verified ledger as JSONL (to move it to PostgreSQL, or off the host)
  import FILE     Copy a JSONL ledger into the PostgreSQL store of QFPAY_DATABASE_URL

With QFPAY_DATABASE_URL set, verify and list without a FILE read the PostgreSQL store.

Run "qfpay-mcp audit <command> --help" for a command's options.
`;

const VERIFY_USAGE = `Usage: qfpay-mcp audit verify [FILE] [--file FILE] [--json]

Checks every record of the ledger: canonical form, sequence, prev_hash link and SHA-256 hash.
Prints OK and the record count, or the first broken record and why.

Options:
  --file FILE   Ledger file (default: QFPAY_AUDIT_LOG, else the state-dir ledger for QFPAY_ENV)
  --json        Print the result as JSON
  -h, --help    Show this help

Exit status: 0 intact, 1 broken, 2 usage error or unreadable file.
`;

const LIST_USAGE = `Usage: qfpay-mcp audit list [--limit N] [--file FILE] [--json]

Shows recent money-moving actions, newest first: one row per intent with its latest outcome.

Options:
  --limit N     How many actions to show (default ${DEFAULT_LIMIT})
  --file FILE   Ledger file (default: QFPAY_AUDIT_LOG, else the state-dir ledger for QFPAY_ENV)
  --json        Print the actions as a JSON array
  -h, --help    Show this help

Exit status: 0 listed, 1 the chain is broken (records before the break are listed), 2 usage error
or unreadable file.
`;

/** Runs the audit command; `argv` is what follows `qfpay-mcp audit`. Resolves to the exit code. */
export async function runAuditCli(argv: readonly string[], io: Partial<AuditCliIo> = {}): Promise<number> {
  const out: AuditCliIo = {
    stdout: io.stdout ?? ((text) => process.stdout.write(text)),
    stderr: io.stderr ?? ((text) => process.stderr.write(text)),
    env: io.env ?? process.env,
  };
  const [command, ...rest] = argv[0] === 'audit' ? argv.slice(1) : argv;
  // export and import (moving a ledger to or from PostgreSQL) live in their own module.
  const transferred = await (await import('./audit-transfer.js')).runAuditTransfer(command, rest, out);
  if (transferred !== undefined) return transferred;
  switch (command) {
    case 'verify':
      return runVerify(rest, out);
    case 'list':
      return runList(rest, out);
    case '--help':
    case '-h':
    case 'help':
      out.stdout(USAGE);
      return EXIT_OK;
    case undefined:
      out.stderr(USAGE);
      return EXIT_USAGE;
    default:
      out.stderr(`qfpay-mcp audit: unknown command "${sanitizeUpstreamText(command, 40)}"\n\n${USAGE}`);
      return EXIT_USAGE;
  }
}

interface Parsed {
  readonly values: {
    readonly file?: string;
    readonly limit?: string;
    readonly json?: boolean;
    readonly help?: boolean;
  };
  readonly positionals: readonly string[];
}

const OPTIONS = {
  file: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(args: readonly string[], command: string, io: AuditCliIo, usage: string): Parsed | undefined {
  try {
    return parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.stderr(`qfpay-mcp audit ${command}: ${(error as Error).message}\n\n${usage}`);
    return undefined;
  }
}

async function runVerify(args: readonly string[], io: AuditCliIo): Promise<number> {
  const parsed = parse(args, 'verify', io, VERIFY_USAGE);
  if (!parsed) return EXIT_USAGE;
  if (parsed.values.help) {
    io.stdout(VERIFY_USAGE);
    return EXIT_OK;
  }
  if (parsed.values.limit !== undefined)
    return usageError(io, 'verify', '--limit applies to list only', VERIFY_USAGE);
  const database = databaseStore(parsed, io);
  const file = database ? database.label : chooseFile(parsed, io, 'verify', VERIFY_USAGE);
  if (file === undefined) return EXIT_USAGE;

  let result;
  try {
    result = database ? await withStore(database, (store) => store.verify()) : await verifyLedgerFile(file);
  } catch (error) {
    return unreadable(io, 'verify', file, error);
  }
  if (parsed.values.json) {
    io.stdout(`${JSON.stringify({ file, ...result })}\n`);
  } else if (result.ok) {
    io.stdout(`OK ${file}: ${result.records} records, hash chain intact.\n`);
  } else {
    io.stdout(
      `BROKEN ${file}: record ${result.firstBrokenSeq} (line ${result.line}): ${result.reason}.\n` +
        `${result.records} records before it verify. Do not edit the file; keep it as evidence and investigate.\n`,
    );
  }
  return result.ok ? EXIT_OK : EXIT_BROKEN;
}

async function runList(args: readonly string[], io: AuditCliIo): Promise<number> {
  const parsed = parse(args, 'list', io, LIST_USAGE);
  if (!parsed) return EXIT_USAGE;
  if (parsed.values.help) {
    io.stdout(LIST_USAGE);
    return EXIT_OK;
  }
  if (parsed.positionals.length > 0)
    return usageError(io, 'list', 'takes no positional arguments (use --file)', LIST_USAGE);
  const limit = parseLimit(parsed.values.limit);
  if (limit === undefined) {
    return usageError(io, 'list', `--limit must be a whole number from 1 to ${MAX_LIMIT}`, LIST_USAGE);
  }
  const database = databaseStore(parsed, io);
  const file = database ? database.label : chooseFile(parsed, io, 'list', LIST_USAGE);
  if (file === undefined) return EXIT_USAGE;

  let contents: Awaited<ReturnType<typeof readLedgerFile>>;
  try {
    contents = database
      ? { records: [...(await withStore(database, (store) => store.listRecords()))] }
      : await readLedgerFile(file);
  } catch (error) {
    return unreadable(io, 'list', file, error);
  }
  const actions = summariseActions(contents.records).slice(0, limit);
  if (parsed.values.json) {
    io.stdout(`${JSON.stringify(actions, null, 2)}\n`);
  } else if (actions.length === 0) {
    io.stdout(`No money-moving actions recorded in ${file}.\n`);
  } else {
    io.stdout(renderTable(actions));
  }
  if (contents.problem) {
    io.stderr(
      `warning: the ledger is broken at record ${contents.problem.seq} (line ${contents.problem.line}): ${contents.problem.reason}. ` +
        `Only records before it are shown; run "qfpay-mcp audit verify ${file}".\n`,
    );
    return EXIT_BROKEN;
  }
  return EXIT_OK;
}

/**
 * With QFPAY_DATABASE_URL set and no file named, the records live in PostgreSQL: read them through
 * the same store the server uses (openMoneyStore). Otherwise the ledger file is read directly,
 * which is exactly what the embedded store holds.
 */
function databaseStore(parsed: Parsed, io: AuditCliIo): { label: string; url: string } | undefined {
  const url = (io.env.QFPAY_DATABASE_URL ?? '').trim();
  if (url === '' || parsed.values.file !== undefined || parsed.positionals.length > 0) return undefined;
  return { label: describeDatabaseUrl(url), url };
}

async function withStore<T>(database: { url: string }, read: (store: MoneyStore) => Promise<T>): Promise<T> {
  const store = await openMoneyStore({ env: { QFPAY_DATABASE_URL: database.url }, ledgerFile: '' });
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return DEFAULT_LIMIT;
  if (!/^\d+$/.test(raw)) return undefined;
  const limit = Number(raw);
  return limit >= 1 && limit <= MAX_LIMIT ? limit : undefined;
}

function chooseFile(parsed: Parsed, io: AuditCliIo, command: string, usage: string): string | undefined {
  const candidates = [parsed.values.file, ...parsed.positionals].filter((item) => item !== undefined);
  if (candidates.length > 1) {
    usageError(io, command, 'give the ledger file once (either FILE or --file FILE)', usage);
    return undefined;
  }
  if (candidates[0] !== undefined) return candidates[0];
  const environment = environmentFromEnv(io.env);
  if (!environment) {
    usageError(
      io,
      command,
      `QFPAY_ENV is not one of ${ENVIRONMENT_NAMES.join(', ')}; pass the ledger file explicitly`,
      usage,
    );
    return undefined;
  }
  return resolveAuditLogPath(environment, { env: io.env });
}

/** QFPAY_ENV read by the server's own rule; undefined when it names no known environment. */
function environmentFromEnv(env: NodeJS.ProcessEnv): EnvironmentName | undefined {
  try {
    return resolveEnvironment(env);
  } catch (error) {
    if (error instanceof QfpayConfigError) return undefined;
    throw error;
  }
}

function usageError(io: AuditCliIo, command: string, message: string, usage: string): number {
  io.stderr(`qfpay-mcp audit ${command}: ${message}\n\n${usage}`);
  return EXIT_USAGE;
}

function unreadable(io: AuditCliIo, command: string, file: string, error: unknown): number {
  const code = (error as NodeJS.ErrnoException).code;
  const hint =
    code === 'ENOENT' ? ' (no such file: nothing has been recorded there yet, or the path is wrong)' : '';
  io.stderr(`qfpay-mcp audit ${command}: cannot read ${file}: ${code ?? 'error'}${hint}\n`);
  return EXIT_USAGE;
}

export interface ActionSummary {
  readonly seq: number;
  readonly time: string;
  readonly environment: string;
  readonly tool: string;
  readonly kind: string;
  readonly out_trade_no: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly status: string;
  readonly respcd?: string;
  readonly syssn?: string;
  readonly orig_syssn?: string;
  readonly resolved_at?: string;
}

/** One row per intent, with its latest outcome, newest intent first. */
export function summariseActions(records: readonly LedgerRecord[]): ActionSummary[] {
  const byIntent = new Map<string, { intent: LedgerRecord; latest?: LedgerRecord }>();
  for (const record of records) {
    if (record.step === 'intent') byIntent.set(record.intent_id, { intent: record });
    else {
      const entry = byIntent.get(record.intent_id);
      if (entry) entry.latest = record;
    }
  }
  return [...byIntent.values()].reverse().map(({ intent, latest }) => {
    const syssn = latest?.syssn ?? intent.syssn;
    const orig = latest?.orig_syssn ?? intent.orig_syssn;
    return {
      seq: intent.seq,
      time: intent.time,
      environment: intent.environment,
      tool: intent.tool,
      kind: intent.kind,
      out_trade_no: intent.out_trade_no,
      txamt: intent.txamt,
      txcurrcd: intent.txcurrcd,
      status: latest?.status ?? 'NO OUTCOME',
      ...(latest?.respcd ? { respcd: latest.respcd } : {}),
      ...(syssn ? { syssn } : {}),
      ...(orig ? { orig_syssn: orig } : {}),
      ...(latest ? { resolved_at: latest.time } : {}),
    };
  });
}

function renderTable(actions: readonly ActionSummary[]): string {
  const header = ['TIME (UTC+8)', 'ENV', 'TOOL', 'OUT_TRADE_NO', 'AMOUNT', 'STATUS', 'RESPCD', 'SYSSN'];
  const rows = actions.map((action) => [
    formatQfpayDateTime(new Date(action.time)),
    action.environment,
    action.tool,
    action.out_trade_no,
    amount(action.txamt, action.txcurrcd),
    action.status,
    action.respcd ?? '',
    action.syssn ?? '',
  ]);
  // Ledger text was sanitised when written; sanitising again protects the terminal from a hand-edited file.
  const cells = [header, ...rows].map((row) => row.map((cell) => sanitizeUpstreamText(cell, 48)));
  const widths = header.map((_, column) =>
    Math.max(...cells.map((row) => Array.from(row[column] ?? '').length)),
  );
  return cells
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd((widths[column] ?? 0) + cell.length - Array.from(cell).length))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

function amount(txamt: number, txcurrcd: string): string {
  try {
    return formatMinor(txamt, txcurrcd);
  } catch {
    return `${txcurrcd} ${txamt} (minor units)`;
  }
}
