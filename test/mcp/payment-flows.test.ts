import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, type Connected, connect, countRequests, simulatorControl } from './helpers.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let env: Connected;

beforeAll(async () => {
  env = await connect();
  // Midday Hong Kong time: QFPay (and the simulator) refuse refunds between 23:30 and 00:30.
  await simulatorControl(env.runtime.baseUrl, 'POST', '/__sim/clock', { set: '2026-03-16 12:00:00' });
});
afterAll(async () => {
  await env.close();
});

describe('merchant-presented QR payment, end to end', () => {
  let syssn: string;
  let outTradeNo: string;

  it('creates an MPM order with a structured qrcode and a PNG image of it', async () => {
    const answer = await call(env.client, 'create_payment', {
      pay_type: '800101',
      txamt: 10_000,
      txcurrcd: 'HKD',
      goods_name: 'Coffee beans',
    });
    expect(answer.isError).toBe(false);
    const s = answer.structured;
    expect(s.environment).toBe('local');
    expect(s.status).toBe('AWAITING_CUSTOMER');
    expect(s.amount_display).toBe('HKD 100.00');
    expect(s.respcd).toBe('0000');
    expect(typeof s.qrcode).toBe('string');
    expect((s.qrcode as string).length).toBeGreaterThan(10);
    expect(s.out_trade_no).toMatch(/^mcp\d{14}[0-9a-z]{10}$/);
    expect(String(s.next_action)).toContain('wait_for_payment');
    expect(answer.images).toHaveLength(1);
    expect(answer.images[0]!.mimeType).toBe('image/png');
    expect(Buffer.from(answer.images[0]!.data, 'base64').subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    syssn = s.syssn as string;
    outTradeNo = s.out_trade_no as string;
    expect(syssn).toMatch(/^\d+$/);
  });

  it('waits while the customer pays, sending progress notifications, and reports PAID', async () => {
    const progress: { progress: number; total?: number; message?: string }[] = [];
    const waiting = call(env.client, 'wait_for_payment', { syssn, timeout_seconds: 20 }, (p) =>
      progress.push(p),
    );
    // Let the wait poll a few times before the simulated customer pays.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const paid = await call(env.client, 'simulate_customer_payment', {
      out_trade_no: outTradeNo,
      outcome: 'pay',
    });
    expect(paid.isError).toBe(false);
    expect(paid.structured.status).toBe('PAID');
    const answer = await waiting;
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('PAID');
    expect(answer.structured.final).toBe(true);
    expect(answer.structured.timed_out).toBe(false);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress);
    expect(progress[0]!.message).toMatch(/AWAITING_CUSTOMER/);
  });

  it('refunds part of it and reports the new remainder', async () => {
    const answer = await call(env.client, 'refund', { syssn, txamt: 3_000 });
    expect(answer.isError).toBe(false);
    const s = answer.structured;
    expect(s.status).toBe('PARTIALLY_REFUNDED');
    expect(s.orig_syssn).toBe(syssn);
    expect(s.txamt).toBe(3_000);
    expect(s.amount_display).toBe('HKD 30.00');
    expect(s.refundable_txamt).toBe(7_000);
    expect(s.out_trade_no).toMatch(/^mcprf/);
    expect(s.syssn).not.toBe(syssn);
  });

  it('query_transaction shows the payment, its refund and the refundable remainder', async () => {
    const answer = await call(env.client, 'query_transaction', { out_trade_no: outTradeNo });
    expect(answer.isError).toBe(false);
    const s = answer.structured;
    expect(s.status).toBe('PARTIALLY_REFUNDED');
    expect(s.count).toBe(1);
    const payment = (s.payments as Record<string, unknown>[])[0]!;
    expect(payment.refundable_txamt).toBe(7_000);
    expect(payment.refunded_txamt).toBe(3_000);
    expect(payment.refundable_display).toBe('HKD 70.00');
    expect(payment.refunds).toEqual([
      expect.objectContaining({ status: 'REFUNDED', txamt: 3_000, amount_display: 'HKD 30.00' }),
    ]);
  });

  it('refuses a refund above the remainder with a clear message and sends no /refund', async () => {
    const refundsBefore = await countRequests(env.runtime.baseUrl, '/trade/v1/refund');
    const answer = await call(env.client, 'refund', { syssn, txamt: 8_000 });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain('refund of HKD 80.00 exceeds the refundable remainder HKD 70.00');
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'validation', field: 'txamt' }));
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/refund')).toBe(refundsBefore);
  });

  it('refunds the whole remainder by default, after which nothing is refundable', async () => {
    const answer = await call(env.client, 'refund', { syssn });
    expect(answer.isError).toBe(false);
    expect(answer.structured.txamt).toBe(7_000);
    expect(answer.structured.status).toBe('REFUNDED');
    expect(answer.structured.refundable_txamt).toBe(0);
    const again = await call(env.client, 'refund', { syssn, txamt: 1 });
    expect(again.isError).toBe(true);
    expect(again.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
    expect(again.text).toContain('already fully refunded');
  });
});

describe('FPS', () => {
  it('takes an FPS QR payment but refuses to refund it, without calling /refund', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '802001',
      txamt: 2_500,
      txcurrcd: 'HKD',
    });
    expect(created.isError).toBe(false);
    expect(created.images).toHaveLength(1);
    const syssn = created.structured.syssn as string;
    await call(env.client, 'simulate_customer_payment', { syssn, outcome: 'pay' });
    const refundsBefore = await countRequests(env.runtime.baseUrl, '/trade/v1/refund');
    const answer = await call(env.client, 'refund', { syssn });
    expect(answer.isError).toBe(true);
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
    expect(answer.text).toMatch(/cannot be refunded/);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/refund')).toBe(refundsBefore);
  });
});

describe('customer-presented code (CPM) with the simulator magic auth codes', () => {
  it('answers PAID at once for an ordinary code', async () => {
    const answer = await call(env.client, 'create_payment', {
      pay_type: '800108',
      txamt: 1_050,
      txcurrcd: 'HKD',
      auth_code: '280000000000000001',
    });
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('PAID');
    expect(answer.images).toHaveLength(0);
  });

  it('…1201 fails with the explanation and a next action', async () => {
    const answer = await call(env.client, 'create_payment', {
      pay_type: '800108',
      txamt: 1_050,
      txcurrcd: 'HKD',
      auth_code: '280000000000001201',
    });
    expect(answer.isError).toBe(true);
    const s = answer.structured;
    expect(s.status).toBe('FAILED');
    expect(s.respcd).toBe('1201');
    expect(s.out_trade_no).toEqual(expect.any(String));
    expect(s.error).toEqual(expect.objectContaining({ kind: 'upstream', respcd: '1201' }));
    expect((s.respcd_explanation as Record<string, unknown>).outcome).toBe('failed');
    expect(answer.text).toMatch(/1201/);
    expect(answer.text).toMatch(/Next: /);
  });

  it('…1143 is PROCESSING, and wait_for_payment sees it become PAID', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '800108',
      txamt: 1_050,
      txcurrcd: 'HKD',
      auth_code: '280000000000001143',
    });
    expect(created.isError).toBe(false);
    expect(created.structured.status).toBe('PROCESSING');
    expect(String(created.structured.next_action)).toContain('wait_for_payment');
    const waited = await call(env.client, 'wait_for_payment', {
      syssn: created.structured.syssn,
      timeout_seconds: 20,
    });
    expect(waited.structured.status).toBe('PAID');
    expect(waited.structured.polls).toBeGreaterThanOrEqual(1);
  });

  it('…1298 reports PROCESSING although the money was taken; a query reveals PAID', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '800108',
      txamt: 1_050,
      txcurrcd: 'HKD',
      auth_code: '280000000000001298',
    });
    expect(created.isError).toBe(false);
    expect(created.structured.status).toBe('PROCESSING');
    expect(String(created.structured.next_action)).toMatch(/Do not create a new order/);
    const queried = await call(env.client, 'query_transaction', {
      out_trade_no: created.structured.out_trade_no,
    });
    expect(queried.structured.status).toBe('PAID');
  });
});

describe('cancel_payment', () => {
  it('closes an unpaid order and confirms CANCELLED by querying', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '800201',
      txamt: 990,
      txcurrcd: 'HKD',
    });
    const answer = await call(env.client, 'cancel_payment', {
      out_trade_no: created.structured.out_trade_no,
    });
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('CANCELLED');
    expect(answer.structured.cancel_endpoint).toBe('close');
    expect(answer.structured.txamt).toBe(990);
  });

  it('uses /reversal for Alipay', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '800101',
      txamt: 990,
      txcurrcd: 'HKD',
    });
    const before = await countRequests(env.runtime.baseUrl, '/trade/v1/reversal');
    const answer = await call(env.client, 'cancel_payment', { syssn: created.structured.syssn });
    expect(answer.structured.cancel_endpoint).toBe('reversal');
    expect(answer.structured.status).toBe('CANCELLED');
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/reversal')).toBe(before + 1);
  });

  it('refuses a paid payment, says to refund, and sends nothing', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '800208',
      txamt: 990,
      txcurrcd: 'HKD',
      auth_code: '130000000000000099',
    });
    expect(created.structured.status).toBe('PAID');
    const closes = await countRequests(env.runtime.baseUrl, '/trade/v1/close');
    const reversals = await countRequests(env.runtime.baseUrl, '/trade/v1/reversal');
    const answer = await call(env.client, 'cancel_payment', { syssn: created.structured.syssn });
    expect(answer.isError).toBe(true);
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
    expect(answer.text).toMatch(/use refund/);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/close')).toBe(closes);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/reversal')).toBe(reversals);
  });

  it('rejects a txamt that is not the payment amount', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '800201',
      txamt: 990,
      txcurrcd: 'HKD',
    });
    const answer = await call(env.client, 'cancel_payment', { syssn: created.structured.syssn, txamt: 500 });
    expect(answer.isError).toBe(true);
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'validation', field: 'txamt' }));
  });
});

describe('validation happens before any upstream request', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['unknown pay type', { pay_type: '999999', txamt: 100, txcurrcd: 'HKD' }, /pay_type/],
    ['CPM without auth_code', { pay_type: '800108', txamt: 100, txcurrcd: 'HKD' }, /auth_code/],
    [
      'auth_code on an MPM type',
      { pay_type: '800101', txamt: 100, txcurrcd: 'HKD', auth_code: '280000000000000001' },
      /auth_code/,
    ],
    ['decimal amount', { pay_type: '800101', txamt: 10.5, txcurrcd: 'HKD' }, /txamt/],
    ['zero amount', { pay_type: '800101', txamt: 0, txcurrcd: 'HKD' }, /txamt/],
    ['unknown currency', { pay_type: '800101', txamt: 100, txcurrcd: 'XYZ' }, /txcurrcd/],
    ['lower-case currency', { pay_type: '800101', txamt: 100, txcurrcd: 'hkd' }, /txcurrcd/],
    [
      'amount at the 801101 minimum',
      { pay_type: '801101', txamt: 100, txcurrcd: 'HKD' },
      /greater than HKD 1\.00|more than HKD 1\.00/,
    ],
    [
      'expired_time on a CPM type',
      { pay_type: '800108', txamt: 100, txcurrcd: 'HKD', auth_code: '280000000000000001', expired_time: 10 },
      /expired_time/,
    ],
    ['missing sub_openid for JSAPI', { pay_type: '800207', txamt: 100, txcurrcd: 'HKD' }, /sub_openid/],
    [
      'bad out_trade_no',
      { pay_type: '800101', txamt: 100, txcurrcd: 'HKD', out_trade_no: 'has space' },
      /out_trade_no/,
    ],
    ['unknown argument', { pay_type: '800101', txamt: 100, txcurrcd: 'HKD', amount: 1 }, /amount/],
    ['mchid smuggled in', { pay_type: '800101', txamt: 100, txcurrcd: 'HKD', mchid: 'other' }, /mchid/],
  ];

  it.each(cases)('%s → isError naming the field, zero upstream requests', async (_name, args, field) => {
    const before = await countRequests(env.runtime.baseUrl, '/trade/v1/payment');
    const answer = await call(env.client, 'create_payment', args);
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(field);
    expect(answer.text).not.toMatch(/at \w+ \(|\.ts:\d+/); // no stack trace
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/payment')).toBe(before);
  });

  it('refund of an unknown payment is not_found and only queries', async () => {
    const before = await countRequests(env.runtime.baseUrl, '/trade/v1/refund');
    const answer = await call(env.client, 'refund', { orig_out_trade_no: 'does_not_exist_123' });
    expect(answer.isError).toBe(true);
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'not_found' }));
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/refund')).toBe(before);
  });
});

describe('out_trade_no reuse', () => {
  it('a caller-supplied out_trade_no is used as given; repeating the call replays it, changing it is refused', async () => {
    const outTradeNo = `order_${Date.now()}`;
    const args = {
      pay_type: '800108',
      txamt: 500,
      txcurrcd: 'HKD',
      auth_code: '280000000000000001',
      out_trade_no: outTradeNo,
    };
    const payments = await countRequests(env.runtime.baseUrl, '/trade/v1/payment');
    const first = await call(env.client, 'create_payment', args);
    expect(first.structured.out_trade_no).toBe(outTradeNo);
    expect(first.structured.status).toBe('PAID');
    const second = await call(env.client, 'create_payment', args);
    expect(second.isError).toBe(false);
    expect(second.structured.replayed).toBe(true);
    expect(second.structured.status).toBe('PAID');
    expect(second.structured.syssn).toBe(first.structured.syssn);
    const changed = await call(env.client, 'create_payment', { ...args, txamt: 600 });
    expect(changed.isError).toBe(true);
    expect(changed.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
    expect(changed.structured.out_trade_no).toBe(outTradeNo);
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/payment')).toBe(payments + 1);
  });
});

describe('timeouts', () => {
  it('wait_for_payment answers AWAITING_CUSTOMER honestly when the customer does not pay in time', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '805801',
      txamt: 700,
      txcurrcd: 'HKD',
    });
    const answer = await call(env.client, 'wait_for_payment', {
      syssn: created.structured.syssn,
      timeout_seconds: 1,
    });
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
    expect(answer.structured.timed_out).toBe(true);
    expect(answer.structured.final).toBe(false);
    expect(String(answer.structured.next_action)).toMatch(/cancel_payment/);
  });
});

describe('cancellation', () => {
  it('cancelling wait_for_payment stops the polling', async () => {
    const created = await call(env.client, 'create_payment', {
      pay_type: '805801',
      txamt: 700,
      txcurrcd: 'HKD',
    });
    const queriesBefore = await countRequests(env.runtime.baseUrl, '/trade/v1/query');
    const controller = new AbortController();
    const waiting = env.client.callTool(
      { name: 'wait_for_payment', arguments: { syssn: created.structured.syssn, timeout_seconds: 30 } },
      { signal: controller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort();
    await expect(waiting).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const queriesAfterCancel = await countRequests(env.runtime.baseUrl, '/trade/v1/query');
    expect(queriesAfterCancel).toBeGreaterThan(queriesBefore + 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await countRequests(env.runtime.baseUrl, '/trade/v1/query')).toBe(queriesAfterCancel);
  });
});
