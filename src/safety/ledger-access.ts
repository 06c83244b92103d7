import { stat } from 'node:fs/promises';

import { AuditLedger, type LedgerOpenOptions } from './ledger.js';

/**
 * The audit ledger of one runtime, opened when it is first needed.
 *
 * An existing ledger file is opened (and its whole chain verified) as soon as anything reads it,
 * starting with the reconciliation on start. A missing one is created only by the first intent
 * that has to be recorded: a server that only reads, or whose writes are all refused before
 * anything would be sent, leaves no file behind (what `qfpay-mcp doctor` tells the operator).
 * A failed open is not remembered, so fixing the disk or the path takes effect on the next call.
 */
export class LedgerAccess {
  private ledger: AuditLedger | undefined;
  private opening: Promise<AuditLedger> | undefined;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly openOptions: LedgerOpenOptions,
  ) {}

  /** The ledger if it is open already; never opens (for synchronous lookups). */
  get current(): AuditLedger | undefined {
    return this.ledger;
  }

  /**
   * The ledger when its file exists, opened and verified; undefined when there is none yet.
   * Throws when the file exists but cannot be used (broken chain, permissions).
   */
  async existing(): Promise<AuditLedger | undefined> {
    if (this.ledger) return this.ledger;
    if (!this.opening && !(await fileExists(this.file))) return undefined;
    return this.open();
  }

  /** The ledger, created if needed. Throws when it cannot be opened or created. */
  writable(): Promise<AuditLedger> {
    return this.ledger ? Promise.resolve(this.ledger) : this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
    const ledger = this.ledger ?? (await this.opening?.catch(() => undefined));
    await ledger?.close();
  }

  private open(): Promise<AuditLedger> {
    if (this.closed) return Promise.reject(new Error(`the audit ledger ${this.file} is closed`));
    this.opening ??= AuditLedger.open(this.file, this.openOptions)
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

async function fileExists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // Anything else (permissions, not a directory) is for open() to report properly.
    return true;
  }
}
