import { URLSearchParams } from 'node:url';
import { createHash } from 'node:crypto';
import { Pool } from 'undici';

/**
 * The baseline a hand-written integration would run: sign the form with node:crypto (SHA-256 over
 * the sorted non-empty fields plus the key, QFPay's rule), POST it with undici, parse the JSON.
 * It deliberately shares no code with src/qfpay, so the comparison cannot hide our own cost.
 */

export function signSha256(fields, key) {
  const canonical = Object.keys(fields)
    .filter((name) => fields[name] !== '')
    .sort()
    .map((name) => `${name}=${fields[name]}`)
    .join('&');
  return createHash('sha256')
    .update(canonical + key, 'utf8')
    .digest('hex')
    .toUpperCase();
}

/** QFPay's "YYYY-MM-DD hh:mm:ss" in UTC+8. */
export function qfpayNow(date = new Date()) {
  return new Date(date.getTime() + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

export class RawQfpay {
  constructor(baseUrl, credential) {
    this.baseUrl = baseUrl;
    this.credential = credential;
    this.pool = new Pool(baseUrl, { connections: 8 });
  }

  /** One signed POST; resolves to { status, json }. */
  async post(path, fields) {
    const response = await this.pool.request({
      path,
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'x-qf-appcode': this.credential.appcode,
        'x-qf-sign': signSha256(fields, this.credential.key),
        'x-qf-signtype': 'SHA256',
      },
      body: new URLSearchParams(fields).toString(),
    });
    const text = await response.body.text();
    return { status: response.statusCode, json: JSON.parse(text) };
  }

  close() {
    return this.pool.close();
  }
}
