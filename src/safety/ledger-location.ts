import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { EnvironmentName } from '../qfpay/catalog/types.js';

/**
 * Where the audit ledger of a runtime lives.
 *
 * Default: `QFPAY_AUDIT_LOG`, else `audit-<environment>.jsonl` in the per-user state directory
 * (`QFPAY_STATE_DIR`, XDG state home, …), shared by every process of that user and environment,
 * so idempotency, caps and reconciliation hold across restarts and instances.
 *
 * One exception (documented choice): the `local` environment with the EMBEDDED simulator and
 * neither QFPAY_AUDIT_LOG nor QFPAY_STATE_DIR set gets a temporary ledger that lives and dies with
 * the process. The embedded simulator forgets its orders when the process exits, so a persistent
 * ledger would refer to orders no simulator knows: reconciliation on the next start could never
 * resolve them, and a reused out_trade_no (tests and demos use fixed ones) would be answered from
 * a previous run instead of the fresh simulator. It also keeps rehearsals, test suites and parallel
 * workers from writing into the user's real state directory. Setting either variable (or pointing
 * QFPAY_BASE_URL at a long-running simulator) makes the local ledger persistent like the others.
 */
export interface LedgerLocation {
  readonly file: string;
  /** True for the per-process ledger of the embedded simulator; removed on close. */
  readonly temporary: boolean;
  readonly remove?: () => Promise<void>;
}

export async function chooseLedgerLocation(options: {
  readonly env: NodeJS.ProcessEnv;
  readonly environment: EnvironmentName;
  readonly embeddedSimulator: boolean;
  /** The policy's resolved path (QFPAY_AUDIT_LOG or the state-dir default). */
  readonly configuredPath: string;
}): Promise<LedgerLocation> {
  const explicit = isSet(options.env.QFPAY_AUDIT_LOG) || isSet(options.env.QFPAY_STATE_DIR);
  if (options.environment !== 'local' || !options.embeddedSimulator || explicit) {
    return { file: options.configuredPath, temporary: false };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'qfpay-mcp-ledger-'));
  return {
    file: path.join(dir, 'audit-local.jsonl'),
    temporary: true,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

function isSet(value: string | undefined): boolean {
  return (value ?? '').trim() !== '';
}
