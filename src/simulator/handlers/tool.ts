import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { verifyWechatOauthFields, WECHAT_OAUTH_CODE_PATH } from '../../qfpay/wechat-oauth.js';
import { maskAppcode } from '../../qfpay/text.js';
import type { SimClock } from '../clock.js';
import { requiredField } from '../fields.js';
import { merchantKey } from '../options.js';
import type { SimCredential } from '../options.js';
import { WireError } from '../wire.js';
import type { HandlerContext, ResponseBody } from './common.js';

/**
 * QFPay's WeChat `tool` endpoints (docs/simulator.md, "WeChat openid"), with WeChat itself
 * simulated: the OAuth-code link shows a consent page, "Allow" redirects to `redirect_uri?code=…`;
 * `get_weixin_openid` exchanges that code (once) for an openid, which a 800207 payment accepts once.
 * Codes, consents and openids live in memory only (not in the state file): WeChat's codes last
 * five minutes, and a restarted simulator has forgotten the links it showed.
 */

/** WeChat's OAuth codes expire after five minutes. */
const CODE_LIFETIME_MS = 5 * 60_000;
/** Bounds on what a flood of links or codes can make the simulator hold. */
const MAX_OUTSTANDING = 10_000;
/** JSAPI through QFPay's official account: the only pay type whose openid comes from this flow. */
export const WECHAT_JSAPI_PAY_TYPE = '800207';

interface IssuedCode {
  readonly merchant: string;
  readonly issuedAtSimMs: number;
  used: boolean;
}

interface PendingConsent {
  readonly merchant: string;
  readonly appcode: string;
  readonly redirectUri: string;
}

export class WechatOauthDesk {
  private readonly codes = new Map<string, IssuedCode>();
  private readonly consents = new Map<string, PendingConsent>();
  /** openid → merchant and whether a payment used it. */
  private readonly openids = new Map<string, { merchant: string; used: boolean }>();

  constructor(private readonly clock: SimClock) {}

  openConsent(consent: PendingConsent): string {
    const id = randomBytes(16).toString('hex');
    bounded(this.consents).set(id, consent);
    return id;
  }

  /** The consent's code, once: a consent page submitted twice issues nothing the second time. */
  grant(consentId: string): { redirectUri: string; code: string } | undefined {
    const consent = this.consents.get(consentId);
    if (!consent) return undefined;
    this.consents.delete(consentId);
    const code = randomBytes(16).toString('hex');
    bounded(this.codes).set(code, {
      merchant: consent.merchant,
      issuedAtSimMs: this.clock.now(),
      used: false,
    });
    return { redirectUri: consent.redirectUri, code };
  }

  decline(consentId: string): boolean {
    return this.consents.delete(consentId);
  }

  exchange(merchant: string, code: string): string {
    const issued = this.codes.get(code);
    if (!issued || issued.merchant !== merchant)
      throw new WireError(
        '1104',
        'code was not issued to this merchant by get_weixin_oauth_code; send the customer through the OAuth link again',
      );
    if (issued.used)
      throw new WireError(
        '1104',
        'code was already exchanged: codes are single-use; send the customer through the OAuth link again for a new one',
      );
    if (this.clock.now() - issued.issuedAtSimMs > CODE_LIFETIME_MS)
      throw new WireError(
        '1104',
        'code expired (WeChat codes last five minutes); send the customer through the OAuth link again',
      );
    issued.used = true;
    const openid = `o${randomBytes(21).toString('base64url').slice(0, 27)}`;
    bounded(this.openids).set(openid, { merchant, used: false });
    return openid;
  }

  /**
   * A 800207 payment's sub_openid: one this simulator issued is good for one payment of its
   * merchant. One it never issued is accepted as before (a merchant with an official account of
   * its own gets openids elsewhere).
   */
  spendOpenid(merchant: string, openid: string): void {
    const issued = this.openids.get(openid);
    if (!issued) return;
    if (issued.merchant !== merchant)
      throw new WireError(
        '1104',
        'sub_openid was issued to another merchant; use the openid get_weixin_openid gave you',
      );
    if (issued.used)
      throw new WireError(
        '1104',
        'sub_openid was already used for a payment: openids from get_weixin_openid are single-use; get a new one for this payment',
      );
    issued.used = true;
  }

  clear(): void {
    this.codes.clear();
    this.consents.clear();
    this.openids.clear();
  }
}

/** Drops the oldest entry when full (Maps iterate in insertion order). */
function bounded<V>(map: Map<string, V>): Map<string, V> {
  if (map.size >= MAX_OUTSTANDING) map.delete(map.keys().next().value!);
  return map;
}

/** GET /tool/v1/get_weixin_openid (header-signed): `code` → `{respcd, resperr, respmsg, openid}`. */
export function handleWechatOpenid(context: HandlerContext): ResponseBody {
  const code = requiredField(context.params, 'code', 'the code WeChat appended to redirect_uri');
  const openid = context.engine.wechat.exchange(context.auth.merchant, code);
  return { respcd: '0000', resperr: '请求成功', respmsg: '', openid };
}

export function isWechatOauthPath(pathname: string): boolean {
  return pathname === WECHAT_OAUTH_CODE_PATH;
}

const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
} as const;

/**
 * The browser side of get_weixin_oauth_code: GET verifies the link (merchant, `sign`,
 * redirect_uri) and shows the simulated WeChat consent; the page's POST answers 302 to
 * `redirect_uri?code=…` on "Allow". A link that fails verification shows an error and issues nothing.
 */
export class WechatOauthRoute {
  constructor(
    private readonly desk: WechatOauthDesk,
    private readonly credentials: () => readonly SimCredential[],
  ) {}

  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer | undefined): void {
    if (req.method === 'GET') return this.showConsent(res, url);
    if (req.method === 'POST') return this.decide(res, body);
    res.setHeader('Allow', 'GET, POST');
    page(res, 405, 'Method not allowed', 'Open this link in a browser.');
  }

  private showConsent(res: ServerResponse, url: URL): void {
    const fields: Record<string, string> = {};
    for (const [name, value] of url.searchParams) {
      if (name in fields) return page(res, 400, 'Invalid link', `${name} appears twice in the link.`);
      fields[name] = value;
    }
    const appcode = fields['app_code'] ?? '';
    const mchid = fields['mchid'] || undefined;
    const credential = this.credentials().find((c) => c.appcode === appcode && c.mchid === mchid);
    if (!credential)
      return page(res, 400, 'Invalid link', 'app_code (and mchid) do not name a merchant of this simulator.');
    if (!verifyWechatOauthFields(fields, credential.key))
      return page(
        res,
        403,
        'Invalid link',
        'sign does not match the link: it was altered or signed with another key.',
      );
    const redirectUri = fields['redirect_uri'] ?? '';
    if (!isWebUrl(redirectUri))
      return page(res, 400, 'Invalid link', 'redirect_uri must be an absolute http(s) URL.');
    const consent = this.desk.openConsent({
      merchant: merchantKey(credential.appcode, credential.mchid),
      appcode: credential.appcode,
      redirectUri,
    });
    page(
      res,
      200,
      'WeChat (simulated)',
      `Merchant ${maskAppcode(credential.appcode)} asks to know who you are on WeChat, to take a payment.`,
      `<form method="post" action="${WECHAT_OAUTH_CODE_PATH}"><input type="hidden" name="consent" value="${consent}">` +
        '<button type="submit" name="decision" value="allow">Allow</button> ' +
        '<button type="submit" name="decision" value="deny">Deny</button></form>',
    );
  }

  private decide(res: ServerResponse, body: Buffer | undefined): void {
    const form = new URLSearchParams(body?.toString('utf8') ?? '');
    const consent = form.get('consent') ?? '';
    if (form.get('decision') !== 'allow') {
      this.desk.decline(consent);
      return page(res, 200, 'Declined', 'You declined; no code was issued.');
    }
    const granted = this.desk.grant(consent);
    if (!granted)
      return page(res, 410, 'Link used', 'This consent was already answered; open the payment link again.');
    const target = new URL(granted.redirectUri);
    target.searchParams.set('code', granted.code);
    res.writeHead(302, { Location: target.toString(), ...PAGE_HEADERS, 'Content-Length': '0' });
    res.end();
  }
}

function isWebUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function page(res: ServerResponse, status: number, title: string, message: string, extra = ''): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${extra}</body></html>`;
  const bytes = Buffer.from(html, 'utf8');
  res.writeHead(status, {
    ...PAGE_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(bytes.length),
  });
  res.end(bytes);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
