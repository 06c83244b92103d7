import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { PayTypeEntry } from '../qfpay/catalog/types.js';
import { findCurrency } from '../qfpay/catalog/currencies.js';
import { utc8DatePrefix } from './clock.js';

/**
 * Plausible wallet-side artefacts: transaction numbers, QR contents, pay URLs and pay_params
 * in the shapes QFPay documents. They look real enough for a client's
 * parser and a human demo, but every one of them is random and points nowhere.
 */

/** Issues 26-digit syssn values: YYYYMMDD (UTC+8) + 18 digits, unique within the process. */
export class SyssnIssuer {
  private counter = 0;
  /** Six random digits so two simulators in one test run do not hand out equal numbers. */
  private readonly instanceDigits = String(randomInt(0, 1_000_000)).padStart(6, '0');

  /** Numbers already in the books (a state file from an earlier process) are skipped. */
  isTaken: (syssn: string) => boolean = () => false;

  next(simNowMs: number): string {
    for (;;) {
      this.counter += 1;
      const syssn = `${utc8DatePrefix(simNowMs)}${this.instanceDigits}${String(this.counter).padStart(12, '0')}`;
      if (!this.isTaken(syssn)) return syssn;
    }
  }
}

export function randomDigits(length: number): string {
  let out = '';
  while (out.length < length) out += String(randomInt(0, 1_000_000_000)).padStart(9, '0');
  return out.slice(0, length);
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlphanumeric(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return out;
}

function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2))
    .toString('hex')
    .slice(0, length);
}

/** QR content for an MPM order, in the wallet's own URL scheme. */
export function qrcodeFor(payType: PayTypeEntry): string {
  switch (payType.wallet) {
    case 'Alipay':
      return `https://qr.alipay.com/bax0${randomDigits(4)}${randomAlphanumeric(16).toLowerCase()}`;
    case 'WeChat Pay':
      return `weixin://wxpay/bizpayurl?pr=${randomAlphanumeric(7)}`;
    case 'PayMe':
      return `https://qr.payme.hsbc.com.hk/2/${randomAlphanumeric(22)}`;
    case 'UnionPay':
      return `https://qr.95516.com/00010000/${randomDigits(20)}`;
    case 'Octopus':
      return `https://octopus.com.hk/qr/${randomAlphanumeric(24)}`;
    case 'FPS':
      // FPS QR codes are EMVCo merchant-presented payloads rather than URLs.
      return `00020101021226330012hk.com.hkicl0213${randomDigits(13)}5204000053033445802HK5913QFPAY SIMULAT6009HONG KONG6304${randomHex(4).toUpperCase()}`;
    default:
      return `https://qr.qfapi.example/${randomAlphanumeric(24)}`;
  }
}

/** Redirect URL for a web or WAP order. */
export function payUrlFor(payType: PayTypeEntry): string {
  switch (payType.wallet) {
    case 'Alipay':
      return `https://intlmapi.alipay.com/gateway.do?_input_charset=utf-8&token=${randomAlphanumeric(32)}`;
    case 'WeChat Pay':
      return `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx${randomDigits(14)}${randomHex(14)}&package=${randomDigits(10)}`;
    case 'PayMe':
      return `https://payme.hsbc/checkout/${randomAlphanumeric(24)}`;
    case 'UnionPay':
      return `https://gateway.95516.com/gateway/api/frontTransReq.do?tn=${randomDigits(21)}`;
    case 'Octopus':
      return `https://pay.octopus.com.hk/web/checkout/${randomAlphanumeric(24)}`;
    default:
      return `https://checkout.qfapi.example/${randomAlphanumeric(24)}`;
  }
}

export interface PayParamsContext {
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly goodsName: string | undefined;
  readonly simNowMs: number;
}

/** pay_params for APP / JSAPI / MINI orders in the documented shape for the wallet. */
export function payParamsFor(
  payType: PayTypeEntry,
  context: PayParamsContext,
): Record<string, string> | string {
  const timestamp = String(Math.floor(context.simNowMs / 1000));
  const isWeChat = payType.wallet === 'WeChat Pay';
  if (isWeChat && (payType.mode === 'JSAPI' || payType.mode === 'MINI')) {
    return {
      appId: `wx${randomHex(16)}`,
      timeStamp: timestamp,
      nonceStr: randomAlphanumeric(32),
      package: `prepay_id=wx${randomDigits(14)}${randomHex(16)}`,
      signType: 'MD5',
      paySign: fakeSignature(),
    };
  }
  if (isWeChat && payType.mode === 'APP') {
    return {
      appid: `wx${randomHex(16)}`,
      partnerid: randomDigits(10),
      prepayid: `wx${randomDigits(14)}${randomHex(16)}`,
      package: 'Sign=WXPay',
      noncestr: randomAlphanumeric(32),
      timestamp,
      sign: fakeSignature(),
    };
  }
  if (payType.wallet === 'Alipay' && payType.mode === 'APP') {
    return {
      partner: `2088${randomDigits(12)}`,
      seller_id: `2088${randomDigits(12)}`,
      service: 'mobile.securitypay.pay',
      _input_charset: 'utf-8',
      out_trade_no: randomDigits(26),
      subject: context.goodsName ?? 'goods',
      payment_type: '1',
      // Alipay in-app is the one place QFPay hands out an amount in MAJOR units.
      total_fee: formatMajorUnits(context.txamt, context.txcurrcd),
      currency: context.txcurrcd,
      forex_biz: 'FP',
      product_code: 'NEW_WAP_OVERSEAS_SELLER',
      notify_url: 'https://openapi-hk.qfapi.com/notify/alipay',
      sign_type: 'RSA',
      sign: randomBytes(128).toString('base64'),
    };
  }
  if (payType.wallet === 'Alipay' && payType.mode === 'JSAPI') {
    return { tradeNO: `${utc8DatePrefix(context.simNowMs)}2200${randomDigits(16)}` };
  }
  // FPS app-to-app and other in-app wallets: QFPay documents a bare URL string.
  return `https://app-link.qfapi.example/${payType.payType}/${randomAlphanumeric(24)}`;
}

function fakeSignature(): string {
  return createHash('md5').update(randomBytes(16)).digest('hex').toUpperCase();
}

/** txamt in minor units → "12.34" without floating point. */
export function formatMajorUnits(txamt: number, currency: string): string {
  const exponent = findCurrency(currency)?.exponent ?? 2;
  if (exponent === 0) return String(txamt);
  const digits = String(txamt).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** Wallet-side transaction id (chnlsn) for a paid transaction. */
export function channelSerialFor(payType: PayTypeEntry, simNowMs: number): string {
  const date = utc8DatePrefix(simNowMs);
  if (payType.wallet === 'WeChat Pay') return `4200${randomDigits(6)}${date}${randomDigits(10)}`;
  if (payType.wallet === 'Alipay') return `${date}2200${randomDigits(16)}`;
  return `${date}${randomDigits(16)}`;
}

/** Payer identifier (cardcd) as QFPay shows it: a wallet openid or user id. */
export function payerIdFor(payType: PayTypeEntry): string {
  if (payType.wallet === 'WeChat Pay') return `o${randomAlphanumeric(27)}`;
  if (payType.wallet === 'Alipay') return `2088${randomDigits(12)}`;
  return randomAlphanumeric(16);
}
