import { describe, expect, it } from 'vitest';

import {
  CURRENCIES,
  ENVIRONMENTS,
  explainRespcd,
  PAY_TYPES,
  RESPCD_ENDPOINTS,
  RESPONSE_CODES,
} from '../../src/qfpay/catalog/index.js';
import type { PayMode } from '../../src/qfpay/catalog/types.js';
import {
  CURRENCY_WORDS,
  ENVIRONMENT_WORDS,
  PAY_TYPE_WORDS,
  RESPCD_CONTEXT_WORDS,
  RESPCD_WORDS,
  STATUS_WORDS,
} from '../../src/qfpay/catalog/words.js';
import { KNOWN_VARIABLES } from '../../src/doctor.js';
import { createRuntime } from '../../src/mcp/runtime.js';
import { loadConfig } from '../../src/qfpay/config.js';
import { QfpayConfigError } from '../../src/qfpay/errors.js';
import {
  amountInChinese,
  integerInChinese,
  LANGUAGES,
  payTypeName,
  resolveLanguage,
  resolveLanguageSetting,
  respcdMeaning,
  statusWord,
} from '../../src/qfpay/language.js';
import { NORMALISED_STATUSES } from '../../src/qfpay/types.js';

const CJK = /[\u4e00-\u9fff]/;
const CHINESE = ['zh-HK', 'zh-CN'] as const;

/** A Chinese word that is really there: CJK text, not the English copied across. */
function expectChinese(text: string | undefined, english: string, what: string): void {
  expect(text, `${what}: missing`).toBeTruthy();
  expect(text, `${what}: no CJK in "${text}"`).toMatch(CJK);
  expect(text, `${what}: same as English`).not.toBe(english);
}

describe('every human word exists in all three languages', () => {
  it(`every response code (${RESPONSE_CODES.length}) has its meaning in zh-HK and zh-CN`, () => {
    for (const entry of RESPONSE_CODES) {
      expect(respcdMeaning(entry, 'en')).toBe(entry.meaning);
      for (const language of CHINESE) {
        expectChinese(RESPCD_WORDS[entry.code]?.[language], entry.meaning, `${entry.code} ${language}`);
        expect(respcdMeaning(entry, language)).toBe(RESPCD_WORDS[entry.code]?.[language]);
      }
    }
    // No words for a code the catalogue does not have (a typo would hide a missing one).
    expect(Object.keys(RESPCD_WORDS).sort()).toEqual(RESPONSE_CODES.map((e) => e.code).sort());
  });

  it(`every pay type (${PAY_TYPES.length}) has its name in zh-HK and zh-CN`, () => {
    for (const entry of PAY_TYPES) {
      expect(payTypeName(entry, 'en')).toBe(entry.name);
      for (const language of CHINESE) {
        expectChinese(PAY_TYPE_WORDS[entry.payType]?.[language], entry.name, `${entry.payType} ${language}`);
      }
    }
    expect(Object.keys(PAY_TYPE_WORDS).sort()).toEqual(PAY_TYPES.map((p) => p.payType).sort());
  });

  it("uses QFPay's own wallet names in Chinese", () => {
    const name = (code: string, language: 'zh-HK' | 'zh-CN') => PAY_TYPE_WORDS[code]![language];
    expect(name('800201', 'zh-HK')).toContain('微信支付');
    expect(name('801501', 'zh-HK')).toContain('支付寶');
    expect(name('801501', 'zh-CN')).toContain('支付宝');
    expect(name('802001', 'zh-HK')).toContain('轉數快');
    expect(name('802001', 'zh-CN')).toContain('转数快');
    expect(name('803701', 'zh-HK')).toContain('八達通');
    expect(name('803701', 'zh-CN')).toContain('八达通');
    expect(name('800701', 'zh-HK')).toContain('銀聯');
    expect(name('800701', 'zh-CN')).toContain('银联');
  });

  it(`every status (${NORMALISED_STATUSES.length}) has a word in every language; the enum stays`, () => {
    for (const status of NORMALISED_STATUSES) {
      const english = statusWord(status, 'en');
      expect(english).toMatch(/^[a-z ]+$/);
      for (const language of CHINESE)
        expectChinese(statusWord(status, language), english, `${status} ${language}`);
    }
    expect(Object.keys(STATUS_WORDS).sort()).toEqual([...NORMALISED_STATUSES].sort());
  });

  it('every currency, environment and context-dependent meaning has its Chinese words', () => {
    for (const currency of CURRENCIES)
      for (const language of CHINESE)
        expectChinese(
          CURRENCY_WORDS[currency.code]?.[language],
          currency.name,
          `${currency.code} ${language}`,
        );
    for (const environment of ENVIRONMENTS)
      for (const language of CHINESE)
        expectChinese(ENVIRONMENT_WORDS[environment.name][language], environment.title, environment.name);
    for (const [key, words] of Object.entries(RESPCD_CONTEXT_WORDS))
      for (const language of CHINESE) expectChinese(words[language], words.en, `${key} ${language}`);
  });
});

describe('explanations in every language', () => {
  const MODES: (PayMode | undefined)[] = [undefined, 'CPM', 'MPM'];
  const CODES = [...RESPONSE_CODES.map((e) => e.code), '9999'];

  it('change only the meaning: codes, outcome, cause, next action and notes are the same', () => {
    let checked = 0;
    for (const code of CODES)
      for (const endpoint of [undefined, ...RESPCD_ENDPOINTS])
        for (const mode of MODES) {
          const context = { ...(endpoint ? { endpoint } : {}), ...(mode ? { mode } : {}) };
          const english = explainRespcd(code, context);
          for (const language of CHINESE) {
            const local = explainRespcd(code, context, language);
            expect(local.meaning, `${code} ${endpoint} ${mode} ${language}`).toMatch(CJK);
            expect({ ...local, meaning: english.meaning }).toEqual(english);
            checked += 1;
          }
        }
    expect(checked).toBe(CODES.length * (RESPCD_ENDPOINTS.length + 1) * MODES.length * 2);
  });

  it('keeps the context readings apart in Chinese: 0000 on MPM is an order, on CPM the money', () => {
    expect(explainRespcd('0000', { endpoint: 'payment', mode: 'MPM' }, 'zh-CN').meaning).toBe(
      RESPCD_CONTEXT_WORDS.orderCreated['zh-CN'],
    );
    expect(explainRespcd('0000', { endpoint: 'payment', mode: 'CPM' }, 'zh-HK').meaning).toBe(
      RESPCD_CONTEXT_WORDS.cpmPaid['zh-HK'],
    );
    expect(explainRespcd('1143', { endpoint: 'refund' }, 'zh-HK').meaning).toBe(
      `${RESPCD_WORDS['1143']!['zh-HK']}${RESPCD_CONTEXT_WORDS.refundInProgressSuffix['zh-HK']}`,
    );
  });
});

describe('choosing the language', () => {
  it('per call, then QFPAY_LANG, then English', () => {
    expect(resolveLanguage('zh-CN', 'zh-HK')).toBe('zh-CN');
    expect(resolveLanguage(undefined, 'zh-HK')).toBe('zh-HK');
    expect(resolveLanguage(undefined, undefined)).toBe('en');
  });

  it('QFPAY_LANG is read and validated at start', () => {
    for (const language of LANGUAGES) expect(loadConfig({ QFPAY_LANG: language }).language).toBe(language);
    expect(loadConfig({}).language).toBe('en');
    expect(loadConfig({ QFPAY_LANG: '  ' }).language).toBe('en');
    let error: unknown;
    try {
      resolveLanguageSetting({ QFPAY_LANG: 'zh-TW' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(QfpayConfigError);
    const configError = error as QfpayConfigError;
    expect(configError.variable).toBe('QFPAY_LANG');
    expect(configError.message).toContain('"zh-TW" is not a supported language');
    expect(configError.nextAction).toContain('en, zh-HK, zh-CN');
    expect(() => loadConfig({ QFPAY_LANG: 'chinese' })).toThrow(/QFPAY_LANG/);
  });

  it('a bad QFPAY_LANG stops start-up, even for a reference-only server; doctor knows the variable', async () => {
    const started = createRuntime({
      env: { QFPAY_LANG: 'zh', QFPAY_ENV: 'local' },
      toolsets: ['reference'],
      log: () => {},
    });
    await expect(started).rejects.toBeInstanceOf(QfpayConfigError);
    await expect(started).rejects.toMatchObject({
      variable: 'QFPAY_LANG',
      nextAction: expect.stringContaining('en, zh-HK, zh-CN') as unknown,
    });
    expect(KNOWN_VARIABLES).toContain('QFPAY_LANG');
  });
});

describe('amounts read out in Chinese', () => {
  it('reads whole numbers with zeros and large units', () => {
    expect(integerInChinese(0, 'zh-HK')).toBe('零');
    expect(integerInChinese(10, 'zh-HK')).toBe('十');
    expect(integerInChinese(15, 'zh-CN')).toBe('十五');
    expect(integerInChinese(110, 'zh-HK')).toBe('一百一十');
    expect(integerInChinese(1050, 'zh-HK')).toBe('一千零五十');
    expect(integerInChinese(10_050, 'zh-HK')).toBe('一萬零五十');
    expect(integerInChinese(100_000, 'zh-CN')).toBe('十万');
    expect(integerInChinese(120_000_305, 'zh-HK')).toBe('一億二千萬零三百零五');
  });

  it('reads every decimal digit and names the currency', () => {
    expect(amountInChinese('25.00', 'HKD', 'zh-HK')).toBe('二十五點零零港元');
    expect(amountInChinese('10.50', 'CNY', 'zh-CN')).toBe('十点五零人民币');
    expect(amountInChinese('1050', 'JPY', 'zh-HK')).toBe('一千零五十日圓');
  });
});
