import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { QfpayClient } from '../../src/qfpay/client.js';
import { QfpayUpstreamError } from '../../src/qfpay/errors.js';
import { statusOfRecord } from '../../src/qfpay/outcome.js';
import { signRawBody } from '../../src/qfpay/signature.js';
import { type RunningSimulator, type SimCredential, startSimulator } from '../../src/simulator/index.js';
import { CPM_AUTH_CODE, randomCredential } from '../money-safety/helpers.js';

/**
 * The simulator's pre-authorisation over real HTTP with the real client: captures up to the
 * authorised total, release once, QFPay-shaped refusals (1151/1152/1153), the capture window on
 * the simulated clock, and refunds of captures (never of the authorisation).
 */

const NOON = '2026-03-16 12:00:00';
const DAY_MS = 24 * 60 * 60 * 1000;

interface Fixture {
  readonly simulator: RunningSimulator;
  readonly client: QfpayClient;
  close(): Promise<void>;
}

async function fixture(options: { preauthCaptureWindowDays?: number } = {}): Promise<Fixture> {
  const credential: SimCredential = randomCredential();
  const simulator = await startSimulator({ port: 0, credentials: [credential], quiet: true, ...options });
  simulator.control.setClock({ set: NOON });
  const client = new QfpayClient({
    baseUrl: simulator.baseUrl,
    credentials: { appcode: credential.appcode, key: credential.key, mchid: credential.mchid! },
    timeoutMs: 5_000,
  });
  return {
    simulator,
    client,
    async close() {
      await client.destroy();
      await simulator.close();
    },
  };
}

let seq = 0;
function ref(label: string): string {
  seq += 1;
  return `pa${label}${Date.now()}${seq}`;
}

/** An authorisation by scanned customer code (801801): authorised at once. */
async function authorise(client: QfpayClient, txamt: number) {
  const answer = await client.createPayment({
    pay_type: '801801',
    txamt,
    txcurrcd: 'HKD',
    out_trade_no: ref('auth'),
    auth_code: CPM_AUTH_CODE,
  });
  expect(answer.respcd).toBe('0000');
  return { syssn: answer.syssn!, out_trade_no: answer.out_trade_no };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(QfpayUpstreamError);
  return (error as QfpayUpstreamError).respcd;
}

describe('simulator pre-authorisation', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture();
  });
  afterAll(async () => {
    await f.close();
  });

  it('captures in parts up to the authorised total, then shows the authorisation finished (cancel 4)', async () => {
    const auth = await authorise(f.client, 1_000);
    const first = await f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 400 });
    expect(first).toMatchObject({ respcd: '0000', orig_syssn: auth.syssn, txamt: 400 });
    expect(first.syssn).not.toBe(auth.syssn);
    expect(
      await refusal(f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 601 })),
    ).toBe('1153');
    const rest = await f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 600 });
    expect(rest.respcd).toBe('0000');
    expect(
      await refusal(f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 1 })),
    ).toBe('1152');
    expect(
      await refusal(
        f.client.releasePreauth({ syssn: auth.syssn, out_trade_no: auth.out_trade_no, txamt: 0 + 1 }),
      ),
    ).toBe('1152');

    const [row] = (await f.client.query({ syssn: [auth.syssn] })).data;
    expect(row).toMatchObject({ respcd: '0000', cancel: '4' });
    const captures = await f.client.findCaptures(row!);
    expect(captures.map((c) => c.txamt).sort()).toEqual([400, 600]);
    expect(captures.every((c) => c.origssn === auth.syssn && c.order_type === 'payment')).toBe(true);
    expect(captures.map((c) => statusOfRecord(c))).toEqual(['PAID', 'PAID']);
  });

  it('releases the rest once; afterwards no capture and no second release', async () => {
    const auth = await authorise(f.client, 1_000);
    await f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 250 });
    expect(
      await refusal(f.client.releasePreauth({ syssn: auth.syssn, out_trade_no: ref('x'), txamt: 750 })),
    ).toBe('1151');
    expect(
      await refusal(
        f.client.releasePreauth({ syssn: auth.syssn, out_trade_no: auth.out_trade_no, txamt: 700 }),
      ),
    ).toBe('1151');
    const released = await f.client.releasePreauth({
      syssn: auth.syssn,
      out_trade_no: auth.out_trade_no,
      txamt: 750,
    });
    expect(released).toMatchObject({
      respcd: '0000',
      orig_syssn: auth.syssn,
      txamt: 750,
      respmsg: 'Void received',
    });
    expect(
      await refusal(
        f.client.releasePreauth({ syssn: auth.syssn, out_trade_no: auth.out_trade_no, txamt: 750 }),
      ),
    ).toBe('1152');
    expect(
      await refusal(f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 1 })),
    ).toBe('1152');
  });

  it('refunds a capture by its own syssn and refuses to refund the authorisation', async () => {
    const auth = await authorise(f.client, 1_000);
    const capture = await f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 500 });
    expect(await refusal(f.client.refund({ syssn: auth.syssn, out_trade_no: ref('r'), txamt: 100 }))).toBe(
      '1155',
    );
    const refund = await f.client.refund({ syssn: capture.syssn!, out_trade_no: ref('r'), txamt: 200 });
    expect(refund).toMatchObject({ respcd: '0000', orig_syssn: capture.syssn });
    const [row] = (await f.client.query({ syssn: [capture.syssn!] })).data;
    expect(row).toMatchObject({ cancel: '5', origssn: auth.syssn });
  });

  it('refuses a capture of something that is not a pre-authorisation (1151)', async () => {
    const payment = await f.client.createPayment({
      pay_type: '800108',
      txamt: 500,
      txcurrcd: 'HKD',
      out_trade_no: ref('p'),
      auth_code: CPM_AUTH_CODE,
    });
    expect(
      await refusal(f.client.capturePreauth({ syssn: payment.syssn!, out_trade_no: ref('c'), txamt: 100 })),
    ).toBe('1151');
  });

  it('sends the capture as a payment notification and the release as unfreeze, both signed', async () => {
    const received: { body: Record<string, string>; signed: boolean }[] = [];
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const signed = request.headers['x-qf-sign'] === signRawBody(raw, credential.key);
        received.push({ body: JSON.parse(raw) as Record<string, string>, signed });
        response.end('SUCCESS');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    const credential: SimCredential = { ...randomCredential(), notifyUrl: `http://127.0.0.1:${port}/notify` };
    const simulator = await startSimulator({ port: 0, credentials: [credential], quiet: true });
    simulator.control.setClock({ set: NOON });
    const client = new QfpayClient({
      baseUrl: simulator.baseUrl,
      credentials: { appcode: credential.appcode, key: credential.key, mchid: credential.mchid! },
      timeoutMs: 5_000,
    });
    try {
      const auth = await authorise(client, 900);
      const capture = await client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 300 });
      await client.releasePreauth({ syssn: auth.syssn, out_trade_no: auth.out_trade_no, txamt: 600 });
      await expect.poll(() => received.length, { timeout: 5_000 }).toBe(3);
      expect(received.every((n) => n.signed)).toBe(true);
      const byType = (type: string, syssn: string) =>
        received.find((n) => n.body.notify_type === type && n.body.syssn === syssn)?.body;
      // The authorisation itself notifies `payment` when approved (docs/simulator.md, a choice: undocumented).
      expect(byType('payment', auth.syssn)).toMatchObject({ txamt: '900', status: '1', respcd: '0000' });
      expect(byType('payment', capture.syssn!)).toMatchObject({ txamt: '300', status: '1', respcd: '0000' });
      expect(byType('unfreeze', auth.syssn)).toMatchObject({
        txamt: '600',
        cancel: '4',
        out_trade_no: auth.out_trade_no,
      });
    } finally {
      await client.destroy();
      await simulator.close();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

describe('the capture window on the simulated clock', () => {
  it('7 days by default: a capture on day 8 is refused with 1152 and the query shows cancel 4', async () => {
    const f = await fixture();
    try {
      const auth = await authorise(f.client, 1_000);
      f.simulator.control.setClock({ advanceMs: 7 * DAY_MS - 60_000 });
      await f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 100 });
      f.simulator.control.setClock({ advanceMs: 2 * 60_000 });
      expect(
        await refusal(f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 100 })),
      ).toBe('1152');
      const [row] = (await f.client.query({ syssn: [auth.syssn] })).data;
      expect(row?.cancel).toBe('4');
    } finally {
      await f.close();
    }
  });

  it('28 days when configured (hotels and rentals)', async () => {
    const f = await fixture({ preauthCaptureWindowDays: 28 });
    try {
      const auth = await authorise(f.client, 1_000);
      f.simulator.control.setClock({ advanceMs: 20 * DAY_MS });
      const capture = await f.client.capturePreauth({
        syssn: auth.syssn,
        out_trade_no: ref('c'),
        txamt: 100,
      });
      expect(capture.respcd).toBe('0000');
      f.simulator.control.setClock({ advanceMs: 9 * DAY_MS });
      expect(
        await refusal(f.client.capturePreauth({ syssn: auth.syssn, out_trade_no: ref('c'), txamt: 100 })),
      ).toBe('1152');
    } finally {
      await f.close();
    }
  });
});
