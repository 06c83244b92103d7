import * as z from 'zod';

import { languageInput } from '../../qfpay/language.js';
import { explainRespcd, findPayType } from '../../qfpay/catalog/index.js';
import type { PayTypeEntry } from '../../qfpay/catalog/types.js';
import type { QfpayClient } from '../../qfpay/client.js';
import { amountInWords, amountDisplay } from '../../qfpay/money.js';
import type { PaymentSummary } from '../../qfpay/outcome.js';
import type { ModificationResponse, NormalisedStatus } from '../../qfpay/types.js';
import type { ExecutionReport, WriteIntent } from '../../safety/guard.js';
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
import { nextActionFor, payTypeLabel } from './views.js';
import {
  noteReconciliation,
  reconcileLostAnswer,
  type ReplayedWrite,
  replayPreamble,
  requireClient,
  sendThroughGuard,
} from './write-flow.js';

const inputSchema = z.strictObject({
  syssn: syssnInput.optional(),
  out_trade_no: outTradeNoInput.optional(),
  txamt: txamtInput.optional().describe('Looked up when absent'),
  lang: languageInput,
  confirmation_token: confirmationTokenInput,
});

const outputSchema = z.object(
  unlisting(
    {
      ...writeResultShape,
      pay_type: z.string().optional(),
      cancel_endpoint: z
        .enum(['close', 'reversal'])
        .optional()
        .describe('Which QFPay endpoint was used; chosen from the pay type.'),
      cancel_syssn: z.string().optional().describe('syssn of the close/reversal transaction QFPay created.'),
      reconciled: z
        .boolean()
        .optional()
        .describe("True when QFPay's answer was lost and this result comes from querying the payment."),
      replayed: z
        .boolean()
        .optional()
        .describe(
          'True when this cancel was already sent for the payment: nothing was sent again; status is the payment as QFPay shows it now.',
        ),
    },
    ['txamt', 'replayed', 'pay_type', 'cancel_endpoint', 'reconciled'],
  ),
);

type Output = z.output<typeof outputSchema>;

const ALREADY_PAID: ReadonlySet<NormalisedStatus> = new Set(['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED']);
const CANCELLABLE: ReadonlySet<NormalisedStatus> = new Set(['AWAITING_CUSTOMER', 'PROCESSING', 'UNKNOWN']);

export const cancelPaymentTool = defineTool({
  name: 'cancel_payment',
  title: 'Cancel an unpaid payment',
  description:
    "Stops a payment that is NOT paid: closes an unpaid QR/online order or reverses a stuck scanned code (chosen from the pay type). Refuses a PAID (use refund) or final payment. Answers the payment's state queried afterwards.",
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
    const ref = paymentRef(args.syssn, args.out_trade_no, 'out_trade_no');
    const payment = await findPayment(client, ref, call.signal);
    const payType = findPayType(payment.pay_type);
    const known: KnownFields = {
      syssn: payment.syssn,
      out_trade_no: payment.out_trade_no,
      txcurrcd: payment.txcurrcd,
      pay_type: payment.pay_type,
      status: payment.status,
      ...(payment.txamt !== null
        ? { txamt: payment.txamt, amount_display: amountDisplay(payment.txamt, payment.txcurrcd) }
        : {}),
    };
    // A cancel this server already sent is answered from QFPay's current state (the guard replays
    // it), not refused because the payment now reads CANCELLED.
    const sentBefore = await call.deps.guard.recall?.('cancel_payment', payment.out_trade_no);
    if (!sentBefore) checkCancellable(payment, known);
    const endpoint = cancelEndpointOf(payType, payment, known);
    const txamt = checkedAmount(args.txamt, payment, known);
    known.cancel_endpoint = endpoint;
    const intent = writeIntent(call, payment, payType, txamt, endpoint);
    // txdtm = the original order's time: M's reversal table calls the field "Original transaction
    // time" and D's samples send a fixed earlier time; the current time only when it is unknown.
    const request = {
      syssn: payment.syssn,
      out_trade_no: payment.out_trade_no,
      txamt,
      ...(payment.txdtm ? { txdtm: payment.txdtm } : {}),
    };
    return sendThroughGuard(call, {
      intent,
      confirmationToken: args.confirmation_token,
      // As for every write, the signal only withdraws it from the rate limiter's queue.
      send: () =>
        endpoint === 'close'
          ? client.closeOrder(request, { signal: call.signal })
          : client.reverse(request, { signal: call.signal }),
      describe: cancelReport,
      known,
      endpoint,
      payType: payment.pay_type,
      ref: payment,
      repeatHint: `syssn "${payment.syssn}"`,
      confirmationHeadline: `Confirmation required before cancelling payment ${payment.syssn}.`,
      answerLost: () => reconcile(call, payment, known, intent),
      replayed: (outcome) => replay(call, client, payment, known, outcome),
      executed: (response) => answered(call, client, payment, known, response),
    });
  },
});

function cancelReport(response: ModificationResponse): ExecutionReport {
  return {
    status: response.respcd === '0000' ? 'CANCELLED' : 'PROCESSING',
    ...(response.syssn ? { syssn: response.syssn } : {}),
    respcd: response.respcd,
  };
}

/** The same cancel again: report the payment as QFPay shows it now; nothing is sent. */
async function replay(
  call: ToolCall,
  client: QfpayClient,
  payment: PaymentSummary,
  known: KnownFields,
  outcome: ReplayedWrite<ModificationResponse>,
): Promise<ToolOutput<Output>> {
  const preamble = replayPreamble(outcome.recorded.recorded_at, `a cancel of payment ${payment.syssn}`);
  const now = await findPayment(client, { syssn: payment.syssn }, call.signal);
  const next =
    now.status === 'CANCELLED'
      ? 'The order is cancelled; nothing is owed on it.'
      : `The payment now reads ${now.status}. ${nextActionFor(now.status, now)}`;
  return {
    structured: {
      environment: call.deps.environment,
      ...known,
      status: now.status,
      replayed: true,
      next_action: next,
    },
    summary: `${preamble}\nPayment ${payment.syssn} is now ${now.status}.\nNext: ${next}`,
  };
}

function checkCancellable(payment: PaymentSummary, known: KnownFields): void {
  if (ALREADY_PAID.has(payment.status)) {
    throw new ToolFailure(
      {
        kind: 'refused',
        message: `Payment ${payment.syssn} is ${payment.status}: the customer has paid, so it cannot be cancelled.`,
        next_action: `Nothing was sent. To give the money back, use refund with syssn ${payment.syssn}.`,
      },
      known,
    );
  }
  if (!CANCELLABLE.has(payment.status)) {
    throw new ToolFailure(
      {
        kind: 'refused',
        message: `Payment ${payment.syssn} is already ${payment.status}; there is nothing to cancel.`,
        next_action: `Nothing was sent. ${nextActionFor(payment.status, payment)}`,
      },
      known,
    );
  }
}

function cancelEndpointOf(
  payType: PayTypeEntry | undefined,
  payment: PaymentSummary,
  known: KnownFields,
): 'close' | 'reversal' {
  if (!payType || payType.cancelEndpoint === 'none') {
    throw new ToolFailure(
      {
        kind: 'refused',
        message: `${payTypeLabel(payment.pay_type)} orders cannot be cancelled through the QFPay API.`,
        next_action: `Nothing was sent. ${payType?.cancelAdvice ?? 'Let the order expire; refund it if it ends up paid.'}`,
      },
      known,
    );
  }
  return payType.cancelEndpoint;
}

function checkedAmount(given: number | undefined, payment: PaymentSummary, known: KnownFields): number {
  if (payment.txamt === null) {
    throw new ToolFailure(
      {
        kind: 'not_found',
        message: `The amount of payment ${payment.syssn} is unknown.`,
        next_action: 'Call query_transaction on the payment first.',
      },
      known,
    );
  }
  if (given !== undefined && given !== payment.txamt) {
    throw validationFailure(
      'txamt',
      `${amountDisplay(given, payment.txcurrcd)} is not the payment's amount ${amountDisplay(payment.txamt, payment.txcurrcd)}`,
      "A cancel always covers the whole payment: leave txamt out, or pass the payment's full amount.",
      known,
    );
  }
  return payment.txamt;
}

function writeIntent(
  call: ToolCall,
  payment: PaymentSummary,
  payType: PayTypeEntry | undefined,
  txamt: number,
  endpoint: 'close' | 'reversal',
): WriteIntent {
  return {
    tool: 'cancel_payment',
    // Words only; not in params, so not part of the action's identity (see WriteIntent.language).
    language: call.language,
    environment: call.deps.environment,
    merchant: requireClient(call).merchant,
    params: { syssn: payment.syssn, out_trade_no: payment.out_trade_no, txamt, endpoint },
    out_trade_no: payment.out_trade_no,
    orig_syssn: payment.syssn,
    txamt,
    txcurrcd: payment.txcurrcd,
    summary:
      `Cancel (${endpoint}) ${payment.status === 'AWAITING_CUSTOMER' ? 'the unpaid' : 'the unfinished'} order ${payment.out_trade_no} ` +
      `(syssn ${payment.syssn}) of ${amountDisplay(txamt, payment.txcurrcd)} (${amountInWords(txamt, payment.txcurrcd)}) ` +
      `by ${payType ? payTypeLabel(payType.payType) : payment.pay_type} in the ${call.deps.environment} environment.`,
  };
}

async function answered(
  call: ToolCall,
  client: QfpayClient,
  payment: PaymentSummary,
  known: KnownFields,
  response: ModificationResponse,
): Promise<ToolOutput<Output>> {
  const endpoint = known.cancel_endpoint as 'close' | 'reversal';
  const explanation = explainRespcd(response.respcd, { endpoint, payType: payment.pay_type }, call.language);
  const common = {
    environment: call.deps.environment,
    ...known,
    respcd: response.respcd,
    respcd_explanation: explanation,
    ...(response.syssn ? { cancel_syssn: response.syssn } : {}),
  };
  if (response.respcd !== '0000') {
    const next = `The cancel is still being processed. Call query_transaction with syssn ${payment.syssn} in a little while; do not create a new order for this customer until it shows CANCELLED.`;
    return {
      structured: { ...common, status: 'PROCESSING', next_action: next },
      summary: `Cancel of payment ${payment.syssn} accepted but still processing.\nNext: ${next}`,
    };
  }
  // A reversal or close does not prove the customer was not charged: read the state back.
  const after = await findPayment(client, { syssn: payment.syssn }, call.signal);
  const next =
    after.status === 'CANCELLED'
      ? 'The order is cancelled; nothing is owed on it. Create a new payment with a new out_trade_no if the customer still wants to pay.'
      : `QFPay accepted the ${endpoint}, but the payment now reads ${after.status}. ${nextActionFor(after.status, after)}`;
  return {
    structured: { ...common, status: after.status, next_action: next },
    summary: `Cancel (${endpoint}) of payment ${payment.syssn}: QFPay accepted it; the payment is now ${after.status}.\nNext: ${next}`,
  };
}

async function reconcile(
  call: ToolCall,
  payment: PaymentSummary,
  known: KnownFields,
  intent: WriteIntent,
): Promise<ToolOutput<Output>> {
  const result = await reconcileLostAnswer(call, { syssn: payment.syssn }, 'cancel');
  if (result.record) {
    await noteReconciliation(call, intent, {
      status: result.status,
      syssn: result.record.syssn,
      respcd: result.record.respcd,
      message: "queried after QFPay's answer was lost",
    });
  }
  if (result.record && (result.status === 'CANCELLED' || ALREADY_PAID.has(result.status))) {
    const next =
      result.status === 'CANCELLED'
        ? 'The order is cancelled; nothing is owed on it.'
        : nextActionFor(result.status, payment);
    return {
      structured: {
        environment: call.deps.environment,
        ...known,
        status: result.status,
        reconciled: true,
        next_action: next,
      },
      summary: `QFPay's answer to the cancel was lost; querying payment ${payment.syssn} shows it is ${result.status}.\nNext: ${next}`,
    };
  }
  const next = `Call query_transaction with syssn ${payment.syssn} in a little while to see whether the cancel took effect; do not create a new order for this customer until it is final.`;
  throw new ToolFailure(
    {
      kind: 'unknown_outcome',
      message: `QFPay's answer to the cancel was lost, and after ${result.polls} quer${result.polls === 1 ? 'y' : 'ies'} the payment reads ${result.status}.`,
      next_action: next,
    },
    { ...known, status: 'UNKNOWN', reconciled: true, next_action: next },
  );
}
