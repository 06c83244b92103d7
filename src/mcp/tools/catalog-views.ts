import * as z from 'zod';

import { PAY_TYPES } from '../../qfpay/catalog/index.js';
import type {
  CurrencyEntry,
  OutcomeClass,
  PayMode,
  PayTypeEntry,
  Wallet,
} from '../../qfpay/catalog/types.js';
import {
  amountInChinese,
  currencyName,
  DEFAULT_LANGUAGE,
  type Language,
  payTypeName,
} from '../../qfpay/language.js';
import { amountInWords, formatMinor, toMajorString } from '../../qfpay/money.js';

/** Modes and wallets as the catalogue has them, so tool enums cannot drift from the data. */
export const PAY_MODES = unique(PAY_TYPES.map((p) => p.mode)) as [PayMode, ...PayMode[]];
export const WALLETS = unique(PAY_TYPES.map((p) => p.wallet)) as [Wallet, ...Wallet[]];

/** Outcome classes of a response code, as explain_respcd and every respcd_explanation give them. */
export const OUTCOMES = [
  'success',
  'pending',
  'failed',
  'retryable',
] as const satisfies readonly OutcomeClass[];

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

/**
 * A pay type in full, for `list_pay_types {detail: 'full'}` and the catalogue resources. Field
 * meanings are said by the tool descriptions and the catalogue resources, not here: this
 * schema is data, and tool definitions stay small (issue #15 ¶1).
 */
export const payTypeViewSchema = z.object({
  pay_type: z.string(),
  name: z.string(),
  wallet: z.string(),
  mode: z.string(),
  region_notes: z.string(),
  refundable: z.boolean(),
  required_fields: z.array(z.string()),
  optional_fields: z.array(z.string()),
  amount_rule: z.string().optional(),
  minimum_exclusive_txamt: z.record(z.string(), z.int()).optional(),
  currencies: z.array(z.string()).optional(),
  supports_expired_time: z.boolean(),
  cancel_endpoint: z.enum(['close', 'reversal', 'none']),
  returns: z.enum(['qrcode', 'pay_url', 'pay_params', 'none']),
  api_creatable: z.boolean(),
  hosted_checkout: z.array(z.string()).optional(),
  legacy: z.boolean().optional(),
});
export type PayTypeView = z.output<typeof payTypeViewSchema>;

export function payTypeView(entry: PayTypeEntry, language: Language = DEFAULT_LANGUAGE): PayTypeView {
  return {
    pay_type: entry.payType,
    name: payTypeName(entry, language),
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
    ...(entry.hostedCheckout ? { hosted_checkout: [...entry.hostedCheckout] } : {}),
    ...(entry.legacy ? { legacy: true } : {}),
  };
}

/**
 * A pay type in one short row (the default of list_pay_types): what choosing one needs. Its
 * fields are a subset of the full view's, under the same names, so either reads the same way.
 */
export const payTypeRowSchema = z.looseObject({
  pay_type: z.string(),
  name: z.string(),
  wallet: z.string(),
  mode: z.string(),
  refundable: z.boolean(),
  api_creatable: z.boolean(),
  required_fields: z.array(z.string()).optional(),
  hosted_checkout: z.array(z.string()).optional(),
});
export type PayTypeRow = z.output<typeof payTypeRowSchema>;

export function payTypeRow(entry: PayTypeEntry, language: Language = DEFAULT_LANGUAGE): PayTypeRow {
  return {
    pay_type: entry.payType,
    name: payTypeName(entry, language),
    wallet: entry.wallet,
    mode: entry.mode,
    refundable: entry.refundable,
    api_creatable: entry.apiCreatable,
    ...(entry.requiredFields.length > 0 ? { required_fields: [...entry.requiredFields] } : {}),
    ...(entry.hostedCheckout ? { hosted_checkout: [...entry.hostedCheckout] } : {}),
  };
}

export const currencyViewSchema = z.object({
  code: z.string(),
  name: z.string(),
  exponent: z.int(),
  one_unit_txamt: z.int(),
  example_txamt: z.int(),
  example_display: z.string(),
  example_in_words: z.string(),
});
export type CurrencyView = z.output<typeof currencyViewSchema>;

const EXAMPLE_TXAMT = 1050;

/** A currency for people: its name and the example read out in `language`; numbers never change. */
export function currencyView(entry: CurrencyEntry, language: Language = DEFAULT_LANGUAGE): CurrencyView {
  return {
    code: entry.code,
    name: currencyName(entry, language),
    exponent: entry.exponent,
    one_unit_txamt: 10 ** entry.exponent,
    example_txamt: EXAMPLE_TXAMT,
    example_display: formatMinor(EXAMPLE_TXAMT, entry.code),
    example_in_words:
      language === 'en'
        ? amountInWords(EXAMPLE_TXAMT, entry.code)
        : amountInChinese(toMajorString(EXAMPLE_TXAMT, entry.code), entry.code, language),
  };
}
