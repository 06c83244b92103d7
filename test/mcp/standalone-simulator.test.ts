import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { call, connect, type Connected } from './helpers.js';

/** `QFPAY_ENV=local QFPAY_BASE_URL=…` points the server at a simulator run with `qfpay-mcp simulator`. */
describe('local environment against a standalone simulator', () => {
  let simulator: RunningSimulator;
  let connected: Connected;

  beforeAll(async () => {
    simulator = await startSimulator({ port: 0, quiet: true });
    connected = await connect({ env: { QFPAY_ENV: 'local', QFPAY_BASE_URL: simulator.baseUrl } });
  });

  afterAll(async () => {
    await connected.close();
    await simulator.close();
  });

  it('uses the simulator at QFPAY_BASE_URL with its default credential when none is configured', async () => {
    expect(connected.runtime.baseUrl).toBe(simulator.baseUrl);
    const answer = await call(connected.client, 'create_payment', {
      pay_type: '800101',
      txamt: 1050,
      txcurrcd: 'HKD',
    });
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
    const payments = simulator.control.requests().filter((entry) => entry.path === '/trade/v1/payment');
    expect(payments).toHaveLength(1);
    expect(payments[0]?.http_status).toBe(200);
  });
});
