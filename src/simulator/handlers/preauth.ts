import { formatUtc8 } from '../clock.js';
import {
  optionalField,
  requiredAmount,
  requiredDateTime,
  requiredField,
  requiredOutTradeNo,
} from '../fields.js';
import { isAuthorisation, type SimTransaction } from '../state.js';
import { WireError } from '../wire.js';
import { modificationAnswer, udidOf } from './common.js';
import type { HandlerContext, ResponseBody } from './common.js';

/**
 * Pre-authorisation (qfpay-api.md §3.6): an authorisation is a pre-auth payment row that reached
 * 0000; it holds the money without taking it. `/trade/v1/authtrade` captures part or all of it as
 * a new payment row (its own syssn and out_trade_no, origssn = the authorisation), up to the
 * authorised total and within the capture window; `/trade/v1/unfreeze` releases the uncaptured
 * rest once. Afterwards (and once fully captured or past the window) the authorisation shows
 * cancel 4 and accepts nothing more. Checks and booking run in one synchronous step, so concurrent
 * captures can never add up to more than the authorisation. Choices: docs/simulator.md.
 */

/** 1151: the request does not match the pre-authorisation (not one, other currency, other reference). */
const MISMATCH = '1151';
/** 1152: the pre-authorisation can no longer be completed (released, finished, window passed). */
const FINISHED = '1152';
/** 1153: more than the uncaptured remainder. */
const AMOUNT = '1153';

/** POST /trade/v1/authtrade. */
export function handleCapture(context: HandlerContext): ResponseBody {
  const { engine, auth, params } = context;
  const authSyssn = requiredField(params, 'syssn', "the pre-authorisation's syssn");
  const outTradeNo = requiredOutTradeNo(params);
  const txamt = requiredAmount(params);
  const txdtm = requiredDateTime(params, 'txdtm');
  const txcurrcd = optionalField(params, 'txcurrcd');
  if (engine.ledger.isOutTradeNoUsed(auth.merchant, outTradeNo))
    throw new WireError(
      '1102',
      `out_trade_no ${outTradeNo} was already used by a payment, refund or capture of this merchant; query it to see whether this capture already happened`,
      'duplicate request',
    );
  const authorisation = openAuthorisation(context, authSyssn);
  if (txcurrcd !== undefined && txcurrcd !== authorisation.txcurrcd)
    throw new WireError(
      MISMATCH,
      `txcurrcd ${txcurrcd} differs from the pre-authorisation's ${authorisation.txcurrcd}`,
      'original pre-authorisation details do not match',
    );
  const remaining = uncaptured(authorisation);
  if (txamt > remaining)
    throw new WireError(
      AMOUNT,
      `txamt ${txamt} exceeds the uncaptured remainder ${remaining} of ${authorisation.syssn} (authorised ${authorisation.txamt}, captured ${authorisation.capturedAmount ?? 0})`,
      'pre-authorisation amount error',
    );

  const now = engine.clock.now();
  const capture = engine.ledger.add({
    syssn: engine.syssn.next(now),
    merchant: auth.merchant,
    appcode: auth.credential.appcode,
    mchid: auth.credential.mchid,
    orderType: 'payment',
    outTradeNo,
    payType: authorisation.payType,
    mode: authorisation.mode,
    txamt,
    txcurrcd: authorisation.txcurrcd,
    txdtm,
    createdAtSimMs: now,
    origSyssn: authorisation.syssn,
    goodsName: authorisation.goodsName,
    udid: udidOf(params),
    notifyUrl: authorisation.notifyUrl,
    state: 'PROCESSING',
    respcd: '1145',
    errmsg: '',
  });
  authorisation.capturedAmount = (authorisation.capturedAmount ?? 0) + txamt;
  if (uncaptured(authorisation) === 0) finish(authorisation, 'captured', now);
  engine.ledger.touch(authorisation);
  // Paid at once: the capture's `payment` notification goes out as for any payment.
  engine.settle(capture);
  capture.cardcd = authorisation.cardcd;
  engine.ledger.touch(capture);
  return modificationAnswer(capture, authorisation, 'Capture received', capture);
}

/** POST /trade/v1/unfreeze. */
export function handleRelease(context: HandlerContext): ResponseBody {
  const { engine, params } = context;
  const authSyssn = requiredField(params, 'syssn', "the pre-authorisation's syssn");
  const outTradeNo = requiredOutTradeNo(params);
  const txamt = requiredAmount(params);
  requiredDateTime(params, 'txdtm');
  const authorisation = openAuthorisation(context, authSyssn);
  if (outTradeNo !== authorisation.outTradeNo)
    throw new WireError(
      MISMATCH,
      `out_trade_no ${outTradeNo} is not the pre-authorisation's own (${authorisation.outTradeNo}); unfreeze names the original order`,
      'original pre-authorisation details do not match',
    );
  const remaining = uncaptured(authorisation);
  // The docs do not say whether txamt is the rest being released or the original amount; both
  // readings are accepted (docs/simulator.md).
  if (txamt !== remaining && txamt !== authorisation.txamt)
    throw new WireError(
      MISMATCH,
      `txamt ${txamt} is neither the uncaptured remainder ${remaining} nor the authorised ${authorisation.txamt} of ${authorisation.syssn}`,
      'original pre-authorisation details do not match',
    );
  const now = engine.clock.now();
  finish(authorisation, 'released', now);
  engine.ledger.touch(authorisation);
  engine.notifyRelease(authorisation, remaining);
  const release = { ...authorisation, syssn: engine.syssn.next(now), txamt: remaining, createdAtSimMs: now };
  return modificationAnswer(release, authorisation, 'Void received', release);
}

/** The authorisation named by `syssn`, still open for a capture or a release, or the QFPay error. */
function openAuthorisation(context: HandlerContext, syssn: string): SimTransaction {
  const { engine, auth } = context;
  const authorisation = engine.ledger.bySyssnFor(auth.merchant, syssn);
  if (!authorisation)
    throw new WireError(
      '1136',
      `no transaction ${syssn} for this merchant; check the syssn and the environment`,
      'transaction not found',
    );
  if (!isAuthorisation(authorisation))
    throw new WireError(
      MISMATCH,
      `${syssn} is not a pre-authorisation (pay_type ${authorisation.payType}${authorisation.origSyssn ? `, a capture of ${authorisation.origSyssn}` : ''})`,
      'original pre-authorisation details do not match',
    );
  if (authorisation.state !== 'PAID')
    throw new WireError(
      '1261',
      `${syssn} is not authorised (${authorisation.state.toLowerCase().replace('_', ' ')}); only an authorised pre-authorisation can be captured or released`,
      'order not paid',
    );
  engine.expirePreauthIfDue(authorisation);
  switch (authorisation.finishedBy) {
    case 'released':
      throw new WireError(
        FINISHED,
        `${syssn} was released at ${formatUtc8(authorisation.finishedAtSimMs!)}; nothing more can be captured or released`,
        'pre-authorisation finished',
      );
    case 'captured':
      throw new WireError(
        FINISHED,
        `${syssn} is fully captured (${authorisation.txamt}); nothing is left to capture or release`,
        'pre-authorisation finished',
      );
    case 'expired':
      throw new WireError(
        FINISHED,
        `the capture window of ${syssn} ended at ${formatUtc8(authorisation.finishedAtSimMs!)} (${engine.options.preauthCaptureWindowDays} days); the hold was released`,
        'pre-authorisation finished',
      );
    case undefined:
      return authorisation;
  }
}

function uncaptured(authorisation: SimTransaction): number {
  return authorisation.txamt - (authorisation.capturedAmount ?? 0);
}

function finish(
  authorisation: SimTransaction,
  by: NonNullable<SimTransaction['finishedBy']>,
  atSimMs: number,
): void {
  authorisation.finishedBy = by;
  authorisation.finishedAtSimMs = atSimMs;
  authorisation.cancel = '4';
}
