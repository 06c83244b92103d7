import { statusOfNotification } from './outcome.js';
import { verifyNotificationSignature } from './signature.js';
import { sanitizeUpstreamText } from './text.js';
import type { NormalisedStatus, NotificationBody } from './types.js';
import { describeIssues, notificationBodySchema } from './wire.js';

/**
 * QFPay async notifications: POST with a JSON body and `X-QF-SIGN = upper(MD5(raw body + key))`.
 * The signature covers the exact bytes received, so it is checked before the body
 * is parsed; re-serialising parsed JSON would change spacing and escapes and break the check.
 * Notifications are only sent after success, may arrive more than once, and may carry keys we do
 * not know; receivers answer HTTP 200 `SUCCESS` once the body is valid and recorded.
 */

export interface ParsedNotification {
  valid: boolean;
  /** Why it was rejected, or a note on a valid notification we do not interpret. */
  reason?: string;
  body?: NotificationBody;
  status?: NormalisedStatus;
}

/** payment and refund; unfreeze: a pre-authorisation's rest released (qfpay-api.md §3.6). */
const INTERPRETED_KINDS: ReadonlySet<string> = new Set(['payment', 'refund', 'unfreeze']);

/** Largest body worth hashing; QFPay's notifications are a few hundred bytes. */
const MAX_NOTIFICATION_BYTES = 64 * 1024;

/** Verifies and parses one notification. Never throws, whatever it is given. */
export function parseNotification(
  rawBody: string | Uint8Array,
  signature: string | undefined,
  key: string,
): ParsedNotification {
  try {
    return parse(rawBody, signature, key);
  } catch {
    return { valid: false, reason: 'the notification could not be processed' };
  }
}

function parse(rawBody: string | Uint8Array, signature: string | undefined, key: string): ParsedNotification {
  if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array))
    return { valid: false, reason: 'the body is not text or bytes' };
  const bytes = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody);
  if (bytes.length === 0) return { valid: false, reason: 'the body is empty' };
  if (bytes.length > MAX_NOTIFICATION_BYTES)
    return { valid: false, reason: `the body is larger than ${MAX_NOTIFICATION_BYTES} bytes` };
  if (typeof signature !== 'string' || signature.trim() === '')
    return { valid: false, reason: 'the X-QF-SIGN header is missing' };
  if (typeof key !== 'string' || key === '') return { valid: false, reason: 'no client key to verify with' };
  if (!verifyNotificationSignature(bytes, signature, key))
    return {
      valid: false,
      reason: 'X-QF-SIGN does not match the body (forged, altered or signed with another key)',
    };

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { valid: false, reason: 'the body is not UTF-8 JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { valid: false, reason: 'the body is not a JSON object' };

  const notifyType = (json as Record<string, unknown>).notify_type;
  if (!INTERPRETED_KINDS.has(notifyType as string))
    // Signed by QFPay but not a kind this server interprets (close, recurring events).
    return {
      valid: true,
      reason: `notify_type ${typeof notifyType === 'string' ? `"${sanitizeUpstreamText(notifyType, 40)}"` : '(missing)'} is not a payment, refund or unfreeze notification`,
    };

  const parsed = notificationBodySchema.safeParse(json);
  if (!parsed.success)
    return { valid: false, reason: `the body is not a QFPay notification: ${describeIssues(parsed.error)}` };
  const body: NotificationBody = parsed.data;
  return { valid: true, body, status: statusOfNotification(body) };
}
