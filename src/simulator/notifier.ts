import type { Dispatcher } from 'undici';
import { pythonJsonDumps } from '../qfpay/pyjson.js';
import { signRawBody } from '../qfpay/signature.js';
import { formatUtc8 } from './clock.js';
import type { SimClock } from './clock.js';
import type { SimTransaction } from './state.js';

/**
 * Asynchronous notifications as QFPay sends them: a JSON POST in Python
 * json.dumps style, `X-QF-SIGN` = upper(MD5(raw body + key)), retried on QFPay's schedule
 * until the receiver answers HTTP 200 with the body `SUCCESS`. Retry times are simulated time,
 * so `timeScale` compresses them and advancing the clock fires them.
 */

export interface NotificationAttempt {
  readonly attempt: number;
  /** Real epoch ms the attempt started. */
  readonly at_ms: number;
  /** Simulated time of the attempt, UTC+8. */
  readonly sim_at: string;
  readonly http_status: number | null;
  /** The first 200 characters of the receiver's reply. */
  readonly response_body: string | null;
  readonly error: string | null;
  readonly accepted: boolean;
}

export type DeliveryState = 'scheduled' | 'in_flight' | 'delivered' | 'gave_up';

export interface NotificationRecord {
  readonly id: number;
  readonly notify_type: NotifyType;
  readonly syssn: string;
  readonly out_trade_no: string;
  readonly url: string;
  /** The exact bytes sent (the receiver's signature check runs over these). */
  readonly body: string;
  state: DeliveryState;
  readonly attempts: NotificationAttempt[];
  nextAttemptSimMs: number | undefined;
}

/** `unfreeze`: a pre-authorisation's uncaptured rest was released (qfpay-api.md §3.6). */
export type NotifyType = 'payment' | 'refund' | 'unfreeze';

const DELIVERY_TIMEOUT_MS = 5_000;
const ACCEPTED_REPLY = 'SUCCESS';

export class Notifier {
  private readonly records: NotificationRecord[] = [];
  /** The records waiting for an attempt: the only ones the timer looks at, however many were sent. */
  private readonly scheduled = new Set<NotificationRecord>();
  private readonly keys = new Map<number, string>();
  private readonly inFlight = new Set<AbortController>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly clock: SimClock,
    private readonly retryScheduleMs: readonly number[],
    private readonly dispatcher: () => Promise<Dispatcher>,
    /** Called whenever the next retry deadline may have changed. */
    private readonly onScheduleChanged: () => void,
    private readonly warn: (message: string) => void,
  ) {}

  /** Sends the first attempt now. */
  enqueue(input: {
    notifyType: NotifyType;
    transaction: SimTransaction;
    url: string;
    body: string;
    key: string;
  }): NotificationRecord {
    const record: NotificationRecord = {
      id: this.nextId++,
      notify_type: input.notifyType,
      syssn: input.transaction.syssn,
      out_trade_no: input.transaction.outTradeNo,
      url: input.url,
      body: input.body,
      state: 'scheduled',
      attempts: [],
      nextAttemptSimMs: this.clock.now(),
    };
    this.records.push(record);
    this.scheduled.add(record);
    this.keys.set(record.id, input.key);
    this.runDue();
    return record;
  }

  list(): readonly NotificationRecord[] {
    return this.records;
  }

  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const record of this.scheduled) {
      const at = record.nextAttemptSimMs;
      if (record.state === 'scheduled' && at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /** Starts every attempt whose time has come. */
  runDue(): void {
    if (this.closed) return;
    const now = this.clock.now();
    for (const record of this.scheduled) {
      if (record.state === 'scheduled' && (record.nextAttemptSimMs ?? Infinity) <= now) this.attempt(record);
    }
  }

  /** Forgets every record and aborts deliveries in flight (reset). */
  clear(): void {
    for (const controller of this.inFlight) controller.abort();
    this.inFlight.clear();
    this.records.length = 0;
    this.scheduled.clear();
    this.keys.clear();
  }

  close(): void {
    this.closed = true;
    this.clear();
  }

  private attempt(record: NotificationRecord): void {
    const key = this.keys.get(record.id);
    if (key === undefined) return;
    record.state = 'in_flight';
    record.nextAttemptSimMs = undefined;
    this.scheduled.delete(record);
    const controller = new AbortController();
    this.inFlight.add(controller);
    const startedAtMs = Date.now();
    const simAt = formatUtc8(this.clock.now());
    void this.post(record, key, controller.signal)
      .then((outcome) => {
        if (controller.signal.aborted) return;
        this.finishAttempt(record, { ...outcome, at_ms: startedAtMs, sim_at: simAt });
      })
      .finally(() => this.inFlight.delete(controller));
  }

  private async post(
    record: NotificationRecord,
    key: string,
    signal: AbortSignal,
  ): Promise<Pick<NotificationAttempt, 'http_status' | 'response_body' | 'error'>> {
    try {
      const url = new URL(record.url);
      const dispatcher = await this.dispatcher();
      const response = await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-qf-sign': signRawBody(record.body, key) },
        body: record.body,
        headersTimeout: DELIVERY_TIMEOUT_MS,
        bodyTimeout: DELIVERY_TIMEOUT_MS,
        signal,
      });
      const text = await response.body.text();
      return { http_status: response.statusCode, response_body: text.slice(0, 200), error: null };
    } catch (error) {
      return { http_status: null, response_body: null, error: describeError(error) };
    }
  }

  private finishAttempt(
    record: NotificationRecord,
    result: Omit<NotificationAttempt, 'attempt' | 'accepted'>,
  ): void {
    const accepted = result.http_status === 200 && result.response_body?.trim() === ACCEPTED_REPLY;
    record.attempts.push({ ...result, attempt: record.attempts.length + 1, accepted });
    if (accepted) {
      record.state = 'delivered';
      this.keys.delete(record.id);
      return;
    }
    const delay = this.retryScheduleMs[record.attempts.length - 1];
    if (delay === undefined) {
      record.state = 'gave_up';
      this.keys.delete(record.id);
      this.warn(
        `notification ${record.notify_type} ${record.syssn} to ${record.url}: gave up after ${record.attempts.length} attempts`,
      );
    } else {
      record.state = 'scheduled';
      record.nextAttemptSimMs = this.clock.now() + delay;
      this.scheduled.add(record);
      this.warn(
        `notification ${record.notify_type} ${record.syssn} to ${record.url} not accepted (${result.error ?? `HTTP ${String(result.http_status)}`}); retrying in ${delay} simulated ms`,
      );
    }
    this.onScheduleChanged();
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * The notification body for a paid payment or a successful refund, keys in the order of QFPay's
 * sample, every value a string. For a refund `syssn` / `out_trade_no` are the refund's.
 */
/**
 * The body in D's sample order, with the optional keys QFPay's sample always carries set the way
 * that sample sets them for a plain HKD payment (`goods_name`, `exchange_rate`, `chnlsn2`,
 * `cash_fee_type`, `goods_info` empty, `cash_fee` "0"), so merchant parsers meet them here too.
 */
export function notificationBody(
  transaction: SimTransaction,
  notifyType: NotifyType,
  /** unfreeze: the amount released and cancel 4, on the authorisation's own numbers. */
  override: { readonly txamt: number; readonly cancel: string } | undefined = undefined,
): string {
  const body: Record<string, string> = {
    status: '1',
    pay_type: transaction.payType,
    sysdtm: formatUtc8(transaction.createdAtSimMs),
    paydtm: formatUtc8(transaction.paidAtSimMs ?? transaction.createdAtSimMs),
    goods_name: transaction.goodsName ?? '',
    txcurrcd: transaction.txcurrcd,
    txdtm: transaction.txdtm,
  };
  if (transaction.mchid !== undefined) body.mchid = transaction.mchid;
  body.txamt = String(override?.txamt ?? transaction.txamt);
  body.exchange_rate = '';
  body.chnlsn2 = '';
  body.out_trade_no = transaction.outTradeNo;
  body.syssn = transaction.syssn;
  body.cash_fee_type = '';
  body.cancel = override?.cancel ?? (transaction.orderType === 'payment' ? '0' : transaction.cancel);
  body.respcd = '0000';
  body.goods_info = '';
  body.cash_fee = '0';
  body.notify_type = notifyType;
  body.chnlsn = transaction.chnlsn;
  body.cardcd = transaction.cardcd;
  return pythonJsonDumps(body);
}
