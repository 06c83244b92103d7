import { formatUtc8 } from '../clock.js';
import { optionalField, requiredAmount, requiredDateTime } from '../fields.js';
import type { PayTypeEntry } from '../../qfpay/catalog/types.js';
import type { SimTransaction } from '../state.js';
import { WireError } from '../wire.js';
import { RESPERR_SUCCESS, udidOf } from './common.js';
import type { HandlerContext, ResponseBody } from './common.js';

export type CancelEndpointName = 'close' | 'reversal';

/**
 * POST (or GET) /trade/v1/close and /trade/v1/reversal: stop an order that is not paid yet or
 * whose outcome is unknown. Which endpoint serves which pay type, and which types
 * cannot be cancelled at all (Hong Kong pay types), is the catalog's cancelEndpoint: the same
 * rule the client follows, so a rehearsal meets the refusals QFPay documents.
 */
export function cancelHandler(endpoint: CancelEndpointName) {
  return (context: HandlerContext): ResponseBody => handleCancel(context, endpoint);
}

function handleCancel(context: HandlerContext, endpoint: CancelEndpointName): ResponseBody {
  const { engine, params } = context;
  const syssn = optionalField(params, 'syssn');
  const outTradeNo = optionalField(params, 'out_trade_no');
  if (syssn === undefined && outTradeNo === undefined)
    throw new WireError('1104', 'send syssn or out_trade_no of the order to cancel');
  const txamt = requiredAmount(params);
  const txdtm = requiredDateTime(params, 'txdtm');
  const udid = udidOf(params);

  const original = findTarget(context, syssn, outTradeNo);
  if (original.orderType !== 'payment')
    throw new WireError(
      '1136',
      `${original.syssn} is a refund; refunds cannot be closed or reversed`,
      'transaction not allowed',
    );
  checkEndpointApplies(engine.payTypeOf(original), endpoint);
  if (txamt !== original.txamt)
    throw new WireError(
      '1266',
      `txamt ${txamt} does not match the order amount; send the original txamt ${original.txamt}`,
      'amount mismatch',
    );
  checkCancellable(original, endpoint);

  engine.ledger.markCancelled(original, endpoint);
  engine.reschedule();
  const now = engine.clock.now();
  return {
    respcd: '0000',
    resperr: RESPERR_SUCCESS,
    respmsg: '',
    syssn: engine.syssn.next(now),
    orig_syssn: original.syssn,
    out_trade_no: original.outTradeNo,
    txamt: String(original.txamt),
    txcurrcd: original.txcurrcd,
    txdtm,
    sysdtm: formatUtc8(now),
    chnlsn: '',
    chnlsn2: '',
    cardcd: '',
    udid,
    surcharge_fee: '0',
    surcharge_rate: '0',
  };
}

/**
 * A refused cancel answers 1297: the old docs (J) say /close answers 1297 when the order cannot be
 * closed; no code is documented for the rest, and one code keeps the refusal recognisable.
 */
function checkEndpointApplies(payType: PayTypeEntry, endpoint: CancelEndpointName): void {
  if (payType.cancelEndpoint === endpoint) return;
  const instead = payType.cancelAdvice ?? 'query it, and refund it once paid';
  if (payType.cancelEndpoint === 'none')
    throw new WireError(
      '1297',
      `pay_type ${payType.payType} orders cannot be cancelled (QFPay: Hong Kong pay types do not support cancel); ${instead}`,
      'cancel not supported',
    );
  throw new WireError(
    '1297',
    `pay_type ${payType.payType} orders are cancelled with /trade/v1/${payType.cancelEndpoint}, not /trade/v1/${endpoint}`,
    'cancel not supported',
  );
}

function findTarget(
  context: HandlerContext,
  syssn: string | undefined,
  outTradeNo: string | undefined,
): SimTransaction {
  const { ledger } = context.engine;
  const merchant = context.auth.merchant;
  const bySyssn = syssn === undefined ? undefined : ledger.bySyssnFor(merchant, syssn);
  const byOutTradeNo = outTradeNo === undefined ? undefined : ledger.byOutTradeNo(merchant, outTradeNo);
  const found = bySyssn ?? byOutTradeNo;
  if (!found)
    throw new WireError(
      '1136',
      'no such order for this merchant; check syssn / out_trade_no and the environment',
      'transaction not found',
    );
  if (bySyssn && outTradeNo !== undefined && bySyssn.outTradeNo !== outTradeNo)
    throw new WireError(
      '1267',
      'syssn and out_trade_no name different transactions',
      'order details do not match',
    );
  return found;
}

function checkCancellable(original: SimTransaction, endpoint: CancelEndpointName): void {
  switch (original.state) {
    case 'AWAITING_CUSTOMER':
    case 'PROCESSING':
      return;
    case 'PAID':
      throw new WireError(
        '1260',
        `${original.syssn} is already paid and cannot be ${endpoint === 'close' ? 'closed' : 'reversed'}; refund it instead`,
        'order already paid',
      );
    case 'CANCELLED':
      throw original.cancelledBy === 'reversal'
        ? new WireError('1263', `${original.syssn} was already reversed`, 'order cancelled')
        : new WireError('1142', `${original.syssn} is already closed`, 'order already closed');
    case 'EXPIRED':
      throw new WireError(
        '1181',
        `${original.syssn} has expired; nothing was charged and nothing needs cancelling`,
        'order expired',
      );
    case 'FAILED':
      throw new WireError(
        '1142',
        `${original.syssn} already failed (${original.respcd}); nothing was charged and nothing needs cancelling`,
        'order already closed',
      );
  }
}
