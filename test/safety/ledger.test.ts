import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  AuditLedger,
  checkpointFile,
  GENESIS_HASH,
  LedgerError,
  LedgerIntegrityError,
  hashRecordBody,
  hongKongDay,
  merchantFingerprint,
  verifyLedgerFile,
} from '../../src/safety/ledger.js';
import type { LedgerRecord } from '../../src/safety/ledger.js';
import { MERCHANT, makeTempDir, paymentIntent } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let file: string;
const opened: AuditLedger[] = [];

async function openLedger(
  options: Parameters<typeof AuditLedger.open>[1] = {},
  at = file,
): Promise<AuditLedger> {
  const ledger = await AuditLedger.open(at, { onWarning: () => undefined, ...options });
  opened.push(ledger);
  return ledger;
}

/** Writes `count` payments, each an intent and a PAID outcome. */
async function writeHistory(ledger: AuditLedger, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const intent = await ledger.recordIntent(paymentIntent({ out_trade_no: `ORDER-${i}`, txamt: 100 + i }));
    await ledger.recordOutcome(intent.intent_id, { status: 'PAID', respcd: '0000', syssn: `2025${i}` });
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('ledger'));
  file = path.join(dir, 'state', 'audit-sandbox.jsonl');
});

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(opened.splice(0).map((ledger) => ledger.close()));
  await cleanup();
});

describe('AuditLedger chain', () => {
  it('creates a private directory and file and writes a verifiable chain', async () => {
    const ledger = await openLedger();
    await writeHistory(ledger, 3);

    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 6 });

    const records = lines(await readFile(file, 'utf8')).map((line) => JSON.parse(line) as LedgerRecord);
    expect(records.map((record) => record.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(records[0]!.prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < records.length; i += 1) expect(records[i]!.prev_hash).toBe(records[i - 1]!.hash);
    for (const record of records) {
      const { hash, ...body } = record;
      expect(hashRecordBody(body)).toBe(hash);
    }
    expect(records[1]).toMatchObject({ step: 'outcome', intent_id: records[0]!.intent_id, status: 'PAID' });
  });

  it('continues the chain after reopening', async () => {
    const first = await openLedger();
    await writeHistory(first, 2);
    await first.close();

    const second = await openLedger();
    expect(second.count).toBe(4);
    const next = await second.recordIntent(paymentIntent({ out_trade_no: 'AFTER-RESTART' }));
    expect(next.seq).toBe(5);
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 5 });
  });

  it('records the fields an auditor needs, with the app code masked', async () => {
    const ledger = await openLedger({ now: () => new Date('2025-06-01T02:03:04.000Z') });
    const refund = await ledger.recordIntent(
      paymentIntent({
        tool: 'refund',
        kind: 'refund',
        out_trade_no: 'REFUND-1',
        orig_syssn: '20250601000100020012345678',
        caller: 'session-42',
      }),
    );
    expect(refund).toMatchObject({
      seq: 1,
      time: '2025-06-01T02:03:04.000Z',
      environment: 'sandbox',
      merchant: { appcode: 'A1B2****8F90', mchid: 'ZaMVg12345', fingerprint: merchantFingerprint(MERCHANT) },
      tool: 'refund',
      kind: 'refund',
      step: 'intent',
      out_trade_no: 'REFUND-1',
      orig_syssn: '20250601000100020012345678',
      txamt: 1050,
      txcurrcd: 'HKD',
      status: 'INTENDED',
      caller: 'session-42',
      intent_id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
    });
    const outcome = await ledger.recordOutcome(refund.intent_id, { status: 'UNKNOWN', message: 'timeout' });
    expect(outcome).toMatchObject({
      step: 'outcome',
      orig_syssn: '20250601000100020012345678',
      message: 'timeout',
    });
    expect(readFileSync(file, 'utf8')).not.toContain(MERCHANT.appcode);
  });

  it('serialises 100 concurrent writes into one gapless chain', async () => {
    const ledger = await openLedger({ fsync: false });
    const records = await Promise.all(
      Array.from({ length: 100 }, (_, i) => ledger.recordIntent(paymentIntent({ out_trade_no: `C-${i}` }))),
    );
    expect(records.map((record) => record.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 100 });
  });

  it('keeps one linear chain when two ledgers (as two processes would) append to the same file', async () => {
    const a = await openLedger({ fsync: false });
    const b = await openLedger({ fsync: false });
    const intents = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? a : b).recordIntent(paymentIntent({ out_trade_no: `SHARED-${i}` })),
      ),
    );
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 40 });

    // b resolves an intent that a wrote; it catches up inside its write queue.
    const fromA = intents[0]!;
    await b.recordOutcome(fromA.intent_id, { status: 'PAID', respcd: '0000' });
    await a.refresh();
    expect(a.state.intent(fromA.intent_id)?.latest?.status).toBe('PAID');
    expect(a.count).toBe(41);
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 41 });
  });
});

describe('AuditLedger durability and failing closed', () => {
  it('has the intent on disk, fsync included, before recordIntent resolves', async () => {
    const ledger = await openLedger();
    const probe = await open(path.join(dir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as {
      sync: () => Promise<void>;
      write: () => Promise<unknown>;
    };
    await probe.close();
    const events: string[] = [];
    const originalSync = prototype.sync;
    const originalWrite = prototype.write;
    vi.spyOn(prototype, 'write').mockImplementation(function (this: unknown, ...args: unknown[]) {
      events.push('write');
      return originalWrite.apply(this, args as []);
    });
    vi.spyOn(prototype, 'sync').mockImplementation(function (this: unknown) {
      events.push('sync');
      return originalSync.apply(this);
    });

    let onDiskAtResolve = '';
    await ledger.recordIntent(paymentIntent({ out_trade_no: 'DURABLE-1' })).then(() => {
      events.push('resolved');
      onDiskAtResolve = readFileSync(file, 'utf8');
    });

    expect(lines(onDiskAtResolve)).toHaveLength(1);
    expect(onDiskAtResolve).toContain('"out_trade_no":"DURABLE-1"');
    expect(events.indexOf('write')).toBeGreaterThanOrEqual(0);
    expect(events.lastIndexOf('sync')).toBeGreaterThan(events.indexOf('write'));
    expect(events.at(-1)).toBe('resolved');
  });

  it('does not fsync when told not to (so the ordering test above can fail)', async () => {
    const ledger = await openLedger({ fsync: false });
    const probe = await open(path.join(dir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const sync = vi.spyOn(prototype, 'sync');
    await ledger.recordIntent(paymentIntent());
    expect(sync).not.toHaveBeenCalled();
  });

  it('refuses to open a ledger under a regular file (ENOTDIR)', async () => {
    const blocker = path.join(dir, 'not-a-directory');
    await writeFile(blocker, 'x');
    const error = await AuditLedger.open(path.join(blocker, 'audit.jsonl')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('unavailable');
    expect((error as LedgerError).message).toMatch(/ENOTDIR|ENOENT|EEXIST/);
    expect((error as LedgerError).message).toContain('not sent to QFPay');
  });

  it('rejects recordIntent when the ledger directory is replaced by a file after opening', async () => {
    const ledger = await openLedger();
    await ledger.recordIntent(paymentIntent({ out_trade_no: 'BEFORE' }));
    await rm(path.dirname(file), { recursive: true });
    await writeFile(path.dirname(file), 'blocker');

    await expect(ledger.recordIntent(paymentIntent({ out_trade_no: 'AFTER' }))).rejects.toBeInstanceOf(
      LedgerError,
    );
    // And keeps refusing: nothing may be written until a restart re-verifies the file.
    await expect(ledger.recordIntent(paymentIntent({ out_trade_no: 'AFTER-2' }))).rejects.toBeInstanceOf(
      LedgerError,
    );
  });

  it('rejects recordIntent when the ledger file was deleted or replaced while open', async () => {
    const ledger = await openLedger();
    await ledger.recordIntent(paymentIntent({ out_trade_no: 'BEFORE' }));
    await rm(file);
    await expect(ledger.recordIntent(paymentIntent({ out_trade_no: 'GONE' }))).rejects.toThrow(/disappeared/);

    const other = await openLedger({}, path.join(dir, 'other.jsonl'));
    await other.recordIntent(paymentIntent());
    await writeFile(path.join(dir, 'other.jsonl'), await readFile(path.join(dir, 'other.jsonl')));
    // writeFile truncates in place (same inode); a replacement needs a new inode:
    await rm(path.join(dir, 'other.jsonl'));
    await writeFile(path.join(dir, 'other.jsonl'), '');
    await expect(other.recordIntent(paymentIntent({ out_trade_no: 'SWAPPED' }))).rejects.toThrow(/replaced/);
  });

  it('waits for, and gives up on, a lock held by a live process; takes over one left by a dead process', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.lock`, `${process.pid} ${hostname()} ${Date.now()} held`);
    const error = await AuditLedger.open(file, { lockTimeoutMs: 150 }).catch((e: unknown) => e);
    expect((error as LedgerError).code).toBe('locked');

    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(child.stdout.toString());
    await writeFile(`${file}.lock`, `${deadPid} ${hostname()} ${Date.now()} abandoned`);
    const ledger = await openLedger({ lockTimeoutMs: 2_000 });
    await ledger.recordIntent(paymentIntent());
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 1 });
    await expect(stat(`${file}.lock`)).rejects.toThrow(/ENOENT/);
  });

  it('takes over an empty lock left by a process killed while creating it, and sweeps stale staging files', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(child.stdout.toString());
    const lock = `${file}.lock`;
    await writeFile(lock, '');
    const twoSecondsAgo = new Date(Date.now() - 2_000);
    await utimes(lock, twoSecondsAgo, twoSecondsAgo);
    const strayDead = `${file}.lock.${deadPid}.0a1b2c3d`;
    const strayLive = `${file}.lock.${process.pid}.0a1b2c3d`;
    await writeFile(strayDead, 'x');
    await writeFile(strayLive, 'x');

    const ledger = await openLedger({ lockTimeoutMs: 2_000 });
    await ledger.recordIntent(paymentIntent());
    await expect(stat(strayDead)).rejects.toThrow(/ENOENT/);
    expect((await stat(strayLive)).isFile()).toBe(true);
    await expect(stat(lock)).rejects.toThrow(/ENOENT/);
  });

  it('validates what it is asked to record', async () => {
    const ledger = await openLedger();
    await expect(ledger.recordIntent(paymentIntent({ txamt: 10.5 }))).rejects.toThrow(/txamt/);
    await expect(ledger.recordIntent(paymentIntent({ out_trade_no: 'has space' }))).rejects.toThrow(
      /out_trade_no/,
    );
    await expect(ledger.recordIntent(paymentIntent({ txcurrcd: 'hkd' }))).rejects.toThrow(/txcurrcd/);
    await expect(ledger.recordOutcome('no-such-intent', { status: 'PAID' })).rejects.toThrow(/No intent/);
    expect(ledger.count).toBe(0);
  });

  it('finishes writes queued before close, and rejects writes after it', async () => {
    const ledger = await openLedger();
    const queued = ledger.recordIntent(paymentIntent({ out_trade_no: 'QUEUED' }));
    const closing = ledger.close();
    await expect(queued).resolves.toMatchObject({ seq: 1 });
    await closing;
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 1 });
    await expect(ledger.recordIntent(paymentIntent())).rejects.toThrow(/closed/);
  });
});

describe('AuditLedger tamper evidence', () => {
  it('detects any single flipped byte at the record that contains it', async () => {
    const ledger = await openLedger({ fsync: false });
    await writeHistory(ledger, 4);
    await ledger.close();
    const original = await readFile(file);
    // Record k (1-based) occupies [starts[k-1], starts[k]); its terminating newline belongs to it.
    const starts = [0];
    for (let i = 0; i < original.length; i += 1) if (original[i] === 0x0a) starts.push(i + 1);
    const recordAt = (position: number): number => starts.findIndex((start) => start > position);

    const copy = path.join(dir, 'flipped.jsonl');
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: original.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (position, mask) => {
          const bytes = Buffer.from(original);
          bytes[position] = bytes[position]! ^ mask;
          await writeFile(copy, bytes);
          const result = await verifyLedgerFile(copy);
          expect(result.ok).toBe(false);
          if (!result.ok) {
            expect(result.firstBrokenSeq).toBe(recordAt(position));
            expect(result.line).toBe(recordAt(position));
            expect(result.records).toBe(recordAt(position) - 1);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('detects removed, reordered and re-hashed records', async () => {
    const ledger = await openLedger({ fsync: false });
    await writeHistory(ledger, 3);
    await ledger.close();
    const all = lines(await readFile(file, 'utf8'));

    await writeFile(file, [all[0], all[2], all[3], all[4], all[5]].join('\n') + '\n');
    expect(await verifyLedgerFile(file)).toMatchObject({ ok: false, firstBrokenSeq: 2, line: 2 });

    await writeFile(file, [all[1], all[0], ...all.slice(2)].join('\n') + '\n');
    expect(await verifyLedgerFile(file)).toMatchObject({ ok: false, firstBrokenSeq: 1, line: 1 });

    // An attacker who changes an amount and recomputes that record's hash breaks the next link.
    const edited = JSON.parse(all[2]!) as Record<string, unknown>;
    edited.txamt = 1;
    const { hash: _old, ...body } = edited;
    const rehashed = { ...body, hash: hashRecordBody(body) };
    const { canonicalJson } = await import('../../src/safety/idempotency.js');
    await writeFile(file, [all[0], all[1], canonicalJson(rehashed), ...all.slice(3)].join('\n') + '\n');
    const result = await verifyLedgerFile(file);
    expect(result).toMatchObject({ ok: false, firstBrokenSeq: 4 });
    expect(!result.ok && result.reason).toMatch(/prev_hash/);
  });

  it('refuses to open a broken ledger and names the first broken record', async () => {
    const ledger = await openLedger({ fsync: false });
    await writeHistory(ledger, 2);
    await ledger.close();
    // Without its checkpoint, open verifies every record (with one, only those after it: see the
    // embedded store's checkpoint test; `audit verify` always checks everything).
    await rm(checkpointFile(file), { force: true });
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('"txamt":101', '"txamt":999'));

    const error = await AuditLedger.open(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerIntegrityError);
    expect(error).toMatchObject({ seq: 3, line: 3 });
    expect((error as Error).message).toContain('broken at record 3');
  });

  it('reports a torn final line, and open() moves the fragment aside and continues the chain', async () => {
    const ledger = await openLedger({ fsync: false });
    await writeHistory(ledger, 2);
    await ledger.close();
    const intact = await readFile(file);
    const torn = '{"environment":"sandbox","intent_id":"6f1c';
    await writeFile(file, Buffer.concat([intact, Buffer.from(torn)]));

    const verdict = await verifyLedgerFile(file);
    expect(verdict).toMatchObject({ ok: false, records: 4, firstBrokenSeq: 5, line: 5 });
    expect(!verdict.ok && verdict.reason).toMatch(/incomplete/);

    const warnings: string[] = [];
    const reopened = await openLedger({ onWarning: (message) => warnings.push(message) });
    expect(reopened.count).toBe(4);
    expect(warnings.join()).toContain('incomplete final line');
    expect((await readFile(file)).equals(intact)).toBe(true);
    const aside = (await readdir(path.dirname(file))).filter((name) => name.includes('.torn-'));
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(path.dirname(file), aside[0]!), 'utf8')).toBe(torn);

    const next = await reopened.recordIntent(paymentIntent({ out_trade_no: 'AFTER-REPAIR' }));
    expect(next.seq).toBe(5);
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 5 });
  });

  it('keeps a complete final record that only lost its newline', async () => {
    const ledger = await openLedger({ fsync: false });
    await writeHistory(ledger, 1);
    await ledger.close();
    const intact = await readFile(file);
    await writeFile(file, intact.subarray(0, intact.length - 1));
    expect(await verifyLedgerFile(file)).toMatchObject({ ok: false, firstBrokenSeq: 2 });

    const reopened = await openLedger();
    expect(reopened.count).toBe(2);
    expect((await readFile(file)).equals(intact)).toBe(true);
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 2 });
  });

  it('an empty or missing file is an intact, empty ledger', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '');
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 0 });
    await expect(verifyLedgerFile(path.join(dir, 'missing.jsonl'))).rejects.toThrow(/ENOENT/);
  });
});

describe('AuditLedger secrets', () => {
  it('never stores keys, signatures, tokens, full auth codes or card numbers (canary)', async () => {
    const clientKey = randomBytes(16).toString('hex').toUpperCase();
    const bearer = `bearer-${randomBytes(12).toString('hex')}`;
    const confirmationToken = `${randomBytes(20).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    const authCode = '134567890123451201';
    const ledger = await openLedger({ secrets: [clientKey, bearer] });

    const intent = await ledger.recordIntent(
      paymentIntent({
        tool: 'create_payment',
        params: {
          pay_type: '800008',
          auth_code: authCode,
          key: clientKey,
          client_key: clientKey,
          sign: 'D41D8CD98F00B204E9800998ECF8427E',
          'X-QF-SIGN': 'D41D8CD98F00B204E9800998ECF8427E',
          confirmation_token: confirmationToken,
          sign_type: 'SHA256',
          goods_name: `tea ${clientKey.toLowerCase()} card 4111 1111 1111 1111`,
          extend_info: { nested_secret: 'x', note: `Bearer ${bearer}` },
        },
        caller: `client ${bearer}`,
      }),
    );
    await ledger.recordOutcome(intent.intent_id, {
      status: 'FAILED',
      respcd: '1108',
      message: `signature mismatch for key ${clientKey}`,
    });

    const text = await readFile(file, 'utf8');
    for (const canary of [
      clientKey,
      clientKey.toLowerCase(),
      bearer,
      confirmationToken,
      authCode,
      '4111111111111111',
    ]) {
      expect(text).not.toContain(canary);
    }
    expect(text).not.toContain('D41D8CD98F00B204E9800998ECF8427E');
    expect(text).toContain('"auth_code":"**************1201"');
    expect(text).toContain('"sign_type":"SHA256"');
    expect(text).toContain('************1111');
    expect(intent.params).toMatchObject({ key: '[REDACTED]', confirmation_token: '[REDACTED]' });
  });
});

describe('AuditLedger queries', () => {
  it('lists pending intents: no outcome, or a latest outcome that is not final', async () => {
    const ledger = await openLedger();
    const paid = await ledger.recordIntent(paymentIntent({ out_trade_no: 'P-PAID' }));
    await ledger.recordOutcome(paid.intent_id, { status: 'PAID' });
    const silent = await ledger.recordIntent(paymentIntent({ out_trade_no: 'P-SILENT' }));
    const unknown = await ledger.recordIntent(paymentIntent({ out_trade_no: 'P-UNKNOWN' }));
    await ledger.recordOutcome(unknown.intent_id, { status: 'UNKNOWN' });
    const reconciled = await ledger.recordIntent(paymentIntent({ out_trade_no: 'P-RECONCILED' }));
    await ledger.recordOutcome(reconciled.intent_id, { status: 'PROCESSING', respcd: '1145' });
    await ledger.recordReconciliation(reconciled.intent_id, { status: 'PAID', respcd: '0000' });

    const pending = (l: AuditLedger) => l.state.pendingIntents().map((entry) => entry.intent);
    expect(pending(ledger).map((record) => record.out_trade_no)).toEqual(['P-SILENT', 'P-UNKNOWN']);
    await ledger.close();
    const reopened = await openLedger();
    expect(pending(reopened).map((record) => record.intent_id)).toEqual([
      silent.intent_id,
      unknown.intent_id,
    ]);
  });

  it('finds every use of an out_trade_no with its latest outcome, and lists recent records newest first', async () => {
    const ledger = await openLedger();
    const first = await ledger.recordIntent(paymentIntent({ out_trade_no: 'DUP' }));
    await ledger.recordOutcome(first.intent_id, { status: 'PROCESSING' });
    await ledger.recordReconciliation(first.intent_id, { status: 'PAID', syssn: '2025X' });
    await ledger.recordIntent(paymentIntent({ out_trade_no: 'OTHER' }));

    const scope = `sandbox|${merchantFingerprint(MERCHANT)}`;
    const found = ledger.state.entriesFor(scope, 'order:DUP');
    expect(found).toHaveLength(1);
    expect(found[0]!.intent.intent_id).toBe(first.intent_id);
    expect(found[0]!.latest).toMatchObject({ step: 'reconciled', status: 'PAID', syssn: '2025X' });
    expect(found[0]!.syssn).toBe('2025X');
    expect(ledger.state.entriesFor(scope, 'order:NEVER')).toEqual([]);
    expect((await ledger.recent(2)).map((record) => record.seq)).toEqual([4, 3]);
    expect(await ledger.recent(0)).toEqual([]);
    expect((await ledger.recent(10, (record) => record.out_trade_no === 'OTHER')).map((r) => r.seq)).toEqual([
      4,
    ]);
  });

  it('totals a UTC+8 day per currency, counting everything not definitely failed', async () => {
    let now = new Date('2025-03-01T15:59:59.000Z'); // 23:59:59 in Hong Kong, 1 March
    const ledger = await openLedger({ now: () => now });
    const record = async (
      out: string,
      txamt: number,
      txcurrcd: string,
      status?: 'PAID' | 'FAILED' | 'UNKNOWN' | 'PROCESSING' | 'CANCELLED',
      kind: 'payment' | 'refund' = 'payment',
    ) => {
      const intent = await ledger.recordIntent(paymentIntent({ out_trade_no: out, txamt, txcurrcd, kind }));
      if (status) await ledger.recordOutcome(intent.intent_id, { status });
    };
    await record('D1-PAID', 1000, 'HKD', 'PAID');
    await record('D1-FAILED', 2000, 'HKD', 'FAILED');
    await record('D1-CANCELLED', 4000, 'HKD', 'CANCELLED');
    await record('D1-UNKNOWN', 300, 'HKD', 'UNKNOWN');
    await record('D1-NO-OUTCOME', 40, 'HKD');
    await record('D1-USD', 500, 'USD', 'PROCESSING');
    await record('D1-REFUND', 700, 'HKD', 'PAID', 'refund');
    now = new Date('2025-03-01T16:00:00.000Z'); // midnight in Hong Kong: 2 March
    await record('D2-PAID', 5, 'HKD', 'PAID');

    expect(hongKongDay('2025-03-01T15:59:59.000Z')).toBe('2025-03-01');
    const scope = `sandbox|${merchantFingerprint(MERCHANT)}`;
    const total = (day: string, kind: string, currency: string) =>
      ledger.state.dayTotal(scope, day, kind, currency);
    expect(total('2025-03-01', 'payment', 'HKD')).toBe(1340);
    expect(total('2025-03-01', 'payment', 'USD')).toBe(500);
    expect(total('2025-03-01', 'refund', 'HKD')).toBe(700);
    expect(total('2025-03-02', 'payment', 'HKD')).toBe(5);
    expect(total('2025-02-28', 'payment', 'HKD')).toBe(0);
  });
});
