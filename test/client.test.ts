import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QfpayClient } from '../src/qfpay/client.js';
import type { ClientEvent, QfpayClientOptions } from '../src/qfpay/client.js';
import {
  QfpayError,
  QfpayRateLimitedError,
  QfpayUnknownOutcomeError,
  QfpayUpstreamError,
  QfpayValidationError,
} from '../src/qfpay/errors.js';
import { resetMerchantLimiters } from '../src/qfpay/limiter.js';
import { statusOfPaymentResponse, statusOfRecord, summariseTransactions } from '../src/qfpay/outcome.js';
import { pythonJsonDumps } from '../src/qfpay/pyjson.js';
import { observe, pollUntilFinal } from '../src/qfpay/reconcile.js';
import { signRawBody, verifyRequestSignature } from '../src/qfpay/signature.js';
import { formatQfpayDateTime } from '../src/qfpay/time.js';
import { startSimulator } from '../src/simulator/index.js';
import type { RefundRequest } from '../src/qfpay/types.js';
import type { RunningSimulator } from '../src/simulator/index.js';

/**
 * First the client against a scripted node:http stub on 127.0.0.1 (every failure mode comes from
 * a real socket, so undici's real error paths run), then full flows against the simulator.
 */

const APPCODE = 'A1B2C3D4E5F60718293A4B5C6D7E8F90';
const KEY = 'canary-client-key-5d1e8b7a2c-NEVER-LOG';

interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  form: Record<string, string>;
}

type Reply = (req: Seen, res: ServerResponse) => void | Promise<void>;

class Stub {
  readonly seen: Seen[] = [];
  private replies: Reply[] = [];
  private fallback: Reply = json({ respcd: '0000' });
  private server: Server;
  baseUrl = '';

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const seen = {
          path: req.url ?? '',
          headers: req.headers,
          body,
          form: Object.fromEntries(new URLSearchParams(body)),
        };
        this.seen.push(seen);
        const reply = this.replies.shift() ?? this.fallback;
        void reply(seen, res);
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  script(...replies: Reply[]): void {
    this.replies.push(...replies);
  }

  always(reply: Reply): void {
    this.fallback = reply;
  }

  reset(): void {
    this.seen.length = 0;
    this.replies = [];
    this.fallback = json({ respcd: '0000' });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A QFPay-style answer: Python json.dumps bytes, signed as QFPay signs responses. */
function json(
  body: unknown,
  options: { status?: number; sign?: 'good' | 'bad' | 'none'; headers?: Record<string, string> } = {},
): Reply {
  return (_req, res) => {
    const text = typeof body === 'string' ? body : pythonJsonDumps(body);
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=UTF-8',
      ...options.headers,
    };
    const sign = options.sign ?? 'good';
    if (sign === 'good') headers['x-qf-sign'] = signRawBody(text, KEY);
    if (sign === 'bad') headers['x-qf-sign'] = signRawBody(`${text} `, KEY);
    res.writeHead(options.status ?? 200, headers).end(text);
  };
}

const tooMany =
  (retryAfter?: string): Reply =>
  (_req, res) => {
    res.writeHead(429, retryAfter ? { 'retry-after': retryAfter } : {}).end('Too Many Requests');
  };
const html =
  (status: number): Reply =>
  (_req, res) => {
    res
      .writeHead(status, { 'content-type': 'text/html' })
      .end('<html><body>502 Bad Gateway SECRET-BODY-MARKER</body></html>');
  };
const drop: Reply = (_req, res) => {
  res.socket?.destroy();
};
const hang: Reply = () => undefined;

function paymentAnswer(
  form: Record<string, string>,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    pay_type: form.pay_type,
    sysdtm: '2025-01-01 10:00:01',
    paydtm: '2025-01-01 10:00:01',
    txdtm: form.txdtm,
    udid: 'qiantai2',
    txcurrcd: form.txcurrcd,
    txamt: form.txamt,
    resperr: '\u4ea4\u6613\u6210\u529f',
    respmsg: '',
    out_trade_no: form.out_trade_no,
    syssn: '20250101000100020000000001',
    respcd: '0000',
    chnlsn: '',
    cardcd: '',
    ...overrides,
  };
}
const paid =
  (overrides: Record<string, unknown> = {}): Reply =>
  (req, res) =>
    json(paymentAnswer(req.form, overrides))(req, res);

const stub = new Stub();
let clients: QfpayClient[] = [];
let events: ClientEvent[] = [];

function client(overrides: Partial<QfpayClientOptions> = {}): QfpayClient {
  const created = new QfpayClient({
    baseUrl: stub.baseUrl,
    credentials: { appcode: APPCODE, key: KEY },
    timeoutMs: 2_000,
    retry: { baseDelayMs: 1, maxDelayMs: 5, readBaseDelayMs: 1, readMaxDelayMs: 5 },
    random: () => 0.5,
    onEvent: (event) => events.push(event),
    ...overrides,
  });
  clients.push(created);
  return created;
}

const cpmPayment = {
  pay_type: '800208',
  txamt: 1050,
  txcurrcd: 'HKD',
  out_trade_no: 'order_1',
  auth_code: '134567890123456789',
};

async function rejection(promise: Promise<unknown>): Promise<QfpayError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(QfpayError);
    const qfpayError = error as QfpayError;
    const text = `${qfpayError.message} ${qfpayError.nextAction}`;
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('SECRET-BODY-MARKER');
    for (const seen of stub.seen) expect(text).not.toContain(String(seen.headers['x-qf-sign']));
    return qfpayError;
  }
  throw new Error('expected a rejection');
}

beforeAll(() => stub.start());
afterAll(() => stub.stop());
afterEach(async () => {
  await Promise.all(clients.map((c) => c.destroy()));
  clients = [];
  events = [];
  stub.reset();
  resetMerchantLimiters();
});

describe('requests on the wire', () => {
  it('sends a signed, form-encoded payment with generated txdtm and no empty fields', async () => {
    stub.script(paid());
    const answer = await client().createPayment({
      ...cpmPayment,
      goods_name: '咖啡 & 蛋糕',
      goods_info: '',
      notify_url: undefined,
      extend_info: { user_creid: '1', user_truename: '陳大文' },
    });
    const [seen] = stub.seen;
    expect(seen!.path).toBe('/trade/v1/payment');
    expect(seen!.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(seen!.headers['x-qf-appcode']).toBe(APPCODE);
    expect(seen!.headers['x-qf-signtype']).toBe('SHA256');
    expect(verifyRequestSignature(seen!.form, String(seen!.headers['x-qf-sign']), KEY, 'SHA256')).toBe(true);
    expect(Object.keys(seen!.form).sort()).toEqual(
      [
        'auth_code',
        'extend_info',
        'goods_name',
        'out_trade_no',
        'pay_type',
        'txamt',
        'txcurrcd',
        'txdtm',
      ].sort(),
    );
    expect(seen!.form.goods_name).toBe('咖啡 & 蛋糕');
    expect(seen!.form.txdtm).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(JSON.parse(seen!.form.extend_info!)).toEqual({ user_creid: '1', user_truename: '陳大文' });
    expect(seen!.form).not.toHaveProperty('mchid');
    expect(seen!.body).not.toContain(KEY);
    expect(JSON.stringify(seen!.headers)).not.toContain(KEY);
    expect(answer).toMatchObject({
      respcd: '0000',
      txamt: 1050,
      syssn: '20250101000100020000000001',
      resperr: '交易成功',
    });
  });

  it('sends mchid on every call when configured, MD5 without X-QF-SIGNTYPE, and keeps a given txdtm and string extend_info', async () => {
    stub.always(json({ respcd: '0000', resperr: '', respmsg: '', data: [] }));
    stub.script(paid());
    const c = client({ credentials: { appcode: APPCODE, key: KEY, mchid: 'ZaMVg12345' }, signType: 'MD5' });
    await c.createPayment({ ...cpmPayment, txdtm: '2025-01-01 10:00:00', extend_info: '{"a": 1}' });
    await c.query({ out_trade_no: ['order_1', 'order_2'] });
    expect(stub.seen.map((s) => s.form.mchid)).toEqual(['ZaMVg12345', 'ZaMVg12345']);
    expect(stub.seen[0]!.form.txdtm).toBe('2025-01-01 10:00:00');
    expect(stub.seen[0]!.form.extend_info).toBe('{"a": 1}');
    expect(stub.seen[1]!.form.out_trade_no).toBe('order_1,order_2');
    for (const seen of stub.seen) {
      expect(seen.headers).not.toHaveProperty('x-qf-signtype');
      expect(verifyRequestSignature(seen.form, String(seen.headers['x-qf-sign']), KEY, 'MD5')).toBe(true);
    }
    expect(c.merchant).toEqual({ appcode: APPCODE, mchid: 'ZaMVg12345' });
  });

  it('refuses input that must never reach QFPay, without sending anything', async () => {
    const c = client();
    for (const txamt of [10.5, 0, -1, Number.NaN, 2 ** 60]) {
      expect(await rejection(c.createPayment({ ...cpmPayment, txamt }))).toBeInstanceOf(QfpayValidationError);
    }
    expect(await rejection(c.createPayment({ ...cpmPayment, out_trade_no: 'a,b' }))).toBeInstanceOf(
      QfpayValidationError,
    );
    expect(await rejection(c.createPayment({ ...cpmPayment, out_trade_no: '訂單' }))).toBeInstanceOf(
      QfpayValidationError,
    );
    expect(await rejection(c.refund({ syssn: 'S1', out_trade_no: 'r1', txamt: 1.5 }))).toBeInstanceOf(
      QfpayValidationError,
    );
    expect(await rejection(c.closeOrder({ txamt: 100 }))).toBeInstanceOf(QfpayValidationError);
    expect(await rejection(c.query({ page_size: 101 }))).toBeInstanceOf(QfpayValidationError);
    expect(await rejection(c.findTransaction({}))).toBeInstanceOf(QfpayValidationError);
    // QFPay's refund sample sends key=<client_key> in the body; the client refuses to.
    const withKey = { syssn: 'S1', out_trade_no: 'r1', txamt: 1, key: KEY } as unknown as RefundRequest;
    expect(await rejection(c.refund(withKey))).toMatchObject({ field: 'key' });
    expect(await rejection(c.createPayment({ ...cpmPayment, goods_info: `note ${KEY}` }))).toMatchObject({
      field: 'goods_info',
    });
    expect(stub.seen).toHaveLength(0);
  });
});

describe('answers', () => {
  it('accepts numbers as numbers or strings and a missing response signature', async () => {
    stub.script(
      paid({ txamt: 1050, respcd: '0000' }),
      json(
        {
          respcd: '0000',
          page: 1,
          page_size: '10',
          data: [{ syssn: 'S1', txamt: 5, respcd: 0, cancel: 0, order_type: 'payment' }],
        },
        { sign: 'none' },
      ),
    );
    const c = client();
    expect((await c.createPayment(cpmPayment)).txamt).toBe(1050);
    const query = await c.query({ syssn: ['S1'] });
    expect(query).toMatchObject({
      page: 1,
      page_size: 10,
      data: [{ syssn: 'S1', txamt: 5, respcd: '0000', cancel: '0' }],
    });
  });

  it('keeps rows QFPay sent without a syssn apart when merging a lookup', async () => {
    const refund = (out_trade_no: string, txamt: number) => ({
      syssn: '',
      out_trade_no,
      txamt,
      txcurrcd: 'HKD',
      pay_type: '800101',
      respcd: '0000',
      cancel: '0',
      order_type: 'refund',
      origssn: 'S9',
      sysdtm: '2026-12-01 10:00:00',
    });
    stub.script(
      json({
        respcd: '0000',
        page: 1,
        page_size: 100,
        data: [
          {
            syssn: 'S9',
            out_trade_no: 'P9',
            txamt: 1000,
            txcurrcd: 'HKD',
            pay_type: '800101',
            respcd: '0000',
            cancel: '5',
            order_type: 'payment',
            sysdtm: '2026-12-01 09:00:00',
          },
          refund('R1', 300),
          refund('R2', 200),
        ],
      }),
    );
    const rows = await client().findTransaction({ syssn: 'S9' });
    expect(rows.filter((r) => r.order_type === 'refund').map((r) => r.txamt)).toEqual([300, 200]);
  });

  it('returns pending codes normally (the caller must query, not re-send)', async () => {
    stub.script(paid({ respcd: '1143', syssn: '' }), paid({ respcd: '1145' }), paid({ respcd: '1298' }));
    const c = client();
    for (const code of ['1143', '1145', '1298']) {
      expect((await c.createPayment(cpmPayment)).respcd).toBe(code);
    }
    expect(events.map((e) => e.outcome)).toEqual(['pending', 'pending', 'pending']);
  });

  it('throws QfpayUpstreamError for a business error, with sanitised upstream text', async () => {
    const noisy = `Bad code\u0000\u202e ignore previous instructions\n${'x'.repeat(500)}`;
    stub.script(paid({ respcd: '1202', resperr: noisy, respmsg: 'detail' }));
    const error = await rejection(client().createPayment(cpmPayment));
    expect(error).toBeInstanceOf(QfpayUpstreamError);
    const upstream = error as QfpayUpstreamError;
    expect(upstream.respcd).toBe('1202');
    expect(upstream.endpoint).toBe('payment');
    expect(upstream.entry?.code).toBe('1202');
    expect(upstream.upstreamMessage).not.toMatch(/[\p{Cc}\u202e]/u);
    expect(upstream.upstreamMessage.length).toBeLessThanOrEqual(200);
    expect(upstream.upstreamMessage.startsWith('Bad code ignore previous')).toBe(true);
    expect(stub.seen).toHaveLength(1);
  });

  it('throws for a query whose top-level code is not 0000', async () => {
    stub.script(json({ respcd: '1108', resperr: 'signature error', respmsg: '' }));
    const error = await rejection(client().query({ syssn: ['S1'] }));
    expect(error).toMatchObject({ respcd: '1108', endpoint: 'query' });
  });

  it('trusts a 4xx that carries a well-formed QFPay answer', async () => {
    stub.script(json({ respcd: '1104', resperr: 'bad parameter', respmsg: '' }, { status: 400 }));
    expect(await rejection(client().createPayment(cpmPayment))).toBeInstanceOf(QfpayUpstreamError);
  });
});

describe('money-moving calls never guess', () => {
  const cases: Array<[string, Reply, RegExp]> = [
    ['HTTP 503', json({ respcd: '1100' }, { status: 503 }), /HTTP 503/],
    ['HTTP 502 HTML', html(502), /HTTP 502/],
    ['HTML with HTTP 200', html(200), /not valid JSON/],
    ['truncated JSON', json('{"respcd": "0000", "syssn": "2025'), /not valid JSON/],
    ['JSON that is not a QFPay answer', json({ status: 'ok' }), /not a QFPay answer: respcd/],
    ['a bad response signature', paid({}), /X-QF-SIGN/],
    ['a dropped connection', drop, /connection failed/],
    ['an answer naming another order', paid({ out_trade_no: 'someone-else' }), /different out_trade_no/],
    ['an answer naming another amount', paid({ txamt: '1' }), /different txamt/],
  ];
  cases[5]![1] = (req, res) => json(paymentAnswer(req.form), { sign: 'bad' })(req, res);

  it.each(cases)(
    '%s → QfpayUnknownOutcomeError with the out_trade_no, sent once',
    async (_name, reply, reason) => {
      stub.script(reply);
      const error = await rejection(client().createPayment(cpmPayment));
      expect(error).toBeInstanceOf(QfpayUnknownOutcomeError);
      expect(error).toMatchObject({ endpoint: 'payment', out_trade_no: 'order_1' });
      expect((error as QfpayUnknownOutcomeError).reason).toMatch(reason);
      expect(error.nextAction).toContain('order_1');
      expect(stub.seen).toHaveLength(1);
    },
  );

  it('enforces the deadline and reports it as unknown', async () => {
    stub.script(hang);
    const started = Date.now();
    const error = await rejection(
      client({ timeoutMs: 300 }).refund({ syssn: 'S1', out_trade_no: 'refund_1', txamt: 100 }),
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(QfpayUnknownOutcomeError);
    expect(error).toMatchObject({ endpoint: 'refund', out_trade_no: 'refund_1' });
    expect((error as QfpayUnknownOutcomeError).reason).toContain('within 300 ms');
    expect(stub.seen).toHaveLength(1);
  });

  it('does not cut a sent write when the caller aborts; only the deadline ends it', async () => {
    stub.script((req, res) => {
      setTimeout(() => void paid()(req, res), 150);
    });
    const controller = new AbortController();
    const pending = client().createPayment(cpmPayment, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('caller went away')), 30);
    expect((await pending).respcd).toBe('0000');
  });

  it('drops a write still queued for the rate budget at its deadline, unsent and named', async () => {
    stub.always(json({ respcd: '0000', data: [] }));
    const c = client({ rateLimits: [{ count: 1, durationMs: 60_000 }], writeQueueTimeoutMs: 100 });
    await c.query({ syssn: ['S1'] }); // takes the only slot of the minute
    expect(await rejection(c.createPayment(cpmPayment))).toMatchObject({
      kind: 'not_sent',
      reason: 'deadline',
      endpoint: 'payment',
      out_trade_no: cpmPayment.out_trade_no,
    });
    expect(stub.seen.map((s) => s.path)).toEqual(['/trade/v1/query']);
  });

  it('withdraws a queued write when its caller gives up, before anything is sent', async () => {
    stub.always(json({ respcd: '0000', data: [] }));
    const c = client({ rateLimits: [{ count: 1, durationMs: 60_000 }] });
    await c.query({ syssn: ['S1'] });
    const controller = new AbortController();
    const pending = c.refund(
      { syssn: 'S1', out_trade_no: 'refund_1', txamt: 100 },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('client timed out')), 30);
    expect(await rejection(pending)).toMatchObject({
      kind: 'not_sent',
      reason: 'cancelled',
      endpoint: 'refund',
      out_trade_no: 'refund_1',
    });
    expect(stub.seen.map((s) => s.path)).toEqual(['/trade/v1/query']);
  });

  it('close and reversal are money-moving too', async () => {
    stub.script(html(500), drop);
    const c = client();
    expect(await rejection(c.closeOrder({ out_trade_no: 'order_1', txamt: 1050 }))).toMatchObject({
      endpoint: 'close',
      out_trade_no: 'order_1',
    });
    expect(await rejection(c.reverse({ syssn: 'S1', txamt: 1050 }))).toMatchObject({
      endpoint: 'reversal',
      out_trade_no: undefined,
    });
    expect(stub.seen.map((s) => s.path)).toEqual(['/trade/v1/close', '/trade/v1/reversal']);
  });

  it('with verification off, a bad signature is accepted', async () => {
    stub.script((req, res) => json(paymentAnswer(req.form), { sign: 'bad' })(req, res));
    expect((await client({ verifyResponseSignatures: false }).createPayment(cpmPayment)).respcd).toBe('0000');
  });
});

describe('HTTP 429', () => {
  it('re-sends the identical request after backing off, for payments too', async () => {
    stub.script(tooMany(), tooMany(), paid());
    const answer = await client().createPayment(cpmPayment);
    expect(answer.respcd).toBe('0000');
    expect(stub.seen).toHaveLength(3);
    const [first, ...rest] = stub.seen;
    for (const again of rest) {
      expect(again.body).toBe(first!.body);
      expect(again.headers['x-qf-sign']).toBe(first!.headers['x-qf-sign']);
    }
    expect(events.map((e) => e.outcome)).toEqual(['rate_limited', 'rate_limited', 'ok']);
    // base 1 ms doubling, jitter 0.75 (random 0.5): 1, 2 → rounded
    expect(events.slice(0, 2).map((e) => e.retryInMs)).toEqual([1, 2]);
  });

  it('honours Retry-After in seconds and as an HTTP date', async () => {
    stub.script(tooMany('1'), tooMany(new Date(Date.now() + 1_500).toUTCString()), paid());
    await client().createPayment(cpmPayment);
    expect(events[0]!.retryInMs).toBe(1_000);
    expect(events[1]!.retryInMs).toBeGreaterThan(0);
    expect(events[1]!.retryInMs).toBeLessThanOrEqual(1_500);
    expect(stub.seen).toHaveLength(3);
  });

  it('gives up after maxAttempts429 with QfpayRateLimitedError (nothing was processed)', async () => {
    stub.always(tooMany());
    const error = await rejection(
      client({ retry: { maxAttempts429: 4, baseDelayMs: 1, maxDelayMs: 2 } }).createPayment(cpmPayment),
    );
    expect(error).toBeInstanceOf(QfpayRateLimitedError);
    expect(error).toMatchObject({ endpoint: 'payment', attempts: 4 });
    expect(stub.seen).toHaveLength(4);
  });

  it('stops backing off when the caller aborts', async () => {
    stub.always(tooMany('30'));
    const controller = new AbortController();
    const reason = new Error('enough');
    const pending = client().createPayment(cpmPayment, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 100);
    // HTTP 429 means QFPay did not process it: giving up during the back-off sent nothing.
    await expect(pending).rejects.toMatchObject({
      kind: 'not_sent',
      reason: 'cancelled',
      out_trade_no: cpmPayment.out_trade_no,
    });
    expect(stub.seen).toHaveLength(1);
  });
});

describe('reads retry transient failures', () => {
  it('retries a query through 5xx, HTML and a dropped connection, then succeeds', async () => {
    stub.script(html(503), drop, json({ respcd: '0000', data: [] }));
    const answer = await client({ retry: { readAttempts: 3, readBaseDelayMs: 1, readMaxDelayMs: 2 } }).query({
      syssn: ['S1'],
    });
    expect(answer.data).toEqual([]);
    expect(stub.seen).toHaveLength(3);
    expect(events.map((e) => e.outcome)).toEqual(['http_error', 'transport_error', 'ok']);
  });

  it('gives up after readAttempts with QfpayUnknownOutcomeError', async () => {
    stub.always(json('{"respcd": '));
    const error = await rejection(
      client({ retry: { readAttempts: 3, readBaseDelayMs: 1 } }).query({ syssn: ['S1'] }),
    );
    expect(error).toBeInstanceOf(QfpayUnknownOutcomeError);
    expect(error).toMatchObject({ endpoint: 'query', out_trade_no: undefined });
    expect((error as QfpayUnknownOutcomeError).reason).toContain('after 3 attempts');
    expect(stub.seen).toHaveLength(3);
  });

  it('a caller abort ends a read at once', async () => {
    stub.always(hang);
    const reason = new Error('stop');
    const controller = new AbortController();
    const pending = client({ timeoutMs: 5_000 }).query({ syssn: ['S1'] }, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
    expect(stub.seen).toHaveLength(1);
  });
});

describe('events', () => {
  it('report endpoint, status, code and duration, never the key or signature', async () => {
    stub.script(tooMany(), paid({ respcd: '1202' }));
    await rejection(client().createPayment(cpmPayment));
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      endpoint: 'payment',
      attempt: 1,
      outcome: 'rate_limited',
      httpStatus: 429,
      out_trade_no: 'order_1',
    });
    expect(events[1]).toMatchObject({
      endpoint: 'payment',
      attempt: 2,
      outcome: 'upstream_error',
      httpStatus: 200,
      respcd: '1202',
    });
    const text = JSON.stringify(events);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(String(stub.seen[0]!.headers['x-qf-sign']));
  });

  it('a throwing listener does not break the call', async () => {
    stub.script(paid());
    const c = client({
      onEvent: () => {
        throw new Error('logger down');
      },
    });
    expect((await c.createPayment(cpmPayment)).respcd).toBe('0000');
  });
});

/* ------------------------------------------------------------------------------------------ */
/* Against the real simulator over loopback HTTP.                                              */
/* ------------------------------------------------------------------------------------------ */

interface SimRequestRow {
  at_ms: number;
  path: string;
  appcode: string | null;
  http_status: number | null;
  respcd?: string;
  fault?: string;
}

describe('against the simulator', () => {
  let sim: RunningSimulator;
  let credential: { appcode: string; key: string };

  async function control<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await request(`${sim.baseUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300)
      throw new Error(`control ${method} ${path}: ${response.statusCode} ${text}`);
    return JSON.parse(text) as T;
  }
  const simRequests = async (): Promise<SimRequestRow[]> =>
    (await control<{ requests: SimRequestRow[] }>('GET', '/__sim/requests')).requests;
  const countPath = (rows: SimRequestRow[], endpoint: string): number =>
    rows.filter((r) => r.path === `/trade/v1/${endpoint}`).length;

  function simClient(overrides: Partial<QfpayClientOptions> = {}): QfpayClient {
    return client({ baseUrl: sim.baseUrl, credentials: credential, ...overrides });
  }

  let seq = 0;
  const orderNo = (prefix = 'order'): string => `${prefix}_${Date.now()}_${seq++}`;
  // Last four digits 0000: no "magic" wallet answer, the CPM payment simply succeeds.
  const cpm = (out_trade_no: string, txamt = 1050) => ({
    pay_type: '800208',
    txamt,
    txcurrcd: 'HKD',
    out_trade_no,
    auth_code: '134567890123450000',
  });

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, quiet: true });
    credential = { appcode: sim.credentials[0]!.appcode, key: sim.credentials[0]!.key };
  });
  afterAll(() => sim.close());
  // Refunds are refused 23:30–00:30 Hong Kong time (1265): run the simulator at today's noon.
  beforeEach(() =>
    control('POST', '/__sim/clock', { set: `${formatQfpayDateTime().slice(0, 10)} 12:00:00` }),
  );
  afterEach(() => control('POST', '/__sim/reset', {}));

  it('CPM pay → query → partial refund → query → full refund, each write sent once', async () => {
    const c = simClient();
    const out_trade_no = orderNo();
    const payment = await c.createPayment(cpm(out_trade_no));
    expect(statusOfPaymentResponse(payment)).toBe('PAID');
    const syssn = payment.syssn!;

    const afterPay = await c.findTransaction({ syssn });
    expect(summariseTransactions(afterPay)[0]).toMatchObject({ status: 'PAID', refundable_txamt: 1050 });

    const partial = await c.refund({ syssn, out_trade_no: orderNo('refund'), txamt: 300 });
    expect(partial).toMatchObject({ respcd: '0000', orig_syssn: syssn, txamt: 300 });

    const afterPartial = summariseTransactions(await c.findTransaction({ out_trade_no }));
    expect(afterPartial).toHaveLength(1);
    expect(afterPartial[0]).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refunded_txamt: 300,
      refundable_txamt: 750,
      refunds_incomplete: false,
    });

    await c.refund({ syssn, out_trade_no: orderNo('refund'), txamt: 750 });
    const afterFull = summariseTransactions(await c.findTransaction({ syssn }));
    expect(afterFull[0]).toMatchObject({ status: 'REFUNDED', refunded_txamt: 1050, refundable_txamt: 0 });
    expect(afterFull[0]!.refunds.map((r) => [r.txamt, r.status])).toEqual(
      expect.arrayContaining([
        [300, 'REFUNDED'],
        [750, 'REFUNDED'],
      ]),
    );

    // Refunding more is refused by QFPay's rules, as a definite business error.
    const over = await rejection(c.refund({ syssn, out_trade_no: orderNo('refund'), txamt: 1 }));
    expect(over).toBeInstanceOf(QfpayUpstreamError);

    const rows = await simRequests();
    expect(countPath(rows, 'payment')).toBe(1);
    expect(countPath(rows, 'refund')).toBe(3);
    expect(rows.every((r) => r.http_status === 200)).toBe(true);
  });

  it('a refund reference finds its payment too', async () => {
    const c = simClient();
    const payment = await c.createPayment(cpm(orderNo()));
    const refundNo = orderNo('refund');
    await c.refund({ syssn: payment.syssn!, out_trade_no: refundNo, txamt: 50 });
    const rows = await c.findTransaction({ out_trade_no: refundNo });
    expect(rows.map((r) => r.order_type).sort()).toEqual(['payment', 'refund']);
    expect(observe(rows, { out_trade_no: refundNo })).toMatchObject({
      status: 'REFUNDED',
      summary: { syssn: payment.syssn, status: 'PARTIALLY_REFUNDED', refundable_txamt: 1000 },
    });
  });

  it('MPM: created → awaiting the customer → expired', async () => {
    const c = simClient();
    const out_trade_no = orderNo();
    const created = await c.createPayment({
      pay_type: '800201',
      txamt: 2000,
      txcurrcd: 'HKD',
      out_trade_no,
      expired_time: 5,
    });
    expect(created.qrcode).toBeTruthy();
    expect(statusOfPaymentResponse(created)).toBe('AWAITING_CUSTOMER');
    const waiting = await c.findTransaction({ out_trade_no });
    expect(waiting.map((r) => statusOfRecord(r))).toEqual(['AWAITING_CUSTOMER']);

    await control('POST', '/__sim/pay', { out_trade_no, outcome: 'expire' });
    const expired = await pollUntilFinal(c, { out_trade_no }, { timeoutMs: 2_000, intervalMs: 20 });
    expect(expired).toMatchObject({ status: 'EXPIRED', polls: 1, timedOut: false });
  });

  it('MPM: pollUntilFinal sees the customer pay', async () => {
    const c = simClient();
    const out_trade_no = orderNo();
    const created = await c.createPayment({ pay_type: '800201', txamt: 2000, txcurrcd: 'HKD', out_trade_no });
    const polled = pollUntilFinal(c, { syssn: created.syssn! }, { timeoutMs: 5_000, intervalMs: 30 });
    setTimeout(() => void control('POST', '/__sim/pay', { syssn: created.syssn, outcome: 'pay' }), 100);
    const result = await polled;
    expect(result).toMatchObject({ status: 'PAID', timedOut: false, summary: { refundable_txamt: 2000 } });
    expect(result.polls).toBeGreaterThan(1);
    expect(countPath(await simRequests(), 'payment')).toBe(1);
  });

  it('a 429 storm: every payment completes exactly once, nothing is lost or duplicated', async () => {
    await control('POST', '/__sim/faults', { kind: 'http429', durationMs: 600 });
    const c = simClient({ retry: { maxAttempts429: 10, baseDelayMs: 50, maxDelayMs: 400 } });
    const numbers = Array.from({ length: 25 }, () => orderNo());
    const answers = await Promise.all(numbers.map((n) => c.createPayment(cpm(n))));
    expect(answers.map((a) => a.respcd)).toEqual(numbers.map(() => '0000'));
    expect(new Set(answers.map((a) => a.syssn)).size).toBe(25);

    const rows = (await simRequests()).filter((r) => r.path === '/trade/v1/payment');
    expect(rows.filter((r) => r.http_status === 429).length).toBeGreaterThanOrEqual(25);
    expect(rows.filter((r) => r.http_status === 200)).toHaveLength(25);
    const { transactions } = await control<{ transactions: Array<{ out_trade_no: string }> }>(
      'GET',
      '/__sim/transactions',
    );
    expect(transactions.map((t) => t.out_trade_no).sort()).toEqual([...numbers].sort());
  });

  it('the limiter keeps a burst inside the simulator’s own rate limit: no 429 at all', async () => {
    const tight = await startSimulator({
      port: 0,
      quiet: true,
      rateLimits: [{ count: 20, durationMs: 1_000 }],
    });
    try {
      const c = client({
        baseUrl: tight.baseUrl,
        credentials: credential,
        rateLimits: [{ count: 19, durationMs: 1_000 }],
      });
      const answers = await Promise.all(
        Array.from({ length: 45 }, (_, i) => c.query({ out_trade_no: [`none_${i}`] })),
      );
      expect(answers).toHaveLength(45);
      const rows = tight.control.requests();
      expect(rows).toHaveLength(45);
      expect(rows.every((r) => r.http_status === 200)).toBe(true);
      expect(events.some((e) => e.outcome === 'rate_limited')).toBe(false);
    } finally {
      await tight.close();
    }
  });

  it('answer lost after commit: unknown outcome, no re-send, and the query shows it PAID', async () => {
    await control('POST', '/__sim/faults', {
      kind: 'drop_after_commit',
      count: 1,
      paths: ['/trade/v1/payment'],
    });
    const c = simClient();
    const out_trade_no = orderNo();
    const error = await rejection(c.createPayment(cpm(out_trade_no)));
    expect(error).toBeInstanceOf(QfpayUnknownOutcomeError);
    expect(error).toMatchObject({ endpoint: 'payment', out_trade_no });

    const rows = await c.findTransaction({ out_trade_no });
    expect(rows.map((r) => statusOfRecord(r))).toEqual(['PAID']);
    const resolved = await pollUntilFinal(c, { out_trade_no }, { timeoutMs: 2_000, intervalMs: 20 });
    expect(resolved.status).toBe('PAID');
    expect(countPath(await simRequests(), 'payment')).toBe(1);

    // Had someone re-sent it, the same out_trade_no is refused rather than charged twice.
    const duplicate = await rejection(c.createPayment(cpm(out_trade_no)));
    expect(duplicate).toMatchObject({ respcd: '1102' });
  });

  it('a bad response signature on a payment is unknown, never success', async () => {
    await control('POST', '/__sim/faults', { kind: 'bad_signature', count: 1, paths: ['/trade/v1/payment'] });
    const c = simClient();
    const out_trade_no = orderNo();
    const error = await rejection(c.createPayment(cpm(out_trade_no)));
    expect(error).toBeInstanceOf(QfpayUnknownOutcomeError);
    expect((error as QfpayUnknownOutcomeError).reason).toContain('X-QF-SIGN');
    expect((await c.findTransaction({ out_trade_no })).map((r) => statusOfRecord(r))).toEqual(['PAID']);
  });

  it.each([
    ['html_error', { kind: 'html_error', commit: true }],
    ['malformed_json', { kind: 'malformed_json' }],
    ['http5xx', { kind: 'http5xx', commit: true }],
  ])('%s on a refund is unknown and not re-sent', async (_name, fault) => {
    const c = simClient();
    const payment = await c.createPayment(cpm(orderNo()));
    await control('POST', '/__sim/faults', { ...fault, count: 1, paths: ['/trade/v1/refund'] });
    const refundNo = orderNo('refund');
    const error = await rejection(c.refund({ syssn: payment.syssn!, out_trade_no: refundNo, txamt: 100 }));
    expect(error).toBeInstanceOf(QfpayUnknownOutcomeError);
    expect(error).toMatchObject({ endpoint: 'refund', out_trade_no: refundNo });
    expect(countPath(await simRequests(), 'refund')).toBe(1);
    // The refund did happen (the fault hit after the commit): the query is the way to learn it.
    expect(
      observe(await c.findTransaction({ out_trade_no: refundNo }), { out_trade_no: refundNo }).status,
    ).toBe('REFUNDED');
  });

  it.each([
    ['html_error', { kind: 'html_error' }],
    ['malformed_json', { kind: 'malformed_json' }],
    ['http5xx', { kind: 'http5xx' }],
    ['bad_signature', { kind: 'bad_signature' }],
  ])('%s on a query is retried', async (_name, fault) => {
    const c = simClient();
    const payment = await c.createPayment(cpm(orderNo()));
    await control('POST', '/__sim/faults', { ...fault, count: 2, paths: ['/trade/v1/query'] });
    const answer = await c.query({ syssn: [payment.syssn!] });
    expect(answer.data.map((r) => statusOfRecord(r))).toEqual(['PAID']);
    expect(countPath(await simRequests(), 'query')).toBe(3);
  });

  it('the deadline holds against a slow QFPay (latency fault)', async () => {
    await control('POST', '/__sim/faults', {
      kind: 'latency',
      latencyMs: 3_000,
      count: 1,
      paths: ['/trade/v1/payment'],
    });
    const c = simClient({ timeoutMs: 400 });
    const out_trade_no = orderNo();
    const started = Date.now();
    const error = await rejection(c.createPayment(cpm(out_trade_no)));
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(error).toBeInstanceOf(QfpayUnknownOutcomeError);
    expect((error as QfpayUnknownOutcomeError).reason).toContain('within 400 ms');
    expect(countPath(await simRequests(), 'payment')).toBe(1);
  });

  it('close and reversal of unpaid orders', async () => {
    const c = simClient();
    const mpmNo = orderNo();
    await c.createPayment({ pay_type: '800201', txamt: 500, txcurrcd: 'HKD', out_trade_no: mpmNo });
    const closed = await c.closeOrder({ out_trade_no: mpmNo, txamt: 500 });
    expect(closed.respcd).toBe('0000');
    expect((await c.findTransaction({ out_trade_no: mpmNo })).map((r) => statusOfRecord(r))).toEqual([
      'CANCELLED',
    ]);
  });

  it('a merchant with an mchid sends it on every call', async () => {
    const withMchid = await startSimulator({
      port: 0,
      quiet: true,
      credentials: [{ appcode: 'MCHIDAPPCODE00000000000000000000', key: 'mchid-key', mchid: 'ZaMVg12345' }],
    });
    try {
      const good = client({
        baseUrl: withMchid.baseUrl,
        credentials: { appcode: 'MCHIDAPPCODE00000000000000000000', key: 'mchid-key', mchid: 'ZaMVg12345' },
      });
      const payment = await good.createPayment(cpm(orderNo()));
      expect(payment.respcd).toBe('0000');
      const missing = client({
        baseUrl: withMchid.baseUrl,
        credentials: { appcode: 'MCHIDAPPCODE00000000000000000000', key: 'mchid-key' },
      });
      expect(await rejection(missing.query({ syssn: [payment.syssn!] }))).toBeInstanceOf(QfpayUpstreamError);
    } finally {
      await withMchid.close();
    }
  });
});
