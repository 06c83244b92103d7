import { formatUtc8, utc8Month, utc8MonthBounds } from '../clock.js';
import { optionalDateTime, optionalField, optionalList, optionalPositiveInteger } from '../fields.js';
import type { Ledger, SimTransaction } from '../state.js';
import { WireError } from '../wire.js';
import type { FormParams } from '../wire.js';
import type { HandlerContext, ResponseBody } from './common.js';

const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 100;

interface QueryInput {
  readonly syssns: readonly string[] | undefined;
  readonly outTradeNos: readonly string[] | undefined;
  readonly payTypes: readonly string[] | undefined;
  readonly respcd: string | undefined;
  /** Inclusive sysdtm range; undefined when syssn makes it irrelevant. */
  readonly range: { startMs: number; endMs: number } | undefined;
  readonly page: number;
  readonly pageSize: number;
}

/**
 * POST /trade/v1/query. The top-level 0000 only says the query worked; each
 * data[] row carries the transaction's own respcd and cancel. Rows are newest first.
 */
export function handleQuery(context: HandlerContext): ResponseBody {
  const { engine, auth } = context;
  const input = readQueryInput(context.params, engine.clock.now());
  const matched = candidatesFor(engine.ledger, auth.merchant, input).filter((t) => matchesFilters(t, input));
  // Pending CPM payments move on when they are looked at (pendingSettle.afterQueries), and so do
  // pre-authorisations past their capture window.
  for (const transaction of matched) {
    engine.noteQueried(transaction);
    engine.expirePreauthIfDue(transaction);
  }
  const rows = matched
    .filter((t) => input.respcd === undefined || t.respcd === input.respcd)
    .sort(newestFirst);
  const start = (input.page - 1) * input.pageSize;
  return {
    respcd: '0000',
    resperr: '请求成功',
    respmsg: '',
    page: String(input.page),
    page_size: String(input.pageSize),
    data: rows.slice(start, start + input.pageSize).map(queryRow),
  };
}

function readQueryInput(params: FormParams, simNowMs: number): QueryInput {
  const syssns = optionalList(params, 'syssn');
  const outTradeNos = optionalList(params, 'out_trade_no');
  const respcd = optionalField(params, 'respcd');
  if (respcd !== undefined && !/^\d{4}$/.test(respcd))
    throw new WireError('1104', 'respcd filter must be a four-digit code such as 0000');
  const page = optionalPositiveInteger(params, 'page', { min: 1, max: 1_000_000 }) ?? 1;
  const pageSize = readPageSize(params);
  // Current docs (D enquiry): the range, and its current-month default, is ignored only when
  // syssn is given. The older page also exempted out_trade_no; we follow the current one, so a
  // lookup by out_trade_no finds only orders inside the (default: this month's) range.
  return {
    syssns,
    outTradeNos,
    payTypes: optionalList(params, 'pay_type'),
    respcd,
    range: syssns !== undefined ? undefined : readRange(params, simNowMs),
    page,
    pageSize,
  };
}

function readPageSize(params: FormParams): number {
  const text = optionalField(params, 'page_size');
  if (text === undefined) return DEFAULT_PAGE_SIZE;
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1)
    throw new WireError('1104', `page_size must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  if (Number(text) > MAX_PAGE_SIZE)
    throw new WireError(
      '1104',
      `page_size ${text} is over the maximum of ${MAX_PAGE_SIZE}; page through the results instead`,
    );
  return Number(text);
}

/**
 * start_time / end_time filter on sysdtm and default to the current calendar month (UTC+8). The
 * range must stay inside one calendar month; QFPay does not document the code, we answer 1104.
 */
function readRange(params: FormParams, simNowMs: number): { startMs: number; endMs: number } {
  const start = optionalDateTime(params, 'start_time');
  const end = optionalDateTime(params, 'end_time');
  const anchor = start ?? end ?? simNowMs;
  const month = utc8MonthBounds(anchor);
  const startMs = start ?? month.startMs;
  const endMs = end === undefined ? month.endMs : end + 999;
  if (startMs > endMs) throw new WireError('1104', 'start_time is after end_time');
  if (utc8Month(startMs) !== utc8Month(endMs))
    throw new WireError(
      '1104',
      `start_time and end_time must be in the same calendar month (UTC+8), got ${utc8Month(startMs)} and ${utc8Month(endMs)}; split the query by month`,
    );
  return { startMs, endMs };
}

/**
 * The transactions a query can match, found through the ledger's indexes (syssn, out_trade_no,
 * creation time) so that the cost follows the answer, not the number of orders.
 */
function candidatesFor(ledger: Ledger, merchant: string, input: QueryInput): SimTransaction[] {
  if (input.syssns)
    return [...new Set(input.syssns)]
      .map((syssn) => ledger.bySyssnFor(merchant, syssn))
      .filter((t): t is SimTransaction => t !== undefined);
  if (input.outTradeNos)
    return [...new Set(input.outTradeNos)]
      .map((outTradeNo) => ledger.byOutTradeNo(merchant, outTradeNo))
      .filter((t): t is SimTransaction => t !== undefined);
  const range = input.range!;
  // sysdtm has whole seconds: an order created at hh:mm:ss.999 still matches end_time hh:mm:ss.
  return ledger.createdBetween(merchant, range.startMs, Math.floor(range.endMs / 1000) * 1000 + 999);
}

function matchesFilters(transaction: SimTransaction, input: QueryInput): boolean {
  if (input.syssns && !input.syssns.includes(transaction.syssn)) return false;
  if (input.outTradeNos && !input.outTradeNos.includes(transaction.outTradeNo)) return false;
  if (input.payTypes && !input.payTypes.includes(transaction.payType)) return false;
  if (input.range) {
    const sysdtmMs = Math.floor(transaction.createdAtSimMs / 1000) * 1000;
    if (sysdtmMs < input.range.startMs || sysdtmMs > input.range.endMs) return false;
  }
  return true;
}

function newestFirst(a: SimTransaction, b: SimTransaction): number {
  return b.createdAtSimMs - a.createdAtSimMs || (a.syssn < b.syssn ? 1 : a.syssn > b.syssn ? -1 : 0);
}

/** A transaction as a query `data[]` row (and, with two more columns, a trade-bill line). */
export function queryRow(transaction: SimTransaction): Record<string, string> {
  const row: Record<string, string> = {
    syssn: transaction.syssn,
    out_trade_no: transaction.outTradeNo,
    pay_type: transaction.payType,
    order_type: transaction.orderType,
    txamt: String(transaction.txamt),
    txcurrcd: transaction.txcurrcd,
    txdtm: transaction.txdtm,
    sysdtm: formatUtc8(transaction.createdAtSimMs),
    paydtm: formatUtc8(transaction.paidAtSimMs ?? transaction.createdAtSimMs),
    respcd: transaction.respcd,
    errmsg: transaction.errmsg,
    cancel: transaction.cancel,
  };
  if (transaction.origSyssn !== undefined) row.origssn = transaction.origSyssn;
  row.goods_name = transaction.goodsName ?? '';
  row.cardcd = transaction.cardcd;
  row.chnlsn = transaction.chnlsn;
  row.chnlsn2 = '';
  row.udid = transaction.udid;
  return row;
}
