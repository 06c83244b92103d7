import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { RunningSimulator, SimCredential } from '../../src/simulator/index.js';
import {
  call,
  CPM_AUTH_CODE,
  envFor,
  ledgerRecords,
  openSession,
  randomCredential,
  type Session,
  startWitness,
  tempDir,
  upstreamCount,
} from './helpers.js';

/**
 * Refunds never add up to more than was paid: not when they arrive at the same moment, not when
 * one of them has an unknown outcome, and a retried refund never refunds twice.
 */

const REFUND = '/trade/v1/refund';

let credential: SimCredential;
let simulator: RunningSimulator;
let dir: { dir: string; remove: () => Promise<void> };
let session: Session;

beforeAll(async () => {
  credential = randomCredential();
  simulator = await startWitness(credential);
  dir = await tempDir('refunds');
  session = await openSession({
    env: envFor('test', simulator, credential, path.join(dir.dir, 'refunds.jsonl')),
  });
});
afterAll(async () => {
  await session.close();
  await simulator.close();
  await dir.remove();
});
afterEach(() => {
  simulator.control.clearFaults();
});

async function paid(txamt: number): Promise<{ syssn: string; out_trade_no: string }> {
  const answer = await call(session.client, 'create_payment', {
    pay_type: '800108',
    txamt,
    txcurrcd: 'HKD',
    auth_code: CPM_AUTH_CODE,
  });
  expect(answer.structured.status).toBe('PAID');
  return { syssn: String(answer.structured.syssn), out_trade_no: String(answer.structured.out_trade_no) };
}

/** What the simulator's books say was refunded on the payment (the witness, not the server's view). */
function refundedOn(syssn: string): number {
  const payment = simulator.control.transactions().find((t) => t.syssn === syssn);
  if (!payment) throw new Error(`payment ${syssn} is not in the simulator`);
  return payment.refunded_amount;
}

describe('concurrent refunds of one payment', () => {
  it('eight simultaneous refunds of 300 on a 1000 payment: three are sent, five refused before QFPay', async () => {
    const payment = await paid(1_000);
    const before = upstreamCount(simulator, REFUND);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call(
          session.client,
          'refund',
          // Half identify the payment by syssn, half by its out_trade_no: the same lock applies.
          i % 2 === 0
            ? { syssn: payment.syssn, txamt: 300 }
            : { orig_out_trade_no: payment.out_trade_no, txamt: 300 },
        ),
      ),
    );
    const accepted = answers.filter((a) => !a.isError);
    const refused = answers.filter((a) => a.isError);
    expect(accepted).toHaveLength(3);
    expect(refused).toHaveLength(5);
    for (const answer of refused) {
      expect(answer.text).toMatch(/exceeds the refundable remainder HKD 1\.00|Nothing is left to refund/);
    }
    // The witness: exactly three refund requests reached QFPay, and 900 of 1000 was refunded.
    expect(upstreamCount(simulator, REFUND)).toBe(before + 3);
    expect(refundedOn(payment.syssn)).toBe(900);
  });

  it('whole-remainder refunds racing each other: exactly one goes through', async () => {
    const payment = await paid(800);
    const before = upstreamCount(simulator, REFUND);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => call(session.client, 'refund', { syssn: payment.syssn })),
    );
    expect(answers.filter((a) => !a.isError)).toHaveLength(1);
    expect(answers.find((a) => !a.isError)?.structured.status).toBe('REFUNDED');
    expect(upstreamCount(simulator, REFUND)).toBe(before + 1);
    expect(refundedOn(payment.syssn)).toBe(800);
  });
});

describe('refunds whose outcome is unknown', () => {
  it('count against the remainder until QFPay shows them', async () => {
    const payment = await paid(1_000);
    // QFPay answers 502 and does not book it: the server cannot know that, so it stays UNKNOWN.
    simulator.control.addFault({ kind: 'http5xx', paths: [REFUND], count: 1, status: 502 });
    const lost = await call(session.client, 'refund', { syssn: payment.syssn, txamt: 600 });
    expect(lost.structured.status).toBe('UNKNOWN');
    const before = upstreamCount(simulator, REFUND);
    const next = await call(session.client, 'refund', { syssn: payment.syssn, txamt: 500 });
    expect(next.isError).toBe(true);
    expect(next.text).toMatch(/exceeds the refundable remainder HKD 4\.00/);
    expect(upstreamCount(simulator, REFUND)).toBe(before);
    const within = await call(session.client, 'refund', { syssn: payment.syssn, txamt: 400 });
    expect(within.structured.status).toBe('PARTIALLY_REFUNDED');
  });
});

describe('a retried refund', () => {
  it('with the same out_trade_no is answered from its record and never refunded twice, even without txamt', async () => {
    const payment = await paid(1_500);
    const first = await call(session.client, 'refund', {
      syssn: payment.syssn,
      out_trade_no: 'refund_retry_1',
    });
    expect(first.structured.status).toBe('REFUNDED');
    expect(first.structured.txamt).toBe(1_500);
    const before = upstreamCount(simulator, REFUND);
    for (const retry of [
      { syssn: payment.syssn, out_trade_no: 'refund_retry_1' },
      { syssn: payment.syssn, out_trade_no: 'refund_retry_1', txamt: 1_500 },
      { orig_out_trade_no: payment.out_trade_no, out_trade_no: 'refund_retry_1' },
    ]) {
      const again = await call(session.client, 'refund', retry);
      expect(again.isError, JSON.stringify(retry)).toBe(false);
      expect(again.structured.replayed).toBe(true);
      expect(again.structured.status).toBe('REFUNDED');
      expect(again.structured.syssn).toBe(first.structured.syssn);
    }
    const different = await call(session.client, 'refund', {
      syssn: payment.syssn,
      out_trade_no: 'refund_retry_1',
      txamt: 100,
    });
    expect(different.isError).toBe(true);
    expect(different.text).toMatch(/different parameters/);
    expect(upstreamCount(simulator, REFUND)).toBe(before);
    expect(refundedOn(payment.syssn)).toBe(1_500);
  });

  it('whose answer was dropped after QFPay booked it is found by query, not sent again', async () => {
    const payment = await paid(1_000);
    simulator.control.addFault({ kind: 'drop_after_commit', paths: [REFUND], count: 1 });
    const before = upstreamCount(simulator, REFUND);
    const answer = await call(session.client, 'refund', {
      syssn: payment.syssn,
      txamt: 250,
      out_trade_no: 'refund_dropped_1',
    });
    expect(answer.structured.status).toBe('PARTIALLY_REFUNDED');
    expect(answer.structured.reconciled).toBe(true);
    expect(upstreamCount(simulator, REFUND)).toBe(before + 1);
    const records = (await ledgerRecords(path.join(dir.dir, 'refunds.jsonl'))).filter(
      (r) => r.out_trade_no === 'refund_dropped_1',
    );
    expect(records.map((r) => `${r.step}:${r.status}`)).toEqual([
      'intent:INTENDED',
      'outcome:UNKNOWN',
      'reconciled:REFUNDED',
    ]);
    expect(records[0]?.orig_syssn).toBe(payment.syssn);
  });
});
