import pg from 'pg';
import type { Pool, PoolClient } from 'pg';

import type {
  ApprovalDecision,
  ApprovalRecord,
  ApprovalRedemption,
  ApprovalRequest,
  ApprovalState,
  OperatorCredential,
  OperatorProof,
} from '../approval-store.js';
import {
  GENESIS_HASH,
  hashRecordBody,
  intentBody,
  LedgerError,
  type LedgerRecord,
  movedNothing,
  type OutcomeInput,
  type RecordBody,
  resolutionBody,
  unknownIntent,
  type VerifyResult,
} from '../ledger.js';
import type {
  DrawKind,
  IdempotencyKey,
  KeyHolder,
  MoneyStore,
  MoneyStoreOptions,
  PendingFilter,
  RecordFilter,
  StoreScope,
  WriteAdmission,
  WriteAdmissionResult,
} from '../money-store.js';
import { holdsKey, isFinal } from '../ledger-index.js';
import { describeDatabaseUrl } from '../open-money-store.js';
import { migrate } from './postgres-schema.js';

/**
 * The PostgreSQL money store (`QFPAY_DATABASE_URL`): the money state of several hosts in one
 * database. Tables are described in `postgres-schema.ts`.
 *
 * Exclusion: every step that appends a record is one transaction that first locks the single chain
 * head row (`SELECT … FOR UPDATE`). That lock is needed anyway so the hash chain stays linear across
 * hosts; holding it for the whole step also makes each decision exact: the key lookup, the day
 * total, the refund remainder and the append all see and change one consistent state, and the next
 * step (from any host) waits for the commit. One lock taken in one order cannot deadlock. Primary
 * keys (idempotency keys, nonces) and the totals' CHECK are a second line: a bug would fail the
 * transaction (fail closed) rather than claim twice. Steps that append nothing (nonces,
 * reconciliation leases, approvals) are single conditional statements on a primary key.
 *
 * Clock: every record's time, and so the UTC+8 day a cap counts in, is the database server's
 * `clock_timestamp()` taken after the head lock, so all hosts share one clock and times follow the
 * order of the chain. The day is computed from UTC plus eight hours, independent of the session's
 * TimeZone setting. (`MoneyStoreOptions.now` is not used here: no host clock decides anything.)
 *
 * Cost: every decision reads indexed rows (key, one totals row, the refunds of one payment), so it
 * does not grow with the number of records; start-up migrates and checks the chain head only
 * (`verify` reads the whole chain on request).
 */

const POOL_SIZE = 10;
/**
 * A step waits at most this long for the chain head (another host's step holds it for milliseconds),
 * and a transaction left open by a stalled host is ended after IDLE_TRANSACTION_MS, so one stuck host
 * cannot stop the others: they refuse (fail closed) instead of hanging.
 */
const LOCK_TIMEOUT_MS = 10_000;
const IDLE_TRANSACTION_MS = 15_000;
/** SQLSTATE lock_not_available: lock_timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03';
const VERIFY_BATCH = 5_000;
/** Redeemed nonces are kept this long past their expiry, so a host whose clock is behind cannot reuse one. */
const NONCE_RETENTION = '1 day';

export interface LedgerRow {
  seq: string;
  prev_hash: string;
  hash: string;
  body: RecordBody;
}

/** What an outcome needs to know about its intent's index row. */
interface IntentRow {
  environment: string;
  merchant: string;
  key: string;
  fingerprint: string;
  /** YYYY-MM-DD (selected as text: pg would turn a date into a local-time Date). */
  day: string;
  counted: boolean;
}

export interface Head {
  readonly seq: number;
  readonly hash: string;
  /** ISO 8601 UTC with milliseconds, from the database clock. */
  readonly time: string;
  /** YYYY-MM-DD in UTC+8 of `time`. */
  readonly day: string;
}

const LEDGER_COLUMNS = 'seq, prev_hash, hash, body';

/** Opens the store at `url`, creating or migrating its tables. Rejects with a LedgerError when it cannot. */
export async function openPostgresStore(url: string, options: MoneyStoreOptions = {}): Promise<MoneyStore> {
  const location = describeDatabase(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    lock_timeout: LOCK_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_TRANSACTION_MS,
  });
  // An idle connection the server drops must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
    const store = new PostgresStore(pool, location, options);
    await store.checkHead();
    return store;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error instanceof LedgerError ? error : unavailable(location, 'cannot be opened', error);
  }
}

/**
 * Where the store is, for operators (`postgres://host:port/database`, never the user name or
 * password); throws a LedgerError when `url` is not a PostgreSQL URL.
 */
export function describeDatabase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LedgerError(
      'unavailable',
      'QFPAY_DATABASE_URL is not a URL; no money-moving action can be recorded.',
      'Set QFPAY_DATABASE_URL to postgres://USER:PASSWORD@HOST:PORT/DATABASE (or unset it to use the embedded store).',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new LedgerError(
      'unavailable',
      `QFPAY_DATABASE_URL uses ${parsed.protocol} where postgres: is expected; no money-moving action can be recorded.`,
      'Set QFPAY_DATABASE_URL to postgres://USER:PASSWORD@HOST:PORT/DATABASE (or unset it to use the embedded store).',
    );
  }
  return describeDatabaseUrl(url);
}

class PostgresStore implements MoneyStore {
  private readonly secrets: readonly string[];
  private closed = false;

  constructor(
    private readonly pool: Pool,
    readonly location: string,
    options: MoneyStoreOptions,
  ) {
    this.secrets = (options.secrets ?? []).filter((secret) => secret !== '');
  }

  /** Refuses a store whose last record does not match the chain head (records removed or altered at the end). */
  async checkHead(): Promise<void> {
    await this.transaction((client) => lockChainHead(client, this.location));
  }

  async beginWrite(admission: WriteAdmission): Promise<WriteAdmissionResult> {
    const { scope } = admission;
    return this.transaction(async (client) => {
      const head = await lockChainHead(client, this.location);
      // Validated and cleaned inside the step: its time is the database's, read under the lock.
      const content = intentBody(admission.intent, this.secrets, head.time);
      if (content.environment !== scope.environment || content.merchant.fingerprint !== scope.merchant) {
        throw new LedgerError(
          'unavailable',
          'Refusing to record the intent: its environment or merchant differs from the scope it is claimed in.',
          'This is a bug in the caller of the store; nothing was sent to QFPay.',
        );
      }
      const held = await client.query<{ fingerprint: string; intent_id: string }>(
        'SELECT fingerprint, intent_id FROM qfpay_keys WHERE environment = $1 AND merchant = $2 AND key = $3',
        [scope.environment, scope.merchant, admission.key],
      );
      const holderRow = held.rows[0];
      if (holderRow) {
        const holder = await this.loadHolder(client, holderRow.intent_id);
        return holderRow.fingerprint === admission.fingerprint
          ? { kind: 'held', holder }
          : { kind: 'conflict', holder };
      }
      const dayTotal =
        content.kind === 'cancel'
          ? 0
          : await this.dayTotal(client, scope, head.day, content.kind, content.txcurrcd);
      const draw = admission.drawOn;
      const unaccountedDraws = draw
        ? await this.sumUnaccountedDraws(client, scope, draw.kind, draw.orig_syssn, draw.visible)
        : 0;
      const released = draw ? await this.isReleased(client, scope, draw.orig_syssn) : false;
      const refusal = admission.admit({ day: head.day, dayTotal, unaccountedDraws, released });
      if (refusal) return { kind: 'refused', refusal };

      const intent = await this.append(client, head, content);
      await client.query(
        `INSERT INTO qfpay_intents (intent_id, environment, merchant, kind, key, fingerprint, out_trade_no,
           orig_syssn, time, day, txcurrcd, txamt, intent_seq, counted, final)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, true, false)`,
        [
          intent.intent_id,
          scope.environment,
          scope.merchant,
          intent.kind,
          admission.key,
          admission.fingerprint,
          intent.out_trade_no,
          intent.orig_syssn ?? null,
          intent.time,
          head.day,
          intent.txcurrcd,
          intent.txamt,
          intent.seq,
        ],
      );
      await client.query(
        'INSERT INTO qfpay_keys (environment, merchant, key, fingerprint, intent_id) VALUES ($1, $2, $3, $4, $5)',
        [scope.environment, scope.merchant, admission.key, admission.fingerprint, intent.intent_id],
      );
      if (intent.kind !== 'cancel') {
        await this.addToDayTotal(client, scope, head.day, intent.kind, intent.txcurrcd, intent.txamt);
      }
      return { kind: 'claimed', intent };
    });
  }

  recordOutcome(intentId: string, outcome: OutcomeInput): Promise<LedgerRecord> {
    return this.recordResolution('outcome', intentId, outcome);
  }

  recordReconciliation(intentId: string, outcome: OutcomeInput): Promise<LedgerRecord> {
    return this.recordResolution('reconciled', intentId, outcome);
  }

  async keyHolder(scope: StoreScope, key: IdempotencyKey): Promise<KeyHolder | undefined> {
    return this.withClient(async (client) => {
      const { rows } = await client.query<{ intent_id: string }>(
        'SELECT intent_id FROM qfpay_keys WHERE environment = $1 AND merchant = $2 AND key = $3',
        [scope.environment, scope.merchant, key],
      );
      return rows[0] ? this.loadHolder(client, rows[0].intent_id) : undefined;
    });
  }

  unaccountedDraws(
    scope: StoreScope,
    kind: DrawKind,
    orig_syssn: string,
    visible: ReadonlySet<string>,
  ): Promise<number> {
    return this.withClient((client) =>
      this.sumUnaccountedDraws(client, scope, kind, orig_syssn, [...visible]),
    );
  }

  redeemNonce(nonce: string, expiresAt: Date): Promise<boolean> {
    return this.withClient(async (client) => {
      await client.query(`DELETE FROM qfpay_nonces WHERE expires_at < now() - interval '${NONCE_RETENTION}'`);
      const result = await client.query(
        'INSERT INTO qfpay_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING',
        [nonce, expiresAt],
      );
      return result.rowCount === 1;
    });
  }

  claimReconciliation(intentId: string, owner: string, leaseMs: number): Promise<boolean> {
    if (!Number.isSafeInteger(leaseMs) || leaseMs <= 0) {
      return Promise.reject(new RangeError('claimReconciliation: leaseMs must be a positive integer'));
    }
    return this.withClient(async (client) => {
      const result = await client.query(
        `INSERT INTO qfpay_reconcile_leases AS lease (intent_id, owner, lease_until)
         VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
         ON CONFLICT (intent_id) DO UPDATE
           SET owner = excluded.owner, lease_until = excluded.lease_until
           WHERE lease.owner = excluded.owner OR lease.lease_until <= clock_timestamp()`,
        [intentId, owner, leaseMs],
      );
      return result.rowCount === 1;
    });
  }

  pendingIntents(filter: PendingFilter): Promise<readonly LedgerRecord[]> {
    return this.withClient(async (client) => {
      const { rows } = await client.query<LedgerRow>(
        `SELECT ${prefixed('l')} FROM qfpay_intents i JOIN qfpay_ledger l ON l.seq = i.intent_seq
         WHERE i.environment = $1 AND i.merchant = $2 AND NOT i.final AND i.time >= $3
         ORDER BY i.intent_seq DESC LIMIT $4`,
        [filter.scope.environment, filter.scope.merchant, filter.since, Math.max(0, filter.limit)],
      );
      return rows.map(toRecord);
    });
  }

  recent(limit: number, scope?: StoreScope): Promise<readonly LedgerRecord[]> {
    if (!Number.isSafeInteger(limit) || limit <= 0) return Promise.resolve([]);
    return this.withClient(async (client) => {
      const { rows } = scope
        ? await client.query<LedgerRow>(
            `SELECT ${LEDGER_COLUMNS} FROM qfpay_ledger WHERE environment = $1 AND merchant = $2
             ORDER BY seq DESC LIMIT $3`,
            [scope.environment, scope.merchant, limit],
          )
        : await client.query<LedgerRow>(
            `SELECT ${LEDGER_COLUMNS} FROM qfpay_ledger ORDER BY seq DESC LIMIT $1`,
            [limit],
          );
      return rows.map(toRecord);
    });
  }

  listRecords(filter: RecordFilter = {}): Promise<readonly LedgerRecord[]> {
    const conditions: string[] = [];
    const values: unknown[] = [];
    const add = (condition: (placeholder: string) => string, value: unknown): void => {
      values.push(value);
      conditions.push(condition(`$${values.length}`));
    };
    if (filter.scope) {
      add((p) => `environment = ${p}`, filter.scope.environment);
      add((p) => `merchant = ${p}`, filter.scope.merchant);
    }
    if (filter.out_trade_no !== undefined) add((p) => `out_trade_no = ${p}`, filter.out_trade_no);
    // Record times are ISO 8601 UTC with milliseconds, so text order is time order.
    if (filter.since !== undefined) add((p) => `body->>'time' >= ${p}`, new Date(filter.since).toISOString());
    let sql = `SELECT ${LEDGER_COLUMNS} FROM qfpay_ledger`;
    if (conditions.length > 0) sql += ` WHERE ${conditions.join(' AND ')}`;
    sql += ' ORDER BY seq';
    if (filter.limit !== undefined) {
      values.push(Math.max(0, filter.limit));
      sql += ` LIMIT $${values.length}`;
    }
    return this.withClient(async (client) => (await client.query<LedgerRow>(sql, values)).rows.map(toRecord));
  }

  /** Reads the chain in seq order, in batches, recomputing every hash and link. */
  verify(): Promise<VerifyResult> {
    return this.withClient(async (client) => {
      let previous = { seq: 0, hash: GENESIS_HASH };
      for (;;) {
        const { rows } = await client.query<
          LedgerRow & { environment: string; merchant: string; intent_id: string; out_trade_no: string }
        >(
          `SELECT ${LEDGER_COLUMNS}, environment, merchant, intent_id, out_trade_no FROM qfpay_ledger
           WHERE seq > $1 ORDER BY seq LIMIT $2`,
          [previous.seq, VERIFY_BATCH],
        );
        for (const row of rows) {
          const seq = Number(row.seq);
          const reason = chainProblem(row, previous);
          if (reason) return broken(previous.seq, previous.seq + 1, reason);
          previous = { seq, hash: row.hash };
        }
        if (rows.length < VERIFY_BATCH) break;
      }
      const head = (
        await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM qfpay_chain_head')
      ).rows[0];
      if (!head || Number(head.seq) !== previous.seq || head.hash !== previous.hash) {
        return broken(
          previous.seq,
          previous.seq + 1,
          `the chain head records ${head?.seq ?? 'nothing'} records but the ledger ends at ${previous.seq} (records were removed from the end, or the head was altered)`,
        );
      }
      return { ok: true, records: previous.seq };
    });
  }

  // ApprovalStore --------------------------------------------------------------------------------

  async createApproval(request: ApprovalRequest): Promise<void> {
    await this.withClient((client) =>
      client.query(
        `INSERT INTO qfpay_approvals (id, binding_digest, summary, created_at, expires_at, state)
         VALUES ($1, $2, $3, $4, $5, 'pending')`,
        [request.id, request.bindingDigest, request.summary, request.createdAt, request.expiresAt],
      ),
    );
  }

  getApproval(id: string): Promise<ApprovalRecord | undefined> {
    return this.withClient(async (client) => {
      const { rows } = await client.query<ApprovalRow>('SELECT * FROM qfpay_approvals WHERE id = $1', [id]);
      return rows[0] ? toApproval(rows[0]) : undefined;
    });
  }

  decideApproval(id: string, decision: ApprovalDecision, now: Date): Promise<boolean> {
    return this.withClient(async (client) => {
      const result = await client.query(
        `UPDATE qfpay_approvals SET state = $2, decided_at = $3, decided_by = $4, credential_id = $5
         WHERE id = $1 AND state = 'pending' AND expires_at > $3`,
        [id, decision.approved ? 'approved' : 'declined', now, decision.by, decision.credentialId ?? null],
      );
      return result.rowCount === 1;
    });
  }

  redeemApproval(id: string, bindingDigest: string, now: Date): Promise<ApprovalRedemption> {
    return this.withClient(async (client) => {
      const redeemed = await client.query<ApprovalRow>(
        `UPDATE qfpay_approvals SET state = 'redeemed'
         WHERE id = $1 AND state = 'approved' AND binding_digest = $2 AND expires_at > $3 RETURNING *`,
        [id, bindingDigest, now],
      );
      if (redeemed.rows[0]) return { ok: true, record: toApproval(redeemed.rows[0]) };
      const { rows } = await client.query<ApprovalRow>('SELECT * FROM qfpay_approvals WHERE id = $1', [id]);
      const row = rows[0];
      if (!row) return { ok: false, reason: 'unknown' };
      if (row.state === 'redeemed') return { ok: false, reason: 'reused' };
      if (row.state === 'declined') return { ok: false, reason: 'declined' };
      if (row.expires_at.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
      if (row.state === 'pending') return { ok: false, reason: 'pending' };
      return { ok: false, reason: 'mismatch' };
    });
  }

  async addOperatorCredential(credential: OperatorCredential): Promise<void> {
    await this.withClient((client) =>
      client.query(
        `INSERT INTO qfpay_operator_credentials (id, public_key, counter, transports, label, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          credential.id,
          credential.publicKey,
          credential.counter,
          credential.transports ? JSON.stringify(credential.transports) : null,
          credential.label ?? null,
          credential.createdAt,
        ],
      ),
    );
  }

  listOperatorCredentials(): Promise<readonly OperatorCredential[]> {
    return this.withClient(async (client) => {
      const { rows } = await client.query<CredentialRow>(
        'SELECT * FROM qfpay_operator_credentials ORDER BY created_at, id',
      );
      return rows.map(toCredential);
    });
  }

  raiseOperatorCredentialCounter(id: string, counter: number): Promise<boolean> {
    return this.withClient(async (client) => {
      const result = await client.query(
        'UPDATE qfpay_operator_credentials SET counter = $2 WHERE id = $1 AND counter < $2',
        [id, counter],
      );
      return result.rowCount === 1;
    });
  }

  async putChallenge(id: string, challenge: string, expiresAt: Date): Promise<void> {
    await this.withClient(async (client) => {
      await client.query('DELETE FROM qfpay_webauthn_challenges WHERE expires_at < now()');
      await client.query(
        `INSERT INTO qfpay_webauthn_challenges (id, challenge, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET challenge = excluded.challenge, expires_at = excluded.expires_at`,
        [id, challenge, expiresAt],
      );
    });
  }

  takeChallenge(id: string, now: Date): Promise<string | undefined> {
    return this.withClient(async (client) => {
      const { rows } = await client.query<{ challenge: string; expires_at: Date }>(
        'DELETE FROM qfpay_webauthn_challenges WHERE id = $1 RETURNING challenge, expires_at',
        [id],
      );
      const row = rows[0];
      return row && row.expires_at.getTime() > now.getTime() ? row.challenge : undefined;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // -----------------------------------------------------------------------------------------------

  private async recordResolution(
    step: 'outcome' | 'reconciled',
    intentId: string,
    outcome: OutcomeInput,
  ): Promise<LedgerRecord> {
    return this.transaction(async (client) => {
      const head = await lockChainHead(client, this.location);
      const { rows } = await client.query<IntentRow & LedgerRow>(
        `SELECT i.environment, i.merchant, i.key, i.fingerprint, i.day::text AS day, i.counted, ${prefixed('l')}
         FROM qfpay_intents i JOIN qfpay_ledger l ON l.seq = i.intent_seq
         WHERE i.intent_id = $1`,
        [intentId],
      );
      const row = rows[0];
      if (!row) throw unknownIntent(intentId, this.location);
      const intent = toRecord(row);
      const record = await this.append(
        client,
        head,
        resolutionBody(step, intent, outcome, this.secrets, head.time),
      );
      const counted = !movedNothing(record);
      await client.query(
        `UPDATE qfpay_intents SET latest_seq = $2, syssn_seq = coalesce($3, syssn_seq), counted = $4, final = $5
         WHERE intent_id = $1`,
        [intentId, record.seq, record.syssn ? record.seq : null, counted, isFinalOutcome(intent, record)],
      );
      const scope = { environment: row.environment, merchant: row.merchant };
      if (counted !== row.counted && intent.kind !== 'cancel') {
        await this.addToDayTotal(
          client,
          scope,
          row.day,
          intent.kind,
          intent.txcurrcd,
          counted ? intent.txamt : -intent.txamt,
        );
      }
      if (releasesKey(intent, record)) {
        await client.query('DELETE FROM qfpay_keys WHERE intent_id = $1', [intentId]);
      } else {
        // A later answer overturned a release: the intent holds its key again unless another took it.
        await client.query(
          `INSERT INTO qfpay_keys (environment, merchant, key, fingerprint, intent_id) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING`,
          [row.environment, row.merchant, row.key, row.fingerprint, intentId],
        );
      }
      return record;
    });
  }

  /** Appends one record after `head` (which this transaction has locked) and moves the head. */
  private async append(client: PoolClient, head: Head, body: RecordBody): Promise<LedgerRecord> {
    const unsigned = { ...body, seq: head.seq + 1, prev_hash: head.hash };
    const record = { ...unsigned, hash: hashRecordBody(unsigned) } as LedgerRecord;
    await client.query(
      `INSERT INTO qfpay_ledger (seq, prev_hash, hash, environment, merchant, intent_id, out_trade_no, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        record.seq,
        record.prev_hash,
        record.hash,
        record.environment,
        record.merchant.fingerprint,
        record.intent_id,
        record.out_trade_no,
        JSON.stringify(body),
      ],
    );
    await client.query('UPDATE qfpay_chain_head SET seq = $1, hash = $2', [record.seq, record.hash]);
    return record;
  }

  private async loadHolder(client: PoolClient, intentId: string): Promise<KeyHolder> {
    const { rows } = await client.query<LedgerRow & { role: string }>(
      `SELECT ${prefixed('l')}, CASE WHEN l.seq = i.intent_seq THEN 'intent'
                                     WHEN l.seq = i.latest_seq THEN 'latest' ELSE 'syssn' END AS role
       FROM qfpay_intents i JOIN qfpay_ledger l ON l.seq IN (i.intent_seq, i.latest_seq, i.syssn_seq)
       WHERE i.intent_id = $1`,
      [intentId],
    );
    const byRole = new Map(rows.map((row) => [row.role, toRecord(row)]));
    const intent = byRole.get('intent');
    if (!intent)
      throw integrityError(
        this.location,
        `the intent ${intentId} of an idempotency key has no ledger record`,
      );
    const latest = byRole.get('latest');
    const syssn = latest?.syssn ?? byRole.get('syssn')?.syssn;
    return { intent, ...(latest ? { latest } : {}), ...(syssn ? { syssn } : {}) };
  }

  private async dayTotal(
    client: PoolClient,
    scope: StoreScope,
    day: string,
    kind: string,
    txcurrcd: string,
  ): Promise<number> {
    const { rows } = await client.query<{ total: string }>(
      `SELECT total FROM qfpay_day_totals
       WHERE environment = $1 AND merchant = $2 AND day = $3 AND kind = $4 AND txcurrcd = $5`,
      [scope.environment, scope.merchant, day, kind, txcurrcd],
    );
    return rows[0] ? Number(rows[0].total) : 0;
  }

  private async addToDayTotal(
    client: PoolClient,
    scope: StoreScope,
    day: string,
    kind: string,
    txcurrcd: string,
    amount: number,
  ): Promise<void> {
    const values = [scope.environment, scope.merchant, day, kind, txcurrcd, amount];
    if (amount < 0) {
      // An UPDATE, not an upsert: the CHECK (total >= 0) would reject the negative insert candidate.
      await client.query(
        `UPDATE qfpay_day_totals SET total = total + $6
         WHERE environment = $1 AND merchant = $2 AND day = $3 AND kind = $4 AND txcurrcd = $5`,
        values,
      );
      return;
    }
    await client.query(
      `INSERT INTO qfpay_day_totals AS t (environment, merchant, day, kind, txcurrcd, total)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (environment, merchant, day, kind, txcurrcd) DO UPDATE SET total = t.total + excluded.total`,
      values,
    );
  }

  private async sumUnaccountedDraws(
    client: PoolClient,
    scope: StoreScope,
    kind: DrawKind,
    origSyssn: string,
    visible: readonly string[],
  ): Promise<number> {
    const { rows } = await client.query<{ total: string }>(
      `SELECT coalesce(sum(txamt), 0) AS total FROM qfpay_intents
       WHERE environment = $1 AND merchant = $2 AND kind = $3 AND orig_syssn = $4 AND counted
         AND NOT (out_trade_no = ANY($5::text[]))`,
      [scope.environment, scope.merchant, kind, origSyssn, visible],
    );
    return Number(rows[0]?.total ?? 0);
  }

  /** Whether a release of the authorisation holds its key (sent or possibly sent, not refused). */
  private async isReleased(client: PoolClient, scope: StoreScope, origSyssn: string): Promise<boolean> {
    const { rows } = await client.query(
      `SELECT 1 FROM qfpay_intents i JOIN qfpay_keys k ON k.intent_id = i.intent_id
       WHERE i.environment = $1 AND i.merchant = $2 AND i.kind = 'release' AND i.orig_syssn = $3
       LIMIT 1`,
      [scope.environment, scope.merchant, origSyssn],
    );
    return rows.length > 0;
  }

  private async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw this.closedError();
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(this.location, 'cannot be reached', error);
    }
    let failed = false;
    try {
      return await work(client);
    } catch (error) {
      failed = true;
      throw error instanceof LedgerError ? error : unavailable(this.location, 'failed', error);
    } finally {
      // A connection that failed mid-step may be broken: discard it rather than reuse it.
      client.release(failed);
    }
  }

  /** One transaction; any failure rolls it back, so nothing of a refused or failed step is kept. */
  private transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  private closedError(): LedgerError {
    return new LedgerError(
      'closed',
      `The money store ${this.location} is closed.`,
      'Nothing was sent to QFPay. Restart the server.',
    );
  }
}

/**
 * Locks the chain head for this transaction and reads the database clock after the lock is held.
 * Refuses to go on when the last record does not carry the head's hash.
 */
export async function lockChainHead(client: PoolClient, location: string): Promise<Head> {
  const locked = await client.query<{ seq: string; hash: string }>(
    'SELECT seq, hash FROM qfpay_chain_head FOR UPDATE',
  );
  const head = locked.rows[0];
  if (!head) throw integrityError(location, 'the chain head row is missing');
  const seq = Number(head.seq);
  // A statement of its own, after the lock: in READ COMMITTED it sees what the previous holder committed.
  const current = await client.query<{ tail_hash: string | null; time: string; day: string }>(
    `SELECT (SELECT hash FROM qfpay_ledger WHERE seq = $1) AS tail_hash,
            to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time,
            ((t AT TIME ZONE 'UTC') + interval '8 hours')::date::text AS day
     FROM (SELECT clock_timestamp() AS t) AS now`,
    [seq],
  );
  const { tail_hash: tailHash, time, day } = current.rows[0]!;
  if (seq > 0 && tailHash !== head.hash) {
    throw integrityError(
      location,
      tailHash === null
        ? `record ${seq}, the last one, is missing (records were removed)`
        : `record ${seq}, the last one, does not carry the chain head's hash (it was altered)`,
    );
  }
  return { seq, hash: head.hash, time, day };
}

/** The embedded store's rules (ledger-index.ts), applied to an intent whose latest record is `latest`. */
export function releasesKey(intent: LedgerRecord, latest: LedgerRecord): boolean {
  return !holdsKey({ intent, latest });
}

export function isFinalOutcome(intent: LedgerRecord, latest: LedgerRecord): boolean {
  return isFinal({ intent, latest });
}

export function integrityError(location: string, reason: string): LedgerError {
  return new LedgerError(
    'integrity',
    `The money store ${location} is inconsistent: ${reason}. No money-moving action will be taken while it is.`,
    'Run "qfpay-mcp audit verify" with the same QFPAY_DATABASE_URL and investigate; do not edit the tables.',
  );
}

function prefixed(alias: string): string {
  return LEDGER_COLUMNS.split(', ')
    .map((column) => `${alias}.${column}`)
    .join(', ');
}

export function toRecord(row: LedgerRow): LedgerRecord {
  return { ...row.body, seq: Number(row.seq), prev_hash: row.prev_hash, hash: row.hash };
}

/** Why `row` does not follow `previous` in the chain, or undefined when it does. */
function chainProblem(
  row: LedgerRow & { environment: string; merchant: string; intent_id: string; out_trade_no: string },
  previous: { seq: number; hash: string },
): string | undefined {
  const seq = Number(row.seq);
  if (seq !== previous.seq + 1) return `record ${previous.seq + 1} is missing (the next one is ${seq})`;
  if (row.prev_hash !== previous.hash) {
    return previous.seq === 0
      ? 'prev_hash of the first record is not the genesis hash (records were removed from the start?)'
      : `prev_hash does not match the hash of record ${previous.seq} (records removed, reordered or altered)`;
  }
  const body = row.body as unknown as Record<string, unknown>;
  if (hashRecordBody({ ...body, seq, prev_hash: row.prev_hash }) !== row.hash) {
    return 'hash does not match the record content (the record was altered)';
  }
  const merchant = (body['merchant'] as { fingerprint?: unknown } | undefined)?.fingerprint;
  if (
    body['environment'] !== row.environment ||
    merchant !== row.merchant ||
    body['intent_id'] !== row.intent_id ||
    body['out_trade_no'] !== row.out_trade_no
  ) {
    return 'the indexed columns differ from the record content (the row was altered)';
  }
  return undefined;
}

function broken(records: number, seq: number, reason: string): VerifyResult {
  return { ok: false, records, firstBrokenSeq: seq, line: seq, reason };
}

export function unavailable(location: string, what: string, error: unknown): LedgerError {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === LOCK_NOT_AVAILABLE) {
    return new LedgerError(
      'locked',
      `The money store ${location} stayed locked by another host's step for ${LOCK_TIMEOUT_MS / 1000} s; the money-moving action was not sent to QFPay.`,
      'Nothing was sent to QFPay. Try again shortly; if it persists, look for a stalled qfpay-mcp host or a long transaction on the database.',
      { cause: error },
    );
  }
  return new LedgerError(
    'unavailable',
    `The money store ${location} ${what}${typeof code === 'string' ? ` (${code})` : ''}; the money-moving action was not sent to QFPay.`,
    'Check that the PostgreSQL server in QFPAY_DATABASE_URL is running and reachable (qfpay-mcp doctor), then try again.',
    { cause: error },
  );
}

interface ApprovalRow {
  id: string;
  binding_digest: string;
  summary: string;
  created_at: Date;
  expires_at: Date;
  state: ApprovalState;
  decided_at: Date | null;
  decided_by: OperatorProof | null;
  credential_id: string | null;
}

function toApproval(row: ApprovalRow): ApprovalRecord {
  return {
    id: row.id,
    bindingDigest: row.binding_digest,
    summary: row.summary,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    state: row.state,
    ...(row.decided_at ? { decidedAt: row.decided_at.toISOString() } : {}),
    ...(row.decided_by ? { decidedBy: row.decided_by } : {}),
    ...(row.credential_id ? { credentialId: row.credential_id } : {}),
  };
}

interface CredentialRow {
  id: string;
  public_key: string;
  counter: string;
  transports: string[] | null;
  label: string | null;
  created_at: Date;
}

function toCredential(row: CredentialRow): OperatorCredential {
  return {
    id: row.id,
    publicKey: row.public_key,
    counter: Number(row.counter),
    ...(row.transports ? { transports: row.transports } : {}),
    ...(row.label !== null ? { label: row.label } : {}),
    createdAt: row.created_at.toISOString(),
  };
}
