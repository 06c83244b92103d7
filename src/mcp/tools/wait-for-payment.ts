import * as z from 'zod';

import { languageInput } from '../../qfpay/language.js';
import { isFinal } from '../../qfpay/outcome.js';
import { pollUntilFinal } from '../../qfpay/reconcile.js';
import { refundViewSchema, sharedResultShape } from '../result-shape.js';
import type { NormalisedStatus } from '../../qfpay/types.js';
import { defineTool, type ToolCall, type ToolOutput } from './define.js';
import { unlisting } from './compact-schema.js';
import { outTradeNoInput, syssnInput } from './inputs.js';
import { paymentRef } from './lookup.js';
import { describeRef, nextActionFor, paymentView, sharedFieldsOf } from './views.js';
import { requireClient } from './write-flow.js';

/**
 * 45 s by default: under the 60 s request timeout most MCP clients apply when they do not reset
 * it on progress, and the window WeChat Pay recommends for polling a scanned-code payment.
 */
const DEFAULT_TIMEOUT_SECONDS = 45;
const MAX_TIMEOUT_SECONDS = 300;

const inputSchema = z.strictObject({
  syssn: syssnInput.optional(),
  out_trade_no: outTradeNoInput.optional(),
  timeout_seconds: z
    .int()
    .min(1)
    .max(MAX_TIMEOUT_SECONDS)
    .default(DEFAULT_TIMEOUT_SECONDS)
    .describe('Over 60 s, your client must reset its timeout on progress'),
  lang: languageInput,
});

const outputSchema = z.object(
  unlisting(
    {
      ...sharedResultShape,
      pay_type: z.string().optional(),
      status_text: z.string().optional(),
      respcd_meaning: z.string().optional(),
      final: z.boolean().optional().describe('True when the status can no longer change by itself.'),
      timed_out: z
        .boolean()
        .optional()
        .describe('True when timeout_seconds passed before the payment was final.'),
      polls: z.int().optional().describe('How many times QFPay was queried.'),
      waited_seconds: z.number().optional(),
      refunds: z.array(refundViewSchema).optional(),
      refundable_txamt: z.int().optional(),
      refundable_display: z.string().optional(),
    },
    ['pay_type', 'status_text', 'respcd_meaning', 'polls', 'waited_seconds', 'refunds', 'refundable_display'],
  ),
);

type Output = z.output<typeof outputSchema>;

export const waitForPaymentTool = defineTool({
  name: 'wait_for_payment',
  title: 'Wait for a payment',
  description:
    'Polls one payment until final or timeout_seconds, with progress; cancelling stops only the wait. At timeout (timed_out: true) wait again, or cancel_payment if the customer gave up; never a new order.',
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
    const ref = paymentRef(args.syssn, args.out_trade_no, 'out_trade_no');
    const timeoutMs = args.timeout_seconds * 1000;
    let lastProgress = -1;
    const started = Date.now();
    const result = await pollUntilFinal(client, ref, {
      timeoutMs,
      ...(call.deps.timing.pollIntervalMs !== undefined
        ? { intervalMs: call.deps.timing.pollIntervalMs }
        : {}),
      signal: call.signal,
      ...(call.deps.paymentEvents
        ? { wakeOn: (wake: () => void) => call.deps.paymentEvents!.subscribeTo(ref, wake) }
        : {}),
      onPoll: ({ attempt, status, elapsedMs }) => {
        // Progress must strictly increase; elapsed tenths of a second, never repeated.
        const progress = Math.max(lastProgress + 0.1, Math.round(elapsedMs / 100) / 10);
        lastProgress = progress;
        void call.reportProgress({
          progress,
          total: args.timeout_seconds,
          message: `poll ${attempt}: ${status} after ${Math.round(elapsedMs / 1000)} s`,
        });
      },
    });
    const waited = Math.round((Date.now() - started) / 100) / 10;
    const base = {
      environment: call.deps.environment,
      final: !result.timedOut && result.summary !== undefined && isFinal(result.status),
      timed_out: result.timedOut,
      polls: result.polls,
      waited_seconds: waited,
    };
    if (!result.summary || !result.summary.payment_found) {
      const next = `No payment with ${describeRef(ref)} is visible at QFPay yet. Check the reference and environment; if create_payment's outcome was unknown, query again shortly and do not create a new order meanwhile.`;
      const structured: Output = { ...base, status: 'UNKNOWN', ...ref, next_action: next };
      return {
        structured,
        summary: `After ${waited} s and ${result.polls} poll(s), ${describeRef(ref)} was not found.\nNext: ${next}`,
      };
    }
    const view = paymentView(result.summary, call.language);
    if (base.final) await noteFinal(call, view);
    // Seen changing during this wait (its first poll was not final): subscribers hear of it.
    if (base.final && result.polls > 1)
      call.deps.paymentEvents?.publish({
        out_trade_no: view.out_trade_no,
        syssn: view.syssn,
        status: view.status,
      });
    const next = result.timedOut
      ? timedOutNextAction(view.status, ref, args.timeout_seconds)
      : nextActionFor(
          view.status,
          { ...view, authorisation: result.summary.authorisation },
          view.refundable_display,
        );
    const structured: Output = {
      ...base,
      ...sharedFieldsOf(view),
      pay_type: view.pay_type,
      // Words for people, outside English only: the English answer stays as short as it was.
      ...(view.status_text ? { status_text: view.status_text } : {}),
      ...(call.language !== 'en' && view.respcd_meaning ? { respcd_meaning: view.respcd_meaning } : {}),
      refunds: view.refunds,
      refundable_txamt: view.refundable_txamt,
      ...(view.refundable_display ? { refundable_display: view.refundable_display } : {}),
      next_action: next,
    };
    const status = view.status_text ? `${view.status} (${view.status_text})` : view.status;
    const verdict = result.timedOut
      ? `still ${status} after ${waited} s (timed out)`
      : `${status} after ${waited} s`;
    return {
      structured,
      summary: `Payment ${view.out_trade_no} (syssn ${view.syssn}, ${view.amount_display ?? ''}): ${verdict}, ${result.polls} poll(s).\nNext: ${next}`,
    };
  },
});

function timedOutNextAction(
  status: string,
  ref: { syssn?: string; out_trade_no?: string },
  waitedSeconds: number,
): string {
  const id = describeRef(ref);
  if (status === 'AWAITING_CUSTOMER') {
    return `The customer has not paid within ${waitedSeconds} s. Call wait_for_payment again with ${id} to keep waiting, or cancel_payment if the customer gave up. Do not create a new order for the same purchase while this one is open.`;
  }
  if (status === 'PROCESSING') {
    return `The wallet is still processing. Call wait_for_payment again with ${id}. Do not create a new order and do not re-send the payment.`;
  }
  return `The outcome is still unknown. Call wait_for_payment or query_transaction again with ${id}; do not create a new order meanwhile.`;
}

/** A final state seen here goes into the ledger of an order this server sent; best effort. */
async function noteFinal(
  call: ToolCall,
  view: { out_trade_no: string; syssn: string; status: NormalisedStatus },
): Promise<void> {
  try {
    await call.deps.guard.noteObserved?.({
      out_trade_no: view.out_trade_no,
      syssn: view.syssn,
      status: view.status,
      message: 'seen final by wait_for_payment',
    });
  } catch (error) {
    call.deps.log(
      `qfpay-mcp: could not record what wait_for_payment saw: ${error instanceof Error ? error.message : 'error'}`,
    );
  }
}
