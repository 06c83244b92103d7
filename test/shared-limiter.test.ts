import { randomUUID } from 'node:crypto';

import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import { describeConfig, loadConfig } from '../src/qfpay/config.js';
import type { RateSlot } from '../src/qfpay/limiter.js';
import { getSharedMerchantLimiter, type SharedMerchantLimiter } from '../src/qfpay/shared-limiter.js';
import type { RateWindow } from '../src/qfpay/types.js';
import { describeWithServices } from './support/services.js';

/**
 * The Redis-shared limiter against a real Redis. Several "instances" in one test are limiters on
 * separate connections (distinct URL spellings of the same server), each with its own local line,
 * drawing from one budget by key prefix; test/shared-limiter-instances.test.ts does the same with
 * separate processes. Every test uses its own key prefix and deletes its keys.
 */

function assertWithinWindows(stamps: readonly number[], windows: readonly RateWindow[]): void {
  const sorted = [...stamps].sort((a, b) => a - b);
  for (const { count, durationMs } of windows) {
    for (let i = 0; i + count < sorted.length; i++) {
      expect(sorted[i + count]! - sorted[i]!).toBeGreaterThanOrEqual(durationMs);
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('QFPAY_REDIS_URL', () => {
  it('selects the shared limiter; describeConfig never shows the URL (it may hold a password)', () => {
    const config = loadConfig({ QFPAY_REDIS_URL: 'redis://:s3cret-pass@10.0.0.5:6379/2' });
    expect(config.redisUrl).toBe('redis://:s3cret-pass@10.0.0.5:6379/2');
    const described = JSON.stringify(describeConfig(config));
    expect(described).toContain('shared (Redis)');
    expect(described).not.toContain('s3cret');
    expect(loadConfig({}).redisUrl).toBeUndefined();
    expect(describeConfig(loadConfig({}))).toMatchObject({ rateLimiter: 'in-process' });
  });

  it.each(['http://127.0.0.1:6379', 'localhost:6379', 'redis://'])(
    'refuses %s, naming the variable',
    (url) => {
      expect(() => loadConfig({ QFPAY_REDIS_URL: url })).toThrow(/QFPAY_REDIS_URL: is not a redis:\/\//);
    },
  );
});

describe('shared limiter when Redis cannot be reached', () => {
  it('reports the request as not sent and never runs it', async () => {
    const limiter = getSharedMerchantLimiter('unreachable', [{ count: 5, durationMs: 1000 }], {
      redisUrl: 'redis://127.0.0.1:1',
    });
    let ran = false;
    await expect(
      limiter.schedule(
        () => {
          ran = true;
          return Promise.resolve();
        },
        { request: { endpoint: 'payment', out_trade_no: 'order_unreachable' } },
      ),
    ).rejects.toMatchObject({
      kind: 'not_sent',
      reason: 'limiter_unavailable',
      out_trade_no: 'order_unreachable',
    });
    expect(ran).toBe(false);
    await limiter.detach();
  });
});

describeWithServices('SharedMerchantLimiter on a real Redis', ['redis'], ([redisUrl]) => {
  const base = redisUrl!.replace(/\/\d*$/, '');
  /** Three spellings of one server: three connections, three local lines, one budget. */
  const urls = [base, `${base}/0`, `${base}/0?connectionName=third`];
  const prefixes: string[] = [];
  const admin = new Redis(base);

  afterAll(async () => {
    for (const prefix of prefixes) {
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(...keys);
    }
    await admin.quit();
  });

  function instances(
    windows: RateWindow[],
    leaseMs?: number,
  ): { limiters: SharedMerchantLimiter[]; prefix: string } {
    const prefix = `qfpay-test:${randomUUID()}:`;
    prefixes.push(prefix);
    const merchant = `https://sim|APP${randomUUID()}|`;
    const limiters = urls.map((redisUrl) =>
      getSharedMerchantLimiter(merchant, windows, {
        redisUrl,
        keyPrefix: prefix,
        ...(leaseMs !== undefined ? { leaseMs } : {}),
      }),
    );
    return { limiters, prefix };
  }

  async function openCount(prefix: string): Promise<number> {
    const keys = await admin.keys(`${prefix}*:open`);
    let total = 0;
    for (const key of keys) total += await admin.zcard(key);
    return total;
  }

  async function detachAll(limiters: SharedMerchantLimiter[]): Promise<void> {
    for (const limiter of limiters) await limiter.detach();
  }

  it('property: across three instances, what runs keeps every window from dispatch to answer; leavers never run and hold nothing', async () => {
    const windowsArb = fc.uniqueArray(
      fc.record({ count: fc.integer({ min: 1, max: 4 }), durationMs: fc.integer({ min: 40, max: 160 }) }),
      { minLength: 1, maxLength: 2, selector: (w) => `${w.count}/${w.durationMs}` },
    );
    const taskArb = fc.record({
      instance: fc.integer({ min: 0, max: 2 }),
      arrival: fc.integer({ min: 0, max: 120 }),
      duration: fc.integer({ min: 0, max: 20 }),
      leaving: fc.oneof(
        fc.constant({ kind: 'stays' as const }),
        fc.record({ kind: fc.constant('aborts' as const), after: fc.integer({ min: 0, max: 150 }) }),
        fc.record({ kind: fc.constant('deadline' as const), maxWaitMs: fc.integer({ min: 0, max: 150 }) }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        windowsArb,
        fc.array(taskArb, { minLength: 4, maxLength: 16 }),
        async (windows, tasks) => {
          const { limiters, prefix } = instances(windows);
          const dispatched = new Map<number, number>();
          const completed = new Map<number, number>();
          const left = new Map<number, unknown>();
          await Promise.all(
            tasks.map(async (task, i) => {
              await sleep(task.arrival);
              const controller = new AbortController();
              if (task.leaving.kind === 'aborts') setTimeout(() => controller.abort(), task.leaving.after);
              try {
                await limiters[task.instance]!.schedule(
                  async () => {
                    dispatched.set(i, performance.now());
                    await sleep(task.duration);
                    completed.set(i, performance.now());
                  },
                  {
                    signal: controller.signal,
                    ...(task.leaving.kind === 'deadline' ? { maxWaitMs: task.leaving.maxWaitMs } : {}),
                    request: { endpoint: 'query' },
                  },
                );
              } catch (error) {
                left.set(i, error);
              }
            }),
          );
          // Release scripts are sent as the tasks finish; one round trip later they have all run.
          await admin.ping();
          await sleep(20);
          try {
            for (const [i, error] of left) {
              expect(dispatched.has(i)).toBe(false);
              expect(error).toMatchObject({ kind: 'not_sent' });
              expect(tasks[i]!.leaving.kind).not.toBe('stays');
            }
            const ran = [...dispatched.keys()];
            expect(ran.length + left.size).toBe(tasks.length);
            // Each local [dispatch, answer] lies inside the [admission, release] Redis recorded.
            assertWithinWindows(
              ran.map((i) => dispatched.get(i)!),
              windows,
            );
            assertWithinWindows(
              ran.map((i) => completed.get(i)!),
              windows,
            );
            expect(await openCount(prefix)).toBe(0);
          } finally {
            await detachAll(limiters);
          }
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);

  it('a request queued past its deadline leaves without a slot; the holder keeps its own', async () => {
    const { limiters, prefix } = instances([{ count: 1, durationMs: 10_000 }]);
    const [a, b] = limiters as [SharedMerchantLimiter, SharedMerchantLimiter];
    try {
      const held: RateSlot = await a.acquire();
      await expect(
        b.acquire({ maxWaitMs: 100, request: { endpoint: 'payment', out_trade_no: 'order_late' } }),
      ).rejects.toMatchObject({ kind: 'not_sent', reason: 'deadline', out_trade_no: 'order_late' });
      expect(await openCount(prefix)).toBe(1);
      held.release();
      await admin.ping();
      await sleep(20);
      expect(await openCount(prefix)).toBe(0);
    } finally {
      await detachAll(limiters);
    }
  });

  it('a slot whose holder vanished is freed when its lease ends, not before', async () => {
    const { limiters, prefix } = instances([{ count: 1, durationMs: 50 }], 400);
    const [a, b] = limiters as [SharedMerchantLimiter, SharedMerchantLimiter];
    try {
      const before = performance.now();
      await a.acquire(); // never released: its process "crashed"
      await b.schedule(() => Promise.resolve());
      // b's admission is at or after a's lease end, itself at least 400 ms after `before`.
      expect(performance.now() - before).toBeGreaterThanOrEqual(400);
      await admin.ping();
      await sleep(20);
      expect(await openCount(prefix)).toBe(0);
    } finally {
      await detachAll(limiters);
    }
  });

  it("an upstream 429 seen by one instance pauses every instance's admissions", async () => {
    const { limiters } = instances([{ count: 100, durationMs: 1_000 }]);
    const [a, b] = limiters as [SharedMerchantLimiter, SharedMerchantLimiter];
    try {
      const before = performance.now();
      a.holdFor(400);
      // Another merchant on a's connection: once it is admitted, Redis has run the hold too
      // (one connection's commands run in order), so b is asked after the hold is in place.
      const neighbour = getSharedMerchantLimiter(`other${randomUUID()}`, [{ count: 1, durationMs: 1 }], {
        redisUrl: urls[0]!,
        keyPrefix: prefixes.at(-1)!,
      });
      await neighbour.schedule(() => Promise.resolve());
      await neighbour.detach();
      await b.schedule(() => Promise.resolve());
      expect(performance.now() - before).toBeGreaterThanOrEqual(400);
    } finally {
      await detachAll(limiters);
    }
  });

  it('an aborted wait rejects as not sent and frees nothing it did not take', async () => {
    const { limiters, prefix } = instances([{ count: 1, durationMs: 10_000 }]);
    const [a, b] = limiters as [SharedMerchantLimiter, SharedMerchantLimiter];
    try {
      const held = await a.acquire();
      const controller = new AbortController();
      const waiting = b.acquire({
        signal: controller.signal,
        request: { endpoint: 'refund', out_trade_no: 'r1' },
      });
      setTimeout(() => controller.abort(new Error('caller left')), 50);
      await expect(waiting).rejects.toMatchObject({
        kind: 'not_sent',
        reason: 'cancelled',
        out_trade_no: 'r1',
      });
      expect(await openCount(prefix)).toBe(1);
      held.release();
    } finally {
      await detachAll(limiters);
    }
  });
});
