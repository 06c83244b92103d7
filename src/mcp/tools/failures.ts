import { randomUUID } from 'node:crypto';

import { upstreamWriteVerdict } from '../../qfpay/outcome.js';
import { explainRespcd } from '../../qfpay/catalog/index.js';
import type { RespcdEndpoint } from '../../qfpay/catalog/types.js';
import { DEFAULT_LANGUAGE, type Language } from '../../qfpay/language.js';
import {
  QfpayConfigError,
  QfpayNotSentError,
  QfpayRateLimitedError,
  QfpayUnknownOutcomeError,
  QfpayUpstreamError,
  QfpayValidationError,
} from '../../qfpay/errors.js';
import type { ToolErrorInfo } from '../result-shape.js';
import { sanitizeUpstreamText } from '../../safety/sanitize.js';
import { type KnownFields, type ToolCall, ToolFailure } from './define.js';
import { describeRef, type TransactionRef } from './views.js';

export interface DescribedFailure {
  readonly info: ToolErrorInfo;
  readonly known: KnownFields;
}

const RESPCD_ENDPOINT_NAMES: readonly RespcdEndpoint[] = [
  'payment',
  'query',
  'refund',
  'close',
  'reversal',
  'authtrade',
  'unfreeze',
];

/** `/trade/v1/refund` (or `refund`) → `refund`, for explaining a code in its context. */
export function respcdEndpointOf(endpoint: string): RespcdEndpoint | undefined {
  const last = endpoint.split('/').filter(Boolean).pop() ?? '';
  return RESPCD_ENDPOINT_NAMES.find((name) => name === last);
}

/**
 * Turns anything a tool threw into an error object fit for a model: typed QFPay errors keep their
 * explanation and next step; anything else becomes a generic message with an incident id that is
 * logged on the server, so no stack, key, signature or raw upstream body ever reaches the model.
 */
export function describeFailure(
  error: unknown,
  log: (line: string) => void,
  language: Language = DEFAULT_LANGUAGE,
): DescribedFailure {
  if (error instanceof ToolFailure) return { info: error.info, known: error.known };
  if (error instanceof QfpayValidationError) {
    return {
      info: { kind: 'validation', field: error.field, message: error.message, next_action: error.nextAction },
      known: {},
    };
  }
  if (error instanceof QfpayConfigError) {
    return {
      info: {
        kind: 'configuration',
        field: error.variable,
        message: error.message,
        next_action: error.nextAction,
      },
      known: {},
    };
  }
  if (error instanceof QfpayUpstreamError) return describeUpstream(error, language);
  if (error instanceof QfpayRateLimitedError) {
    return {
      info: { kind: 'rate_limited', message: error.message, next_action: error.nextAction },
      known: {},
    };
  }
  if (error instanceof QfpayNotSentError) {
    // Reported as rate_limited ("not processed, try later"): it never left the rate limiter's queue.
    return {
      info: { kind: 'rate_limited', message: `${error.message}.`, next_action: error.nextAction },
      known: error.out_trade_no ? { out_trade_no: error.out_trade_no } : {},
    };
  }
  if (error instanceof QfpayUnknownOutcomeError) {
    return {
      info: {
        kind: 'unknown_outcome',
        message: sanitizeUpstreamText(error.message, 300),
        next_action: error.nextAction,
      },
      known: { status: 'UNKNOWN', ...(error.out_trade_no ? { out_trade_no: error.out_trade_no } : {}) },
    };
  }
  return describeUnexpected(error, log);
}

/** The code's meaning is in the call's language (`lang`, else QFPAY_LANG); the advice stays English. */
function describeUpstream(error: QfpayUpstreamError, language: Language): DescribedFailure {
  const endpoint = respcdEndpointOf(error.endpoint);
  const explanation = explainRespcd(error.respcd, endpoint ? { endpoint } : {}, language);
  const upstreamText = sanitizeUpstreamText(error.upstreamMessage, 160);
  const message =
    `QFPay answered ${error.respcd} (${explanation.meaning})` +
    (upstreamText ? `; QFPay said: "${upstreamText}"` : '');
  return {
    info: { kind: 'upstream', message, respcd: error.respcd, next_action: explanation.next_action },
    known: { respcd: error.respcd, respcd_explanation: explanation, next_action: explanation.next_action },
  };
}

function describeUnexpected(error: unknown, log: (line: string) => void): DescribedFailure {
  const incident = randomUUID().slice(0, 8);
  const name = error instanceof Error ? error.name : typeof error;
  const text = error instanceof Error ? sanitizeUpstreamText(error.message, 300) : '';
  log(`tool failed unexpectedly [incident ${incident}]: ${name}${text ? `: ${text}` : ''}`);
  return {
    info: {
      kind: 'internal',
      message: `The server hit an unexpected error (incident ${incident}). Nothing more is known about the outcome.`,
      next_action:
        'If this was create_payment, refund or cancel_payment, call query_transaction with the same out_trade_no before doing anything else; otherwise try again, and report the incident id to the operator if it persists.',
    },
    known: {},
  };
}

/**
 * QFPay refused a write with a definite code. The status is FAILED for final codes; transient
 * codes leave the outcome UNKNOWN because the safe next step is a query, then a retry with the
 * SAME out_trade_no (which QFPay deduplicates), never a new one.
 */
function upstreamFailure(
  error: QfpayUpstreamError,
  endpoint: RespcdEndpoint,
  payType: string | undefined,
  known: KnownFields,
  language: Language,
): ToolFailure {
  const { explanation, status } = upstreamWriteVerdict(error, endpoint, payType, language);
  const upstreamText = sanitizeUpstreamText(error.upstreamMessage, 160);
  return new ToolFailure(
    {
      kind: 'upstream',
      respcd: error.respcd,
      message:
        `QFPay answered ${error.respcd}: ${explanation.meaning}` +
        (upstreamText ? ` (QFPay said: "${upstreamText}")` : ''),
      next_action: explanation.next_action,
    },
    {
      ...known,
      status,
      respcd: error.respcd,
      respcd_explanation: explanation,
      next_action: explanation.next_action,
    },
  );
}

function rateLimitFailure(
  error: QfpayRateLimitedError,
  ref: TransactionRef,
  known: KnownFields,
): ToolFailure {
  return new ToolFailure(
    {
      kind: 'rate_limited',
      message: `${error.message}.`,
      next_action: `Nothing was processed. Wait a few seconds, then call again with the same arguments (same ${describeRef(ref)}).`,
    },
    known,
  );
}

/**
 * Translates whatever a write threw into a failure that keeps the references known so far (the
 * out_trade_no above all). QFPay's definite refusals and client-side validation say nothing was
 * done; anything unexpected leaves the outcome UNKNOWN, because the request may have been sent.
 */
export function explainWriteError(
  error: unknown,
  call: ToolCall,
  context: { endpoint: RespcdEndpoint; payType: string | undefined; ref: TransactionRef; known: KnownFields },
): ToolFailure {
  const { endpoint, payType, ref, known } = context;
  if (error instanceof ToolFailure) return new ToolFailure(error.info, { ...known, ...error.known });
  if (error instanceof QfpayUpstreamError)
    return upstreamFailure(error, endpoint, payType, known, call.language);
  if (error instanceof QfpayRateLimitedError) return rateLimitFailure(error, ref, known);
  const described = describeFailure(error, call.deps.log, call.language);
  if (
    error instanceof QfpayValidationError ||
    error instanceof QfpayConfigError ||
    error instanceof QfpayNotSentError
  ) {
    return new ToolFailure(described.info, { ...known, ...described.known });
  }
  const next = `The outcome is unknown. Do not create a new order or send this again: call query_transaction with ${describeRef(ref)} first.`;
  return new ToolFailure(
    { ...described.info, next_action: next },
    { ...known, ...described.known, status: 'UNKNOWN', next_action: next },
  );
}
