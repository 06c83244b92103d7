import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURRENCIES, findPayType } from '../src/qfpay/catalog/index.js';
import { QfpayValidationError } from '../src/qfpay/errors.js';
import {
  MAX_TXAMT,
  amountInWords,
  formatMinor,
  integerToWords,
  minorUnitExample,
  parseMajorToMinor,
  toMajorString,
  validateAmount,
} from '../src/qfpay/money.js';

const currencyArb = fc.constantFrom(...CURRENCIES);
const txamtArb = fc.integer({ min: 0, max: MAX_TXAMT });

/** An independent words → number reader, to check integerToWords without mirroring its code. */
const SMALL: Record<string, number> = Object.fromEntries(
  [
    'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen',
  ]
    .join(' ')
    .split(' ')
    .map((w, i) => [w, i]),
);
const TENS: Record<string, number> = {
  twenty: 20,
  thirty: 30,
  forty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
};
const SCALE: Record<string, bigint> = {
  thousand: 10n ** 3n,
  million: 10n ** 6n,
  billion: 10n ** 9n,
  trillion: 10n ** 12n,
  quadrillion: 10n ** 15n,
};
function wordsToNumber(text: string): bigint {
  let total = 0n;
  let group = 0n;
  for (const word of text.split(/[ -]/)) {
    if (word in SMALL) group += BigInt(SMALL[word]!);
    else if (word in TENS) group += BigInt(TENS[word]!);
    else if (word === 'hundred') group *= 100n;
    else if (word in SCALE) {
      total += group * SCALE[word]!;
      group = 0n;
    } else throw new Error(`unexpected word ${word} in "${text}"`);
  }
  return total + group;
}

describe('formatMinor', () => {
  it('formats known examples', () => {
    expect(formatMinor(1050, 'HKD')).toBe('HKD 10.50');
    expect(formatMinor(5, 'HKD')).toBe('HKD 0.05');
    expect(formatMinor(0, 'USD')).toBe('USD 0.00');
    expect(formatMinor(100, 'JPY')).toBe('JPY 100');
    expect(formatMinor(1050, 'jpy')).toBe('JPY 1050');
    expect(formatMinor(MAX_TXAMT, 'HKD')).toBe('HKD 999999999.99');
    expect(formatMinor(Number.MAX_SAFE_INTEGER, 'EUR')).toBe('EUR 90071992547409.91');
  });

  it('rejects negative, fractional, non-finite amounts and unknown currencies', () => {
    for (const bad of [-1, 10.5, Number.NaN, Infinity, 2 ** 53]) {
      expect(() => formatMinor(bad, 'HKD'), String(bad)).toThrow(QfpayValidationError);
    }
    expect(() => formatMinor(100, 'XYZ')).toThrow(/txcurrcd/);
  });

  it('prints exactly the currency exponent in decimals, never float artefacts', () => {
    fc.assert(
      fc.property(txamtArb, currencyArb, (txamt, currency) => {
        const text = formatMinor(txamt, currency.code);
        const decimals = currency.exponent === 0 ? '' : `\\.\\d{${currency.exponent}}`;
        expect(text).toMatch(new RegExp(`^${currency.code} (0|[1-9]\\d*)${decimals}$`));
        // The digits are the integer's own digits, with the point inserted.
        expect(BigInt(text.slice(4).replace('.', ''))).toBe(BigInt(txamt));
      }),
    );
  });
});

describe('parseMajorToMinor', () => {
  it('parses known examples', () => {
    expect(parseMajorToMinor('10.50', 'HKD')).toBe(1050);
    expect(parseMajorToMinor('10.5', 'HKD')).toBe(1050);
    expect(parseMajorToMinor('10', 'HKD')).toBe(1000);
    expect(parseMajorToMinor('10.', 'HKD')).toBe(1000);
    expect(parseMajorToMinor('0.01', 'HKD')).toBe(1);
    expect(parseMajorToMinor('  007.10 ', 'HKD')).toBe(710);
    expect(parseMajorToMinor('HKD 10.50', 'HKD')).toBe(1050);
    expect(parseMajorToMinor('hkd 10.50', 'HKD')).toBe(1050);
    expect(parseMajorToMinor('100', 'JPY')).toBe(100);
    // Classic float traps: 0.29 * 100 is 28.999999999999996, 1.005 * 100 is 100.49999999999999.
    expect(parseMajorToMinor('0.29', 'USD')).toBe(29);
    expect(parseMajorToMinor('19.99', 'USD')).toBe(1999);
  });

  it('rejects too many decimals for the currency', () => {
    expect(() => parseMajorToMinor('10.505', 'HKD')).toThrow(/3 decimal places but HKD has 2/);
    expect(() => parseMajorToMinor('1.005', 'USD')).toThrow(QfpayValidationError);
    expect(() => parseMajorToMinor('100.0', 'JPY')).toThrow(/JPY has no minor unit/);
  });

  it('rejects anything that is not a plain decimal', () => {
    for (const bad of [
      '',
      'abc',
      '-1',
      '+1',
      '1e3',
      '1,000',
      '1 000',
      '.5',
      '0x10',
      '10.50.1',
      'NaN',
      '１０',
    ]) {
      expect(() => parseMajorToMinor(bad, 'HKD'), bad).toThrow(QfpayValidationError);
    }
    expect(() => parseMajorToMinor('USD 10', 'HKD')).toThrow(/in USD, not HKD/);
    expect(() => parseMajorToMinor('99999999999999999', 'HKD')).toThrow(/too large/);
    expect(() => parseMajorToMinor('1', 'XYZ')).toThrow(/txcurrcd/);
  });

  it('round-trips with formatMinor and toMajorString for every currency', () => {
    fc.assert(
      fc.property(txamtArb, currencyArb, (txamt, currency) => {
        expect(parseMajorToMinor(formatMinor(txamt, currency.code), currency.code)).toBe(txamt);
        expect(parseMajorToMinor(toMajorString(txamt, currency.code), currency.code)).toBe(txamt);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with exact BigInt arithmetic on arbitrary decimal strings', () => {
    const arb = currencyArb.chain((currency) =>
      fc.record({
        currency: fc.constant(currency),
        whole: fc.stringMatching(/^\d{1,9}$/),
        fraction: fc.stringMatching(new RegExp(`^\\d{0,${currency.exponent}}$`)),
      }),
    );
    fc.assert(
      fc.property(arb, ({ currency, whole, fraction }) => {
        const text = fraction ? `${whole}.${fraction}` : whole;
        const expected =
          BigInt(whole) * 10n ** BigInt(currency.exponent) +
          BigInt(fraction.padEnd(currency.exponent, '0') || '0');
        expect(BigInt(parseMajorToMinor(text, currency.code))).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe('amount in words', () => {
  it('writes integers in words', () => {
    expect(integerToWords(0)).toBe('zero');
    expect(integerToWords(1)).toBe('one');
    expect(integerToWords(11)).toBe('eleven');
    expect(integerToWords(21)).toBe('twenty-one');
    expect(integerToWords(40)).toBe('forty');
    expect(integerToWords(100)).toBe('one hundred');
    expect(integerToWords(115)).toBe('one hundred fifteen');
    expect(integerToWords(1_000)).toBe('one thousand');
    expect(integerToWords(1_000_001)).toBe('one million one');
    expect(integerToWords(1_000_000_000)).toBe('one billion');
    expect(integerToWords(99_999_999_999)).toBe(
      'ninety-nine billion nine hundred ninety-nine million nine hundred ninety-nine thousand nine hundred ninety-nine',
    );
    expect(() => integerToWords(-1)).toThrow(RangeError);
    expect(() => integerToWords(1.5)).toThrow(RangeError);
  });

  it('reads back to the same integer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        const words = integerToWords(n);
        expect(words).toMatch(/^[a-z]+(?:[ -][a-z]+)*$/);
        expect(words).not.toMatch(/\band\b/);
        expect(wordsToNumber(words)).toBe(BigInt(n));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes amounts with units and plurals', () => {
    expect(amountInWords(1050, 'HKD')).toBe('ten Hong Kong dollars and fifty cents');
    expect(amountInWords(100, 'HKD')).toBe('one Hong Kong dollar');
    expect(amountInWords(101, 'HKD')).toBe('one Hong Kong dollar and one cent');
    expect(amountInWords(1, 'HKD')).toBe('zero Hong Kong dollars and one cent');
    expect(amountInWords(0, 'HKD')).toBe('zero Hong Kong dollars');
    expect(amountInWords(100, 'JPY')).toBe('one hundred yen');
    expect(amountInWords(1, 'JPY')).toBe('one yen');
    expect(amountInWords(11, 'JPY')).toBe('eleven yen');
    expect(amountInWords(1_000_001, 'JPY')).toBe('one million one yen');
    expect(amountInWords(250, 'AED')).toBe('two UAE dirhams and fifty fils');
    expect(amountInWords(100_000_000, 'MYR')).toBe('one million Malaysian ringgit');
    expect(amountInWords(MAX_TXAMT, 'USD')).toBe(
      'nine hundred ninety-nine million nine hundred ninety-nine thousand nine hundred ninety-nine US dollars and ninety-nine cents',
    );
    expect(() => amountInWords(-5, 'HKD')).toThrow(QfpayValidationError);
  });

  it('states the same amount as formatMinor', () => {
    fc.assert(
      fc.property(txamtArb, currencyArb, (txamt, currency) => {
        const words = amountInWords(txamt, currency.code);
        const [major, minor = '0'] = toMajorString(txamt, currency.code).split('.');
        const [majorWords, minorWords] = words.split(' and ');
        const majorUnit = BigInt(major!) === 1n ? currency.majorUnit!.one : currency.majorUnit!.other;
        expect(majorWords!.endsWith(` ${majorUnit}`)).toBe(true);
        expect(wordsToNumber(majorWords!.slice(0, -majorUnit.length - 1))).toBe(BigInt(major!));
        if (BigInt(minor) === 0n) {
          expect(minorWords).toBeUndefined();
        } else {
          const minorUnit = BigInt(minor) === 1n ? currency.minorUnit!.one : currency.minorUnit!.other;
          expect(wordsToNumber(minorWords!.slice(0, -minorUnit.length - 1))).toBe(BigInt(minor));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('validateAmount', () => {
  it('accepts a normal amount', () => {
    expect(validateAmount(1050, 'HKD')).toEqual({ ok: true });
    expect(validateAmount(1, 'JPY')).toEqual({ ok: true });
    expect(validateAmount(MAX_TXAMT, 'HKD')).toEqual({ ok: true });
  });

  it('explains a fractional txamt with an example in the right currency', () => {
    const result = validateAmount(10.5, 'HKD');
    expect(result).toMatchObject({ ok: false, field: 'txamt' });
    if (result.ok) throw new Error('unreachable');
    expect(result.message).toMatch(/txamt must be a whole number in the smallest unit of HKD/);
    expect(result.fix).toMatch(/HKD 10\.50 is 1050/);
    const jpy = validateAmount(10.5, 'JPY');
    if (jpy.ok) throw new Error('unreachable');
    expect(jpy.fix).toMatch(/JPY 1050 is 1050 \(JPY has no minor unit\)/);
  });

  it('rejects zero, negative, too large and non-numbers', () => {
    for (const bad of [0, -100, MAX_TXAMT + 1, Number.NaN, Infinity, '1050' as unknown as number]) {
      const result = validateAmount(bad, 'HKD');
      expect(result, String(bad)).toMatchObject({ ok: false, field: 'txamt' });
    }
    const big = validateAmount(MAX_TXAMT + 1, 'HKD');
    if (big.ok) throw new Error('unreachable');
    expect(big.message).toMatch(/Int\(11\)/);
  });

  it('rejects unknown and lower-case currencies', () => {
    const unknown = validateAmount(100, 'XYZ');
    expect(unknown).toMatchObject({ ok: false, field: 'txcurrcd' });
    if (unknown.ok) throw new Error('unreachable');
    expect(unknown.fix).toMatch(/HKD/);
    const lower = validateAmount(100, 'hkd');
    expect(lower).toMatchObject({ ok: false, field: 'txcurrcd' });
    if (lower.ok) throw new Error('unreachable');
    expect(lower.fix).toBe('Send "HKD".');
  });

  it('enforces the pay type minimum (801101: more than HKD 1.00)', () => {
    const alipayWeb = findPayType('801101')!;
    const atMinimum = validateAmount(100, 'HKD', alipayWeb);
    expect(atMinimum).toMatchObject({ ok: false, field: 'txamt' });
    if (atMinimum.ok) throw new Error('unreachable');
    expect(atMinimum.message).toMatch(/801101 needs more than HKD 1\.00/);
    expect(validateAmount(101, 'HKD', alipayWeb)).toEqual({ ok: true });
    // The documented minimum is in HKD only.
    expect(validateAmount(100, 'USD', alipayWeb)).toEqual({ ok: true });
    expect(validateAmount(100, 'HKD', findPayType('800101'))).toEqual({ ok: true });
  });

  it('gives examples for every currency', () => {
    for (const c of CURRENCIES) {
      expect(minorUnitExample(c.code)).toMatch(new RegExp(`^${c.code} \\S+ is 1050`));
    }
  });
});
