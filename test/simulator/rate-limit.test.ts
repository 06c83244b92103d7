import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SlidingWindowLimiter } from '../../src/simulator/rate-limit.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { RequestLogEntry, RunningSimulator } from '../../src/simulator/index.js';
import { control, DEFAULT_CREDENTIAL, freshState, qfpay } from './helpers.js';

/** Per-merchant sliding-window rate limits (HTTP 429), observed at the receiving end. */

describe('SlidingWindowLimiter', () => {
  it('admits at most COUNT in any window and frees capacity as the window slides', () => {
    let now = 0;
    const limiter = new SlidingWindowLimiter([{ count: 3, durationMs: 100 }], () => now);
    expect([1, 2, 3, 4].map(() => limiter.tryAdmit('m'))).toEqual([true, true, true, false]);
    now = 99;
    expect(limiter.tryAdmit('m')).toBe(false);
    now = 100; // the window (0, 100] no longer holds the requests at t=0
    expect(limiter.tryAdmit('m')).toBe(true);
    expect(limiter.tryAdmit('m')).toBe(true);
    expect(limiter.tryAdmit('m')).toBe(true);
    expect(limiter.tryAdmit('m')).toBe(false);
  });

  it('does not count rejected requests', () => {
    let now = 0;
    const limiter = new SlidingWindowLimiter([{ count: 2, durationMs: 100 }], () => now);
    limiter.tryAdmit('m');
    limiter.tryAdmit('m');
    for (now = 1; now < 100; now++) expect(limiter.tryAdmit('m')).toBe(false);
    now = 100;
    expect(limiter.tryAdmit('m')).toBe(true);
  });

  it('enforces every window at once and keeps merchants apart', () => {
    let now = 0;
    const limiter = new SlidingWindowLimiter(
      [
        { count: 2, durationMs: 10 },
        { count: 3, durationMs: 1_000 },
      ],
      () => now,
    );
    expect(limiter.tryAdmit('a')).toBe(true);
    expect(limiter.tryAdmit('a')).toBe(true);
    now = 20;
    expect(limiter.tryAdmit('a')).toBe(true);
    now = 40;
    expect(limiter.tryAdmit('a')).toBe(false); // the 1 s window is full
    expect(limiter.tryAdmit('b')).toBe(true);
    now = 1_000;
    expect(limiter.tryAdmit('a')).toBe(true);
  });

  it('never admits more than COUNT in any window over a random schedule', () => {
    let now = 0;
    const windows = [
      { count: 5, durationMs: 200 },
      { count: 12, durationMs: 1_000 },
    ];
    const limiter = new SlidingWindowLimiter(windows, () => now);
    const admitted: number[] = [];
    let seed = 42;
    for (let i = 0; i < 5_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      now += seed % 37;
      if (limiter.tryAdmit('m')) admitted.push(now);
    }
    for (const window of windows) {
      for (let i = 0; i < admitted.length; i++) {
        const inWindow = admitted.filter(
          (t) => t > admitted[i]! - window.durationMs && t <= admitted[i]!,
        ).length;
        expect(inWindow).toBeLessThanOrEqual(window.count);
      }
    }
    expect(admitted.length).toBeGreaterThan(100);
  });
});

describe('the simulator under load', () => {
  const OTHER = { appcode: 'SECONDMERCHANT000000000000000000', key: 'second-key' };
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({
      quiet: true,
      credentials: [DEFAULT_CREDENTIAL, OTHER],
      // 1 s rather than 200 ms, so a loaded machine cannot spread a burst over two windows.
      rateLimits: [{ count: 5, durationMs: 1_000 }],
    });
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(async () => {
    await freshState(sim);
  });

  it('answers HTTP 429 beyond 5 requests in 1 s and records every request', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => qfpay(sim, '/trade/v1/query', {})));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const limited = results.find((r) => r.status === 429)!;
    expect(limited.answer?.resperr).toBe('Too Many Requests');
    expect(limited.headers['retry-after']).toBeUndefined();

    const log = (await control(sim, 'GET', '/__sim/requests')).body.requests as RequestLogEntry[];
    expect(log).toHaveLength(8);
    expect(log.filter((e) => e.http_status === 429)).toHaveLength(3);
    expect(log.filter((e) => e.respcd === '0000')).toHaveLength(5);
    for (const entry of log) {
      expect(entry).toMatchObject({
        path: '/trade/v1/query',
        method: 'POST',
        appcode: DEFAULT_CREDENTIAL.appcode,
      });
      expect(entry.at_ms).toBeTypeOf('number');
    }
  });

  it('admits again once the window has slid', async () => {
    await Promise.all(Array.from({ length: 6 }, () => qfpay(sim, '/trade/v1/query', {})));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await qfpay(sim, '/trade/v1/query', {})).status).toBe(200);
  });

  it('limits each merchant separately', async () => {
    await Promise.all(Array.from({ length: 6 }, () => qfpay(sim, '/trade/v1/query', {})));
    expect((await qfpay(sim, '/trade/v1/query', {}, { credential: OTHER })).status).toBe(200);
  });

  it('rate limits before it processes: a 429 payment books nothing', async () => {
    await Promise.all(Array.from({ length: 5 }, () => qfpay(sim, '/trade/v1/query', {})));
    const limited = await qfpay(sim, '/trade/v1/payment', {
      pay_type: '800208',
      txamt: '100',
      txcurrcd: 'HKD',
      out_trade_no: 'RATE_LIMITED_1',
      txdtm: '2026-03-15 12:00:00',
      auth_code: '134567890123456789',
    });
    expect(limited.status).toBe(429);
    const transactions = (await control(sim, 'GET', '/__sim/transactions')).body.transactions as unknown[];
    expect(transactions).toEqual([]);
  });
});
