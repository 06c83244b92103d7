import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { Tool } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TOOL_REGISTRY } from '../../src/mcp/tools/index.js';
import {
  DEFAULT_SIMULATOR_CREDENTIAL,
  type RunningSimulator,
  startSimulator,
} from '../../src/simulator/index.js';
import { attach, call, connect, countRequests } from './helpers.js';
import { createRuntime } from '../../src/mcp/runtime.js';

const ALL_TOOLS = [
  'create_payment',
  'create_checkout_link',
  'wait_for_payment',
  'refund',
  'cancel_payment',
  'capture_preauth',
  'release_preauth',
  'wechat_openid',
  'add_note',
  'query_transaction',
  'reconcile_day',
  'explain_respcd',
  'list_pay_types',
  'list_currencies',
  'verify_notification',
  'diagnose_signature',
  'simulate_customer_payment',
];
const WRITE_TOOLS = [
  'cancel_payment',
  'capture_preauth',
  'create_checkout_link',
  'create_payment',
  'refund',
  'release_preauth',
];
/** What a client assumes for a hint a tool leaves out (MCP specification, ToolAnnotations). */
const MCP_DEFAULT_HINTS = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};

async function listedTools(options: Parameters<typeof connect>[0] = {}): Promise<Tool[]> {
  const env = await connect(options);
  try {
    return (await env.client.listTools()).tools;
  } finally {
    await env.close();
  }
}

describe('tools/list contract', () => {
  let tools: Tool[];
  beforeAll(async () => {
    tools = await listedTools();
  });

  it('lists exactly the expected tools in local', () => {
    expect(tools.map((t) => t.name)).toEqual(ALL_TOOLS);
  });

  it('matches the committed snapshot of every tool definition', async () => {
    for (const tool of tools) {
      const snapshot = {
        name: tool.name,
        title: tool.title,
        description: tool.description,
        annotations: tool.annotations,
        inputSchema: tool.inputSchema,
        outputSchema: tool.outputSchema,
      };
      await expect(`${JSON.stringify(snapshot, null, 2)}\n`).toMatchFileSnapshot(
        `./__snapshots__/tools/${tool.name}.json.snap`,
      );
    }
  });

  it('gives every tool a title and annotations that match its declared access kind', () => {
    for (const tool of tools) {
      const entry = TOOL_REGISTRY.find((e) => e.tool.name === tool.name);
      expect(entry, tool.name).toBeDefined();
      expect(tool.title, tool.name).toBeTruthy();
      // The title is said once, on the tool; hints equal to the MCP defaults are left out.
      expect(tool.annotations?.title, tool.name).toBeUndefined();
      const a = { ...MCP_DEFAULT_HINTS, ...tool.annotations };
      switch (entry!.access) {
        case 'write':
          expect(tool.annotations?.destructiveHint, tool.name).toBe(true);
          expect(a, tool.name).toMatchObject({
            readOnlyHint: false,
            destructiveHint: true,
            idempotentHint: false,
            openWorldHint: true,
          });
          break;
        case 'read':
          expect(a, tool.name).toMatchObject({ readOnlyHint: true, openWorldHint: true });
          break;
        case 'reference':
        case 'integration':
          expect(a, tool.name).toMatchObject({ readOnlyHint: true, openWorldHint: false });
          break;
        case 'local':
          expect(a, tool.name).toMatchObject({
            readOnlyHint: false,
            destructiveHint: false,
            openWorldHint: false,
          });
          break;
        case 'note':
          // Writes a remark at QFPay (replacing one), moves no money; the same note again changes nothing.
          expect(a, tool.name).toMatchObject({
            readOnlyHint: false,
            destructiveHint: true,
            idempotentHint: true,
            openWorldHint: true,
          });
          break;
        case 'exchange':
          // Spends a single-use WeChat code at QFPay: not read-only, not idempotent, nothing destroyed.
          expect(a, tool.name).toMatchObject({
            readOnlyHint: false,
            destructiveHint: false,
            idempotentHint: false,
            openWorldHint: true,
          });
          break;
      }
    }
    expect(
      TOOL_REGISTRY.filter((e) => e.access === 'write')
        .map((e) => e.tool.name)
        .sort(),
    ).toEqual([...WRITE_TOOLS].sort());
  });

  it('declares object input and output schemas without unrepresentable types', () => {
    for (const tool of tools) {
      expect(tool.inputSchema.type, tool.name).toBe('object');
      expect(tool.outputSchema?.type, tool.name).toBe('object');
      // Every result carries environment; the instructions say so once instead of every schema.
      expect(tool.outputSchema?.properties ?? {}, tool.name).not.toHaveProperty('environment');
      // Strict inputs: unknown arguments are refused rather than silently dropped.
      expect(tool.inputSchema.additionalProperties, tool.name).toBe(false);
    }
  });

  it('tells the agent the rules that prevent double charges', () => {
    const create = tools.find((t) => t.name === 'create_payment')!;
    expect(create.description).toMatch(/smallest currency unit/);
    expect(create.description).toMatch(/reuse the SAME out_trade_no/);
    expect(create.description).toMatch(/do not create a new order/i);
    const txamt = (create.inputSchema.properties as Record<string, { type?: string }>).txamt!;
    expect(txamt.type).toBe('integer');
  });
});

describe('server instructions and capabilities', () => {
  it('orients the agent and declares tools, resources, prompts, completions and logging', async () => {
    const env = await connect();
    try {
      const instructions = env.client.getInstructions() ?? '';
      expect(instructions).toMatch(/Environment: local/);
      expect(instructions).toMatch(/smallest currency unit/);
      expect(instructions).toMatch(/reuse the SAME/);
      expect(instructions).toMatch(/query_transaction/);
      const capabilities = env.client.getServerCapabilities();
      expect(capabilities).toMatchObject({
        tools: {},
        resources: {},
        prompts: {},
        completions: {},
        logging: {},
      });
    } finally {
      await env.close();
    }
  });
});

describe('read-only mode and toolsets', () => {
  it('read-only registers no tool that changes anything, and calling one fails', async () => {
    const env = await connect({ readOnly: true });
    try {
      const names = (await env.client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual([
        'wait_for_payment',
        'query_transaction',
        'reconcile_day',
        'explain_respcd',
        'list_pay_types',
        'list_currencies',
        'verify_notification',
        'diagnose_signature',
      ]);
      const before = await countRequests(env.runtime.baseUrl, '/trade/v1/payment');
      await expect(
        call(env.client, 'create_payment', { pay_type: '800101', txamt: 100, txcurrcd: 'HKD' }),
      ).rejects.toThrow(/create_payment not found/);
      expect(await countRequests(env.runtime.baseUrl, '/trade/v1/payment')).toBe(before);
      expect(env.client.getInstructions()).toMatch(/read-only/);
    } finally {
      await env.close();
    }
  });

  it('QFPAY_READ_ONLY=true has the same effect', async () => {
    const tools = await listedTools({ env: { QFPAY_ENV: 'local', QFPAY_READ_ONLY: 'true' } });
    expect(tools.map((t) => t.name).filter((n) => WRITE_TOOLS.includes(n))).toEqual([]);
    expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
  });

  it('toolsets filter what is registered', async () => {
    expect((await listedTools({ toolsets: ['reference'] })).map((t) => t.name)).toEqual([
      'explain_respcd',
      'list_pay_types',
      'list_currencies',
    ]);
    expect(
      (await listedTools({ env: { QFPAY_ENV: 'local', QFPAY_TOOLSETS: 'reporting, integration' } })).map(
        (t) => t.name,
      ),
    ).toEqual(['query_transaction', 'reconcile_day', 'verify_notification', 'diagnose_signature']);
    // The simulator controls come with the payment tools in local.
    expect((await listedTools({ toolsets: ['payments'] })).map((t) => t.name)).toEqual([
      'create_payment',
      'create_checkout_link',
      'wait_for_payment',
      'refund',
      'cancel_payment',
      'capture_preauth',
      'release_preauth',
      'wechat_openid',
      'add_note',
      'simulate_customer_payment',
    ]);
  });

  it('rejects an unknown toolset name with the valid ones', async () => {
    await expect(
      createRuntime({ env: { QFPAY_ENV: 'local' }, toolsets: ['paymnts'], log: () => {} }),
    ).rejects.toThrow(/unknown toolset "paymnts".*payments, reporting, reference, integration/s);
  });
});

describe('outside the local environment', () => {
  let simulator: RunningSimulator;
  const credential = { appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F90', key: 'c0ffee00c0ffee00c0ffee00c0ffee00' };
  beforeAll(async () => {
    simulator = await startSimulator({ port: 0, credentials: [credential], quiet: true });
  });
  afterAll(async () => {
    await simulator.close();
  });

  // The ledger of a non-local environment defaults to the user's state directory: keep tests out of it.
  const stateDir = mkdtempSync(path.join(tmpdir(), 'qfpay-contract-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
  const envFor = (name: string) => ({
    QFPAY_ENV: name,
    QFPAY_BASE_URL: simulator.baseUrl,
    QFPAY_APPCODE: credential.appcode,
    QFPAY_KEY: credential.key,
    QFPAY_STATE_DIR: stateDir,
  });

  it('does not register simulate_customer_payment', async () => {
    const tools = await listedTools({ env: envFor('sandbox') });
    expect(tools.map((t) => t.name)).toEqual(ALL_TOOLS.filter((n) => n !== 'simulate_customer_payment'));
  });

  it('refuses production writes without --allow-prod-writes, sending nothing', async () => {
    const runtime = await createRuntime({ env: envFor('prod'), log: () => {} });
    const { client, close } = await attach(runtime);
    try {
      const before = await countRequests(simulator.baseUrl, '/trade/v1/payment');
      const answer = await call(client, 'create_payment', {
        pay_type: '800101',
        txamt: 100,
        txcurrcd: 'HKD',
      });
      expect(answer.isError).toBe(true);
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(answer.text).toMatch(/allow-prod-writes/);
      expect(answer.structured.out_trade_no).toEqual(expect.any(String));
      expect(await countRequests(simulator.baseUrl, '/trade/v1/payment')).toBe(before);
    } finally {
      await close();
      await runtime.close();
    }
  });

  it('lets production writes through when explicitly allowed, after a bound confirmation', async () => {
    const runtime = await createRuntime({
      env: { ...envFor('prod'), QFPAY_ALLOW_PROD_WRITES: '1' },
      log: () => {},
    });
    const { client, close } = await attach(runtime);
    try {
      const args = { pay_type: '800101', txamt: 100, txcurrcd: 'HKD' };
      const prepared = await call(client, 'create_payment', args);
      expect(prepared.structured.status).toBe('CONFIRMATION_REQUIRED');
      const answer = await call(client, 'create_payment', {
        ...args,
        out_trade_no: prepared.structured.out_trade_no,
        confirmation_token: prepared.structured.confirmation_token,
      });
      expect(answer.isError).toBe(false);
      expect(answer.structured.environment).toBe('prod');
      expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
    } finally {
      await close();
      await runtime.close();
    }
  });

  it('shows no signature made with the configured key (test/mcp/no-signing-oracle.test.ts has the property test)', async () => {
    const runtime = await createRuntime({ env: envFor('prod'), log: () => {} });
    const { client, close } = await attach(runtime);
    try {
      const answer = await call(client, 'diagnose_signature', { params: { txamt: 100, txcurrcd: 'HKD' } });
      expect(answer.structured.checked_with).toBe('configured_key');
      expect(answer.text).not.toMatch(/[0-9A-F]{32}/i);
      expect(JSON.stringify(answer.structured)).not.toMatch(/[0-9A-F]{32}/i);
    } finally {
      await close();
      await runtime.close();
    }
  });
});

describe('without credentials', () => {
  it('refuses to start a payments server in sandbox without credentials', async () => {
    await expect(createRuntime({ env: { QFPAY_ENV: 'sandbox' }, log: () => {} })).rejects.toThrow(
      /QFPAY_APPCODE/,
    );
  });

  it('serves the reference tools with no credentials at all', async () => {
    const runtime = await createRuntime({
      env: { QFPAY_ENV: 'prod' },
      toolsets: ['reference', 'integration'],
      log: () => {},
    });
    const { client, close } = await attach(runtime);
    try {
      expect(runtime.merchant).toBeNull();
      const explained = await call(client, 'explain_respcd', { respcd: '1143' });
      expect(explained.isError).toBe(false);
      expect(explained.structured.outcome).toBe('pending');
      const payTypes = await call(client, 'list_pay_types', { wallet: 'FPS' });
      expect(payTypes.structured.pay_types).toEqual([
        expect.objectContaining({ pay_type: '802001', refundable: false }),
      ]);
      const currencies = await call(client, 'list_currencies', { code: 'JPY' });
      expect(currencies.structured.currencies).toEqual([
        expect.objectContaining({ code: 'JPY', exponent: 0, example_display: 'JPY 1050' }),
      ]);
      const diagnosis = await call(client, 'diagnose_signature', { params: { txamt: 100, txcurrcd: 'HKD' } });
      expect(diagnosis.isError).toBe(false);
      expect(diagnosis.structured.canonical_string).toBe('txamt=100&txcurrcd=HKD');
      expect(diagnosis.structured.checked_with).toBe('none');
      const notification = await call(client, 'verify_notification', { body: '{}', signature: 'AB' });
      expect(notification.isError).toBe(true);
      expect(notification.structured.error).toEqual(expect.objectContaining({ kind: 'configuration' }));
    } finally {
      await close();
      await runtime.close();
    }
  });

  it('local always has the simulator credential', async () => {
    const env = await connect({ toolsets: ['reference'] });
    try {
      expect(env.runtime.merchant).toEqual({ appcode: DEFAULT_SIMULATOR_CREDENTIAL.appcode });
      expect(env.runtime.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await env.close();
    }
  });
});
