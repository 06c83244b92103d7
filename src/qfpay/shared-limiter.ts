import { createHash, randomUUID } from 'node:crypto';

import type { Redis } from 'ioredis';

import { QfpayNotSentError } from './errors.js';
import {
  type AcquireOptions,
  DEFAULT_MAX_IN_FLIGHT,
  QueuedLimiter,
  realClock,
  type ReleaseAdmission,
} from './limiter.js';
import type { RateWindow } from './types.js';

/**
 * One per-merchant budget shared by every instance that points at the same Redis
 * (QFPAY_REDIS_URL): QFPay counts 100/s and 400/min per merchant, not per process.
 *
 * Why a Lua sliding log and not rate-limiter-flexible: its Redis limiters count in fixed windows
 * that start at a key's first request ("flexible fixed window"), so two full windows back to back
 * put up to twice the count inside one sliding window of the same length — exactly what QFPay
 * refuses. It also has no notion of a request that holds its slot until answered. The scripts
 * below keep, per merchant, the same log as the in-process MerchantLimiter (./limiter.ts):
 * - `open`: requests admitted and not answered yet (score = lease end). They sit in every window,
 *   as in the in-process 'completion' mode, because QFPay counts the arrival, which lies somewhere
 *   between admission and answer. A holder that vanishes (crash, lost connection) is counted as
 *   answered when its lease ends (the client's deadline plus a margin), so nothing stays held.
 * - `log`: answered requests, scored by the instant of their answer.
 * - `hold`: after an HTTP 429, no admission before this instant, for every instance.
 * Every instant is Redis `TIME` in microseconds, read inside the script, so hosts with skewed
 * clocks agree and check-and-record is one atomic step. A refused request is told how long until
 * the earliest slot frees and sleeps that less the round trip it just measured (its next ask
 * travels too; Redis re-checks on arrival); only when every slot is held by unanswered requests
 * (whose answer time nobody knows) does it look again after `busyPollMs`, or sooner when a
 * request of this process is answered. The line, the in-flight cap and the wake-ups are the
 * in-process limiter's own (`QueuedLimiter`, ./limiter.ts): only the admission step differs.
 */

const ACQUIRE = `
local log, open, hold = KEYS[1], KEYS[2], KEYS[3]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local member, lease = ARGV[1], tonumber(ARGV[2])
local longest = 0
for i = 3, #ARGV, 2 do longest = math.max(longest, tonumber(ARGV[i + 1])) end
local lapsed = redis.call('ZRANGEBYSCORE', open, '-inf', string.format('%d', now), 'WITHSCORES')
for i = 1, #lapsed, 2 do redis.call('ZADD', log, lapsed[i + 1], lapsed[i]) end
if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', open, '-inf', string.format('%d', now)) end
redis.call('ZREMRANGEBYSCORE', log, '-inf', string.format('%d', now - longest))
local wait = 0
local held = tonumber(redis.call('GET', hold) or '0')
if held > now then wait = held - now end
local running = redis.call('ZCARD', open)
for i = 3, #ARGV, 2 do
  local count, span = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local since = string.format('(%d', now - span)
  local answered = redis.call('ZCOUNT', log, since, '+inf')
  local excess = answered + running + 1 - count
  if excess > 0 then
    if excess > answered then return {0, -1} end
    local leaving = redis.call('ZRANGEBYSCORE', log, since, '+inf', 'WITHSCORES', 'LIMIT', excess - 1, 1)
    wait = math.max(wait, tonumber(leaving[2]) + span - now)
  end
end
if wait > 0 then return {0, wait} end
redis.call('ZADD', open, string.format('%d', now + lease), member)
local ttl = math.ceil((longest + lease) / 1000)
redis.call('PEXPIRE', log, ttl)
redis.call('PEXPIRE', open, ttl)
return {1, now}
`;

const RELEASE = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return now
`;

const HOLD = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local untilUs = now + tonumber(ARGV[1]) * 1000
if untilUs > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%d', untilUs), 'PX', ARGV[1])
end
return 1
`;

interface LimiterCommands {
  qfpayAcquire(
    log: string,
    open: string,
    hold: string,
    ...args: Array<string | number>
  ): Promise<[number, number]>;
  qfpayRelease(log: string, open: string, member: string, ttlMs: number): Promise<number>;
  qfpayCancel(open: string, member: string): Promise<number>;
  qfpayHold(hold: string, ms: number): Promise<number>;
}

type LimiterRedis = Redis & LimiterCommands;

export interface SharedLimiterOptions {
  /** redis:// or rediss:// URL (QFPAY_REDIS_URL). */
  redisUrl: string;
  /** Prefix of every key (default `qfpay-mcp:rate:`); instances sharing a budget must agree. */
  keyPrefix?: string;
  /** How long an unanswered request holds its slot if its holder vanishes (default 20 s). */
  leaseMs?: number;
  /** Cap on this process's requests in flight for the merchant (default 64). */
  maxInFlight?: number;
  /** Next look while every slot is held by unanswered requests (default 10 ms). */
  busyPollMs?: number;
}

interface Connection {
  readonly redis: Promise<LimiterRedis>;
  users: number;
}

const connections = new Map<string, Connection>();
const limiters = new Map<string, SharedMerchantLimiter>();

/** One connection per URL, opened on first use; ioredis is imported only then. */
function connect(redisUrl: string): Connection {
  let connection = connections.get(redisUrl);
  if (!connection) {
    connection = { redis: openRedis(redisUrl), users: 0 };
    // A failed connect must not stay cached: the next limiter retries it.
    connection.redis.catch(() => connections.delete(redisUrl));
    connections.set(redisUrl, connection);
  }
  return connection;
}

async function openRedis(redisUrl: string): Promise<LimiterRedis> {
  const { Redis } = await import('ioredis');
  // Fail a command quickly rather than queue it through a long outage: the request then
  // reports "not sent" instead of waiting for a slot that cannot be granted.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  // Errors surface per request (QfpayNotSentError 'limiter_unavailable'); no unhandled events.
  redis.on('error', () => undefined);
  redis.defineCommand('qfpayAcquire', { numberOfKeys: 3, lua: ACQUIRE });
  redis.defineCommand('qfpayRelease', { numberOfKeys: 2, lua: RELEASE });
  redis.defineCommand('qfpayCancel', { numberOfKeys: 1, lua: "return redis.call('ZREM', KEYS[1], ARGV[1])" });
  redis.defineCommand('qfpayHold', { numberOfKeys: 1, lua: HOLD });
  return redis as LimiterRedis;
}

async function disconnect(redisUrl: string, connection: Connection): Promise<void> {
  connection.users -= 1;
  if (connection.users > 0 || connections.get(redisUrl) !== connection) return;
  connections.delete(redisUrl);
  for (const [key, limiter] of limiters) if (limiter.redisUrl === redisUrl) limiters.delete(key);
  const redis = await connection.redis.catch(() => undefined);
  await redis?.quit().catch(() => redis.disconnect());
}

/**
 * The process-wide shared limiter for one merchant on one Redis. Each call counts as one user of
 * the connection until its `detach()` (QfpayClient.destroy); the last one closes it.
 */
export function getSharedMerchantLimiter(
  merchantKey: string,
  windows: readonly RateWindow[],
  options: SharedLimiterOptions,
): SharedMerchantLimiter {
  const prefix = options.keyPrefix ?? 'qfpay-mcp:rate:';
  const registryKey = `${options.redisUrl}|${prefix}|${merchantKey}`;
  const connection = connect(options.redisUrl);
  connection.users += 1;
  let limiter = limiters.get(registryKey);
  if (limiter) limiter.ensureWindows(windows);
  else {
    limiter = new SharedMerchantLimiter(merchantKey, windows, options, connection);
    limiters.set(registryKey, limiter);
  }
  return limiter;
}

export class SharedMerchantLimiter extends QueuedLimiter {
  readonly redisUrl: string;
  readonly #connection: Connection;
  readonly #keys: { log: string; open: string; hold: string };
  readonly #leaseUs: number;
  readonly #busyPollMs: number;
  #windows: RateWindow[];

  constructor(
    merchantKey: string,
    windows: readonly RateWindow[],
    options: SharedLimiterOptions,
    connection: Connection,
  ) {
    super(realClock, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    if (windows.length === 0) throw new Error('SharedMerchantLimiter needs at least one rate window');
    this.redisUrl = options.redisUrl;
    this.#connection = connection;
    this.#windows = [];
    this.ensureWindows(windows);
    // The merchant key holds the app code: hashed, so Redis never shows it. The braces keep the
    // three keys in one cluster slot, which a multi-key script requires.
    const id = createHash('sha256').update(merchantKey, 'utf8').digest('hex').slice(0, 24);
    const base = `${options.keyPrefix ?? 'qfpay-mcp:rate:'}{${id}}`;
    this.#keys = { log: `${base}:log`, open: `${base}:open`, hold: `${base}:hold` };
    this.#leaseUs = Math.round((options.leaseMs ?? 20_000) * 1000);
    this.#busyPollMs = options.busyPollMs ?? 10;
  }

  get windows(): readonly RateWindow[] {
    return this.#windows;
  }

  /** Same rule as MerchantLimiter: enforcing the union of everyone's windows is never less safe. */
  ensureWindows(windows: readonly RateWindow[]): void {
    for (const w of windows) {
      if (!Number.isSafeInteger(w.count) || w.count < 1 || !(w.durationMs > 0))
        throw new Error(`invalid rate window ${w.count}/${w.durationMs}ms`);
      if (!this.#windows.some((have) => have.count === w.count && have.durationMs === w.durationMs))
        this.#windows.push(w);
    }
  }

  holdFor(ms: number): void {
    const wholeMs = Math.max(1, Math.ceil(ms));
    void this.#connection.redis
      .then((redis) => redis.qfpayHold(this.#keys.hold, wholeMs))
      .catch(() => undefined);
  }

  async detach(): Promise<void> {
    await disconnect(this.redisUrl, this.#connection);
  }

  protected async admit(signal: AbortSignal | undefined, options: AcquireOptions): Promise<ReleaseAdmission> {
    for (;;) {
      signal?.throwIfAborted();
      const member = randomUUID();
      const asked = this.clock.now();
      const [admitted, waitUs] = await this.#ask(member, options);
      if (admitted === 1) return (used) => this.#release(member, used);
      if (waitUs < 0) {
        // Every slot is held by an unanswered request: look again soon, or when one of ours is answered.
        await this.waitForAnswer(signal, this.#busyPollMs);
        continue;
      }
      // The wait was worked out on Redis's clock somewhere inside the round trip just made; the
      // next ask takes a trip too, so start it that much earlier. Redis re-checks, so waking
      // early costs one more ask at worst, never a slot.
      const roundTripMs = this.clock.now() - asked;
      await this.clock.sleep(Math.max(0, waitUs / 1000 - roundTripMs), signal);
    }
  }

  async #ask(member: string, options: AcquireOptions): Promise<[number, number]> {
    const redis = await this.#redis(options);
    const windows = this.#windows.flatMap((w) => [w.count, Math.round(w.durationMs * 1000)]);
    try {
      return await redis.qfpayAcquire(
        this.#keys.log,
        this.#keys.open,
        this.#keys.hold,
        member,
        this.#leaseUs,
        ...windows,
      );
    } catch {
      throw unavailable(options);
    }
  }

  async #redis(options: AcquireOptions): Promise<LimiterRedis> {
    try {
      return await this.#connection.redis;
    } catch {
      throw unavailable(options);
    }
  }

  /**
   * Sent at once, so a later acquire on this connection sees it (Redis runs one connection's
   * commands in order). An unused place (admitted while its caller left) is given back untouched;
   * a used one is logged at the instant of its answer. If either fails, the lease frees the place.
   */
  #release(member: string, used: boolean): void {
    const ttlMs = Math.ceil((this.#longestUs() + this.#leaseUs) / 1000);
    void this.#connection.redis
      .then((redis) =>
        used
          ? redis.qfpayRelease(this.#keys.log, this.#keys.open, member, ttlMs)
          : redis.qfpayCancel(this.#keys.open, member),
      )
      .catch(() => undefined)
      // Waiters of this process look again once Redis has the release, not before.
      .finally(() => this.wakeWaiters());
  }

  #longestUs(): number {
    return Math.max(...this.#windows.map((w) => w.durationMs)) * 1000;
  }
}

function unavailable(options: AcquireOptions): QfpayNotSentError {
  return new QfpayNotSentError(
    'limiter_unavailable',
    options.request?.endpoint ?? 'QFPay',
    options.request?.out_trade_no,
  );
}
