/**
 * Defences for text crossing the server's boundary.
 *
 * Upstream text (`goods_name`, `respmsg`, `resperr`, notification fields) can be set by whoever
 * created the order, so it is an instruction channel into the model (reliability notes §2.4). It is
 * returned as inert data: no control characters, no invisible or direction-changing characters, no
 * fake chat/tool tags, bounded length. The other helpers keep secrets and card numbers out of
 * anything the server writes (§3, checklist F32/F34).
 */

const DEFAULT_MAX_LENGTH = 200;
/** Work on at most this many UTF-16 code units, so a hostile multi-megabyte value costs little. */
const MAX_INPUT_UNITS = 64 * 1024;
const ELLIPSIS = '…';

/**
 * Characters that render as nothing or reorder what is rendered, used to hide instructions from a
 * human reviewer while a model still reads them:
 * - Cf (format): zero-width space/joiners, LRM/RLM, bidi embeddings/overrides/isolates, word joiner,
 *   BOM, soft hyphen, Arabic letter mark, interlinear annotations, Unicode tag characters (E0000–E007F,
 *   "ASCII smuggling");
 * - variation selectors (FE00–FE0F, E0100–E01EF), which can carry hidden bytes ("emoji smuggling");
 * - Hangul fillers and the combining grapheme joiner, which are invisible but not Cf;
 * - private use, unassigned code points and lone surrogates, which have no meaning as data.
 */
const INVISIBLE =
  /[\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Variation_Selector}\u115F\u1160\u3164\uFFA0]|\u034F|\u17B4|\u17B5/gu;
/** Line breaks and tabs become spaces (so words do not run together); other controls are removed. */
const WHITESPACE_CONTROL = /[\t\n\v\f\r\u0085]/g;
/** C0, DEL and C1 controls. */
const CONTROL = /\p{Cc}/gu;
/** Every kind of whitespace and line/paragraph separator, including tabs and newlines. */
const WHITESPACE_RUN = /[\s\p{Z}]+/gu;
/**
 * Tag-like markers a model may take for structure: `<system>`, `</tool_result>`, `<|im_start|>`,
 * `[INST]`. Their brackets become single guillemets so the text stays readable but no longer looks
 * like markup; a lone `<` as in "price < 5" is untouched.
 */
const TAG_LIKE = /<(\/?\s*[A-Za-z|!][^<>]{0,64})>/g;
const INSTRUCTION_BRACKETS = /\[(\/?\s*(?:INST|SYS|SYSTEM|ASSISTANT|USER|TOOL)\s*)\]/gi;

/**
 * Makes untrusted upstream text safe to hand to a model or a terminal as data. Never throws.
 * Non-string primitives are stringified; objects, symbols and functions become an empty string
 * (structured upstream values must be picked apart by the caller, not dumped).
 * The result is at most `maxLength` code points, ending in "…" when it was cut.
 */
export function sanitizeUpstreamText(text: unknown, maxLength = DEFAULT_MAX_LENGTH): string {
  const limit = Number.isSafeInteger(maxLength) && maxLength >= 1 ? maxLength : DEFAULT_MAX_LENGTH;
  const raw = primitiveText(text);
  if (raw === '') return '';
  const inputCut = raw.length > MAX_INPUT_UNITS;
  const cleaned = raw
    .slice(0, MAX_INPUT_UNITS)
    .normalize('NFC')
    .replace(INVISIBLE, '')
    .replace(WHITESPACE_CONTROL, ' ')
    .replace(CONTROL, '')
    .replace(WHITESPACE_RUN, ' ')
    .replace(TAG_LIKE, '‹$1›')
    .replace(INSTRUCTION_BRACKETS, '⟦$1⟧')
    .trim();
  return capCodePoints(cleaned, limit, inputCut);
}

function primitiveText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      return '';
  }
}

function capCodePoints(text: string, limit: number, alreadyCut: boolean): string {
  // Array.from splits by code point, so a surrogate pair is never cut in half.
  const points = Array.from(text);
  if (points.length <= limit && !alreadyCut) return text;
  const kept = points.slice(0, Math.max(0, limit - 1)).join('');
  return `${kept.trimEnd()}${ELLIPSIS}`;
}

/** `********1201`: only the last four characters of a wallet auth code survive, and only when long enough to stay ambiguous. */
export function maskAuthCode(code: unknown): string {
  const text = primitiveText(code);
  if (text === '') return '';
  if (text.length < 8) return '*'.repeat(text.length);
  return '*'.repeat(text.length - 4) + text.slice(-4);
}

/**
 * `A1B2****C3D4`. The app code is not a secret (it travels in a header), but it identifies the
 * merchant account, so logs and ledgers carry enough to tell merchants apart and no more.
 */
export function maskAppcode(appcode: unknown): string {
  const text = primitiveText(appcode);
  if (text === '') return '';
  if (text.length < 12) {
    const shown = Math.min(2, Math.floor(text.length / 4));
    return shown === 0 ? '****' : `****${text.slice(-shown)}`;
  }
  return `${text.slice(0, 4)}****${text.slice(-4)}`;
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
 * contain one are refused so the server is never pulled into PCI DSS scope (notes §3). Longer digit
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
