import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CURRENCIES,
  PAY_TYPES,
  PAY_TYPE_CODES,
  PENDING_CODES,
  RESPCD_ENDPOINTS,
  RESPONSE_CODES,
  explainRespcd,
  filterPayTypes,
  findCurrency,
  findPayType,
  findResponseCode,
} from '../src/qfpay/catalog/index.js';
import type { PayMode } from '../src/qfpay/catalog/index.js';

/** QFPay's current status-code table (D 02-paycode.md, M status-codes.md), typed in independently. */
const DOCUMENTED_CODES = [
  '0000', '1100', '1101', '1102', '1103', '1104', '1105', '1106', '1107', '1108', '1125', '1136', '1142',
  '1143', '1145', '1147', '1150', '1155', '1181', '1201', '1202', '1203', '1204', '1205', '1212', '1241',
  '1242', '1243', '1250', '1251', '1252', '1254', '1260', '1261', '1262', '1263', '1264', '1265', '1266',
  '1267', '1268', '1269', '1270', '1271', '1272', '1294', '1295', '1296', '1297', '1298', '2005', '2011',
]; // prettier-ignore

/** Current pay types: QFPay's pay-type table, the newer docs' additions, pre-auth and ECR. */
const DOCUMENTED_PAY_TYPES = [
  '800008', '800101', '800108', '801101', '801107', '801110', '800107', '801501', '801510', '801512',
  '801514', '800201', '800208', '800207', '800212', '800210', '800213', '801008', '801010', '805801',
  '805808', '805814', '805812', '800701', '800708', '800712', '800714', '802001', '803701', '803712',
  '803714', '803708', '802801', '802808', '806527', '806708', '806808', '801801', '801808', '801810',
  '801814',
]; // prettier-ignore

const TOOL_NAMES = [
  'query_transaction',
  'wait_for_payment',
  'refund',
  'cancel_payment',
  'diagnose_signature',
  'explain_respcd',
];
/** QFPay wire names that may legitimately appear in advice. */
const WIRE_NAMES = [
  'out_trade_no',
  'auth_code',
  'txamt',
  'txcurrcd',
  'txdtm',
  'syssn',
  'orig_syssn',
  'expired_time',
  'pay_type',
  'sub_openid',
  'pay_url',
  'pay_params',
  'order_type',
  'notify_type',
  'return_url',
];

describe('response codes', () => {
  it('has unique, well-formed, complete entries', () => {
    const codes = RESPONSE_CODES.map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const entry of RESPONSE_CODES) {
      expect(entry.code).toMatch(/^\d{4}$/);
      expect(['success', 'pending', 'failed', 'retryable']).toContain(entry.outcome);
      for (const text of [entry.meaning, entry.likelyCause, entry.nextAction]) {
        expect(text.trim().length, `${entry.code} text`).toBeGreaterThan(10);
      }
    }
  });

  it('covers every code of the current table as a non-legacy entry, plus legacy codes', () => {
    for (const code of DOCUMENTED_CODES) {
      const entry = findResponseCode(code);
      expect(entry, code).toBeDefined();
      expect(entry?.legacy, code).toBeUndefined();
    }
    expect(RESPONSE_CODES.filter((e) => !e.legacy).length).toBe(DOCUMENTED_CODES.length);
    expect(RESPONSE_CODES.length).toBeGreaterThanOrEqual(66);
    for (const code of ['1161', '2003', '2004', '2006', '2007']) {
      expect(findResponseCode(code)?.legacy, code).toBe(true);
    }
  });

  it('classifies pending and retryable codes as QFPay documents them', () => {
    expect([...PENDING_CODES].sort()).toEqual(['1143', '1145', '1161', '1295', '1298']);
    for (const code of ['1100', '1205', '1252', '1254', '1296', '1297']) {
      expect(findResponseCode(code)?.outcome, code).toBe('retryable');
      expect(findResponseCode(code)?.nextAction, code).toMatch(/query_transaction/);
    }
    expect(findResponseCode('0000')?.outcome).toBe('success');
    expect(findResponseCode('1294')?.outcome).toBe('failed');
  });

  it('never tells an agent to re-send or renumber a pending payment', () => {
    for (const code of PENDING_CODES) {
      const advice = findResponseCode(code)!.nextAction;
      expect(advice, code).toMatch(/do not create a new out_trade_no/i);
      expect(advice, code).toMatch(/wait_for_payment|query_transaction/);
    }
  });

  it('gives the specific advice for duplicates, signatures, refunds and risk', () => {
    for (const code of ['1102', '2011']) {
      const advice = findResponseCode(code)!.nextAction;
      expect(advice).toMatch(/already exists/);
      expect(advice).toMatch(/query_transaction/);
      expect(advice).toMatch(/Do not create a new order number/);
    }
    expect(findResponseCode('1108')!.nextAction).toMatch(/diagnose_signature/);
    expect(findResponseCode('2003')!.nextAction).toMatch(/diagnose_signature/);
    expect(findResponseCode('1265')!.meaning).toMatch(/between 23:30 and 00:30 Hong Kong time/);
    expect(findResponseCode('1265')!.nextAction).toMatch(/after 00:30 HKT/);
    expect(findResponseCode('1272')!.nextAction).toMatch(/at most what remains/);
    expect(findResponseCode('1294')!.nextAction).toMatch(/^Never retry automatically/);
  });

  it('only names real tools and wire fields in its advice', () => {
    const allowed = new Set([...TOOL_NAMES, ...WIRE_NAMES]);
    for (const entry of RESPONSE_CODES) {
      for (const word of entry.nextAction.match(/\b[a-z]+(?:_[a-z]+)+\b/g) ?? []) {
        expect(allowed.has(word), `${entry.code}: ${word}`).toBe(true);
      }
    }
  });

  it('normalises what QFPay sends', () => {
    expect(findResponseCode(' 1143 ')?.code).toBe('1143');
    // One official sample sends "respcd": 0000 unquoted, which JSON.parse turns into 0.
    expect(findResponseCode(String(JSON.parse('0')))?.code).toBe('0000');
    expect(findResponseCode('9999')).toBeUndefined();
    expect(findResponseCode('')).toBeUndefined();
  });
});

describe('explainRespcd', () => {
  it('reads a CPM payment 0000 as money taken', () => {
    const e = explainRespcd('0000', { endpoint: 'payment', mode: 'CPM' });
    expect(e).toMatchObject({ code: '0000', known: true, outcome: 'success' });
    expect(e.meaning).toMatch(/money has been taken/);
  });

  it.each(['MPM', 'WEB', 'WAP', 'APP', 'JSAPI', 'MINI'] satisfies PayMode[])(
    'reads a %s payment 0000 as created, not paid',
    (mode) => {
      const e = explainRespcd('0000', { endpoint: 'payment', mode });
      expect(e.outcome).toBe('pending');
      expect(e.meaning).toMatch(/NOT paid yet/);
      expect(e.next_action).toMatch(/wait_for_payment/);
      expect(e.context_note).toBeDefined();
    },
  );

  it('derives the mode from a pay type', () => {
    expect(explainRespcd('0000', { endpoint: 'payment', payType: '800208' }).outcome).toBe('success');
    expect(explainRespcd('0000', { endpoint: 'payment', payType: '800201' }).outcome).toBe('pending');
  });

  it('does not call a payment 0000 paid when the mode is unknown', () => {
    const e = explainRespcd('0000', { endpoint: 'payment' });
    expect(e.outcome).toBe('pending');
    expect(e.next_action).toMatch(/query_transaction/);
  });

  it('distinguishes the query answer from its rows', () => {
    const top = explainRespcd('0000', { endpoint: 'query' });
    expect(top.meaning).toMatch(/query itself worked/);
    expect(top.next_action).toMatch(/data\[\]/);
    const row = explainRespcd('0000', { endpoint: 'query_row' });
    expect(row.outcome).toBe('success');
    expect(row.meaning).toMatch(/transaction succeeded/);
    expect(row.next_action).toMatch(/cancel/);
  });

  it('reads refund, close, reversal and notification 0000', () => {
    expect(explainRespcd('0000', { endpoint: 'refund' }).meaning).toMatch(/Refund accepted/);
    expect(explainRespcd('0000', { endpoint: 'close' }).meaning).toMatch(/cancelled/);
    expect(explainRespcd('0000', { endpoint: 'reversal' }).meaning).toMatch(/cancelled/);
    const n = explainRespcd('0000', { endpoint: 'notification' });
    expect(n.meaning).toMatch(/always carry 0000/);
    expect(n.next_action).toMatch(/SUCCESS/);
  });

  it('adds a warning to a bare 0000', () => {
    const e = explainRespcd('0000');
    expect(e.context_note).toMatch(/NOT a payment/);
  });

  it('treats unknown codes safely per endpoint', () => {
    const payment = explainRespcd('4242', { endpoint: 'payment' });
    expect(payment).toMatchObject({ code: '4242', known: false, outcome: 'pending' });
    expect(payment.next_action).toMatch(/Query before deciding/);
    expect(explainRespcd('4242').outcome).toBe('pending');
    for (const endpoint of ['refund', 'close', 'reversal'] as const) {
      expect(explainRespcd('4242', { endpoint }).outcome, endpoint).toBe('failed');
    }
    expect(explainRespcd('4242', { endpoint: 'query_row' }).outcome).toBe('failed');
    expect(explainRespcd('4242', { endpoint: 'query' }).outcome).toBe('retryable');
    expect(explainRespcd('4242', { endpoint: 'notification' }).outcome).toBe('pending');
  });

  it('never reports success for anything but 0000', () => {
    for (const entry of RESPONSE_CODES.filter((e) => e.code !== '0000')) {
      for (const endpoint of [undefined, ...RESPCD_ENDPOINTS]) {
        const e = explainRespcd(entry.code, endpoint ? { endpoint } : {});
        expect(e.outcome, `${entry.code} @ ${endpoint}`).not.toBe('success');
        expect(e.known).toBe(true);
        expect(e.next_action.length).toBeGreaterThan(10);
      }
    }
  });

  it('keeps pending codes pending and adapts the advice per endpoint', () => {
    const refund = explainRespcd('1143', { endpoint: 'refund' });
    expect(refund.outcome).toBe('pending');
    expect(refund.next_action).toMatch(/Do not send a new refund/);
    const close = explainRespcd('1145', { endpoint: 'close' });
    expect(close.outcome).toBe('pending');
    expect(close.meaning).toMatch(/cancellation in progress/);
    const row = explainRespcd('1143', { endpoint: 'query_row', mode: 'MPM' });
    expect(row.next_action).toMatch(/has not paid yet/);
    const cpmRow = explainRespcd('1143', { endpoint: 'query_row', mode: 'CPM' });
    expect(cpmRow.next_action).toMatch(/cancel_payment/);
  });

  it('adapts retryable codes: query first for payments, failed inside query rows', () => {
    const payment = explainRespcd('1296', { endpoint: 'payment' });
    expect(payment.outcome).toBe('retryable');
    expect(payment.next_action).toMatch(/^Call query_transaction by out_trade_no first/);
    expect(explainRespcd('1296', { endpoint: 'refund' }).next_action).toMatch(/SAME out_trade_no/);
    expect(explainRespcd('1205', { endpoint: 'query_row' }).outcome).toBe('failed');
  });

  it('reads 1297 on close as "cannot cancel"', () => {
    const e = explainRespcd('1297', { endpoint: 'close' });
    expect(e.outcome).toBe('failed');
    expect(e.next_action).toMatch(/refund/);
    expect(explainRespcd('1297', { endpoint: 'payment' }).outcome).toBe('retryable');
  });

  it('flags legacy codes and non-0000 notifications', () => {
    expect(explainRespcd('1161').legacy).toBe(true);
    expect(explainRespcd('1161').outcome).toBe('pending');
    expect(explainRespcd('1143').legacy).toBeUndefined();
    expect(explainRespcd('1205', { endpoint: 'notification' }).context_note).toMatch(/always carry 0000/);
  });
});

describe('pay types', () => {
  const current = PAY_TYPES.filter((p) => !p.legacy);

  it('has unique, complete entries', () => {
    const codes = PAY_TYPES.map((p) => p.payType);
    expect(new Set(codes).size).toBe(codes.length);
    for (const p of PAY_TYPES) {
      expect(p.payType).toMatch(/^\d{6}$/);
      expect(p.name.length, p.payType).toBeGreaterThan(3);
      expect(p.regionNotes.length, p.payType).toBeGreaterThan(3);
      expect(p.optionalFields.length, p.payType).toBeGreaterThan(0);
      for (const f of p.requiredFields) expect(p.optionalFields, p.payType).not.toContain(f);
    }
  });

  it('lists every documented current pay type', () => {
    for (const code of DOCUMENTED_PAY_TYPES) {
      expect(findPayType(code)?.legacy, code).toBeUndefined();
    }
    expect(current.length).toBeGreaterThanOrEqual(36);
    expect(current.length).toBe(DOCUMENTED_PAY_TYPES.length);
  });

  it('requires the documented fields', () => {
    const cpm = PAY_TYPES.filter((p) => p.mode === 'CPM');
    expect(cpm.map((p) => p.payType).sort()).toEqual([
      '800008',
      '800108',
      '800208',
      '800708',
      '801008',
      '805808',
    ]);
    for (const p of cpm) expect(p.requiredFields, p.payType).toContain('auth_code');
    // Besides CPM only the pre-authorisation by scanned code (801801, labelled CPM) takes one.
    for (const p of PAY_TYPES.filter((t) => t.mode !== 'CPM' && t.payType !== '801801')) {
      expect(p.requiredFields, p.payType).not.toContain('auth_code');
    }
    expect(findPayType('800207')?.requiredFields).toEqual(['sub_openid']);
    expect(findPayType('800213')?.requiredFields).toEqual(['sub_openid']);
    expect(findPayType('800107')?.requiredFields).toEqual(['openid']);
    expect(findPayType('800212')?.requiredFields).toEqual(['extend_info']);
    for (const p of PAY_TYPES.filter((t) => t.mode === 'APP')) {
      expect(p.requiredFields, p.payType).toContain('goods_name');
    }
  });

  it('marks FPS as the only non-refundable current type and 801101 with its minimum', () => {
    expect(findPayType('802001')?.refundable).toBe(false);
    expect(current.filter((p) => !p.refundable).map((p) => p.payType)).toEqual(['802001']);
    expect(findPayType('801101')?.minimumExclusive).toEqual({ HKD: 100 });
    expect(current.filter((p) => p.minimumExclusive).map((p) => p.payType)).toEqual(['801101']);
  });

  it('returns what each mode returns', () => {
    const expected: Partial<Record<PayMode, string>> = {
      MPM: 'qrcode',
      WEB: 'pay_url',
      WAP: 'pay_url',
      APP: 'pay_params',
      JSAPI: 'pay_params',
      MINI: 'pay_params',
      CPM: 'none',
      CARD: 'none',
    };
    for (const p of PAY_TYPES.filter((t) => t.mode !== 'PREAUTH')) {
      expect(p.returns, p.payType).toBe(expected[p.mode]);
    }
    expect(findPayType('800201')?.returns).toBe('qrcode');
  });

  it('honours expired_time exactly for the documented types', () => {
    expect(
      PAY_TYPES.filter((p) => p.supportsExpiredTime)
        .map((p) => p.payType)
        .sort(),
    ).toEqual(['800101', '800201', '800213', '801010', '801101', '801107', '801501', '801510', '801512']);
    for (const p of PAY_TYPES) {
      expect(p.optionalFields.includes('expired_time'), p.payType).toBe(p.supportsExpiredTime);
    }
  });

  it('chooses the cancel endpoint by the documented rule', () => {
    // Alipay never closes (G: "Alipay not applicable"); WeChat/unified CPM reverse (D).
    for (const code of ['800101', '800108', '800208', '800008', '801101', '801107', '800107', '801801']) {
      expect(findPayType(code)?.cancelEndpoint, code).toBe('reversal');
    }
    for (const code of ['800201', '800207', '800212', '800213', '800210', '800701', '800708']) {
      expect(findPayType(code)?.cancelEndpoint, code).toBe('close');
    }
    for (const p of PAY_TYPES.filter((t) => t.mode === 'CARD')) {
      expect(p.cancelEndpoint, p.payType).toBe('none');
    }
  });

  it('cannot cancel Hong Kong pay types (D) and says what to do instead', () => {
    const hongKong = ['801501', '801510', '801512', '801514', '801008', '801010', '805801', '805808'];
    hongKong.push('805812', '805814', '800712', '800714', '802001', '803701', '803712', '803714');
    for (const code of hongKong) {
      const entry = findPayType(code)!;
      expect(entry.cancelEndpoint, code).toBe('none');
      expect(entry.cancelAdvice, code).toMatch(/QFPay does not cancel Hong Kong pay types/);
      expect(entry.cancelAdvice, code).toMatch(entry.mode === 'CPM' ? /Keep querying/ : /expires by itself/);
    }
    // Every type that can be created and cannot be cancelled carries advice.
    for (const p of PAY_TYPES.filter((t) => t.cancelEndpoint === 'none'))
      expect(p.cancelAdvice, p.payType).toBeTruthy();
    for (const p of PAY_TYPES.filter((t) => t.cancelEndpoint !== 'none'))
      expect(p.cancelAdvice, p.payType).toBeUndefined();
  });

  it('marks types this server cannot create', () => {
    for (const code of ['803708', '802801', '802808', '806527']) {
      expect(findPayType(code)?.apiCreatable, code).toBe(false);
    }
    for (const p of PAY_TYPES.filter((t) => t.mode === 'CARD')) {
      expect(p.apiCreatable, p.payType).toBe(false);
    }
  });

  it('creates the Alipay pre-authorisation types, in the currencies their page lists', () => {
    const currencies = ['AUD', 'HKD', 'MYR', 'NZD', 'PHP', 'SGD', 'THB', 'USD'];
    for (const code of ['801801', '801808', '801810', '801814']) {
      const entry = findPayType(code)!;
      expect(entry.mode, code).toBe('PREAUTH');
      expect(entry.apiCreatable, code).toBe(true);
      expect(entry.currencies, code).toEqual(currencies);
      expect(entry.regionNotes, code).toMatch(/capture_preauth/);
    }
    // The page labels 801801 CPM: the merchant scans the customer's code.
    expect(findPayType('801801')!.requiredFields).toEqual(['auth_code']);
    expect(findPayType('801808')!.returns).toBe('qrcode');
  });

  it('exposes an enum tuple of creatable current types', () => {
    expect(PAY_TYPE_CODES.length).toBeGreaterThan(25);
    for (const code of PAY_TYPE_CODES) {
      const p = findPayType(code)!;
      expect(p.apiCreatable && !p.legacy, code).toBe(true);
    }
    const schema = z.enum(PAY_TYPE_CODES);
    expect(schema.safeParse('800101').success).toBe(true);
    expect(schema.safeParse('802801').success).toBe(false);
    expect(schema.safeParse('805810').success).toBe(false);
  });

  it('filters by mode, wallet, text and legacy', () => {
    expect(filterPayTypes({ mode: 'MINI' }).map((p) => p.payType)).toEqual(['800213']);
    const payme = filterPayTypes({ wallet: 'PayMe' }).map((p) => p.payType);
    expect(payme).toEqual(['805801', '805808', '805814', '805812', '805810']);
    expect(filterPayTypes({ wallet: 'PayMe', includeLegacy: false })).toHaveLength(4);
    // Region notes are searched too: 800210's notes mention the FPS doc confusion.
    expect(filterPayTypes({ text: 'fps' }).map((p) => p.payType)).toEqual(['800210', '802001']);
    expect(filterPayTypes({ text: '  OCTOPUS ', apiCreatableOnly: true }).map((p) => p.payType)).toEqual([
      '803701',
      '803712',
      '803714',
    ]);
    expect(filterPayTypes({ wallet: 'Alipay', mode: 'CPM' }).map((p) => p.payType)).toEqual(['800108']);
    expect(filterPayTypes()).toHaveLength(PAY_TYPES.length);
  });
});

describe('currencies', () => {
  it('lists the 13 QFPay currencies with exponents and unit names', () => {
    expect(CURRENCIES).toHaveLength(13);
    expect(findCurrency('jpy')?.exponent).toBe(0);
    expect(findCurrency('HKD')?.exponent).toBe(2);
    for (const c of CURRENCIES) {
      expect(c.majorUnit, c.code).toBeDefined();
      expect(c.exponent === 0 || c.minorUnit !== undefined, c.code).toBe(true);
    }
  });
});
