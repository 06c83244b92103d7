/**
 * WeChat JSAPI (800207) end to end through a real MCP client and the simulator over real HTTP:
 * the OAuth link the tool signs → the simulated WeChat consent → the redirect's code → the openid
 * → a 800207 payment with it → PAID. Codes and openids are single-use; a tampered link issues nothing.
 */
import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_SIMULATOR_CREDENTIAL } from '../../src/simulator/options.js';
import { call, type Connected, connect, simulatorRequests } from '../mcp/helpers.js';

const REDIRECT = 'https://shop.example.com/wechat/return?order=A1';

let env: Connected;

beforeAll(async () => {
  // return_url goes through the operator's allow-list like any other callback URL.
  env = await connect({ env: { QFPAY_ENV: 'local', QFPAY_ALLOWED_URLS: 'https://shop.example.com' } });
});
afterAll(async () => {
  await env.close();
});

/** What the customer's WeChat browser does: open the link, press Allow, follow the redirect. */
async function consentAndGetCode(oauthUrl: string): Promise<string> {
  const consentPage = await fetch(oauthUrl);
  expect(consentPage.status).toBe(200);
  const html = await consentPage.text();
  const consent = /name="consent" value="([0-9a-f]+)"/.exec(html)?.[1];
  expect(consent).toBeDefined();
  const allowed = await fetch(new URL('/tool/v1/get_weixin_oauth_code', oauthUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ consent: consent!, decision: 'allow' }).toString(),
    redirect: 'manual',
  });
  expect(allowed.status).toBe(302);
  const location = new URL(allowed.headers.get('location')!);
  expect(`${location.origin}${location.pathname}`).toBe('https://shop.example.com/wechat/return');
  expect(location.searchParams.get('order')).toBe('A1');
  return location.searchParams.get('code')!;
}

async function oauthUrl(): Promise<string> {
  const link = await call(env.client, 'wechat_openid', { redirect_uri: REDIRECT });
  expect(link.isError).toBe(false);
  return link.structured['oauth_url'] as string;
}

describe('wechat_openid → create_payment 800207', () => {
  it('builds the documented link, signed over app_code and redirect_uri, with no key in it', async () => {
    const url = new URL(await oauthUrl());
    expect(url.pathname).toBe('/tool/v1/get_weixin_oauth_code');
    expect([...url.searchParams.keys()].sort()).toEqual(['app_code', 'redirect_uri', 'sign']);
    expect(url.searchParams.get('app_code')).toBe(DEFAULT_SIMULATOR_CREDENTIAL.appcode);
    expect(url.searchParams.get('redirect_uri')).toBe(REDIRECT);
    // The choice in docs/simulator.md, checked independently of the code under test.
    const expected = createHash('md5')
      .update(
        `app_code=${DEFAULT_SIMULATOR_CREDENTIAL.appcode}&redirect_uri=${REDIRECT}${DEFAULT_SIMULATOR_CREDENTIAL.key}`,
      )
      .digest('hex')
      .toUpperCase();
    expect(url.searchParams.get('sign')).toBe(expected);
    expect(url.href).not.toContain(DEFAULT_SIMULATOR_CREDENTIAL.key);
  });

  it('link → consent → code → openid → 800207 payment → PAID; code and openid are single-use', async () => {
    const code = await consentAndGetCode(await oauthUrl());
    expect(code).toMatch(/^[0-9a-f]{32}$/);

    const exchanged = await call(env.client, 'wechat_openid', { code });
    expect(exchanged.isError).toBe(false);
    const openid = exchanged.structured['openid'] as string;
    expect(openid).toMatch(/^o[A-Za-z0-9_-]{27}$/);
    // The exchange is a GET signed with the X-QF-* headers, its fields in the query string.
    const exchanges = (await simulatorRequests(env.runtime.baseUrl)).filter(
      (r) => r.path === '/tool/v1/get_weixin_openid',
    );
    expect(exchanges.map((r) => [r.method, r.http_status, r.respcd])).toEqual([['GET', 200, '0000']]);

    const reused = await call(env.client, 'wechat_openid', { code });
    expect(reused.isError).toBe(true);
    expect(reused.text).toMatch(/1104/);
    expect(reused.text).toMatch(/already exchanged/);

    const created = await call(env.client, 'create_payment', {
      pay_type: '800207',
      txamt: 2_500,
      txcurrcd: 'HKD',
      out_trade_no: 'WXJSAPI0001',
      sub_openid: openid,
      return_url: 'https://shop.example.com/paid',
    });
    expect(created.isError).toBe(false);
    expect(created.structured['status']).toBe('AWAITING_CUSTOMER');
    const paid = await call(env.client, 'simulate_customer_payment', {
      out_trade_no: 'WXJSAPI0001',
      outcome: 'pay',
    });
    expect(paid.structured['status']).toBe('PAID');
    const waited = await call(env.client, 'wait_for_payment', {
      out_trade_no: 'WXJSAPI0001',
      timeout_seconds: 10,
    });
    expect(waited.structured['status']).toBe('PAID');
    expect(waited.structured['txamt']).toBe(2_500);

    const again = await call(env.client, 'create_payment', {
      pay_type: '800207',
      txamt: 2_500,
      txcurrcd: 'HKD',
      out_trade_no: 'WXJSAPI0002',
      sub_openid: openid,
      return_url: 'https://shop.example.com/paid',
    });
    expect(again.isError).toBe(true);
    expect(again.text).toMatch(/single-use/);
  });

  it('a consent answered twice issues one code; a declined one none', async () => {
    const page = await (await fetch(await oauthUrl())).text();
    const consent = /name="consent" value="([0-9a-f]+)"/.exec(page)![1]!;
    const submit = (decision: string) =>
      fetch(new URL('/tool/v1/get_weixin_oauth_code', env.runtime.baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ consent, decision }).toString(),
        redirect: 'manual',
      });
    expect((await submit('allow')).status).toBe(302);
    expect((await submit('allow')).status).toBe(410);

    const declinedPage = await (await fetch(await oauthUrl())).text();
    const declined = /name="consent" value="([0-9a-f]+)"/.exec(declinedPage)![1]!;
    const answer = await fetch(new URL('/tool/v1/get_weixin_oauth_code', env.runtime.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ consent: declined, decision: 'deny' }).toString(),
      redirect: 'manual',
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('location')).toBeNull();
  });

  it('a tampered or unsigned link shows an error page and issues nothing', async () => {
    const url = new URL(await oauthUrl());
    url.searchParams.set('redirect_uri', 'https://evil.example.net/steal');
    const tampered = await fetch(url);
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).not.toContain('name="consent"');
    url.searchParams.delete('sign');
    expect((await fetch(url)).status).toBe(403);
  });

  it('signs no link to a redirect_uri outside the operator allow-list', async () => {
    for (const redirect of [
      'https://evil.example.net/steal',
      'https://shop.example.com.evil.io/wechat/return',
      'http://shop.example.com/wechat/return',
    ]) {
      const refused = await call(env.client, 'wechat_openid', { redirect_uri: redirect });
      expect(refused.isError, redirect).toBe(true);
      expect(refused.text).toMatch(/^wechat_openid failed \(refused\) \[field: redirect_uri\]/);
      expect(refused.text).toMatch(/No link was signed/);
      expect(refused.structured['oauth_url']).toBeUndefined();
      expect(refused.text).not.toContain('sign=');
    }
    const outside = await call(env.client, 'wechat_openid', { redirect_uri: 'https://evil.example.net/x' });
    expect(outside.text).toMatch(/QFPAY_ALLOWED_URLS/);
    // Loopback stays allowed in the local environment, as for every other callback URL.
    const loopback = await call(env.client, 'wechat_openid', { redirect_uri: 'http://127.0.0.1:8080/back' });
    expect(loopback.isError).toBe(false);
  });

  it('refuses an unknown code and bad arguments, with the field named', async () => {
    const unknown = await call(env.client, 'wechat_openid', { code: 'f'.repeat(32) });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/not issued/);
    const both = await call(env.client, 'wechat_openid', { code: 'abc', redirect_uri: REDIRECT });
    expect(both.isError).toBe(true);
    expect(both.text).toMatch(/exactly one of redirect_uri/);
    const notUrl = await call(env.client, 'wechat_openid', { redirect_uri: 'javascript:alert(1)' });
    expect(notUrl.isError).toBe(true);
    expect(notUrl.text).toMatch(/redirect_uri/);
  });
});
