import type { SimulatorEngine } from '../engine.js';
import { formatUtc8 } from '../clock.js';
import { optionalBoundedText } from '../fields.js';
import type { SimTransaction } from '../state.js';
import type { Authenticated, FormParams } from '../wire.js';

export interface HandlerContext {
  readonly engine: SimulatorEngine;
  readonly auth: Authenticated;
  readonly params: FormParams;
}

/** A flat QFPay answer; every value is a string (or a nested object for pay_params / data). */
export type ResponseBody = Record<string, unknown> & { respcd: string };

export type TradeHandler = (context: HandlerContext) => ResponseBody;

/** QFPay's default `udid` when the merchant sent none (every example). */
export const DEFAULT_UDID = 'qiantai2';

export const RESPERR_SUCCESS = '交易成功';

export function udidOf(params: FormParams): string {
  return optionalBoundedText(params, 'udid', 40) ?? DEFAULT_UDID;
}

/**
 * The fields QFPay echoes for a payment, refund or cancel answer. `respcd`/`resperr`/`respmsg`
 * come first like in QFPay's samples.
 */
export function transactionAnswer(
  transaction: SimTransaction,
  status: { respcd: string; resperr: string; respmsg: string },
): ResponseBody {
  return {
    respcd: status.respcd,
    resperr: status.resperr,
    respmsg: status.respmsg,
    syssn: transaction.syssn,
    out_trade_no: transaction.outTradeNo,
    pay_type: transaction.payType,
    txamt: String(transaction.txamt),
    txcurrcd: transaction.txcurrcd,
    txdtm: transaction.txdtm,
    sysdtm: formatUtc8(transaction.createdAtSimMs),
    paydtm: formatUtc8(transaction.paidAtSimMs ?? transaction.createdAtSimMs),
    chnlsn: transaction.chnlsn,
    chnlsn2: '',
    cardcd: transaction.cardcd,
    udid: transaction.udid,
    surcharge_fee: '0',
    surcharge_rate: '0',
  };
}

/**
 * A refund's or a capture's/release's answer (qfpay-api.md §3.4, §3.6): the new transaction's
 * fields, `orig_syssn` the transaction it acts on; `paydtm` from `paidFrom` (a refund shows the
 * payment's time, a capture its own).
 */
export function modificationAnswer(
  transaction: SimTransaction,
  origin: SimTransaction,
  respmsg: string,
  paidFrom: SimTransaction,
): ResponseBody {
  return {
    respcd: '0000',
    resperr: RESPERR_SUCCESS,
    respmsg,
    syssn: transaction.syssn,
    orig_syssn: origin.syssn,
    out_trade_no: transaction.outTradeNo,
    pay_type: transaction.payType,
    txamt: String(transaction.txamt),
    txcurrcd: transaction.txcurrcd,
    txdtm: transaction.txdtm,
    sysdtm: formatUtc8(transaction.createdAtSimMs),
    paydtm: formatUtc8(paidFrom.paidAtSimMs ?? paidFrom.createdAtSimMs),
    chnlsn: transaction.chnlsn,
    cardcd: transaction.cardcd,
    udid: transaction.udid,
  };
}
