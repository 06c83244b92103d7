import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { hongKongDay, LedgerError } from '../../src/safety/ledger.js';
import type { MoneyStore, WriteAdmissionResult } from '../../src/safety/money-store.js';
import { openPostgresStore } from '../../src/safety/stores/postgres.js';
import { SCHEMA_VERSION } from '../../src/safety/stores/postgres-schema.js';
import { describeWithServices } from '../support/services.js';
import {
  createTestDatabase,
  paymentAdmission,
  queryDatabase,
  refundAdmission,
  SCOPE,
} from './postgres-helpers.js';

/**
 * The PostgreSQL store's atomic steps, raced from separate pools (separate connections, as separate
 * hosts would be) against the real server. Each suite works in a database of its own.
 */
const execFileAsync = promisify(execFile);

describeWithServices('PostgreSQL money store', ['postgres'], ([serverUrl]) => {
  let database: { url: string; drop: () => Promise<void> };
  const open: MoneyStore[] = [];

  async function stores(count: number): Promise<MoneyStore[]> {
    const opened = await Promise.all(
      Array.from({ length: count }, () => openPostgresStore(database.url, { secrets: ['s3cret-key'] })),
    );
    open.push(...opened);
    return opened;
  }

  /** Round-robins `count` calls over `pools`, all started before any is awaited. */
  function race<T>(pools: MoneyStore[], count: number, call: (store: MoneyStore, i: number) => Promise<T>) {
    return Promise.all(Array.from({ length: count }, (_, i) => call(pools[i % pools.length]!, i)));
  }

  const kinds = (results: readonly WriteAdmissionResult[]) =>
    results.reduce<Record<string, number>>(
      (counts, r) => ({ ...counts, [r.kind]: (counts[r.kind] ?? 0) + 1 }),
      {},
    );

  beforeAll(async () => {
    database = await createTestDatabase(serverUrl!);
  });

  afterAll(async () => {
    await Promise.all(open.map((store) => store.close()));
    await database?.drop();
  });

  it('migrates once when several stores open a fresh database at the same time', async () => {
    await stores(4);
    const versions = await queryDatabase<{ version: number }>(
      database.url,
      'SELECT version FROM qfpay_schema_version',
    );
    expect(versions.map((row) => row.version)).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
    const [again] = await stores(1);
    expect((await again!.verify()).ok).toBe(true);
  });

  it('migrates once when three processes start on a fresh database at the same time', async () => {
    const fresh = await createTestDatabase(serverUrl!);
    try {
      const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
      const runs = await Promise.all(
        [0, 1, 2].map(() =>
          execFileAsync(process.execPath, [cli, 'audit', 'verify'], {
            env: { ...process.env, QFPAY_DATABASE_URL: fresh.url },
          }),
        ),
      );
      for (const run of runs)
        expect(run.stdout).toMatch(/^OK postgres(ql)?:\/\/.+: 0 records, hash chain intact\.\n$/);
      const versions = await queryDatabase<{ version: number }>(
        fresh.url,
        'SELECT version FROM qfpay_schema_version',
      );
      expect(versions).toHaveLength(SCHEMA_VERSION);
    } finally {
      await fresh.drop();
    }
  });

  it('50 concurrent claims of one key from 5 pools: exactly 1 claimed, 49 held by it', async () => {
    const pools = await stores(5);
    const results = await race(pools, 50, (store) => store.beginWrite(paymentAdmission('RACE-1')));
    expect(kinds(results)).toEqual({ claimed: 1, held: 49 });
    const claimed = results.find((r) => r.kind === 'claimed')!;
    const intentId = claimed.kind === 'claimed' ? claimed.intent.intent_id : '';
    for (const result of results) {
      if (result.kind === 'held') expect(result.holder.intent.intent_id).toBe(intentId);
    }
    const rows = await queryDatabase(
      database.url,
      `SELECT 1 FROM qfpay_intents WHERE out_trade_no = 'RACE-1'`,
    );
    expect(rows).toHaveLength(1);
  });

  it('the same key with other parameters is a conflict, raced or later, and records nothing', async () => {
    const pools = await stores(3);
    const results = await race(pools, 12, (store, i) =>
      store.beginWrite(paymentAdmission('RACE-2', { fingerprint: `fp-variant-${i % 3}` })),
    );
    expect(kinds(results)).toEqual({ claimed: 1, held: 3, conflict: 8 });
    const rows = await queryDatabase(
      database.url,
      `SELECT 1 FROM qfpay_ledger WHERE out_trade_no = 'RACE-2'`,
    );
    expect(rows).toHaveLength(1);
  });

  it('30 × 1,000 against a 10,000 daily cap from 3 pools: exactly 10 admitted', async () => {
    const pools = await stores(3);
    const results = await race(pools, 30, (store, i) =>
      store.beginWrite(
        paymentAdmission(`CAP-${i}`, {
          txamt: 1000,
          txcurrcd: 'USD',
          dailyLimit: 10_000,
          fingerprint: `cap-${i}`,
        }),
      ),
    );
    expect(kinds(results)).toEqual({ claimed: 10, refused: 20 });
    const [row] = await queryDatabase<{ total: string }>(
      database.url,
      `SELECT sum(txamt) AS total FROM qfpay_intents WHERE out_trade_no LIKE 'CAP-%'`,
    );
    expect(Number(row!.total)).toBe(10_000);
  });

  it('totals and keys follow outcomes: FAILED and processed:false release, PAID keeps', async () => {
    const [store] = await stores(1);
    const day = async () => {
      let seen = -1;
      await store!.beginWrite({
        ...paymentAdmission('PROBE-TOTAL', { txamt: 5 }),
        admit: ({ dayTotal }) => {
          seen = dayTotal;
          return { message: 'probe only', next_action: 'none' };
        },
      });
      return seen;
    };
    const before = await day();
    const paid = await store!.beginWrite(paymentAdmission('OUT-PAID', { txamt: 300 }));
    const failed = await store!.beginWrite(paymentAdmission('OUT-FAILED', { txamt: 200 }));
    const limited = await store!.beginWrite(paymentAdmission('OUT-429', { txamt: 100 }));
    expect(await day()).toBe(before + 600);
    const id = (r: WriteAdmissionResult) => (r.kind === 'claimed' ? r.intent.intent_id : '');
    await store!.recordOutcome(id(paid), { status: 'PAID', syssn: 'SYS-PAID', respcd: '0000' });
    await store!.recordOutcome(id(failed), { status: 'FAILED', respcd: '1201' });
    await store!.recordOutcome(id(limited), { status: 'FAILED', processed: false, message: 'HTTP 429' });
    expect(await day()).toBe(before + 300);

    const holder = await store!.keyHolder(SCOPE, 'order:OUT-PAID');
    expect(holder?.latest?.status).toBe('PAID');
    expect(holder?.syssn).toBe('SYS-PAID');
    expect(await store!.keyHolder(SCOPE, 'order:OUT-FAILED')).toBeUndefined();
    expect(await store!.keyHolder(SCOPE, 'order:OUT-429')).toBeUndefined();
    expect((await store!.beginWrite(paymentAdmission('OUT-FAILED', { txamt: 200 }))).kind).toBe('claimed');
    expect((await store!.beginWrite(paymentAdmission('OUT-PAID', { txamt: 300 }))).kind).toBe('held');
  });

  it('6 concurrent full refunds of one payment from 3 pools: 1 admitted; visible refunds are not counted twice', async () => {
    const pools = await stores(3);
    const results = await race(pools, 6, (store, i) =>
      store.beginWrite(refundAdmission(`REFUND-${i}`, 'SYS-ORIG-1', 1000, 1000)),
    );
    expect(kinds(results)).toEqual({ claimed: 1, refused: 5 });
    const winner = results.find((r) => r.kind === 'claimed')!;
    const refundNo = winner.kind === 'claimed' ? winner.intent.out_trade_no : '';
    expect(await pools[0]!.unaccountedDraws(SCOPE, 'refund', 'SYS-ORIG-1', new Set())).toBe(1000);
    expect(await pools[1]!.unaccountedDraws(SCOPE, 'refund', 'SYS-ORIG-1', new Set([refundNo]))).toBe(0);
  });

  it('a nonce is redeemed once across pools and across a reopen', async () => {
    const pools = await stores(2);
    const expires = new Date(Date.now() + 300_000);
    const results = await race(pools, 20, (store) => store.redeemNonce('nonce-abc', expires));
    expect(results.filter(Boolean)).toHaveLength(1);
    await Promise.all(pools.map((store) => store.close()));
    const [reopened] = await stores(1);
    expect(await reopened!.redeemNonce('nonce-abc', expires)).toBe(false);
    expect(await reopened!.redeemNonce('nonce-other', expires)).toBe(true);
  });

  it('a reconciliation lease has one owner until it expires', async () => {
    const [a, b] = await stores(2);
    const claims = await Promise.all([
      a!.claimReconciliation('intent-r', 'host-a', 60_000),
      b!.claimReconciliation('intent-r', 'host-b', 60_000),
    ]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    const owner = claims[0] ? a! : b!;
    const other = claims[0] ? b! : a!;
    expect(await owner.claimReconciliation('intent-r', claims[0] ? 'host-a' : 'host-b', 60_000)).toBe(true);
    expect(await other.claimReconciliation('intent-r', claims[0] ? 'host-b' : 'host-a', 60_000)).toBe(false);
    expect(await a!.claimReconciliation('intent-short', 'host-a', 1)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await b!.claimReconciliation('intent-short', 'host-b', 60_000)).toBe(true);
  });

  it('approvals change state once across pools and a reopen', async () => {
    const [a, b] = await stores(2);
    const now = new Date();
    const expiresAt = new Date(now.getTime() + 120_000).toISOString();
    const request = {
      id: 'appr-1',
      bindingDigest: 'd'.repeat(64),
      summary: 'Pay HKD 10.00',
      createdAt: now.toISOString(),
      expiresAt,
    };
    await a!.createApproval(request);
    expect(await a!.redeemApproval('appr-1', request.bindingDigest, now)).toEqual({
      ok: false,
      reason: 'pending',
    });
    const decisions = await Promise.all([
      a!.decideApproval('appr-1', { approved: true, by: 'passkey', credentialId: 'cred-1' }, now),
      b!.decideApproval('appr-1', { approved: false, by: 'secret' }, now),
    ]);
    expect(decisions.filter(Boolean)).toHaveLength(1);
    const decided = await b!.getApproval('appr-1');
    if (decided?.state === 'declined') {
      expect(await a!.redeemApproval('appr-1', request.bindingDigest, now)).toEqual({
        ok: false,
        reason: 'declined',
      });
    } else {
      expect(decided).toMatchObject({ state: 'approved', decidedBy: 'passkey', credentialId: 'cred-1' });
      expect(await a!.redeemApproval('appr-1', 'e'.repeat(64), now)).toEqual({
        ok: false,
        reason: 'mismatch',
      });
      const redemptions = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? a! : b!).redeemApproval('appr-1', request.bindingDigest, now),
        ),
      );
      expect(redemptions.filter((r) => r.ok)).toHaveLength(1);
      expect(redemptions.filter((r) => !r.ok && r.reason === 'reused')).toHaveLength(9);
    }
    const [reopened] = await stores(1);
    expect((await reopened!.getApproval('appr-1'))?.state).toMatch(/^(declined|redeemed)$/);
    expect(await reopened!.redeemApproval('appr-none', request.bindingDigest, now)).toEqual({
      ok: false,
      reason: 'unknown',
    });

    await a!.createApproval({ ...request, id: 'appr-late' });
    const later = new Date(now.getTime() + 121_000);
    expect(await a!.decideApproval('appr-late', { approved: true, by: 'secret' }, later)).toBe(false);
    expect(await a!.decideApproval('appr-late', { approved: true, by: 'secret' }, now)).toBe(true);
    expect(await a!.redeemApproval('appr-late', request.bindingDigest, later)).toEqual({
      ok: false,
      reason: 'expired',
    });
  });

  it('operator credentials and WebAuthn challenges: counters only rise, challenges are taken once', async () => {
    const [a, b] = await stores(2);
    await a!.addOperatorCredential({
      id: 'cred-x',
      publicKey: 'pk',
      counter: 5,
      transports: ['internal'],
      label: 'laptop',
      createdAt: new Date().toISOString(),
    });
    expect(await b!.listOperatorCredentials()).toEqual([
      expect.objectContaining({ id: 'cred-x', counter: 5, transports: ['internal'], label: 'laptop' }),
    ]);
    expect(await b!.raiseOperatorCredentialCounter('cred-x', 5)).toBe(false);
    const raises = await Promise.all([
      a!.raiseOperatorCredentialCounter('cred-x', 6),
      b!.raiseOperatorCredentialCounter('cred-x', 6),
    ]);
    expect(raises.filter(Boolean)).toHaveLength(1);

    const now = new Date();
    await a!.putChallenge('ch-1', 'challenge-text', new Date(now.getTime() + 60_000));
    const takes = await Promise.all([a!.takeChallenge('ch-1', now), b!.takeChallenge('ch-1', now)]);
    expect(takes.filter((t) => t === 'challenge-text')).toHaveLength(1);
    await a!.putChallenge('ch-2', 'old', new Date(now.getTime() + 1_000));
    expect(await b!.takeChallenge('ch-2', new Date(now.getTime() + 2_000))).toBeUndefined();
  });

  it('stamps times and UTC+8 days from the database clock, whatever the session time zone', async () => {
    // Sessions of this database default to UTC+14, so a day taken from the session's zone would differ.
    const name = new URL(database.url).pathname.slice(1);
    await queryDatabase(database.url, `ALTER DATABASE ${name} SET timezone = 'Pacific/Kiritimati'`);
    const [store] = await stores(1);
    let day = '';
    const result = await store!.beginWrite({
      ...paymentAdmission('DAY-1', { txamt: 1 }),
      admit: (totals) => {
        day = totals.day;
        return undefined;
      },
    });
    const [clock] = await queryDatabase<{ hk: string; now: Date }>(
      database.url,
      `SELECT (now() AT TIME ZONE 'Asia/Hong_Kong')::date::text AS hk, now() AS now`,
    );
    expect(result.kind).toBe('claimed');
    const intent = result.kind === 'claimed' ? result.intent : undefined;
    expect(day).toBe(clock!.hk);
    expect(hongKongDay(intent!.time)).toBe(day);
    expect(Math.abs(Date.parse(intent!.time) - clock!.now.getTime())).toBeLessThan(60_000);
    const [row] = await queryDatabase<{ day: string }>(
      database.url,
      `SELECT day::text FROM qfpay_intents WHERE out_trade_no = 'DAY-1'`,
    );
    expect(row!.day).toBe(day);
  });

  it('reads: recent newest first, listRecords filtered oldest first, pending intents by scope', async () => {
    const [store] = await stores(1);
    const first = await store!.beginWrite(paymentAdmission('READ-1', { txamt: 7 }));
    const second = await store!.beginWrite(paymentAdmission('READ-2', { txamt: 8 }));
    const firstId = first.kind === 'claimed' ? first.intent.intent_id : '';
    const outcome = await store!.recordOutcome(firstId, { status: 'PAID', syssn: 'SYS-READ-1' });
    const recent = await store!.recent(3, SCOPE);
    expect(recent.map((r) => r.seq)).toEqual([outcome.seq, outcome.seq - 1, outcome.seq - 2]);
    expect(await store!.recent(2, { environment: 'prod', merchant: SCOPE.merchant })).toEqual([]);
    const listed = await store!.listRecords({ out_trade_no: 'READ-1' });
    expect(listed.map((r) => r.step)).toEqual(['intent', 'outcome']);
    const pending = await store!.pendingIntents({
      scope: SCOPE,
      since: new Date(Date.now() - 3_600_000),
      limit: 500,
    });
    const pendingNumbers = pending.map((r) => r.out_trade_no);
    expect(pendingNumbers).toContain('READ-2');
    expect(pendingNumbers).not.toContain('READ-1');
    expect(pendingNumbers.indexOf('READ-2')).toBe(0);
    expect(second.kind).toBe('claimed');
  });

  it('never stores a configured secret, and rejects an outcome for an unknown intent', async () => {
    const [store] = await stores(1);
    const admission = paymentAdmission('SECRET-1');
    const result = await store!.beginWrite({
      ...admission,
      intent: { ...admission.intent, params: { ...admission.intent.params, goods_name: 'tea s3cret-key' } },
    });
    expect(result.kind).toBe('claimed');
    const rows = await queryDatabase(
      database.url,
      `SELECT 1 FROM qfpay_ledger WHERE body::text LIKE '%s3cret-key%'`,
    );
    expect(rows).toHaveLength(0);
    await expect(store!.recordOutcome('no-such-intent', { status: 'PAID' })).rejects.toMatchObject({
      code: 'unknown_intent',
    });
  });

  it('a host that holds the chain head too long makes the others refuse (locked), not hang', async () => {
    const [store] = await stores(1);
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT seq FROM qfpay_chain_head FOR UPDATE');
      const refusal = await store!.beginWrite(paymentAdmission('LOCKED-1')).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(LedgerError);
      expect(refusal).toMatchObject({ code: 'locked' });
      expect((refusal as LedgerError).message).toContain('not sent to QFPay');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect((await store!.beginWrite(paymentAdmission('LOCKED-1'))).kind).toBe('claimed');
  }, 40_000);

  it('verify walks the whole chain; a tampered row is named by its seq, and a cut tail stops every write', async () => {
    const [store] = await stores(1);
    const intact = await store!.verify();
    expect(intact.ok).toBe(true);
    const records = intact.records;
    expect(records).toBeGreaterThan(10);

    await queryDatabase(
      database.url,
      `UPDATE qfpay_ledger SET body = jsonb_set(body, '{txamt}', '1') WHERE seq = 7`,
    );
    const tampered = await store!.verify();
    expect(tampered).toMatchObject({ ok: false, firstBrokenSeq: 7, records: 6 });
    expect(tampered.ok ? '' : tampered.reason).toContain('altered');

    // Foreign keys would stop the delete; an attacker with table access can switch them off too.
    await queryDatabase(
      database.url,
      `SET session_replication_role = replica; DELETE FROM qfpay_ledger WHERE seq = ${records}`,
    );
    expect(await store!.verify()).toMatchObject({ ok: false, firstBrokenSeq: 7 });
    const refusal = await store!.beginWrite(paymentAdmission('AFTER-CUT')).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(LedgerError);
    expect(refusal).toMatchObject({ code: 'integrity' });
    await expect(openPostgresStore(database.url)).rejects.toMatchObject({ code: 'integrity' });
  });
});
