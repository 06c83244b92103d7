import {
  findCurrency,
  findPayType,
  findResponseCode,
  GOODS_NAME_ADVICE,
  goodsNameProblem,
} from '../../qfpay/catalog/index.js';
import type { PayTypeEntry, ResponseCodeEntry } from '../../qfpay/catalog/types.js';
import { payParamsFor, payUrlFor, qrcodeFor } from '../artefacts.js';
import {
  optionalField,
  optionalNotifyUrl,
  optionalPositiveInteger,
  requiredAmount,
  requiredDateTime,
  requiredField,
  requiredOutTradeNo,
} from '../fields.js';
import { ERRMSG } from '../state.js';
import type { NewTransaction, SimTransaction } from '../state.js';
import { WireError } from '../wire.js';
import type { FormParams } from '../wire.js';
import { RESPERR_SUCCESS, transactionAnswer, udidOf } from './common.js';
import type { HandlerContext, ResponseBody } from './common.js';
import { WECHAT_JSAPI_PAY_TYPE } from './tool.js';

/** QR / online order lifetime when the merchant sends no expired_time. */
const DEFAULT_EXPIRED_TIME_MINUTES = 30;
const MINUTE_MS = 60_000;

/** Validated payment request. */
interface PaymentInput {
  readonly payType: PayTypeEntry;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly outTradeNo: string;
  readonly txdtm: string;
  readonly authCode: string | undefined;
  readonly expiredTimeMinutes: number | undefined;
  readonly goodsName: string | undefined;
  readonly notifyUrl: string | undefined;
  readonly udid: string;
}

/**
 * POST /trade/v1/payment. CPM payments settle on the spot (or per the magic auth_code);
 * every other mode creates an order that waits for the customer (control API `/__sim/pay`),
 * expires, or is closed.
 */
export function handlePayment(context: HandlerContext): ResponseBody {
  const input = readPaymentInput(context.params);
  const { engine, auth } = context;
  if (engine.ledger.isOutTradeNoUsed(auth.merchant, input.outTradeNo))
    // QFPay's documents leave 1102 vs 2011 open; we answer 1102 ("duplicate request") for any reuse, so a
    // client that re-sends after a timeout is told to query instead of being charged twice.
    throw new WireError(
      '1102',
      `out_trade_no ${input.outTradeNo} was already used by a payment or refund of this merchant; query it instead of paying again`,
      'duplicate request',
    );
  // Last check before the order exists: a refused payment must not spend the customer's openid.
  if (input.payType.payType === WECHAT_JSAPI_PAY_TYPE)
    engine.wechat.spendOpenid(auth.merchant, context.params.get('sub_openid') ?? '');
  return takesCustomerCode(input.payType)
    ? payByCustomerCode(context, input)
    : createWaitingOrder(context, input);
}

/** CPM types, and the pre-authorisation the merchant makes by scanning the customer code (801801). */
function takesCustomerCode(payType: PayTypeEntry): boolean {
  return payType.mode === 'CPM' || payType.requiredFields.includes('auth_code');
}

/** The Alipay pre-authorisation page: authorisation requests are valid for 15 minutes. */
const PREAUTH_REQUEST_MINUTES = 15;

function readPaymentInput(params: FormParams): PaymentInput {
  const payTypeCode = requiredField(params, 'pay_type', 'a six-digit QFPay pay type such as 800101');
  const payType = findPayType(payTypeCode);
  if (!payType)
    throw new WireError(
      '1104',
      `pay_type ${truncate(payTypeCode)} is not a QFPay pay type; see the pay type list`,
    );
  if (!payType.apiCreatable || payType.mode === 'CARD')
    throw new WireError(
      '1250',
      `pay_type ${payType.payType} (${payType.name}) cannot be created through /trade/v1/payment; cards go through QFPay Checkout or the Payment Element`,
      'transaction forbidden',
    );
  const txamt = requiredAmount(params);
  const txcurrcd = requiredField(params, 'txcurrcd', 'an ISO 4217 code such as HKD');
  if (findCurrency(txcurrcd)?.code !== txcurrcd)
    throw new WireError(
      '1104',
      `txcurrcd ${truncate(txcurrcd)} is not a currency QFPay supports (use an upper-case ISO 4217 code such as HKD)`,
    );
  const outTradeNo = requiredOutTradeNo(params);
  const txdtm = requiredDateTime(params, 'txdtm');
  for (const field of payType.requiredFields)
    requiredField(params, field, `pay_type ${payType.payType} (${payType.name}) requires it`);
  const authCode = takesCustomerCode(payType) ? readAuthCode(params) : undefined;
  checkExtendInfo(params, payType);
  const minimum = payType.minimumExclusive?.[txcurrcd];
  if (minimum !== undefined && txamt <= minimum)
    throw new WireError(
      '1104',
      `txamt ${txamt} is too small for pay_type ${payType.payType}: it must be greater than ${minimum} ${txcurrcd} minor units`,
    );
  const expiredTimeMinutes = optionalPositiveInteger(params, 'expired_time', { min: 5, max: 120 });
  return {
    payType,
    txamt,
    txcurrcd,
    outTradeNo,
    txdtm,
    authCode,
    expiredTimeMinutes,
    goodsName: goodsNameOf(params),
    notifyUrl: optionalNotifyUrl(params),
    udid: udidOf(params),
  };
}

function readAuthCode(params: FormParams): string {
  const authCode = requiredField(params, 'auth_code', 'the code scanned from the customer wallet');
  if (!/^[0-9A-Za-z]{6,128}$/.test(authCode))
    throw new WireError(
      '1104',
      'auth_code must be the 6–128 letters or digits scanned from the customer wallet',
    );
  return authCode;
}

/** extend_info travels as a JSON string; WeChat H5 (800212) needs scene_info. */
function checkExtendInfo(params: FormParams, payType: PayTypeEntry): void {
  const text = optionalField(params, 'extend_info');
  if (text === undefined) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new WireError('1104', 'extend_info must be a JSON object sent as a string in one form field');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new WireError('1104', 'extend_info must be a JSON object sent as a string in one form field');
  if (payType.payType === '800212') {
    const scene = (parsed as Record<string, unknown>).scene_info;
    const h5 =
      typeof scene === 'object' && scene !== null ? (scene as Record<string, unknown>).h5_info : undefined;
    if (typeof h5 !== 'object' || h5 === null)
      throw new WireError(
        '1104',
        'extend_info.scene_info.h5_info is required for pay_type 800212 (WeChat H5): {"scene_info":{"h5_info":{"type":"Wap","wap_url":…,"wap_name":…}},"spbill_create_ip":…}',
      );
  }
}

function baseTransaction(
  context: HandlerContext,
  input: PaymentInput,
): Omit<NewTransaction, 'state' | 'respcd' | 'errmsg'> {
  const now = context.engine.clock.now();
  return {
    syssn: context.engine.syssn.next(now),
    merchant: context.auth.merchant,
    appcode: context.auth.credential.appcode,
    mchid: context.auth.credential.mchid,
    orderType: 'payment',
    outTradeNo: input.outTradeNo,
    payType: input.payType.payType,
    mode: input.payType.mode,
    txamt: input.txamt,
    txcurrcd: input.txcurrcd,
    txdtm: input.txdtm,
    createdAtSimMs: now,
    origSyssn: undefined,
    goodsName: input.goodsName,
    udid: input.udid,
    notifyUrl: input.notifyUrl,
  };
}

/**
 * Magic auth codes: when the last four digits are a catalog response code (other than 0000),
 * the wallet "answers" with that code. See docs/simulator.md for the table.
 */
export function magicCodeOf(authCode: string): ResponseCodeEntry | undefined {
  const lastFour = authCode.slice(-4);
  if (!/^\d{4}$/.test(lastFour) || lastFour === '0000') return undefined;
  return findResponseCode(lastFour);
}

/** "Network slow": the money WAS taken, but the answer says otherwise; only a query reveals it. */
const PAID_BUT_REPORTED_SLOW = '1298';

function payByCustomerCode(context: HandlerContext, input: PaymentInput): ResponseBody {
  const { engine } = context;
  const magic = magicCodeOf(input.authCode ?? '');
  const base = baseTransaction(context, input);
  if (magic === undefined || magic.code === PAID_BUT_REPORTED_SLOW) {
    const transaction = engine.ledger.add({ ...base, state: 'PROCESSING', respcd: '1145', errmsg: '' });
    engine.settle(transaction);
    if (magic === undefined) return transactionAnswer(transaction, success());
    // The wallet's ids did not make it back either; a query shows them.
    return {
      ...answerWithCode(transaction, magic, 'network slow: do not pay again; query to learn the result'),
      chnlsn: '',
      cardcd: '',
    };
  }
  if (magic.outcome === 'retryable')
    throw new WireError(
      magic.code,
      `simulated wallet answer ${magic.code} (auth_code ends in ${magic.code}); nothing was recorded, so the same out_trade_no may be sent again`,
      magic.meaning,
    );
  if (magic.outcome === 'pending') {
    const afterSeconds = engine.options.pendingSettle.afterSeconds;
    const transaction = engine.ledger.add({
      ...base,
      state: 'PROCESSING',
      respcd: magic.code,
      errmsg: magic.meaning,
      settleAtSimMs: Number.isFinite(afterSeconds) ? base.createdAtSimMs + afterSeconds * 1000 : undefined,
    });
    engine.reschedule();
    return answerWithCode(
      transaction,
      magic,
      'the customer is still confirming in the wallet; query until the result is final',
    );
  }
  const transaction = engine.ledger.add({
    ...base,
    state: 'FAILED',
    respcd: magic.code,
    errmsg: magic.meaning,
  });
  return answerWithCode(
    transaction,
    magic,
    `simulated wallet answer ${magic.code} (auth_code ends in ${magic.code})`,
  );
}

function createWaitingOrder(context: HandlerContext, input: PaymentInput): ResponseBody {
  const { engine } = context;
  const base = baseTransaction(context, input);
  // expired_time is only honoured by the types QFPay lists; the others get the default lifetime.
  const lifetimeMinutes =
    input.payType.mode === 'PREAUTH'
      ? PREAUTH_REQUEST_MINUTES
      : input.payType.supportsExpiredTime && input.expiredTimeMinutes !== undefined
        ? input.expiredTimeMinutes
        : DEFAULT_EXPIRED_TIME_MINUTES;
  const transaction = engine.ledger.add({
    ...base,
    state: 'AWAITING_CUSTOMER',
    respcd: '1143',
    errmsg: ERRMSG.awaiting,
    expiresAtSimMs: base.createdAtSimMs + lifetimeMinutes * MINUTE_MS,
  });
  engine.reschedule();
  return { ...transactionAnswer(transaction, success()), ...customerArtefact(input, transaction) };
}

function customerArtefact(input: PaymentInput, transaction: SimTransaction): Record<string, unknown> {
  switch (input.payType.returns) {
    case 'qrcode':
      return { qrcode: qrcodeFor(input.payType) };
    case 'pay_url':
      return { pay_url: payUrlFor(input.payType) };
    case 'pay_params':
      return {
        pay_params: payParamsFor(input.payType, {
          txamt: input.txamt,
          txcurrcd: input.txcurrcd,
          goodsName: input.goodsName,
          simNowMs: transaction.createdAtSimMs,
        }),
      };
    case 'none':
      return {};
  }
}

function success(): { respcd: string; resperr: string; respmsg: string } {
  return { respcd: '0000', resperr: RESPERR_SUCCESS, respmsg: '' };
}

function answerWithCode(transaction: SimTransaction, code: ResponseCodeEntry, respmsg: string): ResponseBody {
  return transactionAnswer(transaction, { respcd: code.code, resperr: code.meaning, respmsg });
}

function truncate(text: string): string {
  return text.length > 20 ? `${text.slice(0, 20)}…` : text;
}

/** goods_name within QFPay's String(64), read as UTF-8 bytes (src/qfpay/catalog/field-limits.ts). */
function goodsNameOf(params: FormParams): string | undefined {
  const goodsName = optionalField(params, 'goods_name');
  const problem = goodsName === undefined ? undefined : goodsNameProblem(goodsName);
  if (problem) throw new WireError('1104', `goods_name ${problem}; shorten it. ${GOODS_NAME_ADVICE}`);
  return goodsName;
}
