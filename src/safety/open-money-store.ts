import type { MoneyStore, MoneyStoreOptions, OpenPostgresStore } from './money-store.js';
import { EmbeddedMoneyStore } from './stores/embedded.js';

/**
 * The one place that decides which money-state store a process uses:
 *
 * - `QFPAY_DATABASE_URL` set: the PostgreSQL store (several hosts share it). Loaded on demand, so
 *   `pg` is never imported by a server that does not use it.
 * - otherwise: the embedded store on `ledgerFile` (the processes of one host share it).
 */
export async function openMoneyStore(options: {
  readonly env: NodeJS.ProcessEnv;
  /** The ledger file the embedded store uses (see chooseLedgerLocation). */
  readonly ledgerFile: string;
  readonly storeOptions?: MoneyStoreOptions & { readonly fsync?: boolean };
}): Promise<MoneyStore> {
  const url = (options.env.QFPAY_DATABASE_URL ?? '').trim();
  if (url === '') return new EmbeddedMoneyStore(options.ledgerFile, options.storeOptions ?? {});
  // A computed specifier: the PostgreSQL store is an optional part of the build.
  const postgresModule = './stores/postgres.js';
  const { openPostgresStore } = (await import(postgresModule)) as { openPostgresStore: OpenPostgresStore };
  return openPostgresStore(url, options.storeOptions ?? {});
}

/** Where a store keeps its records, for operators: a file path, or the database without its password. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return 'the database in QFPAY_DATABASE_URL';
  }
}
