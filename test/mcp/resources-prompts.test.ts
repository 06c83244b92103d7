import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SIGNING_DOC } from '../../src/mcp/signing-doc.js';
import { signRequest } from '../../src/qfpay/signature.js';
import { type Connected, connect } from './helpers.js';

let env: Connected;

beforeAll(async () => {
  env = await connect();
});
afterAll(async () => {
  await env.close();
});

async function readJson(uri: string): Promise<unknown> {
  const result = await env.client.readResource({ uri });
  const content = result.contents[0] as { uri: string; mimeType?: string; text?: string };
  expect(content.uri).toBe(uri);
  expect(content.mimeType).toBe('application/json');
  return JSON.parse(content.text ?? '');
}

describe('resources', () => {
  it('lists the catalogue and the signing document', async () => {
    const { resources } = await env.client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual([
      'qfpay://audit/recent',
      'qfpay://catalog/currencies',
      'qfpay://catalog/environments',
      'qfpay://catalog/pay-types',
      'qfpay://catalog/response-codes',
      'qfpay://docs/signing',
      'ui://qfpay/payment',
    ]);
    for (const resource of resources) {
      expect(resource.title, resource.uri).toBeTruthy();
      expect(resource.description, resource.uri).toBeTruthy();
    }
  });

  it('lists the three templates', async () => {
    const { resourceTemplates } = await env.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([
      'qfpay://pay-types/{pay_type}',
      'qfpay://respcd/{code}',
      'qfpay://transactions/{syssn}',
    ]);
  });

  it('serves the catalogue as JSON', async () => {
    const payTypes = (await readJson('qfpay://catalog/pay-types')) as {
      pay_type: string;
      refundable: boolean;
    }[];
    expect(payTypes.find((p) => p.pay_type === '802001')).toMatchObject({ refundable: false });
    const currencies = (await readJson('qfpay://catalog/currencies')) as { code: string; exponent: number }[];
    expect(currencies.find((c) => c.code === 'HKD')).toMatchObject({
      exponent: 2,
      example_display: 'HKD 10.50',
    });
    const codes = (await readJson('qfpay://catalog/response-codes')) as { code: string; outcome: string }[];
    expect(codes.find((c) => c.code === '1143')).toMatchObject({ outcome: 'pending' });
    expect(codes.find((c) => c.code === '1108')).toMatchObject({ outcome: 'failed' });
    const environments = (await readJson('qfpay://catalog/environments')) as {
      current: string;
      environments: { name: string; serves_trade_bill: boolean }[];
    };
    expect(environments.current).toBe('local');
    expect(environments.environments.map((e) => e.name)).toEqual(['local', 'sandbox', 'test', 'prod']);
    // The trade bill is production's only (and the simulator's): reconcile_day queries elsewhere.
    expect(environments.environments.filter((e) => e.serves_trade_bill).map((e) => e.name)).toEqual([
      'local',
      'prod',
    ]);
  });

  it('serves the signing rules as Markdown, including the documented conflicts and our choice', async () => {
    const result = await env.client.readResource({ uri: 'qfpay://docs/signing' });
    const content = result.contents[0] as { mimeType?: string; text?: string };
    expect(content.mimeType).toBe('text/markdown');
    expect(content.text).toContain('Never send empty fields');
    expect(content.text).toContain('upper(MD5(raw response body + client key))');
  });

  it('reads one response code and one pay type through the templates', async () => {
    expect(await readJson('qfpay://respcd/1143')).toMatchObject({
      code: '1143',
      known: true,
      outcome: 'pending',
    });
    expect(await readJson('qfpay://respcd/9999')).toMatchObject({ code: '9999', known: false });
    expect(await readJson('qfpay://pay-types/800108')).toMatchObject({
      pay_type: '800108',
      mode: 'CPM',
      required_fields: ['auth_code'],
    });
  });

  it('answers an unknown pay type as resource-not-found', async () => {
    await expect(env.client.readResource({ uri: 'qfpay://pay-types/123456' })).rejects.toThrow(
      /Unknown pay type|not found/i,
    );
  });

  it('completes the template variables', async () => {
    const codes = await env.client.complete({
      ref: { type: 'ref/resource', uri: 'qfpay://respcd/{code}' },
      argument: { name: 'code', value: '114' },
    });
    expect(codes.completion.values).toEqual(expect.arrayContaining(['1143', '1145']));
    expect(codes.completion.values.every((v) => v.startsWith('114'))).toBe(true);
    const payTypes = await env.client.complete({
      ref: { type: 'ref/resource', uri: 'qfpay://pay-types/{pay_type}' },
      argument: { name: 'pay_type', value: '8020' },
    });
    expect(payTypes.completion.values).toContain('802001');
  });
});

describe('prompts', () => {
  it('lists the three prompts with their arguments', async () => {
    const { prompts } = await env.client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual([
      'take_payment',
      'refund_order',
      'diagnose_integration_error',
    ]);
    const take = prompts.find((p) => p.name === 'take_payment')!;
    expect(take.arguments?.map((a) => a.name)).toEqual([
      'amount',
      'txcurrcd',
      'pay_type',
      'goods_name',
      'out_trade_no',
    ]);
    expect(take.arguments?.find((a) => a.name === 'amount')?.required).toBe(true);
  });

  it('take_payment spells out confirmation, minor units and the never-re-create rule', async () => {
    const prompt = await env.client.getPrompt({
      name: 'take_payment',
      arguments: { amount: 'HKD 10.50', pay_type: '800101' },
    });
    const text = (prompt.messages[0]!.content as { text: string }).text;
    expect(text).toContain('amount: HKD 10.50');
    expect(text).toContain('1050');
    expect(text).toMatch(/explicit yes/);
    expect(text).toMatch(/do NOT create a new order/);
    expect(text).toMatch(/no real money moves/);
  });

  it('refund_order and diagnose_integration_error render', async () => {
    const refund = await env.client.getPrompt({
      name: 'refund_order',
      arguments: { payment: '20260316000000000000000001' },
    });
    expect((refund.messages[0]!.content as { text: string }).text).toMatch(/refundable_txamt/);
    const diagnose = await env.client.getPrompt({
      name: 'diagnose_integration_error',
      arguments: { respcd: '1108' },
    });
    expect((diagnose.messages[0]!.content as { text: string }).text).toMatch(/diagnose_signature/);
  });

  it('completes prompt arguments', async () => {
    const currency = await env.client.complete({
      ref: { type: 'ref/prompt', name: 'take_payment' },
      argument: { name: 'txcurrcd', value: 'h' },
    });
    expect(currency.completion.values).toEqual(['HKD']);
    const respcd = await env.client.complete({
      ref: { type: 'ref/prompt', name: 'diagnose_integration_error' },
      argument: { name: 'respcd', value: '110' },
    });
    expect(respcd.completion.values).toEqual(expect.arrayContaining(['1108', '1104']));
  });
});

describe('signing document', () => {
  it('its worked example is what the signer computes', () => {
    const params = { mchid: 'ZaMVg12345', txamt: 100, txcurrcd: 'HKD' };
    const md5 = signRequest(params, 'abcd1234', 'MD5');
    const sha256 = signRequest(params, 'abcd1234', 'SHA256');
    expect(md5).toBe('3CB3AA9C21D818AB4CAFAA8FA3FEACF4');
    expect(sha256).toBe('99D9F7174823928B74C74B1C7A7E1538DF733774DD21C9606A202CB8BB3D74E8');
    expect(SIGNING_DOC).toContain(md5);
    expect(SIGNING_DOC).toContain(sha256);
  });
});
