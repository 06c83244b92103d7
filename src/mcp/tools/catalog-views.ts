import * as z from 'zod';

import { PAY_TYPES } from '../../qfpay/catalog/index.js';
import type { CurrencyEntry, PayMode, PayTypeEntry, Wallet } from '../../qfpay/catalog/types.js';
import { amountInWords, formatMinor } from '../../qfpay/money.js';

/** Modes and wallets as the catalogue has them, so tool enums cannot drift from the data. */
export const PAY_MODES = unique(PAY_TYPES.map((p) => p.mode)) as [PayMode, ...PayMode[]];
export const WALLETS = unique(PAY_TYPES.map((p) => p.wallet)) as [Wallet, ...Wallet[]];

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

export const payTypeViewSchema = z.object({
  pay_type: z.string(),
  name: z.string(),
  wallet: z.string(),
  mode: z
    .string()
    .describe(
      'CPM: you scan the customer code (auth_code). MPM: customer scans your QR. WEB/WAP: pay_url. APP/JSAPI/MINI: pay_params. PREAUTH: a hold, see capture_preauth. CARD: not creatable here.',
    ),
  region_notes: z.string(),
  refundable: z.boolean(),
  required_fields: z.array(z.string()).describe('Needed beyond pay_type, txamt, txcurrcd, out_trade_no.'),
  optional_fields: z.array(z.string()),
  amount_rule: z.string().optional(),
  minimum_exclusive_txamt: z
    .record(z.string(), z.int())
    .optional()
    .describe('Per currency: txamt must be greater than this.'),
  currencies: z
    .array(z.string())
    .optional()
    .describe('The only txcurrcd values this type takes; absent when any enabled currency works.'),
  supports_expired_time: z.boolean(),
  cancel_endpoint: z
    .enum(['close', 'reversal', 'none'])
    .describe('What cancel_payment uses for unpaid orders of this type.'),
  returns: z
    .enum(['qrcode', 'pay_url', 'pay_params', 'none'])
    .describe('What create_payment returns for the customer.'),
  api_creatable: z.boolean().describe('False: cannot be created with create_payment (cards, terminals).'),
  legacy: z.boolean().optional().describe('Only in old QFPay docs; may no longer work.'),
});
export type PayTypeView = z.output<typeof payTypeViewSchema>;

export function payTypeView(entry: PayTypeEntry): PayTypeView {
  return {
    pay_type: entry.payType,
    name: entry.name,
    wallet: entry.wallet,
    mode: entry.mode,
    region_notes: entry.regionNotes,
    refundable: entry.refundable,
    required_fields: [...entry.requiredFields],
    optional_fields: [...entry.optionalFields],
    ...(entry.amountRule ? { amount_rule: entry.amountRule } : {}),
    ...(entry.minimumExclusive ? { minimum_exclusive_txamt: { ...entry.minimumExclusive } } : {}),
    ...(entry.currencies ? { currencies: [...entry.currencies] } : {}),
    supports_expired_time: entry.supportsExpiredTime,
    cancel_endpoint: entry.cancelEndpoint,
    returns: entry.returns,
    api_creatable: entry.apiCreatable,
    ...(entry.legacy ? { legacy: true } : {}),
  };
}

export const currencyViewSchema = z.object({
  code: z.string(),
  name: z.string(),
  exponent: z.int().describe('ISO 4217 minor-unit exponent: txamt = amount × 10^exponent.'),
  one_unit_txamt: z.int().describe('txamt of one major unit (100 for HKD, 1 for JPY).'),
  example_txamt: z.int(),
  example_display: z.string(),
  example_in_words: z.string(),
});
export type CurrencyView = z.output<typeof currencyViewSchema>;

const EXAMPLE_TXAMT = 1050;

export function currencyView(entry: CurrencyEntry): CurrencyView {
  return {
    code: entry.code,
    name: entry.name,
    exponent: entry.exponent,
    one_unit_txamt: 10 ** entry.exponent,
    example_txamt: EXAMPLE_TXAMT,
    example_display: formatMinor(EXAMPLE_TXAMT, entry.code),
    example_in_words: amountInWords(EXAMPLE_TXAMT, entry.code),
  };
}
