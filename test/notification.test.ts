import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNotification } from '../src/qfpay/notification.js';
import { pythonJsonDumps } from '../src/qfpay/pyjson.js';
import { signRawBody } from '../src/qfpay/signature.js';

const KEY = '0123456789ABCDEF0123456789ABCDEF';

/** A payment notification in QFPay's documented key order and Python json.dumps style. */
function paymentNotification(overrides: Record<string, unknown> = {}): string {
  return pythonJsonDumps({
    status: '1',
    pay_type: '800201',
    sysdtm: '2025-01-01 10:00:05',
    paydtm: '2025-01-01 10:00:04',
    goods_name: '測試商品',
    txcurrcd: 'HKD',
    txdtm: '2025-01-01 10:00:00',
    mchid: '',
    txamt: '1050',
    exchange_rate: '',
    chnlsn2: '',
    out_trade_no: 'order-1',
    syssn: '20250101000100020000000001',
    cash_fee_type: '',
    cancel: '0',
    respcd: '0000',
    goods_info: '',
    cash_fee: '0',
    notify_type: 'payment',
    chnlsn: '4200000000000000',
    cardcd: '',
    ...overrides,
  });
}

describe('parseNotification', () => {
  it('accepts a correctly signed payment notification and reads it as PAID', () => {
    const body = paymentNotification();
    expect(body).toContain('\\u6e2c\\u8a66'); // CJK escaped as QFPay sends it
    const result = parseNotification(body, signRawBody(body, KEY), KEY);
    expect(result.valid).toBe(true);
    expect(result.status).toBe('PAID');
    expect(result.body).toMatchObject({
      notify_type: 'payment',
      syssn: '20250101000100020000000001',
      out_trade_no: 'order-1',
      txamt: 1050,
      txcurrcd: 'HKD',
      respcd: '0000',
      cancel: '0',
      goods_name: '測試商品',
      chnlsn: '4200000000000000', // unknown-to-us keys are kept
    });
  });

  it('reads a refund notification as REFUNDED (the refund went through)', () => {
    const body = paymentNotification({
      notify_type: 'refund',
      syssn: 'R1',
      out_trade_no: 'refund-1',
      txamt: 300,
    });
    const result = parseNotification(Buffer.from(body, 'utf8'), signRawBody(body, KEY).toLowerCase(), KEY);
    expect(result).toMatchObject({ valid: true, status: 'REFUNDED', body: { txamt: 300, syssn: 'R1' } });
  });

  it('reads an unfreeze notification as CANCELLED (the pre-authorisation is finished)', () => {
    const body = paymentNotification({
      notify_type: 'unfreeze',
      syssn: 'A1',
      out_trade_no: 'auth-1',
      txamt: 600,
    });
    const result = parseNotification(Buffer.from(body, 'utf8'), signRawBody(body, KEY), KEY);
    expect(result).toMatchObject({ valid: true, status: 'CANCELLED', body: { txamt: 600, syssn: 'A1' } });
  });

  it('verifies the raw bytes: a re-serialised body with the same data is rejected', () => {
    const body = paymentNotification();
    const signature = signRawBody(body, KEY);
    const compact = JSON.stringify(JSON.parse(body));
    expect(parseNotification(compact, signature, KEY)).toMatchObject({ valid: false });
  });

  it('rejects any single flipped byte', () => {
    const bytes = Buffer.from(paymentNotification(), 'utf8');
    const signature = signRawBody(bytes, KEY);
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, mask) => {
        const flipped = Buffer.from(bytes);
        flipped[index] = flipped[index]! ^ mask;
        const result = parseNotification(flipped, signature, KEY);
        expect(result.valid).toBe(false);
        expect(result.body).toBeUndefined();
        expect(result.status).toBeUndefined();
      }),
    );
  });

  it('rejects a missing signature, a wrong key and an empty body', () => {
    const body = paymentNotification();
    const unsigned = parseNotification(body, undefined, KEY);
    expect(unsigned.valid).toBe(false);
    expect(unsigned.reason).toContain('missing');
    expect(parseNotification(body, '', KEY)).toMatchObject({ valid: false });
    expect(parseNotification(body, signRawBody(body, 'another-key'), KEY)).toMatchObject({ valid: false });
    expect(parseNotification('', signRawBody('', KEY), KEY)).toMatchObject({
      valid: false,
      reason: 'the body is empty',
    });
  });

  it('rejects signed bodies that are not QFPay notifications, naming fields but not values', () => {
    const cases = [
      'not json at all',
      '[1, 2, 3]',
      paymentNotification({ txamt: '10.50' }),
      paymentNotification({ txamt: 'SECRET-ISH-VALUE' }),
      paymentNotification({ syssn: '' }),
    ];
    for (const body of cases) {
      const result = parseNotification(body, signRawBody(body, KEY), KEY);
      expect(result.valid).toBe(false);
      expect(result.reason).not.toContain('SECRET-ISH-VALUE');
    }
    const amount = paymentNotification({ txamt: '10.50' });
    expect(parseNotification(amount, signRawBody(amount, KEY), KEY).reason).toContain('txamt');
  });

  it('accepts numbers where QFPay usually sends strings', () => {
    const body = paymentNotification({ txamt: 1050, cancel: 0, status: 1 });
    expect(parseNotification(body, signRawBody(body, KEY), KEY)).toMatchObject({
      valid: true,
      status: 'PAID',
      body: { txamt: 1050, cancel: '0', status: '1' },
    });
  });

  it('accepts but does not interpret other signed notification kinds', () => {
    const body = pythonJsonDumps({ notify_type: 'subscription', status: '1', data: {} });
    const result = parseNotification(body, signRawBody(body, KEY), KEY);
    expect(result.valid).toBe(true);
    expect(result.body).toBeUndefined();
    expect(result.status).toBeUndefined();
    expect(result.reason).toContain('subscription');
  });

  it('never throws on garbage, and never accepts unsigned garbage', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 300 }), fc.json()),
        fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
        (body, signature) => {
          const result = parseNotification(body, signature, KEY);
          expect(result.valid).toBe(false);
        },
      ),
    );
    // Signed garbage: never throws either, and is only valid if it really is a notification.
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.json()), (body) => {
        const raw = typeof body === 'string' ? body : Buffer.from(body);
        const result = parseNotification(raw, signRawBody(raw, KEY), KEY);
        if (result.valid)
          expect(result.body === undefined || typeof result.body.txamt === 'number').toBe(true);
      }),
    );
    expect(parseNotification(42 as unknown as string, 'x', KEY).valid).toBe(false);
  });
});
