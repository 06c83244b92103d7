import type { Client } from '@modelcontextprotocol/client';
import { expect } from 'vitest';

import { call } from '../mcp/helpers.js';

/**
 * A QR order (HKD 9.00) awaiting its customer, created through the MCP client; returns the
 * `qfpay://transactions/{syssn}` URI a client subscribes to.
 */
export async function createAwaitingOrder(
  client: Client,
  outTradeNo: string,
  notifyUrl?: string,
): Promise<string> {
  const created = await call(client, 'create_payment', {
    pay_type: '800101',
    txamt: 900,
    txcurrcd: 'HKD',
    out_trade_no: outTradeNo,
    ...(notifyUrl ? { notify_url: notifyUrl } : {}),
  });
  expect(created.structured['status']).toBe('AWAITING_CUSTOMER');
  return `qfpay://transactions/${created.structured['syssn'] as string}`;
}
