import type { CallToolResult } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Connected, connect, simulatorControl } from './helpers.js';

/**
 * Results said once (issue #15 ¶2): structuredContent plus ONE short text (and the QR image),
 * never the data again as JSON text. Sizes are byte counts of the JSON-RPC answer as a transport
 * writes it (`JSON.stringify` of the message, which is what stdio sends as one line), so they are
 * properties of the answer, not timings. `bench/context-cost.mjs` measures the same on real stdio.
 */
let env: Connected;
beforeAll(async () => {
  env = await connect();
  // Midday Hong Kong time: the simulator refuses refunds around midnight.
  await simulatorControl(env.runtime.baseUrl, 'POST', '/__sim/clock', { set: '2026-03-16 12:00:00' });
});
afterAll(async () => {
  await env.close();
});

async function answer(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return await env.client.callTool({ name, arguments: args });
}

/** Bytes on the wire: the answer as a JSON-RPC response line. */
function wireBytes(result: CallToolResult): number {
  return Buffer.byteLength(JSON.stringify({ result, jsonrpc: '2.0', id: 1 }));
}

function texts(result: CallToolResult): string[] {
  return result.content.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text);
}

/** One text; it does not repeat the structured data as JSON. */
function expectSaidOnce(result: CallToolResult): void {
  expect(texts(result)).toHaveLength(1);
  const text = texts(result)[0]!;
  expect(text.length).toBeLessThan(JSON.stringify(result.structuredContent).length);
  expect(() => JSON.parse(text) as unknown).toThrow();
}

describe('results said once, and their size', () => {
  it('a QR payment is at most 3,000 bytes with its image', async () => {
    const result = await answer('create_payment', { pay_type: '800101', txamt: 1050, txcurrcd: 'HKD' });
    expect(result.isError).toBeFalsy();
    expectSaidOnce(result);
    expect(result.content.filter((c) => c.type === 'image')).toHaveLength(1);
    expect(wireBytes(result)).toBeLessThanOrEqual(3_000);
  });

  it('explain_respcd is at most 1,000 bytes for the pending codes agents meet most', async () => {
    for (const respcd of ['1143', '1145']) {
      const result = await answer('explain_respcd', { respcd });
      expectSaidOnce(result);
      expect(texts(result)[0]).toContain((result.structuredContent as { next_action: string }).next_action);
      expect(wireBytes(result), respcd).toBeLessThanOrEqual(1_000);
    }
  });

  it('query_transaction of one payment is at most 1,500 bytes', async () => {
    const paid = await answer('create_payment', {
      pay_type: '800108',
      txamt: 1050,
      txcurrcd: 'HKD',
      auth_code: '280000000000000001',
    });
    expectSaidOnce(paid);
    const outTradeNo = (paid.structuredContent as { out_trade_no: string }).out_trade_no;
    const result = await answer('query_transaction', { out_trade_no: outTradeNo });
    expect((result.structuredContent as { count: number }).count).toBe(1);
    expectSaidOnce(result);
    expect(wireBytes(result)).toBeLessThanOrEqual(1_500);
  });

  it('says a refund, a wait and a failure once too', async () => {
    const paid = await answer('create_payment', {
      pay_type: '800108',
      txamt: 2000,
      txcurrcd: 'HKD',
      auth_code: '280000000000000001',
    });
    const syssn = (paid.structuredContent as { syssn: string }).syssn;
    expectSaidOnce(await answer('refund', { syssn, txamt: 500 }));
    expectSaidOnce(await answer('wait_for_payment', { syssn, timeout_seconds: 1 }));
    const refused = await answer('refund', { syssn, txamt: 999_999 });
    expect(refused.isError).toBe(true);
    expect(texts(refused)).toHaveLength(1);
    expect(texts(refused)[0]).toMatch(/^refund failed \(validation\) \[field: txamt\]/);
  });
});
