import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LANGUAGES } from '../../src/qfpay/language.js';
import { EmbeddedMoneyStore } from '../../src/safety/stores/embedded.js';
import { ApprovalPage } from '../../src/transports/approval-page.js';
import { PAGE_WORDS, type PageWords, pageLanguageOf } from '../../src/transports/approval-page-words.js';
import { tempDir } from '../money-safety/helpers.js';

/** Every string a page's words hold, by its path (functions called with a marker). */
function strings(words: PageWords): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (value: unknown, at: string): void => {
    if (typeof value === 'string') found.set(at, value);
    else if (typeof value === 'function') found.set(at, String((value as (x: string) => string)('<X>')));
    else if (value && typeof value === 'object')
      for (const [key, child] of Object.entries(value)) walk(child, at ? `${at}.${key}` : key);
  };
  walk(words, '');
  return found;
}

describe('the approval page speaks three languages', () => {
  it('has every word in every language, none left in English', () => {
    const english = strings(PAGE_WORDS.en);
    expect(english.size).toBeGreaterThan(40);
    for (const language of LANGUAGES.filter((l) => l !== 'en')) {
      const words = strings(PAGE_WORDS[language]);
      expect([...words.keys()].sort()).toEqual([...english.keys()].sort());
      for (const [at, text] of words) {
        expect(text, `${language} ${at}`).not.toBe(english.get(at));
        // Chinese words carry Han characters; names such as QFPay or JSON may stay Latin inside them.
        expect(text, `${language} ${at}`).toMatch(/\p{Script=Han}/u);
      }
      // Values inserted into a sentence still appear in it.
      expect(PAGE_WORDS[language].approvingLets('2026-12-02T10:00:00Z')).toContain('2026-12-02T10:00:00Z');
      expect(PAGE_WORDS[language].nothingLeft).toContain('{state}');
    }
  });

  it.each([
    ['zh-HK,zh;q=0.9,en;q=0.8', undefined, 'zh-HK'],
    ['zh-TW', undefined, 'zh-HK'],
    ['zh-Hant-HK', undefined, 'zh-HK'],
    ['zh-CN,zh;q=0.9', undefined, 'zh-CN'],
    ['zh-Hans-SG', undefined, 'zh-CN'],
    ['en-GB,en;q=0.9', 'zh-HK', 'en'],
    // The first language the page speaks, by q-value, not by position.
    ['en;q=0.5, zh-HK;q=0.9', undefined, 'zh-HK'],
    ['fr-FR, de;q=0.8, zh-CN;q=0.3', undefined, 'zh-CN'],
    // None of the three: QFPAY_LANG, then English.
    ['fr-FR, de;q=0.8', 'zh-CN', 'zh-CN'],
    ['fr-FR', undefined, 'en'],
    ['*', 'zh-HK', 'zh-HK'],
    [undefined, 'zh-CN', 'zh-CN'],
    [undefined, undefined, 'en'],
  ] as const)('Accept-Language %s with QFPAY_LANG %s → %s', (header, configured, expected) => {
    expect(pageLanguageOf({ 'accept-language': header }, configured)).toBe(expected);
  });
});

describe('the approval page over HTTP follows Accept-Language', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let store: EmbeddedMoneyStore;
  let page: ApprovalPage;
  const logged: string[] = [];
  let origin = '';

  async function newApproval(): Promise<string> {
    const id = randomBytes(16).toString('base64url');
    const now = Date.now();
    await store.createApproval({
      id,
      bindingDigest: 'a'.repeat(64),
      summary: 'REAL MONEY · HKD 1.00 (txamt 100)',
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 60_000).toISOString(),
    });
    return id;
  }

  function fetchPage(
    method: 'GET' | 'POST',
    pathname: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<{ status: number; text: string }> {
    const url = new URL(pathname, origin);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: url.port,
          path: url.pathname,
          method,
          headers: {
            host: url.host,
            ...(body === undefined ? {} : { 'content-type': 'application/json', origin }),
            ...headers,
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  beforeAll(async () => {
    dir = await tempDir('page-words');
    store = new EmbeddedMoneyStore(path.join(dir.dir, 'approvals.jsonl'));
    page = new ApprovalPage({
      store,
      secretMatches: (presented) => presented === 'the-operator-secret',
      language: 'zh-CN',
      log: (line) => logged.push(line),
    });
    origin = new URL(await page.registrationUrl()).origin;
  });
  afterAll(async () => {
    await page?.close();
    await store?.close();
    await dir?.remove();
  });

  it('serves a pending approval in the browser’s language, its state attribute unchanged', async () => {
    const id = await newApproval();
    const hongKong = await fetchPage('GET', `/approve/${id}`, { 'accept-language': 'zh-HK' });
    expect(hongKong.status).toBe(200);
    expect(hongKong.text).toContain('<html lang="zh-HK">');
    expect(hongKong.text).toContain('<h1>批准一項 QFPay 操作</h1>');
    expect(hongKong.text).toContain('data-state="pending"');
    expect(hongKong.text).toContain('data-not-done="未完成："');
    const english = await fetchPage('GET', `/approve/${id}`, { 'accept-language': 'en-US' });
    expect(english.text).toContain('<html lang="en">');
    expect(english.text).toContain('<h1>Approve a QFPay action</h1>');
    // No language the page speaks: QFPAY_LANG (here zh-CN).
    const french = await fetchPage('GET', `/approve/${id}`, { 'accept-language': 'fr-FR' });
    expect(french.text).toContain('<html lang="zh-CN">');
    expect(french.text).toContain('<button id="decline" type="button">拒绝</button>');
  });

  it('answers the page’s requests in the browser’s language, and logs in English', async () => {
    const id = await newApproval();
    const wrong = await fetchPage(
      'POST',
      `/approve/${id}/secret`,
      { 'accept-language': 'zh-HK' },
      { secret: 'not it' },
    );
    expect(wrong.status).toBe(403);
    expect(JSON.parse(wrong.text)).toEqual({ ok: false, message: '操作員密碼不正確。' });
    expect(logged.at(-1)).toBe('qfpay-mcp: approval page: failed proof (The operator secret is wrong.)');

    const declined = await fetchPage('POST', `/approve/${id}/decline`, { 'accept-language': 'zh-CN' }, {});
    expect(JSON.parse(declined.text)).toEqual({
      ok: true,
      state: 'declined',
      message: '已拒绝。这项操作不会向 QFPay 发出任何请求。',
    });
    expect((await store.getApproval(id))?.state).toBe('declined');

    const again = await fetchPage('POST', `/approve/${id}/decline`, { 'accept-language': 'en' }, {});
    expect(again.status).toBe(409);
    expect(JSON.parse(again.text)).toMatchObject({
      message: 'This approval is declined; nothing is left to decide here.',
    });
    const decided = await fetchPage('GET', `/approve/${id}`, { 'accept-language': 'zh-HK' });
    expect(decided.text).toContain('<strong id="state">已拒絕</strong>');
    expect(decided.text).toContain('data-state="declined"');
  });

  it('the registration page too', async () => {
    const register = await fetchPage('GET', '/approve/register', { 'accept-language': 'zh-TW' });
    expect(register.text).toContain('<h1>登記操作員通行密鑰</h1>');
    expect(register.text).toContain('QFPAY_OPERATOR_SECRET');
  });
});
