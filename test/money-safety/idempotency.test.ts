import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { verifyLedgerFile } from '../../src/safety/ledger.js';
import {
  call,
  CPM_AUTH_CODE,
  envFor,
  ledgerRecords,
  openSession,
  type Session,
  upstreamCount,
  useWitness,
} from './helpers.js';

/**
 * out_trade_no is the idempotency key: the same call again never pays again, a different call
 * with the same number is refused, and a lost answer is resolved by querying, never by re-sending.
 */

const PAYMENT = '/trade/v1/payment';

const witness = useWitness('idem');
afterEach(() => {
  witness.simulator.control.clearFaults();
});

const ledgerPath = (name: string) => path.join(witness.dir, name);
const testEnv = (ledger: string) => envFor('test', witness.simulator, witness.credential, ledgerPath(ledger));

describe('in one process', () => {
  let session: Session;
  beforeAll(async () => {
    session = await openSession({ env: testEnv('one.jsonl') });
  });
  afterAll(async () => {
    await session.close();
  });

  it('50 concurrent identical create_payment calls send ONE payment request and agree on the result', async () => {
    const before = upstreamCount(witness.simulator, PAYMENT);
    const args = { pay_type: '800101', txamt: 777, txcurrcd: 'HKD', out_trade_no: 'idem_concurrent_1' };
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call(session.client, 'create_payment', args)),
    );
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
    const syssns = new Set(answers.map((a) => a.structured.syssn));
    expect(syssns.size).toBe(1);
    for (const answer of answers) {
      expect(answer.isError).toBe(false);
      expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
      expect(answer.structured.out_trade_no).toBe('idem_concurrent_1');
      expect(answer.structured.qrcode).toBe(answers[0]!.structured.qrcode);
    }
    const intents = (await ledgerRecords(ledgerPath('one.jsonl'))).filter(
      (r) => r.step === 'intent' && r.out_trade_no === 'idem_concurrent_1',
    );
    expect(intents).toHaveLength(1);
  });

  it('the same out_trade_no with a different amount, currency or pay type is refused before anything is sent', async () => {
    const args = { pay_type: '800101', txamt: 500, txcurrcd: 'HKD', out_trade_no: 'idem_conflict_1' };
    const first = await call(session.client, 'create_payment', args);
    expect(first.structured.status).toBe('AWAITING_CUSTOMER');
    const before = witness.simulator.control.requests().length;
    for (const changed of [
      { ...args, txamt: 501 },
      { ...args, txcurrcd: 'USD' },
      { ...args, pay_type: '800201' },
      { ...args, goods_name: 'Different' },
    ]) {
      const answer = await call(session.client, 'create_payment', changed);
      expect(answer.isError).toBe(true);
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(answer.text).toMatch(/already used .* with different parameters/);
      expect(answer.structured.out_trade_no).toBe('idem_conflict_1');
    }
    expect(witness.simulator.control.requests().length).toBe(before);
  });

  it('a repeat returns the recorded order, refreshed by a query, without a second payment request', async () => {
    const args = { pay_type: '800101', txamt: 900, txcurrcd: 'HKD', out_trade_no: 'idem_refresh_1' };
    const created = await call(session.client, 'create_payment', args);
    expect(created.structured.status).toBe('AWAITING_CUSTOMER');
    witness.simulator.control.pay({ syssn: String(created.structured.syssn), outcome: 'pay' });
    const before = upstreamCount(witness.simulator, PAYMENT);
    const queries = upstreamCount(witness.simulator, '/trade/v1/query');
    const repeated = await call(session.client, 'create_payment', args);
    expect(repeated.isError).toBe(false);
    expect(repeated.structured.replayed).toBe(true);
    expect(repeated.structured.status).toBe('PAID');
    expect(repeated.structured.syssn).toBe(created.structured.syssn);
    expect(repeated.text).toMatch(/nothing was sent to QFPay again/);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
    expect(upstreamCount(witness.simulator, '/trade/v1/query')).toBeGreaterThan(queries);
    // What the query established is in the ledger too.
    const records = (await ledgerRecords(ledgerPath('one.jsonl'))).filter(
      (r) => r.out_trade_no === 'idem_refresh_1',
    );
    expect(records.map((r) => `${r.step}:${r.status}`)).toEqual([
      'intent:INTENDED',
      'outcome:AWAITING_CUSTOMER',
      'reconciled:PAID',
    ]);
  });

  it('a payment committed upstream whose answer was dropped ends PAID by query, with no second POST', async () => {
    witness.simulator.control.addFault({ kind: 'drop_after_commit', paths: [PAYMENT], count: 1 });
    const before = upstreamCount(witness.simulator, PAYMENT);
    const args = {
      pay_type: '800108',
      txamt: 1_234,
      txcurrcd: 'HKD',
      auth_code: CPM_AUTH_CODE,
      out_trade_no: 'idem_dropped_1',
    };
    const answer = await call(session.client, 'create_payment', args);
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('PAID');
    expect(answer.structured.reconciled).toBe(true);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
    const paid = witness.simulator.control.transactions().filter((t) => t.out_trade_no === 'idem_dropped_1');
    expect(paid).toHaveLength(1);

    const again = await call(session.client, 'create_payment', args);
    expect(again.structured.status).toBe('PAID');
    expect(again.structured.replayed).toBe(true);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);

    const records = (await ledgerRecords(ledgerPath('one.jsonl'))).filter(
      (r) => r.out_trade_no === 'idem_dropped_1',
    );
    expect(records.map((r) => `${r.step}:${r.status}`)).toEqual([
      'intent:INTENDED',
      'outcome:UNKNOWN',
      'reconciled:PAID',
    ]);
    expect(records[2]?.syssn).toBe(answer.structured.syssn);
  });

  it('a payment that never reached the books stays UNKNOWN and is never re-sent', async () => {
    witness.simulator.control.addFault({ kind: 'http5xx', paths: [PAYMENT], count: 1, status: 502 });
    const before = upstreamCount(witness.simulator, PAYMENT);
    const args = { pay_type: '800101', txamt: 600, txcurrcd: 'HKD', out_trade_no: 'idem_lost_1' };
    const answer = await call(session.client, 'create_payment', args);
    expect(answer.structured.status).toBe('UNKNOWN');
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'unknown_outcome' }));
    const again = await call(session.client, 'create_payment', args);
    expect(again.structured.status).toBe('UNKNOWN');
    expect(again.structured.replayed).toBe(true);
    expect(String(again.structured.next_action)).toMatch(/NEW out_trade_no/);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
  });

  it('a payment QFPay rate-limited was not processed: the same call goes through afterwards', async () => {
    witness.simulator.control.addFault({ kind: 'http429', paths: [PAYMENT], count: 2 });
    const args = { pay_type: '800101', txamt: 650, txcurrcd: 'HKD', out_trade_no: 'idem_429_1' };
    const limited = await call(session.client, 'create_payment', args);
    expect(limited.structured.error).toEqual(expect.objectContaining({ kind: 'rate_limited' }));
    const retried = await call(session.client, 'create_payment', args);
    expect(retried.isError).toBe(false);
    expect(retried.structured.status).toBe('AWAITING_CUSTOMER');
    expect(retried.structured.replayed).toBeUndefined();
  });

  it('the chain of everything above verifies', async () => {
    expect(await verifyLedgerFile(ledgerPath('one.jsonl'))).toMatchObject({ ok: true });
  });
});

describe('across restarts, through the ledger', () => {
  it('a new process replays what an earlier one sent and refuses a different call with the same number', async () => {
    const args = { pay_type: '800101', txamt: 1_500, txcurrcd: 'HKD', out_trade_no: 'idem_restart_1' };
    const first = await openSession({ env: testEnv('restart.jsonl') });
    let syssn: unknown;
    try {
      const created = await call(first.client, 'create_payment', args);
      expect(created.structured.status).toBe('AWAITING_CUSTOMER');
      syssn = created.structured.syssn;
    } finally {
      await first.close();
    }
    const second = await openSession({ env: testEnv('restart.jsonl') });
    try {
      const before = upstreamCount(witness.simulator, PAYMENT);
      const replayed = await call(second.client, 'create_payment', args);
      expect(replayed.isError).toBe(false);
      expect(replayed.structured.replayed).toBe(true);
      expect(replayed.structured.syssn).toBe(syssn);
      expect(replayed.structured.status).toBe('AWAITING_CUSTOMER');
      // The QR was in the first process's answer only: the agent is told so, not given a new order.
      expect(String(replayed.structured.next_action)).toMatch(/no longer holds the qrcode/);
      const conflicting = await call(second.client, 'create_payment', { ...args, txamt: 1_600 });
      expect(conflicting.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
    } finally {
      await second.close();
    }
  });
});
