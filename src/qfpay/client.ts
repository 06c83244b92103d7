import {
  buildCheckoutLink,
  type CheckoutFields,
  type CheckoutLanguage,
  type CheckoutLink,
} from './checkout.js';
import type { Dispatcher } from 'undici';
import type * as z from 'zod';
import { findResponseCode, GOODS_NAME_ADVICE, goodsNameProblem } from './catalog/index.js';
import { DEFAULT_RATE_LIMITS, DEFAULT_TIMEOUT_MS } from './config.js';
import {
  QfpayNotSentError,
  QfpayRateLimitedError,
  QfpayUnknownOutcomeError,
  QfpayUpstreamError,
  QfpayValidationError,
} from './errors.js';
import { getMerchantLimiter } from './limiter.js';
import type { RateLimiter } from './limiter.js';
import { getSharedMerchantLimiter, type SharedLimiterOptions } from './shared-limiter.js';
import { OUT_TRADE_NO_EXAMPLE, outTradeNoProblem } from './out-trade-no.js';
import { isPaymentRow, isPendingCode, isRefundRow } from './outcome.js';
import { checkResponseSignature, signatureHeaders, wireParams } from './signature.js';
import type { Params, SignType } from './signature.js';
import { formatQfpayDateTime, parseQfpayDateTime, qfpayMonthRange, sleep } from './time.js';
import type { QfpayMonthRange } from './time.js';
import type {
  AddNoteRequest,
  AddNoteResponse,
  CancelRequest,
  CaptureRequest,
  Credentials,
  EndpointDescriptor,
  HttpMethod,
  ModificationResponse,
  PaymentRequest,
  PaymentResponse,
  QueryRequest,
  QueryResponse,
  RateWindow,
  RefundRequest,
  ReleaseRequest,
  TransactionRecord,
  WechatOpenidRequest,
  WechatOpenidResponse,
} from './types.js';
import { buildWechatOauthUrl, WECHAT_OPENID_PATH } from './wechat-oauth.js';
import {
  addNoteResponseSchema,
  answerHeadSchema,
  describeIssues,
  modificationResponseSchema,
  paymentResponseSchema,
  queryResponseSchema,
  wechatOpenidResponseSchema,
} from './wire.js';
import { sanitizeUpstreamText } from './text.js';
import { TradeBillError } from './trade-bill.js';

/**
 * The QFPay HTTP client. Every call: sign → wait for the merchant's rate limiter → one undici
 * request under a deadline → verify the answer's signature → parse it with zod → classify.
 *
 * The rule that matters most: for a money-moving call (payment, refund, close, reversal) any
 * answer we cannot trust — transport failure, timeout, dropped connection, 5xx, HTML or malformed
 * body, bad signature — is an UNKNOWN outcome, never a failure and never a reason to re-send. The
 * request may have been processed; the only safe next step is a query by the same out_trade_no.
 * HTTP 429 is the exception: QFPay rejected the request before processing it, so it is re-sent
 * unchanged (same out_trade_no, same signature) after a back-off.
 */

export type QfpayEndpoint =
  | 'payment'
  | 'query'
  | 'refund'
  | 'close'
  | 'reversal'
  | 'authtrade'
  | 'unfreeze'
  | 'add_note'
  | 'wechat_openid'
  | 'trade_bill';

/**
 * Every endpoint the client calls, declared once: path, method and whether a second attempt after
 * an untrustworthy answer is forbidden (money moved, or a single-use WeChat code consumed).
 * `acceptsPending`: a pending code (1143/1145) is an answer to return, not an error.
 * `channelWide`: the answer covers every merchant of the app code, so no mchid is sent.
 */
export const ENDPOINTS: Readonly<
  Record<QfpayEndpoint, EndpointDescriptor & { acceptsPending: boolean; channelWide?: true }>
> = {
  payment: { path: '/trade/v1/payment', method: 'POST', sentOnce: true, acceptsPending: true },
  query: { path: '/trade/v1/query', method: 'POST', sentOnce: false, acceptsPending: false },
  refund: { path: '/trade/v1/refund', method: 'POST', sentOnce: true, acceptsPending: true },
  close: { path: '/trade/v1/close', method: 'POST', sentOnce: true, acceptsPending: true },
  reversal: { path: '/trade/v1/reversal', method: 'POST', sentOnce: true, acceptsPending: true },
  authtrade: { path: '/trade/v1/authtrade', method: 'POST', sentOnce: true, acceptsPending: true },
  unfreeze: { path: '/trade/v1/unfreeze', method: 'POST', sentOnce: true, acceptsPending: true },
  // Notes are overwritten with the same text on a repeat, but a lost answer is still reported, not re-sent.
  add_note: { path: '/trade/v1/add_note', method: 'POST', sentOnce: true, acceptsPending: false },
  wechat_openid: { path: WECHAT_OPENID_PATH, method: 'GET', sentOnce: true, acceptsPending: false },
  // A zip of the day of every merchant of the channel (qfpay-api.md §3.7): mchid "cannot be passed".
  trade_bill: {
    path: '/download/v1/trade_bill',
    method: 'GET',
    sentOnce: false,
    acceptsPending: false,
    channelWide: true,
  },
};

export const ENDPOINT_PATHS: Readonly<Record<QfpayEndpoint, string>> = Object.fromEntries(
  Object.entries(ENDPOINTS).map(([name, endpoint]) => [name, endpoint.path]),
) as Record<QfpayEndpoint, string>;

/** QFPay's add_note remark is at most 200 characters. */
export const MAX_NOTE_LENGTH = 200;
/** No document bounds redirect_uri; this keeps the link well inside what browsers accept. */
const MAX_REDIRECT_URI_LENGTH = 1024;

/** Never form fields of a header-signed request (the signature travels in X-QF-SIGN). */
const SECRET_FIELD_NAMES: ReadonlySet<string> = new Set(['key', 'client_key', 'sign', 'sign_type']);

/** Bigger than any sane answer (a 100-row query page is ~100 KB); anything larger is not QFPay. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
/** A compressed trade bill: a day of a whole channel; its uncompressed size has its own cap (trade-bill.ts). */
const MAX_BILL_BYTES = 16 * 1024 * 1024;
/** Retry-After beyond this is treated as this: the caller's signal is the way to give up sooner. */
const MAX_RETRY_AFTER_MS = 60_000;
const DEFAULT_WRITE_QUEUE_TIMEOUT_MS = 10_000;

export interface RetryOptions {
  /** Attempts in total when QFPay keeps answering HTTP 429 (default 8). */
  maxAttempts429?: number;
  /** First back-off delay for 429 (default 250 ms), doubling per attempt. */
  baseDelayMs?: number;
  /** Cap on one 429 back-off delay (default 8000 ms). */
  maxDelayMs?: number;
  /** Attempts in total for a query whose answer could not be trusted (default 3). */
  readAttempts?: number;
  /** First back-off for query retries (default 500 ms), doubling, capped at readMaxDelayMs. */
  readBaseDelayMs?: number;
  /** Cap on one query back-off delay (default 5000 ms). */
  readMaxDelayMs?: number;
}

export type ClientEventOutcome =
  | 'ok'
  | 'pending'
  | 'upstream_error'
  | 'rate_limited'
  | 'transport_error'
  | 'timeout'
  | 'http_error'
  | 'bad_answer'
  | 'bad_signature';

/** One HTTP exchange, for logs and metrics. Never carries the key, the signature or a body. */
export interface ClientEvent {
  endpoint: QfpayEndpoint;
  attempt: number;
  outcome: ClientEventOutcome;
  durationMs: number;
  httpStatus?: number;
  respcd?: string;
  out_trade_no?: string;
  /** Set when the client will try again, after this many milliseconds. */
  retryInMs?: number;
  /** Short reason for a non-ok outcome (no upstream text). */
  reason?: string;
}

export interface QfpayClientOptions {
  baseUrl: string;
  credentials: Credentials;
  signType?: SignType;
  /** Deadline for one HTTP exchange, from dispatch to the last byte (default 15 s). */
  timeoutMs?: number;
  rateLimits?: RateWindow[];
  verifyResponseSignatures?: boolean;
  retry?: RetryOptions;
  onEvent?: (event: ClientEvent) => void;
  /** Bring your own dispatcher (tests, proxies); otherwise the client owns an undici Pool. */
  dispatcher?: Dispatcher;
  /** Random source for back-off jitter, in [0, 1) (tests). */
  random?: () => number;
  /**
   * The clock that decides which months a lookup by out_trade_no searches (default: the system
   * clock). Against a simulator whose clock was set, pass the simulator's clock.
   */
  now?: () => Date;
  /**
   * How long a money-moving request may wait for the merchant's rate budget before it is dropped
   * unsent (QfpayNotSentError, default 10 s): a caller is not left waiting past its own timeout
   * for a charge it can no longer see.
   */
  writeQueueTimeoutMs?: number;
  /** Draw from one budget per merchant shared through Redis (QFPAY_REDIS_URL) instead of per process. */
  sharedLimiter?: SharedLimiterOptions;
}

export interface CallOptions {
  /**
   * Cancels the call while it waits (rate limiter, back-off, query retries): it then rejects with
   * QfpayNotSentError. A money-moving request that has already been sent is NOT aborted by it:
   * cutting the socket would not un-send the request, only lose the answer. Its deadline is timeoutMs.
   */
  signal?: AbortSignal;
}

export interface TransactionRef {
  syssn?: string;
  out_trade_no?: string;
  /**
   * When the order was made, if known (its txdtm, or the time the ledger recorded): a QFPay
   * `YYYY-MM-DD hh:mm:ss` (UTC+8) or a Date. Lookups by out_trade_no search that calendar month,
   * and the neighbouring one near a month boundary; without it, this month and the last.
   */
  around?: string | Date;
}

/** Bounds of the refund scan in findTransaction. */
const REFUND_SCAN_MONTHS = 3;
const REFUND_SCAN_MAX_PAGES = 10;
const QUERY_PAGE_SIZE = 100;

interface ResolvedRetry {
  maxAttempts429: number;
  baseDelayMs: number;
  maxDelayMs: number;
  readAttempts: number;
  readBaseDelayMs: number;
  readMaxDelayMs: number;
}

/** What one HTTP exchange produced, before QFPay's business code is looked at. */
type Exchange =
  | {
      kind: 'answer';
      status: number;
      body: Buffer;
      signature: string | undefined;
      /** The answer's X-QF-SIGNTYPE, when it declares one. */
      signType: string | undefined;
    }
  | { kind: 'rate_limited'; status: number; retryAfterMs: number | undefined }
  | Untrusted;

/** An answer (or its absence) that says nothing reliable about what QFPay did. */
interface Untrusted {
  kind: 'untrusted';
  outcome: ClientEventOutcome;
  reason: string;
  status?: number;
}

/** The common head of every QFPay answer. */
interface QfpayAnswer {
  respcd: string;
  resperr: string;
  respmsg: string;
}

/** A trade-bill answer: a zip's bytes, or (JSON) QFPay's error head without a file. */
type BillAnswer = QfpayAnswer & { file?: Buffer };

/** What a step adds to an event; the loop adds endpoint, attempt, duration and out_trade_no. */
type EventFields = Omit<ClientEvent, 'endpoint' | 'attempt' | 'durationMs'>;

interface PreparedRequest {
  method: HttpMethod;
  /** With the signed query string for a GET. */
  path: string;
  headers: Record<string, string>;
  /** Undefined for a GET: its fields travel in the query string. */
  body: string | undefined;
  maxAnswerBytes: number;
}

interface CallSpec<T> {
  endpoint: QfpayEndpoint;
  params: Params;
  schema: z.ZodType<T, unknown>;
  outTradeNo?: string;
  /** Extra checks that the answer belongs to this request; returns a reason when it does not. */
  crossCheck?: (answer: T) => string | undefined;
  /** For a file download: the answer made of a zip's bytes (a JSON answer is QFPay's error shape). */
  fileAnswer?: (bytes: Buffer) => T;
}

/** The fields of a checkout link a caller chooses; the client adds its own app code and mchid. */
export type CheckoutLinkFields = Omit<CheckoutFields, 'appcode' | 'mchntid'>;

export class QfpayClient {
  readonly merchant: { appcode: string; mchid?: string };
  readonly baseUrl: string;
  readonly #credentials: Credentials;
  readonly #signType: SignType;
  readonly #timeoutMs: number;
  readonly #verify: boolean;
  readonly #retry: ResolvedRetry;
  readonly #onEvent: ((event: ClientEvent) => void) | undefined;
  /** Created on the first exchange: undici is the largest import on the server's cold start. */
  #dispatcher: Promise<Dispatcher> | undefined;
  readonly #ownsDispatcher: boolean;
  readonly #limiter: RateLimiter;
  readonly #writeQueueTimeoutMs: number;
  readonly #origin: string;
  readonly #pathPrefix: string;
  readonly #random: () => number;
  readonly #now: () => Date;

  constructor(options: QfpayClientOptions) {
    const url = new URL(options.baseUrl);
    this.#origin = url.origin;
    this.#pathPrefix = url.pathname.replace(/\/+$/, '');
    this.baseUrl = `${this.#origin}${this.#pathPrefix}`;
    this.#credentials = options.credentials;
    this.merchant = {
      appcode: options.credentials.appcode,
      ...(options.credentials.mchid ? { mchid: options.credentials.mchid } : {}),
    };
    this.#signType = options.signType ?? 'SHA256';
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#verify = options.verifyResponseSignatures ?? true;
    this.#retry = {
      maxAttempts429: options.retry?.maxAttempts429 ?? 8,
      baseDelayMs: options.retry?.baseDelayMs ?? 250,
      maxDelayMs: options.retry?.maxDelayMs ?? 8_000,
      readAttempts: options.retry?.readAttempts ?? 3,
      readBaseDelayMs: options.retry?.readBaseDelayMs ?? 500,
      readMaxDelayMs: options.retry?.readMaxDelayMs ?? 5_000,
    };
    this.#onEvent = options.onEvent;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => new Date());
    this.#ownsDispatcher = options.dispatcher === undefined;
    if (options.dispatcher) this.#dispatcher = Promise.resolve(options.dispatcher);
    // One budget per merchant on one QFPay host, shared with every other client in the process.
    const merchantKey = `${this.#origin}|${options.credentials.appcode}|${options.credentials.mchid ?? ''}`;
    const windows = options.rateLimits ?? [...DEFAULT_RATE_LIMITS];
    this.#limiter = options.sharedLimiter
      ? getSharedMerchantLimiter(merchantKey, windows, {
          leaseMs: this.#timeoutMs + 5_000,
          ...options.sharedLimiter,
        })
      : getMerchantLimiter(merchantKey, windows);
    this.#writeQueueTimeoutMs = options.writeQueueTimeoutMs ?? DEFAULT_WRITE_QUEUE_TIMEOUT_MS;
  }

  /** POST /trade/v1/payment. Returns for 0000 and pending codes; throws QfpayUpstreamError otherwise. */
  async createPayment(req: PaymentRequest, opts: CallOptions = {}): Promise<PaymentResponse> {
    requireAmount('txamt', req.txamt);
    requireReference('out_trade_no', req.out_trade_no);
    requireNonEmpty('pay_type', req.pay_type);
    requireNonEmpty('txcurrcd', req.txcurrcd);
    const goodsName = req.goods_name === undefined ? undefined : goodsNameProblem(req.goods_name);
    if (goodsName)
      throw new QfpayValidationError('goods_name', goodsName, `Shorten it. ${GOODS_NAME_ADVICE}`);
    const params: Params = {
      ...req,
      txdtm: req.txdtm ?? formatQfpayDateTime(),
      extend_info: serialiseExtendInfo(req.extend_info),
    };
    return this.#call(
      {
        endpoint: 'payment',
        params,
        schema: paymentResponseSchema,
        outTradeNo: req.out_trade_no,
        crossCheck: (answer) => echoMismatch(answer, req.out_trade_no, req.txamt),
      },
      opts,
    );
  }

  /** POST /trade/v1/query. Top-level respcd must be 0000; per-row codes are the caller's to read. */
  async query(req: QueryRequest, opts: CallOptions = {}): Promise<QueryResponse> {
    const params: Params = {
      syssn: joinList('syssn', req.syssn),
      out_trade_no: joinList('out_trade_no', req.out_trade_no),
      pay_type: joinList('pay_type', req.pay_type),
      respcd: req.respcd,
      start_time: req.start_time,
      end_time: req.end_time,
      page: req.page,
      page_size: req.page_size,
    };
    if (
      req.page_size !== undefined &&
      !(Number.isInteger(req.page_size) && req.page_size >= 1 && req.page_size <= 100)
    )
      throw new QfpayValidationError(
        'page_size',
        'must be an integer from 1 to 100',
        'Use at most 100 rows per page.',
      );
    return this.#call({ endpoint: 'query', params, schema: queryResponseSchema }, opts);
  }

  /** POST /trade/v1/refund: `syssn` is the original payment's, `out_trade_no` a new one for this refund. */
  async refund(req: RefundRequest, opts: CallOptions = {}): Promise<ModificationResponse> {
    requireNonEmpty('syssn', req.syssn);
    requireReference('out_trade_no', req.out_trade_no);
    requireAmount('txamt', req.txamt);
    const params: Params = { ...req, txdtm: req.txdtm ?? formatQfpayDateTime() };
    return this.#call(
      {
        endpoint: 'refund',
        params,
        schema: modificationResponseSchema,
        outTradeNo: req.out_trade_no,
        crossCheck: (answer) => echoMismatch(answer, req.out_trade_no, req.txamt),
      },
      opts,
    );
  }

  /**
   * POST /trade/v1/authtrade: captures `txamt` of the pre-authorisation `syssn`, under a NEW
   * `out_trade_no` of its own (the Alipay variant's fields; qfpay-api.md §3.6). The answer is
   * shaped like a refund's: the capture's own syssn, orig_syssn the authorisation.
   */
  async capturePreauth(req: CaptureRequest, opts: CallOptions = {}): Promise<ModificationResponse> {
    requireNonEmpty('syssn', req.syssn);
    requireReference('out_trade_no', req.out_trade_no);
    requireAmount('txamt', req.txamt);
    const params: Params = { ...req, txdtm: req.txdtm ?? formatQfpayDateTime() };
    return this.#call(
      {
        endpoint: 'authtrade',
        params,
        schema: modificationResponseSchema,
        outTradeNo: req.out_trade_no,
        crossCheck: (answer) => echoMismatch(answer, req.out_trade_no, req.txamt),
      },
      opts,
    );
  }

  /**
   * POST /trade/v1/unfreeze: releases the uncaptured `txamt` of the pre-authorisation, named by
   * its own `syssn` and `out_trade_no`. QFPay accepts it once; no capture follows it.
   */
  async releasePreauth(req: ReleaseRequest, opts: CallOptions = {}): Promise<ModificationResponse> {
    requireNonEmpty('syssn', req.syssn);
    requireReference('out_trade_no', req.out_trade_no);
    requireAmount('txamt', req.txamt);
    const params: Params = { ...req, txdtm: req.txdtm ?? formatQfpayDateTime() };
    return this.#call(
      {
        endpoint: 'unfreeze',
        params,
        schema: modificationResponseSchema,
        outTradeNo: req.out_trade_no,
        crossCheck: (answer) => echoMismatch(answer, req.out_trade_no, req.txamt),
      },
      opts,
    );
  }

  /**
   * The capture rows of a pre-authorisation (payment rows whose origssn is its syssn). QFPay cannot
   * query by original syssn, so they are found like a payment's refunds, by scanning the
   * authorisation's month(s), with the same bounds.
   */
  async findCaptures(
    authorisation: Pick<TransactionRecord, 'syssn' | 'sysdtm' | 'txdtm'>,
    opts: CallOptions = {},
  ): Promise<TransactionRecord[]> {
    return this.#scanDraws(
      authorisation,
      (row) => isPaymentRow(row) && row.origssn === authorisation.syssn,
      opts,
    );
  }

  /** POST /trade/v1/close (unpaid orders of wallets that close rather than reverse). */
  async closeOrder(req: CancelRequest, opts: CallOptions = {}): Promise<ModificationResponse> {
    return this.#cancel('close', req, opts);
  }

  /** POST /trade/v1/reversal (in-flight or unknown-state orders). */
  async reverse(req: CancelRequest, opts: CallOptions = {}): Promise<ModificationResponse> {
    return this.#cancel('reversal', req, opts);
  }

  /**
   * Every row for one reference: the transaction itself, the original payment when the reference
   * is a refund, and the payment's refunds when its `cancel` flag says it has some. QFPay cannot
   * query refunds by original syssn, so those are found by scanning the payment's month(s) by
   * time range, bounded to REFUND_SCAN_MONTHS months and REFUND_SCAN_MAX_PAGES pages; if that is
   * not enough, summariseTransactions reports `refunds_incomplete`.
   */
  async findTransaction(ref: TransactionRef, opts: CallOptions = {}): Promise<TransactionRecord[]> {
    if (!ref.syssn && !ref.out_trade_no)
      throw new QfpayValidationError(
        'syssn',
        'neither syssn nor out_trade_no was given',
        'Pass the syssn QFPay returned or the out_trade_no you sent.',
      );
    // syssn is QFPay's own key; when both are known it is the precise one.
    const first = ref.syssn
      ? (await this.query({ syssn: [ref.syssn], page_size: QUERY_PAGE_SIZE }, opts)).data
      : await this.#queryByOutTradeNo(ref.out_trade_no!, ref.around, opts);
    const rows = new Map<string, TransactionRecord>(first.map((r) => [rowKey(r), r]));

    const missingPayments = [...rows.values()]
      .filter((r) => isRefundRow(r) && r.origssn && !rows.has(r.origssn))
      .map((r) => r.origssn!);
    if (missingPayments.length > 0) {
      const parents = await this.query(
        { syssn: [...new Set(missingPayments)], page_size: QUERY_PAGE_SIZE },
        opts,
      );
      for (const row of parents.data) rows.set(rowKey(row), row);
    }

    for (const payment of [...rows.values()]) {
      if (isPaymentRow(payment) && hasRefundMarker(payment) && !refundsAccountedFor(payment, rows)) {
        for (const refund of await this.#scanRefunds(payment, opts)) rows.set(rowKey(refund), refund);
      }
    }
    return [...rows.values()];
  }

  /**
   * GET /download/v1/trade_bill: QFPay's bill of one UTC+8 day (`YYYY-MM-DD`), unzipped and parsed
   * (trade-bill.ts) into this merchant's rows. Production only at QFPay (qfpay-api.md §3.7); the
   * simulator serves it too. A JSON answer is QFPay's error: QfpayUpstreamError; a file this server
   * cannot read: TradeBillError.
   */
  async downloadTradeBill(day: string, opts: CallOptions = {}): Promise<TransactionRecord[]> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || !parseQfpayDateTime(`${day} 00:00:00`))
      throw new QfpayValidationError(
        'trade_date',
        'must be a calendar day as YYYY-MM-DD',
        'Give the Hong Kong day of the bill, e.g. 2026-12-01.',
      );
    const answer = await this.#call<BillAnswer>(
      {
        endpoint: 'trade_bill',
        params: { trade_date: day },
        // A JSON answer has no file: the head is all it carries.
        schema: answerHeadSchema,
        fileAnswer: (bytes) => ({ respcd: '0000', resperr: '', respmsg: '', file: bytes }),
      },
      opts,
    );
    if (!answer.file) throw new TradeBillError('no_file', 'QFPay answered 0000 without a file');
    // Loaded on the first bill: its unzip and CSV libraries would otherwise be paid at every start.
    const { parseTradeBill } = await import('./trade-bill-reader.js');
    return parseTradeBill(answer.file, { mchid: this.#credentials.mchid });
  }

  /** Closes the client's connection pool (a no-op for a dispatcher passed in). */
  async destroy(): Promise<void> {
    if (this.#ownsDispatcher && this.#dispatcher) await (await this.#dispatcher).close();
    await this.#limiter.detach?.();
  }

  #getDispatcher(): Promise<Dispatcher> {
    this.#dispatcher ??= import('undici').then(
      ({ Pool }) =>
        new Pool(this.#origin, {
          // undici's defaults are 300 s; the per-request signal enforces the real deadline, these
          // make sure no phase can outlive it even if a signal were lost.
          connectTimeout: Math.min(this.#timeoutMs, 10_000),
          headersTimeout: this.#timeoutMs,
          bodyTimeout: this.#timeoutMs,
        }),
    );
    return this.#dispatcher;
  }

  async #cancel(
    endpoint: 'close' | 'reversal',
    req: CancelRequest,
    opts: CallOptions,
  ): Promise<ModificationResponse> {
    if (!req.syssn && !req.out_trade_no)
      throw new QfpayValidationError(
        'syssn',
        'neither syssn nor out_trade_no was given',
        'Pass the syssn or out_trade_no of the order to cancel.',
      );
    requireAmount('txamt', req.txamt);
    const params: Params = { ...req, txdtm: req.txdtm ?? formatQfpayDateTime() };
    return this.#call(
      {
        endpoint,
        params,
        schema: modificationResponseSchema,
        ...(req.out_trade_no ? { outTradeNo: req.out_trade_no } : {}),
      },
      opts,
    );
  }

  /**
   * QFPay's current enquiry page ignores the time range only for `syssn`: a lookup by out_trade_no
   * is limited to the range, by default the current month. So every such lookup also searches the
   * neighbouring month explicitly (see outTradeNoSearchMonths), and "not found" means not found in
   * any of them: a payment whose answer was lost at 23:59 on the last day of a month is found
   * after midnight.
   */
  async #queryByOutTradeNo(
    outTradeNo: string,
    around: string | Date | undefined,
    opts: CallOptions,
  ): Promise<TransactionRecord[]> {
    const rows: TransactionRecord[] = [];
    const seen = new Set<string>();
    for (const month of outTradeNoSearchMonths(around, this.#now())) {
      const range = month === 'current' ? {} : month;
      const answer = await this.query(
        { out_trade_no: [outTradeNo], ...range, page_size: QUERY_PAGE_SIZE },
        opts,
      );
      for (const row of answer.data) {
        if (seen.has(row.syssn)) continue;
        seen.add(row.syssn);
        rows.push(row);
      }
    }
    return rows;
  }

  #scanRefunds(payment: TransactionRecord, opts: CallOptions): Promise<TransactionRecord[]> {
    return this.#scanDraws(payment, (r) => isRefundRow(r) && r.origssn === payment.syssn, opts);
  }

  /** Rows of the origin's month(s) onwards that `belongs` picks (its refunds, or its captures). */
  async #scanDraws(
    payment: Pick<TransactionRecord, 'syssn' | 'sysdtm' | 'txdtm'>,
    belongs: (row: TransactionRecord) => boolean,
    opts: CallOptions,
  ): Promise<TransactionRecord[]> {
    const since = parseQfpayDateTime(payment.sysdtm ?? '') ?? parseQfpayDateTime(payment.txdtm ?? '');
    if (!since) return [];
    const found: TransactionRecord[] = [];
    const now = this.#now();
    let pagesLeft = REFUND_SCAN_MAX_PAGES;
    for (let offset = 0; offset < REFUND_SCAN_MONTHS && pagesLeft > 0; offset++) {
      const month = qfpayMonthRange(since, offset);
      if (parseQfpayDateTime(month.start_time)! > now) break;
      const start_time = offset === 0 ? formatQfpayDateTime(since) : month.start_time;
      for (let page = 1; pagesLeft > 0; page++, pagesLeft--) {
        const answer = await this.query(
          { start_time, end_time: month.end_time, page, page_size: QUERY_PAGE_SIZE },
          opts,
        );
        found.push(...answer.data.filter(belongs));
        if (answer.data.length < QUERY_PAGE_SIZE) break;
      }
    }
    return found;
  }

  /**
   * One logical call: re-sent unchanged after HTTP 429, re-sent after an untrustworthy answer only
   * when it is a read, and otherwise settled by the answer's respcd.
   */
  async #call<T extends QfpayAnswer>(spec: CallSpec<T>, opts: CallOptions): Promise<T> {
    const { signal } = opts;
    const sentOnce = ENDPOINTS[spec.endpoint].sentOnce;
    const request = this.#prepare(spec);
    const failures = { rateLimited: 0, untrustedReads: 0 };
    const queued = {
      signal,
      request: { endpoint: spec.endpoint, ...(spec.outTradeNo ? { out_trade_no: spec.outTradeNo } : {}) },
      // A write waits a bounded time and only the limiter sees its signal: once sent, it is seen through.
      ...(sentOnce ? { maxWaitMs: this.#writeQueueTimeoutMs } : {}),
    };
    const notSent = (): QfpayNotSentError =>
      new QfpayNotSentError('cancelled', spec.endpoint, spec.outTradeNo);
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw notSent();
      const started = performance.now();
      const exchange = await this.#limiter.schedule(
        () => this.#exchange(request, sentOnce ? undefined : signal),
        queued,
      );
      const report = (fields: EventFields): void =>
        this.#emit({
          endpoint: spec.endpoint,
          attempt,
          durationMs: Math.round(performance.now() - started),
          ...(spec.outTradeNo ? { out_trade_no: spec.outTradeNo } : {}),
          ...fields,
        });

      if (exchange.kind === 'rate_limited') {
        // HTTP 429 means not processed, so a caller giving up during the back-off sent nothing.
        await this.#afterRateLimit(spec.endpoint, exchange, ++failures.rateLimited, report, signal).catch(
          (error: unknown) => {
            throw signal?.aborted ? notSent() : error;
          },
        );
        continue;
      }
      const verdict = exchange.kind === 'answer' ? this.#interpret(spec, exchange) : exchange;
      if (verdict.kind === 'untrusted') {
        if (sentOnce) {
          report(untrustedFields(verdict));
          throw new QfpayUnknownOutcomeError(spec.endpoint, verdict.reason, spec.outTradeNo);
        }
        if (signal?.aborted) throw signal.reason;
        await this.#afterUntrustedRead(spec.endpoint, verdict, ++failures.untrustedReads, report, signal);
        continue;
      }
      return this.#settle(spec.endpoint, verdict.answer, verdict.status, report);
    }
  }

  /**
   * Signed headers and form body (POST) or query string (GET), computed once: a re-sent request is
   * byte-identical. A GET signs its query parameters exactly as a POST signs its form fields.
   */
  #prepare<T>(spec: CallSpec<T>): PreparedRequest {
    const { path, method, channelWide } = ENDPOINTS[spec.endpoint];
    const sent = this.#wire(spec.params, channelWide !== true);
    const maxAnswerBytes = spec.fileAnswer ? MAX_BILL_BYTES : MAX_ANSWER_BYTES;
    const encoded = new URLSearchParams(sent).toString();
    const signed = signatureHeaders(sent, this.#credentials.appcode, this.#credentials.key, this.#signType);
    if (method === 'GET')
      return {
        method,
        path: `${this.#pathPrefix}${path}${encoded === '' ? '' : `?${encoded}`}`,
        headers: {
          ...signed,
          accept: spec.fileAnswer ? 'application/zip, application/json' : 'application/json',
        },
        body: undefined,
        maxAnswerBytes,
      };
    return {
      method,
      path: `${this.#pathPrefix}${path}`,
      headers: {
        ...signed,
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        accept: 'application/json',
      },
      body: encoded,
      maxAnswerBytes,
    };
  }

  /** HTTP 429: QFPay did not process the request. Back off (shared by the merchant) or give up. */
  async #afterRateLimit(
    endpoint: QfpayEndpoint,
    exchange: Extract<Exchange, { kind: 'rate_limited' }>,
    rateLimited: number,
    report: (fields: EventFields) => void,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (rateLimited >= this.#retry.maxAttempts429) {
      report({ outcome: 'rate_limited', httpStatus: exchange.status });
      throw new QfpayRateLimitedError(endpoint, rateLimited);
    }
    const delay = Math.max(
      exchange.retryAfterMs ?? 0,
      this.#backoff(rateLimited, this.#retry.baseDelayMs, this.#retry.maxDelayMs),
    );
    // Everyone sharing this merchant would hit the same wall: pause the whole budget.
    this.#limiter.holdFor(delay);
    report({ outcome: 'rate_limited', httpStatus: exchange.status, retryInMs: delay });
    await sleep(delay, signal);
  }

  /** A query whose answer could not be trusted: safe to ask again, a bounded number of times. */
  async #afterUntrustedRead(
    endpoint: QfpayEndpoint,
    verdict: Untrusted,
    failures: number,
    report: (fields: EventFields) => void,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (failures >= this.#retry.readAttempts) {
      report(untrustedFields(verdict));
      throw new QfpayUnknownOutcomeError(
        endpoint,
        `${verdict.reason} (after ${failures} attempts)`,
        undefined,
      );
    }
    const delay = this.#backoff(failures, this.#retry.readBaseDelayMs, this.#retry.readMaxDelayMs);
    report({ ...untrustedFields(verdict), retryInMs: delay });
    await sleep(delay, signal);
  }

  /** A trustworthy answer: 0000 (and, except for queries, pending codes) return; the rest throw. */
  #settle<T extends QfpayAnswer>(
    endpoint: QfpayEndpoint,
    answer: T,
    httpStatus: number,
    report: (fields: EventFields) => void,
  ): T {
    const pending = isPendingCode(answer.respcd);
    const accepted = answer.respcd === '0000' || (pending && ENDPOINTS[endpoint].acceptsPending);
    const outcome = accepted ? (pending ? 'pending' : 'ok') : 'upstream_error';
    report({ outcome, httpStatus, respcd: answer.respcd });
    if (accepted) return answer;
    const text = [answer.resperr, answer.respmsg].filter((t) => t !== '').join(' / ');
    throw new QfpayUpstreamError(
      answer.respcd,
      findResponseCode(answer.respcd),
      sanitizeUpstreamText(text),
      endpoint,
    );
  }

  /**
   * Fields actually sent: empties dropped, mchid only when QFPay assigned one. The client key goes
   * into the hash and nowhere else; QFPay's own refund sample puts `key=` in the body, so a field
   * named like a secret, or any value containing the key, is refused before anything is sent.
   */
  #wire(params: Params, withMchid: boolean): Record<string, string> {
    const sent = wireParams(withMchid ? { ...params, mchid: this.#credentials.mchid } : params);
    for (const [name, value] of Object.entries(sent)) {
      if (SECRET_FIELD_NAMES.has(name.toLowerCase()) || this.#containsKey(value))
        throw new QfpayValidationError(
          name,
          'would put the client key (or a signature field) into the request body',
          'Remove it: the key is only ever used to compute X-QF-SIGN.',
        );
    }
    return sent;
  }

  /** Real keys are 32 hex characters; a toy key too short to be distinctive is not searched for. */
  #containsKey(value: string): boolean {
    const { key } = this.#credentials;
    return key.length >= 8 && value.includes(key);
  }

  /** One HTTP exchange under the deadline. Never throws: every failure becomes a classification. */
  async #exchange(request: PreparedRequest, callerSignal: AbortSignal | undefined): Promise<Exchange> {
    const { method, path, headers, body, maxAnswerBytes } = request;
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal = callerSignal ? AbortSignal.any([deadline, callerSignal]) : deadline;
    let response: Dispatcher.ResponseData;
    try {
      const dispatcher = await this.#getDispatcher();
      response = await dispatcher.request({
        origin: this.#origin,
        path,
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal,
      });
    } catch (error) {
      return transportFailure(error, deadline, this.#timeoutMs, 'before an answer arrived');
    }
    const { statusCode } = response;
    if (statusCode === 429) {
      await discard(response.body);
      return {
        kind: 'rate_limited',
        status: statusCode,
        retryAfterMs: parseRetryAfter(response.headers['retry-after']),
      };
    }
    if (statusCode >= 500) {
      await discard(response.body);
      return {
        kind: 'untrusted',
        outcome: 'http_error',
        reason: `QFPay answered HTTP ${statusCode}`,
        status: statusCode,
      };
    }
    let raw: Buffer;
    try {
      raw = await readCapped(response.body, maxAnswerBytes);
    } catch (error) {
      return transportFailure(error, deadline, this.#timeoutMs, 'while reading the answer', statusCode);
    }
    const signature = headerValue(response.headers['x-qf-sign']);
    const signType = headerValue(response.headers['x-qf-signtype']);
    return { kind: 'answer', status: statusCode, body: raw, signature, signType };
  }

  /** Signature, JSON, shape and echo checks: any failure makes the answer untrusted. */
  #interpret<T>(
    spec: CallSpec<T>,
    exchange: Extract<Exchange, { kind: 'answer' }>,
  ): { kind: 'trusted'; answer: T; status: number } | Untrusted {
    const untrusted = (outcome: ClientEventOutcome, reason: string): Untrusted => ({
      kind: 'untrusted',
      outcome,
      reason,
      status: exchange.status,
    });
    if (this.#verify && exchange.signature !== undefined) {
      // The declared algorithm is honoured; undeclared, every documented reading counts (each
      // needs the key). The reason names algorithms only, so doctor can diagnose from it.
      const check = checkResponseSignature(
        exchange.body,
        exchange.signature,
        this.#credentials.key,
        exchange.signType,
      );
      if (!check.ok) return untrusted('bad_signature', check.reason);
    }
    if (spec.fileAnswer && isZip(exchange.body))
      return { kind: 'trusted', answer: spec.fileAnswer(exchange.body), status: exchange.status };
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(exchange.body));
    } catch {
      const expected = spec.fileAnswer ? 'neither a zip file nor JSON' : 'not valid JSON';
      return untrusted('bad_answer', `the answer (HTTP ${exchange.status}) is ${expected}`);
    }
    const parsed = spec.schema.safeParse(json);
    if (!parsed.success)
      return untrusted(
        'bad_answer',
        `the answer (HTTP ${exchange.status}) is not a QFPay answer: ${describeIssues(parsed.error)}`,
      );
    // A 4xx (not 429) with a well-formed QFPay body is judged by the code inside; 5xx never got here.
    const mismatch = spec.crossCheck?.(parsed.data);
    if (mismatch) return untrusted('bad_answer', mismatch);
    return { kind: 'trusted', answer: parsed.data, status: exchange.status };
  }

  #backoff(attempt: number, base: number, cap: number): number {
    const exponential = Math.min(cap, base * 2 ** (attempt - 1));
    // Jitter in [0.5, 1.0) × spreads clients that were rejected together (as stripe-node does).
    return Math.round(exponential * (0.5 + this.#random() / 2));
  }

  #emit(event: ClientEvent): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(event);
    } catch {
      // A broken logger must not turn a payment answer into an exception.
    }
  }

  /**
   * The link a customer's WeChat browser opens to hand this merchant a one-time OAuth code
   * (src/qfpay/wechat-oauth.ts); WeChat then sends it to `redirect_uri?code=…`. Nothing is sent.
   */
  wechatOauthUrl(redirectUri: string): string {
    requireWebUrl('redirect_uri', redirectUri);
    if (this.#containsKey(redirectUri))
      throw new QfpayValidationError(
        'redirect_uri',
        'contains the client key',
        'Use the URL of your own page that receives ?code=…; the key is only ever used to sign.',
      );
    return buildWechatOauthUrl(
      this.baseUrl,
      { app_code: this.#credentials.appcode, redirect_uri: redirectUri, mchid: this.#credentials.mchid },
      this.#credentials.key,
    );
  }

  /**
   * GET /tool/v1/get_weixin_openid: the one-time code from the OAuth redirect → the payer's openid
   * for `sub_openid`. Never re-sent after an untrustworthy answer: the code may already be spent.
   */
  async exchangeWechatCode(
    req: WechatOpenidRequest,
    opts: CallOptions = {},
  ): Promise<WechatOpenidResponse & { openid: string }> {
    requireNonEmpty('code', req.code);
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(req.code))
      throw new QfpayValidationError(
        'code',
        'must be the code WeChat appended to redirect_uri: letters, digits, "-" or "_"',
        'Copy the value of ?code= from the redirect exactly.',
      );
    const answer = await this.#call(
      {
        endpoint: 'wechat_openid',
        params: { code: req.code },
        schema: wechatOpenidResponseSchema,
        crossCheck: (parsed) =>
          parsed.respcd === '0000' && !parsed.openid ? 'the answer carries no openid' : undefined,
      },
      opts,
    );
    return { ...answer, openid: answer.openid! };
  }

  /**
   * POST /trade/v1/add_note: a remark on a transaction. QFPay offers it only to merchants without an
   * mchid, so credentials with one are refused before anything is sent.
   */
  async addNote(req: AddNoteRequest, opts: CallOptions = {}): Promise<AddNoteResponse> {
    if (this.#credentials.mchid)
      throw new QfpayValidationError(
        'mchid',
        "QFPay's add_note is only for merchants without an mchid, and these credentials have one (QFPAY_MCHID)",
        'Keep the remark in your own records; QFPay offers no note for sub-merchants.',
      );
    requireNonEmpty('syssn', req.syssn);
    requireNonEmpty('note', req.note);
    if ([...req.note].length > MAX_NOTE_LENGTH)
      throw new QfpayValidationError(
        'note',
        `is ${[...req.note].length} characters long; QFPay allows at most ${MAX_NOTE_LENGTH}`,
        'Shorten the note.',
      );
    return this.#call(
      {
        endpoint: 'add_note',
        params: { code: this.#credentials.appcode, syssn: req.syssn, note: req.note },
        schema: addNoteResponseSchema,
        crossCheck: (answer) =>
          answer.syssn && answer.syssn !== req.syssn ? 'the answer names a different syssn' : undefined,
      },
      opts,
    );
  }

  /**
   * A signed hosted-checkout link for this merchant (src/qfpay/checkout.ts). Nothing is sent: the
   * link takes money only once a customer opens it and pays, so callers guard it like a payment.
   */
  checkoutLink(fields: CheckoutLinkFields, lang?: CheckoutLanguage): CheckoutLink {
    requireAmount('txamt', fields.txamt);
    requireReference('out_trade_no', fields.out_trade_no);
    return buildCheckoutLink(
      this.baseUrl,
      { ...fields, appcode: this.#credentials.appcode, mchntid: this.#credentials.mchid },
      this.#credentials.key,
      this.#signType,
      lang,
    );
  }
}

/** A zip archive starts with a local file header (or, empty, with the end of its directory). */
function isZip(body: Buffer): boolean {
  return body.length >= 4 && body[0] === 0x50 && body[1] === 0x4b && (body[2] === 3 || body[2] === 5);
}

function untrustedFields(verdict: Untrusted): EventFields {
  return {
    outcome: verdict.outcome,
    reason: verdict.reason,
    ...(verdict.status !== undefined ? { httpStatus: verdict.status } : {}),
  };
}

function transportFailure(
  error: unknown,
  deadline: AbortSignal,
  timeoutMs: number,
  when: string,
  status?: number,
): Untrusted {
  const base = status !== undefined ? { status } : {};
  if (deadline.aborted)
    return {
      kind: 'untrusted',
      outcome: 'timeout',
      reason: `no complete answer within ${timeoutMs} ms`,
      ...base,
    };
  const code = errorCode(error);
  return {
    kind: 'untrusted',
    outcome: 'transport_error',
    reason: `connection failed ${when}${code ? ` (${code})` : ''}`,
    ...base,
  };
}

/** A short, safe identifier for a transport error (undici/Node codes, never messages with data). */
function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  const name = (error as { name?: unknown }).name;
  return typeof name === 'string' && /^[A-Za-z]{2,40}$/.test(name) ? name : undefined;
}

async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > maxBytes) {
      body.destroy();
      throw Object.assign(new Error('answer too large'), { code: 'ANSWER_TOO_LARGE' });
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

async function discard(body: Dispatcher.ResponseData['body']): Promise<void> {
  try {
    await body.dump({ limit: 64 * 1024 });
  } catch {
    // The status already decided the outcome; a body we throw away may fail freely.
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = headerValue(value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Math.min(MAX_RETRY_AFTER_MS, Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - now));
}

/** How close to a month boundary an order's known time must be for the neighbouring month to be searched too. */
const MONTH_BOUNDARY_MARGIN_MS = 24 * 60 * 60 * 1000;

/**
 * What a lookup by out_trade_no searches, one query each: explicit UTC+8 calendar months, or
 * `current` = no range, which QFPay reads as its own current month (so a skewed local clock
 * cannot make us miss it).
 * - Order time known: its month, plus the neighbouring month when that time is within a day of
 *   the boundary (merchant and QFPay clocks differ; sysdtm can fall after midnight).
 * - Unknown: QFPay's current month and the previous month by our clock, plus our current month
 *   when we are within a day of its end (our clock may be behind QFPay's).
 */
export function outTradeNoSearchMonths(
  around: string | Date | undefined,
  now: Date = new Date(),
): (QfpayMonthRange | 'current')[] {
  const known = typeof around === 'string' ? parseQfpayDateTime(around) : around;
  const anchor = known ?? now;
  const month = qfpayMonthRange(anchor);
  const sinceStart = anchor.getTime() - parseQfpayDateTime(month.start_time)!.getTime();
  const untilEnd = parseQfpayDateTime(month.end_time)!.getTime() + 1000 - anchor.getTime();
  if (!known) {
    const searches: (QfpayMonthRange | 'current')[] = ['current', qfpayMonthRange(now, -1)];
    if (untilEnd < MONTH_BOUNDARY_MARGIN_MS) searches.push(month);
    return searches;
  }
  return [
    ...(sinceStart < MONTH_BOUNDARY_MARGIN_MS ? [qfpayMonthRange(anchor, -1)] : []),
    month,
    ...(untilEnd < MONTH_BOUNDARY_MARGIN_MS ? [qfpayMonthRange(anchor, 1)] : []),
  ];
}

function hasRefundMarker(payment: TransactionRecord): boolean {
  return payment.respcd === '0000' && ['1', '3', '5'].includes(payment.cancel);
}

/** Whether the refund rows already seen explain the payment's cancel flag (no scan needed). */
function refundsAccountedFor(payment: TransactionRecord, rows: Map<string, TransactionRecord>): boolean {
  const refunded = [...rows.values()]
    .filter((r) => isRefundRow(r) && r.origssn === payment.syssn && r.respcd === '0000')
    .reduce((sum, r) => sum + r.txamt, 0);
  if (payment.cancel === '3') return refunded >= payment.txamt;
  if (payment.cancel === '5') return refunded > 0 && refunded < payment.txamt;
  // cancel 1: reversed or refunded; any refund row settles which.
  return refunded > 0;
}

function echoMismatch(
  answer: { out_trade_no?: string; txamt?: number },
  outTradeNo: string,
  txamt: number,
): string | undefined {
  if (answer.out_trade_no && answer.out_trade_no !== outTradeNo)
    return 'the answer names a different out_trade_no than the request';
  if (answer.txamt !== undefined && answer.txamt !== txamt)
    return 'the answer names a different txamt than the request';
  return undefined;
}

function serialiseExtendInfo(value: PaymentRequest['extend_info']): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function joinList(field: string, values: readonly string[] | undefined): string | undefined {
  if (!values || values.length === 0) return undefined;
  for (const value of values) {
    if (value === '' || value.includes(','))
      throw new QfpayValidationError(
        field,
        'list entries must be non-empty and contain no commas',
        `Pass each ${field} separately.`,
      );
  }
  return values.join(',');
}

function requireAmount(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new QfpayValidationError(
      field,
      'must be a positive whole number of minor units',
      `Give ${field} as an integer in the currency's smallest unit, e.g. 1050 for HKD 10.50.`,
    );
}

function requireWebUrl(field: string, value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || value.length > MAX_REDIRECT_URI_LENGTH)
    throw new QfpayValidationError(
      field,
      `must be an absolute http(s) URL of at most ${MAX_REDIRECT_URI_LENGTH} characters`,
      'Give the full URL of your page, e.g. https://shop.example.com/wechat/return.',
    );
}

function requireNonEmpty(field: string, value: string | undefined): void {
  if (value === undefined || value.trim() === '')
    throw new QfpayValidationError(field, 'is required', `Provide ${field}.`);
}

/**
 * out_trade_no is String(128); the old Japan reference asks for letters, digits, `_`, `|`, `*`
 * only. The client enforces what would break the protocol (non-ASCII, spaces, the comma that
 * separates query lists); stricter house rules belong to the caller.
 */
function requireReference(field: string, value: string | undefined): void {
  requireNonEmpty(field, value);
  const problem = outTradeNoProblem(value!);
  if (problem)
    throw new QfpayValidationError(
      field,
      problem,
      `Use a merchant reference such as ${OUT_TRADE_NO_EXAMPLE}: the same rule QFPay and the MCP tools apply.`,
    );
}

/**
 * A row's identity when merging answers: its syssn, or, for a row QFPay sent without one, what
 * else tells it apart, so that several such rows (refunds above all) are not collapsed into one.
 */
function rowKey(row: TransactionRecord): string {
  if (row.syssn !== '') return row.syssn;
  return `no-syssn|${row.order_type}|${row.out_trade_no}|${row.txamt}|${row.sysdtm ?? row.txdtm ?? ''}`;
}
