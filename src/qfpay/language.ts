import * as z from 'zod';

import {
  CURRENCY_WORDS,
  ENVIRONMENT_WORDS,
  PAY_TYPE_WORDS,
  RESPCD_WORDS,
  STATUS_WORDS,
  type Words,
} from './catalog/words.js';
import type { CurrencyEntry, EnvironmentName, PayTypeEntry, ResponseCodeEntry } from './catalog/types.js';
import { getEnvironment } from './catalog/environments.js';
import { type Env, readVariable } from './env.js';
import { QfpayConfigError } from './errors.js';
import type { NormalisedStatus } from './types.js';

/**
 * The languages the human words of this server come in: English (what the model reads by
 * default), Traditional Chinese as written in Hong Kong, and Simplified Chinese. Only words meant
 * for people change with the language (a response code's meaning, pay-type names, status words,
 * approval summaries); codes, status enums and field names never do.
 */
export const LANGUAGES = ['en', 'zh-HK', 'zh-CN'] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = 'en';

export const languageSchema = z.enum(LANGUAGES);

/**
 * The optional per-call input of the tools that return words for people. No description: the
 * name and its three values say it, and every tool list is paid for in context (issue #15 ¶1).
 */
export const languageInput = languageSchema.optional();

export const LANGUAGE_VARIABLE = 'QFPAY_LANG';

/** QFPAY_LANG as the server reads it: unset means English; anything else must be one of LANGUAGES. */
export function resolveLanguageSetting(env: Env): Language {
  const raw = readVariable(env, LANGUAGE_VARIABLE);
  if (raw === undefined) return DEFAULT_LANGUAGE;
  const parsed = languageSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new QfpayConfigError(
    LANGUAGE_VARIABLE,
    `"${raw.slice(0, 16)}" is not a supported language`,
    `Set ${LANGUAGE_VARIABLE} to one of ${LANGUAGES.join(', ')} (exact spelling), or unset it for English.`,
  );
}

/**
 * A tool's `lang` argument as one of LANGUAGES, matched without regard to case as BCP 47 tags are
 * (create_checkout_link's checkout-page `lang` is QFPay's lower-case `zh-hk`); else undefined.
 */
export function languageNamed(value: unknown): Language | undefined {
  if (typeof value !== 'string') return undefined;
  const wanted = value.toLowerCase();
  return LANGUAGES.find((language) => language.toLowerCase() === wanted);
}

/** The order of choice: the call's own `lang`, then QFPAY_LANG, then English. */
export function resolveLanguage(perCall: Language | undefined, configured: Language | undefined): Language {
  return perCall ?? configured ?? DEFAULT_LANGUAGE;
}

function pick(words: Words, language: Language): string {
  return words[language];
}

/** A response code's meaning from QFPay's table, in words for people. */
export function respcdMeaning(entry: ResponseCodeEntry, language: Language): string {
  if (language === 'en') return entry.meaning;
  const words = RESPCD_WORDS[entry.code];
  return words ? words[language] : entry.meaning;
}

/** A pay type's name for people. */
export function payTypeName(entry: PayTypeEntry, language: Language): string {
  if (language === 'en') return entry.name;
  const words = PAY_TYPE_WORDS[entry.payType];
  return words ? words[language] : entry.name;
}

/** A currency's name for people. */
export function currencyName(entry: CurrencyEntry, language: Language): string {
  if (language === 'en') return entry.name;
  return CURRENCY_WORDS[entry.code]?.[language] ?? entry.name;
}

/** A normalised status as a word for people (the enum value itself never changes). */
export function statusWord(status: NormalisedStatus, language: Language): string {
  return pick(STATUS_WORDS[status], language);
}

export { amountInChinese, type ChineseLanguage, integerInChinese } from './chinese-numerals.js';

/** An environment's title for people. */
export function environmentTitle(name: EnvironmentName, language: Language): string {
  return language === 'en' ? getEnvironment(name).title : ENVIRONMENT_WORDS[name][language];
}
