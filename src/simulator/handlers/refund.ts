import { channelSerialFor } from '../artefacts.js';
import { utc8MinuteOfDay } from '../clock.js';
import {
  optionalNotifyUrl,
  requiredAmount,
  requiredDateTime,
  requiredField,
  requiredOutTradeNo,
} from '../fields.js';
import { isAuthorisation, type SimTransaction } from '../state.js';
import { WireError } from '../wire.js';
import { modificationAnswer, RESPERR_SUCCESS, udidOf } from './common.js';
import type { HandlerContext, ResponseBody } from './common.js';

/**
 * 1265, "Refunds for transactions between 11:30pm to 0:30am … cannot be processed"; zh:
 * "该笔订单被禁止退款，23:30-00:30的交易…会被禁止" ("this order is barred from refunds: transactions
 * of 23:30–00:30 … are barred"). The zh text reads most naturally as the *payment's* time, the
 * older reading as the time the refund is *sent* (the daily cut-off). We apply both, UTC+8: a
 * refund sent in the window is refused (send it again after 00:30), and so is any refund of a
 * payment made in the window (docs/simulator.md, "Choices").
 */
const BLACKOUT_START_MINUTE = 23 * 60 + 30;
const BLACKOUT_END_MINUTE = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

export function inRefundBlackout(simMs: number): boolean {
  const minute = utc8MinuteOfDay(simMs);
  return minute >= BLACKOUT_START_MINUTE || minute < BLACKOUT_END_MINUTE;
}

/**
 * POST /trade/v1/refund: a new refund transaction against a paid payment. Several partial
 * refunds are allowed up to the original amount. The check and the booking run in one
 * synchronous step, so concurrent refunds can never add up to more than the payment.
 */
export function handleRefund(context: HandlerContext): ResponseBody {
  const { engine, auth, params } = context;
  const originalSyssn = requiredField(params, 'syssn', "the original payment's syssn");
  const outTradeNo = requiredOutTradeNo(params);
  const txamt = requiredAmount(params);
  const txdtm = requiredDateTime(params, 'txdtm');
  const udid = udidOf(params);
  const notifyUrl = optionalNotifyUrl(params);

  if (engine.ledger.isOutTradeNoUsed(auth.merchant, outTradeNo))
    throw new WireError(
      '1102',
      `out_trade_no ${outTradeNo} was already used by a payment or refund of this merchant; query it to see whether this refund already happened`,
      'duplicate request',
    );
  const original = engine.ledger.bySyssnFor(auth.merchant, originalSyssn);
  if (!original)
    throw new WireError(
      '1136',
      `no transaction ${originalSyssn} for this merchant; check the syssn and the environment`,
      'transaction not found',
    );
  checkRefundable(context, original, txamt);

  const now = engine.clock.now();
  const refund = engine.ledger.add({
    syssn: engine.syssn.next(now),
    merchant: auth.merchant,
    appcode: auth.credential.appcode,
    mchid: auth.credential.mchid,
    orderType: 'refund',
    outTradeNo,
    payType: original.payType,
    mode: original.mode,
    txamt,
    txcurrcd: original.txcurrcd,
    txdtm,
    createdAtSimMs: now,
    origSyssn: original.syssn,
    goodsName: original.goodsName,
    udid,
    // QFPay sends refund notifications to the merchant's notification URL; the simulator uses the
    // refund request's notify_url, else the one the original payment named.
    notifyUrl: notifyUrl ?? original.notifyUrl,
    state: 'PAID',
    respcd: '0000',
    errmsg: RESPERR_SUCCESS,
  });
  refund.paidAtSimMs = now;
  refund.chnlsn = channelSerialFor(engine.payTypeOf(original), now);
  refund.cardcd = original.cardcd;
  engine.ledger.applyRefund(original, refund);
  return modificationAnswer(refund, original, '', original);
}

function checkRefundable(context: HandlerContext, original: SimTransaction, txamt: number): void {
  const { engine } = context;
  if (original.orderType !== 'payment')
    throw new WireError(
      '1136',
      `${original.syssn} is a refund, not a payment; refund the original payment's syssn`,
      'transaction not allowed',
    );
  // qfpay-api.md §3.4: a pre-authorisation is refunded through its captures, never itself.
  if (isAuthorisation(original))
    throw new WireError(
      '1155',
      `${original.syssn} is a pre-authorisation, which holds money without taking it: refund a capture's syssn instead, or release the hold with /trade/v1/unfreeze`,
      'refund refused',
    );
  // FPS and the other *** types cannot be refunded; we answer 1155 "refund refused" (1271 is about
  // partial refunds, which is not the reason here).
  if (!engine.payTypeOf(original).refundable)
    throw new WireError(
      '1155',
      `pay_type ${original.payType} does not support refunds through QFPay; settle the return with the customer another way`,
      'refund refused',
    );
  const now = engine.clock.now();
  if (inRefundBlackout(now))
    throw new WireError(
      '1265',
      'refunds are not accepted between 23:30 and 00:30 (UTC+8); send the refund again after 00:30',
      'refund not allowed now',
    );
  if (original.state === 'CANCELLED')
    throw new WireError(
      '1263',
      `${original.syssn} was cancelled; there is nothing to refund`,
      'order cancelled',
    );
  if (original.state !== 'PAID')
    throw new WireError(
      '1261',
      `${original.syssn} is not paid (${original.state.toLowerCase().replace('_', ' ')}); only paid payments can be refunded`,
      'order not paid',
    );
  const remaining = original.txamt - original.refundedAmount;
  if (remaining <= 0)
    throw new WireError('1262', `${original.syssn} has already been refunded in full`, 'order refunded');
  if (txamt > remaining)
    throw new WireError(
      '1272',
      `txamt ${txamt} exceeds the refundable remainder ${remaining} of ${original.syssn} (paid ${original.txamt}, refunded ${original.refundedAmount})`,
      'refund exceeds refundable amount',
    );
  checkChannelRules(context, original, txamt, now);
}

/** The rules that depend on the day's takings, the payment's time and the channel contract. */
function checkChannelRules(
  context: HandlerContext,
  original: SimTransaction,
  txamt: number,
  now: number,
): void {
  const { engine, auth } = context;
  const rules = engine.options.refundRules;
  const paidAt = original.paidAtSimMs ?? original.createdAtSimMs;
  if (inRefundBlackout(paidAt))
    throw new WireError(
      '1265',
      `${original.syssn} was paid between 23:30 and 00:30 (UTC+8); QFPay bars refunds of transactions made in that window: settle the return with the customer another way, or ask QFPay support`,
      'refund not allowed for this transaction',
    );
  const windowDays = rules.refundWindowDays.get(original.payType);
  if (windowDays !== undefined && now - paidAt > windowDays * DAY_MS)
    throw new WireError(
      '1155',
      `${original.syssn} was paid more than ${windowDays} days ago, beyond the refund period of pay_type ${original.payType}; settle the return with the customer another way`,
      'refund refused',
    );
  const partial = txamt < original.txamt;
  if (partial && rules.noPartialRefundCurrencies.has(original.txcurrcd))
    throw new WireError(
      '1270',
      `${original.txcurrcd} payments can only be refunded in full: send txamt ${original.txamt}`,
      'currency does not support partial refunds',
    );
  if (partial && rules.noPartialRefundPayTypes.has(original.payType))
    throw new WireError(
      '1271',
      `pay_type ${original.payType} payments can only be refunded in full: send txamt ${original.txamt}`,
      'transaction does not support partial refunds',
    );
  if (!rules.sameDayTakings) return;
  const takings = engine.ledger.takingsOn(auth.merchant, original.txcurrcd, now);
  if (takings < txamt)
    throw new WireError(
      '1269',
      `today's unsettled ${original.txcurrcd} takings (${Math.max(0, takings)}) do not cover the refund of ${txamt}: refunds are paid out of the same day's takings; send it again once they do`,
      "today's unsettled amount is insufficient",
    );
}
