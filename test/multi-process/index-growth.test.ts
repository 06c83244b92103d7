import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { indexFile } from '../../src/safety/ledger-index.js';
import { AuditLedger, merchantFingerprint, verifyLedgerFile } from '../../src/safety/ledger.js';
import { assertFreshDist, ROOT } from '../support/dist.js';
import { makeTempDir } from '../safety/helpers.js';

/**
 * Real processes sharing one ledger and its on-disk index (ledger-index.ts), the table so small that
 * it is grown (rewritten and renamed over) eight times while the others have it open. Every
 * number is a correctness property: each shared key claimed exactly once, every record findable,
 * the chain intact.
 */

const WRITERS = 3;
const COUNT = 60;
const WRITER = path.join(ROOT, 'test', 'multi-process', 'index-writer.mjs');
const run = promisify(execFile);

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  assertFreshDist();
  ({ dir, cleanup } = await makeTempDir('index-growth'));
});

afterAll(async () => {
  await cleanup();
});

describe('ledger index shared by processes while it grows', () => {
  it(`${WRITERS} processes × ${COUNT} own payments and ${COUNT} contested keys: each key claimed once, all found`, async () => {
    const file = path.join(dir, 'audit.jsonl');
    const results = await Promise.all(
      Array.from({ length: WRITERS }, (_, w) =>
        run(process.execPath, [WRITER, file, `W${w}`, String(COUNT)]),
      ),
    );
    const claimed = results.map(({ stdout }) => (JSON.parse(stdout) as { claimed: number }).claimed);
    expect(claimed.reduce((sum, n) => sum + n, 0)).toBe(COUNT);

    expect(await verifyLedgerFile(file)).toEqual({ ok: true, records: WRITERS * COUNT * 2 + COUNT });
    // The writers really took turns (each switch: one appended right after another's step).
    const writers = (await readFile(file, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => /"out_trade_no":"(W\d)/.exec(line)?.[1])
      .filter(Boolean);
    const switches = writers.filter((writer, i) => i > 0 && writer !== writers[i - 1]).length;
    expect(switches).toBeGreaterThan(0);
    // Grown from 8 slots to stay at most half full: 3 slots per own payment (intent id, key, outcome), 2 per shared key.
    const slots = (await readFile(indexFile(file))).readUInt32LE(8);
    expect(slots).toBeGreaterThanOrEqual(2 * (WRITERS * COUNT * 3 + COUNT * 2));

    const ledger = await AuditLedger.open(file, { fsync: false, onWarning: () => undefined });
    try {
      const scope = `sandbox|${merchantFingerprint({ appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F90', mchid: 'ZaMVg12345' })}`;
      for (let i = 0; i < COUNT; i += 1) {
        expect(ledger.state.entriesFor(scope, `order:SHARED-${i}`)).toHaveLength(1);
        for (let w = 0; w < WRITERS; w += 1) {
          const [entry] = ledger.state.entriesFor(scope, `order:W${w}-${i}`);
          expect(entry?.latest?.status).toBe('PAID');
          expect(entry?.syssn).toBe(`W${w}-S-${i}`);
        }
      }
    } finally {
      await ledger.close();
    }
  });
});
