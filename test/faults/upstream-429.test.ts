import { afterEach, describe, expect, it } from 'vitest';

import { QfpayClient } from '../../src/qfpay/client.js';
import { resetMerchantLimiters } from '../../src/qfpay/limiter.js';
import type { RateWindow } from '../../src/qfpay/types.js';
import { DEFAULT_SIMULATOR_CREDENTIAL, startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import {
  admittedArrivals,
  injectFault,
  limiterRejections,
  maxInAnyWindow,
  simulatorRequests,
  startWireTap,
} from './helpers.js';
import type { WireTap } from './helpers.js';

/**
 * QFPay answers HTTP 429 for a while while hundreds of queries wait in
 * one client's queue. Nothing may be lost or answered twice, and the upstream must never see more
 * than the configured sliding windows allow — counted at the receiving end.
 */

/** Scaled-down QFPay limits (100/1s and 400/60s in production), identical on both sides. */
const WINDOWS: RateWindow[] = [
  { count: 50, durationMs: 200 },
  { count: 200, durationMs: 2_000 },
];
const QUERY_PATH = '/trade/v1/query';

let simulator: RunningSimulator | undefined;
let tap: WireTap | undefined;
let client: QfpayClient | undefined;

afterEach(async () => {
  await client?.destroy();
  await tap?.close();
  await simulator?.close();
  client = undefined;
  tap = undefined;
  simulator = undefined;
  resetMerchantLimiters();
});

async function setUp(
  windows: RateWindow[],
): Promise<{ simulator: RunningSimulator; tap: WireTap; client: QfpayClient }> {
  simulator = await startSimulator({ rateLimits: windows, quiet: true });
  tap = await startWireTap(simulator.baseUrl);
  client = new QfpayClient({
    baseUrl: tap.url,
    credentials: DEFAULT_SIMULATOR_CREDENTIAL,
    rateLimits: windows,
  });
  return { simulator, tap, client };
}

describe('upstream 429 storm with a full queue', () => {
  it('answers all 300 queued queries exactly once, within the windows, after 2 s of 429s', async () => {
    const { simulator, tap, client } = await setUp(WINDOWS);
    const count = 300;
    const refs = Array.from({ length: count }, (_, i) => `storm_${String(i).padStart(3, '0')}`);

    await injectFault(simulator.baseUrl, { kind: 'http429', durationMs: 2_000, paths: [QUERY_PATH] });
    const settled = await Promise.allSettled(refs.map((ref) => client.query({ out_trade_no: [ref] })));

    // Every caller got an answer, and it was QFPay's 0000.
    const failures = settled.filter((s) => s.status === 'rejected');
    expect(failures).toEqual([]);
    for (const outcome of settled) {
      expect(outcome.status === 'fulfilled' && outcome.value.respcd).toBe('0000');
    }

    // Per reference, on the wire: exactly one 200, any number of 429s, nothing else.
    const byRef = new Map<string, { ok: number; rejected: number; other: number }>();
    for (const exchange of tap.exchanges) {
      const tally = byRef.get(exchange.outTradeNo ?? '') ?? { ok: 0, rejected: 0, other: 0 };
      if (exchange.status === 200) tally.ok++;
      else if (exchange.status === 429) tally.rejected++;
      else tally.other++;
      byRef.set(exchange.outTradeNo ?? '', tally);
    }
    expect([...byRef.keys()].sort()).toEqual(refs);
    for (const ref of refs) {
      expect(byRef.get(ref)).toEqual(expect.objectContaining({ ok: 1, other: 0 }));
    }
    const rejectedOnTheWire = [...byRef.values()].reduce((sum, t) => sum + t.rejected, 0);
    expect(rejectedOnTheWire).toBeGreaterThan(0); // the storm really happened

    // At the simulator: the same story, and its own limiter never had to refuse anything.
    const received = (await simulatorRequests(simulator.baseUrl)).filter((r) => r.path === QUERY_PATH);
    expect(received.filter((r) => r.http_status === 200)).toHaveLength(count);
    expect(received.filter((r) => r.fault === 'http429')).toHaveLength(rejectedOnTheWire);
    expect(limiterRejections(received)).toBe(0);
    expect(received).toHaveLength(count + rejectedOnTheWire);

    // Recounted from arrival timestamps: no sliding window ever held more than its count.
    const arrivals = admittedArrivals(received);
    for (const window of WINDOWS) {
      expect(maxInAnyWindow(arrivals, window.durationMs, 1)).toBeLessThanOrEqual(window.count);
    }
  });

  it('honours Retry-After: nothing reaches QFPay until it has passed', async () => {
    // One request at a time, so "the next arrival" is unambiguous.
    const { simulator, client } = await setUp([{ count: 1, durationMs: 20 }]);
    await injectFault(simulator.baseUrl, {
      kind: 'http429',
      count: 1,
      retryAfterSeconds: 1,
      paths: [QUERY_PATH],
    });
    const answers = await Promise.all(
      ['ra_1', 'ra_2', 'ra_3', 'ra_4'].map((ref) => client.query({ out_trade_no: [ref] })),
    );
    expect(answers.map((a) => a.respcd)).toEqual(['0000', '0000', '0000', '0000']);

    const received = (await simulatorRequests(simulator.baseUrl)).filter((r) => r.path === QUERY_PATH);
    expect(received).toHaveLength(5);
    const [rejected, next] = received;
    expect(rejected?.http_status).toBe(429);
    expect(next?.http_status).toBe(200);
    // at_ms is whole milliseconds; 1 ms of rounding is the only slack allowed.
    expect(next!.at_ms - rejected!.at_ms).toBeGreaterThanOrEqual(999);
  });
});
