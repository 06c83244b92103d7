import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  compareSignedString,
  diagnoseSignature,
  signWithCallerKey,
} from '../../src/mcp/signature-diagnosis.js';

/**
 * Each mistake is produced here the way a developer would make it, with node:crypto directly
 * (not with the server's signer), and the diagnosis must name exactly that mistake.
 */

const KEY = 'k3y0f7h3m3rch4n7';
const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex').toUpperCase();
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex').toUpperCase();

const params = {
  txcurrcd: 'HKD',
  txamt: 1050,
  pay_type: '800101',
  out_trade_no: 'order_1',
  goods_name: 'Tea & cake',
};
const canonical = 'goods_name=Tea & cake&out_trade_no=order_1&pay_type=800101&txamt=1050&txcurrcd=HKD';

function mistakesFor(
  signature: string,
  options: { mchid?: string; signType?: 'MD5' | 'SHA256'; input?: Record<string, string | number> } = {},
) {
  const diagnosis = diagnoseSignature(
    options.input ?? params,
    { key: KEY, ...(options.mchid ? { mchid: options.mchid } : {}) },
    signature,
    options.signType ?? 'MD5',
  );
  return { diagnosis, ids: diagnosis.likely_mistakes.map((m) => m.id) };
}

describe('diagnoseSignature', () => {
  it('builds the canonical string, masking the key, and never a digest under the key', () => {
    const diagnosis = diagnoseSignature(params, { key: KEY }, undefined, 'SHA256');
    expect(diagnosis.canonical_string).toBe(canonical);
    expect(diagnosis.string_to_sign_masked).toBe(`${canonical}<client_key>`);
    const text = JSON.stringify(diagnosis);
    expect(text).not.toContain(KEY);
    for (const digest of [md5(canonical + KEY), sha256(canonical + KEY)])
      expect(text.toUpperCase()).not.toContain(digest.slice(0, 8));
  });

  it('signs only with a key the caller passes', () => {
    expect(signWithCallerKey(params, 'my-test-key')).toEqual({
      MD5: md5(`${canonical}my-test-key`),
      SHA256: sha256(`${canonical}my-test-key`),
    });
  });

  it('names where a signed string first differs from the correct one', () => {
    const masked = `${canonical}<client_key>`;
    expect(compareSignedString(masked, masked)).toBeUndefined();
    expect(compareSignedString(masked, canonical)).toBeUndefined();
    const encoded = compareSignedString(
      masked,
      `goods_name=Tea%20%26%20cake&out_trade_no=order_1<client_key>`,
    );
    expect(encoded).toMatchObject({ position: 14, expected_excerpt: 'name=Tea & cake&out_trad' });
    expect(encoded?.explanation).toMatch(/character 14: the correct one has " & cake/);
    expect(compareSignedString(masked, `${canonical}&key=<client_key>`)?.position).toBe(canonical.length);
    expect(compareSignedString(masked, 'goods_name=Tea')?.explanation).toMatch(/stops at character 14/);
  });

  it('accepts the right signature, and lower-case hex as a case-only difference', () => {
    expect(mistakesFor(md5(canonical + KEY)).diagnosis).toMatchObject({
      provided_signature_matches: true,
      case_only_difference: false,
    });
    expect(mistakesFor(md5(canonical + KEY).toLowerCase()).diagnosis).toMatchObject({
      provided_signature_matches: true,
      case_only_difference: true,
    });
  });

  it.each([
    ['sign_type_mismatch', sha256(canonical + KEY)],
    ['ampersand_key', md5(`${canonical}&key=${KEY}`)],
    ['ampersand_before_key', md5(`${canonical}&${KEY}`)],
    ['key_name_prefix', md5(`${canonical}key=${KEY}`)],
    ['key_prepended', md5(KEY + canonical)],
    ['key_missing', md5(canonical)],
    ['key_whitespace', md5(`${canonical + KEY}\n`)],
    [
      'url_encoded_values',
      md5(`goods_name=Tea%20%26%20cake&out_trade_no=order_1&pay_type=800101&txamt=1050&txcurrcd=HKD${KEY}`),
    ],
    [
      'form_encoded_values',
      md5(`goods_name=Tea+%26+cake&out_trade_no=order_1&pay_type=800101&txamt=1050&txcurrcd=HKD${KEY}`),
    ],
    [
      'unsorted_keys',
      md5(`txcurrcd=HKD&txamt=1050&pay_type=800101&out_trade_no=order_1&goods_name=Tea & cake${KEY}`),
    ],
  ])('recognises %s', (id, signature) => {
    const { diagnosis, ids } = mistakesFor(signature);
    expect(diagnosis.provided_signature_matches).toBe(false);
    expect(ids).toContain(id);
    expect(ids).not.toContain('not_reproduced');
  });

  it('recognises a SHA-256 signature sent as MD5 the other way round too', () => {
    expect(mistakesFor(md5(canonical + KEY), { signType: 'SHA256' }).ids).toEqual(['sign_type_mismatch']);
  });

  it('recognises empty fields that were signed', () => {
    const input = { txamt: 100, txcurrcd: 'HKD', goods_info: '' };
    const { ids } = mistakesFor(md5(`goods_info=&txamt=100&txcurrcd=HKD${KEY}`), { input });
    expect(ids).toEqual(['empty_fields_signed']);
  });

  it('recognises a case-insensitive sort', () => {
    const input = { Zeta: 'z', alpha: 'a' };
    // Byte order puts "Zeta" first; a locale sort puts "alpha" first.
    const { ids } = mistakesFor(md5(`alpha=a&Zeta=z${KEY}`), { input });
    expect(ids).toContain('case_insensitive_sort');
  });

  it('recognises trimmed values', () => {
    const input = { goods_name: 'Tea ', txamt: 100 };
    const { ids } = mistakesFor(md5(`goods_name=Tea&txamt=100${KEY}`), { input });
    expect(ids).toEqual(['whitespace_trimmed']);
  });

  it('recognises a missing mchid when one is assigned, and a signed mchid when none is', () => {
    const withoutMchid = { txamt: 100, txcurrcd: 'HKD' };
    expect(
      mistakesFor(md5(`mchid=M123&txamt=100&txcurrcd=HKD${KEY}`), { input: withoutMchid, mchid: 'M123' }).ids,
    ).toEqual(['mchid_missing_from_params']);
    const withMchid = { mchid: 'M123', txamt: 100, txcurrcd: 'HKD' };
    expect(mistakesFor(md5(`txamt=100&txcurrcd=HKD${KEY}`), { input: withMchid }).ids).toEqual([
      'mchid_signed_but_not_assigned',
    ]);
  });

  it('says so when nothing reproduces the signature, with a length hint', () => {
    const { ids, diagnosis } = mistakesFor(md5(`${canonical}another-key`));
    expect(ids).toEqual(['not_reproduced']);
    expect(diagnosis.likely_mistakes[0]!.explanation).toMatch(/different client key/);
    expect(mistakesFor('ABCDEF').diagnosis.likely_mistakes[0]!.explanation).toMatch(
      /6 hex digits; MD5 has 32/,
    );
  });

  it('warns about structural problems even without a signature', () => {
    const diagnosis = diagnoseSignature(
      { txamt: 100, key: KEY, note: 'a%20b', goods_name: '' },
      { key: KEY, mchid: 'M1' },
      undefined,
      'MD5',
    );
    const warnings = diagnosis.warnings.join('\n');
    expect(warnings).toMatch(/Never send key/);
    expect(warnings).toMatch(/URL-encoded: note/);
    expect(warnings).toMatch(/Empty fields \(goods_name\)/);
    expect(warnings).toMatch(/must include mchid/);
  });

  it('works without a key: canonical string only', () => {
    const diagnosis = diagnoseSignature(params, undefined, 'ABC', 'MD5');
    expect(diagnosis.canonical_string).toBe(canonical);
    expect(diagnosis.likely_mistakes).toEqual([]);
  });
});
