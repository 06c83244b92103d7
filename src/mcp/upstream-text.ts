import { sanitizeUpstreamText } from './sanitize.js';

/**
 * The single call site through which the MCP layer lets outside text (QFPay answers,
 * notification bodies, merchant-set goods names) into a tool result: data only, length-capped,
 * with control, invisible and tag-like characters neutralised by the safety module.
 */
export function cleanUpstreamText(value: unknown, maxLength?: number): string {
  return sanitizeUpstreamText(value, maxLength);
}

/** Same, but `undefined` for absent or empty text so optional output fields stay absent. */
export function optionalUpstreamText(value: unknown, maxLength?: number): string | undefined {
  const cleaned = sanitizeUpstreamText(value, maxLength);
  return cleaned === '' ? undefined : cleaned;
}
