/**
 * Amounts are integers in the currency's smallest unit (QFPay `txamt`). Conversion to and from
 * major units is done on decimal strings, never by multiplying or dividing floats, so 10.50 HKD is
 * always exactly 1050 and 1050 always prints as "10.50".
 */
import { CURRENCY_CODES, findCurrency } from './catalog/currencies.js';
import type { CurrencyEntry, PayTypeEntry, UnitName } from './catalog/types.js';
import { QfpayValidationError } from './errors.js';

/** QFPay declares txamt as Int(11). */
export const MAX_TXAMT = 99_999_999_999;

function requireCurrency(currency: string): CurrencyEntry {
  const entry = findCurrency(currency);
  if (!entry) {
    throw new QfpayValidationError(
      'txcurrcd',
      `"${currency}" is not a currency QFPay lists`,
      `Use one of ${CURRENCY_CODES.join(', ')}.`,
    );
  }
  return entry;
}

function requireMinorUnits(txamt: number): void {
  if (!Number.isSafeInteger(txamt) || txamt < 0) {
    throw new QfpayValidationError(
      'txamt',
      `must be a non-negative whole number of minor units, got ${String(txamt)}`,
      'Pass the integer amount in the smallest currency unit (HKD 10.50 is 1050).',
    );
  }
}

/** "1050" with exponent 2 → ["10", "50"]; with exponent 0 → ["1050", ""]. */
function splitMinor(txamt: number, exponent: number): [major: string, minor: string] {
  // A safe integer prints as plain digits (no exponent notation below 1e21).
  const digits = String(txamt);
  if (exponent === 0) return [digits, ''];
  const padded = digits.padStart(exponent + 1, '0');
  return [padded.slice(0, -exponent), padded.slice(-exponent)];
}

/** The major-unit amount as a plain decimal string, no currency code: 1050 HKD → "10.50". */
export function toMajorString(txamt: number, currency: string): string {
  const { exponent } = requireCurrency(currency);
  requireMinorUnits(txamt);
  const [major, minor] = splitMinor(txamt, exponent);
  return minor ? `${major}.${minor}` : major;
}

/** 1050 HKD → "HKD 10.50"; 100 JPY → "JPY 100". Throws on negative or fractional input. */
export function formatMinor(txamt: number, currency: string): string {
  const { code } = requireCurrency(currency);
  return `${code} ${toMajorString(txamt, code)}`;
}

/** One example in the currency's own terms, for error messages: "HKD 10.50 is 1050". */
export function minorUnitExample(currency: string): string {
  const entry = findCurrency(currency);
  if (!entry) return 'HKD 10.50 is 1050';
  const sample = entry.exponent >= 2 ? 1050 * 10 ** (entry.exponent - 2) : 1050;
  const suffix = entry.exponent === 0 ? ` (${entry.code} has no minor unit)` : '';
  return `${formatMinor(sample, entry.code)} is ${sample}${suffix}`;
}

const MAJOR_AMOUNT = /^(\d+)(?:\.(\d*))?$/;

/**
 * Parses a major-unit amount such as "10.50" (optionally prefixed with the same currency code,
 * "HKD 10.50") into minor units. Rejects signs, exponents, thousands separators, and more decimals
 * than the currency has, rather than silently rounding.
 */
export function parseMajorToMinor(text: string, currency: string): number {
  const entry = requireCurrency(currency);
  let amount = text.trim();
  const prefix = /^([A-Za-z]{3})\s+/.exec(amount);
  if (prefix) {
    if (prefix[1]!.toUpperCase() !== entry.code) {
      throw new QfpayValidationError(
        'txamt',
        `"${text}" is in ${prefix[1]!.toUpperCase()}, not ${entry.code}`,
        `Give the amount in ${entry.code}, or change txcurrcd.`,
      );
    }
    amount = amount.slice(prefix[0].length);
  }
  const match = MAJOR_AMOUNT.exec(amount);
  if (!match) {
    throw new QfpayValidationError(
      'txamt',
      `"${text}" is not a plain decimal amount`,
      `Write digits with at most ${entry.exponent} decimal places and no sign, separators or exponent, e.g. "${toMajorString(1050, entry.code)}".`,
    );
  }
  const whole = match[1]!;
  const fraction = match[2] ?? '';
  if (fraction.length > entry.exponent) {
    throw new QfpayValidationError(
      'txamt',
      entry.exponent === 0
        ? `"${text}" has decimals but ${entry.code} has no minor unit`
        : `"${text}" has ${fraction.length} decimal places but ${entry.code} has ${entry.exponent}`,
      entry.exponent === 0
        ? `${entry.code} has no minor unit: give a whole number.`
        : `Round to ${entry.exponent} decimal places yourself; ${minorUnitExample(entry.code)}.`,
    );
  }
  const digits = (whole + fraction.padEnd(entry.exponent, '0')).replace(/^0+(?=\d)/, '');
  const minor = Number(digits);
  if (!Number.isSafeInteger(minor)) {
    throw new QfpayValidationError(
      'txamt',
      `"${text}" is too large`,
      `QFPay accepts at most ${formatMinor(MAX_TXAMT, entry.code)}.`,
    );
  }
  return minor;
}

const ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
] as const;
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'] as const;
const SCALES = ['', 'thousand', 'million', 'billion', 'trillion', 'quadrillion'] as const;

function wordsBelowThousand(n: number): string {
  const hundreds = Math.floor(n / 100);
  const rest = n % 100;
  const parts: string[] = [];
  if (hundreds > 0) parts.push(`${ONES[hundreds]} hundred`);
  if (rest > 0 && rest < 20) parts.push(ONES[rest]!);
  else if (rest >= 20) {
    const unit = rest % 10;
    parts.push(unit ? `${TENS[Math.floor(rest / 10)]}-${ONES[unit]}` : TENS[Math.floor(rest / 10)]!);
  }
  return parts.join(' ');
}

/**
 * A non-negative safe integer in English words, short scale: 1_000_001 → "one million one".
 * No "and" inside numbers ("one hundred one"), so that the only "and" in an amount is the one
 * joining the major and minor units.
 */
export function integerToWords(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative safe integer: ${n}`);
  if (n === 0) return ONES[0];
  const groups: string[] = [];
  let rest = n;
  for (let scale = 0; rest > 0; scale += 1) {
    const group = rest % 1000;
    rest = Math.floor(rest / 1000);
    if (group > 0) {
      const scaleName = SCALES[scale]!;
      groups.unshift(scaleName ? `${wordsBelowThousand(group)} ${scaleName}` : wordsBelowThousand(group));
    }
  }
  return groups.join(' ');
}

function unitWord(count: number, unit: UnitName | undefined, fallback: string): string {
  if (!unit) return fallback;
  return count === 1 ? unit.one : unit.other;
}

/**
 * The amount in words, for confirmation summaries a human must read unambiguously:
 * 1050 HKD → "ten Hong Kong dollars and fifty cents"; 100 JPY → "one hundred yen".
 */
export function amountInWords(txamt: number, currency: string): string {
  const entry = requireCurrency(currency);
  requireMinorUnits(txamt);
  const [majorDigits, minorDigits] = splitMinor(txamt, entry.exponent);
  const major = Number(majorDigits);
  const minor = minorDigits ? Number(minorDigits) : 0;
  const majorText = `${integerToWords(major)} ${unitWord(major, entry.majorUnit, entry.code)}`;
  if (minor === 0) return majorText;
  const minorText = `${integerToWords(minor)} ${unitWord(minor, entry.minorUnit, `${entry.code} minor units`)}`;
  return `${majorText} and ${minorText}`;
}

export type AmountCheck =
  { ok: true } | { ok: false; field: 'txamt' | 'txcurrcd'; message: string; fix: string };

/**
 * Checks an amount before anything is sent: a known currency in QFPay's upper-case spelling, a
 * positive integer in minor units within Int(11), and the pay type's documented minimum.
 */
export function validateAmount(txamt: number, currency: string, payType?: PayTypeEntry): AmountCheck {
  const entry = findCurrency(currency);
  if (!entry) {
    return {
      ok: false,
      field: 'txcurrcd',
      message: `txcurrcd "${currency}" is not a currency QFPay lists.`,
      fix: `Use one of ${CURRENCY_CODES.join(', ')}; the credentials must also be enabled for it.`,
    };
  }
  if (currency !== entry.code) {
    return {
      ok: false,
      field: 'txcurrcd',
      message: `txcurrcd must be the upper-case ISO 4217 code, got "${currency}".`,
      fix: `Send "${entry.code}".`,
    };
  }
  if (payType?.currencies && !payType.currencies.includes(entry.code)) {
    return {
      ok: false,
      field: 'txcurrcd',
      message: `pay_type ${payType.payType} (${payType.name}) takes only ${payType.currencies.join(', ')}, not ${entry.code}.`,
      fix: `Send txcurrcd "${payType.currencies[0]}", or choose a pay type for ${entry.code} (list_pay_types).`,
    };
  }
  const example = minorUnitExample(entry.code);
  if (typeof txamt !== 'number' || !Number.isFinite(txamt) || !Number.isInteger(txamt)) {
    return {
      ok: false,
      field: 'txamt',
      message: `txamt must be a whole number in the smallest unit of ${entry.code}, got ${String(txamt)}.`,
      fix: `txamt is in the smallest unit: ${example}. Convert decimal amounts exactly (10.50 → 1050), never with floating-point multiplication.`,
    };
  }
  if (txamt <= 0) {
    return {
      ok: false,
      field: 'txamt',
      message: `txamt must be greater than 0, got ${txamt}.`,
      fix: `Give the positive amount in the smallest unit: ${example}.`,
    };
  }
  if (txamt > MAX_TXAMT) {
    return {
      ok: false,
      field: 'txamt',
      message: `txamt ${txamt} exceeds QFPay's Int(11) maximum of ${MAX_TXAMT}.`,
      fix: `Check the amount was not converted to minor units twice: ${example}.`,
    };
  }
  const minimum = payType?.minimumExclusive?.[entry.code];
  if (minimum !== undefined && txamt <= minimum) {
    return {
      ok: false,
      field: 'txamt',
      message: `pay_type ${payType!.payType} needs more than ${formatMinor(minimum, entry.code)}; got ${formatMinor(txamt, entry.code)}.`,
      fix: `Raise txamt above ${minimum} (${formatMinor(minimum, entry.code)}) or choose another pay_type.`,
    };
  }
  return { ok: true };
}

/** A display of an amount that never throws: falls back to minor units for an unknown currency. */
export function amountDisplay(txamt: number, txcurrcd: string): string {
  try {
    return formatMinor(txamt, txcurrcd);
  } catch {
    return `${txamt} minor units of ${txcurrcd || 'an unknown currency'}`;
  }
}
