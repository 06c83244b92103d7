import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/simulator/server.js';
import { DEFAULT_SIMULATOR_CREDENTIAL, startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import {
  control,
  cpmPayment,
  DEFAULT_CREDENTIAL,
  freshState,
  mpmPayment,
  qfOk,
  qfpay,
  queryOne,
} from './helpers.js';

/** The /__sim/ control API and the in-process control and lifecycle. */

const SECRET_STORE = {
  appcode: 'CONTROLTESTAPPCODE00000000000000',
  key: 'control-test-key-5f1c',
  mchid: 'Shop42',
};
let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ quiet: true, credentials: [DEFAULT_CREDENTIAL, SECRET_STORE] });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await freshState(sim);
});

describe('defaults', () => {
  it('the built-in credential is the documented fake one', () => {
    expect(DEFAULT_SIMULATOR_CREDENTIAL).toEqual(DEFAULT_CREDENTIAL);
    expect(DEFAULT_SIMULATOR_CREDENTIAL.appcode).toHaveLength(32);
    expect(DEFAULT_SIMULATOR_CREDENTIAL.mchid).toBeUndefined();
  });

  it('listens on 127.0.0.1 on an ephemeral port by default', async () => {
    const plain = await startSimulator({ quiet: true });
    try {
      expect(plain.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(plain.credentials).toEqual([DEFAULT_SIMULATOR_CREDENTIAL]);
      expect((await qfOk(plain, '/trade/v1/query', {})).respcd).toBe('0000');
    } finally {
      await plain.close();
    }
  });

  it('close() ends kept-alive connections and waiting requests, and can be called twice', async () => {
    const closing = await startSimulator({ quiet: true });
    await qfOk(closing, '/trade/v1/query', {});
    await control(closing, 'POST', '/__sim/faults', { kind: 'latency', latencyMs: 60_000 });
    const hanging = qfpay(closing, '/trade/v1/query', {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await Promise.all([closing.close(), closing.close()]);
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(hanging).rejects.toThrow();
    await expect(qfpay(closing, '/trade/v1/query', {})).rejects.toThrow();
  });

  it('refuses impossible options', async () => {
    await expect(startSimulator({ timeScale: 0 })).rejects.toThrow(/timeScale/);
    await expect(startSimulator({ credentials: [] })).rejects.toThrow(/at least one/);
    await expect(startSimulator({ credentials: [DEFAULT_CREDENTIAL, DEFAULT_CREDENTIAL] })).rejects.toThrow(
      /twice/,
    );
    await expect(startSimulator({ port: 70_000 })).rejects.toThrow(/port/);
  });
});

describe('clock', () => {
  it('GET shows simulated UTC+8 time; POST sets it (QFPay or ISO format) and advances it', async () => {
    const set = await control(sim, 'POST', '/__sim/clock', { set: '2026-07-01 08:00:00' });
    const clock = set.body.clock as { iso: string; time_scale: number };
    expect(clock.iso).toMatch(/^2026-07-01T00:00:0/);
    expect(clock.time_scale).toBe(1);
    const advanced = await control(sim, 'POST', '/__sim/clock', { advanceMs: 3_600_000 });
    expect((advanced.body.clock as { now: string }).now).toMatch(/^2026-07-01 09:00:0\d$/);
    const iso = await control(sim, 'POST', '/__sim/clock', { set: '2026-07-01T12:00:00+08:00' });
    expect((iso.body.clock as { now: string }).now).toMatch(/^2026-07-01 12:00:0\d$/);
    const got = await control(sim, 'GET', '/__sim/clock');
    expect((got.body.clock as { now: string }).now).toMatch(/^2026-07-01 12:00:\d\d$/);
    const answer = await qfOk(sim, '/trade/v1/payment', cpmPayment());
    expect(answer.syssn!.startsWith('20260701')).toBe(true);
  });

  it('refuses clock input it cannot read', async () => {
    for (const body of [
      { set: 'tomorrow' },
      { set: '2026-07-01T12:00:00' },
      { advanceMs: -5 },
      { rewind: 1 },
    ]) {
      const result = await control(sim, 'POST', '/__sim/clock', body);
      expect(result.status, JSON.stringify(body)).toBe(400);
      expect(result.body.error).toBe('invalid_request');
    }
  });
});

describe('state dumps', () => {
  it('/__sim/transactions shows state and never a key', async () => {
    await qfOk(sim, '/trade/v1/payment', cpmPayment(), { credential: SECRET_STORE });
    const order = await qfOk(sim, '/trade/v1/payment', mpmPayment());
    const result = await request(`${sim.baseUrl}/__sim/transactions`);
    const text = await result.body.text();
    expect(text).not.toContain(SECRET_STORE.key);
    expect(text).not.toContain(DEFAULT_CREDENTIAL.key);
    const { transactions } = JSON.parse(text) as { transactions: Record<string, unknown>[] };
    expect(transactions).toHaveLength(2);
    expect(transactions[0]).toMatchObject({
      appcode: SECRET_STORE.appcode,
      mchid: 'Shop42',
      state: 'PAID',
      respcd: '0000',
    });
    expect(transactions[1]).toMatchObject({ syssn: order.syssn, state: 'AWAITING_CUSTOMER' });
    expect(transactions[1]!.expires_at).toMatch(/^2026-03-15 12:30/);
  });

  it('/__sim/requests logs mchid and respcd per request, not control calls', async () => {
    await qfOk(sim, '/trade/v1/query', {}, { credential: SECRET_STORE });
    await qfpay(sim, '/trade/v1/query', {}, { signature: 'bad' });
    const { requests } = (await control(sim, 'GET', '/__sim/requests')).body as {
      requests: Record<string, unknown>[];
    };
    expect(requests).toEqual([
      expect.objectContaining({
        path: '/trade/v1/query',
        appcode: SECRET_STORE.appcode,
        mchid: 'Shop42',
        http_status: 200,
        respcd: '0000',
      }),
      expect.objectContaining({
        path: '/trade/v1/query',
        appcode: DEFAULT_CREDENTIAL.appcode,
        http_status: 200,
        respcd: '1108',
      }),
    ]);
  });

  it('reset clears transactions, requests, faults and the clock offset', async () => {
    const before = await qfOk(sim, '/trade/v1/payment', cpmPayment());
    await control(sim, 'POST', '/__sim/faults', { kind: 'http5xx', count: 10 });
    await control(sim, 'POST', '/__sim/clock', { set: '2030-01-01 00:00:00' });
    expect((await control(sim, 'POST', '/__sim/reset')).body).toEqual({ reset: true });
    expect((await control(sim, 'GET', '/__sim/transactions')).body.transactions).toEqual([]);
    expect((await control(sim, 'GET', '/__sim/requests')).body.requests).toEqual([]);
    expect((await control(sim, 'GET', '/__sim/faults')).body.faults).toEqual([]);
    const clock = (await control(sim, 'GET', '/__sim/clock')).body.clock as { epoch_ms: number };
    expect(Math.abs(clock.epoch_ms - Date.now())).toBeLessThan(5_000);
    expect(await queryOne(sim, { syssn: before.syssn! })).toBeUndefined();
  });
});

describe('routing', () => {
  it('answers 404 for an unknown control operation and 400 for a non-JSON body', async () => {
    const unknown = await control(sim, 'GET', '/__sim/nothing');
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/docs\/simulator\.md/);
    const response = await request(`${sim.baseUrl}/__sim/clock`, { method: 'POST', body: '{not json' });
    expect(response.statusCode).toBe(400);
    await response.body.dump();
  });

  it('serves the control API to loopback addresses only', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('127.8.9.10')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('10.0.0.2')).toBe(false);
    expect(isLoopback('::ffff:192.168.1.5')).toBe(false);
    expect(isLoopback('fe80::1')).toBe(false);
    expect(isLoopback(undefined)).toBe(false);
  });
});

describe('in-process control', () => {
  it('offers the same operations on RunningSimulator.control', async () => {
    const order = await qfOk(sim, '/trade/v1/payment', mpmPayment());
    const view = sim.control.pay({ syssn: order.syssn!, outcome: 'pay' });
    expect(view.state).toBe('PAID');
    expect(() => sim.control.pay({ syssn: order.syssn!, outcome: 'pay' })).toThrow(/not waiting/);
    expect(sim.control.requests().length).toBeGreaterThan(0);
    sim.control.addFault({ kind: 'http5xx' });
    expect((await qfpay(sim, '/trade/v1/query', {})).status).toBe(503);
    sim.control.setClock({ set: '2026-05-05 05:05:05' });
    expect(sim.control.clock().now).toMatch(/^2026-05-05 05:05:0\d$/);
    sim.control.reset();
    expect(sim.control.transactions()).toEqual([]);
  });
});
