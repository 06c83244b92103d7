import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { FaultInput } from '../../src/simulator/index.js';
import {
  callTool,
  callWrite,
  clearFaults,
  connectRuntime,
  countRequests,
  injectFault,
  setSimulatedNoon,
  simulatorRequests,
  simulatorTransactions,
} from './helpers.js';
import type { Connected, ToolAnswer } from './helpers.js';

/**
 * Every way an answer to a money-moving call can be lost or untrustworthy (a lost answer after
 * commit, an unverifiable answer, a 5xx), driven through the real MCP tools against the simulator's fault injection.
 * The invariants, checked against the simulator's books after each case:
 * - exactly ONE POST of the payment/refund reaches QFPay (a lost answer is never re-sent);
 * - the tool reports what the books say after querying the same out_trade_no, or UNKNOWN —
 *   never PAID for money that was not taken, never FAILED for money that was;
 * - queries retry with backoff and succeed after transient faults;
 * - the runtime keeps answering afterwards.
 */

const PAYMENT = '/trade/v1/payment';
const REFUND = '/trade/v1/refund';
const QUERY = '/trade/v1/query';
/** The client's deadline per exchange (QFPAY_TIMEOUT_MS, at its 1 s minimum). */
const DEADLINE_MS = 1_000;
const PAST_DEADLINE_MS = 1_600;

let env: Connected;
let sequence = 0;
const nextRef = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${++sequence}`;

beforeAll(async () => {
  env = await connectRuntime(
    { QFPAY_TIMEOUT_MS: String(DEADLINE_MS) },
    {
      // Long enough for a payment booked 1.6 s after it was sent to be found; short enough for CI.
      unknownOutcomeWindowMs: 2_500,
      pollIntervalMs: 100,
      retry: { readBaseDelayMs: 40, readMaxDelayMs: 200 },
    },
  );
  // Mid-month, mid-day: far from the 23:30–00:30 refund blackout and from month ends.
  await setSimulatedNoon(env.simulatorUrl, '2026-03-16');
});

afterAll(async () => {
  await env.close();
});

beforeEach(async () => {
  await clearFaults(env.simulatorUrl);
});

/** Wallet codes: the simulator reads the last four digits as the wallet's answer. */
const PAYS = '280000000000000001';
const INSUFFICIENT_BALANCE = '280000000000001201';
const PIN_PENDING = '280000000000001143';

function cpmPayment(outTradeNo: string, authCode = PAYS): Record<string, unknown> {
  return { pay_type: '800108', txamt: 1_250, txcurrcd: 'HKD', auth_code: authCode, out_trade_no: outTradeNo };
}

async function bookedPayment(outTradeNo: string) {
  return (await simulatorTransactions(env.simulatorUrl)).find(
    (t) => t.out_trade_no === outTradeNo && t.order_type === 'payment',
  );
}

/** The invariant of every write: the status shown is the books' status, or UNKNOWN with no claim. */
function expectTruthful(answer: ToolAnswer, bookedState: string | undefined): void {
  const status = answer.structured.status;
  if (bookedState === undefined) {
    expect(answer.isError).toBe(true);
    expect(status).toBe('UNKNOWN');
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'unknown_outcome' }));
    expect(String(answer.structured.next_action)).toMatch(/Do not create a new order/);
    return;
  }
  expect(status).toBe(bookedState);
}

interface PaymentCase {
  readonly name: string;
  readonly fault: Omit<FaultInput, 'paths' | 'count'>;
  readonly authCode?: string;
  /** What the simulator's books hold afterwards; undefined = nothing was booked. */
  readonly booked: 'PAID' | 'FAILED' | undefined;
}

const PAYMENT_CASES: PaymentCase[] = [
  {
    name: 'latency past the deadline, processed after the client gave up',
    fault: { kind: 'latency', latencyMs: PAST_DEADLINE_MS },
    booked: 'PAID',
  },
  {
    name: 'latency past the deadline after commit',
    fault: { kind: 'latency', latencyMs: PAST_DEADLINE_MS, afterCommit: true },
    booked: 'PAID',
  },
  { name: 'connection dropped after commit', fault: { kind: 'drop_after_commit' }, booked: 'PAID' },
  { name: 'malformed JSON', fault: { kind: 'malformed_json' }, booked: 'PAID' },
  { name: 'wrong response signature', fault: { kind: 'bad_signature' }, booked: 'PAID' },
  { name: 'HTML error page, not processed', fault: { kind: 'html_error', status: 502 }, booked: undefined },
  {
    name: 'HTML error page after commit',
    fault: { kind: 'html_error', status: 504, commit: true },
    booked: 'PAID',
  },
  { name: '5xx, not processed', fault: { kind: 'http5xx', status: 503 }, booked: undefined },
  { name: '5xx after commit', fault: { kind: 'http5xx', status: 500, commit: true }, booked: 'PAID' },
  {
    name: 'dropped answer of a payment the wallet refused',
    fault: { kind: 'drop_after_commit' },
    authCode: INSUFFICIENT_BALANCE,
    booked: 'FAILED',
  },
  {
    name: 'malformed answer of a payment pending the customer PIN',
    fault: { kind: 'malformed_json' },
    authCode: PIN_PENDING,
    booked: 'PAID',
  },
];

describe('create_payment whose answer is lost or untrustworthy', () => {
  it.each(PAYMENT_CASES)('$name → one POST, result from the books ($booked)', async (testCase) => {
    const ref = nextRef('wf_pay');
    await injectFault(env.simulatorUrl, { ...testCase.fault, paths: [PAYMENT], count: 1 });
    const postsBefore = await countRequests(env.simulatorUrl, PAYMENT);

    const answer = await callWrite(env.client, 'create_payment', cpmPayment(ref, testCase.authCode));

    expect(await countRequests(env.simulatorUrl, PAYMENT)).toBe(postsBefore + 1);
    const booked = await bookedPayment(ref);
    expect(booked?.state).toBe(testCase.booked);
    expectTruthful(answer, booked?.state);
    expect(answer.structured.out_trade_no).toBe(ref);
    if (booked) {
      // Resolved by querying the same out_trade_no, never by trusting the damaged answer.
      expect(answer.structured.reconciled).toBe(true);
      expect(answer.structured.syssn).toBe(booked.syssn);
    }
  });

  it('a payment that succeeds after the faults are gone is unaffected (control)', async () => {
    const ref = nextRef('wf_pay_ok');
    const answer = await callWrite(env.client, 'create_payment', cpmPayment(ref));
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('PAID');
    expect(answer.structured.reconciled).toBeUndefined();
  });
});

interface RefundCase {
  readonly name: string;
  readonly fault: Omit<FaultInput, 'paths' | 'count'>;
  readonly booked: boolean;
}

const REFUND_CASES: RefundCase[] = [
  {
    name: 'latency past the deadline',
    fault: { kind: 'latency', latencyMs: PAST_DEADLINE_MS },
    booked: true,
  },
  { name: 'connection dropped after commit', fault: { kind: 'drop_after_commit' }, booked: true },
  { name: 'malformed JSON', fault: { kind: 'malformed_json' }, booked: true },
  { name: 'wrong response signature', fault: { kind: 'bad_signature' }, booked: true },
  { name: 'HTML error page, not processed', fault: { kind: 'html_error' }, booked: false },
  { name: '5xx, not processed', fault: { kind: 'http5xx' }, booked: false },
  { name: '5xx after commit', fault: { kind: 'http5xx', commit: true }, booked: true },
];

describe('refund whose answer is lost or untrustworthy', () => {
  it.each(REFUND_CASES)('$name → one refund POST, status from the books', async (testCase) => {
    const paid = await callWrite(env.client, 'create_payment', cpmPayment(nextRef('wf_rf_pay')));
    expect(paid.structured.status).toBe('PAID');
    const refundRef = nextRef('wf_rf');
    await injectFault(env.simulatorUrl, { ...testCase.fault, paths: [REFUND], count: 1 });
    const refundsBefore = await countRequests(env.simulatorUrl, REFUND);

    const answer = await callWrite(env.client, 'refund', {
      syssn: paid.structured.syssn,
      txamt: 500,
      out_trade_no: refundRef,
    });

    expect(await countRequests(env.simulatorUrl, REFUND)).toBe(refundsBefore + 1);
    const books = await simulatorTransactions(env.simulatorUrl);
    const payment = books.find((t) => t.syssn === paid.structured.syssn);
    const refund = books.find((t) => t.out_trade_no === refundRef);
    expect(refund !== undefined).toBe(testCase.booked);
    expect(payment?.refunded_amount).toBe(testCase.booked ? 500 : 0);
    expect(answer.structured.out_trade_no).toBe(refundRef);
    if (testCase.booked) {
      expect(answer.isError).toBe(false);
      expect(answer.structured.status).toBe('PARTIALLY_REFUNDED');
      expect(answer.structured.reconciled).toBe(true);
      expect(answer.structured.refundable_txamt).toBe(750);
    } else {
      expect(answer.isError).toBe(true);
      // Never "refunded" and never "failed": the refund's fate is open until a query shows it.
      expect(answer.structured.status).not.toMatch(/REFUNDED|FAILED/);
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'unknown_outcome' }));
    }
  });
});

describe('query_transaction after transient faults', () => {
  let ref: string;
  let syssn: unknown;

  beforeAll(async () => {
    ref = nextRef('wf_read');
    const paid = await callWrite(env.client, 'create_payment', cpmPayment(ref));
    syssn = paid.structured.syssn;
  });

  const TRANSIENT: { name: string; fault: Omit<FaultInput, 'paths'>; attempts: number }[] = [
    { name: 'two 503s', fault: { kind: 'http5xx', count: 2 }, attempts: 3 },
    { name: 'an HTML page', fault: { kind: 'html_error', count: 1 }, attempts: 2 },
    { name: 'malformed JSON', fault: { kind: 'malformed_json', count: 1 }, attempts: 2 },
    { name: 'a wrong signature', fault: { kind: 'bad_signature', count: 1 }, attempts: 2 },
    { name: 'a dropped connection', fault: { kind: 'drop_after_commit', count: 1 }, attempts: 2 },
    {
      name: 'latency past the deadline',
      fault: { kind: 'latency', latencyMs: PAST_DEADLINE_MS, count: 1 },
      attempts: 2,
    },
  ];

  it.each(TRANSIENT)(
    'retries with backoff after $name and returns the truth',
    async ({ fault, attempts }) => {
      await injectFault(env.simulatorUrl, { ...fault, paths: [QUERY] });
      const before = (await simulatorRequests(env.simulatorUrl)).length;

      const answer = await callTool(env.client, 'query_transaction', { out_trade_no: ref });

      expect(answer.isError).toBe(false);
      expect(answer.structured.status).toBe('PAID');
      expect(answer.structured.syssn).toBe(syssn);
      // The lookup by out_trade_no also searches the previous month once the current one answered
      // (QFPay's default range is the current month), hence one query more than the attempts.
      const all = (await simulatorRequests(env.simulatorUrl)).slice(before).filter((r) => r.path === QUERY);
      expect(all).toHaveLength(attempts + 1);
      const queries = all.slice(0, attempts);
      // Backoff: each retry waits at least half the base delay (jitter is 0.5–1.0×) after the
      // previous attempt arrived; a latency fault only delays the answer, not the arrival.
      for (let i = 1; i < queries.length; i++) {
        expect(queries[i]!.at_ms - queries[i - 1]!.at_ms).toBeGreaterThanOrEqual(20);
      }
    },
  );

  it('gives up after its attempts with a clear error, not a crash, when QFPay stays down', async () => {
    await injectFault(env.simulatorUrl, { kind: 'http5xx', count: 50, paths: [QUERY] });
    const before = await countRequests(env.simulatorUrl, QUERY);

    const answer = await callTool(env.client, 'query_transaction', { out_trade_no: ref });

    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/HTTP 503/);
    expect(answer.text).not.toMatch(/\n\s+at /); // no stack trace
    expect(await countRequests(env.simulatorUrl, QUERY)).toBe(before + 3);
  });
});

describe('after every fault above', () => {
  it('the runtime still answers reference and live calls', async () => {
    await clearFaults(env.simulatorUrl);
    const explained = await callTool(env.client, 'explain_respcd', { respcd: '1145' });
    expect(explained.isError).toBe(false);
    const paid = await callWrite(env.client, 'create_payment', cpmPayment(nextRef('wf_after')));
    expect(paid.structured.status).toBe('PAID');
    expect(env.logs.some((line) => /unhandled|TypeError|ReferenceError/.test(line))).toBe(false);
  });
});
