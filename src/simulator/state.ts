import { utc8DatePrefix } from './clock.js';
import type { PayMode } from '../qfpay/catalog/types.js';

/**
 * The simulator's books. QFPay has no state field; a transaction's state shows through its
 * query-row `respcd` + `cancel`. The simulator keeps an explicit state and
 * derives those two fields from it in one place (the transition methods below).
 */
export type TransactionState =
  /** MPM / online order created, waiting for the customer. Query row respcd 1143. */
  | 'AWAITING_CUSTOMER'
  /** CPM payment in progress (magic 1143/1145…). Query row respcd = that code. */
  | 'PROCESSING'
  | 'PAID'
  | 'FAILED'
  | 'EXPIRED'
  | 'CANCELLED';

export type OrderType = 'payment' | 'refund';

export interface SimTransaction {
  readonly syssn: string;
  /** merchantKey(appcode, mchid): the scope of out_trade_no uniqueness and queries. */
  readonly merchant: string;
  readonly appcode: string;
  readonly mchid: string | undefined;
  readonly orderType: OrderType;
  readonly outTradeNo: string;
  readonly payType: string;
  readonly mode: PayMode;
  readonly txamt: number;
  readonly txcurrcd: string;
  /** As the merchant sent it. */
  readonly txdtm: string;
  readonly createdAtSimMs: number;
  /** Only on refund rows: the original payment. */
  readonly origSyssn: string | undefined;
  readonly goodsName: string | undefined;
  readonly udid: string;
  readonly notifyUrl: string | undefined;
  state: TransactionState;
  /** The query row's respcd. */
  respcd: string;
  errmsg: string;
  /**
   * Query `cancel`: 0 none, 1 CPM reversed, 2 MPM/online closed, 3 refunded, 4 pre-authorisation
   * finished (fully captured, released or past its capture window), 5 partially refunded.
   */
  cancel: string;
  paidAtSimMs: number | undefined;
  chnlsn: string;
  cardcd: string;
  /** Sum of successful refunds against this payment. */
  refundedAmount: number;
  expiresAtSimMs: number | undefined;
  settleAtSimMs: number | undefined;
  /** Queries that have seen this PROCESSING payment (pending-settle rule). */
  pendingQueriesSeen: number;
  /** How the order was cancelled, so later cancel attempts get the matching code. */
  cancelledBy: 'close' | 'reversal' | undefined;
  /** Pre-authorisations only: the sum of their captures. */
  capturedAmount?: number;
  /** Pre-authorisations only: when the uncaptured rest was released (unfreeze), or the window ran out. */
  finishedAtSimMs?: number;
  finishedBy?: 'captured' | 'released' | 'expired';
  /** The merchant's remark (POST /trade/v1/add_note); optional so that older state files load. */
  note?: string | undefined;
}

/** An authorisation (not one of its captures, which are payment rows naming it in origSyssn). */
export function isAuthorisation(transaction: SimTransaction): boolean {
  return transaction.mode === 'PREAUTH' && transaction.orderType === 'payment' && !transaction.origSyssn;
}

export type NewTransaction = Pick<
  SimTransaction,
  | 'syssn'
  | 'merchant'
  | 'appcode'
  | 'mchid'
  | 'orderType'
  | 'outTradeNo'
  | 'payType'
  | 'mode'
  | 'txamt'
  | 'txcurrcd'
  | 'txdtm'
  | 'createdAtSimMs'
  | 'origSyssn'
  | 'goodsName'
  | 'udid'
  | 'notifyUrl'
  | 'state'
  | 'respcd'
  | 'errmsg'
> &
  Partial<Pick<SimTransaction, 'expiresAtSimMs' | 'settleAtSimMs'>>;

export const ERRMSG = {
  paid: '交易成功',
  awaiting: 'order not yet paid',
  expired: 'order expired',
  closed: 'order closed',
  reversed: 'order cancelled',
} as const;

export interface PaidDetails {
  readonly chnlsn: string;
  readonly cardcd: string;
}

/** A deadline as it was when pushed; stale once the transaction's own deadline differs. */
interface DeadlineEntry {
  readonly at: number;
  readonly transaction: SimTransaction;
}

/**
 * The books, indexed so that no request costs more with more orders (performance audit §4):
 * syssn and out_trade_no lookups are maps, every merchant's transactions are kept sorted by
 * creation time for range queries (binary search), and time-driven deadlines sit in a min-heap.
 */
export class Ledger {
  private readonly bySyssn = new Map<string, SimTransaction>();
  /** merchant → out_trade_no → syssn, across payments and refunds (QFPay's uniqueness scope). */
  private readonly outTradeNos = new Map<string, Map<string, string>>();
  /** merchant → its transactions, ascending by (createdAtSimMs, syssn). */
  private readonly byMerchant = new Map<string, SimTransaction[]>();
  private readonly inOrder: SimTransaction[] = [];
  private readonly deadlines = new DeadlineHeap();
  /** merchant|currency|UTC+8 day → paid payments minus successful refunds of that day (1269). */
  private readonly takings = new Map<string, number>();

  /** Called after any transition into PAID (payments) and on refund creation, for notifications. */
  onSucceeded: (transaction: SimTransaction) => void = () => undefined;
  /** Called whenever a transaction is added or changes (persistence). */
  onChanged: (transaction: SimTransaction) => void = () => undefined;

  add(fields: NewTransaction): SimTransaction {
    const transaction: SimTransaction = {
      expiresAtSimMs: undefined,
      settleAtSimMs: undefined,
      ...fields,
      cancel: '0',
      paidAtSimMs: undefined,
      chnlsn: '',
      cardcd: '',
      refundedAmount: 0,
      pendingQueriesSeen: 0,
      cancelledBy: undefined,
    };
    this.index(transaction);
    this.onChanged(transaction);
    return transaction;
  }

  /** Puts back a transaction exactly as it was saved (persisted state). */
  restore(transaction: SimTransaction): void {
    if (this.bySyssn.has(transaction.syssn)) return;
    this.index(transaction);
    if (transaction.state === 'PAID') this.book(transaction);
  }

  /**
   * The merchant's net takings in `currency` on the UTC+8 day of `simMs`: payments that became
   * PAID that day less the refunds made that day. QFPay pays refunds out of them (1269).
   */
  takingsOn(merchant: string, currency: string, simMs: number): number {
    return this.takings.get(takingsKey(merchant, currency, simMs)) ?? 0;
  }

  has(syssn: string): boolean {
    return this.bySyssn.has(syssn);
  }

  bySyssnFor(merchant: string, syssn: string): SimTransaction | undefined {
    const transaction = this.bySyssn.get(syssn);
    return transaction?.merchant === merchant ? transaction : undefined;
  }

  byOutTradeNo(merchant: string, outTradeNo: string): SimTransaction | undefined {
    const syssn = this.outTradeNos.get(merchant)?.get(outTradeNo);
    return syssn === undefined ? undefined : this.bySyssn.get(syssn);
  }

  isOutTradeNoUsed(merchant: string, outTradeNo: string): boolean {
    return this.outTradeNos.get(merchant)?.has(outTradeNo) ?? false;
  }

  /** Every transaction, optionally of one merchant, in creation order. */
  all(merchant?: string): SimTransaction[] {
    return merchant === undefined ? [...this.inOrder] : this.inOrder.filter((t) => t.merchant === merchant);
  }

  /**
   * A merchant's transactions created in [fromMs, toMs] (inclusive), ascending by creation time.
   * Binary search: the cost is that of the rows returned, not of the books.
   */
  createdBetween(merchant: string, fromMs: number, toMs: number): SimTransaction[] {
    const list = this.byMerchant.get(merchant);
    if (!list || fromMs > toMs) return [];
    const first = lowerBound(list, (t) => t.createdAtSimMs >= fromMs);
    const end = lowerBound(list, (t) => t.createdAtSimMs > toMs);
    return list.slice(first, end);
  }

  /** Any merchant: for the control API, which is not scoped to a credential. */
  findAnywhere(selector: {
    syssn?: string | undefined;
    outTradeNo?: string | undefined;
    appcode?: string | undefined;
  }): SimTransaction[] {
    let candidates: SimTransaction[];
    if (selector.syssn !== undefined) {
      const found = this.bySyssn.get(selector.syssn);
      candidates = found ? [found] : [];
    } else if (selector.outTradeNo !== undefined) {
      candidates = [];
      for (const map of this.outTradeNos.values()) {
        const syssn = map.get(selector.outTradeNo);
        const found = syssn === undefined ? undefined : this.bySyssn.get(syssn);
        if (found) candidates.push(found);
      }
      candidates.sort(compareCreation);
    } else candidates = [...this.inOrder];
    return candidates.filter(
      (t) =>
        (selector.outTradeNo === undefined || t.outTradeNo === selector.outTradeNo) &&
        (selector.appcode === undefined || t.appcode === selector.appcode),
    );
  }

  clear(): void {
    this.bySyssn.clear();
    this.outTradeNos.clear();
    this.byMerchant.clear();
    this.inOrder.length = 0;
    this.deadlines.clear();
    this.takings.clear();
  }

  /** Records a change made outside the transition methods (for persistence). */
  touch(transaction: SimTransaction): void {
    this.onChanged(transaction);
  }

  markPaid(transaction: SimTransaction, atSimMs: number, details: PaidDetails): void {
    transaction.state = 'PAID';
    transaction.respcd = '0000';
    transaction.errmsg = ERRMSG.paid;
    transaction.paidAtSimMs = atSimMs;
    transaction.chnlsn = details.chnlsn;
    transaction.cardcd = details.cardcd;
    transaction.expiresAtSimMs = undefined;
    transaction.settleAtSimMs = undefined;
    this.book(transaction);
    this.onChanged(transaction);
    this.onSucceeded(transaction);
  }

  markFailed(transaction: SimTransaction, respcd: string, errmsg: string): void {
    transaction.state = 'FAILED';
    transaction.respcd = respcd;
    transaction.errmsg = errmsg;
    transaction.expiresAtSimMs = undefined;
    transaction.settleAtSimMs = undefined;
    this.onChanged(transaction);
  }

  markExpired(transaction: SimTransaction): void {
    transaction.state = 'EXPIRED';
    transaction.respcd = '1181';
    transaction.errmsg = ERRMSG.expired;
    transaction.expiresAtSimMs = undefined;
    transaction.settleAtSimMs = undefined;
    this.onChanged(transaction);
  }

  /**
   * Close / reversal. `cancel` is 1 for CPM and 2 for MPM/online (current QFPay table).
   * The row respcd becomes 1142 (closed) or 1263 (cancelled) so no reader mistakes it for pending.
   */
  markCancelled(transaction: SimTransaction, endpoint: 'close' | 'reversal'): void {
    transaction.state = 'CANCELLED';
    transaction.cancel = transaction.mode === 'CPM' ? '1' : '2';
    transaction.respcd = endpoint === 'close' ? '1142' : '1263';
    transaction.errmsg = endpoint === 'close' ? ERRMSG.closed : ERRMSG.reversed;
    transaction.cancelledBy = endpoint;
    transaction.expiresAtSimMs = undefined;
    transaction.settleAtSimMs = undefined;
    this.onChanged(transaction);
  }

  /** Books a successful refund against a paid payment and updates the original's `cancel`. */
  applyRefund(original: SimTransaction, refund: SimTransaction): void {
    original.refundedAmount += refund.txamt;
    original.cancel = original.refundedAmount >= original.txamt ? '3' : '5';
    this.book(refund);
    this.onChanged(original);
    this.onChanged(refund);
    this.onSucceeded(refund);
  }

  /** The earliest simulated instant at which some transaction changes by itself. */
  nextDeadline(): number | undefined {
    return this.deadlines.peekLive()?.at;
  }

  /** Transactions whose expiry or settle time has come, for the caller to transition. */
  due(simNowMs: number): { expired: SimTransaction[]; settled: SimTransaction[] } {
    const expired: SimTransaction[] = [];
    const settled: SimTransaction[] = [];
    for (
      let entry = this.deadlines.peekLive();
      entry && entry.at <= simNowMs;
      entry = this.deadlines.peekLive()
    ) {
      this.deadlines.pop();
      if (entry.transaction.state === 'AWAITING_CUSTOMER') expired.push(entry.transaction);
      else settled.push(entry.transaction);
    }
    return { expired, settled };
  }

  /**
   * Adds a PAID payment to, or takes a refund from, its day's takings. An authorisation only holds
   * money: its captures are the takings.
   */
  private book(transaction: SimTransaction): void {
    if (isAuthorisation(transaction)) return;
    const at = transaction.paidAtSimMs ?? transaction.createdAtSimMs;
    const key = takingsKey(transaction.merchant, transaction.txcurrcd, at);
    const sign = transaction.orderType === 'refund' ? -1 : 1;
    this.takings.set(key, (this.takings.get(key) ?? 0) + sign * transaction.txamt);
  }

  private index(transaction: SimTransaction): void {
    this.bySyssn.set(transaction.syssn, transaction);
    this.outTradeNosOf(transaction.merchant).set(transaction.outTradeNo, transaction.syssn);
    this.inOrder.push(transaction);
    let list = this.byMerchant.get(transaction.merchant);
    if (!list) {
      list = [];
      this.byMerchant.set(transaction.merchant, list);
    }
    // Almost always an append; a clock set backwards inserts in the middle.
    const at = lowerBound(list, (t) => compareCreation(t, transaction) > 0);
    if (at === list.length) list.push(transaction);
    else list.splice(at, 0, transaction);
    const deadline = deadlineOf(transaction);
    if (deadline !== undefined) this.deadlines.push({ at: deadline, transaction });
  }

  private outTradeNosOf(merchant: string): Map<string, string> {
    let map = this.outTradeNos.get(merchant);
    if (!map) {
      map = new Map();
      this.outTradeNos.set(merchant, map);
    }
    return map;
  }
}

function takingsKey(merchant: string, currency: string, simMs: number): string {
  return `${merchant}\u0000${currency}\u0000${utc8DatePrefix(simMs)}`;
}

function compareCreation(a: SimTransaction, b: SimTransaction): number {
  return a.createdAtSimMs - b.createdAtSimMs || (a.syssn < b.syssn ? -1 : a.syssn > b.syssn ? 1 : 0);
}

/** First index whose element satisfies `isAfter` (which must be monotone over the list). */
function lowerBound<T>(list: readonly T[], isAfter: (item: T) => boolean): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (isAfter(list[mid]!)) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * Deadlines are only ever set when a transaction is created and only ever cleared afterwards,
 * so an entry whose transaction no longer has that deadline is stale and dropped lazily.
 */
class DeadlineHeap {
  private readonly heap: DeadlineEntry[] = [];

  push(entry: DeadlineEntry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (heap[parent]!.at <= heap[i]!.at) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  /** The earliest entry that still applies, discarding stale ones on the way. */
  peekLive(): DeadlineEntry | undefined {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (deadlineOf(top.transaction) === top.at) return top;
      this.pop();
    }
    return undefined;
  }

  pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && heap[left]!.at < heap[smallest]!.at) smallest = left;
      if (right < heap.length && heap[right]!.at < heap[smallest]!.at) smallest = right;
      if (smallest === i) return;
      [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
      i = smallest;
    }
  }

  clear(): void {
    this.heap.length = 0;
  }
}

/**
 * The one instant at which a transaction changes by itself: a waiting order expires, a pending
 * CPM payment settles. Deadlines of any other state are ignored, so the timer can never spin on
 * a deadline nothing will act on.
 */
function deadlineOf(transaction: SimTransaction): number | undefined {
  if (transaction.state === 'AWAITING_CUSTOMER') return transaction.expiresAtSimMs;
  if (transaction.state === 'PROCESSING') return transaction.settleAtSimMs;
  return undefined;
}
