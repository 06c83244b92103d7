import type { FileHandle } from 'node:fs/promises';
import { open, stat } from 'node:fs/promises';

import { z } from 'zod';

import type { ApprovalRecord, OperatorCredential } from '../approval-store.js';
import { canonicalJson } from '../idempotency.js';
import { LedgerError } from '../ledger.js';

/**
 * The embedded store's state that is not about money movements: redeemed confirmation nonces,
 * reconciliation leases, operator approvals, passkeys and WebAuthn challenges. One JSON event per
 * line in `<ledger>.state`, appended and fsync'd under the LEDGER's lock (the caller holds it), read
 * incrementally like the ledger, so it survives restarts and is shared by every process of the host.
 *
 * Not hash-chained: it authorises nothing by itself (a nonce only stops a second use, a lease only
 * keeps reconcilers apart, an approval is bound to its intent digest and single-use), and every money
 * movement it leads to is in the chained ledger. Expired nonces and challenges are dropped from
 * memory; the file keeps every event (one short line each).
 */

const eventSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('nonce'), n: z.string(), e: z.number() }),
  z.object({ t: z.literal('lease'), id: z.string(), owner: z.string(), until: z.number() }),
  z.object({ t: z.literal('approval'), record: z.looseObject({ id: z.string() }) }),
  z.object({ t: z.literal('credential'), credential: z.looseObject({ id: z.string() }) }),
  z.object({ t: z.literal('challenge'), id: z.string(), challenge: z.string(), e: z.number() }),
  z.object({ t: z.literal('challenge_taken'), id: z.string() }),
]);

export type ControlEvent =
  | { readonly t: 'nonce'; readonly n: string; readonly e: number }
  | { readonly t: 'lease'; readonly id: string; readonly owner: string; readonly until: number }
  | { readonly t: 'approval'; readonly record: ApprovalRecord }
  | { readonly t: 'credential'; readonly credential: OperatorCredential }
  | { readonly t: 'challenge'; readonly id: string; readonly challenge: string; readonly e: number }
  | { readonly t: 'challenge_taken'; readonly id: string };

export class ControlLog {
  readonly nonces = new Map<string, number>();
  readonly leases = new Map<string, { owner: string; until: number }>();
  readonly approvals = new Map<string, ApprovalRecord>();
  readonly credentials = new Map<string, OperatorCredential>();
  readonly challenges = new Map<string, { challenge: string; expiresAt: number }>();
  private handle: FileHandle | undefined;
  private size = 0;

  constructor(
    readonly file: string,
    private readonly fsync: boolean,
  ) {}

  /** Reads what was appended since the last call. The caller holds the ledger's lock. */
  async catchUp(now: number): Promise<void> {
    const info = await stat(this.file).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw unavailable(this.file, error);
    });
    if (!info || info.size === this.size) return this.forgetExpired(now);
    const handle = await this.writable();
    const length = info.size - this.size;
    const bytes = Buffer.alloc(length);
    const { bytesRead } = await handle.read(bytes, 0, length, this.size);
    const text = bytes.subarray(0, bytesRead);
    const end = text.lastIndexOf(0x0a) + 1;
    for (const line of text.subarray(0, end).toString('utf8').split('\n')) {
      if (line !== '') this.apply(parseEvent(line, this.file));
    }
    this.size += end;
    // We hold the lock, so an unterminated tail is a write whose process died: it never counted.
    if (end < bytesRead) await handle.truncate(this.size);
    this.forgetExpired(now);
  }

  /** Appends events durably and applies them. The caller holds the ledger's lock and caught up. */
  async append(...events: ControlEvent[]): Promise<void> {
    const handle = await this.writable();
    const bytes = Buffer.from(events.map((event) => `${canonicalJson(event)}\n`).join(''), 'utf8');
    try {
      await handle.write(bytes, 0, bytes.length, this.size);
      if (this.fsync) await handle.sync();
    } catch (error) {
      await handle.truncate(this.size).catch(() => undefined);
      throw unavailable(this.file, error);
    }
    this.size += bytes.length;
    for (const event of events) this.apply(event);
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  private async writable(): Promise<FileHandle> {
    this.handle ??= await open(this.file, 'a+', 0o600).catch((error: unknown) => {
      throw unavailable(this.file, error);
    });
    return this.handle;
  }

  private apply(event: ControlEvent): void {
    switch (event.t) {
      case 'nonce':
        this.nonces.set(event.n, event.e);
        return;
      case 'lease':
        this.leases.set(event.id, { owner: event.owner, until: event.until });
        return;
      case 'approval':
        this.approvals.set(event.record.id, event.record);
        return;
      case 'credential':
        this.credentials.set(event.credential.id, event.credential);
        return;
      case 'challenge':
        this.challenges.set(event.id, { challenge: event.challenge, expiresAt: event.e });
        return;
      case 'challenge_taken':
        this.challenges.delete(event.id);
        return;
    }
  }

  private forgetExpired(now: number): void {
    for (const [nonce, expiresAt] of this.nonces) if (expiresAt <= now) this.nonces.delete(nonce);
    for (const [id, lease] of this.leases) if (lease.until <= now) this.leases.delete(id);
    for (const [id, entry] of this.challenges) if (entry.expiresAt <= now) this.challenges.delete(id);
  }
}

function parseEvent(line: string, file: string): ControlEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    raw = undefined;
  }
  const parsed = eventSchema.safeParse(raw);
  if (!parsed.success) {
    throw new LedgerError(
      'integrity',
      `The money-state file ${file} has a line that is not one of its events.`,
      `Nothing was sent to QFPay. Move ${file} aside (keep it as evidence) and restart; confirmations issued before then must be asked again.`,
    );
  }
  return parsed.data as ControlEvent;
}

function unavailable(file: string, error: unknown): LedgerError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new LedgerError(
    'unavailable',
    `The money-state file ${file} cannot be read or written${code ? ` (${code})` : ''}; the money-moving action was not sent to QFPay.`,
    'Make the ledger directory writable (or set QFPAY_AUDIT_LOG to a writable file), then try again.',
    { cause: error },
  );
}
