import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { AdmissionTotals, MoneyStore, WriteAdmission } from '../../src/safety/money-store.js';
import { EmbeddedMoneyStore } from '../../src/safety/stores/embedded.js';
import { openPostgresStore } from '../../src/safety/stores/postgres.js';
import { makeTempDir, paymentIntent } from '../safety/helpers.js';
import { createTestDatabase, SCOPE } from '../safety/postgres-helpers.js';
import { describeWithServices } from '../support/services.js';

/**
 * The store's side of pre-authorisation, the same in both stores: draws on one origin are counted
 * per kind (captures never mix with refunds), and a release that holds its key (sent, possibly
 * sent) is seen by every later capture admission, until its outcome says it was refused.
 */

const AUTH = 'SYS-AUTH-1';

function draw(
  kind: 'capture' | 'release' | 'refund',
  out_trade_no: string,
  txamt: number,
  seen: AdmissionTotals[],
): WriteAdmission {
  const fingerprint = `fp-${kind}-${out_trade_no}`;
  return {
    scope: SCOPE,
    key: kind === 'release' ? `release:${out_trade_no}` : `order:${out_trade_no}`,
    fingerprint,
    intent: paymentIntent({
      out_trade_no,
      txamt,
      fingerprint,
      kind,
      tool: kind === 'refund' ? 'refund' : `${kind}_preauth`,
      orig_syssn: AUTH,
    }),
    drawOn: { kind: kind === 'refund' ? 'refund' : 'capture', orig_syssn: AUTH, visible: [] },
    admit: (totals) => {
      seen.push(totals);
      return undefined;
    },
  };
}

function contract(open: () => Promise<MoneyStore>): void {
  it('counts captures and refunds of one origin apart, and sees a release until it is refused', async () => {
    const store = await open();
    const seen: AdmissionTotals[] = [];
    const first = await store.beginWrite(draw('capture', 'cap-1', 400, seen));
    expect(first.kind).toBe('claimed');
    await store.beginWrite(draw('refund', 'ref-1', 50, seen));
    expect(await store.unaccountedDraws(SCOPE, 'capture', AUTH, new Set())).toBe(400);
    expect(await store.unaccountedDraws(SCOPE, 'refund', AUTH, new Set())).toBe(50);
    expect(await store.unaccountedDraws(SCOPE, 'capture', AUTH, new Set(['cap-1']))).toBe(0);

    const release = await store.beginWrite(draw('release', 'auth-order-1', 600, seen));
    expect(release.kind).toBe('claimed');
    // A second release of the same authorisation is the same key: held, never claimed twice.
    expect((await store.beginWrite(draw('release', 'auth-order-1', 600, seen))).kind).toBe('held');

    await store.beginWrite(draw('capture', 'cap-2', 100, seen));
    expect(seen.at(-1)).toMatchObject({ released: true, unaccountedDraws: 400 });

    // QFPay refused the release: the key is free again and captures are no longer blocked.
    if (release.kind !== 'claimed') throw new Error('unreachable');
    await store.recordOutcome(release.intent.intent_id, { status: 'FAILED', respcd: '1152' });
    await store.beginWrite(draw('capture', 'cap-3', 100, seen));
    expect(seen.at(-1)).toMatchObject({ released: false });
    await store.close();
  });
}

describe('embedded store', () => {
  let dir: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir('preauth-draws');
  });
  afterAll(async () => {
    await dir.cleanup();
  });
  contract(() =>
    Promise.resolve(
      new EmbeddedMoneyStore(path.join(dir.dir, 'draws.jsonl'), { fsync: false, onWarning: () => undefined }),
    ),
  );
});

describeWithServices('PostgreSQL store', ['postgres'], ([serverUrl]) => {
  let database: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    database = await createTestDatabase(serverUrl!);
  });
  afterAll(async () => {
    await database.drop();
  });
  contract(() => openPostgresStore(database.url, {}));
});
