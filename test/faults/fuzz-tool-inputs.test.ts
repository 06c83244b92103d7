import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CURRENCY_CODES, PAY_TYPE_CODES, PAY_TYPES } from '../../src/qfpay/catalog/index.js';
import { MAX_TXAMT } from '../../src/qfpay/money.js';
import { callTool, connectRuntime, countRequests } from './helpers.js';
import type { Connected, ToolAnswer } from './helpers.js';

/**
 * Fuzzed tool inputs: wrong types, huge strings,
 * Unicode, negative and fractional amounts, unknown pay types and currencies, unknown keys.
 * Every generated input is invalid by construction; each must produce a clear isError result
 * naming the problem, send NOTHING upstream (counted at the simulator), and never crash.
 */

const RUNS = 150;
const CREATABLE: ReadonlySet<string> = new Set(PAY_TYPE_CODES);
let env: Connected;

beforeAll(async () => {
  env = await connectRuntime();
});

afterAll(async () => {
  await env.close();
});

/** Calls the tool and checks the invariants every invalid input must satisfy. */
async function expectRejectedLocally(
  tool: string,
  args: unknown,
  mentions: string | RegExp,
): Promise<ToolAnswer> {
  const before = await countRequests(env.simulatorUrl);
  const answer = await callTool(env.client, tool, args);
  expect(answer.isError, `${tool} accepted ${safeJson(args)}`).toBe(true);
  expect(await countRequests(env.simulatorUrl), `${tool} sent a request for ${safeJson(args)}`).toBe(before);
  expect(answer.text.length).toBeGreaterThan(0);
  expect(answer.text).toMatch(mentions);
  // An explanation, not an internal failure.
  expect(answer.text).not.toMatch(/\n\s+at |node_modules|TypeError|ReferenceError|Cannot read propert/);
  expect(answer.structured.confirmation_token).toBeUndefined();
  return answer;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value).slice(0, 200);
  } catch {
    return String(value);
  }
}

/** What z.url({ protocol: /^https?$/ }) would accept ("https:x" parses as https://x/). */
function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

const OUT_TRADE_NO = /^[A-Za-z0-9_|*]{1,128}$/;
const SYSSN = /^[A-Za-z0-9]{1,40}$/;

/** Values of the wrong JSON type for a field expecting `kind`. */
const wrongType = (kind: 'number' | 'string') =>
  fc.oneof(
    kind === 'number' ? fc.string() : fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
  );

/** Strings of any Unicode, including astral planes, combining marks and controls. */
const anyText = (options: { minLength?: number; maxLength?: number } = {}) =>
  fc.oneof(
    fc.string({ unit: 'binary', ...options }),
    fc.string({ unit: 'grapheme', ...options }),
    fc.string({
      unit: fc.constantFrom('\u0000', '\u202e', '\u200b', '\uffff', '😀', '中', 'é', ' ', ','),
      ...options,
    }),
  );

const invalidTxamt = fc.oneof(
  fc.integer({ min: -1_000_000_000, max: 0 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
  fc.double({ min: 0.001, max: 1_000_000, noNaN: true }).map((x) => Math.trunc(x) + 0.5),
  fc.integer({ min: MAX_TXAMT + 1, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(1e21, -0.01, Number.MIN_VALUE),
  fc.integer({ min: 1, max: 100_000 }).map(String),
  wrongType('number'),
);
const invalidPayType = fc.oneof(
  anyText({ maxLength: 12 }).filter((s) => !(PAY_TYPE_CODES as readonly string[]).includes(s)),
  // Real codes the server must still refuse: cards/pre-auth (not creatable) and legacy types.
  fc.constantFrom(...PAY_TYPES.filter((p) => !CREATABLE.has(p.payType)).map((p) => p.payType)),
  fc.integer({ min: 800_000, max: 809_999 }),
  wrongType('string'),
);
const invalidCurrency = fc.oneof(
  anyText({ maxLength: 8 }).filter((s) => !(CURRENCY_CODES as readonly string[]).includes(s)),
  fc.constantFrom(...CURRENCY_CODES.map((c) => c.toLowerCase()), 'HK$', 'RMB', 'BTC', 'XXX', 'HKD ', ' HKD'),
  wrongType('string'),
);
const invalidReference = fc.oneof(
  anyText({ maxLength: 40 }).filter((s) => !OUT_TRADE_NO.test(s)),
  fc
    .string({ minLength: 129, maxLength: 2_000 })
    .map((s) => `a${s.replace(/[^A-Za-z0-9]/g, 'b')}`.padEnd(129, 'x')),
  wrongType('string'),
);
const invalidSyssn = fc.oneof(
  anyText({ maxLength: 60 }).filter((s) => !SYSSN.test(s)),
  fc.stringMatching(/^[0-9]{41,80}$/),
  wrongType('string'),
);
const hugeText = fc.oneof(
  fc.string({ minLength: 65, maxLength: 20_000 }),
  fc.string({ unit: 'grapheme', minLength: 65, maxLength: 2_000 }),
);
/** Keys no tool declares (every input schema is strict). */
const unknownKey = anyText({ minLength: 1, maxLength: 20 }).filter(
  (k) =>
    !/^(pay_type|txamt|txcurrcd|out_trade_no|auth_code|goods_name|goods_info|expired_time|notify_url|return_url|sub_openid|openid|extend_info|limit_pay|pay_tag|rmb_tag|confirmation_token|syssn|orig_out_trade_no|start_time|end_time|page|page_size|timeout_seconds|respcd|__proto__|constructor)$/.test(
      k,
    ),
);

/** A valid MPM payment: sending it would create an order, so every case below corrupts it. */
const VALID_PAYMENT = { pay_type: '800101', txamt: 1_050, txcurrcd: 'HKD' };

describe('create_payment with invalid input', () => {
  it('rejects a bad txamt (negative, fractional, too large, wrong type) without calling QFPay', async () => {
    await fc.assert(
      fc.asyncProperty(invalidTxamt, async (txamt) => {
        await expectRejectedLocally('create_payment', { ...VALID_PAYMENT, txamt }, /txamt/);
      }),
      { numRuns: RUNS },
    );
  });

  it('rejects an unknown or non-creatable pay_type without calling QFPay', async () => {
    await fc.assert(
      fc.asyncProperty(invalidPayType, async (payType) => {
        await expectRejectedLocally('create_payment', { ...VALID_PAYMENT, pay_type: payType }, /pay_type/);
      }),
      { numRuns: RUNS },
    );
  });

  it('rejects an unknown currency (including lower case and look-alikes) without calling QFPay', async () => {
    await fc.assert(
      fc.asyncProperty(invalidCurrency, async (currency) => {
        await expectRejectedLocally('create_payment', { ...VALID_PAYMENT, txcurrcd: currency }, /txcurrcd/);
      }),
      { numRuns: RUNS },
    );
  });

  it('rejects malformed references, huge or odd text and unknown keys without calling QFPay', async () => {
    const corruption = fc.oneof(
      invalidReference.map((v) => ({ patch: { out_trade_no: v }, mentions: /out_trade_no/ })),
      hugeText.map((v) => ({ patch: { goods_name: v }, mentions: /goods_name/ })),
      fc
        .string({ minLength: 257, maxLength: 5_000 })
        .map((v) => ({ patch: { goods_info: v }, mentions: /goods_info/ })),
      anyText({ maxLength: 30 })
        .filter((s) => !/^[A-Za-z0-9]{6,128}$/.test(s))
        .map((v) => ({ patch: { pay_type: '800108', auth_code: v }, mentions: /auth_code/ })),
      fc
        .oneof(
          fc.integer({ max: 4 }),
          fc.integer({ min: 121 }),
          fc.double({ min: 5.1, max: 119.9, noNaN: true }),
        )
        .filter((n) => !Number.isInteger(n) || n < 5 || n > 120)
        .map((v) => ({ patch: { expired_time: v }, mentions: /expired_time/ })),
      anyText({ maxLength: 40 })
        .filter((s) => !isHttpUrl(s))
        .map((v) => ({ patch: { notify_url: v }, mentions: /notify_url/ })),
      fc.tuple(unknownKey, fc.anything()).map(([key, value]) => ({
        patch: { [key]: value },
        mentions: /Unrecognized key|unknown/i,
      })),
    );
    await fc.assert(
      fc.asyncProperty(corruption, async ({ patch, mentions }) => {
        await expectRejectedLocally('create_payment', { ...VALID_PAYMENT, ...patch }, mentions);
      }),
      { numRuns: RUNS },
    );
  });

  it('rejects fields that contradict the pay type (CPM without auth_code, auth_code on MPM)', async () => {
    const creatable = PAY_TYPES.filter((p) => CREATABLE.has(p.payType));
    const cpm = creatable.filter((p) => p.requiredFields.includes('auth_code')).map((p) => p.payType);
    const mpm = creatable
      .filter((p) => !p.requiredFields.includes('auth_code') && !p.optionalFields.includes('auth_code'))
      .map((p) => p.payType);
    expect(cpm.length).toBeGreaterThan(0);
    expect(mpm.length).toBeGreaterThan(0);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(...cpm).map((payType) => ({ pay_type: payType })),
          fc
            .tuple(fc.constantFrom(...mpm), fc.stringMatching(/^[0-9]{18}$/))
            .map(([payType, code]) => ({ pay_type: payType, auth_code: code })),
        ),
        // Above every per-type minimum, so the contradiction is the only thing wrong.
        fc.integer({ min: 10_001, max: 1_000_000 }),
        async (patch, txamt) => {
          await expectRejectedLocally(
            'create_payment',
            { ...VALID_PAYMENT, txamt, ...patch },
            /auth_code|required|not used/,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('refund, cancel_payment, query_transaction and wait_for_payment with invalid input', () => {
  it('refund: bad syssn, amount, references, token or keys → isError, nothing sent', async () => {
    const corruption = fc.oneof(
      invalidSyssn.map((v) => ({ args: { syssn: v }, mentions: /syssn/ })),
      invalidTxamt.map((v) => ({
        args: { syssn: '20260316000000000000000001', txamt: v },
        mentions: /txamt/,
      })),
      invalidReference.map((v) => ({
        args: { syssn: '20260316000000000000000001', out_trade_no: v },
        mentions: /out_trade_no/,
      })),
      invalidReference.map((v) => ({ args: { orig_out_trade_no: v }, mentions: /orig_out_trade_no/ })),
      fc.string({ minLength: 1_025, maxLength: 4_000 }).map((v) => ({
        args: { syssn: '20260316000000000000000001', confirmation_token: v },
        mentions: /confirmation_token/,
      })),
      fc.record({ txamt: fc.integer({ min: 1, max: 1_000 }) }).map((args) => ({ args, mentions: /syssn/ })),
      fc.tuple(unknownKey, fc.anything()).map(([key, value]) => ({
        args: { syssn: '20260316000000000000000001', [key]: value },
        mentions: /Unrecognized key|unknown/i,
      })),
    );
    await fc.assert(
      fc.asyncProperty(corruption, async ({ args, mentions }) => {
        await expectRejectedLocally('refund', args, mentions);
      }),
      { numRuns: RUNS },
    );
  });

  it('cancel_payment: bad syssn, amount or keys → isError, nothing sent', async () => {
    const corruption = fc.oneof(
      invalidSyssn.map((v) => ({ args: { syssn: v }, mentions: /syssn/ })),
      invalidReference.map((v) => ({ args: { out_trade_no: v }, mentions: /out_trade_no/ })),
      invalidTxamt.map((v) => ({
        args: { syssn: '20260316000000000000000001', txamt: v },
        mentions: /txamt/,
      })),
      fc.constant({ args: {}, mentions: /syssn/ }),
      fc.tuple(unknownKey, fc.anything()).map(([key, value]) => ({
        args: { syssn: '20260316000000000000000001', [key]: value },
        mentions: /Unrecognized key|unknown/i,
      })),
    );
    await fc.assert(
      fc.asyncProperty(corruption, async ({ args, mentions }) => {
        await expectRejectedLocally('cancel_payment', args, mentions);
      }),
      { numRuns: RUNS },
    );
  });

  it('query_transaction: bad ids, lists, pages, dates or combinations → isError, nothing sent', async () => {
    const range = { start_time: '2026-03-01 00:00:00', end_time: '2026-03-31 23:59:59' };
    const corruption = fc.oneof(
      invalidSyssn.map((v) => ({ args: { syssn: v }, mentions: /syssn/ })),
      fc
        .array(invalidReference, { minLength: 1, maxLength: 3 })
        .map((v) => ({ args: { out_trade_no: v }, mentions: /out_trade_no/ })),
      fc.array(fc.stringMatching(/^[A-Za-z0-9]{4,20}$/), { minLength: 51, maxLength: 120 }).map((v) => ({
        args: { out_trade_no: v },
        mentions: /out_trade_no|at most 50/,
      })),
      fc
        .oneof(
          fc.integer({ max: 0 }),
          fc.integer({ min: 101 }),
          fc.double({ min: 1.1, max: 99.9, noNaN: true }),
        )
        .filter((n) => !Number.isInteger(n) || n < 1 || n > 100)
        .map((v) => ({ args: { ...range, page_size: v }, mentions: /page_size/ })),
      fc
        .oneof(fc.integer({ max: 0 }), wrongType('number'))
        .map((v) => ({ args: { ...range, page: v }, mentions: /page/ })),
      anyText({ maxLength: 25 })
        .filter((s) => !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s))
        .map((v) => ({ args: { start_time: v, end_time: range.end_time }, mentions: /start_time/ })),
      fc.constant({
        args: { ...range, syssn: '20260316000000000000000001' },
        mentions: /start_time|cannot be combined/,
      }),
      anyText({ maxLength: 10 })
        .filter((s) => !/^\d{6}$/.test(s))
        .map((v) => ({ args: { ...range, pay_type: v }, mentions: /pay_type/ })),
      fc.constant({ args: {}, mentions: /syssn|start_time/ }),
    );
    await fc.assert(
      fc.asyncProperty(corruption, async ({ args, mentions }) => {
        await expectRejectedLocally('query_transaction', args, mentions);
      }),
      { numRuns: RUNS },
    );
  });

  it('wait_for_payment: bad ids or timeouts → isError, nothing sent', async () => {
    const corruption = fc.oneof(
      invalidSyssn.map((v) => ({ args: { syssn: v }, mentions: /syssn/ })),
      invalidReference.map((v) => ({ args: { out_trade_no: v }, mentions: /out_trade_no/ })),
      fc
        .oneof(
          fc.integer({ max: 0 }),
          fc.integer({ min: 301 }),
          // Fractions: 1.0 itself would be a valid timeout, so it is excluded.
          fc.double({ min: 0, max: 300, noNaN: true }).filter((x) => !Number.isInteger(x)),
          wrongType('number'),
        )
        .map((v) => ({
          args: { syssn: '20260316000000000000000001', timeout_seconds: v },
          mentions: /timeout_seconds/,
        })),
      fc.constant({ args: {}, mentions: /syssn/ }),
    );
    await fc.assert(
      fc.asyncProperty(corruption, async ({ args, mentions }) => {
        await expectRejectedLocally('wait_for_payment', args, mentions);
      }),
      { numRuns: RUNS },
    );
  });

  it('any tool given an arbitrary object of unknown fields answers isError and sends nothing', async () => {
    const tools = [
      'create_payment',
      'refund',
      'cancel_payment',
      'query_transaction',
      'wait_for_payment',
      'explain_respcd',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...tools),
        fc.dictionary(unknownKey, fc.anything({ maxDepth: 3 }), { minKeys: 0, maxKeys: 6 }),
        async (tool, args) => {
          await expectRejectedLocally(tool, args, /Unrecognized key|required|give|expected|Invalid/i);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('after the fuzzing', () => {
  it('the runtime still serves valid calls', async () => {
    const explained = await callTool(env.client, 'explain_respcd', { respcd: '1143' });
    expect(explained.isError).toBe(false);
    const listed = await callTool(env.client, 'query_transaction', { out_trade_no: 'never_created_1' });
    expect(listed.isError).toBe(false);
    expect(listed.structured.count).toBe(0);
  });
});
