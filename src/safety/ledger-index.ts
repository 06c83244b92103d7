import { FINAL_STATUSES } from '../qfpay/types.js';
import type { NormalisedStatus } from '../qfpay/types.js';
import { hongKongDay, type LedgerRecord, movedNothing } from './ledger.js';

/**
 * What the embedded store needs to decide in constant time, kept up to date one record at a time
 * as the ledger is read or appended (never rebuilt by scanning): per intent its latest outcome,
 * per idempotency key the intents that used it, per day, kind and currency the amount that may
 * have moved, per payment its refund intents, and the set of unfinished intents.
 *
 * It holds the intent record and the latest outcome per intent (not every record), so memory
 * grows with the number of money-moving actions, not with the records written about them; the
 * state is saved in the ledger's checkpoint so a start reads only what was appended since.
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

/** Kinds that draw on an origin's syssn (refunds of a payment; captures and releases of an authorisation). */
const DRAW_KINDS: ReadonlySet<string> = new Set(['refund', 'capture', 'release']);

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

export class LedgerIndex {
  private readonly intents = new Map<string, IndexedIntent>();
  /** scope|key → intent ids, oldest first. */
  private readonly byKey = new Map<string, string[]>();
  /** scope|day|kind|currency → minor units that may have moved. */
  private readonly dayTotals = new Map<string, number>();
  /** scope|orig_syssn → ids of the intents drawing on it (refunds, captures, releases). */
  private readonly refundsByPayment = new Map<string, string[]>();
  /** Unfinished intents, oldest first (Map keeps insertion order). */
  private readonly pending = new Map<string, true>();
  /** Time of the latest record seen (the ledger's clock). */
  lastTime: string | undefined;

  apply(record: LedgerRecord): void {
    this.lastTime = record.time;
    if (record.step === 'intent') {
      this.addIntent({ intent: record });
      return;
    }
    const entry = this.intents.get(record.intent_id);
    // An outcome for an intent never seen cannot come from this API; it stays in the file only.
    if (!entry) return;
    const countedBefore = counts(entry);
    entry.latest = record;
    if (record.syssn) entry.syssn = record.syssn;
    const countedAfter = counts(entry);
    if (countedBefore !== countedAfter) this.addToDay(entry.intent, countedAfter ? 1 : -1);
    if (isFinal(entry)) this.pending.delete(record.intent_id);
    else this.pending.set(record.intent_id, true);
  }

  intent(intentId: string): IndexedIntent | undefined {
    return this.intents.get(intentId);
  }

  /** Every intent of `key` in `scope`, oldest first. */
  entriesFor(scope: string, key: string): IndexedIntent[] {
    return (this.byKey.get(`${scope}|${key}`) ?? []).map((id) => this.intents.get(id)!);
  }

  dayTotal(scope: string, day: string, kind: string, currency: string): number {
    return this.dayTotals.get(`${scope}|${day}|${kind}|${currency}`) ?? 0;
  }

  /** Intents of `kind` drawing on `origSyssn`, oldest first. */
  drawsOf(scope: string, origSyssn: string, kind: string): IndexedIntent[] {
    return (this.refundsByPayment.get(`${scope}|${origSyssn}`) ?? [])
      .map((id) => this.intents.get(id)!)
      .filter((entry) => entry.intent.kind === kind);
  }

  /** Unfinished intents, oldest first. */
  pendingIntents(): IndexedIntent[] {
    return [...this.pending.keys()].map((id) => this.intents.get(id)!);
  }

  /** Every intent, oldest first. */
  allIntents(): IterableIterator<IndexedIntent> {
    return this.intents.values();
  }

  /** The state to save in a checkpoint (everything else is derived from it). */
  snapshot(): { lastTime?: string; intents: IndexedIntent[] } {
    return { ...(this.lastTime ? { lastTime: this.lastTime } : {}), intents: [...this.intents.values()] };
  }

  static restore(state: { lastTime?: string; intents: readonly IndexedIntent[] }): LedgerIndex {
    const index = new LedgerIndex();
    for (const entry of state.intents) index.addIntent({ ...entry });
    index.lastTime = state.lastTime;
    return index;
  }

  private addIntent(entry: IndexedIntent): void {
    const { intent } = entry;
    this.intents.set(intent.intent_id, entry);
    const key = `${scopeOf(intent)}|${keyOf(intent)}`;
    const ids = this.byKey.get(key);
    if (ids) ids.push(intent.intent_id);
    else this.byKey.set(key, [intent.intent_id]);
    if (DRAW_KINDS.has(intent.kind) && intent.orig_syssn) {
      const slot = `${scopeOf(intent)}|${intent.orig_syssn}`;
      const refunds = this.refundsByPayment.get(slot);
      if (refunds) refunds.push(intent.intent_id);
      else this.refundsByPayment.set(slot, [intent.intent_id]);
    }
    if (counts(entry)) this.addToDay(intent, 1);
    if (!isFinal(entry)) this.pending.set(intent.intent_id, true);
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
