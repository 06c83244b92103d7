import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import {
  AuditLedger,
  hongKongDay,
  merchantFingerprint,
  movedNothing,
  verifyLedgerFile,
} from '../../src/safety/ledger.js';
import { EmbeddedMoneyStore } from '../../src/safety/stores/embedded.js';
import { MERCHANT, makeTempDir, paymentIntent } from '../safety/helpers.js';

/** The small pieces the guard adds on top of the safety primitives. */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function tempFile(name: string): Promise<string> {
  const { dir, cleanup } = await makeTempDir('prim');
  cleanups.push(cleanup);
  return path.join(dir, name);
}

describe('ledger additions', () => {
  it('an outcome QFPay never processed moves nothing, counts towards no cap, and keeps the chain intact', async () => {
    const file = await tempFile('audit.jsonl');
    const ledger = await AuditLedger.open(file, { fsync: false });
    try {
      const limited = await ledger.recordIntent(
        paymentIntent({ out_trade_no: 'P-1', approval: 'agent-token' }),
      );
      const outcome = await ledger.recordOutcome(limited.intent_id, { status: 'FAILED', processed: false });
      expect(outcome.processed).toBe(false);
      expect(limited.approval).toBe('agent-token');
      const sent = await ledger.recordIntent(paymentIntent({ out_trade_no: 'P-2' }));
      expect(movedNothing(outcome)).toBe(true);
      expect(movedNothing(undefined)).toBe(false);
      const scope = `sandbox|${merchantFingerprint(MERCHANT)}`;
      expect(ledger.state.dayTotal(scope, hongKongDay(new Date()), 'payment', 'HKD')).toBe(1050);
      expect(ledger.state.entriesFor(scope, 'order:P-2').map((e) => e.intent.seq)).toEqual([sent.seq]);
    } finally {
      await ledger.close();
    }
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 3 });
  });

  it('the embedded store creates no file until something is recorded', async () => {
    const file = await tempFile('lazy.jsonl');
    const store = new EmbeddedMoneyStore(file, { fsync: false });
    const scope = { environment: 'sandbox', merchant: merchantFingerprint(MERCHANT) };
    try {
      expect(await store.keyHolder(scope, 'order:X')).toBeUndefined();
      expect(await store.recent(5, scope)).toEqual([]);
      expect(await store.verify()).toEqual({ ok: true, records: 0 });
      await expect(verifyLedgerFile(file)).rejects.toThrow(/ENOENT/);
      const result = await store.beginWrite({
        scope,
        key: 'order:ORDER-1001',
        fingerprint: 'f'.repeat(64),
        intent: paymentIntent(),
        admit: () => undefined,
      });
      expect(result.kind).toBe('claimed');
    } finally {
      await store.close();
    }
    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: 1 });
  });
});
