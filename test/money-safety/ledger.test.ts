import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import type { WriteIntent } from '../../src/safety/guard.js';
import { AuditLedger, verifyLedgerFile } from '../../src/safety/ledger.js';
import { createRuntime } from '../../src/mcp/runtime.js';
import { maskAuthCode } from '../../src/safety/sanitize.js';
import { intentFingerprint } from '../../src/safety/safe-guard.js';
import { QfpayClient } from '../../src/qfpay/client.js';
import {
  call,
  CPM_AUTH_CODE,
  envFor,
  ledgerRecords,
  openSession,
  upstreamCount,
  useWitness,
} from './helpers.js';

/**
 * The audit ledger as the server uses it: an intent before every money-moving request (none sent
 * when it cannot be written), the outcome after, a verifiable chain, no secrets, and recovery of
 * a crash between intent and outcome by query on the next start.
 */

const PAYMENT = '/trade/v1/payment';

const witness = useWitness('ledger');

const file = (name: string) => path.join(witness.dir, name);
const env = (name: string) => envFor('test', witness.simulator, witness.credential, file(name));

describe('a full flow', () => {
  it('writes intent then outcome for each money movement, masks codes and keeps no secret; the chain verifies', async () => {
    const session = await openSession({ env: env('flow.jsonl') });
    const moneyRequests = () =>
      witness.simulator.control.requests().filter((r) => r.path !== '/trade/v1/query').length;
    const before = moneyRequests();
    try {
      const cpm = await call(session.client, 'create_payment', {
        pay_type: '800108',
        txamt: 2_000,
        txcurrcd: 'HKD',
        auth_code: CPM_AUTH_CODE,
        goods_name: 'Flat white',
      });
      await call(session.client, 'refund', { syssn: cpm.structured.syssn, txamt: 500 });
      const mpm = await call(session.client, 'create_payment', {
        pay_type: '800201',
        txamt: 300,
        txcurrcd: 'HKD',
      });
      await call(session.client, 'cancel_payment', { syssn: mpm.structured.syssn });

      const records = await ledgerRecords(file('flow.jsonl'));
      const intents = records.filter((r) => r.step === 'intent');
      // One intent per money-moving request that reached QFPay, each followed by its outcome.
      expect(intents.map((r) => r.tool)).toEqual([
        'create_payment',
        'refund',
        'create_payment',
        'cancel_payment',
      ]);
      expect(moneyRequests() - before).toBe(intents.length);
      for (const intent of intents) {
        const outcome = records.find((r) => r.step === 'outcome' && r.intent_id === intent.intent_id);
        expect(outcome, intent.tool).toBeDefined();
        expect(outcome!.seq).toBeGreaterThan(intent.seq);
      }
      expect(records.filter((r) => r.step === 'outcome').map((r) => r.status)).toEqual([
        'PAID',
        'REFUNDED',
        'AWAITING_CUSTOMER',
        'CANCELLED',
      ]);
      expect(intents[0]?.params?.auth_code).toBe('**************0001');
      expect(intents[1]?.orig_syssn).toBe(cpm.structured.syssn);
      const raw = JSON.stringify(records);
      expect(raw).not.toContain(CPM_AUTH_CODE);
      expect(raw).not.toContain(witness.credential.key);
      expect(raw).not.toContain(witness.credential.appcode);
      expect(await verifyLedgerFile(file('flow.jsonl'))).toEqual({ ok: true, records: records.length });

      // The agent can read what it did.
      const resource = await session.client.readResource({ uri: 'qfpay://audit/recent' });
      const text = (resource.contents[0] as { text: string }).text;
      const audit = JSON.parse(text) as { environment: string; records: { tool: string; step: string }[] };
      expect(audit.environment).toBe('test');
      expect(audit.records).toHaveLength(records.length);
      expect(audit.records[0]).toMatchObject({ tool: 'cancel_payment', step: 'outcome' });
      expect(text).not.toContain(CPM_AUTH_CODE);
      expect(text).not.toContain(witness.credential.key);
    } finally {
      await session.close();
    }
  });
});

describe('fail closed', () => {
  it('when the ledger cannot be written, nothing is sent and the call is an error; reads still work', async () => {
    const blocker = file('not-a-directory');
    await writeFile(blocker, 'x');
    const session = await openSession({ env: env('not-a-directory/audit.jsonl') });
    try {
      const before = upstreamCount(witness.simulator, PAYMENT);
      const answer = await call(session.client, 'create_payment', {
        pay_type: '800101',
        txamt: 100,
        txcurrcd: 'HKD',
      });
      expect(answer.isError).toBe(true);
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(answer.text).toMatch(/audit ledger .* not sent to QFPay/);
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
      const query = await call(session.client, 'query_transaction', { out_trade_no: 'still_readable_1' });
      expect(query.isError).toBe(false);
    } finally {
      await session.close();
    }
  });

  it('when the ledger file disappears while the server runs, the next payment is refused and not sent', async () => {
    const session = await openSession({ env: env('vanishing.jsonl') });
    try {
      const first = await call(session.client, 'create_payment', {
        pay_type: '800101',
        txamt: 100,
        txcurrcd: 'HKD',
      });
      expect(first.structured.status).toBe('AWAITING_CUSTOMER');
      await rm(file('vanishing.jsonl'));
      const before = upstreamCount(witness.simulator, PAYMENT);
      const second = await call(session.client, 'create_payment', {
        pay_type: '800101',
        txamt: 100,
        txcurrcd: 'HKD',
      });
      expect(second.isError).toBe(true);
      expect(second.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
    } finally {
      await session.close();
    }
  });

  it('a server that only reads leaves no ledger file behind', async () => {
    const session = await openSession({ env: env('untouched.jsonl') });
    try {
      await call(session.client, 'query_transaction', { out_trade_no: 'nothing_1' });
      await call(session.client, 'create_payment', { pay_type: '999999', txamt: 100, txcurrcd: 'HKD' });
    } finally {
      await session.close();
    }
    await expect(verifyLedgerFile(file('untouched.jsonl'))).rejects.toThrow(/ENOENT/);
  });
});

describe('a crash between intent and outcome', () => {
  it('is reconciled by query on the next start, and the same call then replays without a new POST', async () => {
    const ledgerFile = file('crash.jsonl');
    const outTradeNo = 'crash_between_1';
    // The payment reached QFPay…
    const client = new QfpayClient({ baseUrl: witness.simulator.baseUrl, credentials: witness.credential });
    try {
      const sent = await client.createPayment({
        pay_type: '800108',
        txamt: 4_200,
        txcurrcd: 'HKD',
        out_trade_no: outTradeNo,
        auth_code: CPM_AUTH_CODE,
      });
      expect(sent.respcd).toBe('0000');
    } finally {
      await client.destroy();
    }
    // …and the process died after writing its intent, before the outcome.
    const intent: WriteIntent = {
      tool: 'create_payment',
      environment: 'test',
      merchant: { appcode: witness.credential.appcode, mchid: witness.credential.mchid! },
      params: {
        pay_type: '800108',
        txamt: 4_200,
        txcurrcd: 'HKD',
        out_trade_no: outTradeNo,
        // What create_payment binds for this auth code: masked, plus its digest.
        auth_code: maskAuthCode(CPM_AUTH_CODE),
        auth_code_sha256: createHash('sha256').update(CPM_AUTH_CODE).digest('hex'),
      },
      out_trade_no: outTradeNo,
      txamt: 4_200,
      txcurrcd: 'HKD',
      summary: 'test',
    };
    const crashed = await AuditLedger.open(ledgerFile);
    await crashed.recordIntent({
      environment: 'test',
      merchant: intent.merchant,
      tool: 'create_payment',
      kind: 'payment',
      params: intent.params,
      out_trade_no: outTradeNo,
      txamt: 4_200,
      txcurrcd: 'HKD',
      fingerprint: intentFingerprint(intent),
    });
    await crashed.close();

    const payments = upstreamCount(witness.simulator, PAYMENT);
    const logs: string[] = [];
    const runtime = await createRuntime({ env: env('crash.jsonl'), log: (line) => logs.push(line) });
    try {
      // Reconciliation runs in the background, off the initialize path.
      expect(await runtime.startupReconciliation).toEqual({ unfinished: 1, resolved: 1, stillOpen: 0 });
      const records = (await ledgerRecords(ledgerFile)).filter((r) => r.out_trade_no === outTradeNo);
      expect(records.map((r) => `${r.step}:${r.status}`)).toEqual(['intent:INTENDED', 'reconciled:PAID']);
      expect(records[1]?.syssn).toEqual(expect.any(String));
      expect(logs.some((line) => /1 unfinished money-moving action.*1 now final by query/.test(line))).toBe(
        true,
      );
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(payments);
    } finally {
      await runtime.close();
    }
    // A second start finds nothing left to do, and the interrupted call, repeated, is not re-sent.
    const again = await openSession({ env: env('crash.jsonl') });
    try {
      expect(again.logs.some((line) => /unfinished/.test(line))).toBe(false);
      const repeated = await call(again.client, 'create_payment', {
        pay_type: '800108',
        txamt: 4_200,
        txcurrcd: 'HKD',
        out_trade_no: outTradeNo,
        auth_code: CPM_AUTH_CODE,
      });
      expect(repeated.isError).toBe(false);
      expect(repeated.structured.replayed).toBe(true);
      expect(repeated.structured.status).toBe('PAID');
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(payments);
    } finally {
      await again.close();
    }
    expect(await verifyLedgerFile(ledgerFile)).toMatchObject({ ok: true });
  });
});
