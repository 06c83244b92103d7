/**
 * Defences for text crossing the server's boundary.
 *
 * Upstream text is made inert by the domain's `sanitizeUpstreamText` (src/qfpay/text.ts), which
 * the wire schemas already apply to QFPay's answers; it is re-exported here so the MCP layer has
 * one module to import its defences from. The helpers below keep secrets, wallet codes and card
 * numbers out of anything the server writes.
 */

import { MAX_INPUT_UNITS, primitiveText } from '../qfpay/text.js';

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
  const spellings = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret === '') continue;
    spellings.add(secret);
    spellings.add(JSON.stringify(secret).slice(1, -1));
    spellings.add(encodeURIComponent(secret));
  }
  if (spellings.size === 0) return text;
  // Longest first, so a secret that contains another is replaced whole.
  const pattern = [...spellings]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join('|');
  return text.replace(new RegExp(pattern, 'gi'), REDACTED);
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
 * Finds a 13–19 digit Luhn-valid run, the shape of a card number (PAN), written contiguously or in
 * groups separated by single spaces or hyphens; full-width digits count. Free-text inputs that
 * contain one are refused so the server is never pulled into PCI DSS scope. Longer digit
 * runs (order numbers, syssn) are not PANs and are not searched inside. False positives, such as a
 * 16-digit Luhn-valid order number in a description, are accepted: the caller rephrases.
 */
export function findLuhnPan(text: unknown): LuhnPanMatch | undefined {
  const raw = primitiveText(text);
  if (raw === '') return undefined;
  const normalised = raw.slice(0, MAX_INPUT_UNITS).normalize('NFKC');
  for (const candidate of panCandidates(normalised)) {
    if (candidate.length >= 13 && candidate.length <= 19 && luhnValid(candidate)) {
      return { masked: maskPan(candidate), digits: candidate.length };
    }
  }
  return undefined;
}

/**
 * Replaces every Luhn-valid PAN-shaped run (13–19 ASCII or full-width digits, optionally grouped
 * by single spaces or hyphens, not part of a longer digit run) with its masked form.
 */
export function maskLuhnPans(text: string): string {
  return text.replace(PAN_RUN, (run) => {
    const digits = run.normalize('NFKC').replace(/[ -]/g, '');
    return luhnValid(digits) ? maskPan(digits) : run;
  });
}

const PAN_RUN = /(?<![0-9０-９][ -]?)[0-9０-９](?:[ -]?[0-9０-９]){12,18}(?![ -]?[0-9０-９])/g;

function* panCandidates(text: string): Generator<string> {
  // Contiguous runs first; then runs whose digit groups are joined by one space or hyphen.
  for (const match of text.matchAll(/\d+/g)) yield match[0];
  for (const match of text.matchAll(/\d+(?:[ -]\d+)+/g)) yield match[0].replace(/[ -]/g, '');
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
