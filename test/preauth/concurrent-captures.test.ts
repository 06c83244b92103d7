import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningSimulator, SimCredential } from '../../src/simulator/index.js';
import {
  call,
  CPM_AUTH_CODE,
  envFor,
  openSession,
  randomCredential,
  type Session,
  startWitness,
  tempDir,
  upstreamCount,
} from '../money-safety/helpers.js';
import { createTestDatabase, queryDatabase } from '../safety/postgres-helpers.js';
import { describeWithServices } from '../support/services.js';

/**
 * Concurrent captures of one pre-authorisation from two server instances that share the money
 * state (two embedded stores on one ledger file; two PostgreSQL stores on one database) never add
 * up to more than was authorised: 6 simultaneous captures of 40 % each, exactly 2 reach "QFPay".
 */

const AUTHTRADE = '/trade/v1/authtrade';
const UNFREEZE = '/trade/v1/unfreeze';

async function race(sessions: readonly Session[], simulator: RunningSimulator): Promise<void> {
  const [first] = sessions;
  const created = await call(first!.client, 'create_payment', {
    pay_type: '801801',
    txamt: 1_000,
    txcurrcd: 'HKD',
    auth_code: CPM_AUTH_CODE,
  });
  expect(created.structured.status, created.text).toBe('PAID');
  const syssn = String(created.structured.syssn);
  const before = upstreamCount(simulator, AUTHTRADE);

  const answers = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      call(sessions[i % sessions.length]!.client, 'capture_preauth', { syssn, txamt: 400 }),
    ),
  );
  const captured = answers.filter((a) => a.structured.status === 'PAID');
  const refused = answers.filter((a) => a.isError);
  expect(captured).toHaveLength(2);
  expect(refused).toHaveLength(4);
  for (const answer of refused) {
    expect(['validation', 'refused']).toContain((answer.structured.error as { kind: string }).kind);
    expect(answer.text).toMatch(/uncaptured remainder|Nothing is left/);
  }
  expect(upstreamCount(simulator, AUTHTRADE)).toBe(before + 2);
  const atQfpay = simulator.control
    .transactions()
    .filter((t) => t.orig_syssn === syssn)
    .reduce((sum, t) => sum + t.txamt, 0);
  expect(atQfpay).toBe(800);

  // The other instance releases the 200 left; then neither can capture.
  const release = await call(sessions[1]!.client, 'release_preauth', { syssn });
  expect(release.structured).toMatchObject({ status: 'CANCELLED', txamt: 200 });
  const late = await call(first!.client, 'capture_preauth', { syssn, txamt: 100 });
  expect(late.isError).toBe(true);
  expect(upstreamCount(simulator, AUTHTRADE)).toBe(before + 2);
  expect(upstreamCount(simulator, UNFREEZE)).toBeGreaterThanOrEqual(1);
}

describe('concurrent captures across two embedded-store instances', () => {
  let credential: SimCredential;
  let simulator: RunningSimulator;
  let dir: { dir: string; remove: () => Promise<void> };
  const sessions: Session[] = [];

  beforeAll(async () => {
    credential = randomCredential();
    simulator = await startWitness(credential);
    dir = await tempDir('preauth-race');
    const ledger = path.join(dir.dir, 'shared.jsonl');
    for (let i = 0; i < 2; i++)
      sessions.push(await openSession({ env: envFor('test', simulator, credential, ledger) }));
  });
  afterAll(async () => {
    for (const session of sessions) await session.close();
    await simulator.close();
    await dir.remove();
  });

  it('6 × 40 % of one authorisation: exactly 2 captures sent, the rest refused before QFPay', async () => {
    await race(sessions, simulator);
  });
});

describeWithServices(
  'concurrent captures across two PostgreSQL store instances',
  ['postgres'],
  ([serverUrl]) => {
    let credential: SimCredential;
    let simulator: RunningSimulator;
    let dir: { dir: string; remove: () => Promise<void> };
    let database: { url: string; drop: () => Promise<void> };
    const sessions: Session[] = [];

    beforeAll(async () => {
      credential = randomCredential();
      simulator = await startWitness(credential);
      dir = await tempDir('preauth-race-pg');
      database = await createTestDatabase(serverUrl!);
      for (let i = 0; i < 2; i++)
        sessions.push(
          await openSession({
            env: envFor('test', simulator, credential, path.join(dir.dir, `unused-${i}.jsonl`), {
              QFPAY_DATABASE_URL: database.url,
            }),
          }),
        );
    });
    afterAll(async () => {
      for (const session of sessions) await session.close();
      await simulator.close();
      await database.drop();
      await dir.remove();
    });

    it('6 × 40 % of one authorisation: exactly 2 captures sent, the rest refused before QFPay', async () => {
      await race(sessions, simulator);
      // The money state really is the database's: two capture intents and one release, no more.
      const kinds = await queryDatabase<{ kind: string; n: string }>(
        database.url,
        "SELECT kind, count(*) AS n FROM qfpay_intents WHERE kind IN ('capture', 'release') GROUP BY kind ORDER BY kind",
      );
      expect(kinds.map((row) => `${row.kind}:${row.n}`)).toEqual(['capture:2', 'release:1']);
    });
  },
);
