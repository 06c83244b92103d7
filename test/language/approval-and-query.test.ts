import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { call, envFor, openSession, upstreamCount, useWitness } from '../money-safety/helpers.js';

/**
 * The approval summary a person reads is in the operator's language (QFPAY_LANG), shown through
 * a real MCP client's form elicitation; the model's fields stay the same. query_transaction's
 * words for people follow `lang` as well.
 */

const PAYMENT = '/trade/v1/payment';

const witness = useWitness('lang');

describe('approval summary in zh-HK', () => {
  it('the person is asked in Traditional Chinese with every bound fact; the payment is sent once', async () => {
    const session = await openSession({
      env: envFor('prod', witness.simulator, witness.credential, path.join(witness.dir, 'zh-hk.jsonl'), {
        QFPAY_LANG: 'zh-HK',
      }),
      allowProdWrites: true,
      elicitation: { answer: () => ({ action: 'accept', content: { approve: true } }) },
    });
    try {
      const before = upstreamCount(witness.simulator, PAYMENT);
      const paid = await call(session.client, 'create_payment', {
        pay_type: '800101',
        txamt: 2_500,
        txcurrcd: 'HKD',
      });
      expect(paid.isError).toBe(false);
      expect(paid.structured.status).toBe('AWAITING_CUSTOMER');
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
      expect(session.prompts).toHaveLength(1);
      const prompt = session.prompts[0]!;
      expect(prompt).toContain('環境：prod (QFPay 正式環境)');
      expect(prompt).toContain('涉及真實款項');
      expect(prompt).toContain('金額：HKD 25.00 — 二十五點零零港元 — txamt 2500 (HKD 最小單位)');
      expect(prompt).toContain('支付方式：800101 支付寶跨境線下掃碼（店內二維碼）');
      expect(prompt).toContain(`訂單編號 (out_trade_no)：${String(paid.structured.out_trade_no)}`);
      expect(prompt).not.toContain('REAL MONEY');
    } finally {
      await session.close();
    }
  });
});

describe('query_transaction words for people', () => {
  it('lang zh-CN: status_text, pay-type name and code meaning in Chinese; status and codes unchanged', async () => {
    const session = await openSession({
      env: envFor('local', witness.simulator, witness.credential, path.join(witness.dir, 'query.jsonl')),
    });
    try {
      const created = await call(session.client, 'create_payment', {
        pay_type: '800101',
        txamt: 1_200,
        txcurrcd: 'HKD',
      });
      expect(created.isError).toBe(false);
      const english = await call(session.client, 'query_transaction', { syssn: created.structured.syssn });
      const chinese = await call(session.client, 'query_transaction', {
        syssn: created.structured.syssn,
        lang: 'zh-CN',
      });
      const [englishRow] = english.structured.payments as Record<string, unknown>[];
      const [chineseRow] = chinese.structured.payments as Record<string, unknown>[];
      expect(englishRow!.status_text).toBeUndefined();
      expect(chineseRow).toMatchObject({
        status: englishRow!.status,
        status_text: '等待顾客付款',
        pay_type: '800101',
        pay_type_name: '支付宝跨境线下扫码（店内二维码）',
        respcd: englishRow!.respcd,
      });
      expect(chineseRow!.respcd_meaning).toMatch(/[\u4e00-\u9fff]/);
      expect(chinese.structured.status).toBe(english.structured.status);
    } finally {
      await session.close();
    }
  });
});
