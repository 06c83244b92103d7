import * as z from 'zod';

import { languageInput } from '../../qfpay/language.js';
import { amountDisplay, amountInWords } from '../../qfpay/money.js';
import type { PaymentSummary } from '../../qfpay/outcome.js';
import type { ModificationResponse, NormalisedStatus } from '../../qfpay/types.js';
import type { ExecutionReport, WriteIntent } from '../../safety/guard.js';
import {
  checkOpen,
  type HeldAmounts,
  heldAmounts,
  openAuthorisation,
  type PreauthOutput,
  preauthOutputSchema,
} from './capture-preauth.js';
import { defineTool, type KnownFields, type ToolCall, type ToolOutput, ToolFailure } from './define.js';
import { confirmationTokenInput, syssnInput } from './inputs.js';
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
 * release_preauth: frees what a pre-authorisation has not captured (POST /trade/v1/unfreeze,
 * README "Pre-authorisation"). QFPay accepts it once and no capture afterwards; here its
 * idempotency key is the authorisation's own out_trade_no, so a repeat is answered from the record
 * and never sent twice, and the guard refuses every capture once a release holds that key.
 */

const inputSchema = z.strictObject({
  syssn: syssnInput.describe('Authorisation syssn'),
  lang: languageInput,
  confirmation_token: confirmationTokenInput,
});

export const releasePreauthTool = defineTool({
  name: 'release_preauth',
  title: 'Release a pre-authorisation',
  description:
    'Frees the uncaptured rest of a pre-authorisation, once; no capture afterwards. Confirm first. A repeat replays, sending nothing.',
  inputSchema,
  outputSchema: preauthOutputSchema,
  async run(args, call): Promise<ToolOutput<PreauthOutput>> {
    const authorisation = await openAuthorisation(call, args.syssn);
    const recalled = await call.deps.guard.recall?.('release_preauth', authorisation.out_trade_no);
    if (!recalled) checkOpen(authorisation, 'release');
    const holding = await heldAmounts(call, authorisation);
    const txamt = recalled?.txamt ?? holding.remainder;
    const known: KnownFields = {
      orig_syssn: authorisation.syssn,
      out_trade_no: authorisation.out_trade_no,
      txamt,
      txcurrcd: authorisation.txcurrcd,
      amount_display: amountDisplay(txamt, authorisation.txcurrcd),
      captured_txamt: holding.captured,
    };
    if (!recalled && txamt <= 0) {
      throw new ToolFailure(
        {
          kind: 'refused',
          message: `Nothing is left to release on pre-authorisation ${authorisation.syssn}: it is fully captured (counting captures already sent).`,
          next_action: 'Nothing was sent and nothing needs releasing.',
        },
        known,
      );
    }
    return sendRelease(call, args.confirmation_token, authorisation, holding, known);
  },
});

function sendRelease(
  call: ToolCall,
  confirmationToken: string | undefined,
  authorisation: PaymentSummary,
  holding: HeldAmounts,
  known: KnownFields,
): Promise<ToolOutput<PreauthOutput>> {
  const client = requireClient(call);
  const intent = releaseIntent(call, authorisation, holding, known.txamt as number);
  return sendThroughGuard(call, {
    intent,
    confirmationToken,
    send: () =>
      client.releasePreauth(
        { syssn: authorisation.syssn, out_trade_no: authorisation.out_trade_no, txamt: intent.txamt },
        { signal: call.signal },
      ),
    describe: releaseReport,
    known,
    endpoint: 'unfreeze',
    payType: authorisation.pay_type,
    ref: { syssn: authorisation.syssn },
    repeatHint: `syssn "${authorisation.syssn}"`,
    confirmationHeadline: `Confirmation required before releasing ${known.amount_display as string} held by pre-authorisation ${authorisation.syssn}.`,
    answerLost: () => reconcileRelease(call, known, intent),
    replayed: (outcome) => replayRelease(call, known, intent, outcome),
    executed: (response) => released(call, known, response),
  });
}

/** After a release the hold is over: the authorisation reads CANCELLED (cancel 4). */
function releaseReport(response: ModificationResponse): ExecutionReport {
  return {
    status: response.respcd === '0000' ? 'CANCELLED' : 'PROCESSING',
    ...(response.syssn ? { syssn: response.syssn } : {}),
    respcd: response.respcd,
  };
}

function releaseIntent(
  call: ToolCall,
  authorisation: PaymentSummary,
  holding: HeldAmounts,
  txamt: number,
): WriteIntent {
  const currency = authorisation.txcurrcd;
  return {
    tool: 'release_preauth',
    // Words only; not in params, so not part of the action's identity (see WriteIntent.language).
    language: call.language,
    environment: call.deps.environment,
    merchant: requireClient(call).merchant,
    params: { syssn: authorisation.syssn, out_trade_no: authorisation.out_trade_no, txamt },
    out_trade_no: authorisation.out_trade_no,
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
      `Release ${amountDisplay(txamt, currency)} (${amountInWords(txamt, currency)}) still held by pre-authorisation ${authorisation.syssn} ` +
      `(order ${authorisation.out_trade_no}, authorised ${amountDisplay(authorisation.txamt ?? 0, currency)}, ${amountDisplay(holding.captured, currency)} captured) ` +
      `in the ${call.deps.environment} environment. No capture is possible afterwards.`,
  };
}

function released(
  call: ToolCall,
  known: KnownFields,
  response: ModificationResponse,
): ToolOutput<PreauthOutput> {
  const status: NormalisedStatus = response.respcd === '0000' ? 'CANCELLED' : 'PROCESSING';
  const next =
    status === 'CANCELLED'
      ? 'Done. The hold is released; captures made before stay as they are (refund them by their syssn).'
      : `Do not release again: call query_transaction with syssn ${known.orig_syssn as string} in a little while.`;
  return {
    structured: {
      environment: call.deps.environment,
      ...known,
      status,
      ...(response.syssn ? { syssn: response.syssn } : {}),
      capturable_txamt: 0,
      next_action: next,
    },
    summary: `Released ${known.amount_display as string} of pre-authorisation ${known.orig_syssn as string}: ${status}.\nNext: ${next}`,
  };
}

async function reconcileRelease(
  call: ToolCall,
  known: KnownFields,
  intent: WriteIntent,
): Promise<ToolOutput<PreauthOutput>> {
  const syssn = intent.orig_syssn as string;
  // The authorisation is PAID while it holds money; anything else means the release (or the
  // window) ended it.
  const result = await reconcileLostAnswer(call, { syssn }, 'release', (status) => status !== 'PAID');
  if (result.record && result.status === 'CANCELLED') {
    await noteReconciliation(call, intent, {
      status: 'CANCELLED',
      respcd: result.record.respcd,
      message: "queried after QFPay's answer was lost",
    });
    const next = 'The hold is released; nothing more to do.';
    return {
      structured: {
        environment: call.deps.environment,
        ...known,
        status: 'CANCELLED',
        next_action: next,
      },
      summary: `QFPay's answer was lost; a query shows pre-authorisation ${syssn} finished.\nNext: ${next}`,
    };
  }
  const next = `Do not release again. Call query_transaction with syssn ${syssn} until it shows CANCELLED (finished).`;
  throw new ToolFailure(
    {
      kind: 'unknown_outcome',
      message: `QFPay's answer to the release was lost, and the authorisation still shows ${result.status}.`,
      next_action: next,
    },
    { ...known, status: 'UNKNOWN', next_action: next },
  );
}

/** The same release again: read the authorisation's state, never send it twice. */
async function replayRelease(
  call: ToolCall,
  known: KnownFields,
  intent: WriteIntent,
  outcome: ReplayedWrite<ModificationResponse>,
): Promise<ToolOutput<PreauthOutput>> {
  const syssn = intent.orig_syssn as string;
  const preamble = replayPreamble(outcome.recorded.recorded_at, `the release of ${syssn}`);
  const current = await readCurrent(call, { syssn });
  const status: NormalisedStatus =
    current?.record && current.status !== 'PAID' ? current.status : outcome.recorded.status;
  const next =
    status === 'CANCELLED'
      ? 'The hold was released; nothing more to do.'
      : `Do not release again: call query_transaction with syssn ${syssn} in a little while.`;
  return {
    structured: {
      environment: call.deps.environment,
      ...known,
      status,
      ...(outcome.recorded.syssn ? { syssn: outcome.recorded.syssn } : {}),
      replayed: true,
      next_action: next,
    },
    summary: `${preamble}\nRelease of ${syssn}: ${status}.\nNext: ${next}`,
  };
}
