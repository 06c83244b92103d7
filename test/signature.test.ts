import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalString,
  signatureHeaders,
  signRawBody,
  signRequest,
  verifyNotificationSignature,
  verifyRequestSignature,
  verifyResponseSignature,
  wireParams,
} from '../src/qfpay/signature.js';
import type { Params, SignType } from '../src/qfpay/signature.js';

/** An implementation written from QFPay's signing rules (qfpay://docs/signing), sharing no code with src/qfpay/signature.ts. */
function independentSign(params: Record<string, string>, key: string, signType: SignType): string {
  const names = Object.keys(params).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const text = names.map((n) => `${n}=${params[n]}`).join('&') + key;
  return createHash(signType === 'SHA256' ? 'sha256' : 'md5')
    .update(Buffer.from(text, 'utf8'))
    .digest('hex')
    .toUpperCase();
}

const paramName = fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/);
const nonEmptyValue = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 });
const paramsArb = fc.dictionary(paramName, nonEmptyValue, { minKeys: 1, maxKeys: 10 });
const keyArb = fc.stringMatching(/^[0-9a-f]{32}$/);
const signTypeArb = fc.constantFrom<SignType>('MD5', 'SHA256');

describe('request signature: QFPay documentation worked example', () => {
  const params = { mchid: 'ZaMVg12345', txamt: 100, txcurrcd: 'HKD' };

  it('builds the canonical string without the key', () => {
    expect(canonicalString(params)).toBe('mchid=ZaMVg12345&txamt=100&txcurrcd=HKD');
  });

  it('MD5 matches the vector', () => {
    expect(signRequest(params, 'abcd1234', 'MD5')).toBe('3CB3AA9C21D818AB4CAFAA8FA3FEACF4');
  });

  it('SHA-256 matches the vector', () => {
    expect(signRequest(params, 'abcd1234', 'SHA256')).toBe(
      '99D9F7174823928B74C74B1C7A7E1538DF733774DD21C9606A202CB8BB3D74E8',
    );
  });

  it('the same vector holds whatever order the fields come in', () => {
    expect(signRequest({ txcurrcd: 'HKD', txamt: '100', mchid: 'ZaMVg12345' }, 'abcd1234', 'MD5')).toBe(
      '3CB3AA9C21D818AB4CAFAA8FA3FEACF4',
    );
  });
});

describe('request signature properties', () => {
  it('does not depend on parameter order', () => {
    fc.assert(
      fc.property(
        paramsArb.chain((params) => {
          const entries = Object.entries(params);
          const n = entries.length;
          return fc.tuple(fc.constant(params), fc.shuffledSubarray(entries, { minLength: n, maxLength: n }));
        }),
        keyArb,
        signTypeArb,
        ([params, shuffled], key, signType) => {
          expect(signRequest(Object.fromEntries(shuffled), key, signType)).toBe(
            signRequest(params, key, signType),
          );
        },
      ),
    );
  });

  it('drops empty, null and undefined values but keeps 0', () => {
    fc.assert(
      fc.property(
        paramsArb,
        keyArb,
        signTypeArb,
        fc.array(fc.tuple(paramName, fc.constantFrom('', null, undefined)), { maxLength: 4 }),
        (params, key, signType, blanks) => {
          const withBlanks: Record<string, Params[string]> = { ...params };
          for (const [name, value] of blanks) if (!(name in params)) withBlanks[name] = value;
          expect(signRequest(withBlanks, key, signType)).toBe(signRequest(params, key, signType));
          expect(wireParams(withBlanks)).toEqual(params);
        },
      ),
    );
    expect(wireParams({ txamt: 0, cancel: '0', flag: false })).toEqual({
      txamt: '0',
      cancel: '0',
      flag: 'false',
    });
    expect(signRequest({ a: 0 }, 'k', 'MD5')).not.toBe(signRequest({}, 'k', 'MD5'));
    expect(canonicalString({ b: 0, a: '' })).toBe('b=0');
  });

  it('signs Unicode values deterministically and as an independent node:crypto computation does', () => {
    fc.assert(
      fc.property(paramsArb, keyArb, signTypeArb, (params, key, signType) => {
        const first = signRequest(params, key, signType);
        expect(signRequest({ ...params }, key, signType)).toBe(first);
        expect(first).toBe(independentSign(params, key, signType));
        expect(first).toMatch(signType === 'SHA256' ? /^[0-9A-F]{64}$/ : /^[0-9A-F]{32}$/);
      }),
    );
    expect(signRequest({ goods_name: '測試商品 ☕️', txamt: 1 }, 'k', 'SHA256')).toBe(
      independentSign({ goods_name: '測試商品 ☕️', txamt: '1' }, 'k', 'SHA256'),
    );
  });

  it('sends X-QF-SIGNTYPE only with SHA-256, and never the key', () => {
    fc.assert(
      fc.property(paramsArb, keyArb, fc.stringMatching(/^[0-9A-F]{32}$/), (params, key, appcode) => {
        const sha = signatureHeaders(params, appcode, key, 'SHA256');
        const md5 = signatureHeaders(params, appcode, key, 'MD5');
        expect(sha['X-QF-SIGNTYPE']).toBe('SHA256');
        expect(md5).not.toHaveProperty('X-QF-SIGNTYPE');
        expect(sha['X-QF-APPCODE']).toBe(appcode);
        const sent = JSON.stringify([sha, md5]) + new URLSearchParams(wireParams(params)).toString();
        expect(sent).not.toContain(key);
      }),
    );
  });

  it('verifies a request signature in either hex case, and rejects another algorithm or key', () => {
    const params = { mchid: 'ZaMVg12345', txamt: 100, txcurrcd: 'HKD' };
    expect(verifyRequestSignature(params, '3cb3aa9c21d818ab4cafaa8fa3feacf4', 'abcd1234', 'MD5')).toBe(true);
    expect(verifyRequestSignature(params, '3CB3AA9C21D818AB4CAFAA8FA3FEACF4', 'abcd1234', 'SHA256')).toBe(
      false,
    );
    expect(verifyRequestSignature(params, '3CB3AA9C21D818AB4CAFAA8FA3FEACF4', 'abcd1235', 'MD5')).toBe(false);
  });
});

describe('response and notification signatures: upper(MD5(raw body + key))', () => {
  const body = '{"respcd": "0000", "resperr": "\\u4ea4\\u6613\\u6210\\u529f", "txamt": "100"}';
  const key = '0123456789abcdef0123456789abcdef';
  const expected = createHash('md5')
    .update(body + key, 'utf8')
    .digest('hex')
    .toUpperCase();

  it('signs the raw bytes exactly as received', () => {
    expect(signRawBody(body, key)).toBe(expected);
    expect(signRawBody(Buffer.from(body, 'utf8'), key)).toBe(expected);
    // Re-serialising the parsed JSON changes the bytes, so it must not verify.
    expect(verifyResponseSignature(JSON.stringify(JSON.parse(body)), expected, key)).toBe(false);
  });

  it('accepts either hex case and surrounding whitespace', () => {
    for (const verify of [verifyResponseSignature, verifyNotificationSignature]) {
      expect(verify(body, expected, key)).toBe(true);
      expect(verify(body, expected.toLowerCase(), key)).toBe(true);
      expect(verify(body, ` ${expected}\n`, key)).toBe(true);
    }
  });

  it('rejects a flipped byte anywhere in the body, a wrong key, and empty or short signatures', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, at, mask) => {
          const signature = signRawBody(bytes, key);
          const flipped = Uint8Array.from(bytes);
          const index = at % flipped.length;
          flipped[index] = flipped[index]! ^ mask;
          expect(verifyNotificationSignature(bytes, signature, key)).toBe(true);
          expect(verifyNotificationSignature(flipped, signature, key)).toBe(false);
          expect(verifyResponseSignature(flipped, signature, key)).toBe(false);
        },
      ),
    );
    expect(verifyResponseSignature(body, expected, `${key}x`)).toBe(false);
    expect(verifyResponseSignature(body, '', key)).toBe(false);
    expect(verifyResponseSignature(body, expected.slice(0, 31), key)).toBe(false);
  });
});
