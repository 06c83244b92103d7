import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { RequestLogEntry, RunningSimulator } from '../../src/simulator/index.js';
import { control, cpmPayment, freshState, md5Upper, DEFAULT_CREDENTIAL, qfpay, queryOne } from './helpers.js';

/** Injected faults: what the client sees, and whether the request was committed. */

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ quiet: true });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await freshState(sim);
});

const addFault = async (fault: Record<string, unknown>) => {
  const result = await control(sim, 'POST', '/__sim/faults', fault);
  expect(result.status).toBe(201);
  return result.body.fault as Record<string, unknown>;
};
const booked = async (outTradeNo: string) =>
  (await queryOne(sim, { out_trade_no: outTradeNo })) !== undefined;
const log = async () => (await control(sim, 'GET', '/__sim/requests')).body.requests as RequestLogEntry[];

describe('fault kinds', () => {
  it('http429: answers 429 (with Retry-After when asked) and books nothing', async () => {
    await addFault({ kind: 'http429', retryAfterSeconds: 2 });
    const params = cpmPayment();
    const result = await qfpay(sim, '/trade/v1/payment', params);
    expect(result.status).toBe(429);
    expect(result.headers['retry-after']).toBe('2');
    expect(await booked(params.out_trade_no!)).toBe(false);
    // One use only (count defaults to 1).
    expect((await qfpay(sim, '/trade/v1/payment', params)).status).toBe(200);
  });

  it('latency: answers normally, late, and books the payment', async () => {
    await addFault({ kind: 'latency', latencyMs: 300, paths: ['/trade/v1/payment'] });
    const params = cpmPayment();
    const started = Date.now();
    const result = await qfpay(sim, '/trade/v1/payment', params);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(result.answer?.respcd).toBe('0000');
    expect(result.signatureValid).toBe(true);
  });

  it('latency afterCommit: the payment is booked before the late answer arrives', async () => {
    await addFault({ kind: 'latency', latencyMs: 400, afterCommit: true, paths: ['/trade/v1/payment'] });
    const params = cpmPayment();
    const slow = qfpay(sim, '/trade/v1/payment', params);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await booked(params.out_trade_no!)).toBe(true);
    expect((await slow).answer?.respcd).toBe('0000');
  });

  it('drop_after_commit: the socket dies without an answer, yet the payment is booked', async () => {
    await addFault({ kind: 'drop_after_commit', paths: ['/trade/v1/payment'] });
    const params = cpmPayment();
    await expect(qfpay(sim, '/trade/v1/payment', params)).rejects.toThrow();
    const row = await queryOne(sim, { out_trade_no: params.out_trade_no! });
    expect(row?.respcd).toBe('0000');
    const entry = (await log()).find((e) => e.path === '/trade/v1/payment');
    expect(entry).toMatchObject({ http_status: null, respcd: '0000', fault: 'drop_after_commit' });
  });

  it('drop_after_commit on refund: the refund is booked', async () => {
    const payment = await qfpay(sim, '/trade/v1/payment', cpmPayment());
    await addFault({ kind: 'drop_after_commit', paths: ['/trade/v1/refund'] });
    await expect(
      qfpay(sim, '/trade/v1/refund', {
        syssn: payment.answer!.syssn!,
        txamt: '100',
        out_trade_no: 'R_DROP',
        txdtm: '2026-03-15 12:00:00',
      }),
    ).rejects.toThrow();
    expect((await queryOne(sim, { out_trade_no: 'R_DROP' }))?.order_type).toBe('refund');
  });

  it('malformed_json: HTTP 200 with a truncated body (committed)', async () => {
    await addFault({ kind: 'malformed_json' });
    const params = cpmPayment();
    const result = await qfpay(sim, '/trade/v1/payment', params);
    expect(result.status).toBe(200);
    expect(result.answer).toBeUndefined();
    expect(result.text.startsWith('{"respcd": "0000"')).toBe(true);
    expect(await booked(params.out_trade_no!)).toBe(true);
  });

  it('html_error: an HTML 502 page, not committed by default', async () => {
    await addFault({ kind: 'html_error' });
    const params = cpmPayment();
    const result = await qfpay(sim, '/trade/v1/payment', params);
    expect(result.status).toBe(502);
    expect(result.headers['content-type']).toMatch(/text\/html/);
    expect(result.text).toContain('<html>');
    expect(result.headers['x-qf-sign']).toBeUndefined();
    expect(await booked(params.out_trade_no!)).toBe(false);
  });

  it('html_error with commit: true and a custom status books the payment', async () => {
    await addFault({ kind: 'html_error', status: 504, commit: true });
    const params = cpmPayment();
    const result = await qfpay(sim, '/trade/v1/payment', params);
    expect(result.status).toBe(504);
    expect(result.text).toContain('504 Gateway Timeout');
    expect(await booked(params.out_trade_no!)).toBe(true);
  });

  it('bad_signature: valid JSON whose X-QF-SIGN does not verify (committed)', async () => {
    await addFault({ kind: 'bad_signature' });
    const params = cpmPayment();
    const result = await qfpay(sim, '/trade/v1/payment', params);
    expect(result.answer?.respcd).toBe('0000');
    expect(result.headers['x-qf-sign']).toMatch(/^[0-9A-F]{32}$/);
    expect(result.signatureValid).toBe(false);
    expect(result.headers['x-qf-sign']).not.toBe(md5Upper(result.text + DEFAULT_CREDENTIAL.key));
    expect(await booked(params.out_trade_no!)).toBe(true);
  });

  it('http5xx: 503 by default and not committed', async () => {
    await addFault({ kind: 'http5xx' });
    const params = cpmPayment();
    const result = await qfpay(sim, '/trade/v1/payment', params);
    expect(result.status).toBe(503);
    expect(result.headers['x-qf-sign']).toBeUndefined();
    expect(await booked(params.out_trade_no!)).toBe(false);
  });

  it('http5xx with commit: true books the payment behind a 500', async () => {
    await addFault({ kind: 'http5xx', status: 500, commit: true });
    const params = cpmPayment();
    expect((await qfpay(sim, '/trade/v1/payment', params)).status).toBe(500);
    expect(await booked(params.out_trade_no!)).toBe(true);
    const entry = (await log()).find((e) => e.path === '/trade/v1/payment');
    expect(entry).toMatchObject({ http_status: 500, respcd: '0000', fault: 'http5xx' });
  });
});

describe('fault scope', () => {
  it('applies to the next N matching requests only, on the named paths', async () => {
    await addFault({ kind: 'http5xx', count: 2, paths: ['/trade/v1/query'] });
    expect((await qfpay(sim, '/trade/v1/payment', cpmPayment())).status).toBe(200);
    expect((await qfpay(sim, '/trade/v1/query', {})).status).toBe(503);
    expect((await qfpay(sim, '/trade/v1/query', {})).status).toBe(503);
    expect((await qfpay(sim, '/trade/v1/query', {})).status).toBe(200);
  });

  it('applies for a duration', async () => {
    await addFault({ kind: 'http429', durationMs: 600 });
    expect((await qfpay(sim, '/trade/v1/query', {})).status).toBe(429);
    expect((await qfpay(sim, '/trade/v1/query', {})).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 650));
    expect((await qfpay(sim, '/trade/v1/query', {})).status).toBe(200);
  });

  it('is listed, and DELETE /__sim/faults clears them', async () => {
    await addFault({ kind: 'http5xx', count: 5 });
    const listed = await control(sim, 'GET', '/__sim/faults');
    expect(listed.body.faults).toEqual([
      expect.objectContaining({ kind: 'http5xx', remaining: 5, status: 503, commit: false }),
    ]);
    expect((await control(sim, 'DELETE', '/__sim/faults')).body).toEqual({ cleared: 1 });
    expect((await qfpay(sim, '/trade/v1/query', {})).status).toBe(200);
  });

  it('refuses invalid fault definitions with 400 and a reason', async () => {
    const unknownKind = await control(sim, 'POST', '/__sim/faults', { kind: 'explode' });
    expect(unknownKind.status).toBe(400);
    expect(unknownKind.body.message).toMatch(/kind/);
    const misplaced = await control(sim, 'POST', '/__sim/faults', { kind: 'http429', latencyMs: 5 });
    expect(misplaced.status).toBe(400);
    expect(misplaced.body.message).toMatch(/latencyMs applies only to latency/);
    const badPath = await control(sim, 'POST', '/__sim/faults', {
      kind: 'http5xx',
      paths: ['/trade/v1/nope'],
    });
    expect(badPath.status).toBe(400);
    const bad5xx = await control(sim, 'POST', '/__sim/faults', { kind: 'http5xx', status: 404 });
    expect(bad5xx.status).toBe(400);
  });
});
