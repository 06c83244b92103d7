import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_SIMULATOR_CREDENTIAL, startSimulator } from '../src/simulator/index.js';
import { simulatorRequests } from './mcp/helpers.js';
import { describeWithServices } from './support/services.js';

/**
 * Three separate processes, each with its own QfpayClient (the built package) and the
 * Redis-shared limiter, queue 600 queries at once against one simulator enforcing the same
 * windows. QFPay's two windows (per second and per minute) are scaled to 50/1s and 200/5s so the
 * run takes about 14 s instead of a minute: the simulator must see 0 window violations and
 * answer 0 HTTP 429s. Completion time against the theoretical minimum is measured only by
 * `npm run bench` (bench/rate-limit.mjs), never asserted here.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const INSTANCE = join(ROOT, 'bench', 'lib', 'limiter-instance.mjs');
const WINDOWS = [
  { count: 50, durationMs: 1_000 },
  { count: 200, durationMs: 5_000 },
];
const INSTANCES = 3;
const PER_INSTANCE = 200;

interface InstanceReport {
  ok: number;
  errors: Record<string, number>;
  lastAnswerAt: number;
}

describeWithServices('three instances share one rate budget through Redis', ['redis'], ([redisUrl]) => {
  const keyPrefix = `qfpay-test:${randomUUID()}:`;
  let simulator: Awaited<ReturnType<typeof startSimulator>>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    assertFreshBuild();
    simulator = await startSimulator({ port: 0, rateLimits: WINDOWS, quiet: true });
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill();
    await simulator?.close();
    const redis = new Redis(redisUrl!);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it(`${INSTANCES} processes × ${PER_INSTANCE} queued queries: 0 window violations, 0 HTTP 429`, async () => {
    const started = Array.from({ length: INSTANCES }, (_, i) =>
      startInstance(i, simulator.baseUrl, redisUrl!, keyPrefix, children),
    );
    const instances = await Promise.all(started);
    for (const instance of instances) instance.go();
    const reports = await Promise.all(instances.map((instance) => instance.report));

    expect(reports.map((r) => r.ok)).toEqual(Array<number>(INSTANCES).fill(PER_INSTANCE));
    expect(reports.map((r) => r.errors)).toEqual(Array<object>(INSTANCES).fill({}));

    const trade = (await simulatorRequests(simulator.baseUrl)).filter((r) => r.path === '/trade/v1/query');
    expect(trade).toHaveLength(INSTANCES * PER_INSTANCE);
    expect(trade.filter((r) => r.http_status === 429)).toHaveLength(0);
    const arrivals = trade.map((r) => r.at_ms).sort((a, b) => a - b);
    for (const { count, durationMs } of WINDOWS) {
      expect(maxInAnyWindow(arrivals, durationMs), `${count}/${durationMs}ms`).toBeLessThanOrEqual(count);
    }
    // Nothing is left holding a slot once every instance has finished.
    const redis = new Redis(redisUrl!);
    try {
      const open = await redis.keys(`${keyPrefix}*:open`);
      for (const key of open) expect(await redis.zcard(key)).toBe(0);
    } finally {
      await redis.quit();
    }
  }, 90_000);
});

describe('ioredis stays unloaded without QFPAY_REDIS_URL', () => {
  it('a client with the default limiter answers a query and never imports ioredis', async () => {
    assertFreshBuild();
    const simulator = await startSimulator({ port: 0, quiet: true });
    try {
      const script = [
        `import { createRequire } from 'node:module';`,
        `const { QfpayClient } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'qfpay', 'client.js')).href)});`,
        `const client = new QfpayClient({ baseUrl: process.env.SIM, credentials: { appcode: process.env.APP, key: process.env.KEY } });`,
        `const answer = await client.query({ out_trade_no: ['nothing'] });`,
        `await client.destroy();`,
        `const ioredisLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/ioredis/'));`,
        `const before = ioredisLoaded();`,
        // The control: importing it shows up, so "not loaded" above is a real observation.
        `await import('ioredis');`,
        `console.log(JSON.stringify({ respcd: answer.respcd, before, after: ioredisLoaded() }));`,
      ].join('\n');
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        env: {
          ...process.env,
          SIM: simulator.baseUrl,
          APP: DEFAULT_SIMULATOR_CREDENTIAL.appcode,
          KEY: DEFAULT_SIMULATOR_CREDENTIAL.key,
        },
      });
      expect(JSON.parse(stdout)).toEqual({ respcd: '0000', before: false, after: true });
    } finally {
      await simulator.close();
    }
  });
});

async function startInstance(
  index: number,
  baseUrl: string,
  redisUrl: string,
  keyPrefix: string,
  children: ChildProcess[],
): Promise<{ go(): void; report: Promise<InstanceReport> }> {
  const child = spawn(process.execPath, [INSTANCE], {
    env: {
      ...process.env,
      LIMITER_N: String(PER_INSTANCE),
      LIMITER_BASE_URL: baseUrl,
      LIMITER_APPCODE: DEFAULT_SIMULATOR_CREDENTIAL.appcode,
      LIMITER_KEY: DEFAULT_SIMULATOR_CREDENTIAL.key,
      LIMITER_WINDOWS: WINDOWS.map((w) => `${w.count}/${w.durationMs}ms`).join(','),
      LIMITER_REDIS_URL: redisUrl,
      LIMITER_KEY_PREFIX: keyPrefix,
      LIMITER_LABEL: `instance${index}`,
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.value !== 'ready') throw new Error(`instance ${index} did not start: ${String(first.value)}`);
  return {
    go: () => child.stdin.write('go\n'),
    report: iterator.next().then(({ value }) => JSON.parse(String(value)) as InstanceReport),
  };
}

/** The largest number of arrivals inside any sliding window (t − d, t] (as the simulator counts). */
function maxInAnyWindow(sorted: readonly number[], durationMs: number): number {
  let max = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[first]! <= sorted[last]! - durationMs) first++;
    max = Math.max(max, last - first + 1);
  }
  return max;
}

/** The instances run the built package; `npm test` builds first. */
function assertFreshBuild(): void {
  let built: number;
  try {
    built = statSync(join(ROOT, 'dist', 'qfpay', 'shared-limiter.js')).mtimeMs;
  } catch {
    throw new Error(
      'dist/qfpay/shared-limiter.js is missing: run `npm run build` first (npm test does this).',
    );
  }
  if (newestMtime(join(ROOT, 'src')) > built)
    throw new Error('dist/ is older than src/: run `npm run build` first (npm test does this).');
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}
