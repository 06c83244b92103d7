/**
 * add_note through a real MCP client and the simulator over HTTP: the note lands on the
 * transaction, the same note again is harmless, card numbers and over-long notes are refused
 * before anything is sent, and a merchant with an mchid is refused (QFPay offers it no notes).
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, type Connected, connect, countRequests } from './mcp/helpers.js';

let env: Connected;
let syssn: string;

async function noteOf(baseUrl: string, id: string): Promise<string | null> {
  const body = (await (await request(`${baseUrl}/__sim/transactions`)).body.json()) as {
    transactions: { syssn: string; note: string | null }[];
  };
  return body.transactions.find((t) => t.syssn === id)?.note ?? null;
}

beforeAll(async () => {
  env = await connect();
  const created = await call(env.client, 'create_payment', {
    pay_type: '800101',
    txamt: 1_000,
    txcurrcd: 'HKD',
    out_trade_no: 'NOTE0001',
  });
  syssn = created.structured['syssn'] as string;
});
afterAll(async () => {
  await env.close();
});

describe('add_note', () => {
  it('attaches the note; the same note twice leaves the same state; a new one replaces it', async () => {
    const first = await call(env.client, 'add_note', { syssn, note: 'Table 12, paid by the host' });
    expect(first.isError).toBe(false);
    expect(first.structured).toMatchObject({ syssn });
    expect(await noteOf(env.runtime.baseUrl, syssn)).toBe('Table 12, paid by the host');
    expect((await call(env.client, 'add_note', { syssn, note: 'Table 12, paid by the host' })).isError).toBe(
      false,
    );
    expect(await noteOf(env.runtime.baseUrl, syssn)).toBe('Table 12, paid by the host');
    await call(env.client, 'add_note', { syssn, note: '桌 12' });
    expect(await noteOf(env.runtime.baseUrl, syssn)).toBe('桌 12');
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/add_note')).toBe(3);
  });

  it('refuses card numbers and over-long notes before sending anything', async () => {
    const before = await countRequests(env.runtime.baseUrl, '/trade/v1/add_note');
    const card = await call(env.client, 'add_note', { syssn, note: 'card 4111-1111 1111 1111 exp 12/29' });
    expect(card.isError).toBe(true);
    expect(card.text).toMatch(/card number/);
    expect(card.text).not.toContain('4111-1111 1111 1111');
    const long = await call(env.client, 'add_note', { syssn, note: 'x'.repeat(201) });
    expect(long.isError).toBe(true);
    expect(long.text).toMatch(/at most 200/);
    const badSyssn = await call(env.client, 'add_note', { syssn: 'not a syssn!', note: 'hello' });
    expect(badSyssn.isError).toBe(true);
    expect(badSyssn.text).toMatch(/\[field: syssn\]/);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/add_note')).toBe(before);
  });

  it("passes QFPay's refusal of an unknown transaction on", async () => {
    const unknown = await call(env.client, 'add_note', { syssn: '20991231000000000001', note: 'hello' });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/1104/);
  });
});

describe('add_note for a merchant with an mchid', () => {
  it('is refused clearly and sends nothing', async () => {
    const withMchid = await connect({
      env: {
        QFPAY_ENV: 'local',
        QFPAY_APPCODE: 'A'.repeat(32),
        QFPAY_KEY: 'B'.repeat(32),
        QFPAY_MCHID: 'ZaMVg12345',
      },
    });
    try {
      const created = await call(withMchid.client, 'create_payment', {
        pay_type: '800101',
        txamt: 500,
        txcurrcd: 'HKD',
        out_trade_no: 'NOTE0002',
      });
      expect(created.isError).toBe(false);
      const answer = await call(withMchid.client, 'add_note', {
        syssn: created.structured['syssn'] as string,
        note: 'hello',
      });
      expect(answer.isError).toBe(true);
      expect(answer.text).toMatch(/QFPAY_MCHID/);
      expect(answer.text).toMatch(/only for merchants without an mchid/);
      expect(await countRequests(withMchid.runtime.baseUrl, '/trade/v1/add_note')).toBe(0);
    } finally {
      await withMchid.close();
    }
  });
});
