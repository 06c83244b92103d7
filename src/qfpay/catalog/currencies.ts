import type { CurrencyEntry, UnitName } from './types.js';

function unit(one: string, other: string = one): UnitName {
  return { one, other };
}

const CENT = unit('cent', 'cents');

/**
 * The 13 currencies QFPay lists, with ISO 4217 minor-unit exponents.
 * QFPay only says "the smallest unit of the currency", so the exponent decides what txamt means:
 * txamt 1050 is HKD 10.50 but JPY 1,050.
 */
export const CURRENCIES: readonly CurrencyEntry[] = [
  {
    code: 'AED',
    name: 'UAE Dirham',
    exponent: 2,
    majorUnit: unit('UAE dirham', 'UAE dirhams'),
    minorUnit: unit('fils'),
  },
  {
    code: 'AUD',
    name: 'Australian Dollar',
    exponent: 2,
    majorUnit: unit('Australian dollar', 'Australian dollars'),
    minorUnit: CENT,
  },
  {
    code: 'CAD',
    name: 'Canadian Dollar',
    exponent: 2,
    majorUnit: unit('Canadian dollar', 'Canadian dollars'),
    minorUnit: CENT,
  },
  {
    code: 'CNY',
    name: 'Chinese Yuan Renminbi',
    exponent: 2,
    majorUnit: unit('Chinese yuan'),
    minorUnit: unit('fen'),
  },
  { code: 'EUR', name: 'Euro', exponent: 2, majorUnit: unit('euro', 'euros'), minorUnit: CENT },
  {
    code: 'HKD',
    name: 'Hong Kong Dollar',
    exponent: 2,
    majorUnit: unit('Hong Kong dollar', 'Hong Kong dollars'),
    minorUnit: CENT,
  },
  // ISO 4217 says 2 for IDR even though CLDR (and Intl) display 0 decimals; QFPay does not document it.
  {
    code: 'IDR',
    name: 'Indonesian Rupiah',
    exponent: 2,
    majorUnit: unit('Indonesian rupiah'),
    minorUnit: unit('sen'),
  },
  { code: 'JPY', name: 'Japanese Yen', exponent: 0, majorUnit: unit('yen') },
  {
    code: 'MMK',
    name: 'Myanmar Kyat',
    exponent: 2,
    majorUnit: unit('Myanmar kyat', 'Myanmar kyats'),
    minorUnit: unit('pya', 'pyas'),
  },
  {
    code: 'MYR',
    name: 'Malaysian Ringgit',
    exponent: 2,
    majorUnit: unit('Malaysian ringgit'),
    minorUnit: unit('sen'),
  },
  {
    code: 'SGD',
    name: 'Singapore Dollar',
    exponent: 2,
    majorUnit: unit('Singapore dollar', 'Singapore dollars'),
    minorUnit: CENT,
  },
  { code: 'THB', name: 'Thai Baht', exponent: 2, majorUnit: unit('Thai baht'), minorUnit: unit('satang') },
  {
    code: 'USD',
    name: 'US Dollar',
    exponent: 2,
    majorUnit: unit('US dollar', 'US dollars'),
    minorUnit: CENT,
  },
];

export const CURRENCY_CODES = CURRENCIES.map((c) => c.code) as [string, ...string[]];

/** Case-insensitive lookup; the wire value must still be sent upper-case (`entry.code`). */
export function findCurrency(code: string): CurrencyEntry | undefined {
  const upper = code.toUpperCase();
  return CURRENCIES.find((c) => c.code === upper);
}
