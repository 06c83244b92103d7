/**
 * The view's fixed words in the server's three languages (src/qfpay/language.ts), chosen by the
 * host's `locale` (McpUiHostContext, BCP 47). Only words for the person change: codes, statuses
 * sent to tools and amounts' digits never do. Status words follow QFPay's Chinese tables as
 * src/qfpay/catalog/words.ts has them, worded for a person watching one payment.
 */
import type { Language } from '../qfpay/language.js';
import { languageOfLocale } from '../qfpay/locale.js';

export interface ViewWords {
  readonly title: string;
  readonly status: Readonly<Record<string, string>>;
  readonly qrAlt: string;
  readonly qrCaption: string;
  readonly openCheckout: string;
  readonly confirmTitle: string;
  readonly confirm: string;
  readonly send: string;
  readonly doNotSend: string;
  readonly refund: string;
  readonly cancelOrder: string;
  readonly checkAgain: string;
  readonly minorUnits: (txamt: number) => string;
  readonly order: (reference: string) => string;
  readonly refunded: (amount: string) => string;
  readonly stillRefundable: (amount: string) => string;
  readonly separator: string;
  readonly operatorOnly: (url: string) => string;
  readonly stillNotFinal: string;
  readonly refundSent: string;
  readonly orderCancelled: string;
  readonly nothingSent: string;
  readonly hostUnreachable: (reason: string) => string;
  readonly needsHost: (reason: string) => string;
  readonly openFailed: (link: string) => string;
}

const ENGLISH: ViewWords = {
  title: 'QFPay payment',
  status: {
    CONFIRMATION_REQUIRED: 'Not sent yet: waiting for your confirmation in the conversation',
    AWAITING_CUSTOMER: 'Waiting for the customer to pay',
    PROCESSING: 'The wallet is still deciding',
    PAID: 'Paid',
    PARTIALLY_REFUNDED: 'Paid, partly refunded',
    REFUNDED: 'Refunded in full',
    CANCELLED: 'Cancelled',
    FAILED: 'Failed: no money was taken',
    EXPIRED: 'Expired unpaid',
    UNKNOWN: 'Outcome not known yet',
  },
  qrAlt: 'QR code for the customer to scan with their wallet',
  qrCaption: 'Show this code to the customer',
  openCheckout: 'Open the checkout page',
  confirmTitle: 'Confirmation required: nothing has been sent yet',
  confirm: 'Confirm',
  send: 'Send',
  doNotSend: 'Do not send',
  refund: 'Refund',
  cancelOrder: 'Cancel the order',
  checkAgain: 'Check again',
  minorUnits: (txamt) => `(${txamt} minor units)`,
  order: (reference) => `Order ${reference}`,
  refunded: (amount) => `Refunded ${amount}`,
  stillRefundable: (amount) => `${amount} still refundable`,
  separator: ' · ',
  operatorOnly: (url) =>
    `Only the operator can approve this, on the approval page: ${url} — once approved there, press "Send".`,
  stillNotFinal: 'Still not final. Press "Check again" to keep waiting.',
  refundSent: 'Refund sent.',
  orderCancelled: 'Order cancelled.',
  nothingSent: 'Nothing was sent.',
  hostUnreachable: (reason) => `The host could not reach the server (${reason}).`,
  needsHost: (reason) => `This view needs an MCP Apps host: ${reason}`,
  openFailed: (link) => `Open ${link}`,
};

const TRADITIONAL: ViewWords = {
  title: 'QFPay 付款',
  status: {
    CONFIRMATION_REQUIRED: '尚未發送：等待你在對話中確認',
    AWAITING_CUSTOMER: '等待顧客付款',
    PROCESSING: '錢包仍在處理中',
    PAID: '已付款',
    PARTIALLY_REFUNDED: '已付款，部分已退款',
    REFUNDED: '已全數退款',
    CANCELLED: '已取消',
    FAILED: '交易失敗：沒有收取任何款項',
    EXPIRED: '已過期，未付款',
    UNKNOWN: '結果尚未確定',
  },
  qrAlt: '供顧客用錢包掃描的二維碼',
  qrCaption: '請向顧客出示此二維碼',
  openCheckout: '打開付款頁面',
  confirmTitle: '需要確認：尚未發送任何請求',
  confirm: '確認',
  send: '發送',
  doNotSend: '不要發送',
  refund: '退款',
  cancelOrder: '取消訂單',
  checkAgain: '再次查詢',
  minorUnits: (txamt) => `（${txamt} 最小單位）`,
  order: (reference) => `訂單 ${reference}`,
  refunded: (amount) => `已退款 ${amount}`,
  stillRefundable: (amount) => `尚可退款 ${amount}`,
  separator: ' · ',
  operatorOnly: (url) => `只有營運者可以在批准頁面批准此操作：${url}。在該頁面批准後，請按「發送」。`,
  stillNotFinal: '結果仍未確定。按「再次查詢」繼續等待。',
  refundSent: '已發送退款。',
  orderCancelled: '訂單已取消。',
  nothingSent: '沒有發送任何請求。',
  hostUnreachable: (reason) => `主機無法連接伺服器（${reason}）。`,
  needsHost: (reason) => `此畫面需要支援 MCP Apps 的主機：${reason}`,
  openFailed: (link) => `請打開 ${link}`,
};

const SIMPLIFIED: ViewWords = {
  title: 'QFPay 支付',
  status: {
    CONFIRMATION_REQUIRED: '尚未发送：等待你在对话中确认',
    AWAITING_CUSTOMER: '等待顾客付款',
    PROCESSING: '钱包仍在处理中',
    PAID: '已支付',
    PARTIALLY_REFUNDED: '已支付，部分已退款',
    REFUNDED: '已全额退款',
    CANCELLED: '已取消',
    FAILED: '交易失败：没有收取任何款项',
    EXPIRED: '已过期，未付款',
    UNKNOWN: '结果尚未确定',
  },
  qrAlt: '供顾客用钱包扫描的二维码',
  qrCaption: '请向顾客出示此二维码',
  openCheckout: '打开支付页面',
  confirmTitle: '需要确认：尚未发送任何请求',
  confirm: '确认',
  send: '发送',
  doNotSend: '不要发送',
  refund: '退款',
  cancelOrder: '取消订单',
  checkAgain: '再次查询',
  minorUnits: (txamt) => `（${txamt} 最小单位）`,
  order: (reference) => `订单 ${reference}`,
  refunded: (amount) => `已退款 ${amount}`,
  stillRefundable: (amount) => `尚可退款 ${amount}`,
  separator: ' · ',
  operatorOnly: (url) => `只有运营者可以在批准页面批准此操作：${url}。在该页面批准后，请按“发送”。`,
  stillNotFinal: '结果仍未确定。按“再次查询”继续等待。',
  refundSent: '已发送退款。',
  orderCancelled: '订单已取消。',
  nothingSent: '没有发送任何请求。',
  hostUnreachable: (reason) => `主机无法连接服务器（${reason}）。`,
  needsHost: (reason) => `此界面需要支持 MCP Apps 的主机：${reason}`,
  openFailed: (link) => `请打开 ${link}`,
};

export const VIEW_WORDS: Readonly<Record<Language, ViewWords>> = {
  en: ENGLISH,
  'zh-HK': TRADITIONAL,
  'zh-CN': SIMPLIFIED,
};

/** The host's BCP 47 locale as one of the three languages; any language but Chinese → en. */
export function viewLanguageOf(locale: string | undefined): Language {
  return languageOfLocale(locale) ?? 'en';
}
