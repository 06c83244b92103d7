import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSimulatorCli, startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { formatQfpayDateTime } from '../../src/qfpay/time.js';
import { control, cpmPayment, customer, mpmPayment, qfOk, TXDTM, uniqueOrderNo } from './helpers.js';

/** Lasting rehearsals: `startSimulator({ stateFile })` and `qfpay-mcp simulator reset --state-file`. */

const dir = mkdtempSync(path.join(tmpdir(), 'qfpay-sim-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Each simulator's clock is put at tomorrow noon (Hong Kong), one second later per simulator: far
 * from the 23:30–00:30 HKT refund blackout a run at that hour of real time would meet, and ahead
 * of real time, so a simulator loading the file (its clock is real time while it loads) finds the
 * orders of the one before it still waiting, as they were left.
 */
const tomorrowNoon = Date.parse(
  `${formatQfpayDateTime(new Date(Date.now() + 24 * 3_600_000)).slice(0, 10)}T12:00:00+08:00`,
);
let simulatorsStarted = 0;

async function withSimulator<T>(stateFile: string, run: (sim: RunningSimulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator({ quiet: true, stateFile });
  try {
    const moment = new Date(tomorrowNoon + 1_000 * simulatorsStarted++).toISOString();
    const calm = await control(sim, 'POST', '/__sim/clock', { set: moment });
    expect(calm.status, JSON.stringify(calm.body)).toBe(200);
    return await run(sim);
  } finally {
    await sim.close();
  }
}

const queryRows = async (sim: RunningSimulator, selector: Record<string, string>) =>
  (await qfOk(sim, '/trade/v1/query', selector)).data ?? [];

describe('a state file', () => {
  it('lets a second simulator process see the orders and refunds of the first', async () => {
    const file = path.join(dir, 'two-runs.jsonl');
    const first = await withSimulator(file, async (sim) => {
      const paid = await qfOk(sim, '/trade/v1/payment', cpmPayment({ txamt: '1000' }));
      const refund = await qfOk(sim, '/trade/v1/refund', {
        syssn: paid.syssn!,
        txamt: '300',
        out_trade_no: uniqueOrderNo('R'),
        txdtm: TXDTM,
      });
      const waiting = await qfOk(sim, '/trade/v1/payment', mpmPayment());
      return { paid, refund, waiting };
    });

    const second = await withSimulator(file, async (sim) => {
      const rows = await queryRows(sim, { syssn: [first.paid.syssn, first.refund.syssn].join(',') });
      expect(rows.find((r) => r.syssn === first.paid.syssn)).toMatchObject({ respcd: '0000', cancel: '5' });
      expect(rows.find((r) => r.syssn === first.refund.syssn)).toMatchObject({
        order_type: 'refund',
        origssn: first.paid.syssn,
      });
      // The remainder is remembered: 700 left, not 1000.
      const tooMuch = await qfOk(sim, '/trade/v1/refund', {
        syssn: first.paid.syssn!,
        txamt: '701',
        out_trade_no: uniqueOrderNo('R'),
        txdtm: TXDTM,
      });
      expect(tooMuch.respcd).toBe('1272');
      // out_trade_no stays used across runs.
      const reused = await qfOk(
        sim,
        '/trade/v1/payment',
        cpmPayment({ out_trade_no: first.paid.out_trade_no! }),
      );
      expect(reused.respcd).toBe('1102');
      // The waiting order can still be paid, and that change is kept too.
      expect((await customer(sim, { syssn: first.waiting.syssn!, outcome: 'pay' })).status).toBe(200);
      return qfOk(sim, '/trade/v1/payment', cpmPayment());
    });

    await withSimulator(file, async (sim) => {
      const rows = await queryRows(sim, { syssn: [first.waiting.syssn, second.syssn].join(',') });
      expect(rows.map((r) => r.respcd)).toEqual(['0000', '0000']);
      expect(new Set(rows.map((r) => r.syssn)).size).toBe(2);
    });
  });

  it('survives a torn last line, refuses a damaged one, and starts empty when missing', async () => {
    const file = path.join(dir, 'torn.jsonl');
    const paid = await withSimulator(file, (sim) => qfOk(sim, '/trade/v1/payment', cpmPayment()));
    appendFileSync(file, '{"v":1,"t":{"syssn":"2026');
    await withSimulator(file, async (sim) => {
      expect(await queryRows(sim, { syssn: paid.syssn! })).toHaveLength(1);
    });
    // Loading rewrote the file compacted: the torn line is gone.
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);

    writeFileSync(file, `not json\n${readFileSync(file, 'utf8')}`);
    await expect(startSimulator({ quiet: true, stateFile: file })).rejects.toThrow(
      /line 1 is not a saved transaction.*simulator reset --state-file/,
    );

    await withSimulator(path.join(dir, 'missing', 'new.jsonl'), async (sim) => {
      expect((await qfOk(sim, '/trade/v1/payment', cpmPayment())).respcd).toBe('0000');
    });
  });

  it('is emptied by the control API reset and by `qfpay-mcp simulator reset --state-file`', async () => {
    const file = path.join(dir, 'reset.jsonl');
    await withSimulator(file, async (sim) => {
      await qfOk(sim, '/trade/v1/payment', cpmPayment());
      expect((await control(sim, 'POST', '/__sim/reset')).status).toBe(200);
    });
    expect(readFileSync(file, 'utf8')).toBe('');

    const paid = await withSimulator(file, (sim) => qfOk(sim, '/trade/v1/payment', cpmPayment()));
    const output: string[] = [];
    await runSimulatorCli(['reset', '--state-file', file], { out: (text) => output.push(text) });
    expect(output.join('')).toContain(`Simulator state cleared: ${file}`);
    await withSimulator(file, async (sim) => {
      expect(await queryRows(sim, { syssn: paid.syssn! })).toEqual([]);
    });
  });

  it('is optional: without it nothing is written', async () => {
    const sim = await startSimulator({ quiet: true });
    await qfOk(sim, '/trade/v1/payment', cpmPayment());
    await sim.close();
    await expect(startSimulator({ quiet: true, stateFile: ' ' })).rejects.toThrow(/stateFile/);
  });
});
