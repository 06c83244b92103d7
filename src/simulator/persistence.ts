import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import * as z from 'zod';
import { resolveStateDir } from '../safety/state-dir.js';
import type { Ledger, SimTransaction } from './state.js';

/**
 * Lasting rehearsals: the simulator's orders and refunds in a file, so that a second simulator
 * process started on the same file sees what the first one booked.
 *
 * Format: JSON lines, one complete transaction per line, the last line for a syssn wins. Each
 * state change appends the changed transactions (one write, then fsync), so the cost of a change
 * does not grow with the number of orders. Loading replays the file and then rewrites it compacted
 * through a temporary file and a rename, so a crash leaves either the old or the new file. A torn
 * last line (a crash mid-append) is skipped. Sharing one file between simulators running at the
 * same time is not supported. The clock offset, notifications, faults and the request log are
 * not kept.
 */

const FORMAT_VERSION = 1;

const optionalNumber = z.number().optional();
const optionalText = z.string().optional();

const transactionSchema = z.object({
  syssn: z.string().min(1),
  merchant: z.string().min(1),
  appcode: z.string().min(1),
  mchid: optionalText,
  orderType: z.enum(['payment', 'refund']),
  outTradeNo: z.string().min(1),
  payType: z.string().min(1),
  mode: z.enum(['CPM', 'MPM', 'WEB', 'WAP', 'APP', 'JSAPI', 'MINI', 'CARD', 'PREAUTH']),
  txamt: z.number().int().positive(),
  txcurrcd: z.string().min(1),
  txdtm: z.string(),
  createdAtSimMs: z.number(),
  origSyssn: optionalText,
  goodsName: optionalText,
  udid: z.string(),
  notifyUrl: optionalText,
  state: z.enum(['AWAITING_CUSTOMER', 'PROCESSING', 'PAID', 'FAILED', 'EXPIRED', 'CANCELLED']),
  respcd: z.string(),
  errmsg: z.string(),
  cancel: z.string(),
  paidAtSimMs: optionalNumber,
  chnlsn: z.string(),
  cardcd: z.string(),
  refundedAmount: z.number().int().nonnegative(),
  expiresAtSimMs: optionalNumber,
  settleAtSimMs: optionalNumber,
  pendingQueriesSeen: z.number().int().nonnegative(),
  cancelledBy: z.enum(['close', 'reversal']).optional(),
  capturedAmount: z.number().int().nonnegative().optional(),
  finishedAtSimMs: optionalNumber,
  finishedBy: z.enum(['captured', 'released', 'expired']).optional(),
  note: optionalText,
});

const lineSchema = z.object({ v: z.literal(FORMAT_VERSION), t: transactionSchema });

export class SimulatorStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulatorStateError';
  }
}

export class StateFile {
  private readonly dirty = new Set<SimTransaction>();
  private fd: number | undefined;

  private constructor(readonly file: string) {}

  /** Loads `file` (missing = empty) into `ledger`, compacts it and keeps it open for appends. */
  static open(file: string, ledger: Ledger): StateFile {
    const store = new StateFile(path.resolve(file));
    const saved = readTransactions(store.file);
    for (const transaction of saved.transactions) ledger.restore(transaction);
    // Compact only when the file holds superseded or torn lines (or does not exist yet).
    if (saved.lines !== saved.transactions.length || !saved.existed) store.rewrite(ledger.all());
    store.fd = openSync(store.file, 'a');
    return store;
  }

  markDirty(transaction: SimTransaction): void {
    this.dirty.add(transaction);
  }

  /** Appends every transaction changed since the last flush, durably. */
  flush(): void {
    if (this.fd === undefined || this.dirty.size === 0) return;
    const text = [...this.dirty].map(lineOf).join('');
    this.dirty.clear();
    writeSync(this.fd, text);
    fsyncSync(this.fd);
  }

  /** Empties the file (control API reset). */
  clear(): void {
    this.dirty.clear();
    if (this.fd !== undefined) closeSync(this.fd);
    this.rewrite([]);
    this.fd = openSync(this.file, 'a');
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private rewrite(transactions: readonly SimTransaction[]): void {
    writeAtomically(this.file, transactions.map(lineOf).join(''));
  }
}

/** `<state dir>/simulator-state.jsonl`, beside the audit ledgers (src/safety/state-dir.ts). */
/** The file's name in the state directory, shared with the server's embedded simulator. */
export const SIMULATOR_STATE_FILE_NAME = 'simulator-state.jsonl';

export function defaultSimulatorStateFile(): string {
  return path.join(resolveStateDir(), SIMULATOR_STATE_FILE_NAME);
}

/** `qfpay-mcp simulator reset --state-file F`: the file afterwards holds no orders. */
export function resetStateFile(file: string): void {
  writeAtomically(path.resolve(file), '');
}

function lineOf(transaction: SimTransaction): string {
  return `${JSON.stringify({ v: FORMAT_VERSION, t: transaction })}\n`;
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  const fd = openSync(temporary, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}

interface SavedState {
  readonly existed: boolean;
  /** Non-blank lines in the file, torn ones included. */
  readonly lines: number;
  readonly transactions: SimTransaction[];
}

function readTransactions(file: string): SavedState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { existed: false, lines: 0, transactions: [] };
    throw error;
  }
  const lines = text.split('\n');
  const latest = new Map<string, SimTransaction>();
  let count = 0;
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    count += 1;
    const parsed = parseLine(line);
    if (parsed) {
      latest.delete(parsed.syssn);
      latest.set(parsed.syssn, parsed);
      return;
    }
    // Only the very last line may be torn (a crash during an append); anything else is damage.
    const isLast = lines.slice(index + 1).every((rest) => rest.trim() === '');
    if (!isLast)
      throw new SimulatorStateError(
        `simulator state file ${file}: line ${index + 1} is not a saved transaction; fix or delete the file (qfpay-mcp simulator reset --state-file ${file})`,
      );
  });
  const transactions = [...latest.values()].sort((a, b) => a.createdAtSimMs - b.createdAtSimMs);
  return { existed: true, lines: count, transactions };
}

function parseLine(line: string): SimTransaction | undefined {
  try {
    const result = lineSchema.safeParse(JSON.parse(line));
    return result.success ? (result.data.t as SimTransaction) : undefined;
  } catch {
    return undefined;
  }
}
