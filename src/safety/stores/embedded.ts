import { stat } from 'node:fs/promises';

import type {
  ApprovalDecision,
  ApprovalRecord,
  ApprovalRedemption,
  ApprovalRequest,
  OperatorCredential,
} from '../approval-store.js';
import { holdsKey, type IndexedIntent, keyOf, type LedgerIndex, scopeOf } from '../ledger-index.js';
import {
  AuditLedger,
  hongKongDay,
  LedgerError,
  type LedgerRecord,
  type LedgerTransaction,
  movedNothing,
  type OutcomeInput,
  readLedgerFile,
  type VerifyResult,
  verifyLedgerFile,
} from '../ledger.js';
import type {
  DrawKind,
  DrawOn,
  IdempotencyKey,
  KeyHolder,
  MoneyStore,
  MoneyStoreOptions,
  PendingFilter,
  RecordFilter,
  StoreScope,
  WriteAdmission,
  WriteAdmissionResult,
} from '../money-store.js';
import { ControlLog } from './control-log.js';

/**
 * The default money-state store: no server, no native module, correct across any number of
 * processes on ONE host that share the ledger file (several stdio servers spawned by different
 * clients, several HTTP instances on one machine).
 *
 * The hash-chained JSONL ledger is the truth. Each atomic step takes the ledger's lock file, reads
 * and verifies only what other processes appended since this one last looked (incremental, into
 * {@link LedgerIndex}: a hash table on disk, `<ledger>.index`, plus small bounded state in memory),
 * decides, appends and fsyncs, and releases the lock: a decision can never be based on a stale view. State that is not a money movement (nonces, leases, approvals) lives in
 * `<ledger>.state` under the same lock (see ControlLog). A checkpoint next to the ledger lets a
 * start read only what is new, and `recent` reads the file from its end.
 *
 * The ledger file is created by the first step that must record something; reads of a store whose
 * file does not exist yet see an empty store and create nothing.
 */
export class EmbeddedMoneyStore implements MoneyStore {
  private ledger: AuditLedger | undefined;
  private opening: Promise<AuditLedger> | undefined;
  private readonly control: ControlLog;
  private readonly now: () => Date;
  private closed = false;

  constructor(
    readonly location: string,
    private readonly options: MoneyStoreOptions & {
      /** fsync every record (default true; only tests turn it off). */
      readonly fsync?: boolean;
      readonly lockTimeoutMs?: number;
    } = {},
  ) {
    this.control = new ControlLog(`${location}.state`, options.fsync ?? true);
    this.now = options.now ?? (() => new Date());
  }

  beginWrite(admission: WriteAdmission): Promise<WriteAdmissionResult> {
    return this.step(async (tx) => {
      const scope = scopeKey(admission.scope);
      const key = keyOf(admission.intent);
      if (key !== admission.key) {
        throw new LedgerError(
          'unavailable',
          `The idempotency key ${admission.key} does not match the intent's (${key}).`,
          'This is a bug in the caller of the store; nothing was sent to QFPay.',
        );
      }
      const holding = tx.index.entriesFor(scope, key).filter(holdsKey);
      const latest = holding.at(-1);
      if (latest) {
        const conflict = holding.some((entry) => entry.intent.fingerprint !== admission.fingerprint);
        return { kind: conflict ? 'conflict' : 'held', holder: toHolder(latest) };
      }
      const { kind, txcurrcd } = admission.intent;
      const day = hongKongDay(tx.time);
      const refusal = admission.admit({
        day,
        dayTotal: kind === 'cancel' ? 0 : tx.index.dayTotal(scope, day, kind, txcurrcd),
        unaccountedDraws: admission.drawOn
          ? unaccounted(tx.index, scope, admission.drawOn, new Set(admission.drawOn.visible))
          : 0,
        released: admission.drawOn ? released(tx.index, scope, admission.drawOn.orig_syssn) : false,
      });
      if (refusal) return { kind: 'refused', refusal };
      return { kind: 'claimed', intent: await tx.recordIntent(admission.intent) };
    });
  }

  recordOutcome(intentId: string, outcome: OutcomeInput): Promise<LedgerRecord> {
    return this.step((tx) => tx.recordResolution('outcome', intentId, outcome));
  }

  recordReconciliation(intentId: string, outcome: OutcomeInput): Promise<LedgerRecord> {
    return this.step((tx) => tx.recordResolution('reconciled', intentId, outcome));
  }

  keyHolder(scope: StoreScope, key: IdempotencyKey): Promise<KeyHolder | undefined> {
    return this.query(undefined, (index) => {
      const latest = index.entriesFor(scopeKey(scope), key).filter(holdsKey).at(-1);
      return latest ? toHolder(latest) : undefined;
    });
  }

  unaccountedDraws(
    scope: StoreScope,
    kind: DrawKind,
    origSyssn: string,
    visible: ReadonlySet<string>,
  ): Promise<number> {
    return this.query(0, (index) =>
      unaccounted(index, scopeKey(scope), { kind, orig_syssn: origSyssn }, visible),
    );
  }

  redeemNonce(nonce: string, expiresAt: Date): Promise<boolean> {
    return this.step(async () => {
      if (this.control.nonces.has(nonce)) return false;
      await this.control.append({ t: 'nonce', n: nonce, e: expiresAt.getTime() });
      return true;
    });
  }

  claimReconciliation(intentId: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.step(async () => {
      const now = this.now().getTime();
      const lease = this.control.leases.get(intentId);
      if (lease && lease.owner !== owner && lease.until > now) return false;
      await this.control.append({ t: 'lease', id: intentId, owner, until: now + leaseMs });
      return true;
    });
  }

  pendingIntents(filter: PendingFilter): Promise<readonly LedgerRecord[]> {
    const scope = scopeKey(filter.scope);
    const since = filter.since.getTime();
    return this.query([], (index) =>
      index
        .pendingIntents()
        .map((entry) => entry.intent)
        .filter((intent) => scopeOf(intent) === scope && Date.parse(intent.time) >= since)
        .reverse()
        .slice(0, Math.max(0, filter.limit)),
    );
  }

  async recent(limit: number, scope?: StoreScope): Promise<readonly LedgerRecord[]> {
    const ledger = await this.existing();
    if (!ledger) return [];
    await ledger.refresh();
    const wanted = scope ? scopeKey(scope) : undefined;
    return ledger.recent(limit, (record) => wanted === undefined || scopeOf(record) === wanted);
  }

  async listRecords(filter: RecordFilter = {}): Promise<readonly LedgerRecord[]> {
    if (!(await exists(this.location))) return [];
    const { records, problem } = await readLedgerFile(this.location);
    if (problem) {
      throw new LedgerError(
        'integrity',
        `Audit ledger ${this.location} is broken at record ${problem.seq} (line ${problem.line}): ${problem.reason}.`,
        `Run "qfpay-mcp audit verify ${this.location}" and investigate.`,
      );
    }
    const wanted = filter.scope ? scopeKey(filter.scope) : undefined;
    const since = filter.since ? Date.parse(filter.since) : undefined;
    const matching = records.filter(
      (record) =>
        (wanted === undefined || scopeOf(record) === wanted) &&
        (filter.out_trade_no === undefined || record.out_trade_no === filter.out_trade_no) &&
        (since === undefined || Date.parse(record.time) >= since),
    );
    return filter.limit === undefined ? matching : matching.slice(0, Math.max(0, filter.limit));
  }

  async verify(): Promise<VerifyResult> {
    if (!(await exists(this.location))) return { ok: true, records: 0 };
    return verifyLedgerFile(this.location);
  }

  // Operator approvals (ApprovalStore): each change one step under the lock.

  createApproval(request: ApprovalRequest): Promise<void> {
    return this.step(async () => {
      if (this.control.approvals.has(request.id)) {
        throw new LedgerError(
          'unavailable',
          'An approval with this id exists already.',
          'Create it with a new id.',
        );
      }
      await this.control.append({ t: 'approval', record: { ...request, state: 'pending' } });
    });
  }

  async getApproval(id: string): Promise<ApprovalRecord | undefined> {
    return this.step(() => this.control.approvals.get(id));
  }

  decideApproval(id: string, decision: ApprovalDecision, now: Date): Promise<boolean> {
    return this.step(async () => {
      const record = this.control.approvals.get(id);
      if (!record || record.state !== 'pending' || Date.parse(record.expiresAt) <= now.getTime())
        return false;
      await this.control.append({
        t: 'approval',
        record: {
          ...record,
          state: decision.approved ? 'approved' : 'declined',
          decidedAt: now.toISOString(),
          decidedBy: decision.by,
          ...(decision.credentialId ? { credentialId: decision.credentialId } : {}),
        },
      });
      return true;
    });
  }

  redeemApproval(id: string, bindingDigest: string, now: Date): Promise<ApprovalRedemption> {
    return this.step(async (): Promise<ApprovalRedemption> => {
      const record = this.control.approvals.get(id);
      if (!record) return { ok: false, reason: 'unknown' };
      if (record.state === 'redeemed') return { ok: false, reason: 'reused' };
      if (record.state === 'declined') return { ok: false, reason: 'declined' };
      if (Date.parse(record.expiresAt) <= now.getTime()) return { ok: false, reason: 'expired' };
      if (record.state === 'pending') return { ok: false, reason: 'pending' };
      if (record.bindingDigest !== bindingDigest) return { ok: false, reason: 'mismatch' };
      const redeemed: ApprovalRecord = { ...record, state: 'redeemed' };
      await this.control.append({ t: 'approval', record: redeemed });
      return { ok: true, record: redeemed };
    });
  }

  addOperatorCredential(credential: OperatorCredential): Promise<void> {
    return this.step(() => this.control.append({ t: 'credential', credential }));
  }

  listOperatorCredentials(): Promise<readonly OperatorCredential[]> {
    return this.step(() => [...this.control.credentials.values()]);
  }

  raiseOperatorCredentialCounter(id: string, counter: number): Promise<boolean> {
    return this.step(async () => {
      const credential = this.control.credentials.get(id);
      if (!credential || counter <= credential.counter) return false;
      await this.control.append({ t: 'credential', credential: { ...credential, counter } });
      return true;
    });
  }

  putChallenge(id: string, challenge: string, expiresAt: Date): Promise<void> {
    return this.step(() => this.control.append({ t: 'challenge', id, challenge, e: expiresAt.getTime() }));
  }

  takeChallenge(id: string, now: Date): Promise<string | undefined> {
    return this.step(async () => {
      const entry = this.control.challenges.get(id);
      if (!entry) return undefined;
      await this.control.append({ t: 'challenge_taken', id });
      return entry.expiresAt > now.getTime() ? entry.challenge : undefined;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ledger = this.ledger ?? (await this.opening?.catch(() => undefined));
    await ledger?.close();
    await this.control.close();
  }

  // -------------------------------------------------------------------------------------------

  /** One atomic step: the ledger's lock held, both files caught up. */
  private async step<T>(work: (tx: LedgerTransaction) => Promise<T> | T): Promise<T> {
    const ledger = await this.writable();
    return ledger.atomically(async (tx) => {
      await this.control.catchUp(this.now().getTime());
      return work(tx);
    });
  }

  /**
   * `work` answered from the index under the lock, including everything other processes appended;
   * `empty` when there is no ledger yet.
   */
  private async query<T>(empty: T, work: (index: LedgerIndex) => T): Promise<T> {
    const ledger = await this.existing();
    return ledger ? ledger.read(work) : empty;
  }

  private async existing(): Promise<AuditLedger | undefined> {
    if (this.ledger) return this.ledger;
    if (!this.opening && !(await exists(this.location))) return undefined;
    return this.writable();
  }

  private writable(): Promise<AuditLedger> {
    if (this.ledger) return Promise.resolve(this.ledger);
    if (this.closed) {
      return Promise.reject(
        new LedgerError(
          'closed',
          `The audit ledger ${this.location} is closed.`,
          'Nothing was sent to QFPay. Restart the server.',
        ),
      );
    }
    // A failed open is not remembered: fixing the disk or the path takes effect on the next call.
    this.opening ??= AuditLedger.open(this.location, {
      ...(this.options.fsync !== undefined ? { fsync: this.options.fsync } : {}),
      ...(this.options.secrets ? { secrets: this.options.secrets } : {}),
      ...(this.options.now ? { now: this.options.now } : {}),
      ...(this.options.lockTimeoutMs !== undefined ? { lockTimeoutMs: this.options.lockTimeoutMs } : {}),
      ...(this.options.onWarning ? { onWarning: this.options.onWarning } : {}),
    })
      .then((ledger) => {
        this.ledger = ledger;
        return ledger;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }
}

function scopeKey(scope: StoreScope): string {
  return `${scope.environment}|${scope.merchant}`;
}

function toHolder(entry: IndexedIntent): KeyHolder {
  return {
    intent: entry.intent,
    ...(entry.latest ? { latest: entry.latest } : {}),
    ...(entry.syssn ? { syssn: entry.syssn } : {}),
  };
}

function unaccounted(
  index: LedgerIndex,
  scope: string,
  draw: Pick<DrawOn, 'kind' | 'orig_syssn'>,
  visible: ReadonlySet<string>,
): number {
  return index
    .drawsOf(scope, draw.orig_syssn, draw.kind)
    .filter((entry) => !movedNothing(entry.latest) && !visible.has(entry.intent.out_trade_no))
    .reduce((sum, entry) => sum + entry.intent.txamt, 0);
}

/** A release of the authorisation holds its key: no capture may follow it. */
function released(index: LedgerIndex, scope: string, origSyssn: string): boolean {
  return index.drawsOf(scope, origSyssn, 'release').some(holdsKey);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // Anything else (permissions, not a directory) is for open() to report properly.
    return true;
  }
}
