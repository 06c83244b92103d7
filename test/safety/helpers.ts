import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { IntentInput } from '../../src/safety/ledger.js';

/** A fresh directory under the OS temp dir, removed by the returned cleanup. */
export async function makeTempDir(label: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `qfpay-${label}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const MERCHANT = { appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F90', mchid: 'ZaMVg12345' } as const;

export function paymentIntent(overrides: Partial<IntentInput> = {}): IntentInput {
  const out_trade_no = overrides.out_trade_no ?? 'ORDER-1001';
  return {
    environment: 'sandbox',
    merchant: MERCHANT,
    tool: 'create_payment',
    kind: 'payment',
    out_trade_no,
    txamt: 1050,
    txcurrcd: 'HKD',
    params: { pay_type: '800101', txamt: 1050, txcurrcd: 'HKD', out_trade_no, goods_name: 'Coffee' },
    fingerprint: 'f'.repeat(64),
    ...overrides,
  };
}
