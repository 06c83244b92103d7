import { copyFile, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  indexFile,
  type IndexedIntent,
  type LedgerIndex,
  type SlotHash,
} from '../../src/safety/ledger-index.js';
import {
  AuditLedger,
  checkpointFile,
  hongKongDay,
  type IntentInput,
  type LedgerOpenOptions,
  type LedgerRecord,
  merchantFingerprint,
  movedNothing,
  type OutcomeInput,
} from '../../src/safety/ledger.js';
import type { NormalisedStatus } from '../../src/qfpay/types.js';
import { FINAL_STATUSES } from '../../src/qfpay/types.js';
import { MERCHANT, makeTempDir, paymentIntent } from './helpers.js';

/**
 * The embedded store's on-disk index (`<ledger>.index`, ledger-index.ts): lookups survive growth of
 * the table, hash collisions, lost or damaged index files and crashes between a ledger append and
 * the index update; two ledgers on one file stand for two processes (they share only the files);
 * and what the index keeps in memory is bounded whatever the ledger's size.
 */

let dir: string;
let cleanup: () => Promise<void>;
let file: string;
const opened: AuditLedger[] = [];
const SCOPE = `sandbox|${merchantFingerprint(MERCHANT)}`;

async function openLedger(options: LedgerOpenOptions = {}): Promise<AuditLedger> {
  const ledger = await AuditLedger.open(file, { fsync: false, onWarning: () => undefined, ...options });
  opened.push(ledger);
  return ledger;
}

/** Closes only the file handle, as a process killed with -9 would leave things (no checkpoint). */
async function kill(ledger: AuditLedger): Promise<void> {
  opened.splice(opened.indexOf(ledger), 1);
  await (ledger as unknown as { handle: { close(): Promise<void> } }).handle.close();
}

function refund(out_trade_no: string, orig_syssn: string, txamt = 100): IntentInput {
  return paymentIntent({ out_trade_no, orig_syssn, txamt, kind: 'refund', tool: 'refund_payment' });
}

async function pay(ledger: AuditLedger, out_trade_no: string, outcome?: OutcomeInput): Promise<LedgerRecord> {
  const intent = await ledger.recordIntent(paymentIntent({ out_trade_no }));
  if (outcome) await ledger.recordOutcome(intent.intent_id, outcome);
  return intent;
}

const outTradeNos = (entries: readonly IndexedIntent[]) => entries.map((entry) => entry.intent.out_trade_no);

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('index'));
  file = path.join(dir, 'audit.jsonl');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((ledger) => ledger.close().catch(() => undefined)));
  await cleanup();
});

describe('ledger index on disk', () => {
  it('finds every intent, key and draw after the table has grown many times, before and after a reopen', async () => {
    const ledger = await openLedger({ index: { initialSlots: 8 } });
    for (let i = 0; i < 150; i += 1) {
      await pay(ledger, `GROW-${i}`, { status: 'PAID', syssn: `S-${i}` });
      if (i % 10 === 0) await ledger.recordIntent(refund(`GROW-R-${i}`, `S-${i}`));
    }
    // 150 payments + 15 refunds, 2-3 slots per intent and 1 per outcome: far beyond 8 slots.
    expect((await stat(indexFile(file))).size).toBeGreaterThan(64 + 8 * 16 * 64);
    const check = (index: LedgerIndex) => {
      for (let i = 0; i < 150; i += 1) {
        const [entry] = index.entriesFor(SCOPE, `order:GROW-${i}`);
        expect(entry?.latest).toMatchObject({ status: 'PAID', syssn: `S-${i}` });
        expect(index.intent(entry!.intent.intent_id)?.syssn).toBe(`S-${i}`);
        expect(outTradeNos(index.drawsOf(SCOPE, `S-${i}`, 'refund'))).toEqual(
          i % 10 === 0 ? [`GROW-R-${i}`] : [],
        );
      }
      expect(index.entriesFor(SCOPE, 'order:GROW-150')).toEqual([]);
      expect(index.dayTotal(SCOPE, hongKongDay(new Date()), 'payment', 'HKD')).toBe(150 * 1050);
    };
    check(ledger.state);
    await ledger.close();
    const reopened = await openLedger({ index: { initialSlots: 8 } });
    check(reopened.state);
  });

  it('answers right when every key hashes to the same slot (collisions are verified against the record)', async () => {
    const sameSlot = (): SlotHash => [5, 0];
    const ledger = await openLedger({ index: { hashKey: sameSlot, initialSlots: 8 } });
    const first = await pay(ledger, 'C-1', { status: 'PAID', syssn: 'S-1' });
    await pay(ledger, 'C-2', { status: 'FAILED' });
    const retried = await pay(ledger, 'C-2', { status: 'PAID', syssn: 'S-2' });
    await ledger.recordIntent(refund('C-R1', 'S-1', 300));
    await ledger.recordIntent(paymentIntent({ out_trade_no: 'C-1', kind: 'cancel', orig_syssn: 'S-1' }));

    const index = ledger.state;
    expect(outTradeNos(index.entriesFor(SCOPE, 'order:C-1'))).toEqual(['C-1']);
    expect(index.entriesFor(SCOPE, 'order:C-1')[0]!.intent.intent_id).toBe(first.intent_id);
    expect(index.entriesFor(SCOPE, 'order:C-2').map((e) => e.latest?.status)).toEqual(['FAILED', 'PAID']);
    expect(index.entriesFor(SCOPE, 'order:C-2')[1]!.intent.intent_id).toBe(retried.intent_id);
    expect(outTradeNos(index.entriesFor(SCOPE, 'cancel:C-1'))).toEqual(['C-1']);
    expect(outTradeNos(index.drawsOf(SCOPE, 'S-1', 'refund'))).toEqual(['C-R1']);
    expect(outTradeNos(index.drawsOf(SCOPE, 'S-1', 'cancel'))).toEqual(['C-1']);
    expect(index.drawsOf(SCOPE, 'S-2', 'refund')).toEqual([]);
    expect(index.entriesFor(SCOPE, 'order:C-3')).toEqual([]);
    expect(index.entriesFor('prod|other', 'order:C-1')).toEqual([]);
    expect(index.intent('no-such-intent')).toBeUndefined();
  });

  it('indexes on the next step a record that reached the ledger but not the index (crash between the two)', async () => {
    const ledger = await openLedger();
    await pay(ledger, 'BEFORE', { status: 'PAID' });
    await ledger.close();
    const indexAtCheckpoint = `${indexFile(file)}.copy`;
    await copyFile(indexFile(file), indexAtCheckpoint);

    // A process appends and dies; then its index writes are lost (the table as it was at the checkpoint).
    const dying = await openLedger();
    await pay(dying, 'AFTER', { status: 'UNKNOWN' });
    await kill(dying);
    await copyFile(indexAtCheckpoint, indexFile(file));

    const reopened = await openLedger();
    expect(outTradeNos(reopened.state.entriesFor(SCOPE, 'order:AFTER'))).toEqual(['AFTER']);
    expect(outTradeNos(reopened.state.pendingIntents())).toEqual(['AFTER']);
    expect(outTradeNos(reopened.state.entriesFor(SCOPE, 'order:BEFORE'))).toEqual(['BEFORE']);
  });

  it('shares the table between two processes, one of them growing it while the other has it open', async () => {
    const a = await openLedger({ index: { initialSlots: 8 } });
    const b = await openLedger({ index: { initialSlots: 8 } });
    await pay(b, 'B-0', { status: 'PAID', syssn: 'SB-0' });
    const inodeBefore = (await stat(indexFile(file))).ino;
    for (let i = 0; i < 40; i += 1) await pay(a, `A-${i}`, { status: 'PAID', syssn: `SA-${i}` });
    expect((await stat(indexFile(file))).ino).not.toBe(inodeBefore);
    // b still holds the old table: its next step must move to the new one and see a's records.
    const seen = await b.read((index) => outTradeNos(index.entriesFor(SCOPE, 'order:A-39')));
    expect(seen).toEqual(['A-39']);
    await pay(b, 'B-1', { status: 'PAID' });
    expect(await a.read((index) => outTradeNos(index.entriesFor(SCOPE, 'order:B-1')))).toEqual(['B-1']);
    expect(await a.read((index) => outTradeNos(index.entriesFor(SCOPE, 'order:B-0')))).toEqual(['B-0']);
    // An outcome written by one process is the latest the other sees.
    const intent = await a.recordIntent(refund('A-R', 'SB-0'));
    await b.recordOutcome(intent.intent_id, { status: 'PAID', syssn: 'SR' });
    expect(await a.read((index) => index.drawsOf(SCOPE, 'SB-0', 'refund')[0]?.latest?.status)).toBe('PAID');
  });

  it('rebuilds a torn, removed or foreign index file from the ledger', async () => {
    const ledger = await openLedger();
    for (let i = 0; i < 20; i += 1) await pay(ledger, `T-${i}`, { status: 'PAID', syssn: `ST-${i}` });
    await ledger.close();
    const all = (index: LedgerIndex) =>
      Array.from({ length: 20 }, (_, i) => index.entriesFor(SCOPE, `order:T-${i}`)[0]?.syssn);
    const expected = Array.from({ length: 20 }, (_, i) => `ST-${i}`);

    // Torn while closed: the next open reads the whole ledger into a new table.
    await truncate(indexFile(file), 1000);
    const afterTear = await openLedger();
    expect(all(afterTear.state)).toEqual(expected);

    // Removed, then torn, while open: the next step rebuilds it from the records already applied.
    await rm(indexFile(file));
    expect(await afterTear.read(all)).toEqual(expected);
    await truncate(indexFile(file), 70);
    expect(await afterTear.read(all)).toEqual(expected);
    await afterTear.close();

    // A table of another ledger (header names another inode) is not trusted.
    const header = await readFile(indexFile(file));
    header.writeDoubleLE(header.readDoubleLE(32) + 1, 32);
    await writeFile(indexFile(file), header);
    const afterSwap = await openLedger();
    expect(all(afterSwap.state)).toEqual(expected);
  });

  it('keeps at most a fixed number of records in memory and a checkpoint that does not grow, whatever the ledger size', async () => {
    const cacheSize = 32;
    let ledger = await openLedger({ index: { cacheSize } });
    const checkpointBytes: number[] = [];
    const batches = [250, 2750];
    let written = 0;
    for (const count of batches) {
      await ledger.atomically(async (tx) => {
        for (let i = 0; i < count; i += 1) {
          const intent = await tx.recordIntent(paymentIntent({ out_trade_no: `M-${written + i}` }));
          await tx.recordResolution('outcome', intent.intent_id, { status: 'PAID', syssn: `SM-${i}` });
        }
      });
      written += count;
      // Two unfinished intents: those, and only those, are held whatever the size.
      await pay(ledger, `M-PENDING-${written}`);
      const use = ledger.state.memoryUse();
      expect(use.cachedRecords).toBeLessThanOrEqual(cacheSize);
      expect(use.cachedIntents).toBeLessThanOrEqual(cacheSize);
      expect(use.pendingIntents).toBe(checkpointBytes.length + 1);
      expect(use.dayTotals).toBeLessThanOrEqual(2);
      await ledger.close();
      checkpointBytes.push((await stat(checkpointFile(file))).size);
      ledger = await openLedger({ index: { cacheSize } });
    }
    // 6,000 records against 500: the checkpoint grows by one pending intent, not by the records.
    const pendingIntentBytes = 2_000;
    expect(checkpointBytes[1]! - checkpointBytes[0]!).toBeLessThan(pendingIntentBytes);
    expect(ledger.count).toBe(2 * (250 + 2750) + 2);
    expect(outTradeNos(ledger.state.entriesFor(SCOPE, 'order:M-17'))).toEqual(['M-17']);
    expect(ledger.state.memoryUse().cachedRecords).toBeLessThanOrEqual(cacheSize);
  });

  it('by default caches at most 512 records and 512 intents', async () => {
    const ledger = await openLedger();
    await ledger.atomically(async (tx) => {
      for (let i = 0; i < 700; i += 1) {
        const intent = await tx.recordIntent(paymentIntent({ out_trade_no: `D-${i}` }));
        await tx.recordResolution('outcome', intent.intent_id, { status: 'PAID' });
      }
    });
    expect(ledger.state.memoryUse()).toMatchObject({
      cachedRecords: 512,
      cachedIntents: 512,
      pendingIntents: 0,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Against a plain in-memory model
// ---------------------------------------------------------------------------------------------

interface ModelIntent {
  intent: LedgerRecord;
  latest?: LedgerRecord;
  syssn?: string;
}

/** The obvious in-memory answer to every index question, recomputed from all records. */
function model(records: readonly LedgerRecord[]) {
  const intents = new Map<string, ModelIntent>();
  for (const record of records) {
    if (record.step === 'intent') intents.set(record.intent_id, { intent: record });
    else {
      const entry = intents.get(record.intent_id)!;
      entry.latest = record;
      if (record.syssn) entry.syssn = record.syssn;
    }
  }
  const all = [...intents.values()];
  const final = (entry: ModelIntent) =>
    entry.latest !== undefined && FINAL_STATUSES.has(entry.latest.status as NormalisedStatus);
  return {
    entriesFor: (key: string) =>
      all.filter((e) => (e.intent.kind === 'cancel' ? 'cancel:' : 'order:') + e.intent.out_trade_no === key),
    drawsOf: (origSyssn: string, kind: string) =>
      all.filter((e) => e.intent.orig_syssn === origSyssn && e.intent.kind === kind),
    days: () => new Set(all.map((e) => hongKongDay(e.intent.time))),
    dayTotal: (day: string, kind: string) =>
      all
        .filter(
          (e) => e.intent.kind === kind && hongKongDay(e.intent.time) === day && !movedNothing(e.latest),
        )
        .reduce((sum, e) => sum + e.intent.txamt, 0),
    pending: () => all.filter((e) => !final(e)),
    intent: (id: string) => intents.get(id),
  };
}

const view = (entries: readonly (IndexedIntent | ModelIntent | undefined)[]) =>
  entries.map((e) => ({ id: e?.intent.intent_id, latest: e?.latest?.seq, syssn: e?.syssn }));
const bySeq = (entries: readonly (IndexedIntent | ModelIntent)[]) =>
  [...entries].sort((a, b) => a.intent.seq - b.intent.seq);

type Command =
  | { op: 'intent'; process: number; kind: 'payment' | 'refund' | 'cancel'; key: number; orig: number }
  | {
      op: 'outcome';
      process: number;
      which: number;
      status: NormalisedStatus;
      syssn: number;
      processed: boolean;
    }
  | { op: 'restart'; process: number };

const STATUSES: NormalisedStatus[] = ['PAID', 'FAILED', 'UNKNOWN', 'PROCESSING', 'CANCELLED', 'REFUNDED'];

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    op: fc.constant('intent' as const),
    process: fc.nat(1),
    kind: fc.constantFrom('payment' as const, 'refund' as const, 'cancel' as const),
    key: fc.nat(5),
    orig: fc.nat(3),
  }),
  fc.record({
    op: fc.constant('outcome' as const),
    process: fc.nat(1),
    which: fc.nat(),
    status: fc.constantFrom(...STATUSES),
    syssn: fc.nat(3),
    processed: fc.boolean(),
  }),
  fc.record({ op: fc.constant('restart' as const), process: fc.nat(1) }),
);

describe('ledger index against an in-memory model', () => {
  it('answers every question as the model does, across two processes, restarts, growth and collisions', async () => {
    // Four hash values for every key there is: long probe chains full of collisions.
    const fewSlots = (text: string): SlotHash => [(text.length % 4) + 1, 0];
    const options: LedgerOpenOptions = { index: { hashKey: fewSlots, initialSlots: 8, cacheSize: 4 } };
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
        file = path.join(dir, `model-${(run += 1)}.jsonl`);
        const processes = [await openLedger(options), await openLedger(options)];
        const records: LedgerRecord[] = [];
        for (const step of commands) {
          const ledger = processes[step.process]!;
          if (step.op === 'restart') {
            await ledger.close();
            processes[step.process] = await openLedger(options);
          } else if (step.op === 'intent') {
            const intent = await ledger.recordIntent(
              paymentIntent({
                out_trade_no: `K-${step.key}`,
                kind: step.kind,
                ...(step.kind === 'payment' ? {} : { orig_syssn: `O-${step.orig}` }),
              }),
            );
            records.push(intent);
          } else {
            const intents = records.filter((r) => r.step === 'intent');
            if (intents.length === 0) continue;
            const target = intents[step.which % intents.length]!;
            records.push(
              await ledger.recordOutcome(target.intent_id, {
                status: step.status,
                syssn: `O-${step.syssn}`,
                ...(step.processed ? {} : { processed: false }),
              }),
            );
          }
        }
        const expected = model(records);
        for (const ledger of processes) {
          await ledger.read((index) => {
            for (let key = 0; key <= 5; key += 1) {
              for (const prefix of ['order:', 'cancel:']) {
                const wanted = `${prefix}K-${key}`;
                expect(view(index.entriesFor(SCOPE, wanted))).toEqual(view(expected.entriesFor(wanted)));
              }
              for (const kind of ['refund', 'cancel', 'payment']) {
                const orig = `O-${key}`;
                expect(view(index.drawsOf(SCOPE, orig, kind))).toEqual(view(expected.drawsOf(orig, kind)));
              }
            }
            for (const day of expected.days()) {
              for (const kind of ['payment', 'refund']) {
                expect(index.dayTotal(SCOPE, day, kind, 'HKD')).toBe(expected.dayTotal(day, kind));
              }
            }
            expect(view(bySeq(index.pendingIntents()))).toEqual(view(expected.pending()));
            for (const record of records.filter((r) => r.step === 'intent')) {
              expect(view([index.intent(record.intent_id)])).toEqual(
                view([expected.intent(record.intent_id)]),
              );
            }
          });
        }
        await Promise.all(processes.map((ledger) => ledger.close()));
        opened.splice(0);
      }),
      { numRuns: 40 },
    );
  });
});
