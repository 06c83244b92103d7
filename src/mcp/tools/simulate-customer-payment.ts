import * as z from 'zod';

import { sharedResultShape } from '../result-shape.js';
import { sanitizeUpstreamText } from '../../safety/sanitize.js';
import { defineTool, type ToolCall, type ToolOutput, ToolFailure } from './define.js';
import { unlisting } from './compact-schema.js';
import { outTradeNoInput, syssnInput } from './inputs.js';
import { findPayment, paymentRef } from './lookup.js';
import { describeRef, nextActionFor, type TransactionRef } from './views.js';
import { requireClient } from './write-flow.js';

const CONTROL_TIMEOUT_MS = 10_000;

const inputSchema = z.strictObject({
  syssn: syssnInput.optional(),
  out_trade_no: outTradeNoInput.optional(),
  outcome: z.enum(['pay', 'fail', 'expire']),
});

const outputSchema = z.object(
  unlisting(
    {
      ...sharedResultShape,
      simulated_outcome: z.enum(['pay', 'fail', 'expire']).optional(),
    },
    ['simulated_outcome'],
  ),
);

type Output = z.output<typeof outputSchema>;

export const simulateCustomerPaymentTool = defineTool({
  name: 'simulate_customer_payment',
  title: 'Simulate the customer',
  description:
    'Local simulator only: plays the customer of a waiting payment (pay, fail or expire), then reads it back.',
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
    const ref = paymentRef(args.syssn, args.out_trade_no, 'out_trade_no');
    await driveSimulator(call, ref, args.outcome);
    const payment = await findPayment(client, ref, call.signal);
    call.deps.paymentEvents?.publish({
      out_trade_no: payment.out_trade_no,
      syssn: payment.syssn,
      status: payment.status,
    });
    const next = nextActionFor(payment.status, payment);
    const structured: Output = {
      environment: call.deps.environment,
      simulated_outcome: args.outcome,
      status: payment.status,
      syssn: payment.syssn,
      out_trade_no: payment.out_trade_no,
      ...(payment.txamt !== null ? { txamt: payment.txamt } : {}),
      txcurrcd: payment.txcurrcd,
      respcd: payment.respcd,
      next_action: next,
    };
    return {
      structured,
      summary: `Simulated customer "${args.outcome}" on ${describeRef(ref)}: the payment is now ${payment.status}.\nNext: ${next}`,
    };
  },
});

async function driveSimulator(
  call: ToolCall,
  ref: TransactionRef,
  outcome: 'pay' | 'fail' | 'expire',
): Promise<void> {
  const base = call.deps.simulatorBaseUrl;
  if (call.deps.environment !== 'local' || !base) {
    throw new ToolFailure({
      kind: 'configuration',
      message: 'simulate_customer_payment only works against the local simulator.',
      next_action:
        'In other environments a real customer pays with a real wallet; use wait_for_payment to follow it.',
    });
  }
  // Loaded on use: undici is the largest import on the server's cold start (BENCHMARKS.md §4).
  const { request } = await import('undici');
  const response = await request(`${base}/__sim/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...ref, outcome }),
    signal: AbortSignal.any([call.signal, AbortSignal.timeout(CONTROL_TIMEOUT_MS)]),
  });
  const text = await response.body.text();
  if (response.statusCode >= 200 && response.statusCode < 300) return;
  throw new ToolFailure({
    kind: response.statusCode === 404 ? 'not_found' : 'refused',
    message: `The simulator refused: ${simulatorMessage(text) || `HTTP ${response.statusCode}`}`,
    next_action:
      'Check the reference with query_transaction: only a payment that is AWAITING_CUSTOMER or PROCESSING can be paid, failed or expired.',
  });
}

function simulatorMessage(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: unknown; message?: unknown };
    return sanitizeUpstreamText(json.error ?? json.message ?? '', 200);
  } catch {
    return sanitizeUpstreamText(text, 200);
  }
}
