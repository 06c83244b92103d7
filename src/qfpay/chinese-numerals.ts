import { CURRENCY_WORDS } from './catalog/words.js';
import type { Language } from './language.js';

/**
 * Chinese numerals for amounts a person checks, kept apart from language.ts (which needs zod and
 * the environment) so that the payment view (src/app-view) can read amounts out without them.
 */

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
