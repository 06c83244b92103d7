import { createHash } from 'node:crypto';

/**
 * Server-side idempotency for money-moving calls.
 *
 * QFPay has no idempotency header; `out_trade_no` is its dedup key, unique across all payments and
 * refunds of a merchant. Agents and MCP clients re-send calls (timeouts, reconnects), so
 * the server treats `out_trade_no` as an idempotency key the way Stripe treats `Idempotency-Key`:
 *
 * - same key, same parameters, still running → the caller shares the running execution (50
 *   identical concurrent calls → one upstream request);
 * - same key, same parameters, finished → the recorded result is replayed (the caller may refresh a
 *   non-final one by querying, never by re-sending);
 * - same key, different parameters → refused before anything is sent.
 *
 * The decisions are the money-state store's (`MoneyStore.beginWrite`: one atomic step per claim),
 * so they hold across processes and restarts; this module only defines the request's identity.
 */

/**
 * Canonical JSON (RFC 8785 style): object keys sorted by UTF-16 code units, no whitespace,
 * `undefined` members dropped, numbers and strings as `JSON.stringify` writes them (which is what
 * RFC 8785 prescribes for finite numbers). Values JSON cannot represent exactly throw.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, 0);
}

const MAX_DEPTH = 32;

function serialise(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new TypeError('canonicalJson: value is nested too deeply');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object':
      if (Array.isArray(value)) {
        return `[${value.map((item: unknown) => (item === undefined ? 'null' : serialise(item, depth + 1))).join(',')}]`;
      }
      if (!isPlainObject(value)) {
        throw new TypeError('canonicalJson: only plain objects, arrays and primitives are allowed');
      }
      return `{${Object.keys(value)
        .filter((key) => value[key] !== undefined)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${serialise(value[key], depth + 1)}`)
        .join(',')}}`;
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  }
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** Lowercase hex SHA-256 of the canonical JSON of `params`; the request's identity for idempotency. */
export function fingerprintParams(params: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(canonicalJson(params), 'utf8').digest('hex');
}
