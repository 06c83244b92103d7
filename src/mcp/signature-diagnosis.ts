import {
  canonicalString,
  digestUpperHex,
  type Params,
  type SignType,
  signaturesEqual,
} from '../qfpay/signature.js';

/**
 * Finds out why a developer's X-QF-SIGN differs from QFPay's by recomputing the usual mistakes
 * and checking which one reproduces their signature. Only ids of reproduced mistakes and
 * yes/no answers leave this module: a digest made with the server's configured key never does,
 * because a full signature is all anyone needs to send a request QFPay accepts, bypassing the
 * money guard (docs/ARCHITECTURE.md "The money guard"). Full signatures are only computed with a
 * key the caller supplies (`signWithCallerKey`).
 */

export type ParamInput = Readonly<Record<string, string | number | boolean>>;

export interface SigningKey {
  readonly key: string;
  /** The mchid QFPay assigned, when it assigned one. */
  readonly mchid?: string;
}

export interface Mistake {
  readonly id: string;
  readonly explanation: string;
  readonly fix: string;
}

/** Where the string a developer hashed first differs from the one QFPay hashes. */
export interface StringDifference {
  /** 0-based index of the first differing character (UTF-16 code units, as JavaScript counts). */
  readonly position: number;
  /** Up to 24 characters of the correct string from a little before that position. */
  readonly expected_excerpt: string;
  /** The same stretch of the string given. */
  readonly given_excerpt: string;
  readonly explanation: string;
}

export interface Diagnosis {
  readonly canonical_string: string;
  /** What is hashed, with the key replaced by a placeholder. */
  readonly string_to_sign_masked: string;
  readonly provided_signature_matches?: boolean;
  readonly case_only_difference?: boolean;
  readonly likely_mistakes: readonly Mistake[];
  readonly warnings: readonly string[];
}

export const KEY_PLACEHOLDER = '<client_key>';

interface Variant {
  readonly mistake: Mistake;
  /** The string that was hashed under this mistake, or undefined when the mistake does not apply. */
  readonly text: string | undefined;
  /** Only this algorithm (for algorithm mix-ups); otherwise both are tried. */
  readonly signType?: SignType;
}

function stringified(params: ParamInput): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([name, value]) => [name, String(value)]));
}

/** The canonical string for these parameters and what is hashed, with the key as a placeholder. */
export function canonicalFor(params: ParamInput): { canonical: string; masked: string } {
  const canonical = canonicalString(stringified(params));
  return { canonical, masked: canonical + KEY_PLACEHOLDER };
}

/**
 * Checks a signature against `key` and explains a mismatch. The answer says whether the
 * signature matches and which mistakes reproduce it; it never contains a digest.
 */
export function diagnoseSignature(
  params: ParamInput,
  key: SigningKey | undefined,
  provided: string | undefined,
  declaredSignType: SignType,
): Diagnosis {
  const values = stringified(params);
  const { canonical, masked } = canonicalFor(params);
  const warnings = structuralWarnings(values, key, declaredSignType);
  const base = { canonical_string: canonical, string_to_sign_masked: masked, warnings };
  if (!key || provided === undefined || provided.trim() === '') return { ...base, likely_mistakes: [] };

  const signature = provided.trim();
  const expected = digestUpperHex(canonical + key.key, declaredSignType);
  if (signaturesEqual(expected, signature)) {
    return {
      ...base,
      provided_signature_matches: true,
      case_only_difference: signature !== expected,
      likely_mistakes: [],
    };
  }
  const reproduced = variantsFor(values, key, declaredSignType).filter((variant) =>
    reproduces(variant, signature),
  );
  const mistakes = dedupe(reproduced.map((v) => v.mistake));
  return {
    ...base,
    provided_signature_matches: false,
    likely_mistakes: mistakes.length > 0 ? mistakes : [unexplained(signature, declaredSignType)],
  };
}

/**
 * Full MD5 and SHA-256 signatures with a key the caller chose (a test key). Callers must make sure
 * it is not the configured key: that check belongs to whoever knows the configuration.
 */
export function signWithCallerKey(params: ParamInput, callerKey: string): { MD5: string; SHA256: string } {
  const { canonical } = canonicalFor(params);
  return {
    MD5: digestUpperHex(canonical + callerKey, 'MD5'),
    SHA256: digestUpperHex(canonical + callerKey, 'SHA256'),
  };
}

const EXCERPT_BEFORE = 8;
const EXCERPT_LENGTH = 24;

/**
 * Compares the string a developer hashed (their key replaced by the placeholder, or left out)
 * with the correct one and names the first place they differ. Undefined when they are equal.
 */
export function compareSignedString(expectedMasked: string, given: string): StringDifference | undefined {
  const canonical = expectedMasked.slice(0, -KEY_PLACEHOLDER.length);
  // A string given without the key (or with it already removed) is compared without it too.
  const expected = given.includes(KEY_PLACEHOLDER) ? expectedMasked : canonical;
  if (given === expected) return undefined;
  let position = 0;
  while (position < expected.length && position < given.length && expected[position] === given[position])
    position += 1;
  const from = Math.max(0, position - EXCERPT_BEFORE);
  return {
    position,
    expected_excerpt: expected.slice(from, from + EXCERPT_LENGTH),
    given_excerpt: given.slice(from, from + EXCERPT_LENGTH),
    explanation: differenceExplanation(expected, given, position),
  };
}

function differenceExplanation(expected: string, given: string, position: number): string {
  if (position >= given.length)
    return `Your string stops at character ${position}; the correct one goes on with "${expected.slice(position, position + 16)}".`;
  if (position >= expected.length)
    return `Your string has extra text from character ${position}: "${given.slice(position, position + 16)}".`;
  return `The strings differ from character ${position}: the correct one has "${expected.slice(position, position + 16)}", yours has "${given.slice(position, position + 16)}".`;
}

function reproduces(variant: Variant, signature: string): boolean {
  const { text } = variant;
  if (text === undefined) return false;
  const types: SignType[] = variant.signType ? [variant.signType] : ['MD5', 'SHA256'];
  return types.some((type) => signaturesEqual(digestUpperHex(text, type), signature));
}

function dedupe(mistakes: readonly Mistake[]): Mistake[] {
  const seen = new Set<string>();
  return mistakes.filter((m) => (seen.has(m.id) ? false : (seen.add(m.id), true)));
}

function sortedPairs(
  values: Record<string, string>,
  keepEmpty: boolean,
  compare?: (a: string, b: string) => number,
): [string, string][] {
  const names = Object.keys(values).filter((name) => keepEmpty || values[name] !== '');
  names.sort(compare ?? ((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  return names.map((name) => [name, values[name]!]);
}

function join(pairs: readonly [string, string][]): string {
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

function variantsFor(values: Record<string, string>, key: SigningKey, declared: SignType): Variant[] {
  const canonical = canonicalString(values);
  const k = key.key;
  const other: SignType = declared === 'MD5' ? 'SHA256' : 'MD5';
  const hasEmpty = Object.values(values).some((v) => v === '');
  const hasPadding = Object.values(values).some((v) => v !== v.trim());
  const needsEncoding = Object.values(values).some((v) => encodeURIComponent(v) !== v);
  const insertionOrder = join(Object.entries(values).filter(([, v]) => v !== ''));
  const trimmed = canonicalString(Object.fromEntries(Object.entries(values).map(([n, v]) => [n, v.trim()])));
  const variants: Variant[] = [
    {
      mistake: {
        id: 'sign_type_mismatch',
        explanation: `Your signature is a valid ${other} signature, but the request declares ${declared} (X-QF-SIGNTYPE ${declared === 'MD5' ? 'absent, which means MD5' : 'SHA256'}).`,
        fix:
          other === 'SHA256'
            ? 'Send the header X-QF-SIGNTYPE: SHA256 with SHA-256 signatures.'
            : 'Remove X-QF-SIGNTYPE (or sign with SHA-256) when you sign with MD5.',
      },
      text: canonical + k,
      signType: other,
    },
    {
      mistake: {
        id: 'empty_fields_signed',
        explanation:
          'You signed fields with empty values. QFPay docs disagree on this; the safe rule is to never send empty fields at all.',
        fix: 'Drop empty fields from both the body and the signed string.',
      },
      text: hasEmpty ? join(sortedPairs(values, true)) + k : undefined,
    },
    {
      mistake: {
        id: 'url_encoded_values',
        explanation:
          'You signed URL-encoded values. QFPay signs the raw values; encoding only happens in the body.',
        fix: 'Build the signed string from the raw values, then form-encode the body separately.',
      },
      text: needsEncoding
        ? join(sortedPairs(values, false).map(([n, v]) => [n, encodeURIComponent(v)])) + k
        : undefined,
    },
    {
      mistake: {
        id: 'form_encoded_values',
        explanation: 'You signed form-encoded values (spaces as "+"). QFPay signs the raw values.',
        fix: 'Sign the raw values; let the HTTP library encode the body.',
      },
      text: needsEncoding ? new URLSearchParams(sortedPairs(values, false)).toString() + k : undefined,
    },
    {
      mistake: {
        id: 'ampersand_key',
        explanation:
          'You appended "&key=<client_key>". QFPay appends the key directly, with no separator and no name.',
        fix: 'Hash canonical_string immediately followed by the key.',
      },
      text: `${canonical}&key=${k}`,
    },
    {
      mistake: {
        id: 'ampersand_before_key',
        explanation: 'You put "&" between the parameters and the key. QFPay appends the key directly.',
        fix: 'Hash canonical_string immediately followed by the key.',
      },
      text: `${canonical}&${k}`,
    },
    {
      mistake: {
        id: 'key_name_prefix',
        explanation: 'You appended "key=<client_key>". QFPay appends the bare key, without "key=".',
        fix: 'Hash canonical_string immediately followed by the key.',
      },
      text: `${canonical}key=${k}`,
    },
    {
      mistake: {
        id: 'key_prepended',
        explanation: 'You put the key before the parameters. QFPay appends it at the end.',
        fix: 'Hash canonical_string followed by the key.',
      },
      text: k + canonical,
    },
    {
      mistake: {
        id: 'key_missing',
        explanation: 'You hashed the parameters without the key.',
        fix: 'Append the client key to canonical_string before hashing.',
      },
      text: canonical,
    },
    {
      mistake: {
        id: 'unsorted_keys',
        explanation: 'You signed the parameters in the order given instead of sorted by name.',
        fix: 'Sort parameter names in ascending byte (ASCII) order before joining.',
      },
      text: insertionOrder !== canonical ? insertionOrder + k : undefined,
    },
    {
      mistake: {
        id: 'case_insensitive_sort',
        explanation:
          'You sorted names case-insensitively (or by locale). QFPay sorts by byte value, so upper-case letters come before lower-case.',
        fix: 'Sort with a plain byte/ASCII comparison.',
      },
      text: caseInsensitiveVariant(values, canonical, k),
    },
    {
      mistake: {
        id: 'whitespace_trimmed',
        explanation:
          'Some values have leading or trailing spaces and you signed them trimmed, but they are sent untrimmed (or the other way round).',
        fix: 'Trim values before building both the body and the signed string.',
      },
      text: hasPadding ? trimmed + k : undefined,
    },
    ...keyWhitespaceVariants(canonical, k),
    ...mchidVariants(values, key),
  ];
  return variants;
}

function caseInsensitiveVariant(
  values: Record<string, string>,
  canonical: string,
  key: string,
): string | undefined {
  const text = join(sortedPairs(values, false, (a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' })));
  return text !== canonical ? text + key : undefined;
}

function keyWhitespaceVariants(canonical: string, key: string): Variant[] {
  const mistake: Mistake = {
    id: 'key_whitespace',
    explanation: 'The key you used has a trailing newline or space (a common copy-paste or .env mistake).',
    fix: 'Strip whitespace from the client key where you load it.',
  };
  return ['\n', '\r\n', ' '].map((suffix) => ({ mistake, text: canonical + key + suffix }));
}

function mchidVariants(values: Record<string, string>, key: SigningKey): Variant[] {
  const hasMchid = values.mchid !== undefined && values.mchid !== '';
  if (key.mchid && !hasMchid) {
    return [
      {
        mistake: {
          id: 'mchid_missing_from_params',
          explanation:
            'You signed with mchid, but these params do not include it. QFPay assigned this merchant an mchid: it must be sent and signed on every call.',
          fix: 'Add mchid to the body and the signed string.',
        },
        text: canonicalString({ ...values, mchid: key.mchid }) + key.key,
      },
    ];
  }
  if (!key.mchid && hasMchid) {
    const withoutMchid: Params = { ...values, mchid: undefined };
    return [
      {
        mistake: {
          id: 'mchid_signed_but_not_assigned',
          explanation:
            'You signed without mchid. No mchid is configured for these credentials, so it must not be sent at all.',
          fix: 'Remove mchid from both the body and the signed string (only send it when QFPay assigned one).',
        },
        text: canonicalString(withoutMchid) + key.key,
      },
    ];
  }
  return [];
}

function unexplained(signature: string, declared: SignType): Mistake {
  const expectedLength = declared === 'MD5' ? 32 : 64;
  const lengthHint =
    /^[0-9a-fA-F]+$/.test(signature) && signature.length !== expectedLength
      ? ` Your signature has ${signature.length} hex digits; ${declared} has ${expectedLength}.`
      : '';
  return {
    id: 'not_reproduced',
    explanation: `None of the common mistakes reproduces your signature.${lengthHint} Most likely you signed with a different client key (another environment or app code), or the parameters you signed differ from the ones given here.`,
    fix: 'Check that the key belongs to this app code and environment, and that you pass exactly the fields (and values) that you sign and send.',
  };
}

function structuralWarnings(
  values: Record<string, string>,
  key: SigningKey | undefined,
  declared: SignType,
): string[] {
  const warnings: string[] = [];
  const names = Object.keys(values);
  const empty = names.filter((n) => values[n] === '');
  if (empty.length > 0) {
    warnings.push(
      `Empty fields (${empty.join(', ')}) are left out of the signed string here; do not send them in the body either.`,
    );
  }
  const padded = names.filter((n) => values[n] !== values[n]!.trim());
  if (padded.length > 0)
    warnings.push(
      `Values with leading/trailing whitespace: ${padded.join(', ')}. They are signed exactly as sent.`,
    );
  const encoded = names.filter((n) => /%[0-9A-Fa-f]{2}/.test(values[n]!));
  if (encoded.length > 0)
    warnings.push(
      `Values that look URL-encoded: ${encoded.join(', ')}. Sign and send raw values; only the body encoding escapes them.`,
    );
  const secretLike = names.filter((n) => ['key', 'client_key', 'app_key', 'sign'].includes(n.toLowerCase()));
  if (secretLike.length > 0) {
    warnings.push(
      `Never send ${secretLike.join(', ')} as a parameter: the key only goes into the hash, and the signature travels in the X-QF-SIGN header.`,
    );
  }
  if (key?.mchid && values.mchid === undefined)
    warnings.push('QFPay assigned an mchid to these credentials: every request must include mchid.');
  if (key?.mchid && values.mchid !== undefined && values.mchid !== key.mchid)
    warnings.push('The mchid in these params differs from the configured one.');
  if (key && !key.mchid && values.mchid !== undefined)
    warnings.push('No mchid is configured for these credentials: do not send mchid at all.');
  if (names.some((n) => /[^\x20-\x7e]/.test(values[n]!)))
    warnings.push('Non-ASCII values are signed as UTF-8 bytes; make sure your hash input is UTF-8.');
  if (declared === 'MD5')
    warnings.push(
      'QFPay recommends SHA-256 (header X-QF-SIGNTYPE: SHA256); MD5 still works where channels require it.',
    );
  return warnings;
}
