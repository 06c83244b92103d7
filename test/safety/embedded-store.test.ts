import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  AuditLedger,
  checkpointFile,
  LedgerError,
  LedgerIntegrityError,
  merchantFingerprint,
  verifyLedgerFile,
  type IntentInput,
} from '../../src/safety/ledger.js';
import type { StoreScope, WriteAdmission } from '../../src/safety/money-store.js';
import { EmbeddedMoneyStore } from '../../src/safety/stores/embedded.js';
import { MERCHANT, makeTempDir, paymentIntent } from './helpers.js';

/**
 * The embedded store's atomic steps. Two store instances on one file stand for two processes: they
 * share nothing but the files (ledger, `.state`, lock), exactly like separate server processes.
 */

let dir: string;
let cleanup: () => Promise<void>;
let file: string;
const opened: EmbeddedMoneyStore[] = [];
const SCOPE: StoreScope = { environment: 'sandbox', merchant: merchantFingerprint(MERCHANT) };

function openStore(options: ConstructorParameters<typeof EmbeddedMoneyStore>[1] = {}): EmbeddedMoneyStore {
  const store = new EmbeddedMoneyStore(file, { fsync: false, onWarning: () => undefined, ...options });
  opened.push(store);
  return store;
}

function admission(intent: IntentInput, extra: Partial<WriteAdmission> = {}): WriteAdmission {
  return {
    scope: SCOPE,
    key: intent.kind === 'cancel' ? `cancel:${intent.out_trade_no}` : `order:${intent.out_trade_no}`,
    fingerprint: intent.fingerprint ?? 'f'.repeat(64),
    intent,
    admit: () => undefined,
    ...extra,
  };
}

/** Admits while the day's total plus this amount stays within `cap`. */
function capAt(cap: number, txamt: number): WriteAdmission['admit'] {
  return (totals) =>
    totals.dayTotal + txamt > cap
      ? { message: `over the cap (${totals.dayTotal})`, next_action: 'stop' }
      : undefined;
}

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('store'));
  file = path.join(dir, 'state', 'audit-sandbox.jsonl');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await cleanup();
});

describe('EmbeddedMoneyStore.beginWrite', () => {
  it('claims a key once: the same fingerprint is held, another is a conflict, across two processes', async () => {
    const a = openStore();
    const b = openStore();
    const intent = paymentIntent({ out_trade_no: 'K-1' });
    const results = await Promise.all([a.beginWrite(admission(intent)), b.beginWrite(admission(intent))]);
    expect(results.map((result) => result.kind).sort()).toEqual(['claimed', 'held']);
    const conflicting = await b.beginWrite(admission({ ...intent, fingerprint: 'e'.repeat(64) }));
    expect(conflicting.kind).toBe('conflict');
    const held = results.find((result) => result.kind === 'held');
    expect(held?.kind === 'held' && held.holder.latest).toBeUndefined();
  });

  it('releases a key when QFPay certainly did not process it (not sent, 429) or definitely refused it (1201)', async () => {
    const a = openStore();
    const b = openStore();
    for (const outcome of [
      { status: 'FAILED' as const, processed: false },
      { status: 'FAILED' as const, respcd: '1201' },
    ]) {
      const intent = paymentIntent({ out_trade_no: `REL-${outcome.respcd ?? 'ns'}` });
      const first = await a.beginWrite(admission(intent));
      if (first.kind !== 'claimed') throw new Error('expected a claim');
      expect((await b.beginWrite(admission(intent))).kind).toBe('held');
      await a.recordOutcome(first.intent.intent_id, outcome);
      expect(await b.keyHolder(SCOPE, `order:${intent.out_trade_no}`)).toBeUndefined();
      expect((await b.beginWrite(admission(intent))).kind).toBe('claimed');
    }
    // Anything that may have moved money keeps it held.
    const paid = paymentIntent({ out_trade_no: 'KEEP' });
    const claim = await a.beginWrite(admission(paid));
    if (claim.kind !== 'claimed') throw new Error('expected a claim');
    await a.recordOutcome(claim.intent.intent_id, { status: 'UNKNOWN' });
    expect((await b.beginWrite(admission(paid))).kind).toBe('held');
  });

  it('checks a daily cap inside the step: 30 concurrent claims of 1,000 from 3 processes against 10,000 admit exactly 10', async () => {
    const stores = [openStore(), openStore(), openStore()];
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        stores[i % 3]!.beginWrite(
          admission(paymentIntent({ out_trade_no: `CAP-${i}`, txamt: 1_000 }), {
            admit: capAt(10_000, 1_000),
          }),
        ),
      ),
    );
    expect(results.filter((result) => result.kind === 'claimed')).toHaveLength(10);
    expect(results.filter((result) => result.kind === 'refused')).toHaveLength(20);
    // A definite failure frees its share of the cap.
    const first = results.find((result) => result.kind === 'claimed');
    if (first?.kind !== 'claimed') throw new Error('expected a claim');
    await stores[0]!.recordOutcome(first.intent.intent_id, { status: 'FAILED', respcd: '1201' });
    const again = await stores[1]!.beginWrite(
      admission(paymentIntent({ out_trade_no: 'CAP-after', txamt: 1_000 }), { admit: capAt(10_000, 1_000) }),
    );
    expect(again.kind).toBe('claimed');
  });

  it("gives admit the refunds of a payment recorded by any process that QFPay's query does not show yet", async () => {
    const a = openStore();
    const b = openStore();
    const refund = (out: string, txamt: number, visible: string[] = []): WriteAdmission =>
      admission(
        paymentIntent({ out_trade_no: out, kind: 'refund', tool: 'refund', txamt, orig_syssn: 'PAY-1' }),
        {
          drawOn: { kind: 'refund', orig_syssn: 'PAY-1', visible },
          admit: (totals) =>
            txamt + totals.unaccountedDraws > 1_000
              ? { message: 'over the remainder', next_action: 'stop' }
              : undefined,
        },
      );
    const six = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).beginWrite(refund(`RF-${i}`, 1_000))),
    );
    expect(six.filter((result) => result.kind === 'claimed')).toHaveLength(1);
    const winner = six.find((result) => result.kind === 'claimed');
    if (winner?.kind !== 'claimed') throw new Error('expected a claim');
    expect(await b.unaccountedDraws(SCOPE, 'refund', 'PAY-1', new Set())).toBe(1_000);
    // Once QFPay shows it, its amount is in the query's remainder instead.
    expect(await b.unaccountedDraws(SCOPE, 'refund', 'PAY-1', new Set([winner.intent.out_trade_no]))).toBe(0);
  });

  it('stamps times from one clock: never before the latest record, and refuses a clock a day behind', async () => {
    const now = new Date();
    const a = openStore({ now: () => now });
    const behindByASecond = openStore({ now: () => new Date(now.getTime() - 1_000) });
    const behindByADay = openStore({ now: () => new Date(now.getTime() - 86_400_000) });
    const first = await a.beginWrite(admission(paymentIntent({ out_trade_no: 'T-1' })));
    const second = await behindByASecond.beginWrite(admission(paymentIntent({ out_trade_no: 'T-2' })));
    if (first.kind !== 'claimed' || second.kind !== 'claimed') throw new Error('expected claims');
    expect(second.intent.time).toBe(first.intent.time);
    const refused = await behindByADay
      .beginWrite(admission(paymentIntent({ out_trade_no: 'T-3' })))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LedgerError);
    expect(refused).toMatchObject({ code: 'clock' });
    expect((refused as LedgerError).nextAction).toMatch(/clock/);
  });

  it('fails closed: a ledger that cannot be created rejects the claim', async () => {
    await writeFile(path.join(dir, 'state'), 'not a directory');
    const store = openStore();
    await expect(store.beginWrite(admission(paymentIntent()))).rejects.toBeInstanceOf(LedgerError);
  });
});

describe('EmbeddedMoneyStore single-use state', () => {
  it('redeems a nonce once across processes and across a restart', async () => {
    const a = openStore();
    const b = openStore();
    const expiresAt = new Date(Date.now() + 60_000);
    const results = await Promise.all([a.redeemNonce('N-1', expiresAt), b.redeemNonce('N-1', expiresAt)]);
    expect(results.sort()).toEqual([false, true]);
    await a.close();
    await b.close();
    const restarted = openStore();
    expect(await restarted.redeemNonce('N-1', expiresAt)).toBe(false);
    expect(await restarted.redeemNonce('N-2', expiresAt)).toBe(true);
  });

  it('leases a reconciliation to one owner until the lease ends', async () => {
    let now = Date.now();
    const a = openStore({ now: () => new Date(now) });
    const b = openStore({ now: () => new Date(now) });
    expect(await a.claimReconciliation('I-1', 'a', 1_000)).toBe(true);
    expect(await b.claimReconciliation('I-1', 'b', 1_000)).toBe(false);
    expect(await a.claimReconciliation('I-1', 'a', 1_000)).toBe(true);
    now += 1_001;
    expect(await b.claimReconciliation('I-1', 'b', 1_000)).toBe(true);
  });

  it('approvals: pending → approved once → redeemed once for the same binding only, across processes', async () => {
    const a = openStore();
    const b = openStore();
    const now = new Date();
    const expiresAt = new Date(now.getTime() + 60_000).toISOString();
    await a.createApproval({
      id: 'AP-1',
      bindingDigest: 'd1',
      summary: 's',
      createdAt: now.toISOString(),
      expiresAt,
    });
    expect(await b.redeemApproval('AP-1', 'd1', now)).toEqual({ ok: false, reason: 'pending' });
    const decisions = await Promise.all([
      a.decideApproval('AP-1', { approved: true, by: 'secret' }, now),
      b.decideApproval('AP-1', { approved: false, by: 'secret' }, now),
    ]);
    expect(decisions.filter(Boolean)).toHaveLength(1);
    const state = (await a.getApproval('AP-1'))?.state;
    if (state === 'approved') {
      expect(await a.redeemApproval('AP-1', 'other', now)).toEqual({ ok: false, reason: 'mismatch' });
      const redemptions = await Promise.all([
        a.redeemApproval('AP-1', 'd1', now),
        b.redeemApproval('AP-1', 'd1', now),
      ]);
      expect(redemptions.filter((r) => r.ok)).toHaveLength(1);
      expect(redemptions.find((r) => !r.ok)).toEqual({ ok: false, reason: 'reused' });
    } else {
      expect(await a.redeemApproval('AP-1', 'd1', now)).toEqual({ ok: false, reason: 'declined' });
    }
    const challenge = await Promise.all([
      a.putChallenge('C-1', 'xyz', new Date(now.getTime() + 60_000)).then(() => b.takeChallenge('C-1', now)),
    ]);
    expect(challenge).toEqual(['xyz']);
    expect(await a.takeChallenge('C-1', now)).toBeUndefined();
  });
});

describe('EmbeddedMoneyStore reading', () => {
  it('serves recent records from the end of the file, newest first, for one scope', async () => {
    const store = openStore();
    for (let i = 0; i < 5; i += 1)
      await store.beginWrite(admission(paymentIntent({ out_trade_no: `R-${i}` })));
    await store.beginWrite(
      admission(paymentIntent({ out_trade_no: 'R-other', merchant: { appcode: 'OTHERAPPCODE123456' } }), {
        scope: { environment: 'sandbox', merchant: merchantFingerprint({ appcode: 'OTHERAPPCODE123456' }) },
      }),
    );
    expect((await store.recent(3, SCOPE)).map((record) => record.out_trade_no)).toEqual([
      'R-4',
      'R-3',
      'R-2',
    ]);
    expect((await store.recent(1)).map((record) => record.out_trade_no)).toEqual(['R-other']);
    expect(await store.listRecords({ out_trade_no: 'R-1' })).toHaveLength(1);
    expect(await store.verify()).toEqual({ ok: true, records: 6 });
  });

  it('reads the tail across chunk boundaries, including a record longer than a chunk', async () => {
    const store = openStore();
    const huge = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`field_${i}`, 'x'.repeat(500)]));
    for (let i = 0; i < 300; i += 1) {
      const params = i === 150 ? { ...huge, out_trade_no: `TAIL-${i}` } : { out_trade_no: `TAIL-${i}` };
      await store.beginWrite(admission(paymentIntent({ out_trade_no: `TAIL-${i}`, params })));
    }
    const recent = await store.recent(300, SCOPE);
    expect(recent.map((record) => record.out_trade_no)).toEqual(
      Array.from({ length: 300 }, (_, i) => `TAIL-${299 - i}`),
    );
    expect(Object.keys(recent[149]!.params ?? {})).toHaveLength(201);
  });

  it('reopens from its checkpoint: only what was appended after it is read, the checkpointed record is checked', async () => {
    const store = openStore();
    const first = await store.beginWrite(admission(paymentIntent({ out_trade_no: 'CP-1' })));
    if (first.kind !== 'claimed') throw new Error('expected a claim');
    await store.recordOutcome(first.intent.intent_id, { status: 'PAID', syssn: 'S-1' });
    await store.close();
    const checkpoint = JSON.parse(await readFile(checkpointFile(file), 'utf8')) as { size: number };
    expect(checkpoint.size).toBe((await readFile(file)).length);

    // Appended by a process without saving a checkpoint (killed): read on the next open.
    const writer = await AuditLedger.open(file, { fsync: false });
    await writer.recordIntent(paymentIntent({ out_trade_no: 'CP-2' }));
    await (writer as unknown as { handle: { close(): Promise<void> } }).handle.close();

    const reopened = openStore();
    expect((await reopened.keyHolder(SCOPE, 'order:CP-1'))?.latest?.status).toBe('PAID');
    expect((await reopened.keyHolder(SCOPE, 'order:CP-2'))?.intent.out_trade_no).toBe('CP-2');
    await reopened.close();

    // The record the checkpoint vouches for is re-checked: altering it falls back to a full read.
    const original = await readFile(file, 'utf8');
    const lines = original.split('\n').filter(Boolean);
    lines[lines.length - 1] = lines.at(-1)!.replaceAll('CP-2', 'CP-3');
    await writeFile(file, `${lines.join('\n')}\n`);
    await expect(AuditLedger.open(file)).rejects.toBeInstanceOf(LedgerIntegrityError);
    // Records before it are trusted on open (by design: start-up cost must not grow with the
    // ledger); `audit verify` and doctor read every record and find any change there.
    await writeFile(file, original.replace('"syssn":"S-1"', '"syssn":"S-9"'));
    const trusting = await AuditLedger.open(file);
    await trusting.close();
    expect(await verifyLedgerFile(file)).toMatchObject({ ok: false, firstBrokenSeq: 2 });
  });
});
