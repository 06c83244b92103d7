/**
 * reconcile_day against the simulator: the ledger of the day compared with QFPay's rows, over a
 * real MCP client. Orders made outside this server, and a QFPay that lost its books, show up.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { QfpayClient } from '../../src/qfpay/client.js';
import { formatQfpayDateTime } from '../../src/qfpay/time.js';
import { DEFAULT_SIMULATOR_CREDENTIAL } from '../../src/simulator/options.js';
import { call, connect, type Connected, setSimulatedNoon, simulatorControl } from './helpers.js';

let agent: Connected;
const today = formatQfpayDateTime().slice(0, 10);

beforeAll(async () => {
  agent = await connect();
  await setSimulatedNoon(agent.runtime.baseUrl, today);
});
afterAll(async () => {
  await agent?.close();
});

it('agrees with QFPay on what this server did, and lists what it did not do', async () => {
  const paid = await call(agent.client, 'create_payment', {
    pay_type: '800101',
    txamt: 1500,
    txcurrcd: 'HKD',
    out_trade_no: 'RECON0001',
  });
  await simulatorControl(agent.runtime.baseUrl, 'POST', '/__sim/pay', {
    out_trade_no: 'RECON0001',
    outcome: 'pay',
  });
  await call(agent.client, 'create_payment', {
    pay_type: '800101',
    txamt: 700,
    txcurrcd: 'HKD',
    out_trade_no: 'RECON0002',
  });
  const waited = await call(agent.client, 'wait_for_payment', {
    out_trade_no: 'RECON0001',
    timeout_seconds: 5,
  });
  expect(waited.structured['status']).toBe('PAID');
  const refund = await call(agent.client, 'refund', {
    syssn: paid.structured['syssn'] ?? waited.structured['syssn'],
    txamt: 500,
    out_trade_no: 'RECON0001R',
  });
  expect(refund.isError, refund.text).toBe(false);

  const clean = await call(agent.client, 'reconcile_day', { date: today });
  expect(clean.isError, clean.text).toBe(false);
  expect(clean.structured['differences']).toEqual([]);
  expect(clean.structured['ledger_actions']).toBe(3);
  expect(clean.structured['matched']).toBe(3);

  // A payment taken at QFPay by another system (a terminal, another integration).
  const outside = new QfpayClient({
    baseUrl: agent.runtime.baseUrl,
    credentials: DEFAULT_SIMULATOR_CREDENTIAL,
  });
  try {
    await outside.createPayment({
      pay_type: '800108',
      txamt: 999,
      txcurrcd: 'HKD',
      out_trade_no: 'ELSEWHERE1',
      auth_code: '134567890123450000',
    });
  } finally {
    await outside.destroy();
  }
  const withOutside = await call(agent.client, 'reconcile_day', { date: today });
  expect(withOutside.structured['differences']).toEqual([
    expect.objectContaining({
      kind: 'missing_from_ledger',
      out_trade_no: 'ELSEWHERE1',
      txamt: 999,
      qfpay_status: 'PAID',
    }),
  ]);
  expect(withOutside.text).toContain('ELSEWHERE1');

  // QFPay without the books this server wrote to: every action that moved money is listed.
  await simulatorControl(agent.runtime.baseUrl, 'POST', '/__sim/reset', {});
  const lost = await call(agent.client, 'reconcile_day', { date: today });
  const kinds = (lost.structured['differences'] as { kind: string; out_trade_no: string }[]).map(
    (d) => `${d.kind}:${d.out_trade_no}`,
  );
  expect(kinds.sort()).toEqual([
    'unknown_to_qfpay:RECON0001',
    'unknown_to_qfpay:RECON0001R',
    'unknown_to_qfpay:RECON0002',
  ]);
});

it('refuses a day that does not exist', async () => {
  const answer = await call(agent.client, 'reconcile_day', { date: '2026-02-30' });
  expect(answer.isError).toBe(true);
  expect(answer.text).toContain('date');
});

it('runs from the command line with the same answer', async () => {
  const { runReconcileCli } = await import('../../src/cli/reconcile.js');
  const out: string[] = [];
  const err: string[] = [];
  const stateDir = await mkdtemp(path.join(tmpdir(), 'qfpay-reconcile-cli-'));
  const io = {
    out: (text: string) => out.push(text),
    err: (text: string) => err.push(text),
    env: { QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir, HOME: stateDir },
  };
  const code = await runReconcileCli(['--date', today, '--json'], io);
  expect(err.join('')).not.toMatch(/Error/);
  expect(code).toBe(0);
  expect(JSON.parse(out.join(''))).toMatchObject({ day: today, differences: [] });
  expect(await runReconcileCli(['--date', 'yesterday'], io as never)).toBe(1);
  await rm(stateDir, { recursive: true, force: true });
});
