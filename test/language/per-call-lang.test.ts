import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Connected, connect } from '../mcp/helpers.js';
import {
  call,
  CPM_AUTH_CODE,
  envFor,
  openSession,
  upstreamCount,
  useWitness,
} from '../money-safety/helpers.js';

/**
 * The per-call `lang` of wait_for_payment, list_currencies and the write tools: the call's own
 * language beats QFPAY_LANG, which beats English. Real MCP clients, the simulator over loopback
 * HTTP. The language is words only: the same payment asked for in two languages is one payment.
 */

const PAYMENT = '/trade/v1/payment';
const REFUND = '/trade/v1/refund';
const CJK = /[\u4e00-\u9fff]/;

const witness = useWitness('lang-call');

function ledger(name: string): string {
  return path.join(witness.dir, `${name}.jsonl`);
}

describe('wait_for_payment', () => {
  it('status words and the code meaning follow lang, then QFPAY_LANG; status and codes never change', async () => {
    const session = await openSession({
      env: envFor('local', witness.simulator, witness.credential, ledger('wait'), { QFPAY_LANG: 'zh-CN' }),
    });
    try {
      const created = await call(session.client, 'create_payment', {
        pay_type: '800101',
        txamt: 1_800,
        txcurrcd: 'HKD',
      });
      expect(created.isError, created.text).toBe(false);
      const syssn = String(created.structured.syssn);
      witness.simulator.control.pay({ syssn, outcome: 'pay' });

      const hongKong = await call(session.client, 'wait_for_payment', { syssn, lang: 'zh-HK' });
      expect(hongKong.structured).toMatchObject({ status: 'PAID', status_text: '已付款', final: true });
      expect(hongKong.structured.respcd_meaning).toMatch(CJK);
      expect(hongKong.text).toContain('PAID (已付款)');

      const configured = await call(session.client, 'wait_for_payment', { syssn });
      expect(configured.structured).toMatchObject({ status: 'PAID', status_text: '已支付' });

      const english = await call(session.client, 'wait_for_payment', { syssn, lang: 'en' });
      expect(english.structured.status).toBe('PAID');
      expect(english.structured.status_text).toBeUndefined();
      expect(english.structured.respcd_meaning).toBeUndefined();
      expect(english.structured.respcd).toBe(hongKong.structured.respcd);
    } finally {
      await session.close();
    }
  });
});

describe('list_currencies', () => {
  let plain: Connected;
  let hongKong: Connected;
  beforeAll(async () => {
    plain = await connect({ toolsets: ['reference'] });
    hongKong = await connect({ toolsets: ['reference'], env: { QFPAY_ENV: 'local', QFPAY_LANG: 'zh-HK' } });
  });
  afterAll(async () => {
    await plain.close();
    await hongKong.close();
  });

  const jpy = async (env: Connected, args: Record<string, unknown>) => {
    const answer = await call(env.client, 'list_currencies', { code: 'JPY', ...args });
    expect(answer.isError, answer.text).toBe(false);
    return (answer.structured.currencies as Record<string, unknown>[])[0]!;
  };

  it('names the currency in zh-CN when asked, over QFPAY_LANG zh-HK; numbers are the same', async () => {
    const english = await jpy(plain, {});
    expect(english.name).not.toMatch(CJK);
    expect(await jpy(hongKong, {})).toMatchObject({ name: '日圓', example_in_words: '一千零五十日圓' });
    const simplified = await jpy(hongKong, { lang: 'zh-CN' });
    expect(simplified).toMatchObject({ name: '日元', example_in_words: '一千零五十日元' });
    const { name: _en, example_in_words: _enWords, ...englishNumbers } = english;
    const { name: _cn, example_in_words: _cnWords, ...chineseNumbers } = simplified;
    expect(chineseNumbers).toEqual(englishNumbers);
    expect(await jpy(hongKong, { lang: 'en' })).toMatchObject({ name: english.name });
  });

  it('reads HKD 10.50 out in Simplified Chinese', async () => {
    const answer = await call(plain.client, 'list_currencies', { code: 'HKD', lang: 'zh-CN' });
    expect((answer.structured.currencies as Record<string, unknown>[])[0]).toMatchObject({
      name: '港元',
      example_txamt: 1050,
      example_in_words: '十点五零港元',
    });
  });
});

describe('create_payment approval in the call’s language', () => {
  it('asks in zh-HK while QFPAY_LANG is zh-CN; the same out_trade_no in zh-CN replays, nothing sent twice', async () => {
    const session = await openSession({
      env: envFor('prod', witness.simulator, witness.credential, ledger('ask'), { QFPAY_LANG: 'zh-CN' }),
      allowProdWrites: true,
      elicitation: { answer: () => ({ action: 'accept', content: { approve: true } }) },
    });
    try {
      const before = upstreamCount(witness.simulator, PAYMENT);
      const args = { pay_type: '800101', txamt: 2_500, txcurrcd: 'HKD' };
      const paid = await call(session.client, 'create_payment', { ...args, lang: 'zh-HK' });
      expect(paid.isError, paid.text).toBe(false);
      expect(paid.structured.status).toBe('AWAITING_CUSTOMER');
      expect(session.prompts).toHaveLength(1);
      const prompt = session.prompts[0]!;
      expect(prompt.split('\n')[0]).toBe('向顧客收款：HKD 25.00');
      expect(prompt).toContain('環境：prod (QFPay 正式環境) — 涉及真實款項');
      expect(prompt).toContain('金額：HKD 25.00 — 二十五點零零港元 — txamt 2500 (HKD 最小單位)');
      expect(prompt).toContain('是否批准？除非你接受，否則不會向 QFPay 發送任何請求。');
      expect(prompt).not.toMatch(/环境|金额|Approve this/);

      const again = await call(session.client, 'create_payment', {
        ...args,
        out_trade_no: paid.structured.out_trade_no,
        lang: 'zh-CN',
      });
      expect(again.isError, again.text).toBe(false);
      expect(again.structured).toMatchObject({ replayed: true, syssn: paid.structured.syssn });
      expect(session.prompts).toHaveLength(1);
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
    } finally {
      await session.close();
    }
  });

  it('a token issued for a zh-CN summary confirms the same call made in English', async () => {
    const session = await openSession({
      env: envFor('prod', witness.simulator, witness.credential, ledger('token')),
      allowProdWrites: true,
    });
    try {
      const before = upstreamCount(witness.simulator, PAYMENT);
      const args = { pay_type: '800101', txamt: 990, txcurrcd: 'HKD' };
      const asked = await call(session.client, 'create_payment', { ...args, lang: 'zh-CN' });
      expect(asked.structured.status).toBe('CONFIRMATION_REQUIRED');
      const summary = String(asked.structured.confirmation_summary);
      expect(summary.split('\n')[0]).toBe('向顾客收款：HKD 9.90');
      expect(summary).toContain('金额：HKD 9.90 — 九点九零港元');
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);

      const confirmed = await call(session.client, 'create_payment', {
        ...args,
        out_trade_no: asked.structured.out_trade_no,
        confirmation_token: asked.structured.confirmation_token,
      });
      expect(confirmed.isError, confirmed.text).toBe(false);
      expect(confirmed.structured.status).toBe('AWAITING_CUSTOMER');
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
    } finally {
      await session.close();
    }
  });
});

describe('create_checkout_link', () => {
  it('its checkout-page lang (zh-cn) also words the approval summary', async () => {
    const session = await openSession({
      env: envFor('local', witness.simulator, witness.credential, ledger('checkout'), {
        QFPAY_LANG: 'zh-HK',
        QFPAY_CONFIRM: 'always',
        QFPAY_ALLOWED_URLS: 'https://shop.example.com/',
      }),
    });
    try {
      const asked = await call(session.client, 'create_checkout_link', {
        txamt: 1_099,
        txcurrcd: 'HKD',
        return_url: 'https://shop.example.com/return',
        failed_url: 'https://shop.example.com/failed',
        notify_url: 'https://shop.example.com/notify',
        lang: 'zh-cn',
      });
      expect(asked.structured.status, asked.text).toBe('CONFIRMATION_REQUIRED');
      const summary = String(asked.structured.confirmation_summary).split('\n');
      expect(summary[0]).toBe('发出网上收款链接（顾客付款即收款）：HKD 10.99');
      expect(summary).toContain(`订单编号 (out_trade_no)：${String(asked.structured.out_trade_no)}`);
    } finally {
      await session.close();
    }
  });
});

describe('refund failure words', () => {
  it('QFPay’s refusal is explained in the call’s language, else QFPAY_LANG; the code stays', async () => {
    const session = await openSession({
      env: envFor('local', witness.simulator, witness.credential, ledger('refund'), { QFPAY_LANG: 'zh-HK' }),
    });
    try {
      witness.simulator.control.setClock({ set: '2026-03-16 23:40:00' });
      const paid = await call(session.client, 'create_payment', {
        pay_type: '800108',
        txamt: 700,
        txcurrcd: 'HKD',
        auth_code: CPM_AUTH_CODE,
      });
      expect(paid.structured.status, paid.text).toBe('PAID');
      witness.simulator.control.setClock({ set: '2026-03-17 12:00:00' });
      const before = upstreamCount(witness.simulator, REFUND);

      const simplified = await call(session.client, 'refund', {
        syssn: paid.structured.syssn,
        lang: 'zh-CN',
      });
      expect(simplified.isError).toBe(true);
      expect(simplified.structured.respcd).toBe('1265');
      expect(simplified.structured.error).toMatchObject({ kind: 'upstream', respcd: '1265' });
      expect(String((simplified.structured.error as { message: string }).message)).toContain(
        '不可退款：香港时间 23:30 至 00:30 的交易及部分促销交易不支持退款',
      );
      expect(simplified.structured.respcd_explanation).toMatchObject({
        meaning: '不可退款：香港时间 23:30 至 00:30 的交易及部分促销交易不支持退款',
      });

      const configured = await call(session.client, 'refund', { syssn: paid.structured.syssn });
      expect(configured.isError).toBe(true);
      expect(configured.structured.respcd_explanation).toMatchObject({
        meaning: '不可退款：香港時間 23:30 至 00:30 的交易及部分推廣交易不設退款',
      });
      expect(upstreamCount(witness.simulator, REFUND)).toBe(before + 2);
    } finally {
      witness.simulator.control.setClock({ set: '2026-03-16 12:00:00' });
      await session.close();
    }
  });
});
