import { z } from 'zod';

/** The trade bill's download (handlers/bill.ts, loaded on its first request). */
export const TRADE_BILL_PATH = '/download/v1/trade_bill';

/** The endpoints the simulator serves. */
export const TRADE_PATHS = [
  '/trade/v1/payment',
  '/trade/v1/query',
  '/trade/v1/refund',
  '/trade/v1/close',
  '/trade/v1/reversal',
  '/trade/v1/authtrade',
  '/trade/v1/unfreeze',
  '/trade/v1/add_note',
  '/tool/v1/get_weixin_openid',
  TRADE_BILL_PATH,
] as const;
export type TradePath = (typeof TRADE_PATHS)[number];

export function isTradePath(path: string): path is TradePath {
  return (TRADE_PATHS as readonly string[]).includes(path);
}

/**
 * Failure modes a payment client must survive. Whether the request was
 * committed to the books matters for money-moving paths, so each kind states it:
 *
 * | kind              | committed?                       | what the client sees                          |
 * |-------------------|----------------------------------|-----------------------------------------------|
 * | http429           | no                               | HTTP 429 (+ Retry-After if retryAfterSeconds)  |
 * | latency           | yes, after (or before) the delay | a normal answer, latencyMs late               |
 * | drop_after_commit | yes                              | the socket is destroyed, no response           |
 * | malformed_json    | yes                              | HTTP 200, truncated JSON, signed as sent       |
 * | html_error        | `commit` (default false)         | HTTP `status` (default 502), HTML body         |
 * | bad_signature     | yes                              | valid JSON, wrong X-QF-SIGN                    |
 * | http5xx           | `commit` (default false)         | HTTP `status` (default 503), JSON error body   |
 */
export const FAULT_KINDS = [
  'http429',
  'latency',
  'drop_after_commit',
  'malformed_json',
  'html_error',
  'bad_signature',
  'http5xx',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const faultInputSchema = z
  .object({
    kind: z.enum(FAULT_KINDS),
    /** Applies to the next `count` matching requests (default 1 unless durationMs is given). */
    count: z.number().int().min(1).max(1_000_000).optional(),
    /** …or to every matching request for this many real milliseconds. */
    durationMs: z.number().int().min(1).max(86_400_000).optional(),
    /** Trade paths the fault applies to; default all five. */
    paths: z.array(z.enum(TRADE_PATHS)).min(1).optional(),
    /** latency: how long to wait. */
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    /** latency: false (default) waits before processing; true processes first, then delays the answer. */
    afterCommit: z.boolean().optional(),
    /** http5xx: 500–599 (default 503); html_error: 400–599 (default 502). */
    status: z.number().int().min(400).max(599).optional(),
    /** http429: send `Retry-After` (QFPay documents none, so it is off by default). */
    retryAfterSeconds: z.number().int().min(0).max(86_400).optional(),
    /** http5xx / html_error: process the request before answering with the error. */
    commit: z.boolean().optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    const onlyFor = (field: keyof typeof input, kinds: readonly FaultKind[]): void => {
      if (input[field] !== undefined && !kinds.includes(input.kind))
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `${field} applies only to ${kinds.join(', ')}`,
        });
    };
    onlyFor('latencyMs', ['latency']);
    onlyFor('afterCommit', ['latency']);
    onlyFor('retryAfterSeconds', ['http429']);
    onlyFor('commit', ['http5xx', 'html_error']);
    onlyFor('status', ['http5xx', 'html_error']);
    if (input.kind === 'http5xx' && input.status !== undefined && input.status < 500)
      ctx.addIssue({ code: 'custom', path: ['status'], message: 'http5xx status must be 500–599' });
  });
export type FaultInput = z.infer<typeof faultInputSchema>;

export interface ActiveFault {
  readonly id: number;
  readonly kind: FaultKind;
  readonly paths: readonly TradePath[];
  /** Matching requests still to hit; undefined when only a duration limits it. */
  remaining: number | undefined;
  /** Real epoch ms after which it no longer applies. */
  readonly untilMs: number | undefined;
  readonly latencyMs: number;
  readonly afterCommit: boolean;
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  readonly commit: boolean;
  hits: number;
}

export class FaultRegistry {
  private faults: ActiveFault[] = [];
  private nextId = 1;

  constructor(private readonly now: () => number = Date.now) {}

  add(input: FaultInput): ActiveFault {
    const remaining = input.count ?? (input.durationMs === undefined ? 1 : undefined);
    const fault: ActiveFault = {
      id: this.nextId++,
      kind: input.kind,
      paths: input.paths ?? [...TRADE_PATHS],
      remaining,
      untilMs: input.durationMs === undefined ? undefined : this.now() + input.durationMs,
      latencyMs: input.latencyMs ?? 1_000,
      afterCommit: input.afterCommit ?? false,
      status: input.status ?? (input.kind === 'html_error' ? 502 : input.kind === 'http429' ? 429 : 503),
      retryAfterSeconds: input.retryAfterSeconds,
      commit: input.commit ?? false,
      hits: 0,
    };
    this.faults.push(fault);
    return fault;
  }

  /** Active faults, expired ones dropped. */
  list(): ActiveFault[] {
    this.prune();
    return [...this.faults];
  }

  clear(): void {
    this.faults = [];
  }

  /**
   * The faults that hit this request, each consuming one of its remaining uses. Latency faults
   * stack with one other fault; of the others only the oldest applies.
   */
  take(path: TradePath): { latency: ActiveFault[]; primary: ActiveFault | undefined } {
    this.prune();
    const latency: ActiveFault[] = [];
    let primary: ActiveFault | undefined;
    for (const fault of this.faults) {
      if (!fault.paths.includes(path)) continue;
      if (fault.kind === 'latency') latency.push(fault);
      else if (primary === undefined) primary = fault;
      else continue;
      fault.hits += 1;
      if (fault.remaining !== undefined) fault.remaining -= 1;
    }
    this.prune();
    return { latency, primary };
  }

  private prune(): void {
    const now = this.now();
    this.faults = this.faults.filter(
      (f) => (f.remaining === undefined || f.remaining > 0) && (f.untilMs === undefined || now < f.untilMs),
    );
  }
}

export function describeFault(fault: ActiveFault): Record<string, unknown> {
  return {
    id: fault.id,
    kind: fault.kind,
    paths: fault.paths,
    remaining: fault.remaining ?? null,
    until_ms: fault.untilMs ?? null,
    hits: fault.hits,
    ...(fault.kind === 'latency' ? { latencyMs: fault.latencyMs, afterCommit: fault.afterCommit } : {}),
    ...(fault.kind === 'http5xx' || fault.kind === 'html_error'
      ? { status: fault.status, commit: fault.commit }
      : {}),
    ...(fault.kind === 'http429' && fault.retryAfterSeconds !== undefined
      ? { retryAfterSeconds: fault.retryAfterSeconds }
      : {}),
  };
}
