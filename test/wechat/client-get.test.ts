/**
 * The client's GET path and the single-use rule, against the simulator over HTTP: the openid
 * exchange is a GET whose query string carries the signed fields (no body); an answer lost after
 * QFPay spent the code is reported as unknown and never re-sent; add_note is refused by QFPay's
 * side too for a merchant with an mchid.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { QfpayClient } from '../../src/qfpay/client.js';
import { QfpayUnknownOutcomeError, QfpayValidationError } from '../../src/qfpay/errors.js';
import { signatureHeaders } from '../../src/qfpay/signature.js';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.js';

const PLAIN = { appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F90', key: 'c0ffee00c0ffee00c0ffee00c0ffee00' };
const WITH_MCHID = {
  appcode: 'B1B2C3D4E5F60718293A4B5C6D7E8F90',
  key: 'beef0000beef0000beef0000beef0000',
  mchid: 'ZaMVg12345',
};

let simulator: RunningSimulator;
let client: QfpayClient;

/** A code as the customer's browser would get it: the link, the consent page, "Allow". */
async function codeFor(link: string): Promise<string> {
  const page = await (await fetch(link)).text();
  const consent = /name="consent" value="([0-9a-f]+)"/.exec(page)![1]!;
  const allowed = await fetch(new URL('/tool/v1/get_weixin_oauth_code', link), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ consent, decision: 'allow' }).toString(),
    redirect: 'manual',
  });
  return new URL(allowed.headers.get('location')!).searchParams.get('code')!;
}

beforeAll(async () => {
  simulator = await startSimulator({ port: 0, credentials: [PLAIN, WITH_MCHID], quiet: true });
  client = new QfpayClient({ baseUrl: simulator.baseUrl, credentials: PLAIN, signType: 'MD5' });
});
afterAll(async () => {
  await client.destroy();
  await simulator.close();
});

describe('GET /tool/v1/get_weixin_openid', () => {
  it('is a signed GET with the code in the query string; POST is refused with 405', async () => {
    const code = await codeFor(client.wechatOauthUrl('https://shop.example.com/r'));
    const answer = await client.exchangeWechatCode({ code });
    expect(answer.respcd).toBe('0000');
    const logged = simulator.control.requests().filter((r) => r.path === '/tool/v1/get_weixin_openid');
    expect(logged.map((r) => [r.method, r.http_status])).toEqual([['GET', 200]]);

    const posted = await request(`${simulator.baseUrl}/tool/v1/get_weixin_openid`, {
      method: 'POST',
      headers: {
        ...signatureHeaders({ code }, PLAIN.appcode, PLAIN.key, 'MD5'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ code }).toString(),
    });
    expect(posted.statusCode).toBe(405);
    expect(posted.headers['allow']).toBe('GET');
    await posted.body.dump();
  });

  it('a lost answer is an unknown outcome, sent once: the code may already be spent', async () => {
    const code = await codeFor(client.wechatOauthUrl('https://shop.example.com/r'));
    simulator.control.addFault({ kind: 'drop_after_commit', paths: ['/tool/v1/get_weixin_openid'] });
    const before = simulator.control.requests().filter((r) => r.path === '/tool/v1/get_weixin_openid').length;
    await expect(client.exchangeWechatCode({ code })).rejects.toBeInstanceOf(QfpayUnknownOutcomeError);
    const after = simulator.control.requests().filter((r) => r.path === '/tool/v1/get_weixin_openid').length;
    expect(after - before).toBe(1);
    // QFPay did spend it: asking again is refused, as the single-use rule says.
    await expect(client.exchangeWechatCode({ code })).rejects.toThrow(/already exchanged/);
  });
});

describe('add_note with an mchid', () => {
  it('is refused by the client before sending, and by the simulator when sent anyway', async () => {
    const merchant = new QfpayClient({
      baseUrl: simulator.baseUrl,
      credentials: WITH_MCHID,
      signType: 'MD5',
    });
    try {
      await expect(merchant.addNote({ syssn: '1', note: 'x' })).rejects.toBeInstanceOf(QfpayValidationError);
      const fields = { code: WITH_MCHID.appcode, syssn: '1', note: 'x', mchid: WITH_MCHID.mchid };
      const sent = await request(`${simulator.baseUrl}/trade/v1/add_note`, {
        method: 'POST',
        headers: {
          ...signatureHeaders(fields, WITH_MCHID.appcode, WITH_MCHID.key, 'MD5'),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(fields).toString(),
      });
      const body = (await sent.body.json()) as { respcd: string; respmsg: string };
      expect(body.respcd).toBe('1104');
      expect(body.respmsg).toMatch(/only for merchants without an mchid/);
    } finally {
      await merchant.destroy();
    }
  });
});
