import pg from 'pg';
import type { PoolClient } from 'pg';

import { keyOf } from '../ledger-index.js';
import { hongKongDay, LedgerError, type LedgerRecord, movedNothing } from '../ledger.js';
import {
  describeDatabase,
  isFinalOutcome,
  lockChainHead,
  type LedgerRow,
  releasesKey,
  toRecord,
  unavailable,
} from './postgres.js';
import { migrate } from './postgres-schema.js';

/**
 * Moving a merchant from the embedded store to PostgreSQL: the JSONL ledger's records go into the
 * database unchanged (same seq, prev_hash, hash), so the chain, and anything recorded about it
 * elsewhere (the latest hash), stays valid. The caller verifies the file's chain first.
 *
 * Idempotent: records the database already holds (same seq and hash) are skipped, so running the
 * import again, or after the server has appended more, changes nothing. A database holding a
 * different chain is refused. After new records go in, the index tables (intents, keys, day totals)
 * are rebuilt from the whole ledger in the same transaction, by the same rules the store applies
 * record by record.
 */

export interface ImportResult {
  /** Records in the file. */
  readonly total: number;
  /** Of those, already in the database. */
  readonly alreadyPresent: number;
  /** Of those, added now. */
  readonly imported: number;
}

const INSERT_BATCH = 2_000;
const READ_BATCH = 10_000;

export async function importLedgerRecords(
  url: string,
  records: readonly LedgerRecord[],
): Promise<ImportResult> {
  const location = describeDatabase(url);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await importInTransaction(client, location, records);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  } catch (error) {
    throw error instanceof LedgerError ? error : unavailable(location, 'could not import the ledger', error);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

async function importInTransaction(
  client: PoolClient,
  location: string,
  records: readonly LedgerRecord[],
): Promise<ImportResult> {
  const head = await lockChainHead(client, location);
  const overlap = Math.min(head.seq, records.length);
  if (overlap > 0) {
    const { rows } = await client.query<{ hash: string }>('SELECT hash FROM qfpay_ledger WHERE seq = $1', [
      overlap,
    ]);
    // Both chains verify, so equal hashes at one seq mean equal records up to it.
    if (rows[0]?.hash !== records[overlap - 1]!.hash) {
      throw new LedgerError(
        'integrity',
        `The database ${location} already holds a different ledger (record ${overlap} differs from the file's); nothing was imported.`,
        'Import into an empty database, or check that this is the ledger of the same deployment.',
      );
    }
  }
  const fresh = records.slice(head.seq);
  for (let start = 0; start < fresh.length; start += INSERT_BATCH) {
    await insertLedgerRows(client, fresh.slice(start, start + INSERT_BATCH));
  }
  if (fresh.length > 0) {
    const last = fresh.at(-1)!;
    await client.query('UPDATE qfpay_chain_head SET seq = $1, hash = $2', [last.seq, last.hash]);
    await rebuildIndexes(client);
    // Fresh statistics, so the planner keeps using the indexes after a bulk load.
    await client.query('ANALYZE qfpay_ledger, qfpay_intents, qfpay_keys, qfpay_day_totals');
  }
  return { total: records.length, alreadyPresent: records.length - fresh.length, imported: fresh.length };
}

async function insertLedgerRows(client: PoolClient, records: readonly LedgerRecord[]): Promise<void> {
  const columns = {
    seq: [] as number[],
    prev: [] as string[],
    hash: [] as string[],
    environment: [] as string[],
    merchant: [] as string[],
    intent: [] as string[],
    order: [] as string[],
    body: [] as string[],
  };
  for (const record of records) {
    const { seq, prev_hash, hash, ...body } = record;
    columns.seq.push(seq);
    columns.prev.push(prev_hash);
    columns.hash.push(hash);
    columns.environment.push(record.environment);
    columns.merchant.push(record.merchant.fingerprint);
    columns.intent.push(record.intent_id);
    columns.order.push(record.out_trade_no);
    columns.body.push(JSON.stringify(body));
  }
  await client.query(
    `INSERT INTO qfpay_ledger (seq, prev_hash, hash, environment, merchant, intent_id, out_trade_no, body)
     SELECT s, p, h, e, m, i, o, b::jsonb
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
       AS u (s, p, h, e, m, i, o, b)`,
    Object.values(columns),
  );
}

interface FoldedIntent {
  readonly intent: LedgerRecord;
  readonly key: string;
  latestSeq?: number;
  syssnSeq?: number;
  counted: boolean;
  final: boolean;
}

/** The index state the store would have built record by record (see `recordResolution` in postgres.ts). */
class IndexFold {
  readonly intents = new Map<string, FoldedIntent>();
  /** scope|key → holding intent id. */
  readonly keys = new Map<string, string>();
  /** scope|day|kind|currency → total. */
  readonly totals = new Map<string, number>();

  apply(record: LedgerRecord): void {
    const scope = `${record.environment}|${record.merchant.fingerprint}`;
    if (record.step === 'intent') {
      const entry: FoldedIntent = { intent: record, key: keyOf(record), counted: true, final: false };
      this.intents.set(record.intent_id, entry);
      this.keys.set(`${scope}|${entry.key}`, record.intent_id);
      this.count(entry, 1);
      return;
    }
    const entry = this.intents.get(record.intent_id);
    if (!entry) return;
    entry.latestSeq = record.seq;
    if (record.syssn) entry.syssnSeq = record.seq;
    const counted = !movedNothing(record);
    if (counted !== entry.counted) this.count(entry, counted ? 1 : -1);
    entry.counted = counted;
    entry.final = isFinalOutcome(entry.intent, record);
    const slot = `${scope}|${entry.key}`;
    if (releasesKey(entry.intent, record)) {
      if (this.keys.get(slot) === record.intent_id) this.keys.delete(slot);
    } else if (!this.keys.has(slot)) {
      this.keys.set(slot, record.intent_id);
    }
  }

  private count(entry: FoldedIntent, sign: 1 | -1): void {
    const { intent } = entry;
    if (intent.kind === 'cancel') return;
    const slot = [
      intent.environment,
      intent.merchant.fingerprint,
      hongKongDay(intent.time),
      intent.kind,
      intent.txcurrcd,
    ].join('|');
    this.totals.set(slot, (this.totals.get(slot) ?? 0) + sign * intent.txamt);
  }
}

async function rebuildIndexes(client: PoolClient): Promise<void> {
  const fold = new IndexFold();
  for (let after = 0; ;) {
    const { rows } = await client.query<LedgerRow>(
      'SELECT seq, prev_hash, hash, body FROM qfpay_ledger WHERE seq > $1 ORDER BY seq LIMIT $2',
      [after, READ_BATCH],
    );
    for (const row of rows) fold.apply(toRecord(row));
    if (rows.length < READ_BATCH) break;
    after = Number(rows.at(-1)!.seq);
  }
  await client.query('TRUNCATE qfpay_keys, qfpay_day_totals, qfpay_intents');
  const intents = [...fold.intents.values()];
  for (let start = 0; start < intents.length; start += INSERT_BATCH) {
    await insertIntents(client, intents.slice(start, start + INSERT_BATCH));
  }
  const keys = [...fold.keys].map(([slot, intentId]) => {
    const [environment, merchant, ...rest] = slot.split('|');
    return { environment: environment!, merchant: merchant!, key: rest.join('|'), intentId };
  });
  for (let start = 0; start < keys.length; start += INSERT_BATCH) {
    const batch = keys.slice(start, start + INSERT_BATCH);
    await client.query(
      `INSERT INTO qfpay_keys (environment, merchant, key, fingerprint, intent_id)
       SELECT u.e, u.m, u.k, i.fingerprint, u.i
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u (e, m, k, i)
       JOIN qfpay_intents i ON i.intent_id = u.i`,
      [
        batch.map((k) => k.environment),
        batch.map((k) => k.merchant),
        batch.map((k) => k.key),
        batch.map((k) => k.intentId),
      ],
    );
  }
  const totals = [...fold.totals]
    .filter(([, total]) => total > 0)
    .map(([slot, total]) => [...slot.split('|'), total] as const);
  if (totals.length > 0) {
    await client.query(
      `INSERT INTO qfpay_day_totals (environment, merchant, day, kind, txcurrcd, total)
       SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[], $6::bigint[])`,
      [0, 1, 2, 3, 4, 5].map((column) => totals.map((row) => row[column])),
    );
  }
}

async function insertIntents(client: PoolClient, entries: readonly FoldedIntent[]): Promise<void> {
  const column = <T>(pick: (entry: FoldedIntent) => T): T[] => entries.map(pick);
  await client.query(
    `INSERT INTO qfpay_intents (intent_id, environment, merchant, kind, key, fingerprint, out_trade_no,
       orig_syssn, time, day, txcurrcd, txamt, intent_seq, latest_seq, syssn_seq, counted, final)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
       $8::text[], $9::timestamptz[], $10::date[], $11::text[], $12::bigint[], $13::bigint[], $14::bigint[],
       $15::bigint[], $16::boolean[], $17::boolean[])`,
    [
      column((e) => e.intent.intent_id),
      column((e) => e.intent.environment),
      column((e) => e.intent.merchant.fingerprint),
      column((e) => e.intent.kind),
      column((e) => e.key),
      column((e) => e.intent.fingerprint ?? ''),
      column((e) => e.intent.out_trade_no),
      column((e) => e.intent.orig_syssn ?? null),
      column((e) => e.intent.time),
      column((e) => hongKongDay(e.intent.time)),
      column((e) => e.intent.txcurrcd),
      column((e) => e.intent.txamt),
      column((e) => e.intent.seq),
      column((e) => e.latestSeq ?? null),
      column((e) => e.syssnSeq ?? null),
      column((e) => e.counted),
      column((e) => e.final),
    ],
  );
}
