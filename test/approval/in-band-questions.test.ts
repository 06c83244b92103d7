import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { ConfirmationTokens, InBandQuestions, inBandStateOutTradeNo } from '../../src/safety/confirmation.js';
import { storeNonces } from '../../src/safety/operator-approval.js';
import { InMemoryApprovalStore } from '../support/in-memory-approval-store.js';

/**
 * The request state of an in-band question: server-signed, bound to one action, short-lived and
 * single use; with the money-state store, single use holds across instances and restarts.
 */

const binding = (txamt: number) => ({
  tool: 'create_payment',
  environment: 'prod',
  merchant: { appcode: 'APPCODE0123456789', mchid: 'M1' },
  params: { pay_type: '800101', txamt, txcurrcd: 'HKD', out_trade_no: 'ORDER-1' },
});

describe('InBandQuestions', () => {
  it('a state is redeemed once for its own action, also by another instance sharing the store', async () => {
    const secret = randomBytes(32);
    const store = new InMemoryApprovalStore();
    const asking = new InBandQuestions({ secret, nonces: storeNonces(store) });
    const answering = new InBandQuestions({ secret, nonces: storeNonces(store) });
    const { state } = await asking.issue(binding(100), 'ORDER-1');
    expect(inBandStateOutTradeNo(state)).toBe('ORDER-1');
    expect(await answering.redeem(state, binding(101))).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(await answering.redeem(state, binding(100))).toEqual({ ok: true });
    expect(await asking.redeem(state, binding(100))).toMatchObject({ ok: false, reason: 'reused' });
    // "After a restart": a new instance on the same store still refuses it.
    const restarted = new InBandQuestions({ secret, nonces: storeNonces(store) });
    expect(await restarted.redeem(state, binding(100))).toMatchObject({ ok: false, reason: 'reused' });
  });

  it('refuses states it did not issue, confirmation tokens, and expired questions', async () => {
    let now = 1_000_000;
    const secret = randomBytes(32);
    const questions = new InBandQuestions({ secret, ttlMs: 1_000, now: () => now });
    const stranger = new InBandQuestions();
    const { state } = await questions.issue(binding(100), 'ORDER-1');
    expect(await stranger.redeem(state, binding(100))).toMatchObject({ ok: false, reason: 'foreign' });
    // Tokens and question states share a secret here, yet neither passes for the other.
    const redeemed = new Set<string>();
    const tokens = new ConfirmationTokens({
      secret,
      nonces: {
        redeemNonce: (nonce) => Promise.resolve(!redeemed.has(nonce) && Boolean(redeemed.add(nonce))),
      },
    });
    const token = tokens.issue(binding(100)).token;
    expect(await questions.redeem(token, binding(100))).toMatchObject({ ok: false, reason: 'foreign' });
    expect(await tokens.redeem(state, binding(100))).toMatchObject({ ok: false });
    now += 1_000;
    expect(await questions.redeem(state, binding(100))).toMatchObject({ ok: false, reason: 'expired' });
  });
});
