import { randomBytes } from 'node:crypto';

import pg from 'pg';

import { merchantFingerprint } from '../../src/safety/ledger.js';
import type { StoreScope, WriteAdmission } from '../../src/safety/money-store.js';
import { MERCHANT, paymentIntent } from './helpers.js';

/**
 * A database of its own for one suite on the shared test server (QFPAY_TEST_DATABASE_URL), so
 * engineers and suites never see each other's rows. `drop` removes it (and ends its connections).
 */
export async function createTestDatabase(
  serverUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `qfpay_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs one statement against `url` on a connection of its own (for tampering and clock checks). */
export async function queryDatabase<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

export const SCOPE: StoreScope = { environment: 'sandbox', merchant: merchantFingerprint(MERCHANT) };

/** A payment admission for `out_trade_no` that a daily cap of `dailyLimit` (when given) admits. */
export function paymentAdmission(
  out_trade_no: string,
  options: { txamt?: number; txcurrcd?: string; fingerprint?: string; dailyLimit?: number } = {},
): WriteAdmission {
  const txamt = options.txamt ?? 1000;
  const fingerprint = options.fingerprint ?? `fp-${out_trade_no}`;
  return {
    scope: SCOPE,
    key: `order:${out_trade_no}`,
    fingerprint,
    intent: paymentIntent({ out_trade_no, txamt, fingerprint, txcurrcd: options.txcurrcd ?? 'HKD' }),
    admit: ({ dayTotal }) =>
      options.dailyLimit !== undefined && dayTotal + txamt > options.dailyLimit
        ? { message: `over the daily cap (${dayTotal} already)`, next_action: 'stop' }
        : undefined,
  };
}

/** A refund admission of `txamt` against a payment of `paid` minor units (remainder check only). */
export function refundAdmission(
  out_trade_no: string,
  orig_syssn: string,
  txamt: number,
  paid: number,
): WriteAdmission {
  const fingerprint = `fp-${out_trade_no}`;
  return {
    scope: SCOPE,
    key: `order:${out_trade_no}`,
    fingerprint,
    intent: paymentIntent({ out_trade_no, txamt, fingerprint, kind: 'refund', tool: 'refund', orig_syssn }),
    drawOn: { kind: 'refund', orig_syssn, visible: [] },
    admit: ({ unaccountedDraws }) =>
      unaccountedDraws + txamt > paid
        ? { message: `only ${paid - unaccountedDraws} left to refund`, next_action: 'stop' }
        : undefined,
  };
}
