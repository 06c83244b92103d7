import type { Language } from './language.js';

/**
 * A BCP 47 locale as one of the three languages: Traditional Chinese (zh-HK, zh-TW, zh-MO,
 * zh-Hant…) → zh-HK; other Chinese (zh, zh-CN, zh-SG, zh-Hans…) → zh-CN; English → en; any
 * other language → undefined (the caller decides). Tags are compared without regard to case, as
 * BCP 47 says. Type-only imports: the payment view bundles this module.
 */
export function languageOfLocale(locale: string | undefined): Language | undefined {
  const subtags = (locale ?? '').toLowerCase().split(/[-_]/);
  if (subtags[0] === 'en') return 'en';
  if (subtags[0] !== 'zh') return undefined;
  if (subtags.includes('hant')) return 'zh-HK';
  if (subtags.includes('hans')) return 'zh-CN';
  return ['hk', 'tw', 'mo'].includes(subtags[1] ?? '') ? 'zh-HK' : 'zh-CN';
}
