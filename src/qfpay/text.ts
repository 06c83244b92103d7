/**
 * Text that crosses the boundary between QFPay (or whoever created an order) and a model or a
 * terminal, made inert, and merchant identifiers shortened for logs. The domain owns these so the
 * wire schemas, the client, the simulator and the MCP layer all apply the same rules.
 *
 * Upstream text (`goods_name`, `respmsg`, `resperr`, notification fields) can be set by whoever
 * created the order, so it is an instruction channel into the model. It is
 * returned as inert data: no control characters, no invisible or direction-changing characters, no
 * fake chat/tool tags, bounded length.
 */

/** Default cap, in code points, for one piece of upstream text. */
export const UPSTREAM_TEXT_MAX_CHARS = 200;
/** Work on at most this many UTF-16 code units, so a hostile multi-megabyte value costs little. */
export const MAX_INPUT_UNITS = 64 * 1024;
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

/** True when the text holds control characters or characters that render as nothing (see INVISIBLE). */
export function hasHiddenCharacters(text: string): boolean {
  return /\p{Cc}/u.test(text) || new RegExp(INVISIBLE.source, 'u').test(text);
}

/** Only the tag-like markers defused (as sanitizeUpstreamText does), everything else kept exactly. */
export function neutraliseMarkup(text: string): string {
  return text.replace(TAG_LIKE, '‹$1›').replace(INSTRUCTION_BRACKETS, '⟦$1⟧');
}

/** Removes the characters that render as nothing or reorder what is rendered (see INVISIBLE). */
export function stripInvisible(text: string): string {
  return text.replace(INVISIBLE, '');
}

/**
 * Makes untrusted upstream text safe to hand to a model or a terminal as data. Never throws.
 * Non-string primitives are stringified; objects, symbols and functions become an empty string
 * (structured upstream values must be picked apart by the caller, not dumped).
 * The result is at most `maxLength` code points, ending in "…" when it was cut. Applying it twice
 * gives the same text as applying it once.
 */
export function sanitizeUpstreamText(text: unknown, maxLength = UPSTREAM_TEXT_MAX_CHARS): string {
  const limit = Number.isSafeInteger(maxLength) && maxLength >= 1 ? maxLength : UPSTREAM_TEXT_MAX_CHARS;
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

/** Like sanitizeUpstreamText, but `undefined` for absent or empty text so optional fields stay absent. */
export function optionalUpstreamText(value: unknown, maxLength?: number): string | undefined {
  const cleaned = sanitizeUpstreamText(value, maxLength);
  return cleaned === '' ? undefined : cleaned;
}

/** Strings as they are, other primitives stringified, anything structured as an empty string. */
export function primitiveText(value: unknown): string {
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

/**
 * `A1B2****8F90` for a 32-character app code. The app code is not a secret (it travels in a
 * header), but it identifies the merchant account, so logs, ledgers and startup lines carry enough
 * to tell merchants apart and no more: never more than a quarter of the value, at most four
 * characters from each end. Values shorter than 12 characters (an mchid, a truncated code) show
 * only their last one or two; shorter than 4, nothing.
 */
export function maskAppcode(appcode: unknown): string {
  const text = primitiveText(appcode);
  if (text === '') return '';
  if (text.length < 12) {
    const shown = Math.min(2, Math.floor(text.length / 4));
    return shown === 0 ? '****' : `****${text.slice(-shown)}`;
  }
  const eachEnd = Math.min(4, Math.floor(text.length / 8));
  return `${text.slice(0, eachEnd)}****${text.slice(-eachEnd)}`;
}
