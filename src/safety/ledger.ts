import { createHash, randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { link, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

import { formatQfpayDateTime } from '../qfpay/time.js';
import type { NormalisedStatus } from '../qfpay/types.js';
import { NORMALISED_STATUSES } from '../qfpay/types.js';
import type { ApprovalKind } from './guard.js';
import { canonicalJson } from './idempotency.js';
import { indexFile, type IndexMemory, LedgerIndex, type LedgerIndexOptions } from './ledger-index.js';
import { cleanRecordedText, maskAppcode, maskAuthCode } from './sanitize.js';
import { ensurePrivateDir, syncDirectory } from './state-dir.js';

/**
 * The audit ledger: an append-only, hash-chained JSONL file of every money-moving action, and the
 * recovery state for actions whose outcome is not known yet.
 *
 * One record per step. `intent` is written and fsync'd BEFORE the upstream call; when it cannot be
 * written the call must not be made (fail closed). `outcome` follows with what QFPay said, and
 * `reconciled` records what a later query established.
 *
 * File format: one record per line, each line the canonical JSON (sorted keys, no whitespace) of
 * the record, `\n`-terminated, UTF-8. `hash` is the SHA-256 (hex) of the canonical JSON of the
 * record without `hash`; `prev_hash` is the previous record's `hash` (64 zeros for the first), and
 * `seq` counts from 1. A line must equal the canonical form of what it parses to, so no edit, not
 * even one that leaves the parsed value unchanged, goes unnoticed.
 *
 * Durability and concurrency: records are appended through one in-process queue with O_APPEND and
 * fsync'd before the call that wrote them resolves. Several processes may share a file: each append
 * happens under a short-lived lock file (`<file>.lock`), after first reading and verifying whatever
 * other processes appended, so the chain stays linear.
 *
 * Crash repair (open only, documented): a final line without a newline is a write that was never
 * acknowledged. If it is a complete, correctly chained record it is kept and terminated; otherwise
 * its bytes are moved to `<file>.torn-<time>` and the file is truncated to the last complete line.
 * Any other damage makes open() throw, naming the first broken record: the ledger is never
 * appended to past a break.
 *
 * Limits of a hash chain, by design: it proves the records are unaltered relative to each other,
 * not that nothing was cut off the end, and it is unkeyed, so someone who can write the file can
 * rewrite the whole chain consistently. Both are answered outside the file: ship it off the host
 * (PCI DSS 10.3.x) or record the latest hash elsewhere, and compare.
 */

export const GENESIS_HASH = '0'.repeat(64);

export type LedgerStep = 'intent' | 'outcome' | 'reconciled';
/**
 * Which money movement a record is about; daily caps count payments and refunds separately.
 * `capture` and `release` act on a pre-authorisation (README "Pre-authorisation"): they count
 * against no cap, because the authorisation they draw on was counted as a payment when it was made.
 */
export type MoneyActionKind = 'payment' | 'refund' | 'cancel' | 'capture' | 'release';
/** `INTENDED` marks an intent record: the call was about to be made, its outcome is not known. */
export type LedgerStatus = NormalisedStatus | 'INTENDED';

export const LEDGER_STEPS: readonly LedgerStep[] = ['intent', 'outcome', 'reconciled'];
export const MONEY_ACTION_KINDS: readonly MoneyActionKind[] = [
  'payment',
  'refund',
  'cancel',
  'capture',
  'release',
];

export interface LedgerMerchant {
  /** Masked (`A1B2****C3D4`): identifies the account to a reader without spelling it out. */
  readonly appcode: string;
  readonly mchid?: string;
  /** First 16 hex digits of SHA-256(appcode, mchid): tells merchants apart exactly. */
  readonly fingerprint: string;
}

export interface LedgerRecord {
  readonly seq: number;
  /** ISO 8601, UTC. */
  readonly time: string;
  readonly environment: string;
  readonly merchant: LedgerMerchant;
  readonly tool: string;
  readonly kind: MoneyActionKind;
  readonly step: LedgerStep;
  /** The intent's own id on an intent; the intent it resolves on outcome/reconciled records. */
  readonly intent_id: string;
  readonly out_trade_no: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly status: LedgerStatus;
  /** Intent only: what was sent, with auth codes masked and secrets removed. */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Intent only: the idempotency fingerprint of the request. */
  readonly fingerprint?: string;
  /** Intent only: who asked (session or client id), when the transport knows. */
  readonly caller?: string;
  /**
   * Intent only: how it was approved, when a confirmation was required: `agent-token`,
   * `client-elicitation` or `operator` (see ApprovalKind; records written before these names say
   * `token` or `elicitation`, read through approvalKindOf).
   */
  readonly approval?: string;
  readonly syssn?: string;
  /** Refunds, cancellations, captures and releases: the original payment's (authorisation's) syssn. */
  readonly orig_syssn?: string;
  readonly respcd?: string;
  /** Outcome only: a short sanitised explanation. */
  readonly message?: string;
  /**
   * Outcome only: `false` when QFPay certainly did not process the request (rate limited, or
   * refused before sending). Such an intent moved no money and does not hold its out_trade_no.
   */
  readonly processed?: boolean;
  readonly prev_hash: string;
  readonly hash: string;
}

/** A recorded `approval` in today's terms: records written before the rename say `token`/`elicitation`. */
export function approvalKindOf(recorded: string | undefined): ApprovalKind | undefined {
  if (recorded === 'token') return 'agent-token';
  if (recorded === 'elicitation') return 'client-elicitation';
  if (recorded === 'agent-token' || recorded === 'client-elicitation' || recorded === 'operator')
    return recorded;
  return undefined;
}

export interface IntentInput {
  readonly environment: string;
  readonly merchant: { readonly appcode: string; readonly mchid?: string };
  readonly tool: string;
  readonly kind: MoneyActionKind;
  readonly params: Readonly<Record<string, unknown>>;
  readonly out_trade_no: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly orig_syssn?: string;
  readonly fingerprint?: string;
  readonly caller?: string;
  readonly approval?: ApprovalKind;
}

export interface OutcomeInput {
  readonly status: NormalisedStatus;
  readonly respcd?: string;
  readonly syssn?: string;
  readonly orig_syssn?: string;
  readonly message?: string;
  /** `false`: QFPay certainly did not process the request (see {@link LedgerRecord.processed}). */
  readonly processed?: boolean;
}

export interface LedgerEntry {
  readonly intent: LedgerRecord;
  /** The latest outcome or reconciled record, when there is one. */
  readonly outcome?: LedgerRecord;
  readonly outcomes: readonly LedgerRecord[];
}

export interface LedgerOpenOptions {
  /** fsync every record before acknowledging it. Default true; only tests should turn it off. */
  readonly fsync?: boolean;
  /** Values that must never be stored (client key, bearer token); replaced wherever they appear. */
  readonly secrets?: readonly string[];
  /** Clock, for tests. */
  readonly now?: () => Date;
  /** How long to wait for another process's append lock before failing. Default 10 s. */
  readonly lockTimeoutMs?: number;
  /** Where repair notices go (default: stderr). Never receives record contents. */
  readonly onWarning?: (message: string) => void;
  /** Test hooks of the on-disk index (table size, cache size, a forced hash). */
  readonly index?: Omit<LedgerIndexOptions, 'fsync'>;
}

export type LedgerErrorCode = 'integrity' | 'unavailable' | 'locked' | 'closed' | 'unknown_intent' | 'clock';

/** Anything that stops the ledger from recording. Money-moving calls must not proceed past it. */
export class LedgerError extends Error {
  readonly nextAction: string;
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    nextAction: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LedgerError';
    this.nextAction = nextAction;
  }
}

/** The chain is broken at `seq` (line `line`); the ledger refuses to append past it. */
export class LedgerIntegrityError extends LedgerError {
  constructor(
    readonly file: string,
    readonly seq: number,
    readonly line: number,
    readonly reason: string,
  ) {
    super(
      'integrity',
      `Audit ledger ${file} is broken at record ${seq} (line ${line}): ${reason}. No money-moving action will be taken while it is.`,
      `Run "qfpay-mcp audit verify ${file}" and investigate. Do not edit the file; move it aside (keep it as evidence) or point QFPAY_AUDIT_LOG at a new file, then restart.`,
    );
    this.name = 'LedgerIntegrityError';
  }
}

export type VerifyResult =
  | { readonly ok: true; readonly records: number }
  | {
      readonly ok: false;
      /** Records verified before the first problem. */
      readonly records: number;
      readonly firstBrokenSeq: number;
      /** 1-based line of the first broken record. */
      readonly line: number;
      readonly reason: string;
    };

// ---------------------------------------------------------------------------------------------
// Parsing and verification (shared by open, catch-up, verifyLedgerFile and the CLI)
// ---------------------------------------------------------------------------------------------

const HEX64 = /^[0-9a-f]{64}$/;
const optionalText = z.string().optional();

const recordSchema = z.looseObject({
  seq: z.number().int().positive(),
  time: z.string().min(1),
  environment: z.string().min(1),
  merchant: z.looseObject({ appcode: z.string(), mchid: optionalText, fingerprint: z.string() }),
  tool: z.string().min(1),
  kind: z.enum(MONEY_ACTION_KINDS as [MoneyActionKind, ...MoneyActionKind[]]),
  step: z.enum(LEDGER_STEPS as [LedgerStep, ...LedgerStep[]]),
  intent_id: z.string().min(1),
  out_trade_no: z.string().min(1),
  txamt: z.number().int().nonnegative(),
  txcurrcd: z.string().min(1),
  status: z.enum(['INTENDED', ...NORMALISED_STATUSES] as [LedgerStatus, ...LedgerStatus[]]),
  params: z.record(z.string(), z.unknown()).optional(),
  fingerprint: optionalText,
  caller: optionalText,
  approval: optionalText,
  syssn: optionalText,
  orig_syssn: optionalText,
  respcd: optionalText,
  message: optionalText,
  processed: z.boolean().optional(),
  prev_hash: z.string().regex(HEX64),
  hash: z.string().regex(HEX64),
});

interface ChainPosition {
  /** seq of the last good record (0 before the first). */
  readonly seq: number;
  readonly hash: string;
  /** Complete lines before this position. */
  readonly lines: number;
}

const GENESIS: ChainPosition = { seq: 0, hash: GENESIS_HASH, lines: 0 };

export function hashRecordBody(body: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
}

type LineCheck = { ok: true; record: LedgerRecord } | { ok: false; reason: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function checkLine(bytes: Uint8Array, after: ChainPosition): LineCheck {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'line is not valid UTF-8' };
  }
  if (text === '') return { ok: false, reason: 'empty line' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'line is not valid JSON' };
  }
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'record';
    return { ok: false, reason: `not a ledger record (${field}: ${issue?.message ?? 'invalid'})` };
  }
  const record = raw as LedgerRecord;
  if (!isCanonical(raw, text)) {
    return { ok: false, reason: 'line is not in canonical form (the file was edited)' };
  }
  if (record.seq !== after.seq + 1) {
    return { ok: false, reason: `sequence number is ${record.seq}, expected ${after.seq + 1}` };
  }
  if (record.prev_hash !== after.hash) {
    return {
      ok: false,
      reason:
        after.seq === 0
          ? 'prev_hash of the first record is not the genesis hash (records were removed from the start?)'
          : `prev_hash does not match the hash of record ${after.seq} (records removed, reordered or altered)`,
    };
  }
  const { hash, ...body } = raw as Record<string, unknown>;
  if (hashRecordBody(body) !== hash) {
    return { ok: false, reason: 'hash does not match the record content (the record was altered)' };
  }
  return { ok: true, record };
}

function isCanonical(value: unknown, text: string): boolean {
  try {
    return canonicalJson(value) === text;
  } catch {
    return false;
  }
}

interface ScanProblem {
  readonly kind: 'broken' | 'torn_tail';
  readonly seq: number;
  readonly line: number;
  readonly reason: string;
  /** torn_tail only: the unterminated final bytes are themselves a valid, chained record. */
  readonly completeRecord?: LedgerRecord;
}

interface Scan {
  readonly records: LedgerRecord[];
  /** Where each record starts in the bytes scanned. */
  readonly starts: number[];
  readonly end: ChainPosition;
  /** Bytes of `bytes` covered by verified, newline-terminated records. */
  readonly validBytes: number;
  readonly problem?: ScanProblem;
}

function scanBytes(bytes: Uint8Array, start: ChainPosition): Scan {
  const records: LedgerRecord[] = [];
  const starts: number[] = [];
  let position = start;
  let offset = 0;
  while (offset < bytes.length) {
    const newline = bytes.indexOf(0x0a, offset);
    const lineNumber = position.lines + 1;
    const lineBytes = bytes.subarray(offset, newline === -1 ? bytes.length : newline);
    const check = checkLine(lineBytes, position);
    if (newline === -1) {
      const problem: ScanProblem = check.ok
        ? {
            kind: 'torn_tail',
            seq: position.seq + 1,
            line: lineNumber,
            reason:
              'the final record has no terminating newline (a write was interrupted); opening the ledger completes it',
            completeRecord: check.record,
          }
        : {
            kind: 'torn_tail',
            seq: position.seq + 1,
            line: lineNumber,
            reason: `the final line is incomplete (${lineBytes.length} bytes, no newline; a write was interrupted): ${check.reason}; opening the ledger moves it aside`,
          };
      return { records, starts, end: position, validBytes: offset, problem };
    }
    if (!check.ok) {
      return {
        records,
        starts,
        end: position,
        validBytes: offset,
        problem: { kind: 'broken', seq: position.seq + 1, line: lineNumber, reason: check.reason },
      };
    }
    records.push(check.record);
    starts.push(offset);
    position = { seq: check.record.seq, hash: check.record.hash, lines: lineNumber };
    offset = newline + 1;
  }
  return { records, starts, end: position, validBytes: offset };
}

/** Checks the whole chain of a ledger file without changing it. Throws only when the file cannot be read. */
export async function verifyLedgerFile(file: string): Promise<VerifyResult> {
  const scan = scanBytes(await readFile(file), GENESIS);
  if (!scan.problem) return { ok: true, records: scan.records.length };
  return {
    ok: false,
    records: scan.records.length,
    firstBrokenSeq: scan.problem.seq,
    line: scan.problem.line,
    reason: scan.problem.reason,
  };
}

/** The records of a ledger file up to its first problem, read-only (for listing). */
export async function readLedgerFile(
  file: string,
): Promise<{ records: LedgerRecord[]; problem?: { seq: number; line: number; reason: string } }> {
  const scan = scanBytes(await readFile(file), GENESIS);
  return scan.problem
    ? {
        records: scan.records,
        problem: { seq: scan.problem.seq, line: scan.problem.line, reason: scan.problem.reason },
      }
    : { records: scan.records };
}

// ---------------------------------------------------------------------------------------------
// What goes into a record
// ---------------------------------------------------------------------------------------------

/** Identifies a merchant exactly without storing its app code. */
export function merchantFingerprint(merchant: { appcode: string; mchid?: string }): string {
  return createHash('sha256')
    .update(`${merchant.appcode}\n${merchant.mchid ?? ''}`, 'utf8')
    .digest('hex')
    .slice(0, 16);
}

/** Field names whose values are credentials, signatures or card data: never stored. */
const SECRET_FIELD =
  /(^|[_-])(key|secret|sign|signature|token|password|passwd|authorization|cookie|credentials?|cvv|cvc|cvn|pan)($|[_-])|^x-qf-sign|card_?(number|no)|payment_data/i;
/** Names that match SECRET_FIELD but carry no secret. */
const HARMLESS_FIELD = /^(sign_type|x-qf-signtype)$/i;
const AUTH_CODE_FIELD = /^auth_?code$/i;
const MAX_PARAM_TEXT = 512;
const MAX_PARAM_DEPTH = 4;
export const REDACTED_VALUE = '[REDACTED]';

function cleanText(value: string, secrets: readonly string[], max: number): string {
  return cleanRecordedText(value, secrets, max);
}

function cleanParams(
  params: Readonly<Record<string, unknown>>,
  secrets: readonly string[],
  depth = 0,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (SECRET_FIELD.test(name) && !HARMLESS_FIELD.test(name)) {
      out[name] = REDACTED_VALUE;
    } else if (AUTH_CODE_FIELD.test(name)) {
      out[name] = maskAuthCode(value);
    } else {
      out[name] = cleanValue(value, secrets, depth);
    }
  }
  return out;
}

function cleanValue(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return cleanText(value, secrets, MAX_PARAM_TEXT);
  if (typeof value === 'bigint') return value.toString();
  if (depth >= MAX_PARAM_DEPTH) return '[nested too deeply]';
  if (Array.isArray(value)) return value.map((item: unknown) => cleanValue(item ?? null, secrets, depth + 1));
  if (typeof value === 'object') return cleanParams(value as Record<string, unknown>, secrets, depth + 1);
  return `[${typeof value}]`;
}

const intentInputSchema = z.object({
  environment: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be an environment name such as prod'),
  merchant: z.object({ appcode: z.string().min(1), mchid: z.string().min(1).max(64).optional() }),
  tool: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a tool name'),
  kind: z.enum(MONEY_ACTION_KINDS as [MoneyActionKind, ...MoneyActionKind[]]),
  params: z.record(z.string(), z.unknown()),
  out_trade_no: z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 printable ASCII characters without spaces'),
  txamt: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  txcurrcd: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code in capitals'),
  orig_syssn: z.string().min(1).max(64).optional(),
  fingerprint: z.string().min(1).max(128).optional(),
  caller: z.string().max(256).optional(),
  approval: z.enum(['agent-token', 'client-elicitation', 'operator']).optional(),
});

const outcomeInputSchema = z.object({
  status: z.enum(NORMALISED_STATUSES as [NormalisedStatus, ...NormalisedStatus[]]),
  respcd: z.string().max(16).optional(),
  syssn: z.string().max(64).optional(),
  orig_syssn: z.string().max(64).optional(),
  message: z.string().optional(),
  processed: z.boolean().optional(),
});

function invalidInput(what: string, error: z.ZodError): LedgerError {
  const issue = error.issues[0];
  const field = issue?.path.join('.') || what;
  return new LedgerError(
    'unavailable',
    `Refusing to record ${what}: ${field} ${issue?.message ?? 'is invalid'}`,
    'This is a bug in the caller of the ledger; nothing was sent to QFPay.',
  );
}

/** Statuses that mean no money moved, so the amount does not count towards daily caps. */
const NOTHING_MOVED: ReadonlySet<LedgerStatus> = new Set<LedgerStatus>(['FAILED', 'CANCELLED', 'EXPIRED']);

/** Whether an intent's latest outcome says that no money moved (or will move) for it. */
export function movedNothing(latest: Pick<LedgerRecord, 'status' | 'processed'> | undefined): boolean {
  if (!latest) return false;
  return latest.processed === false || NOTHING_MOVED.has(latest.status);
}

/** `YYYY-MM-DD` of an instant in UTC+8 (QFPay's and Hong Kong's calendar day). */
export function hongKongDay(instant: Date | string): string {
  return formatQfpayDateTime(typeof instant === 'string' ? new Date(instant) : instant).slice(0, 10);
}

// ---------------------------------------------------------------------------------------------
// The ledger
// ---------------------------------------------------------------------------------------------

/** A record before the chain fields (seq, prev_hash, hash) are added. */
export type RecordBody = Omit<LedgerRecord, 'seq' | 'prev_hash' | 'hash'>;

const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** A lock older than this is abandoned: appends take milliseconds. */
const STALE_LOCK_MS = 30_000;
/** A lock file still without a valid owner after this long was never going to get one. */
const UNWRITTEN_LOCK_MS = 1_000;

/** A record may be stamped at most this much before the ledger's latest one (clock steps, not skew). */
export const CLOCK_TOLERANCE_MS = 60_000;
/** A checkpoint is saved once this many records were read or written since the last one. */
const CHECKPOINT_EVERY = 1_000;

/** What the ledger offers the work of one atomic step (see {@link AuditLedger.atomically}). */
export interface LedgerTransaction {
  /** Everything verified so far, including what other processes appended up to this step. */
  readonly index: LedgerIndex;
  /** The time the next record will carry (the ledger's clock: never before its latest record). */
  readonly time: string;
  /** Appends a validated intent durably (fsync'd before it resolves). */
  recordIntent(input: IntentInput): Promise<LedgerRecord>;
  /** Appends an outcome or reconciliation of a known intent durably. */
  recordResolution(
    step: 'outcome' | 'reconciled',
    intentId: string,
    input: OutcomeInput,
  ): Promise<LedgerRecord>;
}

export class AuditLedger {
  private position: ChainPosition = GENESIS;
  private size = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: LedgerError | undefined;
  private closed = false;
  private sinceCheckpoint = 0;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    private readonly identity: { dev: number; ino: number },
    private readonly index: LedgerIndex,
    private readonly options: Required<Pick<LedgerOpenOptions, 'fsync' | 'lockTimeoutMs'>> & {
      secrets: readonly string[];
      now: () => Date;
      onWarning: (message: string) => void;
    },
  ) {}

  /**
   * Opens (creating with mode 0600, in a directory created with 0700) and verifies the chain: all of
   * it, or, when a checkpoint of this very file vouches for a verified prefix, only what follows it.
   * Throws {@link LedgerIntegrityError} when it is broken, {@link LedgerError} when it cannot be used.
   */
  static async open(file: string, options: LedgerOpenOptions = {}): Promise<AuditLedger> {
    const absolute = path.resolve(file);
    const settings = {
      fsync: options.fsync ?? true,
      lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      secrets: (options.secrets ?? []).filter((secret) => secret !== ''),
      now: options.now ?? (() => new Date()),
      onWarning: options.onWarning ?? ((message: string) => console.warn(message)),
    };
    try {
      await ensurePrivateDir(path.dirname(absolute));
    } catch (error) {
      throw unavailable(absolute, error);
    }
    const release = await acquireLock(absolute, settings.lockTimeoutMs);
    try {
      await sweepLockStaging(absolute);
      const existed = await fileExists(absolute);
      const handle = await open(absolute, 'a', 0o600).catch((error: unknown) => {
        throw unavailable(absolute, error);
      });
      let index: LedgerIndex | undefined;
      try {
        if (!existed) await syncDirectory(path.dirname(absolute));
        const info = await handle.stat();
        const identity = { dev: info.dev, ino: info.ino };
        const opened = openIndex(absolute, identity, { ...options.index, fsync: settings.fsync });
        index = opened.index;
        const ledger = new AuditLedger(absolute, handle, identity, index, settings);
        const start = existed ? await readCheckpoint(absolute, info) : undefined;
        // The table must vouch for at least the checkpoint's prefix, else everything is read again.
        if (start && opened.coverage >= start.size) {
          index.restore(start.index, start.size);
          ledger.position = start.position;
          ledger.size = start.size;
        }
        await ledger.catchUp();
        return ledger;
      } catch (error) {
        index?.close();
        await handle.close().catch(() => undefined);
        throw error;
      }
    } catch (error) {
      throw error instanceof LedgerError ? error : unavailable(absolute, error);
    } finally {
      await release();
    }
  }

  /**
   * Runs `work` as one atomic step across every process sharing the file: under the lock, after
   * reading what others appended, so what `work` decides from `step.index` still holds when it
   * appends. Keep `work` short: other processes wait for the lock meanwhile.
   */
  atomically<T>(work: (step: LedgerTransaction) => Promise<T> | T): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError());
    return this.serialise(async () => {
      if (this.failure) throw this.failure;
      const release = await acquireLock(this.file, this.options.lockTimeoutMs);
      try {
        await this.catchUp();
        const time = this.stampTime();
        return await work({
          index: this.index,
          time,
          recordIntent: (input) => this.append(intentBody(input, this.options.secrets, time)),
          recordResolution: (step, intentId, input) =>
            this.append(this.resolutionBody(step, intentId, input, time)),
        });
      } finally {
        await release();
      }
    });
  }

  /**
   * Records, durably, that a money-moving call is about to be made. Resolves only once the record
   * is on disk; rejects (and the call must then not be made) when it cannot be written.
   */
  recordIntent(input: IntentInput): Promise<LedgerRecord> {
    return this.atomically((step) => step.recordIntent(input));
  }

  /** Records what QFPay answered for an intent (or that the outcome is unknown). */
  recordOutcome(intentId: string, input: OutcomeInput): Promise<LedgerRecord> {
    return this.atomically((step) => step.recordResolution('outcome', intentId, input));
  }

  /** Records what a later query established about an intent whose outcome was not final. */
  recordReconciliation(intentId: string, input: OutcomeInput): Promise<LedgerRecord> {
    return this.atomically((step) => step.recordResolution('reconciled', intentId, input));
  }

  /** The index as of the last read or write (call {@link refresh} first to include other processes). */
  get state(): LedgerIndex {
    return this.index;
  }

  /** Number of verified records. */
  get count(): number {
    return this.position.seq;
  }

  /**
   * The latest `limit` records that `include` accepts, newest first, read backwards from the end of
   * the verified part of the file: the cost depends on `limit`, not on the ledger's size.
   */
  async recent(
    limit: number,
    include: (record: LedgerRecord) => boolean = () => true,
  ): Promise<LedgerRecord[]> {
    if (!Number.isSafeInteger(limit) || limit <= 0) return [];
    const found: LedgerRecord[] = [];
    let end = this.size;
    let carry: Buffer = Buffer.alloc(0);
    while (end > 0 && found.length < limit) {
      const start = Math.max(0, end - TAIL_CHUNK);
      const chunk = Buffer.concat([await readRange(this.file, start, end - start), carry]);
      end = start;
      const firstNewline = start === 0 ? -1 : chunk.indexOf(0x0a);
      if (start !== 0 && firstNewline === -1) {
        // One line longer than a chunk: keep reading backwards until it is complete.
        carry = chunk;
        continue;
      }
      // Everything up to the first newline may be the end of a line that starts earlier.
      carry = chunk.subarray(0, firstNewline + 1);
      const complete = chunk
        .subarray(firstNewline + 1)
        .toString('utf8')
        .split('\n')
        .filter(Boolean);
      for (let i = complete.length - 1; i >= 0 && found.length < limit; i -= 1) {
        const record = JSON.parse(complete[i]!) as LedgerRecord;
        if (include(record)) found.push(record);
      }
    }
    return found;
  }

  /** Reads what other processes appended since the last read or write. */
  refresh(): Promise<void> {
    return this.read(() => undefined);
  }

  /**
   * Answers `query` from the index under the lock, after reading what other processes appended:
   * the on-disk table is only read while no other process can be growing it.
   */
  read<T>(query: (index: LedgerIndex) => T): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError());
    return this.serialise(async () => {
      const release = await acquireLock(this.file, this.options.lockTimeoutMs);
      try {
        await this.catchUp();
        return query(this.index);
      } finally {
        await release();
      }
    });
  }

  /** Waits for queued writes, saves a checkpoint, then closes the file. Further writes reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    if (this.sinceCheckpoint > 0 && !this.failure) await this.saveCheckpointLocked();
    this.index.close();
    await this.handle.close();
  }

  // -------------------------------------------------------------------------------------------

  /**
   * The time for the next record: this process's clock, but never earlier than the ledger's latest
   * record, so every process counts days on one clock (the one that wrote last). A clock more than
   * {@link CLOCK_TOLERANCE_MS} behind the ledger is refused rather than trusted or silently
   * overridden: the host's clock is wrong and caps could not be trusted either way.
   */
  private stampTime(): string {
    const now = this.options.now();
    const last = this.index.lastTime ? Date.parse(this.index.lastTime) : Number.NEGATIVE_INFINITY;
    if (now.getTime() < last - CLOCK_TOLERANCE_MS) {
      throw new LedgerError(
        'clock',
        `This server's clock (${now.toISOString()}) is behind the audit ledger's latest record (${this.index.lastTime}) by more than ${CLOCK_TOLERANCE_MS / 1000} s; the money-moving action was not sent to QFPay.`,
        "Nothing was sent to QFPay. Ask the operator to fix this host's clock (NTP), then try again.",
      );
    }
    return new Date(Math.max(now.getTime(), last)).toISOString();
  }

  private resolutionBody(
    step: 'outcome' | 'reconciled',
    intentId: string,
    input: OutcomeInput,
    time: string,
  ): RecordBody {
    // Looked up after catching up, so another process's intent is found too.
    const intent = this.index.intent(intentId)?.intent;
    if (!intent) throw unknownIntent(intentId, this.file);
    return resolutionBody(step, intent, input, this.options.secrets, time);
  }

  private serialise<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.queue.then(operation, operation);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Must run inside {@link atomically}. */
  private async append(body: RecordBody): Promise<LedgerRecord> {
    const unsigned = { ...body, seq: this.position.seq + 1, prev_hash: this.position.hash };
    const record = { ...unsigned, hash: hashRecordBody(unsigned) } as LedgerRecord;
    const line = Buffer.from(`${canonicalJson(record)}\n`, 'utf8');
    await this.writeDurably(line);
    // Durable now: if indexing fails, the next step reads it again as if another process wrote it.
    this.indexRecords([{ record, offset: this.size, length: line.length }]);
    this.position = { seq: record.seq, hash: record.hash, lines: this.position.lines + 1 };
    this.size += line.length;
    this.sinceCheckpoint += 1;
    return record;
  }

  private closedError(): LedgerError {
    return new LedgerError(
      'closed',
      `The audit ledger ${this.file} is closed.`,
      'Nothing was sent to QFPay. Restart the server.',
    );
  }

  private async writeDurably(line: Buffer): Promise<void> {
    try {
      const { bytesWritten } = await this.handle.write(line, 0, line.length);
      if (bytesWritten !== line.length)
        throw new Error(`short write (${bytesWritten} of ${line.length} bytes)`);
      if (this.options.fsync) await this.handle.sync();
    } catch (error) {
      // Put the file back to its last acknowledged state so the chain stays intact; if even that
      // fails, nothing more may be written until a restart re-verifies the file.
      try {
        await this.handle.truncate(this.size);
        if (this.options.fsync) await this.handle.sync();
      } catch {
        this.failure = new LedgerError(
          'unavailable',
          `The audit ledger ${this.file} could not be restored after a failed write; it refuses further writes.`,
          'Nothing more will be sent to QFPay. Fix the disk, run "qfpay-mcp audit verify", then restart.',
          { cause: error },
        );
      }
      throw unavailable(this.file, error);
    }
  }

  /** Verifies and indexes what was appended since `this.size` (by others, or before open). Must hold the lock. */
  private async catchUp(): Promise<void> {
    const info = await stat(this.file).catch((error: unknown) => {
      throw this.poison(unavailable(this.file, error, 'the ledger file disappeared while open'));
    });
    if (info.dev !== this.identity.dev || info.ino !== this.identity.ino) {
      throw this.poison(
        new LedgerError(
          'integrity',
          `The audit ledger ${this.file} was replaced by another file while open.`,
          'Nothing was sent to QFPay. Find out who replaced it, keep both files, then restart.',
        ),
      );
    }
    try {
      this.index.catchUpTable();
    } catch (error) {
      throw unavailable(indexFile(this.file), error, 'cannot be read or written');
    }
    if (info.size === this.size) return;
    if (info.size < this.size) {
      throw this.poison(
        new LedgerIntegrityError(
          this.file,
          this.position.seq,
          this.position.lines,
          'the file shrank while open',
        ),
      );
    }
    // In chunks, so a first read of a large ledger holds one chunk in memory, not the file.
    let chunkSize = CATCH_UP_CHUNK;
    while (this.size < info.size) {
      const added = await readRange(this.file, this.size, Math.min(chunkSize, info.size - this.size));
      const scan = scanBytes(added, this.position);
      if (scan.problem?.kind === 'broken') {
        throw this.poison(
          new LedgerIntegrityError(this.file, scan.problem.seq, scan.problem.line, scan.problem.reason),
        );
      }
      this.indexRecords(
        scan.records.map((record, i) => ({
          record,
          offset: this.size + scan.starts[i]!,
          length: (scan.starts[i + 1] ?? scan.validBytes) - scan.starts[i]!,
        })),
      );
      this.position = scan.end;
      this.size += scan.validBytes;
      this.sinceCheckpoint += scan.records.length;
      if (this.size + (added.length - scan.validBytes) < info.size) {
        // The chunk ended inside a line: read on from it (a longer chunk when one line exceeds it).
        chunkSize = scan.validBytes === 0 ? chunkSize * 2 : CATCH_UP_CHUNK;
        continue;
      }
      if (scan.problem?.kind === 'torn_tail') {
        // We hold the lock, so the writer of that fragment died mid-write.
        await this.repairTail(added.subarray(scan.validBytes), scan.problem);
      }
      break;
    }
    if (this.sinceCheckpoint >= CHECKPOINT_EVERY) await this.saveCheckpoint();
  }

  /** Applies records to the index, then writes its header once. Must hold the lock. */
  private indexRecords(records: readonly { record: LedgerRecord; offset: number; length: number }[]): void {
    try {
      for (const { record, offset, length } of records) this.index.apply(record, offset, length);
      this.index.flushTable();
    } catch (error) {
      throw unavailable(indexFile(this.file), error, 'cannot be read or written');
    }
  }

  /** Must hold the lock; `fragment` is everything after the last complete line. */
  private async repairTail(fragment: Uint8Array, problem: ScanProblem): Promise<void> {
    const kept = await repairTornTail(this.file, this.handle, fragment, this.size, problem, this.options);
    if (!kept) return;
    this.indexRecords([{ record: kept, offset: this.size, length: fragment.length + 1 }]);
    this.position = { seq: kept.seq, hash: kept.hash, lines: this.position.lines + 1 };
    this.size += fragment.length + 1;
  }

  /** {@link saveCheckpoint} for close(), which runs outside a step: the table is written under the lock. */
  private async saveCheckpointLocked(): Promise<void> {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await acquireLock(this.file, this.options.lockTimeoutMs);
    } catch {
      // Another process holds the ledger: the next open reads from the previous checkpoint.
      return;
    }
    try {
      await this.saveCheckpoint();
    } finally {
      await release();
    }
  }

  /**
   * A cache of the verified prefix; losing or corrupting it only costs a full read on the next open.
   * Must hold the lock. The table is made durable (and says it covers this prefix) before the
   * checkpoint that relies on it is written.
   */
  private async saveCheckpoint(): Promise<void> {
    try {
      this.index.persist(this.size);
      await writeCheckpoint(this.file, {
        v: CHECKPOINT_VERSION,
        dev: this.identity.dev,
        ino: this.identity.ino,
        size: this.size,
        position: this.position,
        index: this.index.memory(),
      });
      this.sinceCheckpoint = 0;
    } catch (error) {
      this.options.onWarning(
        `qfpay-mcp: audit ledger ${this.file}: could not save its checkpoint (${(error as NodeJS.ErrnoException).code ?? 'error'}); the next start reads the whole file`,
      );
    }
  }

  private poison(error: LedgerError): LedgerError {
    this.failure = error;
    return error;
  }
}

/**
 * An intent record stamped `time`, validated and cleaned (secrets removed, codes masked): the one
 * way every store builds one. Throws a LedgerError when the input is invalid.
 */
export function intentBody(input: IntentInput, secrets: readonly string[], time: string): RecordBody {
  const parsed = intentInputSchema.safeParse(input);
  if (!parsed.success) throw invalidInput('the intent', parsed.error);
  const valid = parsed.data;
  return omitUndefined({
    time,
    environment: valid.environment,
    merchant: omitUndefined({
      appcode: maskAppcode(valid.merchant.appcode),
      mchid: valid.merchant.mchid === undefined ? undefined : cleanText(valid.merchant.mchid, secrets, 64),
      fingerprint: merchantFingerprint(valid.merchant),
    }),
    tool: valid.tool,
    kind: valid.kind,
    step: 'intent' as const,
    intent_id: randomUUID(),
    // Kept exact (validated above): it is the idempotency key the ledger is searched by.
    out_trade_no: valid.out_trade_no,
    txamt: valid.txamt,
    txcurrcd: valid.txcurrcd,
    status: 'INTENDED' as const,
    params: cleanParams(valid.params, secrets),
    fingerprint: valid.fingerprint,
    caller: valid.caller === undefined ? undefined : cleanText(valid.caller, secrets, 256),
    approval: valid.approval,
    orig_syssn: valid.orig_syssn === undefined ? undefined : cleanText(valid.orig_syssn, secrets, 64),
  });
}

/** An outcome or reconciled record of `intent`, stamped `time`. Throws a LedgerError when the input is invalid. */
export function resolutionBody(
  step: 'outcome' | 'reconciled',
  intent: LedgerRecord,
  input: OutcomeInput,
  secrets: readonly string[],
  time: string,
): RecordBody {
  const parsed = outcomeInputSchema.safeParse(input);
  if (!parsed.success) throw invalidInput(`the ${step}`, parsed.error);
  const valid = parsed.data;
  return omitUndefined({
    time,
    environment: intent.environment,
    merchant: intent.merchant,
    tool: intent.tool,
    kind: intent.kind,
    step,
    intent_id: intent.intent_id,
    out_trade_no: intent.out_trade_no,
    txamt: intent.txamt,
    txcurrcd: intent.txcurrcd,
    status: valid.status,
    respcd: valid.respcd === undefined ? undefined : cleanText(valid.respcd, secrets, 16),
    syssn: valid.syssn === undefined ? undefined : cleanText(valid.syssn, secrets, 64),
    orig_syssn: valid.orig_syssn === undefined ? intent.orig_syssn : cleanText(valid.orig_syssn, secrets, 64),
    message: valid.message === undefined ? undefined : cleanText(valid.message, secrets, 300),
    processed: valid.processed,
  });
}

/** An outcome was to be recorded for an intent the store does not hold. */
export function unknownIntent(intentId: string, where: string): LedgerError {
  return new LedgerError(
    'unknown_intent',
    `No intent ${intentId} in the audit ledger ${where}.`,
    'Record the intent before its outcome; this is a bug in the caller.',
  );
}

// ---------------------------------------------------------------------------------------------
// Checkpoint: `<file>.checkpoint`, the verified prefix (size, chain position) and the index state
// ---------------------------------------------------------------------------------------------

const CHECKPOINT_VERSION = 2;
/** Bytes of the ledger read at a time when catching up. */
const CATCH_UP_CHUNK = 1 << 20;
const TAIL_CHUNK = 64 * 1024;

interface Checkpoint {
  readonly v: number;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly position: ChainPosition;
  readonly index: IndexMemory;
}

const checkpointSchema = z.object({
  v: z.literal(CHECKPOINT_VERSION),
  dev: z.number(),
  ino: z.number(),
  size: z.number().int().nonnegative(),
  position: z.object({
    seq: z.number().int().nonnegative(),
    hash: z.string().regex(HEX64),
    lines: z.number().int().nonnegative(),
  }),
  index: z.object({
    lastTime: z.string().optional(),
    dayTotals: z.array(z.tuple([z.string(), z.number().int()])),
    pending: z.array(z.looseObject({ intent: z.looseObject({ intent_id: z.string() }) })),
  }),
});

export function checkpointFile(file: string): string {
  return `${file}.checkpoint`;
}

async function writeCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  const staging = `${checkpointFile(file)}.${process.pid}.${randomUUID().slice(0, 8)}`;
  await writeFile(staging, JSON.stringify(checkpoint), { mode: 0o600, flag: 'wx' });
  try {
    await rename(staging, checkpointFile(file));
  } catch (error) {
    await unlink(staging).catch(() => undefined);
    throw error;
  }
}

/**
 * The checkpoint when it describes a prefix of this very file (same inode, not longer than the file)
 * whose last record is the one the file actually has there; undefined otherwise (read everything).
 */
async function readCheckpoint(
  file: string,
  info: { dev: number; ino: number; size: number },
): Promise<{ size: number; position: ChainPosition; index: IndexMemory } | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(checkpointFile(file), 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = checkpointSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const checkpoint = parsed.data;
  if (checkpoint.dev !== info.dev || checkpoint.ino !== info.ino || checkpoint.size > info.size)
    return undefined;
  if (checkpoint.size === 0) return undefined;
  const tail = await readRange(
    file,
    Math.max(0, checkpoint.size - TAIL_CHUNK),
    Math.min(TAIL_CHUNK, checkpoint.size),
  );
  if (tail.at(-1) !== 0x0a) return undefined;
  const lineStart = tail.lastIndexOf(0x0a, tail.length - 2) + 1;
  if (lineStart === 0 && checkpoint.size > tail.length) return undefined;
  const previous = { ...checkpoint.position, seq: checkpoint.position.seq - 1 };
  const last = tail.subarray(lineStart, tail.length - 1);
  let record: LedgerRecord;
  try {
    record = JSON.parse(last.toString('utf8')) as LedgerRecord;
  } catch {
    return undefined;
  }
  const check = checkLine(last, { ...previous, hash: record.prev_hash });
  if (!check.ok || check.record.hash !== checkpoint.position.hash) return undefined;
  return {
    size: checkpoint.size,
    position: checkpoint.position,
    index: checkpoint.index as unknown as IndexMemory,
  };
}

// ---------------------------------------------------------------------------------------------
// File helpers
// ---------------------------------------------------------------------------------------------

/** The index of `file`, read through a descriptor of its own (the ledger's handle is append-only). */
function openIndex(
  file: string,
  identity: { dev: number; ino: number },
  options: LedgerIndexOptions,
): ReturnType<typeof LedgerIndex.open> {
  const fd = openSync(file, 'r');
  try {
    return LedgerIndex.open(file, fd, identity, options);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function unavailable(file: string, error: unknown, what = 'cannot be written'): LedgerError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new LedgerError(
    'unavailable',
    `The audit ledger ${file} ${what}${code ? ` (${code})` : ''}; the money-moving action was not sent to QFPay.`,
    'Make the ledger path writable (or set QFPAY_AUDIT_LOG to a writable file), then try again.',
    { cause: error },
  );
}

async function fileExists(file: string): Promise<boolean> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error(`${file} exists but is not a regular file`);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function readRange(file: string, start: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const { bytesRead } = await handle.read(buffer, read, length - read, start + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return buffer.subarray(0, read);
  } finally {
    await handle.close();
  }
}

/**
 * Repairs an unterminated final line starting at `validBytes`: keeps it (adding the newline) when it
 * is a complete chained record, otherwise saves its bytes next to the ledger and truncates them away.
 * Returns the record kept, if any.
 */
async function repairTornTail(
  file: string,
  handle: FileHandle,
  fragment: Uint8Array,
  validBytes: number,
  problem: ScanProblem,
  settings: { fsync: boolean; onWarning: (message: string) => void },
): Promise<LedgerRecord | undefined> {
  if (problem.completeRecord) {
    await handle.write('\n');
    if (settings.fsync) await handle.sync();
    return problem.completeRecord;
  }
  const aside = `${file}.torn-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
  await writeFile(aside, fragment, { mode: 0o600, flag: 'wx' });
  await handle.truncate(validBytes);
  if (settings.fsync) await handle.sync();
  settings.onWarning(
    `qfpay-mcp: audit ledger ${file}: removed an incomplete final line (${fragment.length} bytes) left by an interrupted write; saved to ${aside}`,
  );
  return undefined;
}

/**
 * A cross-process append lock: `<file>.lock`, created exclusively, holding `pid host time`. A lock
 * whose holder is a dead process on this host, or that is older than 30 s, is abandoned and taken
 * over. Returns the release function.
 */
async function acquireLock(file: string, timeoutMs: number): Promise<() => Promise<void>> {
  const lockFile = `${file}.lock`;
  const token = `${process.pid} ${hostname()} ${Date.now()} ${randomUUID()}`;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt += 1) {
    let acquired: boolean;
    try {
      acquired = await createLockFile(lockFile, token);
    } catch (error) {
      throw unavailable(file, error);
    }
    if (acquired) {
      return async () => {
        const current = await readFile(lockFile, 'utf8').catch(() => undefined);
        if (current === token) await unlink(lockFile).catch(() => undefined);
      };
    }
    const abandoned = await abandonedLockContent(lockFile);
    if (abandoned !== undefined) {
      // Re-read first, so a lock just taken over by a third process is not removed by mistake.
      const current = await readFile(lockFile, 'utf8').catch(() => undefined);
      if (current === abandoned) await unlink(lockFile).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LedgerError(
        'locked',
        `The audit ledger ${file} stayed locked by another process for ${timeoutMs} ms; the money-moving action was not sent to QFPay.`,
        `Try again shortly. If no other qfpay-mcp process is running, delete ${lockFile}.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 + attempt * 2) + Math.random() * 5));
  }
}

const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL']);

/**
 * Creates the lock file with its owner already inside: written under a private staging name, then
 * hard-linked into place (link fails with EEXIST when the lock exists). A process killed mid-way
 * therefore never leaves an empty lock. Where hard links are unsupported, falls back to an
 * exclusive create followed by a write. Returns false when the lock is held.
 */
async function createLockFile(lockFile: string, token: string): Promise<boolean> {
  const staging = `${lockFile}.${process.pid}.${randomUUID().slice(0, 8)}`;
  await writeFile(staging, token, { flag: 'wx', mode: 0o600 });
  try {
    await link(staging, lockFile);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!LINK_UNSUPPORTED.has(code)) throw error;
  } finally {
    await unlink(staging).catch(() => undefined);
  }
  try {
    await writeFile(lockFile, token, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Removes staging files of lock attempts by processes on this host that died mid-attempt. */
async function sweepLockStaging(file: string): Promise<void> {
  const prefix = `${path.basename(file)}.lock.`;
  const names = await readdir(path.dirname(file)).catch(() => [] as string[]);
  for (const name of names) {
    const match = /^(\d+)\.[0-9a-f]{8}$/.exec(name.startsWith(prefix) ? name.slice(prefix.length) : '');
    if (match && !processIsAlive(Number(match[1]))) {
      await unlink(path.join(path.dirname(file), name)).catch(() => undefined);
    }
  }
}

/**
 * The lock's content when its holder is gone, else undefined. Gone means: a dead process on this
 * host, a lock older than 30 s, or a lock still empty or garbled after a second (its creator was
 * killed between creating the file and writing its pid, which a live process does in microseconds).
 */
async function abandonedLockContent(lockFile: string): Promise<string | undefined> {
  try {
    const [content, info] = await Promise.all([readFile(lockFile, 'utf8'), stat(lockFile)]);
    const age = Date.now() - info.mtimeMs;
    if (age > STALE_LOCK_MS) return content;
    const [pidText, host] = content.split(' ');
    const pid = Number(pidText);
    if (!host || !Number.isSafeInteger(pid) || pid <= 0) return age > UNWRITTEN_LOCK_MS ? content : undefined;
    if (host !== hostname()) return undefined;
    return processIsAlive(pid) ? undefined : content;
  } catch {
    // Vanished between the calls: let the next attempt decide.
    return undefined;
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function omitUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
