import { channelSerialFor } from '../artefacts.js';
import { formatUtc8, utc8MinuteOfDay } from '../clock.js';
import {
  optionalNotifyUrl,
  requiredAmount,
  requiredDateTime,
  requiredField,
  requiredOutTradeNo,
} from '../fields.js';
import type { SimTransaction } from '../state.js';
import { WireError } from '../wire.js';
import { RESPERR_SUCCESS, udidOf } from './common.js';
import type { HandlerContext, ResponseBody } from './common.js';

/** No refunds 23:30–00:30; QFPay states no zone, we read it as UTC+8 simulated time. */
const BLACKOUT_START_MINUTE = 23 * 60 + 30;
const BLACKOUT_END_MINUTE = 30;

export function inRefundBlackout(simNowMs: number): boolean {
  const minute = utc8MinuteOfDay(simNowMs);
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
  return refundAnswer(refund, original);
}

function checkRefundable(context: HandlerContext, original: SimTransaction, txamt: number): void {
  const { engine } = context;
  if (original.orderType !== 'payment')
    throw new WireError(
      '1136',
      `${original.syssn} is a refund, not a payment; refund the original payment's syssn`,
      'transaction not allowed',
    );
  // FPS and the other *** types cannot be refunded; we answer 1155 "refund refused" (1271 is about
  // partial refunds, which is not the reason here).
  if (!engine.payTypeOf(original).refundable)
    throw new WireError(
      '1155',
      `pay_type ${original.payType} does not support refunds through QFPay; settle the return with the customer another way`,
      'refund refused',
    );
  if (inRefundBlackout(engine.clock.now()))
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
}

function refundAnswer(refund: SimTransaction, original: SimTransaction): ResponseBody {
  return {
    respcd: '0000',
    resperr: RESPERR_SUCCESS,
    respmsg: '',
    syssn: refund.syssn,
    orig_syssn: original.syssn,
    out_trade_no: refund.outTradeNo,
    pay_type: refund.payType,
    txamt: String(refund.txamt),
    txcurrcd: refund.txcurrcd,
    txdtm: refund.txdtm,
    sysdtm: formatUtc8(refund.createdAtSimMs),
    paydtm: formatUtc8(original.paidAtSimMs ?? original.createdAtSimMs),
    chnlsn: refund.chnlsn,
    cardcd: refund.cardcd,
    udid: refund.udid,
  };
}
