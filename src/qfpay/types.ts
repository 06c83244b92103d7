/**
 * The contract between the QFPay client, the outcome normaliser and everything built on them.
 * Field names follow QFPay's wire names so that agents, docs and code speak one language.
 * Amounts are integers in the currency's smallest unit everywhere.
 */

/** The normalised state of one transaction, derived in one place (outcome.ts). */
export type NormalisedStatus =
  | 'PAID'
  | 'AWAITING_CUSTOMER'
  | 'PROCESSING'
  | 'FAILED'
  | 'CANCELLED'
  | 'REFUNDED'
  | 'PARTIALLY_REFUNDED'
  | 'EXPIRED'
  | 'UNKNOWN';

export const NORMALISED_STATUSES: readonly NormalisedStatus[] = [
  'PAID',
  'AWAITING_CUSTOMER',
  'PROCESSING',
  'FAILED',
  'CANCELLED',
  'REFUNDED',
  'PARTIALLY_REFUNDED',
  'EXPIRED',
  'UNKNOWN',
];

/** Statuses after which polling can stop. */
export const FINAL_STATUSES: ReadonlySet<NormalisedStatus> = new Set([
  'PAID',
  'FAILED',
  'CANCELLED',
  'REFUNDED',
  'PARTIALLY_REFUNDED',
  'EXPIRED',
]);

export interface Credentials {
  readonly appcode: string;
  readonly key: string;
  /** Only when QFPay assigned one; then it must be sent on every call, otherwise never. */
  readonly mchid?: string;
}

/** POST /trade/v1/payment. */
export interface PaymentRequest {
  pay_type: string;
  txamt: number;
  txcurrcd: string;
  out_trade_no: string;
  /** Merchant request time, YYYY-MM-DD hh:mm:ss; generated (UTC+8) when absent. */
  txdtm?: string;
  auth_code?: string;
  /** QR lifetime in minutes (5–120) for MPM/online types. */
  expired_time?: number;
  goods_name?: string;
  goods_info?: string;
  notify_url?: string;
  return_url?: string;
  limit_pay?: string;
  pay_tag?: string;
  rmb_tag?: string;
  sub_openid?: string;
  openid?: string;
  /** Sent as a JSON string inside one form field; objects are serialised once, here. */
  extend_info?: string | Record<string, unknown>;
  udid?: string;
}

export interface PaymentResponse {
  respcd: string;
  resperr: string;
  respmsg: string;
  syssn?: string;
  out_trade_no: string;
  pay_type?: string;
  txamt?: number;
  txcurrcd?: string;
  txdtm?: string;
  sysdtm?: string;
  paydtm?: string;
  /** Only in the `data{}` answer shape of the newest docs (SUCCESS, FAILED, PENDING); see wire.ts. */
  txstatus?: string;
  qrcode?: string;
  pay_url?: string;
  pay_params?: Record<string, unknown> | string;
  cardcd?: string;
  chnlsn?: string;
  chnlsn2?: string;
  /** Redirect URL for the pay types QFPay marks `*`. */
  web_url?: string;
  udid?: string;
}

/** POST /trade/v1/query. Lists are sent comma-separated. */
export interface QueryRequest {
  syssn?: readonly string[];
  out_trade_no?: readonly string[];
  pay_type?: readonly string[];
  respcd?: string;
  start_time?: string;
  end_time?: string;
  page?: number;
  page_size?: number;
}

/** One `data[]` row of a query answer. */
export interface TransactionRecord {
  syssn: string;
  out_trade_no: string;
  pay_type: string;
  /** `payment` or `refund` (older docs also `close`). */
  order_type: string;
  txamt: number;
  txcurrcd: string;
  txdtm?: string;
  sysdtm?: string;
  paydtm?: string;
  /** Per-transaction status code: 0000 paid, 1143/1145 pending, anything else failed. */
  respcd: string;
  errmsg: string;
  /** 0 none, 1 CPM reversed/refunded, 2 MPM closed, 3 refunded, 4 pre-auth finished, 5 partially refunded. */
  cancel: string;
  /** On refund rows: the original payment's syssn. */
  origssn?: string;
  goods_name?: string;
  cardcd?: string;
  chnlsn?: string;
}

export interface QueryResponse {
  respcd: string;
  resperr: string;
  respmsg: string;
  page: number;
  page_size: number;
  data: TransactionRecord[];
}

/** POST /trade/v1/refund. */
export interface RefundRequest {
  /** The original payment's syssn. */
  syssn: string;
  /** A new, unique reference for this refund. */
  out_trade_no: string;
  txamt: number;
  txdtm?: string;
  udid?: string;
}

/** POST /trade/v1/authtrade (capture of a pre-authorisation). */
export interface CaptureRequest {
  /** The authorisation's syssn. */
  syssn: string;
  /** A new, unique reference for this capture. */
  out_trade_no: string;
  txamt: number;
  txcurrcd?: string;
  txdtm?: string;
  udid?: string;
}

/** POST /trade/v1/unfreeze (release of what a pre-authorisation has not captured). */
export interface ReleaseRequest {
  /** The authorisation's syssn. */
  syssn: string;
  /** The authorisation's own out_trade_no. */
  out_trade_no: string;
  /** The uncaptured remainder being released. */
  txamt: number;
  txdtm?: string;
  udid?: string;
}

/** POST /trade/v1/close and /trade/v1/reversal. */
export interface CancelRequest {
  syssn?: string;
  out_trade_no?: string;
  txamt: number;
  txdtm?: string;
  udid?: string;
}

/** Answer of refund, close and reversal: a new transaction pointing at the original. */
export interface ModificationResponse {
  respcd: string;
  resperr: string;
  respmsg: string;
  syssn?: string;
  orig_syssn?: string;
  out_trade_no?: string;
  txamt?: number;
  txcurrcd?: string;
  txdtm?: string;
  sysdtm?: string;
}

/** A QFPay async notification body (all values strings on the wire). */
export interface NotificationBody {
  status: string;
  notify_type: string;
  syssn: string;
  out_trade_no: string;
  pay_type: string;
  txamt: number;
  txcurrcd: string;
  respcd: string;
  cancel: string;
  txdtm?: string;
  sysdtm?: string;
  paydtm?: string;
  mchid?: string;
  goods_name?: string;
  [extra: string]: unknown;
}

/** One merchant rate-limit window: at most `count` requests in any `durationMs`. */
export interface RateWindow {
  readonly count: number;
  readonly durationMs: number;
}

/** How an endpoint is called: every trade endpoint is a signed POST; QFPay's `tool` endpoints are GETs. */
export type HttpMethod = 'GET' | 'POST';

/**
 * One QFPay endpoint as the client calls it. `sentOnce`: an answer that cannot be trusted is never
 * followed by a second attempt, because the first may have taken effect (money moved, a single-use
 * code consumed); only HTTP 429 is re-sent.
 */
export interface EndpointDescriptor {
  readonly path: string;
  readonly method: HttpMethod;
  readonly sentOnce: boolean;
}

/** GET /tool/v1/get_weixin_openid: the code from the OAuth redirect; single-use. */
export interface WechatOpenidRequest {
  code: string;
}

export interface WechatOpenidResponse {
  respcd: string;
  resperr: string;
  respmsg: string;
  openid?: string;
}

/** POST /trade/v1/add_note (merchants without mchid only); `code` (the app code) is added by the client. */
export interface AddNoteRequest {
  syssn: string;
  /** At most 200 characters. */
  note: string;
}

export interface AddNoteResponse {
  respcd: string;
  resperr: string;
  respmsg: string;
  syssn?: string;
}
