import { createHash } from 'node:crypto';

/**
 * Server-side idempotency for money-moving calls.
 *
 * QFPay has no idempotency header; `out_trade_no` is its dedup key, unique across all payments and
 * refunds of a merchant. Agents and MCP clients re-send calls (timeouts, reconnects), so
 * the server treats `out_trade_no` as an idempotency key the way Stripe treats `Idempotency-Key`:
 *
 * - same key, same parameters, still running → the caller shares the running execution (50
 *   identical concurrent calls → one upstream request);
 * - same key, same parameters, finished → the recorded result is replayed (the caller may refresh a
 *   non-final one by querying, never by re-sending);
 * - same key, different parameters → refused before anything is sent.
 *
 * The registry is in memory and falls back to the audit ledger on a miss, so it survives restarts.
 * Within one process it is strict. Several processes sharing a ledger see each other's finished
 * work through the ledger, but two processes starting the same key at the same instant are only
 * kept apart by QFPay itself (it answers 1102/2011 for a repeated out_trade_no).
 */

/**
 * Canonical JSON (RFC 8785 style): object keys sorted by UTF-16 code units, no whitespace,
 * `undefined` members dropped, numbers and strings as `JSON.stringify` writes them (which is what
 * RFC 8785 prescribes for finite numbers). Values JSON cannot represent exactly throw.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, 0);
}

const MAX_DEPTH = 32;

function serialise(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new TypeError('canonicalJson: value is nested too deeply');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object':
      if (Array.isArray(value)) {
        return `[${value.map((item: unknown) => (item === undefined ? 'null' : serialise(item, depth + 1))).join(',')}]`;
      }
      if (!isPlainObject(value)) {
        throw new TypeError('canonicalJson: only plain objects, arrays and primitives are allowed');
      }
      return `{${Object.keys(value)
        .filter((key) => value[key] !== undefined)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${serialise(value[key], depth + 1)}`)
        .join(',')}}`;
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  }
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** Lowercase hex SHA-256 of the canonical JSON of `params`; the request's identity for idempotency. */
export function fingerprintParams(params: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(canonicalJson(params), 'utf8').digest('hex');
}

/** What a ledger knows about earlier uses of a key (structurally `AuditLedger.findByOutTradeNo`). */
export interface LedgerEntryLike {
  readonly intent: {
    readonly fingerprint?: string;
    readonly time: string;
    readonly tool: string;
    readonly merchant: { readonly fingerprint?: string };
  };
  readonly outcome?: unknown;
}

export interface IdempotencyLedger<E extends LedgerEntryLike> {
  findByOutTradeNo(out_trade_no: string): readonly E[];
}

export interface IdempotencyRegistryOptions<T, E extends LedgerEntryLike> {
  /** Consulted when a key is not in memory (after a restart or eviction). */
  readonly ledger?: IdempotencyLedger<E>;
  /**
   * Turns the ledger's record of an earlier execution into a replayable result. Called for an
   * entry without an outcome too (the process stopped mid-call): the result must then say the
   * outcome is unknown and must be resolved by querying, never by sending again.
   */
  readonly replayFromLedger?: (entry: E) => T;
  /** Only ledger entries of this merchant count (`LedgerMerchant.fingerprint`). */
  readonly merchantFingerprint?: string;
  /** Finished results kept in memory; the oldest are evicted first (the ledger still has them). Default 10,000. */
  readonly maxEntries?: number;
}

export interface NewExecution<T> {
  readonly kind: 'new';
  /**
   * Records the result of an execution that reached (or may have reached) QFPay, whatever it said,
   * including failures and unknown outcomes. Later calls with this key replay it.
   */
  complete(result: T): void;
  /**
   * Records that the execution failed before anything could have reached QFPay. The key is
   * released: waiters receive `error`, and the next call executes afresh.
   */
  fail(error: unknown): void;
}

export type IdempotencyDecision<T> =
  | NewExecution<T>
  | { readonly kind: 'in_flight'; readonly promise: Promise<T> }
  | { readonly kind: 'replay'; readonly result: T; readonly source: 'memory' | 'ledger' }
  | { readonly kind: 'conflict'; readonly message: string; readonly next_action: string };

/** Every decision except starting a new execution: what an earlier use of the key says. */
export type EarlierDecision<T> = Exclude<IdempotencyDecision<T>, NewExecution<T>>;

interface InFlight<T> {
  readonly state: 'in_flight';
  readonly fingerprint: string;
  readonly promise: Promise<T>;
}

interface Finished<T> {
  readonly state: 'finished';
  readonly fingerprint: string;
  readonly result: T;
}

const CONFLICT_NEXT_ACTION =
  'Nothing was sent to QFPay. To retry the earlier request, repeat it with exactly the same parameters; for a different request, use a new out_trade_no.';

export class IdempotencyRegistry<T, E extends LedgerEntryLike = LedgerEntryLike> {
  private readonly entries = new Map<string, InFlight<T> | Finished<T>>();
  private readonly maxEntries: number;

  constructor(private readonly options: IdempotencyRegistryOptions<T, E> = {}) {
    if (options.ledger && !options.replayFromLedger) {
      throw new TypeError(
        'IdempotencyRegistry: a ledger needs replayFromLedger to turn entries into results',
      );
    }
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Synchronous, so concurrent callers cannot both see "new" for one key. */
  begin(key: string, fingerprint: string): IdempotencyDecision<T> {
    const known = this.peek(key, fingerprint);
    return known.kind === 'none' ? this.startExecution(key, fingerprint) : known;
  }

  /**
   * What `begin` would decide, without starting an execution when the key is free (`none`).
   * Lets a caller answer a replay or a conflict before doing work that must precede execution
   * (policy checks, asking for a confirmation); `begin` stays the only atomic claim of a key.
   */
  peek(key: string, fingerprint: string): EarlierDecision<T> | { readonly kind: 'none' } {
    const known = this.entries.get(key);
    if (known) {
      if (known.fingerprint !== fingerprint)
        return conflict(key, 'a request that is still running or finished');
      if (known.state === 'in_flight') return { kind: 'in_flight', promise: known.promise };
      this.touch(key, known);
      return { kind: 'replay', result: known.result, source: 'memory' };
    }
    return this.lookUpLedger(key, fingerprint) ?? { kind: 'none' };
  }

  /**
   * The finished result recorded for `key` (in memory or in the ledger), whatever its parameters;
   * undefined when the key is free or still running. For callers that must know what an earlier
   * request was before they can even build the new one (a refund's default amount, for example).
   */
  recorded(key: string): T | undefined {
    const known = this.entries.get(key);
    if (known) return known.state === 'finished' ? known.result : undefined;
    const { ledger, replayFromLedger, merchantFingerprint } = this.options;
    if (!ledger || !replayFromLedger) return undefined;
    const latest = ledger
      .findByOutTradeNo(key)
      .filter((entry) => !merchantFingerprint || entry.intent.merchant.fingerprint === merchantFingerprint)
      .at(-1);
    return latest ? replayFromLedger(latest) : undefined;
  }

  /** Whether a key is currently executing in this process. */
  isInFlight(key: string): boolean {
    return this.entries.get(key)?.state === 'in_flight';
  }

  private startExecution(key: string, fingerprint: string): NewExecution<T> {
    let resolve!: (result: T) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A failure nobody else is waiting for must not become an unhandled rejection.
    promise.catch(() => undefined);
    const entry: InFlight<T> = { state: 'in_flight', fingerprint, promise };
    this.entries.set(key, entry);
    let settled = false;
    const settle = (): void => {
      if (settled) throw new Error(`idempotency key ${key} was already completed or failed`);
      settled = true;
    };
    return {
      kind: 'new',
      complete: (result: T) => {
        settle();
        this.entries.delete(key);
        this.entries.set(key, { state: 'finished', fingerprint, result });
        this.evictOldFinished();
        resolve(result);
      },
      fail: (error: unknown) => {
        settle();
        if (this.entries.get(key) === entry) this.entries.delete(key);
        reject(error);
      },
    };
  }

  private lookUpLedger(key: string, fingerprint: string): EarlierDecision<T> | undefined {
    const { ledger, replayFromLedger, merchantFingerprint } = this.options;
    if (!ledger || !replayFromLedger) return undefined;
    const entries = ledger
      .findByOutTradeNo(key)
      .filter((entry) => !merchantFingerprint || entry.intent.merchant.fingerprint === merchantFingerprint);
    const latest = entries.at(-1);
    if (!latest) return undefined;
    if (entries.some((entry) => entry.intent.fingerprint !== fingerprint)) {
      return conflict(key, `an earlier ${latest.intent.tool} call recorded at ${latest.intent.time}`);
    }
    const result = replayFromLedger(latest);
    this.entries.set(key, { state: 'finished', fingerprint, result });
    this.evictOldFinished();
    return { kind: 'replay', result, source: 'ledger' };
  }

  /** Moves a key to the young end of the Map's insertion order (least recently used goes first). */
  private touch(key: string, entry: Finished<T>): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  private evictOldFinished(): void {
    if (this.entries.size <= this.maxEntries) return;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries) return;
      if (entry.state === 'finished') this.entries.delete(key);
    }
  }
}

function conflict<T>(key: string, earlier: string): EarlierDecision<T> {
  return {
    kind: 'conflict',
    // The key carries an internal kind prefix ("order:"); the person only knows the number itself.
    message: `out_trade_no ${key.slice(key.indexOf(':') + 1)} was already used by ${earlier} with different parameters; QFPay treats out_trade_no as unique across all payments and refunds, so this request was refused.`,
    next_action: CONFLICT_NEXT_ACTION,
  };
}
