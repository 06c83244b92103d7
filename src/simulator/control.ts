import { z } from 'zod';
import { findResponseCode } from '../qfpay/catalog/index.js';
import { formatUtc8, parseClockInput } from './clock.js';
import type { SimulatorEngine } from './engine.js';
import { describeFault, faultInputSchema } from './faults.js';
import type { FaultKind, FaultRegistry } from './faults.js';
import type { NotificationRecord } from './notifier.js';
import type { SlidingWindowLimiter } from './rate-limit.js';
import type { SimTransaction, TransactionState } from './state.js';

/** One trade-API request as the simulator received it (control API `GET /__sim/requests`). */
export interface RequestLogEntry {
  /** Epoch ms of arrival on the monotonic clock the rate limiter uses (fractional). */
  readonly at_ms: number;
  readonly method: string;
  readonly path: string;
  /** X-QF-APPCODE as sent (null when absent). */
  readonly appcode: string | null;
  readonly mchid?: string;
  /** The request's out_trade_no (a comma list for queries), when it carried one. */
  readonly out_trade_no?: string;
  /** null when the connection was dropped without an answer (drop_after_commit). */
  http_status: number | null;
  respcd?: string;
  fault?: FaultKind;
}

/**
 * The most recent requests, oldest first. Capped so an embedded simulator that runs for days
 * does not grow without bound; tests look at far fewer.
 */
export class RequestLog {
  static readonly MAX_ENTRIES = 20_000;
  private readonly entries: RequestLogEntry[] = [];
  add(entry: RequestLogEntry): RequestLogEntry {
    this.entries.push(entry);
    if (this.entries.length > RequestLog.MAX_ENTRIES)
      this.entries.splice(0, this.entries.length - RequestLog.MAX_ENTRIES);
    return entry;
  }
  list(): readonly RequestLogEntry[] {
    return this.entries;
  }
  clear(): void {
    this.entries.length = 0;
  }
}

/** A failure of a control operation, with the HTTP status the control API answers. */
export class SimulatorControlError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'SimulatorControlError';
  }
}

const payActionSchema = z
  .object({
    syssn: z.string().min(1).optional(),
    out_trade_no: z.string().min(1).optional(),
    /** Narrows an out_trade_no lookup when several merchants used the same one. */
    appcode: z.string().min(1).optional(),
    outcome: z.enum(['pay', 'fail', 'expire']),
    /** For `fail`: the wallet's failure code (default 1205). */
    respcd: z
      .string()
      .regex(/^\d{4}$/)
      .optional(),
  })
  .strict()
  .refine((input) => input.syssn !== undefined || input.out_trade_no !== undefined, {
    message: 'give syssn or out_trade_no',
  });
export type PayActionInput = z.input<typeof payActionSchema>;

const clockInputSchema = z
  .object({
    /** ISO 8601 with a zone, or QFPay's `YYYY-MM-DD hh:mm:ss` read as UTC+8. */
    set: z.string().optional(),
    advanceMs: z
      .number()
      .int()
      .min(0)
      .max(10 * 365 * 86_400_000)
      .optional(),
  })
  .strict();
export type ClockInput = z.input<typeof clockInputSchema>;

export interface ClockView {
  /** Simulated time, UTC+8, QFPay format. */
  readonly now: string;
  readonly iso: string;
  readonly epoch_ms: number;
  readonly time_scale: number;
}

/** A transaction as the control API shows it: state and wire fields, never a key. */
export interface TransactionView {
  readonly syssn: string;
  readonly appcode: string;
  readonly mchid: string | null;
  readonly order_type: string;
  readonly out_trade_no: string;
  readonly pay_type: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly txdtm: string;
  readonly sysdtm: string;
  readonly paydtm: string | null;
  readonly state: TransactionState;
  readonly respcd: string;
  readonly errmsg: string;
  readonly cancel: string;
  readonly refunded_amount: number;
  readonly orig_syssn: string | null;
  readonly expires_at: string | null;
  readonly notify_url: string | null;
  /** The remark add_note attached, if any. */
  readonly note: string | null;
}

const FAIL_DEFAULT_RESPCD = '1205';
const WAITING_STATES: ReadonlySet<TransactionState> = new Set(['AWAITING_CUSTOMER', 'PROCESSING']);

/**
 * The simulator's test and demo controls. The HTTP API under /__sim/ is the contract; the same
 * operations are available in-process on RunningSimulator.control.
 */
export class SimulatorControl {
  constructor(
    private readonly engine: SimulatorEngine,
    private readonly faultRegistry: FaultRegistry,
    private readonly requestLog: RequestLog,
    private readonly limiter: SlidingWindowLimiter,
  ) {}

  /** The customer (or wallet) acts on a waiting order. */
  pay(rawInput: PayActionInput): TransactionView {
    const input = parse(payActionSchema, rawInput);
    this.engine.sweep();
    const transaction = this.findOne(input);
    if (transaction.orderType !== 'payment' || !WAITING_STATES.has(transaction.state))
      throw new SimulatorControlError(
        409,
        `${transaction.syssn} is not waiting for the customer (state ${transaction.state}${transaction.orderType === 'refund' ? ', a refund' : ''}); only AWAITING_CUSTOMER or PROCESSING payments can be paid, failed or expired`,
      );
    switch (input.outcome) {
      case 'pay':
        this.engine.settle(transaction);
        break;
      case 'fail': {
        const code = input.respcd ?? FAIL_DEFAULT_RESPCD;
        const entry = findResponseCode(code);
        if (!entry || entry.outcome === 'success' || entry.outcome === 'pending')
          throw new SimulatorControlError(
            400,
            `respcd ${code} is not a failure code in the catalog (try 1201, 1202 or 1205)`,
          );
        this.engine.ledger.markFailed(transaction, entry.code, entry.meaning);
        break;
      }
      case 'expire':
        if (transaction.state !== 'AWAITING_CUSTOMER')
          throw new SimulatorControlError(
            409,
            `${transaction.syssn} is a CPM payment in progress; it cannot expire (use fail or pay)`,
          );
        this.engine.ledger.markExpired(transaction);
        break;
    }
    this.engine.reschedule();
    this.engine.persist();
    return transactionView(transaction);
  }

  transactions(): TransactionView[] {
    this.engine.sweep();
    return this.engine.ledger.all().map(transactionView);
  }

  requests(): readonly RequestLogEntry[] {
    return this.requestLog.list();
  }

  notifications(): readonly NotificationRecord[] {
    return this.engine.notifier.list();
  }

  addFault(rawInput: unknown): Record<string, unknown> {
    return describeFault(this.faultRegistry.add(parse(faultInputSchema, rawInput)));
  }

  faults(): Record<string, unknown>[] {
    return this.faultRegistry.list().map(describeFault);
  }

  clearFaults(): number {
    const count = this.faultRegistry.list().length;
    this.faultRegistry.clear();
    return count;
  }

  clock(): ClockView {
    const now = this.engine.clock.now();
    return {
      now: formatUtc8(now),
      iso: new Date(now).toISOString(),
      epoch_ms: now,
      time_scale: this.engine.options.timeScale,
    };
  }

  setClock(rawInput: ClockInput): ClockView {
    const input = parse(clockInputSchema, rawInput);
    if (input.set !== undefined) {
      const ms = parseClockInput(input.set);
      if (ms === undefined)
        throw new SimulatorControlError(
          400,
          'set must be ISO 8601 with a zone (2026-03-15T12:00:00Z, 2026-03-15T20:00:00+08:00) or "YYYY-MM-DD hh:mm:ss" (UTC+8)',
        );
      this.engine.clock.set(ms);
    }
    if (input.advanceMs !== undefined) this.engine.clock.advance(input.advanceMs);
    this.engine.sweep();
    return this.clock();
  }

  /** Clears transactions, notifications, the request log, faults, rate-limit history and the clock offset. */
  reset(): void {
    this.engine.reset();
    this.faultRegistry.clear();
    this.requestLog.clear();
    this.limiter.clear();
  }

  private findOne(input: z.output<typeof payActionSchema>): SimTransaction {
    const matches = this.engine.ledger.findAnywhere({
      syssn: input.syssn,
      outTradeNo: input.out_trade_no,
      appcode: input.appcode,
    });
    const first = matches[0];
    if (!first) throw new SimulatorControlError(404, 'no transaction matches that syssn / out_trade_no');
    if (matches.length > 1)
      throw new SimulatorControlError(
        409,
        'several merchants used that out_trade_no; give syssn or appcode too',
      );
    return first;
  }
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const detail = result.error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
  throw new SimulatorControlError(400, detail);
}

export function transactionView(transaction: SimTransaction): TransactionView {
  return {
    syssn: transaction.syssn,
    appcode: transaction.appcode,
    mchid: transaction.mchid ?? null,
    order_type: transaction.orderType,
    out_trade_no: transaction.outTradeNo,
    pay_type: transaction.payType,
    txamt: transaction.txamt,
    txcurrcd: transaction.txcurrcd,
    txdtm: transaction.txdtm,
    sysdtm: formatUtc8(transaction.createdAtSimMs),
    paydtm: transaction.paidAtSimMs === undefined ? null : formatUtc8(transaction.paidAtSimMs),
    state: transaction.state,
    respcd: transaction.respcd,
    errmsg: transaction.errmsg,
    cancel: transaction.cancel,
    refunded_amount: transaction.refundedAmount,
    orig_syssn: transaction.origSyssn ?? null,
    expires_at: transaction.expiresAtSimMs === undefined ? null : formatUtc8(transaction.expiresAtSimMs),
    notify_url: transaction.notifyUrl ?? null,
    note: transaction.note ?? null,
  };
}

/** Routes /__sim/* (already checked to come from loopback). Returns the HTTP status and JSON. */
export function routeControlRequest(
  control: SimulatorControl,
  method: string,
  path: string,
  body: unknown,
): { status: number; body: unknown } {
  const route = `${method} ${path.replace(/\/+$/, '')}`;
  switch (route) {
    case 'POST /__sim/pay':
      return { status: 200, body: { transaction: control.pay(body as PayActionInput) } };
    case 'GET /__sim/transactions':
      return { status: 200, body: { transactions: control.transactions() } };
    case 'GET /__sim/requests':
      return { status: 200, body: { requests: control.requests() } };
    case 'GET /__sim/notifications':
      return { status: 200, body: { notifications: control.notifications() } };
    case 'POST /__sim/faults':
      return { status: 201, body: { fault: control.addFault(body) } };
    case 'GET /__sim/faults':
      return { status: 200, body: { faults: control.faults() } };
    case 'DELETE /__sim/faults':
      return { status: 200, body: { cleared: control.clearFaults() } };
    case 'GET /__sim/clock':
      return { status: 200, body: { clock: control.clock() } };
    case 'POST /__sim/clock':
      return { status: 200, body: { clock: control.setClock(body as ClockInput) } };
    case 'POST /__sim/reset':
      control.reset();
      return { status: 200, body: { reset: true } };
    default:
      throw new SimulatorControlError(
        404,
        `no control operation ${route}; see docs/simulator.md (POST pay, GET transactions, GET requests, GET notifications, POST/GET/DELETE faults, GET/POST clock, POST reset)`,
      );
  }
}
