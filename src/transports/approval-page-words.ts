import Negotiator from 'negotiator';

import { DEFAULT_LANGUAGE, type Language } from '../qfpay/language.js';
import { languageOfLocale } from '../qfpay/locale.js';
import type { ApprovalState } from '../safety/approval-store.js';

/**
 * The operator page's fixed words in the server's three languages (src/qfpay/language.ts). The
 * page is for a person at a browser, so it speaks the browser's language (Accept-Language, which
 * the page's own requests carry too), then QFPAY_LANG, then English. The summary on it was worded
 * when the action was prepared, in the call's language. Machine values never change: the
 * `data-state` attribute and the JSON `state` stay English.
 */
export interface PageWords {
  readonly registerTitle: string;
  readonly registerIntro: string;
  readonly operatorSecret: string;
  readonly registerButton: string;
  readonly approveTitle: string;
  readonly approvingLets: (expiresAt: string) => string;
  readonly approveWithPasskey: string;
  /** Around the link to the registration page. */
  readonly noPasskey: readonly [before: string, link: string, after: string];
  readonly orOperatorSecret: string;
  readonly approveWithSecret: string;
  readonly decline: string;
  /** The sentence around a decided approval's state word (`{state}` marks it). */
  readonly nothingLeft: string;
  readonly states: Readonly<Record<ApprovalState | 'expired', string>>;
  /** For the page's script. */
  readonly notDone: string;
  readonly unexpectedAnswer: string;
  readonly refused: string;
  readonly messages: Readonly<Record<PageMessage, string>>;
  /** The page reached under another host name than the one passkeys are bound to. */
  readonly openAs: (address: string) => string;
}

export type PageMessage =
  | 'typeSecret'
  | 'wrongSecret'
  | 'malformedRegistration'
  | 'registrationExpired'
  | 'passkeyNotVerified'
  | 'passkeyRegistered'
  | 'noPasskeyRegistered'
  | 'malformedPasskeyAnswer'
  | 'passkeyPromptExpired'
  | 'passkeyUnknown'
  | 'counterBackwards'
  | 'noLongerPending'
  | 'approved'
  | 'declined'
  | 'noSuchApproval'
  | 'tooManyFailures'
  | 'foreignOrigin'
  | 'notJson'
  | 'pageFailed'
  | 'notFound';

const ENGLISH: PageWords = {
  registerTitle: 'Register an operator passkey',
  registerIntro:
    "Only the operator of this qfpay-mcp server may register a passkey. Type the operator secret (QFPAY_OPERATOR_SECRET, from the server's environment), then create the passkey when your device asks. The agent never sees this page or the secret.",
  operatorSecret: 'Operator secret',
  registerButton: 'Register a passkey',
  approveTitle: 'Approve a QFPay action',
  approvingLets: (expiresAt) =>
    `Approving lets the agent carry out exactly this action once, before ${expiresAt}. Any other amount, order or merchant needs a new approval.`,
  approveWithPasskey: 'Approve with my passkey',
  noPasskey: ['No passkey is registered yet (', 'register one', '); the operator secret works instead.'],
  orOperatorSecret: 'Or the operator secret',
  approveWithSecret: 'Approve with the secret',
  decline: 'Decline',
  nothingLeft: 'This approval is {state}; nothing is left to decide here.',
  states: {
    pending: 'pending',
    approved: 'approved',
    declined: 'declined',
    redeemed: 'used',
    expired: 'expired',
  },
  notDone: 'Not done: ',
  unexpectedAnswer: 'Unexpected answer.',
  refused: 'Refused.',
  messages: {
    typeSecret: 'Type the operator secret.',
    wrongSecret: 'The operator secret is wrong.',
    malformedRegistration: 'Malformed registration.',
    registrationExpired: 'The registration expired; start again.',
    passkeyNotVerified: 'The passkey could not be verified.',
    passkeyRegistered: 'Passkey registered. Approvals can now be made with it.',
    noPasskeyRegistered: 'No passkey is registered; register one or use the operator secret.',
    malformedPasskeyAnswer: 'Malformed passkey answer.',
    passkeyPromptExpired: 'The passkey prompt expired; try again.',
    passkeyUnknown: 'That passkey is not registered on this server.',
    counterBackwards: 'The passkey’s signature counter went backwards; it may have been cloned.',
    noLongerPending: 'This approval is no longer pending (decided or expired).',
    approved: 'Approved. The agent can now carry out exactly this action, once.',
    declined: 'Declined. Nothing will be sent to QFPay for this action.',
    noSuchApproval: 'No such approval on this server.',
    tooManyFailures: 'Too many failed attempts; wait a few minutes.',
    foreignOrigin: 'Requests must come from the approval page itself.',
    notJson: 'The request body is not JSON.',
    pageFailed: 'The approval page failed; nothing was approved.',
    notFound: 'Not found.',
  },
  openAs: (address) => `Open this page as ${address}`,
};

const TRADITIONAL: PageWords = {
  registerTitle: '登記操作員通行密鑰',
  registerIntro:
    '只有這部 qfpay-mcp 伺服器的操作員可以登記通行密鑰。請輸入操作員密碼（伺服器環境變數 QFPAY_OPERATOR_SECRET），然後在裝置提示時建立通行密鑰。代理程式永遠看不到這個頁面，也看不到密碼。',
  operatorSecret: '操作員密碼',
  registerButton: '登記通行密鑰',
  approveTitle: '批准一項 QFPay 操作',
  approvingLets: (expiresAt) =>
    `批准後，代理程式可在 ${expiresAt} 之前執行這項操作一次，僅限這項操作。金額、訂單或商戶有任何不同，都需要重新批准。`,
  approveWithPasskey: '用我的通行密鑰批准',
  noPasskey: ['尚未登記任何通行密鑰（', '立即登記', '）；也可以改用操作員密碼。'],
  orOperatorSecret: '或輸入操作員密碼',
  approveWithSecret: '用密碼批准',
  decline: '拒絕',
  nothingLeft: '這項批准{state}，這裏已無須再作決定。',
  states: {
    pending: '仍待決定',
    approved: '已批准',
    declined: '已拒絕',
    redeemed: '已使用',
    expired: '已過期',
  },
  notDone: '未完成：',
  unexpectedAnswer: '回應異常。',
  refused: '已被拒絕。',
  messages: {
    typeSecret: '請輸入操作員密碼。',
    wrongSecret: '操作員密碼不正確。',
    malformedRegistration: '登記資料格式不正確。',
    registrationExpired: '登記已逾時，請重新開始。',
    passkeyNotVerified: '無法驗證這個通行密鑰。',
    passkeyRegistered: '通行密鑰已登記，現在可以用它批准操作。',
    noPasskeyRegistered: '尚未登記任何通行密鑰；請先登記，或改用操作員密碼。',
    malformedPasskeyAnswer: '通行密鑰的回應格式不正確。',
    passkeyPromptExpired: '通行密鑰提示已逾時，請再試一次。',
    passkeyUnknown: '這部伺服器沒有登記這個通行密鑰。',
    counterBackwards: '這個通行密鑰的簽名計數倒退了，它可能已被複製。',
    noLongerPending: '這項批准已不再待決（已作決定或已過期）。',
    approved: '已批准。代理程式現在可以執行這項操作一次，僅限這項操作。',
    declined: '已拒絕。這項操作不會向 QFPay 發出任何請求。',
    noSuchApproval: '這部伺服器沒有這項批准。',
    tooManyFailures: '失敗次數太多，請等幾分鐘再試。',
    foreignOrigin: '請求必須來自批准頁面本身。',
    notJson: '請求內容不是 JSON。',
    pageFailed: '批准頁面出錯，沒有批准任何操作。',
    notFound: '找不到這個頁面。',
  },
  openAs: (address) => `請用這個地址開啟此頁面：${address}`,
};

const SIMPLIFIED: PageWords = {
  registerTitle: '注册操作员通行密钥',
  registerIntro:
    '只有这台 qfpay-mcp 服务器的操作员可以注册通行密钥。请输入操作员密钥（服务器环境变量 QFPAY_OPERATOR_SECRET），然后在设备提示时创建通行密钥。代理永远看不到这个页面，也看不到密钥。',
  operatorSecret: '操作员密钥',
  registerButton: '注册通行密钥',
  approveTitle: '批准一项 QFPay 操作',
  approvingLets: (expiresAt) =>
    `批准后，代理可在 ${expiresAt} 之前执行这项操作一次，仅限这项操作。金额、订单或商户有任何不同，都需要重新批准。`,
  approveWithPasskey: '用我的通行密钥批准',
  noPasskey: ['尚未注册任何通行密钥（', '立即注册', '）；也可以改用操作员密钥。'],
  orOperatorSecret: '或输入操作员密钥',
  approveWithSecret: '用密钥批准',
  decline: '拒绝',
  nothingLeft: '这项批准{state}，这里已无须再作决定。',
  states: {
    pending: '仍待决定',
    approved: '已批准',
    declined: '已拒绝',
    redeemed: '已使用',
    expired: '已过期',
  },
  notDone: '未完成：',
  unexpectedAnswer: '响应异常。',
  refused: '已被拒绝。',
  messages: {
    typeSecret: '请输入操作员密钥。',
    wrongSecret: '操作员密钥不正确。',
    malformedRegistration: '注册数据格式不正确。',
    registrationExpired: '注册已超时，请重新开始。',
    passkeyNotVerified: '无法验证这个通行密钥。',
    passkeyRegistered: '通行密钥已注册，现在可以用它批准操作。',
    noPasskeyRegistered: '尚未注册任何通行密钥；请先注册，或改用操作员密钥。',
    malformedPasskeyAnswer: '通行密钥的响应格式不正确。',
    passkeyPromptExpired: '通行密钥提示已超时，请再试一次。',
    passkeyUnknown: '这台服务器没有注册这个通行密钥。',
    counterBackwards: '这个通行密钥的签名计数倒退了，它可能已被复制。',
    noLongerPending: '这项批准已不再待决（已作决定或已过期）。',
    approved: '已批准。代理现在可以执行这项操作一次，仅限这项操作。',
    declined: '已拒绝。这项操作不会向 QFPay 发出任何请求。',
    noSuchApproval: '这台服务器没有这项批准。',
    tooManyFailures: '失败次数太多，请等几分钟再试。',
    foreignOrigin: '请求必须来自批准页面本身。',
    notJson: '请求内容不是 JSON。',
    pageFailed: '批准页面出错，没有批准任何操作。',
    notFound: '找不到这个页面。',
  },
  openAs: (address) => `请用这个地址打开此页面：${address}`,
};

export const PAGE_WORDS: Readonly<Record<Language, PageWords>> = {
  en: ENGLISH,
  'zh-HK': TRADITIONAL,
  'zh-CN': SIMPLIFIED,
};

/**
 * The first language of the browser's Accept-Language (by its q-values) that the page speaks;
 * otherwise the configured one (QFPAY_LANG), otherwise English.
 */
export function pageLanguageOf(
  headers: { readonly 'accept-language'?: string | undefined },
  configured: Language | undefined,
): Language {
  const accepted = headers['accept-language'];
  if (accepted) {
    for (const tag of new Negotiator({ headers: { 'accept-language': accepted } }).languages()) {
      const language = languageOfLocale(tag);
      if (language) return language;
    }
  }
  return configured ?? DEFAULT_LANGUAGE;
}
