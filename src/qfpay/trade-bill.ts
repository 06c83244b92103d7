import { QfpayError } from './errors.js';

/**
 * QFPay's trade bill (`GET /download/v1/trade_bill`, qfpay-api.md §3.7): a zip of one day's
 * transactions of every merchant of the channel. QFPay does not document the file inside the zip,
 * so this server reads the layout docs/simulator.md ("Trade bill") defines and the simulator
 * serves: one UTF-8 CSV (a BOM is allowed) whose header row names the fields of a query row. Columns
 * are found by name, in any order; unknown columns are ignored. The reader (unzip and CSV parsing)
 * is `trade-bill-reader.ts`, loaded on a bill's first download: its libraries are not paid at start.
 */

/** The columns the simulator writes, in its order; `origssn` is read as a synonym of `orig_syssn`. */
export const TRADE_BILL_COLUMNS = [
  'syssn',
  'out_trade_no',
  'orig_syssn',
  'order_type',
  'pay_type',
  'txamt',
  'txcurrcd',
  'txdtm',
  'sysdtm',
  'paydtm',
  'respcd',
  'errmsg',
  'cancel',
  'mchid',
  'goods_name',
] as const;

/** Without these a row cannot be reconciled: the file is not a bill this server can read. */
export const REQUIRED_COLUMNS = [
  'syssn',
  'out_trade_no',
  'order_type',
  'txamt',
  'txcurrcd',
  'sysdtm',
  'respcd',
  'cancel',
];

/** A day of one channel is far below this; a zip declaring more is refused before inflating (zip bombs). */
export const MAX_BILL_UNCOMPRESSED_BYTES = 64 * 1024 * 1024;

export type TradeBillProblem = 'not_zip' | 'no_csv' | 'too_large' | 'not_a_bill' | 'no_file';

/** A bill answer this server cannot use. The message names what is wrong, never the file's content. */
export class TradeBillError extends QfpayError {
  readonly kind = 'upstream' as const;
  constructor(
    readonly problem: TradeBillProblem,
    detail: string,
  ) {
    super(
      `QFPay's trade bill is not a bill this server can read: ${detail}`,
      "Reconcile from QFPay's query API instead (reconcile_day falls back by itself).",
    );
  }
}

export interface TradeBillOptions {
  /** The configured QFPAY_MCHID: rows of other merchants of the channel are left out. */
  readonly mchid?: string | undefined;
  readonly maxUncompressedBytes?: number;
}
