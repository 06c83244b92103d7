import { findPayType, getEnvironment } from '../qfpay/catalog/index.js';
import {
  amountInChinese,
  DEFAULT_LANGUAGE,
  environmentTitle,
  type Language,
  payTypeName,
} from '../qfpay/language.js';
import { amountDisplay, amountInWords, toMajorString } from '../qfpay/money.js';
import type { WriteIntent, WriteToolName } from './guard.js';
import { maskAppcode, sanitizeUpstreamText } from './sanitize.js';

/** The fixed words of a summary, per language; every value in them is filled in by the code below. */
interface SummaryWords {
  readonly environment: string;
  readonly realMoney: string;
  readonly noRealMoney: string;
  readonly merchant: string;
  readonly appCode: string;
  readonly amount: string;
  readonly smallestUnits: (currency: string) => string;
  readonly payType: string;
  readonly orderReference: string;
  readonly refundReference: string;
  readonly refundedPayment: string;
  readonly order: string;
  readonly cancelledOrder: string;
  readonly captureReference: string;
  readonly preauthorisation: string;
  readonly releasedPreauthorisation: string;
  readonly unknown: string;
  readonly separator: string;
  /**
   * Outside English, the first line names the action in these words (the tool's own English
   * sentence is for the model); every fact it carries follows on the lines below.
   */
  readonly actions?: Readonly<Record<WriteToolName, string>>;
}

const WORDS: Readonly<Record<Language, SummaryWords>> = {
  en: {
    environment: 'Environment',
    realMoney: 'REAL MONEY',
    noRealMoney: 'no real money',
    merchant: 'Merchant',
    appCode: 'app code',
    amount: 'Amount',
    smallestUnits: (currency) => `${currency} smallest units`,
    payType: 'Pay type',
    orderReference: 'Order reference',
    refundReference: 'Refund reference',
    refundedPayment: 'Refunded payment',
    order: 'order',
    cancelledOrder: 'Cancelled order',
    captureReference: 'Capture reference',
    preauthorisation: 'Pre-authorisation',
    releasedPreauthorisation: 'Released pre-authorisation',
    unknown: 'unknown',
    separator: ': ',
  },
  'zh-HK': {
    environment: '環境',
    realMoney: '涉及真實款項',
    noRealMoney: '不涉及真實款項',
    merchant: '商戶',
    appCode: 'app code',
    amount: '金額',
    smallestUnits: (currency) => `${currency} 最小單位`,
    payType: '支付方式',
    orderReference: '訂單編號',
    refundReference: '退款編號',
    refundedPayment: '被退款的付款',
    order: '訂單',
    cancelledOrder: '被取消的訂單',
    captureReference: '扣款編號',
    preauthorisation: '預授權',
    releasedPreauthorisation: '被釋放的預授權',
    unknown: '未知',
    separator: '：',
    actions: {
      create_payment: '向顧客收款',
      create_checkout_link: '發出網上收款連結（顧客付款即收款）',
      refund: '退款給顧客',
      cancel_payment: '取消未完成的訂單',
      capture_preauth: '從預授權扣取款項',
      release_preauth: '釋放預授權餘下的款項',
    },
  },
  'zh-CN': {
    environment: '环境',
    realMoney: '涉及真实资金',
    noRealMoney: '不涉及真实资金',
    merchant: '商户',
    appCode: 'app code',
    amount: '金额',
    smallestUnits: (currency) => `${currency} 最小单位`,
    payType: '支付方式',
    orderReference: '订单编号',
    refundReference: '退款编号',
    refundedPayment: '被退款的支付',
    order: '订单',
    cancelledOrder: '被取消的订单',
    captureReference: '扣款编号',
    preauthorisation: '预授权',
    releasedPreauthorisation: '被释放的预授权',
    unknown: '未知',
    separator: '：',
    actions: {
      create_payment: '向顾客收款',
      create_checkout_link: '发出网上收款链接（顾客付款即收款）',
      refund: '退款给顾客',
      cancel_payment: '取消未完成的订单',
      capture_preauth: '从预授权扣取款项',
      release_preauth: '释放预授权剩余的款项',
    },
  },
};

/**
 * What a person is asked to approve: one line for the action as the tool words it, then every
 * fact the approval is bound to, spelled out so a misread amount is hard to miss (display form,
 * words and the exact minor units the API receives), in the call's language (its `lang`, else
 * QFPAY_LANG, else English: the caller resolves it).
 * Codes, references and field names stay as they are in every language.
 *
 * Parts of it come from QFPay (a payment's order reference, its syssn) or from the caller, so
 * every interpolated value is sanitised: one value can never add a line, hide text or reorder
 * what the person reads (red-team finding B5).
 */
export function confirmationSummary(intent: WriteIntent, language: Language = DEFAULT_LANGUAGE): string {
  const words = WORDS[language];
  const label = (name: string) => `${name}${words.separator}`;
  const environment = getEnvironment(intent.environment);
  const payTypeCode = typeof intent.params.pay_type === 'string' ? shown(intent.params.pay_type) : undefined;
  const payType = payTypeCode ? findPayType(payTypeCode) : undefined;
  const currency = shown(intent.txcurrcd);
  const mchid = intent.merchant.mchid ? shown(intent.merchant.mchid) : '';
  const action = words.actions?.[intent.tool];
  const lines = [
    action
      ? `${action}${words.separator}${amountDisplay(intent.txamt, currency)}`
      : sanitizeUpstreamText(intent.summary, 600),
    `${label(words.environment)}${intent.environment} (${environmentTitle(intent.environment, language)}) — ${environment.realMoney ? words.realMoney : words.noRealMoney}`,
    `${label(words.merchant)}${words.appCode} ${maskAppcode(intent.merchant.appcode)}${mchid ? `, mchid ${mchid}` : ''}`,
    `${label(words.amount)}${amountDisplay(intent.txamt, currency)} — ${wordsFor(intent, language)} — txamt ${intent.txamt} (${words.smallestUnits(currency)})`,
  ];
  if (payTypeCode) {
    lines.push(`${label(words.payType)}${payTypeCode}${payType ? ` ${payTypeName(payType, language)}` : ''}`);
  }
  lines.push(...referenceLines(intent, words));
  return lines.join('\n');
}

const OPERATOR_PAGE: Readonly<Record<Exclude<Language, 'en'>, string>> = {
  'zh-HK': '請在伺服器自己的批准頁面批准',
  'zh-CN': '请在服务器自己的批准页面批准',
};

/** What the client shows its person with the approval page's address (URL-mode elicitation). */
export function operatorPageMessage(intent: WriteIntent, language: Language = DEFAULT_LANGUAGE): string {
  if (language === 'en') return `Approve on the server's own page: ${intent.summary}`;
  const action = WORDS[language].actions?.[intent.tool] ?? intent.tool;
  return `${OPERATOR_PAGE[language]}${WORDS[language].separator}${action}${WORDS[language].separator}${amountDisplay(intent.txamt, shown(intent.txcurrcd))}`;
}

function wordsFor(intent: WriteIntent, language: Language): string {
  try {
    if (language === 'en') return amountInWords(intent.txamt, intent.txcurrcd);
    return amountInChinese(toMajorString(intent.txamt, intent.txcurrcd), intent.txcurrcd, language);
  } catch {
    return `${intent.txamt} minor units`;
  }
}

/** One value inside a line of the summary. */
function shown(value: string): string {
  return sanitizeUpstreamText(value, 128);
}

function referenceLines(intent: WriteIntent, words: SummaryWords): string[] {
  const label = (name: string) => `${name}${words.separator}`;
  const outTradeNo = shown(intent.out_trade_no);
  const origSyssn = intent.orig_syssn ? shown(intent.orig_syssn) : words.unknown;
  const { orig_out_trade_no: origOrder, endpoint } = intent.params;
  switch (intent.tool) {
    case 'create_payment':
    case 'create_checkout_link':
      return [`${label(`${words.orderReference} (out_trade_no)`)}${outTradeNo}`];
    case 'refund':
      return [
        `${label(`${words.refundReference} (out_trade_no)`)}${outTradeNo}`,
        `${label(words.refundedPayment)}syssn ${origSyssn}${typeof origOrder === 'string' ? `, ${words.order} ${shown(origOrder)}` : ''}`,
      ];
    case 'cancel_payment':
      return [
        `${label(words.cancelledOrder)}out_trade_no ${outTradeNo}, syssn ${origSyssn}${typeof endpoint === 'string' ? ` (via /trade/v1/${shown(endpoint)})` : ''}`,
      ];
    case 'capture_preauth':
      return [
        `${label(`${words.captureReference} (out_trade_no)`)}${outTradeNo}`,
        `${label(words.preauthorisation)}syssn ${origSyssn}${typeof origOrder === 'string' ? `, ${words.order} ${shown(origOrder)}` : ''}`,
      ];
    case 'release_preauth':
      return [`${label(words.releasedPreauthorisation)}out_trade_no ${outTradeNo}, syssn ${origSyssn}`];
  }
}
