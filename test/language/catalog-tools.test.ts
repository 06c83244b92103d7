import type { Tool } from '@modelcontextprotocol/client';
import { getEncoding } from 'js-tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PAY_TYPES, RESPCD_ENDPOINTS, RESPONSE_CODES } from '../../src/qfpay/catalog/index.js';
import { LANGUAGES } from '../../src/qfpay/language.js';
import { PAY_TYPES_PER_PAGE } from '../../src/mcp/tools/list-pay-types.js';
import { type Connected, connect } from '../mcp/helpers.js';

const CJK = /[\u4e00-\u9fff]/;

/** What the handler answers, on the wire: structuredContent plus the text it says to the model. */
async function answer(
  env: Connected,
  name: string,
  args: Record<string, unknown>,
): Promise<{ bytes: number; structured: Record<string, unknown>; text: string; isError: boolean }> {
  const result = await env.client.callTool({ name, arguments: args });
  // The handler's own text is the first block (a JSON copy may follow, added for old clients).
  const text = (result.content as { type: string; text?: string }[])[0]?.text ?? '';
  const structured = (result.structuredContent ?? {}) as Record<string, unknown>;
  return {
    bytes: Buffer.byteLength(JSON.stringify(structured)) + Buffer.byteLength(text),
    structured,
    text,
    isError: result.isError === true,
  };
}

let env: Connected;
let zhEnv: Connected;
beforeAll(async () => {
  env = await connect({ toolsets: ['reference'] });
  zhEnv = await connect({ toolsets: ['reference'], env: { QFPAY_ENV: 'local', QFPAY_LANG: 'zh-HK' } });
});
afterAll(async () => {
  await env.close();
  await zhEnv.close();
});

describe('explain_respcd in three languages', () => {
  it('answers in zh-CN when asked; machine fields are those of the English answer', async () => {
    const english = await answer(env, 'explain_respcd', { respcd: '1143', endpoint: 'query_row' });
    const chinese = await answer(env, 'explain_respcd', {
      respcd: '1143',
      endpoint: 'query_row',
      lang: 'zh-CN',
    });
    expect(chinese.structured.meaning).toBe('尚未付款：顾客未付款或仍在输入钱包密码');
    expect(chinese.text).toContain('尚未付款');
    const { meaning: _english, ...englishMachine } = english.structured;
    const { meaning: _chinese, ...chineseMachine } = chinese.structured;
    expect(chineseMachine).toEqual(englishMachine);
    expect(chinese.structured).toMatchObject({ respcd: '1143', outcome: 'pending' });
  });

  it('QFPAY_LANG sets the default; a call’s own lang wins', async () => {
    const byDefault = await answer(zhEnv, 'explain_respcd', { respcd: '1108' });
    expect(byDefault.structured.meaning).toBe('簽名錯誤：X-QF-SIGN 與請求不符');
    const perCall = await answer(zhEnv, 'explain_respcd', { respcd: '1108', lang: 'en' });
    expect(perCall.structured.meaning).toBe('Signature error: X-QF-SIGN does not match the request.');
  });

  it('refuses a language it does not have, naming the field', async () => {
    const refused = await answer(env, 'explain_respcd', { respcd: '1143', lang: 'fr' });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain('lang');
  });

  it('stays ≤ 1 KB for every code, endpoint and language', async () => {
    let largest = 0;
    let largestCall = '';
    let calls = 0;
    for (const code of [...RESPONSE_CODES.map((e) => e.code), '9999'])
      for (const endpoint of [undefined, ...RESPCD_ENDPOINTS])
        for (const lang of LANGUAGES) {
          const explained = await answer(env, 'explain_respcd', {
            respcd: code,
            ...(endpoint ? { endpoint } : {}),
            lang,
          });
          expect(explained.isError).toBe(false);
          if (explained.bytes > largest) {
            largest = explained.bytes;
            largestCall = `${code} ${endpoint ?? '-'} ${lang}`;
          }
          calls += 1;
        }
    expect(calls).toBe((RESPONSE_CODES.length + 1) * (RESPCD_ENDPOINTS.length + 1) * 3);
    expect(largest, largestCall).toBeLessThanOrEqual(1024);
  }, 120_000);
});

describe('list_pay_types, small by default', () => {
  it('answers ≤ 6 KB with {} in every language, one page of short rows, the rest by next_page', async () => {
    for (const lang of [undefined, ...LANGUAGES]) {
      const listed = await answer(env, 'list_pay_types', lang ? { lang } : {});
      expect(listed.bytes, String(lang)).toBeLessThanOrEqual(6 * 1024);
      const rows = listed.structured.pay_types as Record<string, unknown>[];
      expect(rows).toHaveLength(PAY_TYPES_PER_PAGE);
      expect(Object.keys(rows[0]!)).not.toContain('optional_fields');
    }
    const seen: string[] = [];
    for (let page: number | undefined = 1; page !== undefined;) {
      const listed = await answer(env, 'list_pay_types', { page, include_legacy: true });
      seen.push(...(listed.structured.pay_types as { pay_type: string }[]).map((p) => p.pay_type));
      page = listed.structured.next_page as number | undefined;
    }
    expect(seen).toEqual(PAY_TYPES.map((p) => p.payType));
  });

  it('gives every catalogue field with detail full, and refuses a page past the end', async () => {
    const full = await answer(env, 'list_pay_types', { text: '801101', detail: 'full' });
    const rows = full.structured.pay_types as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      pay_type: '801101',
      minimum_exclusive_txamt: { HKD: 100 },
      cancel_endpoint: 'reversal',
      supports_expired_time: true,
    });
    expect(rows[0]!.optional_fields).toContain('expired_time');
    const past = await answer(env, 'list_pay_types', { page: 9 });
    expect(past.isError).toBe(true);
    expect(past.text).toContain('page');
  });

  it('names pay types in zh-HK and finds them by their Chinese names; codes stay', async () => {
    const fps = await answer(env, 'list_pay_types', { text: '轉數快', lang: 'zh-HK' });
    expect(fps.structured.pay_types).toEqual([
      expect.objectContaining({
        pay_type: '802001',
        name: '轉數快 FPS 掃碼',
        mode: 'MPM',
        refundable: false,
      }),
    ]);
    const simplified = await answer(zhEnv, 'list_pay_types', { wallet: 'octopus', lang: 'zh-CN' });
    const names = (simplified.structured.pay_types as { name: string }[]).map((p) => p.name);
    expect(names.every((name) => CJK.test(name) && name.includes('八达通'))).toBe(true);
  });

  it('says which card and Apple Pay types the hosted checkout takes, and where', async () => {
    const cards = await answer(env, 'list_pay_types', { mode: 'card' });
    const byCode = new Map(
      (cards.structured.pay_types as { pay_type: string; hosted_checkout?: string[] }[]).map((p) => [
        p.pay_type,
        p.hosted_checkout,
      ]),
    );
    expect(byCode.get('802801')).toEqual(['local', 'sandbox', 'test', 'prod']);
    expect(byCode.get('806527')).toEqual(['test', 'prod']);
    expect(byCode.get('802808')).toBeUndefined();
    expect(cards.text).toMatch(/802801 .*checkout: local\/sandbox\/test\/prod/);
  });
});

/**
 * A tool definition as the compact tool list carries it (issue #15 ¶1): name, title, description,
 * each input field's type, enum and description, and the output's top-level field names with
 * their types. What the server adds the same way to every tool (the JSON Schema dialect,
 * annotations) is left out: it is not the tool's to spend.
 */
function compactDefinition(tool: Tool): unknown {
  const field = (schema: unknown) => {
    const { type, enum: values, description } = schema as Record<string, unknown>;
    return { type, ...(values ? { enum: values } : {}), ...(description ? { description } : {}) };
  };
  const properties = (schema: { properties?: Record<string, unknown> } | undefined) =>
    Object.fromEntries(Object.entries(schema?.properties ?? {}).map(([name, s]) => [name, field(s)]));
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: {
      type: 'object',
      properties: properties(tool.inputSchema),
      required: tool.inputSchema.required,
    },
    outputSchema: {
      type: 'object',
      properties: Object.fromEntries(
        Object.entries(tool.outputSchema?.properties ?? {}).map(([name, s]) => [
          name,
          { type: (s as { type?: unknown }).type },
        ]),
      ),
      required: tool.outputSchema?.required,
    },
  };
}

describe('the catalog tools’ definitions', () => {
  it('cost ≤ 250 o200k tokens each, lang included, with descriptions ≤ 350 characters', async () => {
    const encoding = getEncoding('o200k_base');
    const { tools } = await env.client.listTools();
    const catalog = tools.filter((t) =>
      ['explain_respcd', 'list_pay_types', 'list_currencies'].includes(t.name),
    );
    expect(catalog).toHaveLength(3);
    for (const tool of catalog) {
      const tokens = encoding.encode(JSON.stringify(compactDefinition(tool))).length;
      expect(tokens, tool.name).toBeLessThanOrEqual(250);
      expect(tool.description!.length, tool.name).toBeLessThanOrEqual(350);
      for (const [name, schema] of Object.entries(tool.inputSchema.properties ?? {}))
        expect(((schema as { description?: string }).description ?? '').length, name).toBeLessThanOrEqual(60);
    }
    for (const name of ['explain_respcd', 'list_pay_types'])
      expect(Object.keys(tools.find((t) => t.name === name)!.inputSchema.properties ?? {})).toContain('lang');
  });
});
