import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { NotificationRecord, RunningSimulator } from '../../src/simulator/index.js';
import {
  control,
  cpmPayment,
  customer,
  DEFAULT_CREDENTIAL,
  freshState,
  md5Upper,
  mpmPayment,
  qfOk,
  TXDTM,
  uniqueOrderNo,
} from './helpers.js';

/** Asynchronous notifications, received by a real HTTP listener on 127.0.0.1. */

interface Received {
  readonly body: Buffer;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly path: string;
}

/** A merchant endpoint whose replies are scripted per request (default: 200 SUCCESS). */
class Receiver {
  readonly received: Received[] = [];
  replies: { status: number; body: string }[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.received.push({ body: Buffer.concat(chunks), headers: req.headers, path: req.url ?? '' });
        const reply = this.replies.shift() ?? { status: 200, body: 'SUCCESS' };
        res.writeHead(reply.status, { 'content-type': 'text/plain' });
        res.end(reply.body);
        this.waiters = this.waiters.filter((w) => {
          if (this.received.length < w.count) return true;
          w.resolve();
          return false;
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/qfpay/notify`;
  }

  waitFor(count: number, timeoutMs = 5_000): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.received.length} of ${count} notifications arrived`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  reset(): void {
    this.received.length = 0;
    this.replies = [];
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const receiver = new Receiver();
let sim: RunningSimulator;

beforeAll(async () => {
  await receiver.start();
  // 6000×: QFPay's 2-minute first retry takes 20 ms.
  sim = await startSimulator({ quiet: true, timeScale: 6_000 });
});
afterAll(async () => {
  await sim.close();
  await receiver.stop();
});
afterEach(async () => {
  await control(sim, 'POST', '/__sim/reset');
  receiver.reset();
});

const notifications = async () =>
  (await control(sim, 'GET', '/__sim/notifications')).body.notifications as NotificationRecord[];

describe('payment notifications', () => {
  it('a CPM payment posts a signed, Python-style JSON body to notify_url', async () => {
    await freshState(sim);
    const answer = await qfOk(
      sim,
      '/trade/v1/payment',
      cpmPayment({ notify_url: receiver.url, goods_name: '奶茶', txamt: '1234' }),
    );
    await receiver.waitFor(1);
    const [delivery] = receiver.received;
    expect(delivery!.path).toBe('/qfpay/notify');
    expect(delivery!.headers['content-type']).toBe('application/json');
    expect(delivery!.headers['x-qf-sign']).toBe(
      md5Upper(Buffer.concat([delivery!.body, Buffer.from(DEFAULT_CREDENTIAL.key)])),
    );
    expect(delivery!.headers['x-qf-signtype']).toBeUndefined();
    const text = delivery!.body.toString('utf8');
    expect(text.startsWith('{"status": "1", "pay_type": "800208", ')).toBe(true);
    expect(text).toContain('"goods_name": "\\u5976\\u8336"');
    expect(/[^\x20-\x7e]/.test(text)).toBe(false);
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: '1',
      notify_type: 'payment',
      syssn: answer.syssn,
      out_trade_no: answer.out_trade_no,
      txamt: '1234',
      txcurrcd: 'HKD',
      txdtm: TXDTM,
      cancel: '0',
      respcd: '0000',
      goods_name: '奶茶',
    });
    for (const value of Object.values(body)) expect(value).toBeTypeOf('string');
    expect(body.sysdtm).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(body.paydtm).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(body.mchid).toBeUndefined();
    const [record] = await notifications();
    expect(record).toMatchObject({
      state: 'delivered',
      notify_type: 'payment',
      syssn: answer.syssn,
      url: receiver.url,
    });
    expect(record!.attempts).toHaveLength(1);
    expect(record!.attempts[0]).toMatchObject({
      attempt: 1,
      http_status: 200,
      response_body: 'SUCCESS',
      accepted: true,
    });
  });

  it('an MPM order notifies when the customer pays, not before', async () => {
    await freshState(sim);
    const order = await qfOk(sim, '/trade/v1/payment', mpmPayment({ notify_url: receiver.url }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(receiver.received).toHaveLength(0);
    await customer(sim, { syssn: order.syssn!, outcome: 'pay' });
    await receiver.waitFor(1);
    expect(JSON.parse(receiver.received[0]!.body.toString('utf8'))).toMatchObject({
      syssn: order.syssn,
      notify_type: 'payment',
    });
  });

  it('nothing is posted for failures, expiries, or orders without notify_url', async () => {
    await freshState(sim);
    await qfOk(
      sim,
      '/trade/v1/payment',
      cpmPayment({ notify_url: receiver.url, auth_code: '134567890123451201' }),
    );
    const order = await qfOk(sim, '/trade/v1/payment', mpmPayment({ notify_url: receiver.url }));
    await customer(sim, { syssn: order.syssn!, outcome: 'expire' });
    await qfOk(sim, '/trade/v1/payment', cpmPayment());
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.received).toHaveLength(0);
    expect(await notifications()).toEqual([]);
  });

  it('a pending CPM payment notifies when it settles', async () => {
    await freshState(sim);
    const answer = await qfOk(
      sim,
      '/trade/v1/payment',
      cpmPayment({ notify_url: receiver.url, auth_code: '134567890123451143' }),
    );
    expect(answer.respcd).toBe('1143');
    // 30 simulated seconds at 6000× is 5 ms.
    await receiver.waitFor(1);
    expect(JSON.parse(receiver.received[0]!.body.toString('utf8'))).toMatchObject({
      syssn: answer.syssn,
      respcd: '0000',
    });
  });
});

describe('refund notifications', () => {
  it('a refund notifies with its own syssn and out_trade_no (using the payment notify_url)', async () => {
    await freshState(sim);
    const payment = await qfOk(
      sim,
      '/trade/v1/payment',
      cpmPayment({ notify_url: receiver.url, txamt: '1000' }),
    );
    await receiver.waitFor(1);
    const refundNo = uniqueOrderNo('R');
    const refund = await qfOk(sim, '/trade/v1/refund', {
      syssn: payment.syssn!,
      out_trade_no: refundNo,
      txamt: '250',
      txdtm: TXDTM,
    });
    await receiver.waitFor(2);
    const body = JSON.parse(receiver.received[1]!.body.toString('utf8')) as Record<string, string>;
    expect(body).toMatchObject({
      notify_type: 'refund',
      syssn: refund.syssn,
      out_trade_no: refundNo,
      txamt: '250',
      status: '1',
      respcd: '0000',
    });
  });
});

describe('retries', () => {
  it('retries after a non-SUCCESS reply on the (compressed) schedule, then stops', async () => {
    await freshState(sim);
    receiver.replies = [
      { status: 500, body: 'oops' },
      { status: 200, body: 'success' }, // lower case is not accepted
      { status: 200, body: 'SUCCESS' },
    ];
    await qfOk(sim, '/trade/v1/payment', cpmPayment({ notify_url: receiver.url }));
    await receiver.waitFor(3);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(receiver.received).toHaveLength(3);
    // Every attempt carries the identical body and signature.
    expect(new Set(receiver.received.map((r) => r.body.toString('hex'))).size).toBe(1);
    const [record] = await notifications();
    expect(record!.state).toBe('delivered');
    expect(record!.attempts.map((a) => [a.http_status, a.accepted])).toEqual([
      [500, false],
      [200, false],
      [200, true],
    ]);
    // 2 and 10 simulated minutes apart.
    const gaps = [1, 2].map((i) => record!.attempts[i]!.at_ms - record!.attempts[i - 1]!.at_ms);
    expect(gaps[0]).toBeGreaterThanOrEqual(15);
    expect(gaps[1]).toBeGreaterThanOrEqual(gaps[0]!);
  });

  it('records a connection failure and gives up after the last scheduled retry', async () => {
    const quick = await startSimulator({ quiet: true, notificationRetryScheduleMs: [10, 10] });
    try {
      await freshState(quick);
      // Port 9 on loopback: nothing listens there, the connection is refused.
      await qfOk(quick, '/trade/v1/payment', cpmPayment({ notify_url: 'http://127.0.0.1:9/notify' }));
      let record: NotificationRecord | undefined;
      for (let i = 0; i < 100 && record?.state !== 'gave_up'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        record = (
          (await control(quick, 'GET', '/__sim/notifications')).body.notifications as NotificationRecord[]
        )[0];
      }
      expect(record?.state).toBe('gave_up');
      expect(record?.attempts).toHaveLength(3);
      expect(record?.attempts[0]?.http_status).toBeNull();
      expect(record?.attempts[0]?.error).toMatch(/ECONNREFUSED/);
    } finally {
      await quick.close();
    }
  });

  it('advancing the clock fires a due retry', async () => {
    const slow = await startSimulator({ quiet: true });
    try {
      await freshState(slow);
      receiver.replies = [{ status: 503, body: '' }];
      await qfOk(slow, '/trade/v1/payment', cpmPayment({ notify_url: receiver.url }));
      await receiver.waitFor(1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(receiver.received).toHaveLength(1);
      await control(slow, 'POST', '/__sim/clock', { advanceMs: 2 * 60_000 });
      await receiver.waitFor(2);
      const [record] = (await control(slow, 'GET', '/__sim/notifications')).body
        .notifications as NotificationRecord[];
      expect(record?.state).toBe('delivered');
    } finally {
      await slow.close();
    }
  });
});
