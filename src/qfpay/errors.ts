import type { ResponseCodeEntry } from './catalog/types.js';

/**
 * Typed errors. Messages are written for the person or agent who must act on them:
 * which field, why, what to do. They never contain keys, signatures or raw upstream bodies.
 */
export abstract class QfpayError extends Error {
  abstract readonly kind:
    'configuration' | 'validation' | 'upstream' | 'rate_limited' | 'not_sent' | 'unknown_outcome';
  /** What to do next, in one sentence. */
  readonly nextAction: string;
  constructor(message: string, nextAction: string) {
    super(message);
    this.name = new.target.name;
    this.nextAction = nextAction;
  }
}

/** Invalid configuration (environment variables or flags). */
export class QfpayConfigError extends QfpayError {
  readonly kind = 'configuration' as const;
  constructor(
    readonly variable: string,
    message: string,
    fix: string,
  ) {
    super(`${variable}: ${message}`, fix);
  }
}

/** Input that cannot be sent; nothing went upstream. */
export class QfpayValidationError extends QfpayError {
  readonly kind = 'validation' as const;
  constructor(
    readonly field: string,
    message: string,
    fix: string,
  ) {
    super(`${field}: ${message}`, fix);
  }
}

/** QFPay answered with a definite business error code. */
export class QfpayUpstreamError extends QfpayError {
  readonly kind = 'upstream' as const;
  constructor(
    readonly respcd: string,
    readonly entry: ResponseCodeEntry | undefined,
    /** Upstream text, already sanitised and length-capped. */
    readonly upstreamMessage: string,
    readonly endpoint: string,
  ) {
    super(
      `QFPay ${endpoint} answered ${respcd}${entry ? ` (${entry.meaning})` : ''}${upstreamMessage ? `: ${upstreamMessage}` : ''}`,
      entry?.nextAction ??
        'Look the code up with explain_respcd and query the transaction before acting again.',
    );
  }
}

/** HTTP 429 persisted past the retry budget; the request was not processed. */
export class QfpayRateLimitedError extends QfpayError {
  readonly kind = 'rate_limited' as const;
  constructor(
    readonly endpoint: string,
    readonly attempts: number,
  ) {
    super(
      `QFPay rate limit (HTTP 429) on ${endpoint} persisted after ${attempts} attempts; the request was not processed`,
      'Wait a few seconds and call again; QFPay allows 100 requests per second and 400 per minute per merchant.',
    );
  }
}

/** Why a request left the rate limiter's queue without being sent. */
export type NotSentReason = 'cancelled' | 'deadline' | 'limiter_unavailable';

const NOT_SENT_BECAUSE: Record<NotSentReason, string> = {
  cancelled: 'the caller stopped waiting while it queued for the merchant rate budget',
  deadline: 'no slot in the merchant rate budget freed up before its deadline',
  limiter_unavailable: 'the shared rate limiter (Redis) could not be reached',
};

/**
 * The request never left this process: it was still waiting for the merchant's rate budget when
 * its caller gave up or its deadline passed. For a write nothing was charged, and the order number
 * is free to be used again (see docs/ARCHITECTURE.md, "Rate limiting").
 */
export class QfpayNotSentError extends QfpayError {
  readonly kind = 'not_sent' as const;
  constructor(
    readonly reason: NotSentReason,
    readonly endpoint: string,
    /** The order number that was NOT used, when the call carried one. */
    readonly out_trade_no: string | undefined,
  ) {
    super(
      `The ${endpoint} request was not sent to QFPay: ${NOT_SENT_BECAUSE[reason]}`,
      out_trade_no
        ? `Nothing was sent and nothing moved. To try again, call again with the same out_trade_no ${out_trade_no}.`
        : 'Nothing was sent. Wait a few seconds and call again.',
    );
  }
}

/**
 * Transport failure, timeout, 5xx, malformed or unverifiable answer. For a money-moving call the
 * outcome is unknown: the request may have been processed. Never re-send; query by out_trade_no.
 */
export class QfpayUnknownOutcomeError extends QfpayError {
  readonly kind = 'unknown_outcome' as const;
  constructor(
    readonly endpoint: string,
    readonly reason: string,
    /** The order number to query with, when the call carried one. */
    readonly out_trade_no: string | undefined,
  ) {
    super(
      `No trustworthy answer from QFPay ${endpoint}: ${reason}`,
      out_trade_no
        ? `Do not create a new order. Query by out_trade_no ${out_trade_no} until the outcome is known.`
        : 'Query the transaction before acting again.',
    );
  }
}
