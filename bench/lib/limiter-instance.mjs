import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { importDist } from './paths.mjs';

/**
 * One "instance" of the server for the shared-limiter scenario: its own process, its own
 * QfpayClient (built package, dist/) with the Redis-shared limiter, firing LIMITER_N queries at
 * once when told `go` on stdin. Prints one JSON line: how many answered 0000, the errors by name,
 * and the instant (epoch ms) its last answer arrived. Used by test/shared-limiter-instances.test.ts
 * and bench/rate-limit.mjs.
 */

const { QfpayClient } = await importDist('qfpay/client.js');
const { parseRateWindows } = await importDist('qfpay/rate-windows.js');

const env = process.env;
const count = Number(env.LIMITER_N);
const client = new QfpayClient({
  baseUrl: env.LIMITER_BASE_URL,
  credentials: { appcode: env.LIMITER_APPCODE, key: env.LIMITER_KEY },
  rateLimits: parseRateWindows(env.LIMITER_WINDOWS),
  sharedLimiter: { redisUrl: env.LIMITER_REDIS_URL, keyPrefix: env.LIMITER_KEY_PREFIX },
});

// The limiter loads ioredis on first use; loading it now means the measurement starts with the
// instance as a long-running server would be, not with a module import on a loaded machine.
await import('ioredis');
process.stdout.write('ready\n');
await new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve));

const errors = {};
let ok = 0;
let lastAnswerAt = 0;
await Promise.all(
  Array.from({ length: count }, async (_, i) => {
    try {
      const answer = await client.query({ out_trade_no: [`${env.LIMITER_LABEL}_${i}`] });
      if (answer.respcd === '0000') ok++;
    } catch (error) {
      const name = error instanceof Error ? error.name : 'unknown';
      errors[name] = (errors[name] ?? 0) + 1;
    }
    lastAnswerAt = Math.max(lastAnswerAt, performance.timeOrigin + performance.now());
  }),
);
await client.destroy();
process.stdout.write(`${JSON.stringify({ ok, errors, lastAnswerAt })}\n`);
