/**
 * Defences for text crossing the server's boundary.
 *
 * Upstream text is made inert by the domain's `sanitizeUpstreamText` (src/qfpay/text.ts), which
 * the wire schemas already apply to QFPay's answers; it is re-exported here so the MCP layer has
 * one module to import its defences from. The helpers below keep secrets, wallet codes and card
 * numbers out of anything the server writes.
 */

import { MAX_INPUT_UNITS, primitiveText, sanitizeUpstreamText, stripInvisible } from '../qfpay/text.js';

export { maskAppcode, optionalUpstreamText, sanitizeUpstreamText } from '../qfpay/text.js';

/** `********1201`: only the last four characters of a wallet auth code survive, and only when long enough to stay ambiguous. */
export function maskAuthCode(code: unknown): string {
  const text = primitiveText(code);
  if (text === '') return '';
  if (text.length < 8) return '*'.repeat(text.length);
  return '*'.repeat(text.length - 4) + text.slice(-4);
}

export const REDACTED = '[REDACTED]';

/**
 * Last line of defence on every outgoing tool result and log line: replaces each secret wherever it
 * appears, case-insensitively, including its JSON-escaped and URL-encoded spellings. Empty secrets
 * are ignored; pass real secrets only (a one-character "secret" would redact that character everywhere).
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  const pattern = secretPattern(secrets);
  return pattern ? text.replace(pattern, REDACTED) : text;
}

/**
 * `redactSecrets` applied to every string inside a JSON-like value (keys included), returning the
 * value itself when nothing needed redacting: a result is checked without being serialised first,
 * and the common case (no secret anywhere) allocates nothing.
 */
export function redactSecretsDeep<Value>(value: Value, secrets: readonly string[]): Value {
  const pattern = secretPattern(secrets);
  // Looked for before anything is rebuilt: a result with no secret in it (nearly every one) costs
  // one pass over its strings and no allocation.
  return pattern && containsMatch(value, pattern) ? (redactIn(value, pattern) as Value) : value;
}

function containsMatch(value: unknown, pattern: RegExp): boolean {
  if (typeof value === 'string') return mentions(value, pattern);
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (const item of value) if (containsMatch(item, pattern)) return true;
    return false;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (mentions(key, pattern) || containsMatch((value as Record<string, unknown>)[key], pattern))
      return true;
  }
  return false;
}

function redactIn(value: unknown, pattern: RegExp): unknown {
  if (typeof value === 'string') return mentions(value, pattern) ? value.replace(pattern, REDACTED) : value;
  if (Array.isArray(value)) {
    const items = value.map((item) => redactIn(item, pattern));
    return items.some((item, index) => item !== value[index]) ? items : value;
  }
  if (value === null || typeof value !== 'object') return value;
  let changed = false;
  const entries = Object.entries(value).map(([key, child]) => {
    const redactedKey = redactIn(key, pattern) as string;
    const redactedChild = redactIn(child, pattern);
    changed ||= redactedKey !== key || redactedChild !== child;
    return [redactedKey, redactedChild] as const;
  });
  return changed ? Object.fromEntries(entries) : value;
}

function mentions(text: string, pattern: RegExp): boolean {
  pattern.lastIndex = 0;
  const found = pattern.test(text);
  pattern.lastIndex = 0;
  return found;
}

/** The last pattern built, keyed by its secrets: a server redacts with the same key on every call. */
let lastPattern: { readonly key: string; readonly pattern: RegExp | undefined } | undefined;

/** One case-insensitive pattern for every spelling of every secret (undefined: nothing to redact). */
function secretPattern(secrets: readonly string[]): RegExp | undefined {
  const real = secrets.filter((secret) => typeof secret === 'string' && secret !== '');
  const key = real.length === 1 ? `1:${real[0]!}` : JSON.stringify(real);
  if (lastPattern?.key === key) return lastPattern.pattern;
  const spellings = new Set<string>();
  for (const secret of real) {
    spellings.add(secret);
    spellings.add(JSON.stringify(secret).slice(1, -1));
    spellings.add(encodeURIComponent(secret));
  }
  // Longest first, so a secret that contains another is replaced whole.
  const pattern =
    spellings.size === 0
      ? undefined
      : new RegExp(
          [...spellings]
            .sort((a, b) => b.length - a.length)
            .map(escapeRegExp)
            .join('|'),
          'gi',
        );
  lastPattern = { key, pattern };
  return pattern;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface LuhnPanMatch {
  /** The number as found, with everything but the last four digits masked. */
  readonly masked: string;
  /** How many digits it has (13–19). */
  readonly digits: number;
}

/**
 * Text as the card-number search sees it: NFKC (full-width, mathematical, circled and superscript
 * digits become ASCII ones), invisible and format characters (zero-width, bidi, soft hyphen) removed,
 * and every other decimal digit (Arabic-Indic, Devanagari, …) mapped to its ASCII digit. A search
 * that skips these steps lets such numbers through.
 */
export function normaliseForCardSearch(text: string): string {
  return stripInvisible(text.slice(0, MAX_INPUT_UNITS).normalize('NFKC')).replace(
    NON_ASCII_DIGIT,
    asciiDigit,
  );
}

const NON_ASCII_DIGIT = /(?![0-9])\p{Nd}/gu;
const DECIMAL_DIGIT = /^\p{Nd}$/u;
const digitCache = new Map<string, string>();

/**
 * Unicode encodes every decimal digit set as 10 consecutive code points from 0 to 9, so a digit's
 * value is its distance from the start of its run of digits, modulo 10.
 */
function asciiDigit(digit: string): string {
  const cached = digitCache.get(digit);
  if (cached !== undefined) return cached;
  const codePoint = digit.codePointAt(0) ?? 0;
  let start = codePoint;
  while (start > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start -= 1;
  const ascii = String((codePoint - start) % 10);
  digitCache.set(digit, ascii);
  return ascii;
}

/**
 * Digit groups joined by separators: a separator is up to three characters that are neither
 * letters nor digits (spaces of any kind, line breaks, dots, slashes, hyphens, dashes, commas,
 * combining marks…), so `4111.1111.1111.1111` and `4111 / 1111 …` are one run.
 */
const DIGIT_RUN = /\d+(?:[^\p{L}\p{N}]{1,3}\d+)*/gu;
const MIN_PAN_DIGITS = 13;
const MAX_PAN_DIGITS = 19;

interface PanSpan {
  readonly start: number;
  readonly end: number;
  readonly digits: string;
}

/**
 * Luhn-valid 13–19 digit numbers in already normalised text: any run of whole digit groups,
 * contiguous or separated. A single group longer than 19 digits (an order number, a syssn) is not
 * searched inside. False positives, such as a 16-digit Luhn-valid order number in a description,
 * are accepted: the caller rephrases.
 */
function* panSpans(normalised: string): Generator<PanSpan> {
  for (const run of normalised.matchAll(DIGIT_RUN)) {
    const groups = [...run[0].matchAll(/\d+/g)].map((g) => ({
      start: run.index + g.index,
      end: run.index + g.index + g[0].length,
      text: g[0],
    }));
    for (let first = 0; first < groups.length; first += 1) {
      // The longest valid stretch from this group, so masking leaves no digit of it behind.
      let found: { last: number; digits: string } | undefined;
      let digits = '';
      for (let last = first; last < groups.length; last += 1) {
        digits += groups[last]!.text;
        if (digits.length > MAX_PAN_DIGITS) break;
        if (digits.length >= MIN_PAN_DIGITS && luhnValid(digits)) found = { last, digits };
      }
      if (!found) continue;
      yield { start: groups[first]!.start, end: groups[found.last]!.end, digits: found.digits };
      first = found.last;
    }
  }
}

/**
 * Finds a card number (PAN) in one or more free-text values, however it is spelt (see
 * `normaliseForCardSearch` and `DIGIT_RUN`), including one split across the values: they are also
 * searched joined, in either order. Free-text inputs that contain one are refused so the server
 * is never pulled into PCI DSS scope (reliability notes §3).
 */
export function findLuhnPan(...texts: readonly unknown[]): LuhnPanMatch | undefined {
  const parts = texts.map((text) => normaliseForCardSearch(primitiveText(text))).filter((t) => t !== '');
  const candidates = parts.length > 1 ? [...parts, parts.join(' '), [...parts].reverse().join(' ')] : parts;
  for (const candidate of candidates) {
    for (const span of panSpans(candidate))
      return { masked: maskPan(span.digits), digits: span.digits.length };
  }
  return undefined;
}

/**
 * The text normalised for the card search with every card number in it masked (separators
 * included), so no spelling of one survives.
 */
export function maskLuhnPans(text: string): string {
  const normalised = normaliseForCardSearch(text);
  let masked = '';
  let from = 0;
  for (const span of panSpans(normalised)) {
    masked += normalised.slice(from, span.start) + maskPan(span.digits);
    from = span.end;
  }
  return masked + normalised.slice(from);
}

/**
 * The one way text is made fit for the audit ledger: secrets redacted, then normalised and card
 * numbers masked (normalising first, so a zero-width or Arabic-Indic spelling cannot survive as a
 * clean number), then sanitised and capped.
 */
export function cleanRecordedText(value: string, secrets: readonly string[], maxLength: number): string {
  return sanitizeUpstreamText(maskLuhnPans(redactSecrets(value, secrets)), maxLength);
}

export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i -= 1) {
    let digit = digits.charCodeAt(i) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

function maskPan(digits: string): string {
  return '*'.repeat(digits.length - 4) + digits.slice(-4);
}
