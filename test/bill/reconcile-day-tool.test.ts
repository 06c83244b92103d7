/**
 * reconcile_day over a real MCP client: in local it reads the simulator's trade bill and says so;
 * a bill the simulator fails to deliver (a fault on its path) falls back to the query with a note;
 * a sandbox-configured server never asks for the bill (QFPay: production only), a production rehearsal
 * against the simulator does. The command line
 * prints the source.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { QfpayClient } from '../../src/qfpay/client.js';
import { formatQfpayDateTime } from '../../src/qfpay/time.js';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.js';
import { DEFAULT_SIMULATOR_CREDENTIAL } from '../../src/simulator/options.js';
import { randomCredential } from '../money-safety/helpers.js';
import { call, connect, type Connected, simulatorControl } from '../mcp/helpers.js';

const BILL = '/download/v1/trade_bill';
const today = formatQfpayDateTime().slice(0, 10);

async function payElsewhere(
  baseUrl: string,
  credentials: QfpayClient['merchant'] & { key: string },
): Promise<void> {
  const outside = new QfpayClient({ baseUrl, credentials });
  try {
    await outside.createPayment({
      pay_type: '800108',
      txamt: 999,
      txcurrcd: 'HKD',
      out_trade_no: `ELSEWHERE${Date.now()}`,
      auth_code: '134567890123450000',
    });
  } finally {
    await outside.destroy();
  }
}

describe('reconcile_day in local', () => {
  let agent: Connected;
  beforeAll(async () => {
    agent = await connect();
  });
  afterAll(async () => {
    await agent?.close();
  });

  it('reads the trade bill, and falls back to the query with a note when the bill fails', async () => {
    await call(agent.client, 'create_payment', {
      pay_type: '800101',
      txamt: 1500,
      txcurrcd: 'HKD',
      out_trade_no: 'BILLTOOL1',
    });
    await payElsewhere(agent.runtime.baseUrl, DEFAULT_SIMULATOR_CREDENTIAL);

    const byBill = await call(agent.client, 'reconcile_day', { date: today });
    expect(byBill.isError, byBill.text).toBe(false);
    expect(byBill.structured).toMatchObject({ source: 'trade_bill', ledger_actions: 1, matched: 1 });
    expect(byBill.structured['source_note']).toBeUndefined();
    expect(byBill.text).toMatch(/^Reconciled \d{4}-\d{2}-\d{2} from QFPay's trade bill:/);
    const differences = byBill.structured['differences'] as { kind: string }[];
    expect(differences.map((d) => d.kind)).toEqual(['missing_from_ledger']);

    await simulatorControl(agent.runtime.baseUrl, 'POST', '/__sim/faults', {
      kind: 'html_error',
      paths: [BILL],
      count: 5,
    });
    try {
      const byQuery = await call(agent.client, 'reconcile_day', { date: today });
      expect(byQuery.isError, byQuery.text).toBe(false);
      expect(byQuery.structured['source']).toBe('query');
      expect(byQuery.structured['source_note']).toMatch(/trade-bill download failed \(.*HTTP 502/);
      expect(byQuery.text).toContain("from QFPay's query API");
      expect(byQuery.text).toContain('The trade-bill download failed');
      expect(byQuery.structured['differences']).toEqual(byBill.structured['differences']);
    } finally {
      await simulatorControl(agent.runtime.baseUrl, 'DELETE', '/__sim/faults');
    }
  });

  it('prints the source from the command line', async () => {
    const { runReconcileCli } = await import('../../src/cli/reconcile.js');
    const out: string[] = [];
    const stateDir = await mkdtemp(path.join(tmpdir(), 'qfpay-bill-cli-'));
    try {
      const io = {
        out: (text: string) => out.push(text),
        err: () => undefined,
        env: { QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir, HOME: stateDir },
      };
      expect(await runReconcileCli(['--date', today], io)).toBe(0);
      expect(out.join('')).toMatch(/^Reconciled .* from QFPay's trade bill: 0 ledger action/);
      out.length = 0;
      expect(await runReconcileCli(['--date', today, '--json'], io)).toBe(0);
      expect(JSON.parse(out.join(''))).toMatchObject({ source: 'trade_bill', differences: [] });
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

describe('reconcile_day in sandbox', () => {
  let simulator: RunningSimulator;
  let stateDir: string;
  const credential = randomCredential();
  beforeAll(async () => {
    simulator = await startSimulator({ port: 0, credentials: [credential], quiet: true });
    stateDir = await mkdtemp(path.join(tmpdir(), 'qfpay-bill-sandbox-'));
  });
  afterAll(async () => {
    await simulator?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('reads the bill in a production rehearsal against the simulator', async () => {
    const agent = await connect({
      env: {
        QFPAY_ENV: 'prod',
        QFPAY_BASE_URL: simulator.baseUrl,
        QFPAY_APPCODE: credential.appcode,
        QFPAY_KEY: credential.key,
        QFPAY_MCHID: credential.mchid!,
        QFPAY_AUDIT_LOG: path.join(stateDir, 'audit-prod.jsonl'),
        HOME: stateDir,
      },
    });
    try {
      const answer = await call(agent.client, 'reconcile_day', { date: today });
      expect(answer.isError, answer.text).toBe(false);
      expect(answer.structured['source']).toBe('trade_bill');
      expect(simulator.control.requests().map((entry) => entry.path)).toContain(BILL);
    } finally {
      await agent.close();
    }
  });

  it('uses the query by range and never asks for the bill', async () => {
    const agent = await connect({
      env: {
        QFPAY_ENV: 'sandbox',
        QFPAY_BASE_URL: simulator.baseUrl,
        QFPAY_APPCODE: credential.appcode,
        QFPAY_KEY: credential.key,
        QFPAY_MCHID: credential.mchid!,
        QFPAY_AUDIT_LOG: path.join(stateDir, 'audit.jsonl'),
        HOME: stateDir,
      },
    });
    try {
      await payElsewhere(simulator.baseUrl, credential);
      const before = simulator.control.requests().length;
      const answer = await call(agent.client, 'reconcile_day', { date: today });
      expect(answer.isError, answer.text).toBe(false);
      expect(answer.structured['source']).toBe('query');
      expect(answer.structured['source_note']).toBeUndefined();
      expect(answer.text).toContain("from QFPay's query API");
      expect((answer.structured['differences'] as { kind: string }[]).map((d) => d.kind)).toEqual([
        'missing_from_ledger',
      ]);
      const paths = simulator.control
        .requests()
        .slice(before)
        .map((entry) => entry.path);
      expect(paths).toContain('/trade/v1/query');
      expect(paths).not.toContain(BILL);
    } finally {
      await agent.close();
    }
  });
});
