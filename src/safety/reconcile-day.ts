import { QfpayError } from '../qfpay/errors.js';
import { isAuthorisationRow, isFinal, statusOfRecord } from '../qfpay/outcome.js';
import { formatQfpayDateTime, parseQfpayDateTime } from '../qfpay/time.js';
import type { NormalisedStatus, TransactionRecord } from '../qfpay/types.js';
import { hongKongDay, type LedgerRecord } from './ledger.js';

/**
 * A day's reconciliation: what this server's ledger says it did against what QFPay's records show
 * for the same UTC+8 day. It compares actions (payments and refunds, by `out_trade_no`, which they
 * share at QFPay) and lists every difference a bookkeeper would chase.
 */

export type DayDifference =
  | {
      /** QFPay moved money this server has no record of (another system, or a lost intent). */
      readonly kind: 'missing_from_ledger';
      readonly out_trade_no: string;
      readonly syssn: string;
      readonly order_type: string;
      readonly txamt: number;
      readonly txcurrcd: string;
      readonly qfpay_status: NormalisedStatus;
    }
  | {
      /** The ledger says money moved (or may have), QFPay has no such order. */
      readonly kind: 'unknown_to_qfpay';
      readonly out_trade_no: string;
      readonly order_type: string;
      readonly txamt: number;
      readonly txcurrcd: string;
      readonly ledger_status: string;
    }
  | {
      readonly kind: 'amount_differs';
      readonly out_trade_no: string;
      readonly syssn: string;
      readonly order_type: string;
      readonly ledger_txamt: number;
      readonly qfpay_txamt: number;
      readonly ledger_txcurrcd: string;
      readonly qfpay_txcurrcd: string;
    }
  | {
      /** Both know the order but disagree on where it ended; `ledger_final` false means the ledger only lags. */
      readonly kind: 'status_differs';
      readonly out_trade_no: string;
      readonly syssn: string;
      readonly order_type: string;
      readonly ledger_status: string;
      readonly qfpay_status: NormalisedStatus;
      readonly ledger_final: boolean;
    };

export interface DayReconciliation {
  /** `YYYY-MM-DD`, UTC+8. */
  readonly day: string;
  readonly ledger_actions: number;
  readonly qfpay_transactions: number;
  readonly matched: number;
  readonly differences: readonly DayDifference[];
}

/** A ledger action: its intent and the latest thing learnt about it. */
interface LedgerAction {
  readonly intent: LedgerRecord;
  readonly status: string;
}

/** Ledger statuses under which no money can have moved at QFPay. */
const MOVED_NOTHING: ReadonlySet<string> = new Set(['FAILED', 'CANCELLED', 'EXPIRED']);

/**
 * The UTC+8 day's bounds as QFPay query times, widened by `marginMinutes` on both sides: a payment
 * sent at 23:59:59 may carry the next day's sysdtm, so rows just outside the day are fetched to be
 * matched, though only those inside it can be reported as missing.
 */
export function dayQueryRange(day: string, marginMinutes = 30): { start_time: string; end_time: string } {
  const start = parseQfpayDateTime(`${day} 00:00:00`);
  if (!start) throw new RangeError(`day must be YYYY-MM-DD, got ${day}`);
  const margin = marginMinutes * 60_000;
  return {
    start_time: formatQfpayDateTime(new Date(start.getTime() - margin)),
    end_time: formatQfpayDateTime(new Date(start.getTime() + 86_400_000 - 1000 + margin)),
  };
}

/**
 * The margins of the day alone (the 30 minutes before and after it), each inside one calendar
 * month: what a day read from the trade bill, which holds exactly the day, still needs from the query.
 */
export function dayMarginRanges(day: string, marginMinutes = 30): { start_time: string; end_time: string }[] {
  const { start_time, end_time } = dayQueryRange(day, marginMinutes);
  const dayStart = parseQfpayDateTime(`${day} 00:00:00`)!.getTime();
  return [
    { start_time, end_time: formatQfpayDateTime(new Date(dayStart - 1000)) },
    { start_time: formatQfpayDateTime(new Date(dayStart + 86_400_000)), end_time },
  ];
}

/** The same range cut at month boundaries: QFPay answers range queries within one calendar month. */
export function dayQueryRanges(day: string, marginMinutes = 30): { start_time: string; end_time: string }[] {
  const { start_time, end_time } = dayQueryRange(day, marginMinutes);
  if (start_time.slice(0, 7) === end_time.slice(0, 7)) return [{ start_time, end_time }];
  const ranges: { start_time: string; end_time: string }[] = [];
  let from = start_time;
  while (from.slice(0, 7) !== end_time.slice(0, 7)) {
    const [year, month] = from.slice(0, 7).split('-').map(Number) as [number, number];
    const next = month === 12 ? `${year + 1}-01` : `${year}-${String(month + 1).padStart(2, '0')}`;
    const nextStart = parseQfpayDateTime(`${next}-01 00:00:00`)!;
    ranges.push({ start_time: from, end_time: formatQfpayDateTime(new Date(nextStart.getTime() - 1000)) });
    from = `${next}-01 00:00:00`;
  }
  ranges.push({ start_time: from, end_time });
  return ranges;
}

/** Compares the ledger's records of `day` (any records; those of other days are ignored) with QFPay's rows. */
export function compareDay(
  day: string,
  records: readonly LedgerRecord[],
  rows: readonly TransactionRecord[],
): DayReconciliation {
  const actions = ledgerActions(day, records);
  const byReference = new Map<string, TransactionRecord>();
  for (const row of rows)
    if (row.out_trade_no && row.order_type !== 'close') byReference.set(row.out_trade_no, row);
  const refundsByPayment = groupRefunds(rows);
  const differences: DayDifference[] = [];
  let matched = 0;
  const seen = new Set<string>();
  for (const action of actions) {
    const reference = action.intent.out_trade_no;
    seen.add(reference);
    const row = byReference.get(reference);
    if (!row) {
      if (!MOVED_NOTHING.has(action.status))
        differences.push({
          kind: 'unknown_to_qfpay',
          out_trade_no: reference,
          order_type: action.intent.kind,
          txamt: action.intent.txamt,
          txcurrcd: action.intent.txcurrcd,
          ledger_status: action.status,
        });
      continue;
    }
    matched += 1;
    const difference = compareAction(action, row, refundsByPayment);
    if (difference) differences.push(difference);
  }
  for (const row of rows) {
    if (seen.has(row.out_trade_no) || row.order_type === 'close' || !isOnDay(row, day)) continue;
    const status = statusOfRecord(row, { refunds: refundsByPayment.get(row.syssn) ?? [] });
    // Orders that never took money (failed, expired, still waiting) are not a bookkeeping difference.
    if (!movedMoney(status)) continue;
    differences.push({
      kind: 'missing_from_ledger',
      out_trade_no: row.out_trade_no,
      syssn: row.syssn,
      order_type: row.order_type,
      txamt: row.txamt,
      txcurrcd: row.txcurrcd,
      qfpay_status: status,
    });
  }
  return {
    day,
    ledger_actions: actions.length,
    qfpay_transactions: rows.filter((row) => isOnDay(row, day) && row.order_type !== 'close').length,
    matched,
    differences,
  };
}

function compareAction(
  action: LedgerAction,
  row: TransactionRecord,
  refundsByPayment: ReadonlyMap<string, TransactionRecord[]>,
): DayDifference | undefined {
  const { intent } = action;
  if (row.txamt !== intent.txamt || row.txcurrcd !== intent.txcurrcd)
    return {
      kind: 'amount_differs',
      out_trade_no: intent.out_trade_no,
      syssn: row.syssn,
      order_type: row.order_type,
      ledger_txamt: intent.txamt,
      qfpay_txamt: row.txamt,
      ledger_txcurrcd: intent.txcurrcd,
      qfpay_txcurrcd: row.txcurrcd,
    };
  const qfpayStatus = statusOfRecord(row, { refunds: refundsByPayment.get(row.syssn) ?? [] });
  if (sameOutcome(action.status, qfpayStatus)) return undefined;
  // An authorisation the ledger saw PAID (held) that QFPay now shows finished (cancel 4: captured,
  // released or past its window) agrees: its captures and its release are actions of their own.
  if (isAuthorisationRow(row) && action.status === 'PAID' && row.cancel === '4') return undefined;
  return {
    kind: 'status_differs',
    out_trade_no: intent.out_trade_no,
    syssn: row.syssn,
    order_type: row.order_type,
    ledger_status: action.status,
    qfpay_status: qfpayStatus,
    ledger_final: isFinal(action.status as NormalisedStatus),
  };
}

/**
 * The ledger records what a write achieved, QFPay where the order stands now: a payment the ledger
 * saw PAID that was refunded later still agrees; refunds are not this action's difference, and two
 * sides that are both still waiting agree.
 */
function sameOutcome(ledger: string, qfpay: NormalisedStatus): boolean {
  if (ledger === qfpay) return true;
  // Neither side has an outcome yet (waiting for the customer, processing): nothing to chase.
  if (!isFinal(ledger as NormalisedStatus) && !isFinal(qfpay) && qfpay !== 'UNKNOWN') return true;
  const paidAndLater: ReadonlySet<string> = new Set(['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED']);
  return paidAndLater.has(ledger) && paidAndLater.has(qfpay);
}

function movedMoney(status: NormalisedStatus): boolean {
  return (
    status === 'PAID' || status === 'REFUNDED' || status === 'PARTIALLY_REFUNDED' || status === 'PROCESSING'
  );
}

/**
 * Payment, refund and capture intents made on `day`, each with its latest status (cancellations and
 * releases of a pre-authorisation are not money: a release names the authorisation's own order).
 */
function ledgerActions(day: string, records: readonly LedgerRecord[]): LedgerAction[] {
  const latest = new Map<string, LedgerRecord>();
  for (const record of records) if (record.step !== 'intent') latest.set(record.intent_id, record);
  return records
    .filter(
      (record) =>
        record.step === 'intent' &&
        record.kind !== 'cancel' &&
        record.kind !== 'release' &&
        hongKongDay(record.time) === day,
    )
    .filter((intent) => latest.get(intent.intent_id)?.processed !== false)
    .map((intent) => ({ intent, status: latest.get(intent.intent_id)?.status ?? 'UNKNOWN' }));
}

function groupRefunds(rows: readonly TransactionRecord[]): Map<string, TransactionRecord[]> {
  const out = new Map<string, TransactionRecord[]>();
  for (const row of rows) {
    if (row.order_type !== 'refund' || !row.origssn) continue;
    out.set(row.origssn, [...(out.get(row.origssn) ?? []), row]);
  }
  return out;
}

function isOnDay(row: TransactionRecord, day: string): boolean {
  const when = row.sysdtm ?? row.txdtm;
  return when !== undefined && when.startsWith(day);
}

/** QFPay's largest query page. */
const PAGE_SIZE = 100;
/** 200 pages × 100 rows: far beyond a day of one merchant here; the answer says when it was cut. */
const MAX_PAGES = 200;

export interface DaySources {
  /** The store's records of the day (a little wider is fine: other days are ignored). */
  readonly records: () => Promise<readonly LedgerRecord[]>;
  /** One page of QFPay's query by time range (`page` from 1). */
  readonly queryPage: (range: {
    start_time: string;
    end_time: string;
    page: number;
    page_size: number;
  }) => Promise<readonly TransactionRecord[]>;
  /**
   * QFPay's trade bill of the day, where the environment has one (QFPay: production only); the
   * day's margins still come from the query. Absent: the whole day comes from the query.
   */
  readonly bill?: () => Promise<readonly TransactionRecord[]>;
}

export interface DayReport extends DayReconciliation {
  /** True when QFPay had more rows than were read (MAX_PAGES): the differences may be incomplete. */
  readonly truncated: boolean;
  /** Where QFPay's side of the day came from. */
  readonly source: 'trade_bill' | 'query';
  /** Why the query was used although a bill source was given (its download failed). */
  readonly source_note?: string;
}

/**
 * Reads both sides of `day` and compares them. Read-only on both: nothing is sent that moves money.
 * With a bill source, QFPay's side is the bill; if the bill cannot be had (network, QFPay error,
 * a file this server cannot read), the query by range, and the report says so.
 */
export async function reconcileDay(day: string, sources: DaySources): Promise<DayReport> {
  const bill = sources.bill ? await readBill(sources.bill) : undefined;
  if (bill && 'rows' in bill) {
    const margins = await queryRanges(dayMarginRanges(day), sources);
    return {
      ...compareDay(day, await sources.records(), [...bill.rows, ...margins.rows]),
      truncated: margins.truncated,
      source: 'trade_bill',
    };
  }
  const note = bill?.note;
  const { rows, truncated } = await queryRanges(dayQueryRanges(day), sources);
  return {
    ...compareDay(day, await sources.records(), rows),
    truncated,
    source: 'query',
    ...(note ? { source_note: note } : {}),
  };
}

async function readBill(
  bill: () => Promise<readonly TransactionRecord[]>,
): Promise<{ rows: readonly TransactionRecord[] } | { note: string }> {
  try {
    return { rows: await bill() };
  } catch (error) {
    // A caller that gave up, or a budget that could not be reached, is not a bill problem.
    if (!(error instanceof QfpayError) || error.kind === 'not_sent' || error.kind === 'validation')
      throw error;
    return {
      note: `The trade-bill download failed (${error.message.slice(0, 200)}); QFPay's query API was used instead.`,
    };
  }
}

async function queryRanges(
  ranges: readonly { start_time: string; end_time: string }[],
  sources: DaySources,
): Promise<{ rows: TransactionRecord[]; truncated: boolean }> {
  const rows: TransactionRecord[] = [];
  let truncated = false;
  for (const range of ranges) {
    let complete = false;
    for (let page = 1; page <= MAX_PAGES && !complete; page += 1) {
      const batch = await sources.queryPage({ ...range, page, page_size: PAGE_SIZE });
      rows.push(...batch);
      complete = batch.length < PAGE_SIZE;
    }
    truncated ||= !complete;
  }
  return { rows, truncated };
}
