import type { CurrencyEntry } from './types.js';

/** The 13 currencies QFPay lists (reference notes §6), with ISO 4217 minor-unit exponents. */
export const CURRENCIES: readonly CurrencyEntry[] = [
  { code: 'AED', name: 'UAE Dirham', exponent: 2 },
  { code: 'AUD', name: 'Australian Dollar', exponent: 2 },
  { code: 'CAD', name: 'Canadian Dollar', exponent: 2 },
  { code: 'CNY', name: 'Chinese Yuan Renminbi', exponent: 2 },
  { code: 'EUR', name: 'Euro', exponent: 2 },
  { code: 'HKD', name: 'Hong Kong Dollar', exponent: 2 },
  // ISO 4217 says 2 for IDR even though CLDR (and Intl) display 0 decimals; QFPay does not document it.
  { code: 'IDR', name: 'Indonesian Rupiah', exponent: 2 },
  { code: 'JPY', name: 'Japanese Yen', exponent: 0 },
  { code: 'MMK', name: 'Myanmar Kyat', exponent: 2 },
  { code: 'MYR', name: 'Malaysian Ringgit', exponent: 2 },
  { code: 'SGD', name: 'Singapore Dollar', exponent: 2 },
  { code: 'THB', name: 'Thai Baht', exponent: 2 },
  { code: 'USD', name: 'US Dollar', exponent: 2 },
];

export const CURRENCY_CODES = CURRENCIES.map((c) => c.code) as [string, ...string[]];

export function findCurrency(code: string): CurrencyEntry | undefined {
  const upper = code.toUpperCase();
  return CURRENCIES.find((c) => c.code === upper);
}
