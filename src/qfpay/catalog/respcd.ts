import type { Language } from '../language.js';
import { findPayType } from './pay-types.js';
import { RESPCD_CONTEXT_WORDS as CONTEXT, RESPCD_WORDS, type Words } from './words.js';
import type {
  OutcomeClass,
  PayMode,
  RespcdContext,
  RespcdEndpoint,
  RespcdExplanation,
  ResponseCodeEntry,
} from './types.js';

export type { RespcdContext, RespcdEndpoint, RespcdExplanation } from './types.js';

/** The places a respcd can be read, for tool input enums. */
export const RESPCD_ENDPOINTS = [
  'payment',
  'query',
  'query_row',
  'refund',
  'close',
  'reversal',
  'notification',
] as const satisfies readonly RespcdEndpoint[];

// Phrases shared by many entries, so that the advice for one situation is worded once.
const QUERY_NEVER_RESEND =
  'Do not re-send it and do not create a new out_trade_no: wait_for_payment (or query_transaction) on its syssn, else its out_trade_no, until final.';
const QUERY_FIRST_THEN_RETRY =
  'For a payment, query_transaction by out_trade_no first: nothing found → re-send the same request with the same out_trade_no after a pause; failed → a new payment with a new out_trade_no; paid or pending → do not pay again. A refund, query or cancel: re-send as is (same out_trade_no) after a pause.';
const DUPLICATE_ORDER =
  'The order already exists: call query_transaction by this out_trade_no and continue with the original transaction. Do not create a new order number to get around this, or the customer may be charged twice.';
const CONTACT_SUPPORT_NO_RETRY =
  'Retrying will not help: contact QFPay support (technical.support@qfpay.com) to fix the merchant set-up, and do not take payments with these credentials meanwhile.';
const REFRESH_PAYMENT_CODE =
  'The payment failed and nothing was charged: ask the customer to refresh the payment code in their wallet and start a new payment with the new auth_code and a new out_trade_no.';
const CHECK_IDS =
  'Check the syssn / out_trade_no, the environment (test vs prod) and the mchid, then call query_transaction to see the real state.';

/** Codes of QFPay's current status-code table (D `02-paycode.md`, M/L `status-codes`). */
const CURRENT_CODES: readonly ResponseCodeEntry[] = [
  {
    code: '0000',
    meaning:
      'Success; what succeeded depends on the endpoint (for QR and online payments only the order was created).',
    outcome: 'success',
    likelyCause: 'QFPay accepted the request.',
    nextAction:
      'CPM (auth_code): the money is taken. QR, web, in-app, JSAPI, mini-program: only the order exists; show qrcode/pay_url/pay_params, then wait_for_payment. A query: read each data[].respcd. Pass endpoint for the exact meaning.',
  },
  {
    code: '1100',
    meaning: 'QFPay is under maintenance.',
    outcome: 'retryable',
    likelyCause: 'A QFPay maintenance window or a short outage.',
    nextAction: `Wait a few minutes. ${QUERY_FIRST_THEN_RETRY}`,
  },
  {
    code: '1101',
    meaning: 'The reversal could not be carried out.',
    outcome: 'failed',
    likelyCause: 'The transaction had already completed, or the wallet refused to reverse it at this point.',
    nextAction:
      'Call query_transaction on the original payment. If it is paid, refund it instead; if it is still pending, call cancel_payment again a little later.',
  },
  {
    code: '1102',
    meaning: 'Duplicate request: this order was already submitted.',
    outcome: 'failed',
    likelyCause:
      'The out_trade_no was used before (a retry of a request QFPay had already received, or a reused reference).',
    nextAction: DUPLICATE_ORDER,
  },
  {
    code: '1103',
    meaning: 'The request is malformed.',
    outcome: 'failed',
    likelyCause:
      'The body is not valid form encoding, or a field has the wrong format (txdtm must be "YYYY-MM-DD hh:mm:ss").',
    nextAction: 'Nothing was processed. Fix the request format and send it again.',
  },
  {
    code: '1104',
    meaning: 'A request parameter is missing or invalid.',
    outcome: 'failed',
    likelyCause:
      'A required field is missing or wrong for this pay_type (auth_code for CPM, sub_openid for JSAPI, txamt not an integer), the pay_type or currency is not enabled for these credentials, or mchid was sent although none was assigned (or left out although one was).',
    nextAction:
      'Nothing was processed. Check the fields this pay_type needs, the currency and the mchid setting, correct them and send again.',
  },
  {
    code: '1105',
    meaning: 'The device (app code) is not activated.',
    outcome: 'failed',
    likelyCause: 'QFPay has not yet activated the credentials behind this app code.',
    nextAction: `Nothing was processed. ${CONTACT_SUPPORT_NO_RETRY}`,
  },
  {
    code: '1106',
    meaning: 'The device (app code) is invalid.',
    outcome: 'failed',
    likelyCause:
      'The app code is not known in this environment, typically test credentials used against production or the other way round.',
    nextAction:
      'Nothing was processed. Check that QFPAY_APPCODE belongs to the environment (base URL) in use; if it does, contact QFPay support.',
  },
  {
    code: '1107',
    meaning: 'The device (app code) is not allowed to do this.',
    outcome: 'failed',
    likelyCause: 'The credentials are not permitted for this operation, pay type or merchant.',
    nextAction: `Nothing was processed. ${CONTACT_SUPPORT_NO_RETRY}`,
  },
  {
    code: '1108',
    meaning: 'Signature error: X-QF-SIGN does not match the request.',
    outcome: 'failed',
    likelyCause:
      'Wrong client key, wrong X-QF-SIGNTYPE, fields not sorted, empty fields included in the signed string, or the body changed (encoding) after signing.',
    nextAction:
      'Nothing was processed. Run diagnose_signature with the same parameters, fix the key or the signing, then send the request again.',
  },
  {
    code: '1125',
    meaning: 'The transaction has already been refunded.',
    outcome: 'failed',
    likelyCause: 'A full refund (or refunds adding up to the full amount) already exists for this payment.',
    nextAction: 'Do not refund again. Call query_transaction on the original payment to see its refund rows.',
  },
  {
    code: '1136',
    meaning: 'The transaction does not exist or cannot be operated on.',
    outcome: 'failed',
    likelyCause:
      'Wrong syssn or out_trade_no, a transaction of another merchant or environment, or a state that does not allow this operation.',
    nextAction: CHECK_IDS,
  },
  {
    code: '1142',
    meaning: 'The order is already closed.',
    outcome: 'failed',
    likelyCause: 'The order was closed or cancelled earlier and can no longer be paid.',
    nextAction:
      'Nothing more can happen on this order. If the customer still wants to pay, create a new payment with a new out_trade_no.',
  },
  {
    code: '1143',
    meaning: 'Not paid yet: the customer has not paid or is still entering the wallet password.',
    outcome: 'pending',
    likelyCause:
      'CPM: the wallet asked the customer for a password or confirmation. QR/online: the customer has not paid yet.',
    nextAction: `${QUERY_NEVER_RESEND} CPM still pending after ~2 minutes: cancel_payment, then start again.`,
  },
  {
    code: '1145',
    meaning: 'Processing, please wait.',
    outcome: 'pending',
    likelyCause: 'QFPay or the wallet has not finished processing the transaction.',
    nextAction: QUERY_NEVER_RESEND,
  },
  {
    code: '1147',
    meaning: 'WeChat Pay reported a transaction error.',
    outcome: 'failed',
    likelyCause: 'WeChat Pay refused or failed the transaction (wallet, risk or account problem).',
    nextAction:
      'Call query_transaction to confirm the final state, then ask the customer to try again or use another payment method (new out_trade_no).',
  },
  {
    code: '1150',
    meaning: 'Cancel is not supported: the merchant is settled T0 (same day).',
    outcome: 'failed',
    likelyCause: 'Merchants with same-day (T0) settlement cannot cancel transactions.',
    nextAction:
      'Do not cancel. If the payment turns out paid, refund it; if it is unpaid, let it expire. Check with query_transaction.',
  },
  {
    code: '1155',
    meaning: 'The refund request was refused.',
    outcome: 'failed',
    likelyCause:
      "QFPay or the wallet refused the refund: the channel's refund period has passed, a risk rule, or the account set-up.",
    nextAction:
      'Do not retry automatically. Call query_transaction to check the payment, then contact QFPay support if the refund is still needed.',
  },
  {
    code: '1181',
    meaning: 'The order has expired.',
    outcome: 'failed',
    likelyCause: 'The customer did not pay within expired_time (default 30 minutes).',
    nextAction:
      'Nothing was charged. If the customer still wants to pay, create a new payment with a new out_trade_no.',
  },
  {
    code: '1201',
    meaning: "The payer's balance is insufficient.",
    outcome: 'failed',
    likelyCause: "The customer's wallet or card does not have enough funds.",
    nextAction:
      'Nothing was charged. Ask the customer to top up or use another payment method, then start a new payment (new out_trade_no; for CPM a fresh auth_code).',
  },
  {
    code: '1202',
    meaning: 'The payment code (auth_code) is wrong or expired.',
    outcome: 'failed',
    likelyCause:
      'The scanned code was mistyped, already used, or older than its validity (codes are single-use and short-lived).',
    nextAction: REFRESH_PAYMENT_CODE,
  },
  {
    code: '1203',
    meaning: 'Merchant account error.',
    outcome: 'failed',
    likelyCause: 'The merchant account behind these credentials is not configured for this payment.',
    nextAction: CONTACT_SUPPORT_NO_RETRY,
  },
  {
    code: '1204',
    meaning: 'Bank error.',
    outcome: 'failed',
    likelyCause: "The customer's bank or the wallet's funding source failed the payment.",
    nextAction:
      'Call query_transaction to confirm it failed, then ask the customer to check their wallet or use another payment method (new out_trade_no).',
  },
  {
    code: '1205',
    meaning: 'The transaction failed; try again later.',
    outcome: 'retryable',
    likelyCause: 'A transient wallet or bank failure; for cards, an issuer decline (reason in resperr).',
    nextAction: `${QUERY_FIRST_THEN_RETRY} A declined card will not pass on retry: ask for another.`,
  },
  {
    code: '1212',
    meaning: 'The customer must use the UnionPay overseas payment code.',
    outcome: 'failed',
    likelyCause: 'The customer showed a mainland-China UnionPay QuickPass code, which is not accepted here.',
    nextAction:
      'Nothing was charged. Ask the customer to switch UnionPay QuickPass to the overseas (international) code and start a new payment.',
  },
  {
    code: '1241',
    meaning: 'The store does not exist or is in a wrong state.',
    outcome: 'failed',
    likelyCause: 'The shop (merchant) record at QFPay is missing, not yet approved or suspended.',
    nextAction: CONTACT_SUPPORT_NO_RETRY,
  },
  {
    code: '1242',
    meaning: 'The store is not configured correctly.',
    outcome: 'failed',
    likelyCause: 'The shop set-up at QFPay is incomplete for this payment.',
    nextAction: CONTACT_SUPPORT_NO_RETRY,
  },
  {
    code: '1243',
    meaning: 'The store has been disabled.',
    outcome: 'failed',
    likelyCause: 'QFPay or the owner disabled the shop.',
    nextAction: `Do not take payments. The shop owner must confirm the status with QFPay. ${CONTACT_SUPPORT_NO_RETRY}`,
  },
  {
    code: '1250',
    meaning: 'The transaction is forbidden.',
    outcome: 'failed',
    likelyCause: 'A QFPay rule blocks this transaction (merchant category, pay type, amount or risk).',
    nextAction: 'Do not retry. Contact QFPay customer service for the reason.',
  },
  {
    code: '1251',
    meaning: 'The store is misconfigured and QFPay is fixing it.',
    outcome: 'failed',
    likelyCause: 'A shop configuration problem on QFPay’s side.',
    nextAction:
      'Do not take payments with these credentials for now; try again later and contact QFPay support if it persists.',
  },
  {
    code: '1252',
    meaning: 'System error while creating the order.',
    outcome: 'retryable',
    likelyCause: 'An internal QFPay error; the order may or may not have been created.',
    nextAction: QUERY_FIRST_THEN_RETRY,
  },
  {
    code: '1254',
    meaning: 'QFPay had a system problem and is resolving it.',
    outcome: 'retryable',
    likelyCause: 'An internal QFPay error.',
    nextAction: QUERY_FIRST_THEN_RETRY,
  },
  {
    code: '1260',
    meaning: 'The order has already been paid.',
    outcome: 'failed',
    likelyCause: 'This out_trade_no was paid already; the request would act on a finished payment.',
    nextAction:
      'Never take the payment again. Call query_transaction to get the result. To give the money back, refund it (a paid order cannot be cancelled).',
  },
  {
    code: '1261',
    meaning: 'The order has not been paid.',
    outcome: 'failed',
    likelyCause: 'A refund or similar operation on an order the customer never paid.',
    nextAction:
      'Call query_transaction to check the state. An unpaid order needs no refund: cancel_payment it or let it expire.',
  },
  {
    code: '1262',
    meaning: 'The order has been refunded.',
    outcome: 'failed',
    likelyCause: 'The payment was already refunded in full.',
    nextAction: 'Do not refund again. Call query_transaction to see the refund rows.',
  },
  {
    code: '1263',
    meaning: 'The order has been cancelled.',
    outcome: 'failed',
    likelyCause: 'The order was reversed or cancelled earlier.',
    nextAction:
      'Nothing more can happen on this order. Call query_transaction to confirm; start a new payment with a new out_trade_no if still needed.',
  },
  {
    code: '1264',
    meaning: 'The order has been closed.',
    outcome: 'failed',
    likelyCause: 'The order was closed earlier (by /close or by expiry).',
    nextAction:
      'Nothing more can happen on this order. Call query_transaction to confirm; start a new payment with a new out_trade_no if still needed.',
  },
  {
    code: '1265',
    meaning:
      'Refund not allowed: no refunds for transactions between 23:30 and 00:30 Hong Kong time, nor for some promotions.',
    outcome: 'failed',
    likelyCause:
      'Sent in QFPay’s daily cut-off (23:30–00:30 Hong Kong time), or the payment was made in that window (the Chinese table bars those), or a promotion forbids refunds.',
    nextAction:
      'If it is now 23:30–00:30 HKT, send the same refund (same out_trade_no) after 00:30 HKT. If the payment was made between 23:30 and 00:30 or under a promotion, QFPay will not refund it by API: contact QFPay support, or settle another way.',
  },
  {
    code: '1266',
    meaning: 'The amount does not match the order.',
    outcome: 'failed',
    likelyCause:
      'txamt differs from the original order (cancel requests need the original amount, in the smallest currency unit).',
    nextAction:
      'Call query_transaction to read the original txamt and send the request again with that exact amount.',
  },
  {
    code: '1267',
    meaning: 'The order details do not match.',
    outcome: 'failed',
    likelyCause: 'syssn and out_trade_no (or other details) refer to different orders.',
    nextAction: CHECK_IDS,
  },
  {
    code: '1268',
    meaning: 'The order does not exist.',
    outcome: 'failed',
    likelyCause:
      'Wrong syssn or out_trade_no, another merchant (mchid) or environment, or an order QFPay has not recorded (yet).',
    nextAction: `${CHECK_IDS} If the payment request just timed out, query again shortly before concluding it was never created.`,
  },
  {
    code: '1269',
    meaning: "Today's unsettled takings are too low to cover this refund.",
    outcome: 'failed',
    likelyCause:
      'Refunds are paid from the merchant’s unsettled takings of the day, which are smaller than the refund amount.',
    nextAction:
      'Send the refund again (same out_trade_no) once today’s takings cover it, for example later or on another day, or ask QFPay to arrange it.',
  },
  {
    code: '1270',
    meaning: 'This currency does not support partial refunds.',
    outcome: 'failed',
    likelyCause: 'A partial refund was requested in a currency whose channel only refunds in full.',
    nextAction: 'Refund the full remaining amount instead, or settle the difference outside QFPay.',
  },
  {
    code: '1271',
    meaning: 'This transaction does not support partial refunds.',
    outcome: 'failed',
    likelyCause: 'The channel of this payment only refunds in full.',
    nextAction: 'Refund the full remaining amount instead, or settle the difference outside QFPay.',
  },
  {
    code: '1272',
    meaning: 'The refund exceeds the refundable amount.',
    outcome: 'failed',
    likelyCause:
      'txamt is larger than the original payment minus earlier refunds (or not in the smallest currency unit).',
    nextAction:
      'Call query_transaction to add up the earlier refunds and refund at most what remains, in the smallest currency unit.',
  },
  {
    code: '1294',
    meaning: 'The transaction was flagged as risky and blocked by the bank.',
    outcome: 'failed',
    likelyCause: 'The bank or wallet risk control refused this payment.',
    nextAction:
      'Never retry automatically. Tell the customer to contact their bank or wallet, or to use another payment method.',
  },
  {
    code: '1295',
    meaning: 'The network is slow; waiting for a response.',
    outcome: 'pending',
    likelyCause: 'QFPay is still waiting for the wallet or bank; the payment may still complete.',
    nextAction: QUERY_NEVER_RESEND,
  },
  {
    code: '1296',
    meaning: 'The network is slow; try again later or use another method.',
    outcome: 'retryable',
    likelyCause: 'A slow or failed connection between QFPay and the wallet or bank.',
    nextAction: QUERY_FIRST_THEN_RETRY,
  },
  {
    code: '1297',
    meaning: 'The bank system is busy; try again later or use another method.',
    outcome: 'retryable',
    likelyCause:
      'The wallet or bank is overloaded. (Older docs: on /close it means the order cannot be closed.)',
    nextAction: QUERY_FIRST_THEN_RETRY,
  },
  {
    code: '1298',
    meaning: 'The network is slow; the customer may already have paid and must not pay again.',
    outcome: 'pending',
    likelyCause: 'The wallet has not confirmed yet; the money may already be taken.',
    nextAction: `${QUERY_NEVER_RESEND} Tell the customer not to pay again.`,
  },
  {
    code: '2005',
    meaning: "The customer's payment code is wrong or expired.",
    outcome: 'failed',
    likelyCause: 'The scanned auth_code was mistyped, already used or expired.',
    nextAction: REFRESH_PAYMENT_CODE,
  },
  {
    code: '2011',
    meaning: 'Duplicate transaction serial number (out_trade_no).',
    outcome: 'failed',
    likelyCause: 'This out_trade_no was already used for a payment or refund of this merchant.',
    nextAction: DUPLICATE_ORDER,
  },
];

function legacy(
  code: string,
  meaning: string,
  outcome: OutcomeClass,
  likelyCause: string,
  nextAction: string,
): ResponseCodeEntry {
  return { code, meaning, outcome, likelyCause, nextAction, legacy: true };
}

const FIX_AND_RESEND = 'Nothing was processed. Correct the request and send it again.';
const PAYER_REFUSED =
  'Nothing was charged. Ask the customer to use another payment method and start a new payment (new out_trade_no).';

/**
 * Codes found only in old QFPay docs (G `appendix.md` 2016–19, J). They may still show up from
 * older channels. Codes whose old meaning is unclear (1129 "uploaded document") are left out.
 */
const LEGACY_CODES: readonly ResponseCodeEntry[] = [
  legacy(
    '1109',
    'Encryption or decryption error.',
    'failed',
    'A channel-side crypto failure.',
    FIX_AND_RESEND,
  ),
  legacy(
    '1110',
    'Serial number error.',
    'failed',
    'The request serial number was rejected.',
    'Call query_transaction by out_trade_no, then correct the reference.',
  ),
  legacy(
    '1111',
    'External service unavailable.',
    'retryable',
    'A wallet or bank service was down. (In the Payment Element browser SDK, 1111 is a cancelled Apple Pay sheet: another code space.)',
    QUERY_FIRST_THEN_RETRY,
  ),
  legacy(
    '1112',
    'Internal service unavailable.',
    'retryable',
    'A QFPay service was down.',
    QUERY_FIRST_THEN_RETRY,
  ),
  legacy('1113', 'User does not exist.', 'failed', 'The merchant or payer account is unknown.', CHECK_IDS),
  legacy('1114', 'User is blocked.', 'failed', 'The account is blocked.', CONTACT_SUPPORT_NO_RETRY),
  legacy(
    '1115',
    'User access is limited.',
    'failed',
    'The account may not do this.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy('1116', 'User password error.', 'failed', 'Wrong password at the channel.', PAYER_REFUSED),
  legacy('1117', 'User is not online.', 'failed', 'The channel session is not active.', PAYER_REFUSED),
  legacy(
    '1118',
    'Risk control forbids the transaction.',
    'failed',
    'A risk rule blocked the payment.',
    'Never retry automatically. Ask the customer to use another payment method.',
  ),
  legacy(
    '1119',
    'Transaction type not allowed.',
    'failed',
    'This operation or pay type is not enabled for the merchant.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '1120',
    'Transaction time not allowed.',
    'failed',
    'The operation is not allowed at this time of day.',
    'Try again outside the restricted hours, or contact QFPay.',
  ),
  legacy(
    '1121',
    'Card type not allowed.',
    'failed',
    'The card type is not accepted for this merchant.',
    PAYER_REFUSED,
  ),
  legacy(
    '1122',
    'Currency not allowed.',
    'failed',
    'txcurrcd is not enabled for these credentials.',
    'Use a currency enabled for the merchant, or ask QFPay to enable it.',
  ),
  legacy(
    '1123',
    'Amount not allowed.',
    'failed',
    'txamt is outside the merchant’s limits (or not in the smallest currency unit).',
    'Check txamt is in the smallest currency unit and within the merchant’s limits.',
  ),
  legacy(
    '1124',
    'Invalid transaction.',
    'failed',
    'The channel rejected the transaction as invalid.',
    CHECK_IDS,
  ),
  legacy(
    '1126',
    'Original transaction details do not match.',
    'failed',
    'The syssn, amount or other details differ from the original transaction.',
    CHECK_IDS,
  ),
  legacy('1127', 'Database error.', 'retryable', 'An internal QFPay error.', QUERY_FIRST_THEN_RETRY),
  legacy('1128', 'File system error.', 'retryable', 'An internal QFPay error.', QUERY_FIRST_THEN_RETRY),
  legacy(
    '1130',
    'Transaction not allowed on this date.',
    'failed',
    'The operation is not allowed for a transaction of that date (e.g. outside the refund period).',
    'Call query_transaction to check the date; contact QFPay if the operation is still needed.',
  ),
  legacy(
    '1131',
    'Channel error.',
    'retryable',
    'The wallet or bank channel returned an error.',
    QUERY_FIRST_THEN_RETRY,
  ),
  legacy(
    '1132',
    'Client version error.',
    'failed',
    'The client version information was rejected.',
    FIX_AND_RESEND,
  ),
  legacy(
    '1133',
    'User channel information error.',
    'failed',
    'The merchant’s channel set-up is wrong.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '1134',
    'The card of the cancel differs from the card of the payment.',
    'failed',
    'A cancel was attempted with a different card than the original payment.',
    'Cancel with the original card, or refund instead.',
  ),
  legacy(
    '1135',
    'User configuration error.',
    'failed',
    'The merchant set-up is wrong.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '1137',
    'Contact information does not exist.',
    'failed',
    'Merchant contact data is missing at QFPay.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '1138',
    'Key update error.',
    'failed',
    'A key exchange with the channel failed.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '1139',
    'Card number or magnetic stripe error.',
    'failed',
    'The card could not be read.',
    PAYER_REFUSED,
  ),
  legacy(
    '1140',
    'Account not yet approved.',
    'failed',
    'The merchant account has not passed review.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '1141',
    'Channel MAC or encryption error.',
    'failed',
    'A channel-side crypto failure.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '1144',
    'Request processing failed (protocol).',
    'failed',
    'The request broke the channel protocol.',
    FIX_AND_RESEND,
  ),
  legacy(
    '1146',
    'Order processing business error.',
    'failed',
    'The channel refused the order for a business reason.',
    'Call query_transaction to confirm the state before starting a new payment.',
  ),
  legacy(
    '1151',
    'Original pre-authorisation details do not match.',
    'failed',
    'The capture or release does not match the pre-authorisation.',
    CHECK_IDS,
  ),
  legacy(
    '1152',
    'The pre-authorisation can no longer be completed.',
    'failed',
    'The capture window of the pre-authorisation has passed.',
    'The hold is released; take a new payment if money is still owed.',
  ),
  legacy(
    '1153',
    'Pre-authorisation amount error.',
    'failed',
    'The capture exceeds the authorised amount.',
    'Capture at most the remaining authorised amount.',
  ),
  legacy('1154', 'Internal error.', 'retryable', 'An internal QFPay error.', QUERY_FIRST_THEN_RETRY),
  legacy(
    '1161',
    'Result unknown; the transaction must be queried.',
    'pending',
    'QFPay did not get a final answer from the channel.',
    QUERY_NEVER_RESEND,
  ),
  legacy(
    '1170',
    'The channel cannot provide service.',
    'retryable',
    'The wallet or bank channel is unavailable.',
    QUERY_FIRST_THEN_RETRY,
  ),
  legacy(
    '1180',
    'Routing was reset and must be reconfigured.',
    'failed',
    'The merchant’s channel routing at QFPay needs reconfiguring.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '2001',
    'Organisation does not exist.',
    'failed',
    'The agent or institution is unknown.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '2002',
    'Merchant binding failed.',
    'failed',
    'The merchant is not bound to the channel.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
  legacy(
    '2003',
    'Signature failure.',
    'failed',
    'The request signature did not verify.',
    'Nothing was processed. Run diagnose_signature with the same parameters, fix the key or the signing, then send again.',
  ),
  legacy(
    '2004',
    "The payer's balance is insufficient.",
    'failed',
    "The customer's wallet does not have enough funds.",
    PAYER_REFUSED,
  ),
  legacy(
    '2006',
    'Invalid QR code.',
    'failed',
    'The scanned code is not a valid payment code.',
    REFRESH_PAYMENT_CODE,
  ),
  legacy(
    '2007',
    'The customer closed the order.',
    'failed',
    'The customer cancelled the payment in the wallet.',
    'Nothing was charged. Start a new payment (new out_trade_no) if the customer wants to pay.',
  ),
  legacy(
    '2008',
    'Parameter error towards the channel.',
    'failed',
    'The channel rejected a parameter.',
    FIX_AND_RESEND,
  ),
  legacy(
    '2009',
    'Connection to the channel failed.',
    'retryable',
    'QFPay could not reach the wallet or bank.',
    QUERY_FIRST_THEN_RETRY,
  ),
  legacy(
    '2010',
    'Unknown error talking to the channel.',
    'retryable',
    'The channel answered in an unexpected way; the payment may or may not have gone through.',
    QUERY_FIRST_THEN_RETRY,
  ),
  legacy(
    '2012',
    'Channel certificate configuration error.',
    'failed',
    'The merchant’s channel certificate is misconfigured.',
    CONTACT_SUPPORT_NO_RETRY,
  ),
];

/** Every response code we can explain: QFPay's current table first, then old-doc codes (`legacy: true`). */
export const RESPONSE_CODES: readonly ResponseCodeEntry[] = [...CURRENT_CODES, ...LEGACY_CODES];

const BY_CODE: ReadonlyMap<string, ResponseCodeEntry> = new Map(RESPONSE_CODES.map((e) => [e.code, e]));

/** Codes whose outcome is unknown yet: query, never re-send, never a new out_trade_no. */
export const PENDING_CODES: ReadonlySet<string> = new Set(
  RESPONSE_CODES.filter((e) => e.outcome === 'pending').map((e) => e.code),
);

/**
 * Normalises what QFPay sent: trims, and left-pads short digit strings because one official
 * sample sends `"respcd": 0000` unquoted, which a JSON parser turns into 0.
 */
export function normaliseRespcd(code: string): string {
  const trimmed = code.trim();
  return /^\d{1,3}$/.test(trimmed) ? trimmed.padStart(4, '0') : trimmed;
}

export function findResponseCode(code: string): ResponseCodeEntry | undefined {
  return BY_CODE.get(normaliseRespcd(code));
}

/** Modes whose payment `0000` only means "order created": the customer pays afterwards. */
const DEFERRED_MODES: ReadonlySet<PayMode> = new Set([
  'MPM',
  'WEB',
  'WAP',
  'APP',
  'JSAPI',
  'MINI',
  'CARD',
  'PREAUTH',
]);

/** An explanation while it is worked out: the meaning in every language, the rest for the model. */
type Explanation = Omit<RespcdExplanation, 'code' | 'known' | 'legacy' | 'meaning'> & {
  readonly meaning: Words;
};

function fromEntry(entry: ResponseCodeEntry): Explanation {
  return {
    // A code without Chinese words keeps its English (test/language catches the gap).
    meaning: {
      en: entry.meaning,
      'zh-HK': entry.meaning,
      'zh-CN': entry.meaning,
      ...RESPCD_WORDS[entry.code],
    },
    outcome: entry.outcome,
    likely_cause: entry.likelyCause,
    next_action: entry.nextAction,
  };
}

function resolveMode(context: RespcdContext): PayMode | undefined {
  if (context.mode) return context.mode;
  return context.payType ? findPayType(context.payType)?.mode : undefined;
}

function explainSuccess(
  base: Explanation,
  endpoint: RespcdEndpoint | undefined,
  mode: PayMode | undefined,
): Explanation {
  switch (endpoint) {
    case 'payment':
      if (mode === 'CPM') {
        return {
          meaning: CONTEXT.cpmPaid,
          outcome: 'success',
          likely_cause: 'The customer’s wallet approved the scanned payment code.',
          next_action:
            'The payment is final. Keep the syssn; to give money back use refund (not cancel_payment).',
          context_note: 'For CPM (auth_code) payments, 0000 from /trade/v1/payment is the final success.',
        };
      }
      if (mode === 'PREAUTH') {
        return {
          meaning: CONTEXT.preauthAccepted,
          outcome: 'pending',
          likely_cause: 'QFPay created the authorisation; it holds money without taking it.',
          next_action:
            'If not PAID yet, wait_for_payment. Once PAID (authorised), capture_preauth takes the amount within the capture window and release_preauth frees the rest.',
          context_note: 'For pre-authorisation pay types, PAID means authorised (held), not captured.',
        };
      }
      if (mode && DEFERRED_MODES.has(mode)) {
        return {
          meaning: CONTEXT.orderCreated,
          outcome: 'pending',
          likely_cause: `For ${mode} payments QFPay answers 0000 as soon as the order and its QR code / link / app parameters exist.`,
          next_action:
            'Show the qrcode, pay_url or pay_params to the customer, then call wait_for_payment (or query_transaction) until data[].respcd is 0000 or the order expires. Do not treat this as paid.',
          context_note: `For ${mode} payments, 0000 outside data[] means "order placed"; only a query row with 0000 (or a verified notification) means paid.`,
        };
      }
      return {
        meaning: CONTEXT.paymentAccepted,
        outcome: 'pending',
        likely_cause: 'The pay mode was not given, so the safe reading is "not confirmed yet".',
        next_action:
          'Call query_transaction by syssn (or wait_for_payment) and treat the payment as paid only when data[].respcd is 0000.',
        context_note: 'Pass mode or payType to explain_respcd to get the exact meaning for this payment.',
      };
    case 'query':
      return {
        meaning: CONTEXT.queryWorked,
        outcome: 'success',
        likely_cause: 'QFPay answered the query.',
        next_action:
          'Read each data[] row: its own respcd (0000 paid/successful, 1143/1145 still pending, anything else failed) together with cancel and order_type.',
        context_note:
          'Top-level 0000 in a query answer only means the query succeeded; inside data[] 0000 means the transaction succeeded.',
      };
    case 'query_row':
      return {
        meaning: CONTEXT.rowSucceeded,
        outcome: 'success',
        likely_cause: 'The customer paid, or the refund went through.',
        next_action:
          'Also read cancel: 1 reversed/refunded (CPM), 2 cancelled/closed, 3 refunded, 4 pre-auth finished, 5 partially refunded. A payment with cancel 0 is paid and kept.',
        context_note: 'Inside a query answer’s data[], 0000 is the transaction’s own final success.',
      };
    case 'refund':
      return {
        meaning: CONTEXT.refundAccepted,
        outcome: 'success',
        likely_cause: 'QFPay accepted the refund; it cannot be undone.',
        next_action:
          'Keep the refund syssn (orig_syssn is the payment). Do not send the refund again; query_transaction shows the updated payment.',
        context_note: 'For /trade/v1/refund, 0000 means the refund was accepted.',
      };
    case 'authtrade':
      return {
        meaning: CONTEXT.captureAccepted,
        outcome: 'success',
        likely_cause: 'QFPay took this part of the pre-authorised amount.',
        next_action:
          'Keep the capture syssn (orig_syssn is the authorisation): refunds name the capture’s syssn. Do not send the capture again.',
        context_note: 'For /trade/v1/authtrade, 0000 means the capture was accepted.',
      };
    case 'unfreeze':
      return {
        meaning: CONTEXT.releaseAccepted,
        outcome: 'success',
        likely_cause: 'QFPay released the hold; no capture is possible afterwards.',
        next_action: 'Nothing more to do on this authorisation; captures made before stay as they are.',
        context_note: 'For /trade/v1/unfreeze, 0000 means the release was accepted.',
      };
    case 'close':
    case 'reversal':
      return {
        meaning: CONTEXT.orderCancelled,
        outcome: 'success',
        likely_cause: `QFPay accepted the ${endpoint}.`,
        next_action:
          'The order cannot be paid any more. Start a new payment with a new out_trade_no if the customer still wants to pay.',
        context_note: `For /trade/v1/${endpoint}, 0000 means the cancellation succeeded.`,
      };
    case 'notification':
      return {
        meaning: CONTEXT.notificationSuccess,
        outcome: 'success',
        likely_cause: 'QFPay reports a success it processed.',
        next_action:
          'Verify X-QF-SIGN before trusting it, check notify_type and cancel, handle it idempotently (it may arrive more than once) and answer HTTP 200 with body SUCCESS.',
        context_note:
          'Notification respcd is always 0000 and says nothing on its own; the signature and notify_type carry the meaning.',
      };
    default:
      return {
        ...base,
        context_note:
          'The generic reading only. Pass endpoint (and mode or payType for payments): a 0000 on a QR/online payment is NOT a payment.',
      };
  }
}

function explainPending(
  base: Explanation,
  endpoint: RespcdEndpoint | undefined,
  mode: PayMode | undefined,
): Explanation {
  switch (endpoint) {
    case 'refund':
      return {
        ...base,
        meaning: affixed(base.meaning, { suffix: CONTEXT.refundInProgressSuffix }),
        next_action:
          'Do not send a new refund. Call query_transaction with the refund’s out_trade_no (or its syssn) until the refund row is final.',
        context_note: 'On /trade/v1/refund this code means the refund is still being processed.',
      };
    case 'authtrade':
    case 'unfreeze':
      return {
        ...base,
        meaning: affixed(base.meaning, {
          suffix:
            endpoint === 'authtrade' ? CONTEXT.captureInProgressSuffix : CONTEXT.releaseInProgressSuffix,
        }),
        next_action:
          'Do not send it again. Call query_transaction on the authorisation (or the capture’s out_trade_no) until it is final.',
        context_note: `On /trade/v1/${endpoint} this code means the request is still being processed.`,
      };
    case 'close':
    case 'reversal':
      return {
        ...base,
        meaning: affixed(base.meaning, { suffix: CONTEXT.cancelInProgressSuffix }),
        next_action:
          'Call query_transaction on the original order until its state is final before doing anything else.',
        context_note: `On /trade/v1/${endpoint} this code means the cancellation is still being processed.`,
      };
    case 'query_row':
      return {
        ...base,
        next_action:
          mode === 'CPM'
            ? 'Keep polling with wait_for_payment. If it is still pending after about two minutes, call cancel_payment; never take the payment again.'
            : 'The customer has not paid yet. Keep waiting with wait_for_payment until it is paid or the order expires (default 30 minutes); never create a second order for the same purchase.',
        context_note: 'Inside a query answer’s data[], this is the transaction’s own state: not final yet.',
      };
    default:
      return base;
  }
}

function explainRetryable(base: Explanation, endpoint: RespcdEndpoint | undefined): Explanation {
  switch (endpoint) {
    case 'payment':
      return {
        ...base,
        next_action:
          'Call query_transaction by out_trade_no first: the payment may exist. Nothing found → re-send the same request, same out_trade_no, after a pause; failed → a new payment with a new out_trade_no; paid or pending → do not pay again.',
        context_note: 'A transient error on a payment: never retry blindly, query first.',
      };
    case 'refund':
      return {
        ...base,
        next_action:
          'After a pause, send the same refund again with the SAME out_trade_no (QFPay rejects a duplicate), or check first with query_transaction.',
        context_note:
          'A transient error on a refund: reusing the refund’s out_trade_no keeps the retry safe.',
      };
    case 'query':
      return {
        ...base,
        next_action: 'Queries change nothing: simply query again after a pause.',
      };
    case 'query_row':
      return {
        ...base,
        meaning: affixed(base.meaning, { prefix: CONTEXT.rowFailedPrefix }),
        outcome: 'failed',
        next_action:
          'This transaction is final and the customer was not charged by it. Start a new payment (new out_trade_no) if the purchase is still wanted.',
        context_note:
          'Inside a query answer’s data[], any respcd other than 0000 and the pending codes is a failed transaction.',
      };
    case 'close':
    case 'reversal':
      return {
        ...base,
        next_action:
          'Call query_transaction on the original order; if it is still unpaid, call cancel_payment again after a pause; if it is paid, refund instead.',
      };
    default:
      return base;
  }
}

/** Context-specific readings of individual codes that the table cannot express. */
function explainSpecial(
  code: string,
  base: Explanation,
  endpoint: RespcdEndpoint | undefined,
): Explanation | undefined {
  if (code === '1297' && (endpoint === 'close' || endpoint === 'reversal')) {
    return {
      ...base,
      meaning: CONTEXT.cannotCancel,
      outcome: 'failed',
      next_action:
        'Call query_transaction. If the order is unpaid let it expire; if it is (or becomes) paid, refund it instead of cancelling.',
      context_note: 'Older QFPay docs say 1297 on /close means "cancel not supported for this order".',
    };
  }
  if (code === '1260' && (endpoint === 'close' || endpoint === 'reversal')) {
    return {
      ...base,
      next_action: 'A paid order cannot be cancelled: use refund to give the money back.',
    };
  }
  if ((code === '1102' || code === '2011') && endpoint === 'refund') {
    return {
      ...base,
      meaning: CONTEXT.duplicateRefund,
      next_action:
        'Call query_transaction with this out_trade_no: if the refund exists, it was already done; do not refund again under a new number.',
    };
  }
  return undefined;
}

function explainUnknown(endpoint: RespcdEndpoint | undefined): Explanation {
  const meaning = CONTEXT.unknownCode;
  switch (endpoint) {
    case 'refund':
    case 'close':
    case 'reversal':
      return {
        meaning,
        outcome: 'failed',
        likely_cause: `An undocumented error; QFPay documents every code other than 0000/1143/1145 on /trade/v1/${endpoint} as a failure.`,
        next_action:
          'Treat the operation as not done. Call query_transaction to confirm the state before trying again (reuse the same out_trade_no for a refund).',
      };
    case 'query':
      return {
        meaning,
        outcome: 'retryable',
        likely_cause: 'The query itself failed for an undocumented reason.',
        next_action: 'Queries change nothing: query again after a pause; contact QFPay if it persists.',
      };
    case 'query_row':
      return {
        meaning,
        outcome: 'failed',
        likely_cause: 'QFPay documents every row respcd other than 0000/1143/1145 as a failed transaction.',
        next_action:
          'Treat the transaction as not successful; contact QFPay with the syssn for the exact reason.',
      };
    case 'notification':
      return {
        meaning,
        outcome: 'pending',
        likely_cause: 'QFPay notifications always carry 0000; anything else is unexpected or forged.',
        next_action:
          'Do not act on this notification. Verify its signature and call query_transaction to learn the real state.',
      };
    default:
      return {
        meaning,
        outcome: 'pending',
        likely_cause: 'An undocumented code; a payment may still have gone through.',
        next_action:
          'Query before deciding: call query_transaction by out_trade_no (or syssn). Do not send the payment again and do not create a new out_trade_no until the query shows it failed.',
      };
  }
}

/** Only the meaning is for people; cause, next action and notes stay English, for the model. */
function inLanguage(explanation: Explanation, language: Language): Omit<RespcdExplanation, 'code' | 'known'> {
  return { ...explanation, meaning: explanation.meaning[language] };
}

function affixed(meaning: Words, affix: { readonly prefix?: Words; readonly suffix?: Words }): Words {
  const around = (language: Language) =>
    `${affix.prefix?.[language] ?? ''}${meaning[language]}${affix.suffix?.[language] ?? ''}`;
  return { en: around('en'), 'zh-HK': around('zh-HK'), 'zh-CN': around('zh-CN') };
}

/**
 * Explains a respcd for an agent. The same code means different things per endpoint: 0000 on a
 * CPM payment is money taken, on an MPM/online payment only an order created, on a query only
 * "the query worked". Unknown codes are never treated as success.
 */
export function explainRespcd(
  code: string,
  context: RespcdContext = {},
  language: Language = 'en',
): RespcdExplanation {
  const normalised = normaliseRespcd(code);
  const entry = BY_CODE.get(normalised);
  const { endpoint } = context;
  if (!entry) return { code: normalised, known: false, ...inLanguage(explainUnknown(endpoint), language) };

  const mode = resolveMode(context);
  const base = fromEntry(entry);
  const explained =
    (normalised === '0000' ? explainSuccess(base, endpoint, mode) : undefined) ??
    explainSpecial(normalised, base, endpoint) ??
    (entry.outcome === 'pending' ? explainPending(base, endpoint, mode) : undefined) ??
    (entry.outcome === 'retryable' ? explainRetryable(base, endpoint) : undefined) ??
    base;
  // A notification with another code is unexpected (or forged): the code's own advice, written
  // for a request this server sent, does not apply to it.
  const notificationWarning: Pick<RespcdExplanation, 'context_note' | 'next_action'> | Record<string, never> =
    endpoint === 'notification' && normalised !== '0000'
      ? {
          context_note: 'QFPay notifications always carry 0000; a different code is unexpected.',
          next_action:
            'Do not act on it: verify its signature and call query_transaction to learn the real state.',
        }
      : {};
  return {
    code: normalised,
    known: true,
    ...inLanguage(explained, language),
    ...notificationWarning,
    ...(entry.legacy ? { legacy: true } : {}),
  };
}
