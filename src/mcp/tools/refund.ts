import * as z from 'zod';

import { languageInput } from '../../qfpay/language.js';
import { explainRespcd, findPayType } from '../../qfpay/catalog/index.js';
import { amountInWords, amountDisplay } from '../../qfpay/money.js';
import type { PaymentSummary } from '../../qfpay/outcome.js';
import type { ModificationResponse, NormalisedStatus } from '../../qfpay/types.js';
import type { ExecutionReport, WriteIntent } from '../../safety/guard.js';
import { generateOutTradeNo } from '../order-number.js';
import { writeResultShape } from '../result-shape.js';
import {
  defineTool,
  type KnownFields,
  type ToolCall,
  type ToolOutput,
  ToolFailure,
  validationFailure,
} from './define.js';
import { unlisting } from './compact-schema.js';
import { confirmationTokenInput, outTradeNoInput, syssnInput, txamtInput } from './inputs.js';
import { findPayment, paymentRef } from './lookup.js';
import { payTypeLabel, type TransactionRef } from './views.js';
import {
  noteReconciliation,
  readCurrent,
  reconcileLostAnswer,
  type ReplayedWrite,
  replayPreamble,
  requireClient,
  sendThroughGuard,
} from './write-flow.js';

const inputSchema = z.strictObject({
  syssn: syssnInput.optional().describe("The PAYMENT's"),
  orig_out_trade_no: outTradeNoInput.optional().describe("The payment's"),
  txamt: txamtInput.optional().describe('Default: all that is refundable'),
  out_trade_no: outTradeNoInput.optional().describe("The refund's own NEW one; reuse to retry"),
  lang: languageInput,
  confirmation_token: confirmationTokenInput,
});

const outputSchema = z.object(
  unlisting(
    {
      ...writeResultShape,
      orig_syssn: z.string().optional().describe('syssn of the refunded payment.'),
      orig_out_trade_no: z.string().optional().describe('out_trade_no of the refunded payment.'),
      refunded_txamt: z
        .int()
        .optional()
        .describe('Total successfully refunded on the payment, including this refund when it went through.'),
      refundable_txamt: z.int().optional().describe('What can still be refunded afterwards, in minor units.'),
      refundable_display: z.string().optional(),
      reconciled: z
        .boolean()
        .optional()
        .describe(
          "True when QFPay's answer was lost and this result comes from querying the refund's out_trade_no.",
        ),
      replayed: z
        .boolean()
        .optional()
        .describe(
          "True when this refund's out_trade_no was already sent with the same arguments: nothing was sent again; the result is read from QFPay by that reference.",
        ),
    },
    ['replayed', 'orig_out_trade_no', 'refundable_display', 'reconciled'],
  ),
);

type Input = z.output<typeof inputSchema>;
type Output = z.output<typeof outputSchema>;

export const refundTool = defineTool({
  name: 'refund',
  title: 'Refund a payment',
  description:
    "Refunds a PAID or PARTIALLY_REFUNDED payment in full or in part; moves money. Checked first against the refundable remainder (refunds in flight count) and the pay type. The answer's status is the payment's; syssn and out_trade_no are the refund's.",
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
    const ref = paymentRef(args.syssn, args.orig_out_trade_no, 'orig_out_trade_no');
    // Concurrent refunds of one payment (in this process or any other sharing the money-state
    // store) can never add up to more than was paid: the guard checks the remainder in the same
    // atomic step that records the refund's intent.
    const syssn = ref.syssn ?? (await findPayment(client, ref, call.signal)).syssn;
    return refundPayment(args, call, { ...ref, syssn });
  },
});

async function refundPayment(args: Input, call: ToolCall, ref: TransactionRef): Promise<ToolOutput<Output>> {
  const found = await findPayment(requireClient(call), ref, call.signal);
  // A retry of a refund this server already sent is answered from its record (the guard replays
  // it, or refuses different arguments): the remainder has already moved by then, so the checks
  // below would misread it, and an omitted txamt means the amount it was first resolved to.
  const recalled = args.out_trade_no
    ? await call.deps.guard.recall?.('refund', args.out_trade_no)
    : undefined;
  const payment = recalled ? found : await withRefundsInFlight(call, found);
  const paymentKnown: KnownFields = {
    orig_syssn: payment.syssn,
    orig_out_trade_no: payment.out_trade_no,
    txcurrcd: payment.txcurrcd,
    refunded_txamt: payment.refunded_txamt,
    refundable_txamt: payment.refundable_txamt,
    refundable_display: amountDisplay(payment.refundable_txamt, payment.txcurrcd),
  };
  if (!recalled) checkRefundable(payment, paymentKnown);
  const txamt = args.txamt ?? recalled?.txamt ?? payment.refundable_txamt;
  if (!recalled) checkAmount(payment, txamt, paymentKnown);
  const refundNo = args.out_trade_no ?? generateOutTradeNo('mcprf');
  if (refundNo === payment.out_trade_no) {
    throw validationFailure(
      'out_trade_no',
      "is the payment's own reference; a refund needs a new one",
      'Leave out_trade_no out to have one generated, or pass a new unique reference.',
      paymentKnown,
    );
  }
  const known: KnownFields = {
    ...paymentKnown,
    out_trade_no: refundNo,
    txamt,
    amount_display: amountDisplay(txamt, payment.txcurrcd),
  };
  return sendRefund(
    call,
    args.confirmation_token,
    payment,
    known,
    writeIntent(call, payment, txamt, refundNo, found),
  );
}

function sendRefund(
  call: ToolCall,
  confirmationToken: string | undefined,
  payment: PaymentSummary,
  known: KnownFields,
  intent: WriteIntent,
): Promise<ToolOutput<Output>> {
  const client = requireClient(call);
  const { txamt, out_trade_no: refundNo } = intent;
  return sendThroughGuard(call, {
    intent,
    confirmationToken,
    // The signal reaches only the rate limiter's queue: a refund still waiting there when the
    // caller gives up is dropped unsent; once sent it is seen through.
    send: () =>
      client.refund({ syssn: payment.syssn, out_trade_no: refundNo, txamt }, { signal: call.signal }),
    describe: refundReport,
    known,
    endpoint: 'refund',
    payType: payment.pay_type,
    ref: { out_trade_no: refundNo },
    repeatHint: `including out_trade_no "${refundNo}" and txamt ${txamt}`,
    confirmationHeadline: `Confirmation required before refunding ${known.amount_display as string} of payment ${payment.syssn}.`,
    answerLost: () => reconcile(call, payment, txamt, known, intent),
    replayed: (outcome) => replay(call, known, intent, outcome),
    executed: (response) => answered(call, payment, txamt, known, response),
  });
}

function refundReport(response: ModificationResponse): ExecutionReport {
  return {
    status: response.respcd === '0000' ? 'REFUNDED' : 'PROCESSING',
    ...(response.syssn ? { syssn: response.syssn } : {}),
    respcd: response.respcd,
  };
}

/**
 * The payment with its refundable remainder lowered by refunds this server sent that QFPay's
 * query does not show yet (answer lost, still in flight, or beyond the query's refund scan).
 */
async function withRefundsInFlight(call: ToolCall, payment: PaymentSummary): Promise<PaymentSummary> {
  const visible = new Set(payment.refunds.map((refund) => refund.out_trade_no));
  let unaccounted: number;
  try {
    unaccounted = (await call.deps.guard.unaccountedDraws?.('refund', payment.syssn, visible)) ?? 0;
  } catch (error) {
    throw new ToolFailure({
      kind: 'refused',
      message: `The audit ledger cannot be read (${error instanceof Error ? error.message : 'unknown error'}), so refunds still in flight on payment ${payment.syssn} cannot be counted.`,
      next_action:
        'Nothing was sent to QFPay. Ask the operator to check the audit ledger (qfpay-mcp doctor), then try again.',
    });
  }
  if (unaccounted <= 0) return payment;
  return {
    ...payment,
    refund_processing_txamt: payment.refund_processing_txamt + unaccounted,
    refundable_txamt: Math.max(0, payment.refundable_txamt - unaccounted),
  };
}

function checkRefundable(payment: PaymentSummary, known: KnownFields): void {
  if (payment.authorisation) {
    throw new ToolFailure(
      {
        kind: 'refused',
        message: `${payment.syssn} is a pre-authorisation: it holds the money without taking it, so there is nothing to refund on it.`,
        next_action:
          "Nothing was sent. Refund a capture's syssn (capture_preauth returns it), or free what is not captured with release_preauth.",
      },
      { ...known, status: payment.status },
    );
  }
  const payType = findPayType(payment.pay_type);
  if (payType && !payType.refundable) {
    throw new ToolFailure(
      {
        kind: 'refused',
        message: `${payTypeLabel(payment.pay_type)} payments cannot be refunded through QFPay.`,
        next_action:
          'Nothing was sent. Return the money to the customer another way (for FPS, a transfer from the merchant bank account) and record it outside QFPay.',
      },
      { ...known, status: payment.status },
    );
  }
  if (payment.status === 'PAID' || payment.status === 'PARTIALLY_REFUNDED') return;
  throw new ToolFailure(
    {
      kind: 'refused',
      message: `Payment ${payment.syssn} is ${payment.status}; ${notRefundableBecause(payment.status)}`,
      next_action: notRefundableNext(payment),
    },
    { ...known, status: payment.status },
  );
}

function notRefundableBecause(status: NormalisedStatus): string {
  switch (status) {
    case 'REFUNDED':
      return 'it is already fully refunded.';
    case 'AWAITING_CUSTOMER':
    case 'PROCESSING':
      return 'it is not paid yet, so there is nothing to refund.';
    case 'UNKNOWN':
      return 'its outcome is not known yet.';
    default:
      return 'no money was taken, so there is nothing to refund.';
  }
}

function notRefundableNext(payment: PaymentSummary): string {
  switch (payment.status) {
    case 'AWAITING_CUSTOMER':
    case 'PROCESSING':
      return `Nothing was sent. To stop the order use cancel_payment with syssn ${payment.syssn}; or wait_for_payment and refund once it is PAID.`;
    case 'UNKNOWN':
      return `Nothing was sent. Call wait_for_payment with syssn ${payment.syssn} and refund once it is PAID.`;
    default:
      return 'Nothing was sent and nothing needs to be done.';
  }
}

function checkAmount(payment: PaymentSummary, txamt: number, known: KnownFields): void {
  const remainder = payment.refundable_txamt;
  if (remainder <= 0) {
    throw new ToolFailure(
      {
        kind: 'refused',
        message: `Nothing is left to refund on payment ${payment.syssn}${payment.refund_processing_txamt > 0 ? ` (${amountDisplay(payment.refund_processing_txamt, payment.txcurrcd)} of refunds are still processing)` : ''}.`,
        next_action: 'Nothing was sent. Call query_transaction on the payment to see its refunds.',
      },
      { ...known, status: payment.status },
    );
  }
  if (txamt > remainder) {
    throw validationFailure(
      'txamt',
      `refund of ${amountDisplay(txamt, payment.txcurrcd)} exceeds the refundable remainder ${amountDisplay(remainder, payment.txcurrcd)}`,
      `Nothing was sent. Refund at most ${remainder} (${amountDisplay(remainder, payment.txcurrcd)}), or leave txamt out to refund the whole remainder.`,
      { ...known, status: payment.status },
    );
  }
}

/** `queried` is the payment as QFPay showed it (the guard re-counts refunds it does not show yet). */
function writeIntent(
  call: ToolCall,
  payment: PaymentSummary,
  txamt: number,
  refundNo: string,
  queried: PaymentSummary,
): WriteIntent {
  const amount = amountDisplay(txamt, payment.txcurrcd);
  const original = payment.txamt !== null ? amountDisplay(payment.txamt, payment.txcurrcd) : 'unknown';
  return {
    tool: 'refund',
    // Words only; not in params, so not part of the action's identity (see WriteIntent.language).
    language: call.language,
    environment: call.deps.environment,
    merchant: requireClient(call).merchant,
    params: { syssn: payment.syssn, out_trade_no: refundNo, txamt, orig_out_trade_no: payment.out_trade_no },
    out_trade_no: refundNo,
    orig_syssn: payment.syssn,
    drawOn: {
      kind: 'refund',
      orig_syssn: queried.syssn,
      available_txamt: queried.refundable_txamt,
      visible: queried.refunds.map((refund) => refund.out_trade_no),
    },
    txamt,
    txcurrcd: payment.txcurrcd,
    summary:
      `Refund ${amount} (${amountInWords(txamt, payment.txcurrcd)}) of payment ${payment.syssn} (order ${payment.out_trade_no}, ` +
      `originally ${original}, ${amountDisplay(payment.refundable_txamt, payment.txcurrcd)} refundable before this refund) ` +
      `in the ${call.deps.environment} environment, refund reference ${refundNo}.`,
  };
}

function paymentStateAfter(payment: PaymentSummary, txamt: number): NormalisedStatus {
  const refunded = payment.refunded_txamt + txamt;
  return payment.txamt !== null && refunded >= payment.txamt ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
}

function answered(
  call: ToolCall,
  payment: PaymentSummary,
  txamt: number,
  known: KnownFields,
  response: ModificationResponse,
): ToolOutput<Output> {
  const explanation = explainRespcd(
    response.respcd,
    { endpoint: 'refund', payType: payment.pay_type },
    call.language,
  );
  const refundNo = known.out_trade_no as string;
  if (response.respcd !== '0000') {
    // Accepted but pending (1143/1145): the money is reserved, the result is not final.
    const next = `The refund is still being processed. Do not refund again: call query_transaction with out_trade_no ${refundNo} in a little while.`;
    return {
      structured: {
        environment: call.deps.environment,
        ...known,
        status: 'PROCESSING',
        ...(response.syssn ? { syssn: response.syssn } : {}),
        respcd: response.respcd,
        respcd_explanation: explanation,
        refundable_txamt: payment.refundable_txamt - txamt,
        refundable_display: amountDisplay(payment.refundable_txamt - txamt, payment.txcurrcd),
        next_action: next,
      },
      summary: `Refund ${refundNo} of ${known.amount_display as string} on payment ${payment.syssn} is PROCESSING.\nNext: ${next}`,
    };
  }
  return succeeded(call, payment, txamt, known, {
    syssn: response.syssn,
    respcd: response.respcd,
    explanation,
  });
}

function succeeded(
  call: ToolCall,
  payment: PaymentSummary,
  txamt: number,
  known: KnownFields,
  refund: {
    syssn: string | undefined;
    respcd: string;
    explanation?: ReturnType<typeof explainRespcd>;
    reconciled?: boolean;
  },
): ToolOutput<Output> {
  const remaining = payment.refundable_txamt - txamt;
  const remainingDisplay = amountDisplay(remaining, payment.txcurrcd);
  const status = paymentStateAfter(payment, txamt);
  const next =
    status === 'REFUNDED'
      ? 'The payment is now fully refunded; nothing more to do.'
      : `Done. ${remainingDisplay} of the payment can still be refunded.`;
  return {
    structured: {
      environment: call.deps.environment,
      ...known,
      status,
      ...(refund.syssn ? { syssn: refund.syssn } : {}),
      respcd: refund.respcd,
      ...(refund.explanation ? { respcd_explanation: refund.explanation } : {}),
      refunded_txamt: payment.refunded_txamt + txamt,
      refundable_txamt: remaining,
      refundable_display: remainingDisplay,
      ...(refund.reconciled ? { reconciled: true } : {}),
      next_action: next,
    },
    summary: `Refunded ${known.amount_display as string} of payment ${payment.syssn} (refund reference ${known.out_trade_no as string}${refund.syssn ? `, syssn ${refund.syssn}` : ''}). Payment is now ${status}; refundable remainder ${remainingDisplay}.`,
  };
}

async function reconcile(
  call: ToolCall,
  payment: PaymentSummary,
  txamt: number,
  known: KnownFields,
  intent: WriteIntent,
): Promise<ToolOutput<Output>> {
  const refundNo = known.out_trade_no as string;
  const result = await reconcileLostAnswer(call, { out_trade_no: refundNo }, 'refund');
  const record = result.record;
  if (record) {
    await noteReconciliation(call, intent, {
      status: result.status,
      syssn: record.syssn,
      respcd: record.respcd,
      message: "queried after QFPay's answer was lost",
    });
  }
  if (record && result.status === 'REFUNDED') {
    return succeeded(call, payment, txamt, known, {
      syssn: record.syssn,
      respcd: record.respcd,
      reconciled: true,
    });
  }
  if (record && result.status === 'FAILED') {
    const explanation = explainRespcd(
      record.respcd,
      { endpoint: 'query_row', payType: payment.pay_type },
      call.language,
    );
    throw new ToolFailure(
      {
        kind: 'upstream',
        respcd: record.respcd,
        message: `QFPay's answer was lost, and a query shows refund ${refundNo} failed: ${explanation.meaning}`,
        next_action: explanation.next_action,
      },
      {
        ...known,
        status: 'FAILED',
        syssn: record.syssn,
        respcd: record.respcd,
        respcd_explanation: explanation,
        reconciled: true,
      },
    );
  }
  const next = `Do not refund again. Call query_transaction with out_trade_no ${refundNo} (the refund's reference) until the refund shows REFUNDED or FAILED.`;
  throw new ToolFailure(
    {
      kind: 'unknown_outcome',
      message: `QFPay's answer to the refund was lost, and after ${result.polls} quer${result.polls === 1 ? 'y' : 'ies'} the refund is ${record ? result.status : 'not visible yet'}.`,
      next_action: next,
    },
    {
      ...known,
      status: 'UNKNOWN',
      ...(record ? { syssn: record.syssn } : {}),
      reconciled: true,
      next_action: next,
    },
  );
}

/** The same refund again: read its state by its own reference, never send it twice. */
async function replay(
  call: ToolCall,
  known: KnownFields,
  intent: WriteIntent,
  outcome: ReplayedWrite<ModificationResponse>,
): Promise<ToolOutput<Output>> {
  const refundNo = intent.out_trade_no;
  const preamble = replayPreamble(outcome.recorded.recorded_at, `refund out_trade_no ${refundNo}`);
  const current = await readCurrent(call, { out_trade_no: refundNo });
  const base = { environment: call.deps.environment, ...known, replayed: true };
  if (!current?.record) {
    const next = `Do not refund again. Call query_transaction with out_trade_no ${refundNo} (the refund's reference) in a little while.`;
    throw new ToolFailure(
      {
        kind: 'unknown_outcome',
        message: `${preamble} It was recorded as ${outcome.recorded.status}, and QFPay ${current ? 'does not show it (yet)' : 'could not be queried just now'}.`,
        next_action: next,
      },
      { ...base, status: 'UNKNOWN', next_action: next },
    );
  }
  const refundStatus = current.status;
  if (refundStatus === 'REFUNDED' || refundStatus === 'FAILED') {
    await noteReconciliation(call, intent, {
      status: refundStatus,
      syssn: current.record.syssn,
      respcd: current.record.respcd,
      message: 'queried when the same refund was repeated',
    });
  }
  const summary = current.summary;
  const status: NormalisedStatus =
    refundStatus === 'REFUNDED' && summary
      ? summary.status
      : refundStatus === 'FAILED'
        ? 'FAILED'
        : 'PROCESSING';
  const next =
    refundStatus === 'REFUNDED'
      ? 'The refund went through; nothing more to do for it.'
      : refundStatus === 'FAILED'
        ? 'This refund failed and nothing was refunded by it. To try again, use a NEW out_trade_no.'
        : `The refund is still being processed. Do not refund again: call query_transaction with out_trade_no ${refundNo} in a little while.`;
  return {
    structured: {
      ...base,
      status,
      syssn: current.record.syssn,
      respcd: current.record.respcd,
      ...(summary
        ? {
            refunded_txamt: summary.refunded_txamt,
            refundable_txamt: summary.refundable_txamt,
            refundable_display: amountDisplay(summary.refundable_txamt, summary.txcurrcd),
          }
        : {}),
      next_action: next,
    },
    summary: `${preamble}\nRefund ${refundNo} of ${known.amount_display as string}: ${refundStatus}${summary ? `; the payment is ${summary.status}` : ''}.\nNext: ${next}`,
  };
}
