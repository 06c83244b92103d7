import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { canonicalJson, fingerprintParams } from '../../src/safety/idempotency.js';

describe('canonicalJson and fingerprintParams', () => {
  it('ignores key order and undefined members, at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: undefined, b: true } })).toBe(
      '{"a":{"b":true,"d":[1,"x",null]},"b":1}',
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        expect(fingerprintParams(reversed)).toBe(fingerprintParams(object));
        expect(JSON.parse(canonicalJson(object))).toEqual(JSON.parse(JSON.stringify(object)));
      }),
      { numRuns: 300 },
    );
  });

  it('distinguishes values that differ in any way, including type', () => {
    const base = { txamt: 1050, txcurrcd: 'HKD', out_trade_no: 'O-1' };
    const fingerprint = fingerprintParams(base);
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    for (const changed of [
      { ...base, txamt: 1051 },
      { ...base, txamt: '1050' },
      { ...base, txcurrcd: 'USD' },
      { ...base, pay_type: '800101' },
    ]) {
      expect(fingerprintParams(changed)).not.toBe(fingerprint);
    }
  });

  it('refuses values without an exact JSON form', () => {
    for (const bad of [NaN, Infinity, () => 1, Symbol('s'), 10n, new Date(0), new Map()]) {
      expect(() => canonicalJson({ value: bad })).toThrow(TypeError);
    }
  });
});
