import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import { resolveEnvironment } from '../qfpay/config.js';
import { readVariable } from '../qfpay/env.js';
import { canonicalJson } from '../safety/idempotency.js';
import { LedgerError, type LedgerRecord, readLedgerFile } from '../safety/ledger.js';
import type { MoneyStore } from '../safety/money-store.js';
import { sanitizeUpstreamText } from '../safety/sanitize.js';
import { resolveAuditLogPath } from '../safety/state-dir.js';
import type { AuditCliIo } from './audit.js';

/**
 * Moving a ledger between the embedded store and PostgreSQL (`QFPAY_DATABASE_URL`):
 *
 * - `audit export [FILE] [--out FILE] [--database]` writes a ledger as JSONL (the embedded ledger
 *   file by default, the database with --database), after verifying its chain: the lines are the
 *   records' canonical form, so the output verifies with `audit verify OUT`;
 * - `audit import FILE` copies a JSONL ledger into the database, verified first and again after;
 *   running it again adds nothing (see `stores/postgres-import.ts`).
 *
 * `audit verify` and `audit list` read the database themselves when QFPAY_DATABASE_URL is set (audit.ts).
 * pg is loaded only when a database is used. Exit codes as for the other audit commands: 0 fine, 1 a chain
 * is broken (or the database holds another one), 2 usage error or unreachable store.
 */

const EXIT_OK = 0;
const EXIT_BROKEN = 1;
const EXIT_USAGE = 2;

const EXPORT_USAGE = `Usage: qfpay-mcp audit export [FILE] [--out FILE] [--database]

Writes the audit ledger as JSONL (one canonical record per line), after verifying its hash chain.
The output is itself a ledger file: "qfpay-mcp audit verify OUT" checks it, "audit import" loads it.

Options:
  FILE          Embedded ledger to export (default: QFPAY_AUDIT_LOG, else the state-dir ledger for QFPAY_ENV)
  --database    Export the PostgreSQL ledger of QFPAY_DATABASE_URL instead
  --out FILE    Write to FILE instead of standard output (refuses to overwrite an existing file)
  -h, --help    Show this help

Exit status: 0 exported, 1 the chain is broken (nothing written), 2 usage error or unreadable ledger.
`;

const IMPORT_USAGE = `Usage: qfpay-mcp audit import FILE

Copies a JSONL ledger (the embedded store's file, or "audit export" output) into the PostgreSQL
store of QFPAY_DATABASE_URL, records unchanged (same seq and hashes). The file's chain is verified
first and the database's after. Records already in the database are skipped, so it is safe to run
again; a database holding a different ledger is refused.

Stop the servers that write FILE first, import, then restart them with QFPAY_DATABASE_URL set.

Exit status: 0 imported (or already present), 1 a chain is broken or the database holds another
ledger, 2 usage error, unreadable file or unreachable database.
`;

const OPTIONS = {
  file: { type: 'string' },
  out: { type: 'string' },
  database: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs `command` when it is export or import; undefined for the commands `audit.ts` handles. */
export async function runAuditTransfer(
  command: string | undefined,
  args: readonly string[],
  io: AuditCliIo,
): Promise<number | undefined> {
  const databaseUrl = readVariable(io.env, 'QFPAY_DATABASE_URL');
  switch (command) {
    case 'export':
      return runExport(args, io, databaseUrl);
    case 'import':
      return runImport(args, io, databaseUrl);
    default:
      return undefined;
  }
}

function parse(args: readonly string[], command: string, io: AuditCliIo, usage: string) {
  try {
    return parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.stderr(`qfpay-mcp audit ${command}: ${(error as Error).message}\n\n${usage}`);
    return undefined;
  }
}

async function runExport(
  args: readonly string[],
  io: AuditCliIo,
  databaseUrl: string | undefined,
): Promise<number> {
  const parsed = parse(args, 'export', io, EXPORT_USAGE);
  if (!parsed) return EXIT_USAGE;
  if (parsed.values.help) {
    io.stdout(EXPORT_USAGE);
    return EXIT_OK;
  }
  if (parsed.positionals.length > 1 || (parsed.values.database && parsed.positionals.length > 0)) {
    return usage(io, 'export', 'give one ledger: FILE, or --database', EXPORT_USAGE);
  }
  let records: readonly LedgerRecord[];
  let source: string;
  if (parsed.values.database) {
    if (!databaseUrl) return usage(io, 'export', '--database needs QFPAY_DATABASE_URL', EXPORT_USAGE);
    const read = await withStore(io, 'export', databaseUrl, async (store) => {
      const verdict = await store.verify();
      if (!verdict.ok) return brokenChain(io, store.location, verdict.firstBrokenSeq, verdict.reason);
      return store.listRecords();
    });
    if (typeof read === 'number') return read;
    records = read.value;
    source = read.location;
  } else {
    const file = parsed.positionals[0] ?? defaultLedgerFile(io);
    if (file === undefined)
      return usage(io, 'export', 'QFPAY_ENV names no known environment; pass FILE', EXPORT_USAGE);
    const read = await readVerifiedFile(io, 'export', file);
    if (typeof read === 'number') return read;
    records = read;
    source = file;
  }
  const text = records.map((record) => `${canonicalJson(record)}\n`).join('');
  if (parsed.values.out === undefined) {
    io.stdout(text);
  } else {
    try {
      await writeFile(parsed.values.out, text, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      io.stderr(
        `qfpay-mcp audit export: cannot write ${parsed.values.out}: ${code}${code === 'EEXIST' ? ' (it exists; choose a new file)' : ''}\n`,
      );
      return EXIT_USAGE;
    }
  }
  io.stderr(`Exported ${records.length} records from ${source}; hash chain intact.\n`);
  return EXIT_OK;
}

async function runImport(
  args: readonly string[],
  io: AuditCliIo,
  databaseUrl: string | undefined,
): Promise<number> {
  const parsed = parse(args, 'import', io, IMPORT_USAGE);
  if (!parsed) return EXIT_USAGE;
  if (parsed.values.help) {
    io.stdout(IMPORT_USAGE);
    return EXIT_OK;
  }
  const file = parsed.positionals[0];
  if (file === undefined || parsed.positionals.length > 1)
    return usage(io, 'import', 'give the JSONL ledger FILE once', IMPORT_USAGE);
  if (!databaseUrl)
    return usage(io, 'import', 'set QFPAY_DATABASE_URL to the database to import into', IMPORT_USAGE);
  const records = await readVerifiedFile(io, 'import', file);
  if (typeof records === 'number') return records;
  try {
    const { importLedgerRecords } = await import('../safety/stores/postgres-import.js');
    const result = await importLedgerRecords(databaseUrl, records);
    const verified = await withStore(io, 'import', databaseUrl, (store) => store.verify());
    if (typeof verified === 'number') return verified;
    const verdict = verified.value;
    if (!verdict.ok) return brokenChain(io, verified.location, verdict.firstBrokenSeq, verdict.reason);
    io.stdout(
      `Imported ${result.imported} records from ${file} (${result.alreadyPresent} already present) into ${verified.location}: ${verdict.records} records, hash chain intact.\n`,
    );
    return EXIT_OK;
  } catch (error) {
    return storeError(io, 'import', error);
  }
}

/** Opens the PostgreSQL store, runs `work`, closes it; an exit code when the store cannot be used. */
async function withStore<T>(
  io: AuditCliIo,
  command: string,
  databaseUrl: string,
  work: (store: MoneyStore) => Promise<T | number>,
): Promise<{ value: T; location: string } | number> {
  let store: MoneyStore;
  try {
    const { openPostgresStore } = await import('../safety/stores/postgres.js');
    store = await openPostgresStore(databaseUrl, {});
  } catch (error) {
    return storeError(io, command, error);
  }
  try {
    const value = await work(store);
    return typeof value === 'number' ? value : { value, location: store.location };
  } catch (error) {
    return storeError(io, command, error);
  } finally {
    await store.close().catch(() => undefined);
  }
}

async function readVerifiedFile(
  io: AuditCliIo,
  command: string,
  file: string,
): Promise<LedgerRecord[] | number> {
  let contents;
  try {
    contents = await readLedgerFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    io.stderr(`qfpay-mcp audit ${command}: cannot read ${file}: ${code}\n`);
    return EXIT_USAGE;
  }
  if (contents.problem) {
    return brokenChain(
      io,
      `${file} (line ${contents.problem.line})`,
      contents.problem.seq,
      contents.problem.reason,
    );
  }
  return contents.records;
}

function brokenChain(io: AuditCliIo, where: string, seq: number, reason: string): number {
  io.stderr(
    `BROKEN ${where}: record ${seq}: ${sanitizeUpstreamText(reason, 300)}. Nothing was exported or imported.\n`,
  );
  return EXIT_BROKEN;
}

function storeError(io: AuditCliIo, command: string, error: unknown): number {
  if (error instanceof LedgerError) {
    io.stderr(`qfpay-mcp audit ${command}: ${error.message}\n${error.nextAction}\n`);
    return error.code === 'integrity' ? EXIT_BROKEN : EXIT_USAGE;
  }
  io.stderr(`qfpay-mcp audit ${command}: ${error instanceof Error ? error.message : 'unknown error'}\n`);
  return EXIT_USAGE;
}

function defaultLedgerFile(io: AuditCliIo): string | undefined {
  try {
    return resolveAuditLogPath(resolveEnvironment(io.env), { env: io.env });
  } catch {
    return undefined;
  }
}

function usage(io: AuditCliIo, command: string, message: string, text: string): number {
  io.stderr(`qfpay-mcp audit ${command}: ${message}\n${text ? `\n${text}` : ''}`);
  return EXIT_USAGE;
}
