import * as z from 'zod';

import { languageInput } from '../../qfpay/language.js';
import { amountDisplay, amountInWords } from '../../qfpay/money.js';
import { isPendingCode, type PaymentSummary } from '../../qfpay/outcome.js';
import type { ModificationResponse, NormalisedStatus } from '../../qfpay/types.js';
import type { ExecutionReport, WriteIntent } from '../../safety/guard.js';
import { generateOutTradeNo } from '../order-number.js';
import { unlisting } from './compact-schema.js';
import {
  defineTool,
  type KnownFields,
  type ToolCall,
  type ToolOutput,
  ToolFailure,
  validationFailure,
} from './define.js';
import { confirmationTokenInput, outTradeNoInput, syssnInput, txamtInput } from './inputs.js';
import { findPayment } from './lookup.js';
import {
  noteReconciliation,
  readCurrent,
  reconcileLostAnswer,
  type ReplayedWrite,
  replayPreamble,
  requireClient,
  sendThroughGuard,
} from './write-flow.js';

/**
 * capture_preauth: takes part or all of a pre-authorisation (POST /trade/v1/authtrade, README
 * "Pre-authorisation"). Modelled on refund: the authorisation's uncaptured remainder is what QFPay
 * shows minus the captures this server sent that QFPay does not show yet, and the guard re-checks
 * it, and that no release came first, in the same atomic step that records the capture's intent.
 */

/**
 * Short on purpose (context budget): top-level fields with types only; like the other write tools,
 * the echo of the input, the replay flag, the summary and the error object are sent and checked
 * but not listed (compact-schema.ts `unlisting`).
 */
export const preauthOutputSchema = z.object(
  unlisting(
    {
      environment: z.string(),
      status: z.string().optional(),
      syssn: z.string().optional(),
      out_trade_no: z.string().optional(),
      txamt: z.number().optional(),
      capturable_txamt: z.number().optional(),
      replayed: z.boolean().optional(),
      confirmation_token: z.string().optional(),
      confirmation_summary: z.string().optional(),
      next_action: z.string().optional(),
      // The shared error object (result-shape.ts), unconstrained here to keep the definition short.
      error: z.looseObject({}).optional(),
    },
    ['txamt', 'replayed', 'confirmation_summary', 'error'],
  ),
);
export type PreauthOutput = z.output<typeof preauthOutputSchema>;

const inputSchema = z.strictObject({
  syssn: syssnInput.describe('Authorisation syssn'),
  txamt: txamtInput.optional().describe('Default: the rest'),
  out_trade_no: outTradeNoInput.optional().describe('New; reuse to retry'),
  lang: languageInput,
  confirmation_token: confirmationTokenInput,
});

type Input = z.output<typeof inputSchema>;

export const capturePreauthTool = defineTool({
  name: 'capture_preauth',
  title: 'Capture a pre-authorisation',
  description:
    'Takes txamt of a PAID pre-authorisation, in parts up to the authorised total, inside the capture window, none after release_preauth. Moves money: confirm first. Refund a capture by its syssn.',
  inputSchema,
  outputSchema: preauthOutputSchema,
  async run(args, call): Promise<ToolOutput<PreauthOutput>> {
    const authorisation = await openAuthorisation(call, args.syssn);
    // A retry of a capture this server already sent is answered from its record: the remainder
    // has moved by then, and an omitted txamt means the amount it was first resolved to.
    const recalled = args.out_trade_no
      ? await call.deps.guard.recall?.('capture_preauth', args.out_trade_no)
      : undefined;
    if (!recalled) checkOpen(authorisation, 'capture');
    const holding = await heldAmounts(call, authorisation);
    const txamt = args.txamt ?? recalled?.txamt ?? holding.remainder;
    const captureNo = args.out_trade_no ?? generateOutTradeNo('mcpcp');
    const known: KnownFields = {
      orig_syssn: authorisation.syssn,
      out_trade_no: captureNo,
      txamt,
      txcurrcd: authorisation.txcurrcd,
      amount_display: amountDisplay(txamt, authorisation.txcurrcd),
      captured_txamt: holding.captured,
      capturable_txamt: holding.remainder,
    };
    if (!recalled) checkAmount(authorisation, txamt, holding.remainder, known);
    if (captureNo === authorisation.out_trade_no) {
      throw validationFailure(
        'out_trade_no',
        "is the authorisation's own reference; a capture needs a new one",
        'Leave out_trade_no out to have one generated, or pass a new unique reference.',
        known,
      );
    }
    return sendCapture(call, args, authorisation, holding, known);
  },
});

function sendCapture(
  call: ToolCall,
  args: Input,
  authorisation: PaymentSummary,
  holding: HeldAmounts,
  known: KnownFields,
): Promise<ToolOutput<PreauthOutput>> {
  const client = requireClient(call);
  const intent = captureIntent(call, authorisation, holding, known);
  const { txamt, out_trade_no: captureNo } = intent;
  return sendThroughGuard(call, {
    intent,
    confirmationToken: args.confirmation_token,
    send: () =>
      client.capturePreauth(
        { syssn: authorisation.syssn, out_trade_no: captureNo, txamt, txcurrcd: authorisation.txcurrcd },
        { signal: call.signal },
      ),
    describe: captureReport,
    known,
    endpoint: 'authtrade',
    payType: authorisation.pay_type,
    ref: { out_trade_no: captureNo },
    repeatHint: `including out_trade_no "${captureNo}" and txamt ${txamt}`,
    confirmationHeadline: `Confirmation required before capturing ${known.amount_display as string} of pre-authorisation ${authorisation.syssn}.`,
    answerLost: () => reconcileCapture(call, known, intent),
    replayed: (outcome) => replayCapture(call, known, intent, outcome),
    executed: (response) => captured(call, known, response),
  });
}

function captureReport(response: ModificationResponse): ExecutionReport {
  return {
    status: response.respcd === '0000' ? 'PAID' : 'PROCESSING',
    ...(response.syssn ? { syssn: response.syssn } : {}),
    respcd: response.respcd,
  };
}

/** The authorisation named by `syssn`, or a refusal saying what it is instead. */
export async function openAuthorisation(call: ToolCall, syssn: string): Promise<PaymentSummary> {
  const payment = await findPayment(requireClient(call), { syssn }, call.signal);
  if (payment.authorisation) return payment;
  throw validationFailure(
    'syssn',
    payment.origssn
      ? `${syssn} is a capture of pre-authorisation ${payment.origssn}, not the authorisation`
      : `${syssn} is not a pre-authorisation (pay_type ${payment.pay_type})`,
    payment.origssn
      ? `Pass the authorisation's syssn ${payment.origssn}.`
      : 'Authorise with a PREAUTH pay type (list_pay_types) through create_payment; refund an ordinary payment instead.',
    { syssn },
  );
}

/** Refuses, before anything is sent, an authorisation that cannot be captured or released now. */
export function checkOpen(authorisation: PaymentSummary, action: 'capture' | 'release'): void {
  if (authorisation.status === 'PAID') return;
  const finished = authorisation.status === 'CANCELLED';
  throw new ToolFailure(
    {
      kind: 'refused',
      message: finished
        ? `Pre-authorisation ${authorisation.syssn} is finished (cancel 4: fully captured, released, or its capture window passed); nothing can be ${action === 'capture' ? 'captured' : 'released'}.`
        : `Pre-authorisation ${authorisation.syssn} is ${authorisation.status}, not authorised.`,
      next_action: finished
        ? 'Nothing was sent. query_transaction shows its captures; take a new payment if money is still owed.'
        : `Nothing was sent. Call wait_for_payment with syssn ${authorisation.syssn} until it is PAID (authorised).`,
    },
    { orig_syssn: authorisation.syssn, status: authorisation.status },
  );
}

export interface HeldAmounts {
  /** Captured (or being captured) as far as QFPay shows. */
  readonly captured: number;
  /** What is left: authorised − captured − captures sent by this server that QFPay does not show yet. */
  readonly remainder: number;
  /** authorised − captured, as QFPay shows it. */
  readonly available: number;
  /** out_trade_nos of the captures QFPay shows. */
  readonly visible: readonly string[];
}

/** The captures QFPay shows, and those this server sent that it does not show yet. */
export async function heldAmounts(call: ToolCall, authorisation: PaymentSummary): Promise<HeldAmounts> {
  const rows = await requireClient(call).findCaptures(authorisation, { signal: call.signal });
  const captured = rows
    .filter((row) => row.respcd === '0000' || isPendingCode(row.respcd))
    .reduce((sum, row) => sum + row.txamt, 0);
  const visible = rows.map((row) => row.out_trade_no);
  const available = Math.max(0, (authorisation.txamt ?? 0) - captured);
  let unaccounted: number;
  try {
    unaccounted =
      (await call.deps.guard.unaccountedDraws?.('capture', authorisation.syssn, new Set(visible))) ?? 0;
  } catch (error) {
    throw new ToolFailure({
      kind: 'refused',
      message: `The audit ledger cannot be read (${error instanceof Error ? error.message : 'unknown error'}), so captures still in flight on ${authorisation.syssn} cannot be counted.`,
      next_action:
        'Nothing was sent to QFPay. Ask the operator to check the audit ledger (qfpay-mcp doctor), then try again.',
    });
  }
  return { captured, available, visible, remainder: Math.max(0, available - unaccounted) };
}

function checkAmount(
  authorisation: PaymentSummary,
  txamt: number,
  remainder: number,
  known: KnownFields,
): void {
  const currency = authorisation.txcurrcd;
  if (remainder <= 0) {
    throw new ToolFailure(
      {
        kind: 'refused',
        message: `Nothing is left to capture on pre-authorisation ${authorisation.syssn} (counting captures already sent).`,
        next_action: 'Nothing was sent. Call query_transaction on the authorisation to see its captures.',
      },
      known,
    );
  }
  if (txamt > remainder) {
    throw validationFailure(
      'txamt',
      `capture of ${amountDisplay(txamt, currency)} exceeds the uncaptured remainder ${amountDisplay(remainder, currency)}`,
      `Nothing was sent. Capture at most ${remainder} (${amountDisplay(remainder, currency)}), or leave txamt out to capture the rest.`,
      known,
    );
  }
}

function captureIntent(
  call: ToolCall,
  authorisation: PaymentSummary,
  holding: HeldAmounts,
  known: KnownFields,
): WriteIntent {
  const txamt = known.txamt as number;
  const captureNo = known.out_trade_no as string;
  const currency = authorisation.txcurrcd;
  return {
    tool: 'capture_preauth',
    // Words only; not in params, so not part of the action's identity (see WriteIntent.language).
    language: call.language,
    environment: call.deps.environment,
    merchant: requireClient(call).merchant,
    params: {
      syssn: authorisation.syssn,
      out_trade_no: captureNo,
      txamt,
      orig_out_trade_no: authorisation.out_trade_no,
    },
    out_trade_no: captureNo,
    orig_syssn: authorisation.syssn,
    drawOn: {
      kind: 'capture',
      orig_syssn: authorisation.syssn,
      available_txamt: holding.available,
      visible: holding.visible,
    },
    txamt,
    txcurrcd: currency,
    summary:
      `Capture ${amountDisplay(txamt, currency)} (${amountInWords(txamt, currency)}) of pre-authorisation ${authorisation.syssn} ` +
      `(order ${authorisation.out_trade_no}, authorised ${amountDisplay(authorisation.txamt ?? 0, currency)}, ${amountDisplay(holding.remainder, currency)} uncaptured) ` +
      `in the ${call.deps.environment} environment, capture reference ${captureNo}.`,
  };
}

function captured(
  call: ToolCall,
  known: KnownFields,
  response: ModificationResponse,
): ToolOutput<PreauthOutput> {
  const txamt = known.txamt as number;
  const status: NormalisedStatus = response.respcd === '0000' ? 'PAID' : 'PROCESSING';
  const left = (known.capturable_txamt as number) - txamt;
  const currency = known.txcurrcd as string;
  const next =
    status === 'PROCESSING'
      ? `Do not capture again: call query_transaction with out_trade_no ${known.out_trade_no as string} in a little while.`
      : left > 0
        ? `Done. ${amountDisplay(left, currency)} can still be captured, or freed with release_preauth.`
        : 'Done. The authorisation is fully captured.';
  return {
    structured: {
      environment: call.deps.environment,
      ...known,
      status,
      ...(response.syssn ? { syssn: response.syssn } : {}),
      capturable_txamt: left,
      next_action: next,
    },
    summary: `Capture ${known.out_trade_no as string} of ${known.amount_display as string} on pre-authorisation ${known.orig_syssn as string}: ${status}${response.syssn ? ` (syssn ${response.syssn})` : ''}.\nNext: ${next}`,
  };
}

async function reconcileCapture(
  call: ToolCall,
  known: KnownFields,
  intent: WriteIntent,
): Promise<ToolOutput<PreauthOutput>> {
  const captureNo = intent.out_trade_no;
  const result = await reconcileLostAnswer(call, { out_trade_no: captureNo }, 'capture');
  const record = result.record;
  if (record) {
    await noteReconciliation(call, intent, {
      status: result.status,
      syssn: record.syssn,
      respcd: record.respcd,
      message: "queried after QFPay's answer was lost",
    });
  }
  if (record && (result.status === 'PAID' || result.status === 'FAILED')) {
    const failed = result.status === 'FAILED';
    const next = failed
      ? 'Nothing was captured by it. To try again, use a NEW out_trade_no.'
      : 'The capture went through; nothing more to do for it.';
    return {
      structured: {
        environment: call.deps.environment,
        ...known,
        status: result.status,
        syssn: record.syssn,
        next_action: next,
      },
      summary: `QFPay's answer was lost; a query shows capture ${captureNo} ${result.status}.\nNext: ${next}`,
      ...(failed ? { isError: true } : {}),
    };
  }
  const next = `Do not capture again. Call query_transaction with out_trade_no ${captureNo} until it is PAID or FAILED.`;
  throw new ToolFailure(
    {
      kind: 'unknown_outcome',
      message: `QFPay's answer to the capture was lost, and the capture is ${record ? result.status : 'not visible yet'}.`,
      next_action: next,
    },
    { ...known, status: 'UNKNOWN', next_action: next },
  );
}

/** The same capture again: read its state by its own reference, never send it twice. */
async function replayCapture(
  call: ToolCall,
  known: KnownFields,
  intent: WriteIntent,
  outcome: ReplayedWrite<ModificationResponse>,
): Promise<ToolOutput<PreauthOutput>> {
  const captureNo = intent.out_trade_no;
  const preamble = replayPreamble(outcome.recorded.recorded_at, `capture out_trade_no ${captureNo}`);
  const current = await readCurrent(call, { out_trade_no: captureNo });
  const status: NormalisedStatus = current?.record ? current.status : outcome.recorded.status;
  const syssn = current?.record?.syssn ?? outcome.recorded.syssn;
  const next =
    status === 'FAILED'
      ? 'This capture failed and took nothing. To try again, use a NEW out_trade_no.'
      : status === 'UNKNOWN' || status === 'PROCESSING'
        ? `Do not capture again: call query_transaction with out_trade_no ${captureNo} in a little while.`
        : 'The capture went through; nothing more to do for it.';
  if (current?.record && status !== 'UNKNOWN') {
    await noteReconciliation(call, intent, {
      status,
      syssn: current.record.syssn,
      respcd: current.record.respcd,
      message: 'queried when the same capture was repeated',
    });
  }
  const { capturable_txamt: _capturable, ...base } = known;
  return {
    structured: {
      environment: call.deps.environment,
      ...base,
      status,
      ...(syssn ? { syssn } : {}),
      replayed: true,
      next_action: next,
    },
    summary: `${preamble}\nCapture ${captureNo} of ${known.amount_display as string}: ${status}.\nNext: ${next}`,
  };
}
