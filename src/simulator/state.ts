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
  /** Query `cancel`: 0 none, 1 CPM reversed, 2 MPM/online closed, 3 refunded, 5 partially refunded. */
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

export class Ledger {
  private readonly bySyssn = new Map<string, SimTransaction>();
  /** merchant → out_trade_no → syssn, across payments and refunds (QFPay's uniqueness scope). */
  private readonly outTradeNos = new Map<string, Map<string, string>>();
  private readonly inOrder: SimTransaction[] = [];

  /** Called after any transition into PAID (payments) and on refund creation, for notifications. */
  onSucceeded: (transaction: SimTransaction) => void = () => undefined;

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
    this.bySyssn.set(transaction.syssn, transaction);
    this.outTradeNosOf(transaction.merchant).set(transaction.outTradeNo, transaction.syssn);
    this.inOrder.push(transaction);
    return transaction;
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

  /** Any merchant: for the control API, which is not scoped to a credential. */
  findAnywhere(selector: {
    syssn?: string | undefined;
    outTradeNo?: string | undefined;
    appcode?: string | undefined;
  }): SimTransaction[] {
    return this.inOrder.filter(
      (t) =>
        (selector.syssn === undefined || t.syssn === selector.syssn) &&
        (selector.outTradeNo === undefined || t.outTradeNo === selector.outTradeNo) &&
        (selector.appcode === undefined || t.appcode === selector.appcode),
    );
  }

  clear(): void {
    this.bySyssn.clear();
    this.outTradeNos.clear();
    this.inOrder.length = 0;
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
    this.onSucceeded(transaction);
  }

  markFailed(transaction: SimTransaction, respcd: string, errmsg: string): void {
    transaction.state = 'FAILED';
    transaction.respcd = respcd;
    transaction.errmsg = errmsg;
    transaction.expiresAtSimMs = undefined;
    transaction.settleAtSimMs = undefined;
  }

  markExpired(transaction: SimTransaction): void {
    transaction.state = 'EXPIRED';
    transaction.respcd = '1181';
    transaction.errmsg = ERRMSG.expired;
    transaction.expiresAtSimMs = undefined;
    transaction.settleAtSimMs = undefined;
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
  }

  /** Books a successful refund against a paid payment and updates the original's `cancel`. */
  applyRefund(original: SimTransaction, refund: SimTransaction): void {
    original.refundedAmount += refund.txamt;
    original.cancel = original.refundedAmount >= original.txamt ? '3' : '5';
    this.onSucceeded(refund);
  }

  /** The earliest simulated instant at which some transaction changes by itself. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const transaction of this.inOrder) {
      const at = deadlineOf(transaction);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /** Transactions whose expiry or settle time has come, for the caller to transition. */
  due(simNowMs: number): { expired: SimTransaction[]; settled: SimTransaction[] } {
    const expired: SimTransaction[] = [];
    const settled: SimTransaction[] = [];
    for (const transaction of this.inOrder) {
      const at = deadlineOf(transaction);
      if (at === undefined || at > simNowMs) continue;
      if (transaction.state === 'AWAITING_CUSTOMER') expired.push(transaction);
      else settled.push(transaction);
    }
    return { expired, settled };
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
