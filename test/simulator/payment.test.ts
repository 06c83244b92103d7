import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import {
  control,
  cpmPayment,
  freshState,
  mpmPayment,
  qfOk,
  queryOne,
  TXDTM,
  uniqueOrderNo,
} from './helpers.js';

/** /trade/v1/payment: validation, CPM magic auth codes and the customer artefacts per mode. */

let sim: RunningSimulator;

beforeAll(async () => {
  // Time-based settlement off, so only queries settle pending CPM payments in these tests.
  sim = await startSimulator({ quiet: true, pendingSettle: { afterQueries: 2, afterSeconds: Infinity } });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await freshState(sim);
});

const pay = (params: Record<string, string>) => qfOk(sim, '/trade/v1/payment', params);

describe('field validation', () => {
  it.each([
    ['txamt', '1.00'],
    ['txamt', '0'],
    ['txamt', '-100'],
    ['txamt', '0100'],
    ['txamt', '123456789012'],
    ['txamt', '1e3'],
    ['txdtm', '2026-03-15T12:00:00'],
    ['txdtm', '2026-02-30 12:00:00'],
    ['txdtm', '2026-03-15 24:00:00'],
    ['txcurrcd', 'hkd'],
    ['txcurrcd', 'XYZ'],
    ['out_trade_no', 'has space'],
    ['out_trade_no', '订单1'],
    ['out_trade_no', 'x'.repeat(129)],
    ['expired_time', '4'],
    ['expired_time', '121'],
    ['notify_url', 'ftp://127.0.0.1/x'],
    ['goods_name', '名'.repeat(65)],
  ])('answers 1104 naming %s for %j', async (field, value) => {
    const answer = await pay(cpmPayment({ [field]: value }));
    expect(answer.respcd).toBe('1104');
    expect(answer.respmsg).toContain(field);
  });

  it.each(['pay_type', 'txamt', 'txcurrcd', 'out_trade_no', 'txdtm', 'auth_code'])(
    'answers 1104 when %s is missing',
    async (field) => {
      const params = cpmPayment();
      delete params[field];
      const answer = await pay(params);
      expect(answer.respcd).toBe('1104');
      expect(answer.respmsg).toMatch(new RegExp(`^missing required field ${field}`));
    },
  );

  it('answers 1104 for an unknown pay type and 1250 for a card type the API cannot create', async () => {
    const unknown = await pay(cpmPayment({ pay_type: '999999' }));
    expect(unknown.respcd).toBe('1104');
    expect(unknown.respmsg).toMatch(/999999/);
    const card = await pay(cpmPayment({ pay_type: '802801' }));
    expect(card.respcd).toBe('1250');
    expect(card.respmsg).toMatch(/Checkout|Element/);
  });

  it.each([
    ['800207', 'sub_openid'],
    ['800213', 'sub_openid'],
    ['800107', 'openid'],
    ['800212', 'extend_info'],
    ['801510', 'goods_name'],
  ])('pay type %s requires %s', async (payType, field) => {
    const answer = await pay(mpmPayment({ pay_type: payType }));
    expect(answer.respcd).toBe('1104');
    expect(answer.respmsg).toMatch(new RegExp(`missing required field ${field}.*${payType}`));
  });

  it('checks extend_info for WeChat H5 (800212)', async () => {
    const notJson = await pay(mpmPayment({ pay_type: '800212', extend_info: '{scene' }));
    expect(notJson.respcd).toBe('1104');
    expect(notJson.respmsg).toMatch(/JSON object/);
    const noScene = await pay(
      mpmPayment({ pay_type: '800212', extend_info: '{"spbill_create_ip":"1.2.3.4"}' }),
    );
    expect(noScene.respcd).toBe('1104');
    expect(noScene.respmsg).toMatch(/scene_info\.h5_info/);
    const ok = await pay(
      mpmPayment({
        pay_type: '800212',
        extend_info: JSON.stringify({
          scene_info: { h5_info: { type: 'Wap', wap_url: 'https://shop.example', wap_name: 'Shop' } },
          spbill_create_ip: '1.2.3.4',
        }),
      }),
    );
    expect(ok.respcd).toBe('0000');
    expect(ok.pay_url).toMatch(/^https:\/\/wx\.tenpay\.com\//);
  });

  it('enforces the "greater than HKD 1" minimum of 801101', async () => {
    const atMinimum = await pay(mpmPayment({ pay_type: '801101', txamt: '100' }));
    expect(atMinimum.respcd).toBe('1104');
    expect(atMinimum.respmsg).toMatch(/greater than 100/);
    expect((await pay(mpmPayment({ pay_type: '801101', txamt: '101' }))).respcd).toBe('0000');
  });
});

describe('out_trade_no uniqueness', () => {
  it('answers 1102 for an out_trade_no already used by a payment, paid or not', async () => {
    const params = cpmPayment();
    expect((await pay(params)).respcd).toBe('0000');
    const again = await pay(params);
    expect(again.respcd).toBe('1102');
    expect(again.respmsg).toMatch(/query/);
    const order = mpmPayment();
    await pay(order);
    expect((await pay({ ...order, txamt: '1' })).respcd).toBe('1102');
    // Only one transaction exists for each.
    const all = await qfOk(sim, '/trade/v1/query', {
      out_trade_no: `${params.out_trade_no},${order.out_trade_no}`,
    });
    expect(all.data).toHaveLength(2);
  });

  it('answers 1102 when a payment reuses a refund out_trade_no', async () => {
    const paid = await pay(cpmPayment());
    const refundNo = uniqueOrderNo('R');
    await qfOk(sim, '/trade/v1/refund', {
      syssn: paid.syssn!,
      out_trade_no: refundNo,
      txamt: '100',
      txdtm: TXDTM,
    });
    expect((await pay(cpmPayment({ out_trade_no: refundNo }))).respcd).toBe('1102');
  });

  it('does not burn an out_trade_no on a validation error', async () => {
    const params = cpmPayment();
    expect((await pay({ ...params, txamt: 'abc' })).respcd).toBe('1104');
    expect((await pay(params)).respcd).toBe('0000');
  });
});

describe('CPM', () => {
  it('takes the money at once: 0000, PAID, with wallet ids', async () => {
    const answer = await pay(cpmPayment({ txamt: '888' }));
    expect(answer).toMatchObject({
      respcd: '0000',
      resperr: '交易成功',
      txamt: '888',
      txcurrcd: 'HKD',
      pay_type: '800208',
    });
    expect(answer.chnlsn).not.toBe('');
    const row = await queryOne(sim, { syssn: answer.syssn! });
    expect(row).toMatchObject({ respcd: '0000', cancel: '0', order_type: 'payment', txamt: '888' });
  });

  it.each([
    ['1201', 'balance'],
    ['1202', 'payment code'],
    ['1294', 'risky'],
  ])('magic auth code ending %s fails the payment and leaves a FAILED row', async (code, words) => {
    const answer = await pay(cpmPayment({ auth_code: `28763443825${code}` }));
    expect(answer.respcd).toBe(code);
    expect(answer.resperr).toMatch(new RegExp(words));
    const row = await queryOne(sim, { syssn: answer.syssn! });
    expect(row?.respcd).toBe(code);
    const transactions = (await control(sim, 'GET', '/__sim/transactions')).body.transactions as {
      state: string;
    }[];
    expect(transactions.map((t) => t.state)).toEqual(['FAILED']);
  });

  it('magic 1143 stays pending for two queries, then reads PAID', async () => {
    const answer = await pay(cpmPayment({ auth_code: '134567890123451143' }));
    expect(answer.respcd).toBe('1143');
    expect(answer.syssn).toMatch(/^\d{26}$/);
    expect((await queryOne(sim, { syssn: answer.syssn! }))?.respcd).toBe('1143');
    expect((await queryOne(sim, { syssn: answer.syssn! }))?.respcd).toBe('1143');
    const third = await queryOne(sim, { syssn: answer.syssn! });
    expect(third).toMatchObject({ respcd: '0000', cancel: '0' });
    expect(third?.chnlsn).not.toBe('');
  });

  it('magic 1145 is also visible by out_trade_no while processing', async () => {
    const params = cpmPayment({ auth_code: '134567890123451145' });
    expect((await pay(params)).respcd).toBe('1145');
    expect((await queryOne(sim, { out_trade_no: params.out_trade_no! }))?.respcd).toBe('1145');
  });

  it('magic 1298 reports "network slow" although the payment went through', async () => {
    const answer = await pay(cpmPayment({ auth_code: '134567890123451298' }));
    expect(answer.respcd).toBe('1298');
    const row = await queryOne(sim, { syssn: answer.syssn! });
    expect(row?.respcd).toBe('0000');
  });

  it('a retryable magic code (1205) books nothing, so the same out_trade_no can be sent again', async () => {
    const params = cpmPayment({ auth_code: '134567890123451205' });
    const answer = await pay(params);
    expect(answer.respcd).toBe('1205');
    expect(answer.syssn).toBeUndefined();
    expect(await queryOne(sim, { out_trade_no: params.out_trade_no! })).toBeUndefined();
    expect((await pay({ ...params, auth_code: '134567890123456789' })).respcd).toBe('0000');
  });

  it('auth codes ending in 0000 or in a non-code succeed', async () => {
    expect((await pay(cpmPayment({ auth_code: '134567890123450000' }))).respcd).toBe('0000');
    expect((await pay(cpmPayment({ auth_code: '134567890123459999' }))).respcd).toBe('0000');
  });
});

describe('orders that wait for the customer', () => {
  it('MPM answers 0000 with a wallet QR and waits with row respcd 1143', async () => {
    const wechat = await pay(mpmPayment());
    expect(wechat.respcd).toBe('0000');
    expect(wechat.qrcode).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=\w+$/);
    const alipay = await pay(mpmPayment({ pay_type: '800101' }));
    expect(alipay.qrcode).toMatch(/^https:\/\/qr\.alipay\.com\//);
    const row = await queryOne(sim, { syssn: wechat.syssn! });
    expect(row).toMatchObject({ respcd: '1143', errmsg: 'order not yet paid', cancel: '0' });
  });

  it('web and WAP answer a pay_url', async () => {
    expect((await pay(mpmPayment({ pay_type: '801514' }))).pay_url).toMatch(
      /^https:\/\/intlmapi\.alipay\.com\//,
    );
    expect((await pay(mpmPayment({ pay_type: '805812' }))).pay_url).toMatch(/^https:\/\//);
  });

  it('JSAPI and mini-program answer WeChat JSAPI pay_params', async () => {
    for (const payType of ['800207', '800213']) {
      const answer = await pay(mpmPayment({ pay_type: payType, sub_openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }));
      expect(answer.respcd).toBe('0000');
      expect(Object.keys(answer.pay_params as object).sort()).toEqual(
        ['appId', 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp'].sort(),
      );
      expect((answer.pay_params as Record<string, string>).package).toMatch(/^prepay_id=/);
    }
  });

  it('WeChat in-app answers {appid, partnerid, prepayid, package "Sign=WXPay", noncestr, timestamp, sign}', async () => {
    const answer = await pay(mpmPayment({ pay_type: '800210', goods_name: 'Tea' }));
    const params = answer.pay_params as Record<string, string>;
    expect(Object.keys(params).sort()).toEqual(
      ['appid', 'noncestr', 'package', 'partnerid', 'prepayid', 'sign', 'timestamp'].sort(),
    );
    expect(params.package).toBe('Sign=WXPay');
  });

  it('Alipay in-app gives total_fee in major units', async () => {
    const hkd = await pay(mpmPayment({ pay_type: '801510', goods_name: 'Tea', txamt: '1' }));
    expect((hkd.pay_params as Record<string, string>).total_fee).toBe('0.01');
    const jpy = await pay(
      mpmPayment({ pay_type: '801510', goods_name: 'Tea', txamt: '500', txcurrcd: 'JPY' }),
    );
    expect((jpy.pay_params as Record<string, string>).total_fee).toBe('500');
    expect((jpy.pay_params as Record<string, string>).currency).toBe('JPY');
  });

  it('Alipay service window (800107) answers {tradeNO}', async () => {
    const answer = await pay(mpmPayment({ pay_type: '800107', openid: '2088102122524333' }));
    expect(Object.keys(answer.pay_params as object)).toEqual(['tradeNO']);
  });
});
