import { canonicalString, digestUpperHex, signaturesEqual } from './signature.js';

/**
 * WeChat JSAPI (800207) through QFPay's official account (docs/simulator.md, "WeChat openid"):
 * (1) the customer's browser, inside WeChat, opens `GET /tool/v1/get_weixin_oauth_code?app_code=…
 * &redirect_uri=…[&mchid=…]&sign=…` and comes back to `redirect_uri?code=…`; (2) the merchant
 * exchanges the code with `GET /tool/v1/get_weixin_openid?code=…` (header-signed, client.ts) for
 * the payer's `openid`, which goes into `sub_openid`. Code and openid are single-use.
 *
 * QFPay's page does not say which fields `sign` covers. The choice made here: every field the link
 * carries except `sign` itself, signed like a request (sorted, raw values, key appended), MD5 in
 * uppercase hex, MD5 being the request rule when no X-QF-SIGNTYPE can be sent. The simulator also
 * accepts SHA-256 and either case.
 */

export const WECHAT_OAUTH_CODE_PATH = '/tool/v1/get_weixin_oauth_code';
export const WECHAT_OPENID_PATH = '/tool/v1/get_weixin_openid';

export interface WechatOauthFields {
  readonly app_code: string;
  readonly redirect_uri: string;
  readonly mchid?: string | undefined;
}

/** The signature of an OAuth-code link: over every field but `sign`. */
export function wechatOauthSignature(
  fields: Readonly<Record<string, string | undefined>>,
  key: string,
  algorithm: 'MD5' | 'SHA256' = 'MD5',
): string {
  const { sign: _ignored, ...signed } = fields;
  return digestUpperHex(canonicalString(signed) + key, algorithm);
}

/** The link to send the customer's WeChat browser to; `sign` is the only secret-derived part. */
export function buildWechatOauthUrl(baseUrl: string, fields: WechatOauthFields, key: string): string {
  const query = new URLSearchParams();
  query.set('app_code', fields.app_code);
  if (fields.mchid) query.set('mchid', fields.mchid);
  query.set('redirect_uri', fields.redirect_uri);
  query.set('sign', wechatOauthSignature({ ...fields }, key));
  return `${baseUrl.replace(/\/+$/, '')}${WECHAT_OAUTH_CODE_PATH}?${query.toString()}`;
}

/** Checks a received link's `sign` with the merchant's key: MD5 or SHA-256, either case. */
export function verifyWechatOauthFields(fields: Readonly<Record<string, string>>, key: string): boolean {
  const sign = fields['sign'];
  if (!sign) return false;
  return (['MD5', 'SHA256'] as const).some((algorithm) =>
    signaturesEqual(wechatOauthSignature(fields, key, algorithm), sign),
  );
}
