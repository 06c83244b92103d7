import { randomUUID } from 'node:crypto';

import { explainRespcd } from '../../qfpay/catalog/index.js';
import type { RespcdEndpoint } from '../../qfpay/catalog/types.js';
import {
  QfpayConfigError,
  QfpayRateLimitedError,
  QfpayUnknownOutcomeError,
  QfpayUpstreamError,
  QfpayValidationError,
} from '../../qfpay/errors.js';
import type { ToolErrorInfo } from '../result-shape.js';
import { cleanUpstreamText } from '../upstream-text.js';
import { type KnownFields, ToolFailure } from './define.js';

export interface DescribedFailure {
  readonly info: ToolErrorInfo;
  readonly known: KnownFields;
}

const RESPCD_ENDPOINT_NAMES: readonly RespcdEndpoint[] = ['payment', 'query', 'refund', 'close', 'reversal'];

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
export function describeFailure(error: unknown, log: (line: string) => void): DescribedFailure {
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
  if (error instanceof QfpayUpstreamError) return describeUpstream(error);
  if (error instanceof QfpayRateLimitedError) {
    return {
      info: { kind: 'rate_limited', message: error.message, next_action: error.nextAction },
      known: {},
    };
  }
  if (error instanceof QfpayUnknownOutcomeError) {
    return {
      info: {
        kind: 'unknown_outcome',
        message: cleanUpstreamText(error.message, 300),
        next_action: error.nextAction,
      },
      known: { status: 'UNKNOWN', ...(error.out_trade_no ? { out_trade_no: error.out_trade_no } : {}) },
    };
  }
  return describeUnexpected(error, log);
}

function describeUpstream(error: QfpayUpstreamError): DescribedFailure {
  const endpoint = respcdEndpointOf(error.endpoint);
  const explanation = explainRespcd(error.respcd, endpoint ? { endpoint } : {});
  const upstreamText = cleanUpstreamText(error.upstreamMessage, 160);
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
  const text = error instanceof Error ? cleanUpstreamText(error.message, 300) : '';
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
