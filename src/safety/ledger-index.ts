import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

import { FINAL_STATUSES } from '../qfpay/types.js';
import type { NormalisedStatus } from '../qfpay/types.js';
import { hongKongDay, type LedgerRecord, movedNothing } from './ledger.js';

/**
 * What the embedded store needs to decide in constant time, kept up to date one record at a time
 * as the ledger is read or appended (never rebuilt by scanning), with memory that does not grow
 * with the ledger:
 *
 * - ON DISK (`<ledger>.index`, see {@link IndexFile}): an open-addressing hash table mapping a hash
 *   of `intent_id`, of `scope|key` and of `scope|orig_syssn` to the byte offsets of the records in
 *   the ledger file. A lookup reads the records at those offsets back (positioned reads) and keeps
 *   only those that really match, so a hash collision costs a read, never a wrong answer.
 * - IN MEMORY, bounded: the amount per scope/day/kind/currency that may have moved (grows with
 *   calendar days, not records), the unfinished intents (what reconciliation works through), and
 *   two small LRU caches of recently read records and intents.
 *
 * The memory part is saved in the ledger's checkpoint; the table is shared by every process of the
 * host and written only under the ledger's lock. See docs/ARCHITECTURE.md (embedded store).
 */

export interface IndexedIntent {
  readonly intent: LedgerRecord;
  /** The latest outcome or reconciled record. */
  latest?: LedgerRecord;
  /** The latest syssn any record of this intent carried. */
  syssn?: string;
}

/** `<environment>|<merchant fingerprint>`: the scope a key, total or record belongs to. */
export function scopeOf(record: Pick<LedgerRecord, 'environment' | 'merchant'>): string {
  return `${record.environment}|${record.merchant.fingerprint}`;
}

/**
 * payment, refund and capture numbers share QFPay's namespace; a cancel acts on a payment's
 * number and a release on the authorisation's.
 */
export function keyOf(record: Pick<LedgerRecord, 'kind' | 'out_trade_no'>): string {
  if (record.kind === 'cancel') return `cancel:${record.out_trade_no}`;
  if (record.kind === 'release') return `release:${record.out_trade_no}`;
  return `order:${record.out_trade_no}`;
}

/**
 * Whether an intent still holds its idempotency key: unless QFPay certainly did not process it
 * (`processed: false`) or definitely refused it (FAILED); then the same number may be sent again.
 */
export function holdsKey(entry: IndexedIntent): boolean {
  const latest = entry.latest;
  return !(latest && (latest.processed === false || latest.status === 'FAILED'));
}

export function isFinal(entry: IndexedIntent): boolean {
  return entry.latest !== undefined && FINAL_STATUSES.has(entry.latest.status as NormalisedStatus);
}

/** A 64-bit hash as two unsigned 32-bit halves, never both zero (zero marks an empty slot). */
export type SlotHash = readonly [number, number];

export interface LedgerIndexOptions {
  /** fsync the table when the checkpoint is saved (default true; only tests turn it off). */
  readonly fsync?: boolean;
  /** Slots of a new table (a power of two). Default 4,096. */
  readonly initialSlots?: number;
  /** Entries per LRU cache (records read, intents). Default 512. */
  readonly cacheSize?: number;
  /** Test hook: replaces the hash, e.g. by a constant to force every key into one probe chain. */
  readonly hashKey?: (text: string) => SlotHash;
}

/** The memory part, saved in the ledger's checkpoint. */
export interface IndexMemory {
  readonly lastTime?: string;
  readonly dayTotals: readonly (readonly [string, number])[];
  readonly pending: readonly IndexedIntent[];
}

/** How many things the index holds in memory (for the bounded-memory test and diagnostics). */
export interface IndexMemoryUse {
  readonly cachedRecords: number;
  readonly cachedIntents: number;
  readonly pendingIntents: number;
  readonly dayTotals: number;
}

export function indexFile(ledgerFile: string): string {
  return `${ledgerFile}.index`;
}

export class LedgerIndex {
  /** scope|day|kind|currency → minor units that may have moved. */
  private readonly dayTotals = new Map<string, number>();
  /** Unfinished intents, oldest first (Map keeps insertion order). */
  private readonly pending = new Map<string, IndexedIntent>();
  private readonly records: Lru<number, LedgerRecord>;
  private readonly intents: Lru<string, IndexedIntent>;
  private readonly hashKey: (text: string) => SlotHash;
  /** Ledger bytes this index has applied: lookups only see records before this offset. */
  private visibleEnd = 0;
  /** Time of the latest record seen (the ledger's clock). */
  lastTime: string | undefined;

  private constructor(
    private readonly table: IndexFile,
    private readonly ledger: LedgerReader,
    options: LedgerIndexOptions,
  ) {
    const cacheSize = options.cacheSize ?? 512;
    this.records = new Lru(cacheSize);
    this.intents = new Lru(cacheSize);
    this.hashKey = options.hashKey ?? sha256Slot;
  }

  /**
   * Opens (or creates) the table of `ledgerFile`, whose file descriptor `ledgerFd` is read for
   * lookups. `coverage` is how many ledger bytes the table vouches for (0 when it was missing,
   * damaged or belongs to another file: then it starts empty).
   */
  static open(
    ledgerFile: string,
    ledgerFd: number,
    identity: LedgerIdentity,
    options: LedgerIndexOptions = {},
  ): { index: LedgerIndex; coverage: number } {
    const table = IndexFile.open(indexFile(ledgerFile), identity, options);
    const index = new LedgerIndex(table, new LedgerReader(ledgerFd), options);
    return { index, coverage: table.coverage };
  }

  /** Takes up the memory part of a checkpoint (the table is already on disk). */
  restore(memory: IndexMemory, appliedBytes: number): void {
    this.dayTotals.clear();
    for (const [slot, total] of memory.dayTotals) this.dayTotals.set(slot, total);
    this.pending.clear();
    for (const entry of memory.pending) this.pending.set(entry.intent.intent_id, { ...entry });
    this.lastTime = memory.lastTime;
    this.visibleEnd = appliedBytes;
  }

  memory(): IndexMemory {
    return {
      ...(this.lastTime ? { lastTime: this.lastTime } : {}),
      dayTotals: [...this.dayTotals],
      pending: [...this.pending.values()],
    };
  }

  memoryUse(): IndexMemoryUse {
    return {
      cachedRecords: this.records.size,
      cachedIntents: this.intents.size,
      pendingIntents: this.pending.size,
      dayTotals: this.dayTotals.size,
    };
  }

  /** Writes what the last step changed in the table's header. Under the lock, at the end of a step. */
  flushTable(): void {
    this.table.flush();
  }

  /** Must be called under the ledger's lock before a step: sees another process's rehash and slot count. */
  catchUpTable(): void {
    if (!this.table.refresh()) this.rebuildTable();
    this.table.flush();
  }

  /** Makes the table durable and records that it covers `appliedBytes` of the ledger. Under the lock. */
  persist(appliedBytes: number): void {
    // A table found damaged is rebuilt first: it must never vouch for slots it does not hold.
    this.catchUpTable();
    this.table.persist(appliedBytes);
  }

  close(): void {
    this.table.close();
    this.ledger.close();
  }

  /** Applies `record`, which starts at byte `offset` of the ledger and is `length` bytes with its newline. */
  apply(record: LedgerRecord, offset: number, length: number): void {
    this.lastTime = record.time;
    if (record.step === 'intent') {
      this.insertSlots(record, offset);
      this.addIntent(record);
    } else {
      // Looked up before the record is visible, so `counts` sees the intent as it was.
      const entry = this.intent(record.intent_id);
      this.insertSlots(record, offset);
      // An outcome for an intent never seen cannot come from this API; it stays in the file only.
      if (entry) this.addOutcome(entry, record);
    }
    this.records.set(offset, record);
    this.visibleEnd = Math.max(this.visibleEnd, offset + length);
  }

  intent(intentId: string): IndexedIntent | undefined {
    const known = this.intents.get(intentId) ?? this.pending.get(intentId);
    if (known) return known;
    let intent: LedgerRecord | undefined;
    let latest: LedgerRecord | undefined;
    let syssnFrom: LedgerRecord | undefined;
    for (const record of this.recordsFor(`i|${intentId}`, (r) => r.intent_id === intentId)) {
      if (record.step === 'intent') intent ??= record;
      else if (!latest || record.seq > latest.seq) latest = record;
      if (record.syssn && (!syssnFrom || record.seq > syssnFrom.seq)) syssnFrom = record;
    }
    if (!intent) return undefined;
    const found: IndexedIntent = {
      intent,
      ...(latest ? { latest } : {}),
      ...(syssnFrom?.syssn ? { syssn: syssnFrom.syssn } : {}),
    };
    this.intents.set(intentId, found);
    return found;
  }

  /** Every intent of `key` in `scope`, oldest first. */
  entriesFor(scope: string, key: string): IndexedIntent[] {
    const intents = this.recordsFor(
      `k|${scope}|${key}`,
      (r) => r.step === 'intent' && scopeOf(r) === scope && keyOf(r) === key,
    );
    return this.entriesOf(intents);
  }

  dayTotal(scope: string, day: string, kind: string, currency: string): number {
    return this.dayTotals.get(`${scope}|${day}|${kind}|${currency}`) ?? 0;
  }

  /**
   * The intents of `kind` in `scope` that draw on the transaction `origSyssn` (refunds of a
   * payment, and any other kind that carries `orig_syssn`), oldest first.
   */
  drawsOf(scope: string, origSyssn: string, kind: string): IndexedIntent[] {
    const intents = this.recordsFor(
      `d|${scope}|${origSyssn}`,
      (r) => r.step === 'intent' && scopeOf(r) === scope && r.orig_syssn === origSyssn && r.kind === kind,
    );
    return this.entriesOf(intents);
  }

  /** Unfinished intents, oldest first. */
  pendingIntents(): IndexedIntent[] {
    return [...this.pending.values()];
  }

  // -------------------------------------------------------------------------------------------

  /** Every record under its intent id; an intent also under its key and, when it has one, orig_syssn. */
  private insertSlots(record: LedgerRecord, offset: number): void {
    this.table.insert(this.slot(`i|${record.intent_id}`), offset);
    if (record.step !== 'intent') return;
    const scope = scopeOf(record);
    this.table.insert(this.slot(`k|${scope}|${keyOf(record)}`), offset);
    if (record.orig_syssn) this.table.insert(this.slot(`d|${scope}|${record.orig_syssn}`), offset);
  }

  /** The table was removed or damaged while open: re-inserted from the records this index applied. */
  private rebuildTable(): void {
    for (const { record, offset } of this.ledger.recordsBefore(this.visibleEnd))
      this.insertSlots(record, offset);
  }

  private addIntent(intent: LedgerRecord): void {
    const entry: IndexedIntent = { intent };
    this.intents.set(intent.intent_id, entry);
    this.addToDay(intent, 1);
    this.pending.set(intent.intent_id, entry);
  }

  private addOutcome(entry: IndexedIntent, record: LedgerRecord): void {
    const countedBefore = counts(entry);
    entry.latest = record;
    if (record.syssn) entry.syssn = record.syssn;
    const countedAfter = counts(entry);
    if (countedBefore !== countedAfter) this.addToDay(entry.intent, countedAfter ? 1 : -1);
    this.intents.set(record.intent_id, entry);
    if (isFinal(entry)) this.pending.delete(record.intent_id);
    else if (!this.pending.has(record.intent_id)) this.pending.set(record.intent_id, entry);
  }

  private entriesOf(intents: LedgerRecord[]): IndexedIntent[] {
    return intents
      .sort((a, b) => a.seq - b.seq)
      .map((intent) => this.intent(intent.intent_id))
      .filter((entry): entry is IndexedIntent => entry !== undefined);
  }

  /** The distinct visible records the table lists under `text` that `matches` accepts. */
  private recordsFor(text: string, matches: (record: LedgerRecord) => boolean): LedgerRecord[] {
    const found: LedgerRecord[] = [];
    const seen = new Set<number>();
    for (const offset of this.table.lookup(this.slot(text))) {
      if (seen.has(offset) || offset >= this.visibleEnd) continue;
      seen.add(offset);
      const record = this.recordAt(offset);
      if (record && matches(record)) found.push(record);
    }
    return found;
  }

  private recordAt(offset: number): LedgerRecord | undefined {
    const cached = this.records.get(offset);
    if (cached) return cached;
    const record = this.ledger.recordAt(offset, this.visibleEnd);
    if (record) this.records.set(offset, record);
    return record;
  }

  private slot(text: string): SlotHash {
    return this.hashKey(text);
  }

  private addToDay(intent: LedgerRecord, sign: 1 | -1): void {
    if (intent.kind === 'cancel') return;
    const slot = `${scopeOf(intent)}|${hongKongDay(intent.time)}|${intent.kind}|${intent.txcurrcd}`;
    const total = (this.dayTotals.get(slot) ?? 0) + sign * intent.txamt;
    if (total > 0) this.dayTotals.set(slot, total);
    else this.dayTotals.delete(slot);
  }
}

/** A cap must assume the money may have moved unless the latest outcome says it did not. */
function counts(entry: IndexedIntent): boolean {
  return !movedNothing(entry.latest);
}

function sha256Slot(text: string): SlotHash {
  const digest = createHash('sha256').update(text, 'utf8').digest();
  const low = digest.readUInt32LE(0);
  const high = digest.readUInt32LE(4);
  return low === 0 && high === 0 ? [1, 0] : [low, high];
}

// ---------------------------------------------------------------------------------------------
// Reading records back from the ledger
// ---------------------------------------------------------------------------------------------

const FIRST_READ = 2048;
const REBUILD_CHUNK = 1 << 20;

/** Positioned reads of single records; a wrong or stale offset yields undefined, never a wrong record. */
class LedgerReader {
  constructor(private readonly fd: number) {}

  close(): void {
    closeSync(this.fd);
  }

  recordAt(offset: number, end: number): LedgerRecord | undefined {
    // A record starts a line: the byte before it is a newline (or it is the first).
    const from = offset === 0 ? 0 : offset - 1;
    let length = Math.min(FIRST_READ, end - from);
    for (;;) {
      const bytes = Buffer.alloc(length);
      const read = readSync(this.fd, bytes, 0, length, from);
      const chunk = bytes.subarray(0, read);
      if (offset > 0 && chunk[0] !== 0x0a) return undefined;
      const start = offset === 0 ? 0 : 1;
      const newline = chunk.indexOf(0x0a, start);
      if (newline !== -1) return parseRecord(chunk.subarray(start, newline));
      if (from + read >= end || read < length) return undefined;
      length = Math.min(length * 4, end - from);
    }
  }

  /** Every record before `end` with its offset, read in chunks (only to rebuild a lost table). */
  *recordsBefore(end: number): Generator<{ record: LedgerRecord; offset: number }> {
    let offset = 0;
    let length = REBUILD_CHUNK;
    while (offset < end) {
      const bytes = Buffer.alloc(Math.min(length, end - offset));
      const chunk = bytes.subarray(0, readSync(this.fd, bytes, 0, bytes.length, offset));
      const last = chunk.lastIndexOf(0x0a);
      if (last === -1) {
        if (chunk.length < bytes.length || offset + chunk.length >= end) return;
        length *= 2;
        continue;
      }
      let start = 0;
      while (start <= last) {
        const newline = chunk.indexOf(0x0a, start);
        const record = parseRecord(chunk.subarray(start, newline));
        if (record) yield { record, offset: offset + start };
        start = newline + 1;
      }
      offset += last + 1;
      length = REBUILD_CHUNK;
    }
  }
}

function parseRecord(bytes: Buffer): LedgerRecord | undefined {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    return value && typeof value === 'object' && 'intent_id' in value ? (value as LedgerRecord) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The table file
// ---------------------------------------------------------------------------------------------

export interface LedgerIdentity {
  readonly dev: number;
  readonly ino: number;
}

const MAGIC = Buffer.from('QFLIDX01', 'latin1');
const HEADER_BYTES = 64;
const SLOT_BYTES = 16;
const PROBE_BLOCK = 32;
const MAX_LOAD = 0.5;

/**
 * `<ledger>.index`: a 64-byte header then `slots` 16-byte slots, all little-endian.
 *
 *   header  0 magic "QFLIDX01" · 8 slots u32 (a power of two) · 12 used u32 · 16 covered u48
 *           (ledger bytes whose slots are durable) · 24 ledger dev f64 · 32 ledger ino f64
 *   slot    0 hash low u32 · 4 hash high u32 (both 0 = empty) · 8 record offset u48
 *
 * Linear probing from `hash & (slots - 1)`; a hash may appear many times (one intent, its outcomes,
 * intents sharing a key), and the same (hash, offset) is never inserted twice, so replaying records
 * after a crash is harmless. Grown (doubled) by writing `<ledger>.index.next` and renaming it over,
 * under the ledger's lock, once more than half the slots are used; other processes notice the new
 * inode at their next step.
 */
class IndexFile {
  private fd: number;
  private inode: number;
  private slots = 0;
  private used = 0;
  private usedChanged = false;
  coverage = 0;

  private constructor(
    private readonly file: string,
    private readonly identity: LedgerIdentity,
    private readonly options: LedgerIndexOptions,
  ) {
    closeSync(openSync(file, 'a', 0o600));
    this.fd = openSync(file, 'r+');
    this.inode = fstatSync(this.fd).ino;
  }

  static open(file: string, identity: LedgerIdentity, options: LedgerIndexOptions): IndexFile {
    const table = new IndexFile(file, identity, options);
    if (!table.readHeader()) table.reset();
    return table;
  }

  /**
   * Re-reads the header (another process may have inserted, or grown the table into a new file).
   * False when the file was removed or damaged: it is then empty and must be rebuilt.
   */
  refresh(): boolean {
    this.flush();
    const current = statSync(this.file, { throwIfNoEntry: false });
    if (!current || current.ino !== this.inode) {
      closeSync(this.fd);
      this.fd = openSync(this.file, current ? 'r+' : 'w+', 0o600);
      this.inode = fstatSync(this.fd).ino;
    }
    if (this.readHeader()) return true;
    this.reset();
    return false;
  }

  /** Offsets stored under `hash`, in probe order. */
  *lookup(hash: SlotHash): Generator<number> {
    for (const slot of probe(this.fd, this.slots, hash)) {
      if (slot.empty) return;
      if (slot.low === hash[0] && slot.high === hash[1]) yield slot.offset;
    }
  }

  insert(hash: SlotHash, offset: number): void {
    if ((this.used + 1) / this.slots > MAX_LOAD) this.grow();
    if (insertSlot(this.fd, this.slots, hash, offset)) {
      this.used += 1;
      this.usedChanged = true;
    }
  }

  /**
   * Writes the slot count into the header (once per step, not per slot). A count lost to a crash is
   * only low by that step's slots: the table grows a little later, and a growth counts afresh.
   */
  flush(): void {
    if (!this.usedChanged) return;
    writeUsed(this.fd, this.used);
    this.usedChanged = false;
  }

  persist(coverage: number): void {
    this.flush();
    if (this.options.fsync ?? true) fsyncSync(this.fd);
    this.coverage = Math.max(this.coverage, coverage);
    const field = Buffer.alloc(6);
    field.writeUIntLE(this.coverage, 0, 6);
    writeSync(this.fd, field, 0, 6, 16);
    if (this.options.fsync ?? true) fsyncSync(this.fd);
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  /** Whether the header is ours, for this ledger, and the file as long as it says. */
  private readHeader(): boolean {
    const header = Buffer.alloc(HEADER_BYTES);
    if (readSync(this.fd, header, 0, HEADER_BYTES, 0) !== HEADER_BYTES) return false;
    if (!header.subarray(0, 8).equals(MAGIC)) return false;
    const slots = header.readUInt32LE(8);
    if (slots < 8 || (slots & (slots - 1)) !== 0) return false;
    if (header.readDoubleLE(24) !== this.identity.dev || header.readDoubleLE(32) !== this.identity.ino)
      return false;
    if (fstatSync(this.fd).size !== HEADER_BYTES + slots * SLOT_BYTES) return false;
    this.slots = slots;
    this.used = header.readUInt32LE(12);
    this.coverage = header.readUIntLE(16, 6);
    return true;
  }

  /** An empty table for this ledger, covering nothing. */
  private reset(): void {
    const slots = this.options.initialSlots ?? 4096;
    writeEmptyTable(this.fd, slots, this.identity, 0);
    this.slots = slots;
    this.used = 0;
    this.coverage = 0;
  }

  /** Doubles the table: every slot re-inserted into `<file>.next`, made durable, renamed over. */
  private grow(): void {
    const next = `${this.file}.next`;
    const fd = openSync(next, 'w+', 0o600);
    const slots = this.slots * 2;
    let used = 0;
    try {
      writeEmptyTable(fd, slots, this.identity, this.coverage);
      for (const slot of allSlots(this.fd, this.slots)) {
        if (insertSlot(fd, slots, [slot.low, slot.high], slot.offset)) used += 1;
      }
      writeUsed(fd, used);
      if (this.options.fsync ?? true) fsyncSync(fd);
      renameSync(next, this.file);
      if (this.options.fsync ?? true) fsyncDirectory(path.dirname(this.file));
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    closeSync(this.fd);
    this.fd = fd;
    this.inode = fstatSync(fd).ino;
    this.slots = slots;
    this.used = used;
  }
}

interface Slot {
  readonly index: number;
  readonly empty: boolean;
  readonly low: number;
  readonly high: number;
  readonly offset: number;
}

/** The slots from `hash`'s home onwards (wrapping), read a block at a time. */
function* probe(fd: number, slots: number, hash: SlotHash): Generator<Slot> {
  const mask = slots - 1;
  let index = hash[0] & mask;
  const block = Buffer.alloc(PROBE_BLOCK * SLOT_BYTES);
  for (let visited = 0; visited < slots;) {
    const count = Math.min(PROBE_BLOCK, slots - index, slots - visited);
    readSync(fd, block, 0, count * SLOT_BYTES, HEADER_BYTES + index * SLOT_BYTES);
    for (let i = 0; i < count; i += 1) yield slotAt(block, i * SLOT_BYTES, index + i);
    visited += count;
    index = (index + count) & mask;
  }
}

function* allSlots(fd: number, slots: number): Generator<Slot> {
  const block = Buffer.alloc(PROBE_BLOCK * 64 * SLOT_BYTES);
  const perBlock = block.length / SLOT_BYTES;
  for (let first = 0; first < slots; first += perBlock) {
    const count = Math.min(perBlock, slots - first);
    readSync(fd, block, 0, count * SLOT_BYTES, HEADER_BYTES + first * SLOT_BYTES);
    for (let i = 0; i < count; i += 1) {
      const slot = slotAt(block, i * SLOT_BYTES, first + i);
      if (!slot.empty) yield slot;
    }
  }
}

function slotAt(block: Buffer, at: number, index: number): Slot {
  const low = block.readUInt32LE(at);
  const high = block.readUInt32LE(at + 4);
  return { index, empty: low === 0 && high === 0, low, high, offset: block.readUIntLE(at + 8, 6) };
}

/** Writes (hash, offset) into the first empty slot of its probe sequence; false when already there. */
function insertSlot(fd: number, slots: number, hash: SlotHash, offset: number): boolean {
  for (const slot of probe(fd, slots, hash)) {
    if (slot.empty) {
      const bytes = Buffer.alloc(SLOT_BYTES);
      bytes.writeUInt32LE(hash[0], 0);
      bytes.writeUInt32LE(hash[1], 4);
      bytes.writeUIntLE(offset, 8, 6);
      writeSync(fd, bytes, 0, SLOT_BYTES, HEADER_BYTES + slot.index * SLOT_BYTES);
      return true;
    }
    if (slot.low === hash[0] && slot.high === hash[1] && slot.offset === offset) return false;
  }
  throw new Error('the ledger index table is full');
}

function writeUsed(fd: number, used: number): void {
  const field = Buffer.alloc(4);
  field.writeUInt32LE(used, 0);
  writeSync(fd, field, 0, 4, 12);
}

function writeEmptyTable(fd: number, slots: number, identity: LedgerIdentity, coverage: number): void {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(slots, 8);
  header.writeUInt32LE(0, 12);
  header.writeUIntLE(coverage, 16, 6);
  header.writeDoubleLE(identity.dev, 24);
  header.writeDoubleLE(identity.ino, 32);
  // ftruncate zero-fills: every slot starts empty without writing the table out.
  ftruncateSync(fd, 0);
  writeSync(fd, header, 0, HEADER_BYTES, 0);
  ftruncateSync(fd, HEADER_BYTES + slots * SLOT_BYTES);
}

function fsyncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A map that forgets its least recently used entry beyond `capacity`. */
class Lru<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }
}
