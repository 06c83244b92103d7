import * as z from 'zod';

import {
  CURRENCY_WORDS,
  ENVIRONMENT_WORDS,
  PAY_TYPE_WORDS,
  RESPCD_WORDS,
  STATUS_WORDS,
  type Words,
} from './catalog/words.js';
import type { EnvironmentName, PayTypeEntry, ResponseCodeEntry } from './catalog/types.js';
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

/** A normalised status as a word for people (the enum value itself never changes). */
export function statusWord(status: NormalisedStatus, language: Language): string {
  return pick(STATUS_WORDS[status], language);
}

export type ChineseLanguage = Exclude<Language, 'en'>;

const DIGITS = '零一二三四五六七八九';
const SMALL_UNITS = ['', '十', '百', '千'] as const;
const BIG_UNITS: Readonly<Record<ChineseLanguage, readonly string[]>> = {
  'zh-HK': ['', '萬', '億', '兆'],
  'zh-CN': ['', '万', '亿', '兆'],
};
const DECIMAL_POINT: Readonly<Record<ChineseLanguage, string>> = { 'zh-HK': '點', 'zh-CN': '点' };

/** 0–9999 in Chinese numerals, zeros between digits read once ("一千零五"). */
function groupInChinese(group: number): string {
  let text = '';
  let zeroPending = false;
  for (let place = 3; place >= 0; place -= 1) {
    const digit = Math.floor(group / 10 ** place) % 10;
    if (digit === 0) {
      zeroPending = text !== '';
      continue;
    }
    if (zeroPending) text += DIGITS[0];
    zeroPending = false;
    text += `${DIGITS[digit]}${SMALL_UNITS[place]}`;
  }
  return text;
}

/** A whole number in Chinese numerals: 1050 → 一千零五十, 10 → 十, 100000 → 十萬. */
export function integerInChinese(value: number, language: ChineseLanguage): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('a non-negative safe integer');
  if (value === 0) return DIGITS[0] ?? '零';
  const groups: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 10_000)) groups.push(rest % 10_000);
  let text = '';
  let zeroPending = false;
  for (let index = groups.length - 1; index >= 0; index -= 1) {
    const group = groups[index] ?? 0;
    if (group === 0) {
      zeroPending = text !== '';
      continue;
    }
    if (text !== '' && (zeroPending || group < 1000)) text += DIGITS[0];
    zeroPending = false;
    text += `${groupInChinese(group)}${BIG_UNITS[language][index] ?? ''}`;
  }
  // 10–19 are read 十, 十一 … rather than 一十, 一十一.
  return text.startsWith('一十') ? text.slice(1) : text;
}

/**
 * An amount read out in Chinese for a person checking it, from its major-unit decimal form:
 * "10.50" HKD → 十點五零港元 (every decimal digit read, so nothing is rounded away).
 */
export function amountInChinese(majorDecimal: string, currency: string, language: ChineseLanguage): string {
  const [whole = '0', decimals = ''] = majorDecimal.split('.');
  const digits = [...decimals].map((d) => DIGITS[Number(d)] ?? d).join('');
  const unit = CURRENCY_WORDS[currency]?.[language] ?? currency;
  const number = integerInChinese(Number(whole), language);
  return `${number}${digits ? `${DECIMAL_POINT[language]}${digits}` : ''}${unit}`;
}

/** An environment's title for people. */
export function environmentTitle(name: EnvironmentName, language: Language): string {
  return language === 'en' ? getEnvironment(name).title : ENVIRONMENT_WORDS[name][language];
}
