import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { runAuditCli, summariseActions } from '../../src/cli/audit.js';
import { AuditLedger, readLedgerFile, verifyLedgerFile } from '../../src/safety/ledger.js';
import type { MoneyStore } from '../../src/safety/money-store.js';
import { openPostgresStore } from '../../src/safety/stores/postgres.js';
import { describeWithServices } from '../support/services.js';
import { makeTempDir, paymentIntent } from './helpers.js';
import { createTestDatabase, paymentAdmission, queryDatabase, SCOPE } from './postgres-helpers.js';

/**
 * Moving a merchant from the embedded ledger to PostgreSQL with `audit export` / `audit import`, and
 * `audit verify` / `audit list` reading the database, against the real server.
 */
describeWithServices('qfpay-mcp audit with PostgreSQL', ['postgres'], ([serverUrl]) => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  let database: { url: string; drop: () => Promise<void> };
  let fileRecords: number;

  async function run(argv: string[], env: NodeJS.ProcessEnv = { QFPAY_DATABASE_URL: database.url }) {
    let stdout = '';
    let stderr = '';
    const code = await runAuditCli(argv, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      env,
    });
    return { code, stdout, stderr };
  }

  async function withStore<T>(work: (store: MoneyStore) => Promise<T>): Promise<T> {
    const store = await openPostgresStore(database.url, {});
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('pg-audit'));
    database = await createTestDatabase(serverUrl!);
    file = path.join(dir, 'audit-sandbox.jsonl');
    const ledger = await AuditLedger.open(file, { fsync: false });
    const paid = await ledger.recordIntent(
      paymentIntent({ out_trade_no: 'MOVE-PAID', txamt: 1050, fingerprint: 'fp-MOVE-PAID' }),
    );
    await ledger.recordOutcome(paid.intent_id, { status: 'PAID', respcd: '0000', syssn: 'SYS-MOVE-1' });
    const refused = await ledger.recordIntent(paymentIntent({ out_trade_no: 'MOVE-FAILED', txamt: 700 }));
    await ledger.recordOutcome(refused.intent_id, { status: 'FAILED', respcd: '1201' });
    const refund = await ledger.recordIntent(
      paymentIntent({
        tool: 'refund',
        kind: 'refund',
        out_trade_no: 'MOVE-REFUND',
        txamt: 50,
        orig_syssn: 'SYS-MOVE-1',
      }),
    );
    await ledger.recordOutcome(refund.intent_id, { status: 'UNKNOWN', message: 'timeout' });
    await ledger.recordIntent(paymentIntent({ out_trade_no: 'MOVE-OPEN', txamt: 300 }));
    fileRecords = ledger.count;
    await ledger.close();
  });

  afterAll(async () => {
    await database?.drop();
    await cleanup?.();
  });

  it('export writes the verified records byte for byte; import loads them once, a re-run adds nothing', async () => {
    const out = path.join(dir, 'export.jsonl');
    const exported = await run(['export', file, '--out', out]);
    expect(exported).toMatchObject({
      code: 0,
      stderr: `Exported ${fileRecords} records from ${file}; hash chain intact.\n`,
    });
    expect(await readFile(out, 'utf8')).toBe(await readFile(file, 'utf8'));
    expect((await run(['export', file, '--out', out])).code).toBe(2);
    const toStdout = await run(['export', file]);
    expect(toStdout.stdout).toBe(await readFile(file, 'utf8'));

    const first = await run(['import', out]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Imported ${fileRecords} records from ${out} (0 already present)`);
    expect(first.stdout).toContain(`${fileRecords} records, hash chain intact`);
    const again = await run(['import', out]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Imported 0 records from ${out} (${fileRecords} already present)`);
  });

  it('audit verify and list read the database when QFPAY_DATABASE_URL is set and no file is named', async () => {
    const verified = await run(['verify', '--json']);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, records: fileRecords });
    const listed = await run(['list', '--json', '--limit', '100']);
    expect(listed.code).toBe(0);
    const { records } = await readLedgerFile(file);
    expect(JSON.parse(listed.stdout)).toEqual(summariseActions(records));
    expect((await run(['list'])).stdout).toContain('MOVE-PAID');
    // A named file is still read from the file.
    expect((await run(['verify', file])).stdout).toBe(
      `OK ${file}: ${fileRecords} records, hash chain intact.\n`,
    );
  });

  it('the imported state decides like the original: keys, released keys, day totals, refunds; the chain continues', async () => {
    await withStore(async (store) => {
      expect((await store.keyHolder(SCOPE, 'order:MOVE-PAID'))?.syssn).toBe('SYS-MOVE-1');
      expect(await store.keyHolder(SCOPE, 'order:MOVE-FAILED')).toBeUndefined();
      expect((await store.keyHolder(SCOPE, 'order:MOVE-OPEN'))?.latest).toBeUndefined();
      expect(await store.unaccountedDraws(SCOPE, 'refund', 'SYS-MOVE-1', new Set())).toBe(50);
      expect(
        (await store.beginWrite(paymentAdmission('MOVE-PAID', { fingerprint: 'fp-MOVE-PAID' }))).kind,
      ).toBe('held');
      const pending = await store.pendingIntents({ scope: SCOPE, since: new Date(0), limit: 10 });
      expect(pending.map((record) => record.out_trade_no)).toEqual(['MOVE-OPEN', 'MOVE-REFUND']);
      const next = await store.beginWrite(paymentAdmission('MOVE-NEXT', { txamt: 1 }));
      const { records } = await readLedgerFile(file);
      expect(next.kind === 'claimed' && next.intent.prev_hash).toBe(records.at(-1)!.hash);
      expect(next.kind === 'claimed' && next.intent.seq).toBe(fileRecords + 1);
    });
    // The day totals count what the file counted: payments that may have moved money, not the FAILED one.
    const [row] = await queryDatabase<{ total: string }>(
      database.url,
      `SELECT sum(total) AS total FROM qfpay_day_totals WHERE kind = 'payment'`,
    );
    expect(Number(row!.total)).toBe(1050 + 300 + 1);
    // The file is now a prefix of the database's ledger: importing it again adds nothing.
    expect((await run(['import', file])).stdout).toContain(
      `Imported 0 records from ${file} (${fileRecords} already present)`,
    );
  });

  it('export --database writes a file that verifies', async () => {
    const out = path.join(dir, 'from-database.jsonl');
    expect((await run(['export', '--database', '--out', out])).code).toBe(0);
    expect(await verifyLedgerFile(out)).toEqual({ ok: true, records: fileRecords + 1 });
  });

  it('refuses a tampered file and a ledger that differs from the database, importing nothing', async () => {
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[2] = lines[2]!.replace('"txamt":700', '"txamt":7');
    const tampered = path.join(dir, 'tampered.jsonl');
    await writeFile(tampered, lines.join('\n'));
    const refusedFile = await run(['import', tampered]);
    expect(refusedFile.code).toBe(1);
    expect(refusedFile.stderr).toContain('record 3');

    const otherFile = path.join(dir, 'other.jsonl');
    const other = await AuditLedger.open(otherFile, { fsync: false });
    await other.recordIntent(paymentIntent({ out_trade_no: 'OTHER-1' }));
    await other.close();
    const before = await queryDatabase(database.url, 'SELECT seq FROM qfpay_ledger');
    const refusedOther = await run(['import', otherFile]);
    expect(refusedOther.code).toBe(1);
    expect(refusedOther.stderr).toContain('different ledger');
    expect(await queryDatabase(database.url, 'SELECT seq FROM qfpay_ledger')).toHaveLength(before.length);
    expect((await run(['import', otherFile], {})).code).toBe(2);
  });

  it('audit verify names the first altered record in the database', async () => {
    await queryDatabase(
      database.url,
      `UPDATE qfpay_ledger SET body = jsonb_set(body, '{status}', '"PAID"') WHERE seq = 4`,
    );
    const broken = await run(['verify']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^BROKEN postgres(ql)?:\/\/[^ ]+: record 4\b.*: hash does not match/);
    expect(broken.stdout).not.toContain('postgres@');
  });
});
