import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
} from '../money-safety/helpers.js';

/**
 * Pre-authorisation end to end through a real MCP client: authorise with create_payment, capture
 * in parts, release the rest once, refund a capture. Every refusal is checked against the
 * simulator's request log (the witness): nothing reached "QFPay".
 */

const AUTHTRADE = '/trade/v1/authtrade';
const UNFREEZE = '/trade/v1/unfreeze';
const REFUND = '/trade/v1/refund';
const DAY_MS = 24 * 60 * 60 * 1000;

let credential: SimCredential;
let simulator: RunningSimulator;
let dir: { dir: string; remove: () => Promise<void> };
let ledgerFile: string;
let session: Session;

beforeAll(async () => {
  credential = randomCredential();
  simulator = await startWitness(credential);
  dir = await tempDir('preauth');
  ledgerFile = path.join(dir.dir, 'preauth.jsonl');
  session = await openSession({ env: envFor('test', simulator, credential, ledgerFile) });
});
afterAll(async () => {
  await session.close();
  await simulator.close();
  await dir.remove();
});

async function authorise(txamt: number): Promise<{ syssn: string; out_trade_no: string }> {
  const answer = await call(session.client, 'create_payment', {
    pay_type: '801801',
    txamt,
    txcurrcd: 'HKD',
    auth_code: CPM_AUTH_CODE,
  });
  expect(answer.structured.status, answer.text).toBe('PAID');
  return { syssn: String(answer.structured.syssn), out_trade_no: String(answer.structured.out_trade_no) };
}

/** What the simulator's books say was captured (the witness, not the server's view). */
function capturedOn(syssn: string): number {
  return simulator.control
    .transactions()
    .filter((t) => t.orig_syssn === syssn && t.order_type === 'payment')
    .reduce((sum, t) => sum + t.txamt, 0);
}

describe('capture_preauth and release_preauth', () => {
  it('authorise → capture part → over-capture refused → capture rest → release refused → refund a capture', async () => {
    const auth = await authorise(1_000);
    const sent = upstreamCount(simulator, AUTHTRADE);

    const part = await call(session.client, 'capture_preauth', { syssn: auth.syssn, txamt: 400 });
    expect(part.isError, part.text).toBe(false);
    expect(part.structured).toMatchObject({ status: 'PAID', txamt: 400, capturable_txamt: 600 });
    expect(part.structured.syssn).not.toBe(auth.syssn);

    const over = await call(session.client, 'capture_preauth', { syssn: auth.syssn, txamt: 601 });
    expect(over.isError).toBe(true);
    expect(over.structured.error).toMatchObject({ kind: 'validation', field: 'txamt' });
    expect(over.text).toMatch(/exceeds the uncaptured remainder HKD 6\.00/);
    expect(upstreamCount(simulator, AUTHTRADE)).toBe(sent + 1);

    const rest = await call(session.client, 'capture_preauth', { syssn: auth.syssn });
    expect(rest.structured).toMatchObject({ status: 'PAID', txamt: 600, capturable_txamt: 0 });
    expect(capturedOn(auth.syssn)).toBe(1_000);

    const releases = upstreamCount(simulator, UNFREEZE);
    const release = await call(session.client, 'release_preauth', { syssn: auth.syssn });
    expect(release.isError).toBe(true);
    expect(release.structured.error).toMatchObject({ kind: 'refused' });
    expect(release.text).toMatch(/finished/);
    const again = await call(session.client, 'capture_preauth', { syssn: auth.syssn, txamt: 1 });
    expect(again.isError).toBe(true);
    expect(upstreamCount(simulator, UNFREEZE)).toBe(releases);
    expect(upstreamCount(simulator, AUTHTRADE)).toBe(sent + 2);

    // Refunds name the capture, never the authorisation.
    const refunds = upstreamCount(simulator, REFUND);
    const ofAuthorisation = await call(session.client, 'refund', { syssn: auth.syssn, txamt: 100 });
    expect(ofAuthorisation.isError).toBe(true);
    expect(ofAuthorisation.text).toMatch(/is a pre-authorisation/);
    expect(upstreamCount(simulator, REFUND)).toBe(refunds);
    const refund = await call(session.client, 'refund', { syssn: String(part.structured.syssn), txamt: 150 });
    expect(refund.structured).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundable_txamt: 250 });
    expect(upstreamCount(simulator, REFUND)).toBe(refunds + 1);
  });

  it('release frees the remainder once: a capture afterwards and a repeated release send nothing', async () => {
    const auth = await authorise(1_000);
    await call(session.client, 'capture_preauth', { syssn: auth.syssn, txamt: 300 });
    const releases = upstreamCount(simulator, UNFREEZE);
    const captures = upstreamCount(simulator, AUTHTRADE);

    const release = await call(session.client, 'release_preauth', { syssn: auth.syssn });
    expect(release.isError, release.text).toBe(false);
    expect(release.structured).toMatchObject({ status: 'CANCELLED', txamt: 700, capturable_txamt: 0 });
    expect(upstreamCount(simulator, UNFREEZE)).toBe(releases + 1);

    const after = await call(session.client, 'capture_preauth', { syssn: auth.syssn, txamt: 100 });
    expect(after.isError).toBe(true);
    expect(after.structured.error).toMatchObject({ kind: 'refused' });
    expect(upstreamCount(simulator, AUTHTRADE)).toBe(captures);

    const twice = await call(session.client, 'release_preauth', { syssn: auth.syssn });
    expect(twice.isError, twice.text).toBe(false);
    expect(twice.structured).toMatchObject({ replayed: true, status: 'CANCELLED', txamt: 700 });
    expect(twice.text).toMatch(/nothing was sent to QFPay again/);
    expect(upstreamCount(simulator, UNFREEZE)).toBe(releases + 1);
    expect(capturedOn(auth.syssn)).toBe(300);
  });

  it('a repeated capture with the same out_trade_no replays and captures once', async () => {
    const auth = await authorise(800);
    const captures = upstreamCount(simulator, AUTHTRADE);
    const first = await call(session.client, 'capture_preauth', {
      syssn: auth.syssn,
      txamt: 200,
      out_trade_no: 'pa_retry_capture_1',
    });
    expect(first.structured.status).toBe('PAID');
    const second = await call(session.client, 'capture_preauth', {
      syssn: auth.syssn,
      txamt: 200,
      out_trade_no: 'pa_retry_capture_1',
    });
    expect(second.structured).toMatchObject({
      replayed: true,
      status: 'PAID',
      syssn: first.structured.syssn,
    });
    // Without txamt the retry means the amount it was first resolved to, not the new remainder.
    const third = await call(session.client, 'capture_preauth', {
      syssn: auth.syssn,
      out_trade_no: 'pa_retry_capture_1',
    });
    expect(third.structured).toMatchObject({ replayed: true, txamt: 200 });
    const conflicting = await call(session.client, 'capture_preauth', {
      syssn: auth.syssn,
      txamt: 300,
      out_trade_no: 'pa_retry_capture_1',
    });
    expect(conflicting.isError).toBe(true);
    expect(upstreamCount(simulator, AUTHTRADE)).toBe(captures + 1);
    expect(capturedOn(auth.syssn)).toBe(200);
  });

  it('authorises by QR (801808): the customer approves, wait_for_payment says it is held, then capture', async () => {
    const created = await call(session.client, 'create_payment', {
      pay_type: '801808',
      txamt: 700,
      txcurrcd: 'HKD',
    });
    expect(created.structured).toMatchObject({ status: 'AWAITING_CUSTOMER', mode: 'PREAUTH' });
    expect(String(created.structured.qrcode)).toMatch(/^https:\/\/qr\.alipay\.com\//);
    const syssn = String(created.structured.syssn);
    simulator.control.pay({ syssn, outcome: 'pay' });
    const waited = await call(session.client, 'wait_for_payment', { syssn, timeout_seconds: 5 });
    expect(waited.structured.status).toBe('PAID');
    expect(String(waited.structured.next_action)).toMatch(
      /Authorised: the amount is held, not taken\. capture_preauth/,
    );
    const capture = await call(session.client, 'capture_preauth', { syssn });
    expect(capture.structured).toMatchObject({ status: 'PAID', txamt: 700, capturable_txamt: 0 });
    expect(capturedOn(syssn)).toBe(700);
  });

  it('says an authorisation by scanned code is held, not taken', async () => {
    const created = await call(session.client, 'create_payment', {
      pay_type: '801801',
      txamt: 300,
      txcurrcd: 'HKD',
      auth_code: CPM_AUTH_CODE,
    });
    expect(created.structured.status).toBe('PAID');
    expect(String(created.structured.next_action)).toMatch(/^Authorised: the amount is held, not taken/);
    // A successful answer carries no respcd_explanation (results said once); the next action says it.
    expect(created.structured.respcd_explanation).toBeUndefined();
  });

  it('refuses a capture of an ordinary payment, or of a capture, before sending', async () => {
    const payment = await call(session.client, 'create_payment', {
      pay_type: '800108',
      txamt: 500,
      txcurrcd: 'HKD',
      auth_code: CPM_AUTH_CODE,
    });
    const auth = await authorise(500);
    const capture = await call(session.client, 'capture_preauth', { syssn: auth.syssn, txamt: 100 });
    const captures = upstreamCount(simulator, AUTHTRADE);
    const ordinary = await call(session.client, 'capture_preauth', {
      syssn: String(payment.structured.syssn),
    });
    expect(ordinary.structured.error).toMatchObject({ kind: 'validation', field: 'syssn' });
    expect(ordinary.text).toMatch(/not a pre-authorisation/);
    const ofCapture = await call(session.client, 'capture_preauth', {
      syssn: String(capture.structured.syssn),
    });
    expect(ofCapture.text).toMatch(new RegExp(`capture of pre-authorisation ${auth.syssn}`));
    expect(upstreamCount(simulator, AUTHTRADE)).toBe(captures);
  });

  it('records capture and release intents and outcomes in the audit ledger', async () => {
    const auth = await authorise(600);
    await call(session.client, 'capture_preauth', { syssn: auth.syssn, txamt: 100 });
    await call(session.client, 'release_preauth', { syssn: auth.syssn });
    const records = (await ledgerRecords(ledgerFile)).filter((r) => r.orig_syssn === auth.syssn);
    expect(records.map((r) => `${r.kind}:${r.step}:${r.status}`)).toEqual([
      'capture:intent:INTENDED',
      'capture:outcome:PAID',
      'release:intent:INTENDED',
      'release:outcome:CANCELLED',
    ]);
    expect(records[2]).toMatchObject({
      tool: 'release_preauth',
      out_trade_no: auth.out_trade_no,
      txamt: 500,
    });
  });

  it('a capture past the capture window is refused before sending (the query shows it finished)', async () => {
    const auth = await authorise(1_000);
    const captures = upstreamCount(simulator, AUTHTRADE);
    simulator.control.setClock({ advanceMs: 8 * DAY_MS });
    try {
      const late = await call(session.client, 'capture_preauth', { syssn: auth.syssn, txamt: 100 });
      expect(late.isError).toBe(true);
      expect(late.text).toMatch(/capture window passed/);
      expect(upstreamCount(simulator, AUTHTRADE)).toBe(captures);
    } finally {
      simulator.control.setClock({ set: '2026-03-16 12:00:00' });
    }
  });
});

describe('confirmation applies to captures and releases', () => {
  it('QFPAY_CONFIRM=always: CONFIRMATION_REQUIRED first (nothing sent), then the approved token captures once', async () => {
    const confirming = await openSession({
      env: envFor('test', simulator, credential, path.join(dir.dir, 'confirm.jsonl'), {
        QFPAY_CONFIRM: 'always',
      }),
    });
    try {
      const created = await call(confirming.client, 'create_payment', {
        pay_type: '801801',
        txamt: 500,
        txcurrcd: 'HKD',
        auth_code: CPM_AUTH_CODE,
      });
      const authorisation = await call(confirming.client, 'create_payment', {
        pay_type: '801801',
        txamt: 500,
        txcurrcd: 'HKD',
        auth_code: CPM_AUTH_CODE,
        out_trade_no: String(created.structured.out_trade_no),
        confirmation_token: String(created.structured.confirmation_token),
      });
      const syssn = String(authorisation.structured.syssn);
      const captures = upstreamCount(simulator, AUTHTRADE);
      const asked = await call(confirming.client, 'capture_preauth', { syssn, txamt: 200 });
      expect(asked.structured.status).toBe('CONFIRMATION_REQUIRED');
      expect(String(asked.structured.confirmation_summary)).toMatch(
        /Capture HKD 2\.00 .* of pre-authorisation/,
      );
      expect(upstreamCount(simulator, AUTHTRADE)).toBe(captures);
      const approved = await call(confirming.client, 'capture_preauth', {
        syssn,
        txamt: 200,
        out_trade_no: String(asked.structured.out_trade_no),
        confirmation_token: String(asked.structured.confirmation_token),
      });
      expect(approved.structured.status, approved.text).toBe('PAID');
      expect(upstreamCount(simulator, AUTHTRADE)).toBe(captures + 1);
    } finally {
      await confirming.close();
    }
  });
});
