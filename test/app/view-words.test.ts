import { describe, expect, it } from 'vitest';

import { describeAmount } from '../../src/app-view/payment-state.js';
import { VIEW_WORDS, viewLanguageOf } from '../../src/app-view/words.js';
import { LANGUAGES } from '../../src/qfpay/language.js';
import { NORMALISED_STATUSES } from '../../src/qfpay/types.js';

/** The payment view's language from the host's BCP 47 locale, and its words in each language. */
describe('the view language from the host locale', () => {
  it.each([
    ['zh-HK', 'zh-HK'],
    ['zh-TW', 'zh-HK'],
    ['zh-MO', 'zh-HK'],
    ['zh-Hant', 'zh-HK'],
    ['zh-Hant-TW', 'zh-HK'],
    ['ZH_hk', 'zh-HK'],
    ['zh', 'zh-CN'],
    ['zh-CN', 'zh-CN'],
    ['zh-SG', 'zh-CN'],
    ['zh-Hans', 'zh-CN'],
    ['zh-Hans-HK', 'zh-CN'],
    ['en-HK', 'en'],
    ['ja-JP', 'en'],
    ['', 'en'],
    [undefined, 'en'],
  ])('%s → %s', (locale, language) => {
    expect(viewLanguageOf(locale)).toBe(language);
  });

  it('has a word for every status and the confirmation state in every language', () => {
    for (const language of LANGUAGES) {
      const words = VIEW_WORDS[language].status;
      for (const status of [...NORMALISED_STATUSES, 'CONFIRMATION_REQUIRED'])
        expect(words[status], `${language} ${status}`).toBeTruthy();
    }
  });

  it('reads the amount out in the language; the digits and minor units stay', () => {
    expect(describeAmount(1234, 'HKD', 'zh-HK')).toEqual({
      major: 'HKD 12.34',
      minor: '（1234 最小單位）',
      words: '十二點三四港元',
    });
    expect(describeAmount(100_000, 'JPY', 'zh-CN').words).toBe('十万日元');
    expect(describeAmount(1234, 'HKD').words).toBe('twelve Hong Kong dollars and thirty-four cents');
  });
});
