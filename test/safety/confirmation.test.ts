import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ConfirmationTokens, DEFAULT_CONFIRMATION_TTL_MS } from '../../src/safety/confirmation.js';
import type { ConfirmationBinding, NonceRegistry } from '../../src/safety/confirmation.js';

const SECRET = randomBytes(32);

/** The store's nonce registry, as far as tokens see it (the real one is tested with the store). */
function nonceRegistry(): NonceRegistry {
  const redeemed = new Set<string>();
  return {
    redeemNonce: (nonce) => {
      if (redeemed.has(nonce)) return Promise.resolve(false);
      redeemed.add(nonce);
      return Promise.resolve(true);
    },
  };
}

function binding(overrides: Partial<ConfirmationBinding> = {}): ConfirmationBinding {
  return {
    tool: 'create_payment',
    environment: 'prod',
    merchant: { appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F90', mchid: 'ZaMVg12345' },
    params: {
      pay_type: '800101',
      txamt: 1050,
      txcurrcd: 'HKD',
      out_trade_no: 'ORDER-1',
      goods_name: 'Coffee',
    },
    ...overrides,
  };
}

function clock(start = 1_750_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('ConfirmationTokens', () => {
  it('redeems a token once for exactly the action it was issued for', async () => {
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    const { token, expires_at } = tokens.issue(binding());
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(expires_at)).toBeGreaterThan(Date.now());

    expect(await tokens.redeem(token, binding())).toEqual({ ok: true });
    const again = await tokens.redeem(token, binding());
    expect(again).toMatchObject({ ok: false, reason: 'reused' });
    expect(!again.ok && again.message).toMatch(/already used/);
  });

  it('binds to canonical parameters: key order and undefined members do not matter', async () => {
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    const { token } = tokens.issue(
      binding({ params: { txamt: 1050, txcurrcd: 'HKD', out_trade_no: 'O-1' } }),
    );
    const reordered = binding({
      params: { out_trade_no: 'O-1', notify_url: undefined, txcurrcd: 'HKD', txamt: 1050 },
    });
    expect(await tokens.redeem(token, reordered)).toEqual({ ok: true });
  });

  it('expires after the TTL (5 minutes by default)', async () => {
    const time = clock();
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET, now: time.now });
    const early = tokens.issue(binding());
    const late = tokens.issue(binding());
    expect(Date.parse(early.expires_at)).toBe(time.now() + DEFAULT_CONFIRMATION_TTL_MS);

    time.advance(DEFAULT_CONFIRMATION_TTL_MS - 1);
    expect(await tokens.redeem(early.token, binding())).toEqual({ ok: true });
    time.advance(1);
    const expired = await tokens.redeem(late.token, binding());
    expect(expired).toMatchObject({ ok: false, reason: 'expired' });
    expect(!expired.ok && expired.message).toContain(early.expires_at);
  });

  it('refuses a token issued for another tool, environment or merchant', async () => {
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    const { token } = tokens.issue(binding());
    for (const other of [
      binding({ tool: 'refund' }),
      binding({ environment: 'test' }),
      binding({ merchant: { appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F91', mchid: 'ZaMVg12345' } }),
      binding({ merchant: { appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F90' } }),
    ]) {
      expect(await tokens.redeem(token, other)).toMatchObject({ ok: false, reason: 'mismatch' });
    }
    // A mismatch does not use the token up.
    expect(await tokens.redeem(token, binding())).toEqual({ ok: true });
  });

  it('refuses every single-field mutation of the bound action (property, 1,000 runs)', async () => {
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    const text = fc.string({ minLength: 1, maxLength: 12 });
    const actionArbitrary = fc.record({
      tool: fc.constantFrom('create_payment', 'refund', 'cancel_payment'),
      environment: fc.constantFrom('local', 'sandbox', 'test', 'prod'),
      appcode: fc.stringMatching(/^[0-9A-F]{32}$/),
      mchid: fc.option(fc.stringMatching(/^[A-Za-z0-9]{10}$/), { nil: undefined }),
      txamt: fc.integer({ min: 1, max: 99_999_999 }),
      txcurrcd: fc.constantFrom('HKD', 'USD', 'CNY', 'JPY'),
      pay_type: fc.constantFrom('800101', '800201', '801501', '802001'),
      out_trade_no: fc.stringMatching(/^[A-Za-z0-9_]{1,32}$/),
    });
    type Action = typeof actionArbitrary extends fc.Arbitrary<infer A> ? A : never;
    const toBinding = (action: Action, extra: Record<string, string | number | boolean | undefined> = {}) =>
      binding({
        tool: action.tool,
        environment: action.environment,
        merchant:
          action.mchid === undefined
            ? { appcode: action.appcode }
            : { appcode: action.appcode, mchid: action.mchid },
        params: {
          txamt: action.txamt,
          txcurrcd: action.txcurrcd,
          pay_type: action.pay_type,
          out_trade_no: action.out_trade_no,
          ...extra,
        },
      });
    const mutations: fc.Arbitrary<(action: Action) => ConfirmationBinding>[] = [
      fc.constantFrom(1, -1).map((delta) => (a: Action) => toBinding({ ...a, txamt: a.txamt + delta })),
      fc.constant((a: Action) => toBinding({ ...a, txcurrcd: a.txcurrcd === 'HKD' ? 'USD' : 'HKD' })),
      fc.constant((a: Action) =>
        toBinding({ ...a, pay_type: a.pay_type === '800101' ? '800201' : '800101' }),
      ),
      fc.constant((a: Action) => toBinding({ ...a, out_trade_no: `${a.out_trade_no}X` })),
      fc.constant((a: Action) =>
        toBinding({ ...a, tool: a.tool === 'refund' ? 'create_payment' : 'refund' }),
      ),
      fc.constant((a: Action) =>
        toBinding({ ...a, environment: a.environment === 'prod' ? 'test' : 'prod' }),
      ),
      fc.constant((a: Action) =>
        toBinding({ ...a, mchid: a.mchid === undefined ? 'ZaMVg12345' : undefined }),
      ),
      fc.constant((a: Action) =>
        toBinding({ ...a, appcode: a.appcode.slice(1) + (a.appcode[0] === 'A' ? 'B' : 'A') }),
      ),
      text.map((value) => (a: Action) => toBinding(a, { goods_name: value })),
      fc.constant((a: Action) => {
        const changed = toBinding(a);
        return { ...changed, params: { ...changed.params, txamt: String(a.txamt) } };
      }),
      fc.constant((a: Action) => {
        const changed = toBinding(a);
        const { pay_type: _dropped, ...params } = changed.params;
        return { ...changed, params };
      }),
    ];
    await fc.assert(
      fc.asyncProperty(actionArbitrary, fc.oneof(...mutations), async (action, mutate) => {
        const { token } = tokens.issue(toBinding(action));
        const mutated = mutate(action);
        expect(await tokens.redeem(token, mutated)).toMatchObject({ ok: false, reason: 'mismatch' });
        expect(await tokens.redeem(token, toBinding(action))).toEqual({ ok: true });
      }),
      { numRuns: 1_000 },
    );
  });

  it('refuses any tampered token (every single-character substitution is caught)', async () => {
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.constantFrom(...alphabet), async (index, replacement) => {
        const { token } = tokens.issue(binding());
        const at = index % token.length;
        fc.pre(token[at] !== replacement);
        const tampered = token.slice(0, at) + replacement + token.slice(at + 1);
        const result = await tokens.redeem(tampered, binding());
        expect(result.ok).toBe(false);
        expect(['malformed', 'bad_signature']).toContain(!result.ok && result.reason);
      }),
      { numRuns: 1_000 },
    );
  });

  it('has exactly one valid spelling: no other final character of either part is accepted', async () => {
    // base64url decoders ignore the spare low bits of the last character; a lenient check would
    // accept several spellings of one token.
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const { token } = tokens.issue(binding());
    const dot = token.indexOf('.');
    for (const at of [dot - 1, token.length - 1]) {
      for (const replacement of alphabet) {
        if (replacement === token[at]) continue;
        const variant = token.slice(0, at) + replacement + token.slice(at + 1);
        expect((await tokens.redeem(variant, binding())).ok).toBe(false);
      }
    }
    expect(await tokens.redeem(token, binding())).toEqual({ ok: true });
  });

  it('refuses a token whose payload was re-encoded with a later expiry', async () => {
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    const { token } = tokens.issue(binding());
    const [payload, signature] = token.split('.') as [string, string];
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { e: number };
    decoded.e += 24 * 60 * 60 * 1000;
    const forged = `${Buffer.from(JSON.stringify(decoded)).toString('base64url')}.${signature}`;
    expect(await tokens.redeem(forged, binding())).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('says malformed for things that are not tokens', async () => {
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    for (const junk of [
      '',
      'abc',
      'a.b.c',
      '.',
      'a.',
      '.b',
      'has space.sig',
      'x'.repeat(5_000) + '.y',
      'é.é',
    ]) {
      expect(await tokens.redeem(junk, binding())).toMatchObject({ ok: false, reason: 'malformed' });
    }
    expect(await tokens.redeem(undefined as unknown as string, binding())).toMatchObject({
      reason: 'malformed',
    });
  });

  it('is accepted by another instance sharing the secret, and rejected under a different secret', async () => {
    const a = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    const b = new ConfirmationTokens({ nonces: nonceRegistry(), secret: Buffer.from(SECRET) });
    const c = new ConfirmationTokens({ nonces: nonceRegistry(), secret: randomBytes(32) });
    const withoutSecret = new ConfirmationTokens({ nonces: nonceRegistry() });

    expect(await b.redeem(a.issue(binding()).token, binding())).toEqual({ ok: true });
    expect(await c.redeem(a.issue(binding()).token, binding())).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
    expect(await withoutSecret.redeem(a.issue(binding()).token, binding())).toMatchObject({
      reason: 'bad_signature',
    });
    expect(
      await new ConfirmationTokens({ nonces: nonceRegistry() }).redeem(
        withoutSecret.issue(binding()).token,
        binding(),
      ),
    ).toMatchObject({
      reason: 'bad_signature',
    });
  });

  it('reveals nothing about the action and uses a fresh nonce each time', () => {
    const tokens = new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET });
    const first = tokens.issue(binding()).token;
    const second = tokens.issue(binding()).token;
    expect(first).not.toBe(second);
    const payload = JSON.parse(Buffer.from(first.split('.')[0]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(Object.keys(payload).sort()).toEqual(['b', 'e', 'n', 'v']);
    expect(payload.v).toBe(1);
    expect(String(payload.n)).toMatch(/^[\w-]{22}$/);
    expect(String(payload.b)).toMatch(/^[\w-]{43}$/);
    // The nonce is random, so by chance it may spell "HKD"; what must not carry the action is the rest.
    const withoutNonce = JSON.stringify({ ...payload, n: '' });
    for (const hidden of ['ORDER-1', '1050', 'HKD', 'A1B2C3D4', 'ZaMVg12345', 'create_payment']) {
      expect(withoutNonce).not.toContain(hidden);
    }
  });

  it('requires a secret of at least 32 bytes and a positive TTL', () => {
    expect(() => new ConfirmationTokens({ nonces: nonceRegistry(), secret: 'too short' })).toThrow(
      /at least 32 bytes/,
    );
    expect(() => new ConfirmationTokens({ nonces: nonceRegistry(), secret: Buffer.alloc(31, 7) })).toThrow(
      /at least 32 bytes/,
    );
    expect(() => new ConfirmationTokens({ nonces: nonceRegistry(), secret: SECRET, ttlMs: 0 })).toThrow(
      /ttlMs/,
    );
  });
});
