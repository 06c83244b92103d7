import type { Pool } from 'pg';

import { GENESIS_HASH } from '../ledger.js';

/**
 * The PostgreSQL store's tables, created and migrated when a store opens.
 *
 * `qfpay_ledger` is the truth: the same records as the JSONL ledger (seq, prev_hash, hash and the
 * rest of the record as JSONB), one hash chain across every host. Everything else is an index of it
 * kept in the same transaction as the record it derives from, so a decision never scans the ledger:
 *
 * - `qfpay_chain_head`: one row, the last seq and hash. Every step that appends locks it first
 *   (`SELECT … FOR UPDATE`), which is what makes the chain linear across hosts;
 * - `qfpay_intents`: one row per intent with its latest outcome, whether its amount counts towards
 *   caps and whether it is final;
 * - `qfpay_keys`: the current holder of each idempotency key (primary key = the claim);
 * - `qfpay_day_totals`: per scope, UTC+8 day, kind and currency, the amount that may have moved;
 * - `qfpay_nonces`, `qfpay_reconcile_leases`: single-use confirmations and reconciliation owners;
 * - `qfpay_approvals`, `qfpay_operator_credentials`, `qfpay_webauthn_challenges`: the ApprovalStore.
 *
 * Migrations are numbered and applied in one transaction under a transaction-level advisory lock, so
 * several processes starting at once apply each exactly once (PostgreSQL DDL is transactional).
 */

/** Arbitrary, fixed: the advisory lock key that serialises migrations of this schema. */
const MIGRATION_LOCK_KEY = 0x71_66_70_61_79; // "qfpay"

const MIGRATIONS: readonly string[] = [
  // 1: the ledger, its indexes and the approval tables.
  `
  CREATE TABLE qfpay_chain_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq bigint NOT NULL,
    hash text NOT NULL
  );
  INSERT INTO qfpay_chain_head (id, seq, hash) VALUES (true, 0, '${GENESIS_HASH}');

  CREATE TABLE qfpay_ledger (
    seq bigint PRIMARY KEY,
    prev_hash text NOT NULL,
    hash text NOT NULL UNIQUE,
    environment text NOT NULL,
    merchant text NOT NULL,
    intent_id text NOT NULL,
    out_trade_no text NOT NULL,
    -- The record without seq, prev_hash and hash (those are the columns above).
    body jsonb NOT NULL
  );
  CREATE INDEX qfpay_ledger_scope_seq ON qfpay_ledger (environment, merchant, seq);
  CREATE INDEX qfpay_ledger_intent ON qfpay_ledger (intent_id);
  CREATE INDEX qfpay_ledger_out_trade_no ON qfpay_ledger (out_trade_no);

  CREATE TABLE qfpay_intents (
    intent_id text PRIMARY KEY,
    environment text NOT NULL,
    merchant text NOT NULL,
    kind text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    out_trade_no text NOT NULL,
    orig_syssn text,
    time timestamptz NOT NULL,
    day date NOT NULL,
    txcurrcd text NOT NULL,
    txamt bigint NOT NULL,
    intent_seq bigint NOT NULL REFERENCES qfpay_ledger (seq),
    latest_seq bigint REFERENCES qfpay_ledger (seq),
    syssn_seq bigint REFERENCES qfpay_ledger (seq),
    counted boolean NOT NULL,
    final boolean NOT NULL
  );
  CREATE INDEX qfpay_intents_refunds ON qfpay_intents (environment, merchant, orig_syssn)
    WHERE kind = 'refund';
  CREATE INDEX qfpay_intents_pending ON qfpay_intents (environment, merchant, intent_seq)
    WHERE NOT final;

  CREATE TABLE qfpay_keys (
    environment text NOT NULL,
    merchant text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    intent_id text NOT NULL REFERENCES qfpay_intents (intent_id),
    PRIMARY KEY (environment, merchant, key)
  );
  CREATE INDEX qfpay_keys_intent ON qfpay_keys (intent_id);

  CREATE TABLE qfpay_day_totals (
    environment text NOT NULL,
    merchant text NOT NULL,
    day date NOT NULL,
    kind text NOT NULL,
    txcurrcd text NOT NULL,
    total bigint NOT NULL CHECK (total >= 0),
    PRIMARY KEY (environment, merchant, day, kind, txcurrcd)
  );

  CREATE TABLE qfpay_nonces (
    nonce text PRIMARY KEY,
    expires_at timestamptz NOT NULL
  );
  CREATE INDEX qfpay_nonces_expiry ON qfpay_nonces (expires_at);

  CREATE TABLE qfpay_reconcile_leases (
    intent_id text PRIMARY KEY,
    owner text NOT NULL,
    lease_until timestamptz NOT NULL
  );

  CREATE TABLE qfpay_approvals (
    id text PRIMARY KEY,
    binding_digest text NOT NULL,
    summary text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'approved', 'declined', 'redeemed')),
    decided_at timestamptz,
    decided_by text,
    credential_id text
  );

  CREATE TABLE qfpay_operator_credentials (
    id text PRIMARY KEY,
    public_key text NOT NULL,
    counter bigint NOT NULL,
    transports jsonb,
    label text,
    created_at timestamptz NOT NULL
  );

  CREATE TABLE qfpay_webauthn_challenges (
    id text PRIMARY KEY,
    challenge text NOT NULL,
    expires_at timestamptz NOT NULL
  );
  `,
  // 2: captures and releases of a pre-authorisation draw on its syssn like refunds on a payment's.
  `
  CREATE INDEX qfpay_intents_draws ON qfpay_intents (environment, merchant, orig_syssn, kind)
    WHERE kind IN ('refund', 'capture', 'release');
  `,
];

/** The schema version this code writes; a database at a later version is refused. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to {@link SCHEMA_VERSION}. Safe to run from any number of processes at once:
 * the advisory lock makes them take turns, and each applies only what is missing.
 */
export async function migrate(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS qfpay_schema_version (
         version integer PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM qfpay_schema_version',
    );
    const current = rows[0]?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `the database schema is at version ${current}, newer than this qfpay-mcp understands (${SCHEMA_VERSION}); upgrade qfpay-mcp`,
      );
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version += 1) {
      await client.query(MIGRATIONS[version - 1]!);
      await client.query('INSERT INTO qfpay_schema_version (version) VALUES ($1)', [version]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
