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
 * One exception: an embedded simulator that forgets its orders on exit (an in-process runtime
 * created without `simulator.stateFile` or `lastingSimulator`) with neither QFPAY_AUDIT_LOG nor
 * QFPAY_STATE_DIR set gets a temporary ledger that lives and dies with the process: a lasting
 * ledger would refer to orders no simulator knows, so reconciliation on the next start could never
 * resolve them. The command line's embedded simulator keeps its orders in the state directory
 * (`lastingSimulator`), so its ledger lasts too, beside them: a rehearsal spans processes and
 * `qfpay-mcp audit list` shows it.
 */
export interface LedgerLocation {
  readonly file: string;
  /** True for the per-process ledger of an embedded simulator that forgets its orders; removed on close. */
  readonly temporary: boolean;
  readonly remove?: () => Promise<void>;
}

export async function chooseLedgerLocation(options: {
  readonly env: NodeJS.ProcessEnv;
  readonly environment: EnvironmentName;
  /** An embedded simulator that keeps no state file (its orders vanish with the process). */
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
