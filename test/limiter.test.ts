import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { getMerchantLimiter, MerchantLimiter, resetMerchantLimiters } from '../src/qfpay/limiter.js';
import type { LimiterClock } from '../src/qfpay/limiter.js';
import type { RateWindow } from '../src/qfpay/types.js';

/**
 * A virtual clock: time only moves when the test says so, and it jumps straight to the next timer
 * once every promise chain has settled. p-queue's readme warns that fake timers mis-handle its
 * microtasks; this clock never touches the real timer APIs the library uses.
 */
class VirtualClock implements LimiterClock {
  private time = 0;
  private seq = 0;
  private timers: Array<{ at: number; seq: number; fire: () => void }> = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fire: () => resolve() };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((t) => t !== timer);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }

  at(time: number, fire: () => void): void {
    this.timers.push({ at: time, seq: this.seq++, fire });
  }

  /** Runs every timer in time order, letting all promise chains settle before each jump. */
  async run(): Promise<void> {
    for (;;) {
      await settle();
      if (this.timers.length === 0) return;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.time = Math.max(this.time, next.at);
      next.fire();
    }
  }
}

async function settle(): Promise<void> {
  // setImmediate runs after the microtask queue is empty; a few rounds cover p-queue's hops.
  for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The earliest FIFO schedule any correct limiter can achieve: d_i = max(a_i, d_{i-1}, d_{i-c}+D). */
function earliestSchedule(arrivals: readonly number[], windows: readonly RateWindow[]): number[] {
  const dispatched: number[] = [];
  arrivals.forEach((arrival, i) => {
    let at = Math.max(arrival, i > 0 ? dispatched[i - 1]! : arrival);
    for (const { count, durationMs } of windows) {
      if (i >= count) at = Math.max(at, dispatched[i - count]! + durationMs);
    }
    dispatched.push(at);
  });
  return dispatched;
}

function assertWithinWindows(dispatches: readonly number[], windows: readonly RateWindow[]): void {
  const sorted = [...dispatches].sort((a, b) => a - b);
  for (const { count, durationMs } of windows) {
    for (let i = 0; i + count < sorted.length; i++) {
      // count+1 dispatches may never fit inside one window of durationMs.
      expect(sorted[i + count]! - sorted[i]!).toBeGreaterThanOrEqual(durationMs);
    }
  }
}

const windowsArb = fc.uniqueArray(
  fc.record({ count: fc.integer({ min: 1, max: 8 }), durationMs: fc.integer({ min: 1, max: 400 }) }),
  { minLength: 1, maxLength: 3, selector: (w) => `${w.count}/${w.durationMs}` },
);
const arrivalsArb = fc
  .array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 40 })
  .map((times) => times.sort((a, b) => a - b));

afterEach(() => resetMerchantLimiters());

describe('MerchantLimiter on a virtual clock (property)', () => {
  const durationsArb = fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 40, maxLength: 40 });

  /** Runs the arrivals through a limiter; returns each task's dispatch and completion instants. */
  async function simulate(
    windows: RateWindow[],
    arrivals: number[],
    durations: number[],
    stamp: 'dispatch' | 'completion',
  ): Promise<{ dispatched: number[]; completed: number[]; limiter: MerchantLimiter }> {
    const clock = new VirtualClock();
    const limiter = new MerchantLimiter(windows, { clock, maxInFlight: Number.POSITIVE_INFINITY, stamp });
    const dispatched: number[] = new Array<number>(arrivals.length);
    const completed: number[] = new Array<number>(arrivals.length);
    const done: Array<Promise<void>> = [];
    arrivals.forEach((arrival, i) =>
      clock.at(arrival, () => {
        done.push(
          limiter.schedule(async () => {
            dispatched[i] = clock.now();
            await clock.sleep(durations[i]!);
            completed[i] = clock.now();
          }),
        );
      }),
    );
    await clock.run();
    await Promise.all(done);
    return { dispatched, completed, limiter };
  }

  it("'dispatch' stamps: no window admits more than its count, and nobody waits longer than the windows require", async () => {
    await fc.assert(
      fc.asyncProperty(windowsArb, arrivalsArb, durationsArb, async (windows, arrivals, durations) => {
        const { dispatched, limiter } = await simulate(windows, arrivals, durations, 'dispatch');
        assertWithinWindows(dispatched, windows);
        const earliest = earliestSchedule(arrivals, windows);
        dispatched.forEach((at, i) => {
          expect(at).toBeGreaterThanOrEqual(arrivals[i]!);
          expect(at).toBeLessThanOrEqual(earliest[i]! + 1);
        });
        // First come, first served.
        for (let i = 1; i < dispatched.length; i++)
          expect(dispatched[i]!).toBeGreaterThanOrEqual(dispatched[i - 1]!);
        expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0 });
      }),
      { numRuns: 300 },
    );
  });

  it("'completion' stamps: wherever each request lands between dispatch and answer, no window sees more than its count", async () => {
    await fc.assert(
      fc.asyncProperty(
        windowsArb,
        arrivalsArb,
        durationsArb,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }),
        async (windows, arrivals, durations, landing) => {
          const { dispatched, completed, limiter } = await simulate(
            windows,
            arrivals,
            durations,
            'completion',
          );
          // Where the upstream sees each request: any instant between dispatch and answer.
          const seenUpstream = dispatched.map((d, i) => d + landing[i]! * (completed[i]! - d));
          assertWithinWindows(seenUpstream, windows);
          assertWithinWindows(dispatched, windows);
          assertWithinWindows(completed, windows);
          expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0 });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("'completion' stamps: nobody waits once every window has room (earlier requests count until answered)", async () => {
    await fc.assert(
      fc.asyncProperty(windowsArb, arrivalsArb, durationsArb, async (windows, arrivals, durations) => {
        const { dispatched, completed } = await simulate(windows, arrivals, durations, 'completion');
        /** Earlier requests that occupy the window ending at t: answered after t - D (or running). */
        const occupied = (j: number, t: number, durationMs: number): number =>
          dispatched.filter((d, i) => i < j && d <= t && completed[i]! > t - durationMs).length;
        dispatched.forEach((d, j) => {
          // At dispatch there was room in every window…
          for (const w of windows) expect(occupied(j, d, w.durationMs)).toBeLessThan(w.count);
          // …and a moment earlier (once it had arrived and its predecessor had left) there was not.
          const before = d - 1;
          if (before >= arrivals[j]! && (j === 0 || before >= dispatched[j - 1]!))
            expect(windows.some((w) => occupied(j, before, w.durationMs) >= w.count)).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  /** How a queued task may leave the line: never, by its caller's abort at an instant, or by a deadline. */
  const leavingArb = fc.array(
    fc.oneof(
      fc.constant({ kind: 'stays' as const }),
      fc.record({ kind: fc.constant('aborts' as const), after: fc.integer({ min: 0, max: 500 }) }),
      fc.record({ kind: fc.constant('deadline' as const), maxWaitMs: fc.integer({ min: 0, max: 500 }) }),
    ),
    { minLength: 40, maxLength: 40 },
  );

  it.each(['dispatch', 'completion'] as const)(
    "'%s' stamps: callers that leave the line (abort or deadline) never run, take no slot, and delay nobody",
    async (stamp) => {
      await fc.assert(
        fc.asyncProperty(
          windowsArb,
          arrivalsArb,
          durationsArb,
          leavingArb,
          async (windows, arrivals, durations, leaving) => {
            const clock = new VirtualClock();
            const limiter = new MerchantLimiter(windows, {
              clock,
              maxInFlight: Number.POSITIVE_INFINITY,
              stamp,
            });
            const dispatched = new Map<number, number>();
            const completed = new Map<number, number>();
            const left = new Map<number, { at: number; reason: unknown }>();
            const done: Array<Promise<void>> = [];
            arrivals.forEach((arrival, i) =>
              clock.at(arrival, () => {
                const how = leaving[i]!;
                const controller = new AbortController();
                if (how.kind === 'aborts')
                  clock.at(arrival + how.after, () => controller.abort(new Error('gone')));
                const task = limiter.schedule(
                  async () => {
                    dispatched.set(i, clock.now());
                    await clock.sleep(durations[i]!);
                    completed.set(i, clock.now());
                  },
                  {
                    signal: controller.signal,
                    ...(how.kind === 'deadline' ? { maxWaitMs: how.maxWaitMs } : {}),
                    request: { endpoint: 'payment', out_trade_no: `order_${i}` },
                  },
                );
                done.push(
                  task.then(
                    () => undefined,
                    (error: unknown) => void left.set(i, { at: clock.now(), reason: error }),
                  ),
                );
              }),
            );
            await clock.run();
            await Promise.all(done);

            const ran = [...dispatched.keys()].sort((a, b) => a - b);
            for (const [i, { at, reason }] of left) {
              const how = leaving[i]!;
              expect(dispatched.has(i)).toBe(false);
              expect(reason).toMatchObject({ kind: 'not_sent', out_trade_no: `order_${i}` });
              if (how.kind === 'aborts') {
                expect(reason).toMatchObject({ reason: 'cancelled' });
                expect(at).toBe(arrivals[i]! + how.after);
              } else {
                expect(how.kind).toBe('deadline');
                expect(reason).toMatchObject({ reason: 'deadline' });
                if (how.kind === 'deadline') expect(at).toBe(arrivals[i]! + how.maxWaitMs);
              }
            }
            for (const i of ran) {
              const how = leaving[i]!;
              // Dispatched only while the caller still waited.
              if (how.kind === 'aborts')
                expect(dispatched.get(i)!).toBeLessThanOrEqual(arrivals[i]! + how.after);
              if (how.kind === 'deadline')
                expect(dispatched.get(i)!).toBeLessThanOrEqual(arrivals[i]! + how.maxWaitMs);
            }
            expect(ran.length + left.size).toBe(arrivals.length);
            // No window exceeded by what was sent…
            assertWithinWindows(
              ran.map((i) => dispatched.get(i)!),
              windows,
            );
            if (stamp === 'completion')
              assertWithinWindows(
                ran.map((i) => completed.get(i)!),
                windows,
              );
            // …and no slot leaked: those who stayed went out as if the leavers had never queued.
            if (stamp === 'dispatch') {
              const earliest = earliestSchedule(
                ran.map((i) => arrivals[i]!),
                windows,
              );
              ran.forEach((i, k) => expect(dispatched.get(i)!).toBeLessThanOrEqual(earliest[k]! + 1));
            }
            expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0 });
          },
        ),
        { numRuns: 200 },
      );
    },
  );

  it('never runs more than maxInFlight tasks at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        arrivalsArb,
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 40, maxLength: 40 }),
        async (maxInFlight, arrivals, durations) => {
          const clock = new VirtualClock();
          const limiter = new MerchantLimiter([{ count: 5, durationMs: 100 }], {
            clock,
            maxInFlight,
            stamp: 'dispatch',
          });
          let running = 0;
          let peak = 0;
          const done: Array<Promise<void>> = [];
          arrivals.forEach((arrival, i) =>
            clock.at(arrival, () => {
              done.push(
                limiter.schedule(async () => {
                  running++;
                  peak = Math.max(peak, running);
                  expect(limiter.stats().inFlight).toBeLessThanOrEqual(maxInFlight);
                  await clock.sleep(durations[i]!);
                  running--;
                }),
              );
            }),
          );
          await clock.run();
          await Promise.all(done);
          expect(peak).toBeLessThanOrEqual(maxInFlight);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('MerchantLimiter behaviour', () => {
  it('QFPay-sized windows: 500 requests at once go out as 95/s and 380/min', async () => {
    const clock = new VirtualClock();
    const windows = [
      { count: 95, durationMs: 1_000 },
      { count: 380, durationMs: 60_000 },
    ];
    const limiter = new MerchantLimiter(windows, { clock });
    const dispatched: number[] = [];
    const done = Array.from({ length: 500 }, () =>
      limiter.schedule(() => {
        dispatched.push(clock.now());
        return Promise.resolve();
      }),
    );
    await clock.run();
    await Promise.all(done);
    assertWithinWindows(dispatched, windows);
    expect(dispatched.slice(0, 95).every((t) => t === 0)).toBe(true);
    expect(dispatched[95]).toBe(1_000);
    expect(dispatched[379]).toBe(3_000);
    // The 381st waits for the first minute's first dispatch to slide out.
    expect(dispatched[380]).toBe(60_000);
  });

  it('removes an aborted task from the line without leaking its slot', async () => {
    const clock = new VirtualClock();
    const limiter = new MerchantLimiter([{ count: 1, durationMs: 100 }], { clock, maxInFlight: 1 });
    const order: string[] = [];
    const first = limiter.schedule(async () => {
      order.push('first');
      await clock.sleep(10);
    });
    const controller = new AbortController();
    const aborted = limiter
      .schedule(
        () => {
          order.push('aborted');
          return Promise.resolve();
        },
        { signal: controller.signal },
      )
      .then(
        () => 'ran',
        (error: unknown) => error,
      );
    const third = limiter.schedule(() => {
      order.push(`third@${clock.now()}`);
      return Promise.resolve();
    });
    const reason = new Error('caller gave up');
    clock.at(5, () => controller.abort(reason));
    await clock.run();
    expect(await aborted).toMatchObject({ kind: 'not_sent', reason: 'cancelled' });
    await Promise.all([first, third]);
    // The first task was answered at 10 ms; with completion stamps it holds the window until 110.
    expect(order).toEqual(['first', 'third@110']);
    expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0 });
  });

  it('rejects at once when the signal is already aborted', async () => {
    const limiter = new MerchantLimiter([{ count: 1, durationMs: 100 }], { clock: new VirtualClock() });
    const reason = new Error('already gone');
    await expect(
      limiter.schedule(() => Promise.resolve(1), {
        signal: AbortSignal.abort(reason),
        request: { endpoint: 'payment', out_trade_no: 'order_1' },
      }),
    ).rejects.toMatchObject({ kind: 'not_sent', reason: 'cancelled', out_trade_no: 'order_1' });
    expect(limiter.stats().inFlight).toBe(0);
  });

  it('releases the slot when the task throws', async () => {
    const clock = new VirtualClock();
    const limiter = new MerchantLimiter([{ count: 10, durationMs: 100 }], { clock, maxInFlight: 1 });
    await expect(limiter.schedule(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const second = limiter.schedule(() => Promise.resolve('ok'));
    await clock.run();
    await expect(second).resolves.toBe('ok');
  });

  it('holdFor pauses every admission (used after an upstream 429)', async () => {
    const clock = new VirtualClock();
    const limiter = new MerchantLimiter([{ count: 100, durationMs: 1000 }], { clock });
    limiter.holdFor(250);
    const dispatched: number[] = [];
    const done = [1, 2].map(() =>
      limiter.schedule(() => {
        dispatched.push(clock.now());
        return Promise.resolve();
      }),
    );
    await clock.run();
    await Promise.all(done);
    expect(dispatched).toEqual([250, 250]);
  });

  it('reports queued and in-flight counts and recent dispatches', async () => {
    const clock = new VirtualClock();
    const limiter = new MerchantLimiter([{ count: 1, durationMs: 50 }], { clock });
    let release: () => void = () => undefined;
    const running = limiter.schedule(() => new Promise<void>((resolve) => (release = resolve)));
    const waiting = limiter.schedule(() => Promise.resolve());
    await settle();
    expect(limiter.stats()).toMatchObject({ queued: 1, inFlight: 1, recentStamps: [] });
    release();
    await clock.run();
    await Promise.all([running, waiting]);
    expect(limiter.stats()).toMatchObject({ queued: 0, inFlight: 0, recentStamps: [50] });
  });

  it.each([
    ['dispatch', 100],
    ['completion', 400],
  ] as const)(
    'with %s stamps, a request answered after 300 ms lets the next one go at %i ms',
    async (stamp, expected) => {
      const clock = new VirtualClock();
      const limiter = new MerchantLimiter([{ count: 1, durationMs: 100 }], { clock, stamp });
      const slow = limiter.schedule(() => clock.sleep(300));
      let startedAt = -1;
      const next = limiter.schedule(() => {
        startedAt = clock.now();
        return Promise.resolve();
      });
      await clock.run();
      await Promise.all([slow, next]);
      expect(startedAt).toBe(expected);
    },
  );

  it('refuses nonsense windows', () => {
    expect(() => new MerchantLimiter([])).toThrow('at least one');
    expect(() => new MerchantLimiter([{ count: 0, durationMs: 10 }])).toThrow('invalid rate window');
    expect(() => new MerchantLimiter([{ count: 1, durationMs: 0 }])).toThrow('invalid rate window');
  });
});

describe('merchant registry', () => {
  it('returns one limiter per merchant key and enforces the union of windows', () => {
    const a = getMerchantLimiter('https://qfpay|APP|', [{ count: 95, durationMs: 1000 }]);
    const b = getMerchantLimiter('https://qfpay|APP|', [
      { count: 95, durationMs: 1000 },
      { count: 380, durationMs: 60_000 },
    ]);
    const other = getMerchantLimiter('https://qfpay|APP|store2', [{ count: 95, durationMs: 1000 }]);
    expect(b).toBe(a);
    expect(other).not.toBe(a);
    expect(a.windows).toEqual([
      { count: 95, durationMs: 1000 },
      { count: 380, durationMs: 60_000 },
    ]);
    resetMerchantLimiters();
    expect(getMerchantLimiter('https://qfpay|APP|', [{ count: 1, durationMs: 1 }])).not.toBe(a);
  });
});

describe('MerchantLimiter on the real clock', () => {
  it('keeps every sliding window when 16 requests arrive at once', async () => {
    const windows = [
      { count: 3, durationMs: 60 },
      { count: 5, durationMs: 200 },
    ];
    const limiter = new MerchantLimiter(windows);
    const dispatched: number[] = [];
    await Promise.all(
      Array.from({ length: 16 }, () =>
        limiter.schedule(async () => {
          dispatched.push(performance.now());
          await new Promise((resolve) => setTimeout(resolve, 5));
        }),
      ),
    );
    expect(dispatched).toHaveLength(16);
    assertWithinWindows(dispatched, windows);
  });
});
