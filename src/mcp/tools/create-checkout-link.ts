import * as z from 'zod';

import { CHECKOUT_LANGUAGES, DEFAULT_PAYSOURCE, type CheckoutLink } from '../../qfpay/checkout.js';
import type { CheckoutLinkFields } from '../../qfpay/client.js';
import { amountDisplay, amountInWords } from '../../qfpay/money.js';
import { isFinal } from '../../qfpay/outcome.js';
import { formatQfpayDateTime } from '../../qfpay/time.js';
import type { WriteIntent } from '../../safety/guard.js';
import { generateOutTradeNo } from '../order-number.js';
import { qrPngImage } from '../qr-image.js';
import { writeResultShape } from '../result-shape.js';
import { defineTool, type KnownFields, type ToolCall, type ToolOutput, validationFailure } from './define.js';
import { unlisting } from './compact-schema.js';
import { confirmationTokenInput, currencyInput, outTradeNoInput, txamtInput } from './inputs.js';
import { nextActionFor } from './views.js';
import {
  noteReconciliation,
  readCurrent,
  type ReplayedWrite,
  replayPreamble,
  requireClient,
  sendThroughGuard,
} from './write-flow.js';

const httpUrl = (field: string, max: number) =>
  z.url({ protocol: /^https?$/, error: `${field} must be an http(s) URL` }).max(max);

const inputSchema = z.strictObject({
  txamt: txamtInput,
  txcurrcd: currencyInput,
  out_trade_no: outTradeNoInput.optional().describe('Reuse to get the same link'),
  goods_name: z.string().min(1).max(64).optional(),
  return_url: httpUrl('return_url', 256),
  failed_url: httpUrl('failed_url', 256),
  notify_url: httpUrl('notify_url', 256),
  cancel_url: httpUrl('cancel_url', 256).optional(),
  expires_in_minutes: z.int().min(1).max(10_080).optional(),
  lang: z.enum(CHECKOUT_LANGUAGES).optional(),
  confirmation_token: confirmationTokenInput,
});

const outputSchema = z.object(
  unlisting(
    {
      ...writeResultShape,
      checkout_url: z
        .string()
        .optional()
        .describe('The signed QFPay checkout link for the customer (also as a QR).'),
      expires_at: z.string().optional().describe('When the link stops taking payment (UTC+8), if set.'),
      replayed: z
        .boolean()
        .optional()
        .describe('True when this out_trade_no already had a link: nothing new was made.'),
    },
    ['txamt', 'replayed', 'expires_at'],
  ),
);

type Input = z.output<typeof inputSchema>;
type Output = z.output<typeof outputSchema>;

export const createCheckoutLinkTool = defineTool({
  name: 'create_checkout_link',
  title: 'Create a checkout link',
  description:
    "A signed QFPay hosted-checkout link (cards with 3-D Secure, Apple Pay, wallets; no card data passes here). Takes money once opened; create_payment's rules apply. Give checkout_url to the customer, then wait_for_payment.",
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
    const outTradeNo = args.out_trade_no ?? generateOutTradeNo('mcp');
    const known: KnownFields = {
      out_trade_no: outTradeNo,
      txamt: args.txamt,
      txcurrcd: args.txcurrcd,
      amount_display: amountDisplay(args.txamt, args.txcurrcd),
    };
    if (args.goods_name !== undefined && /[\p{Cc}<>"]/u.test(args.goods_name))
      throw validationFailure(
        'goods_name',
        'contains control characters or <, > or "',
        'QFPay takes no special characters in goods_name: use plain text.',
        known,
      );
    const intent = checkoutIntent(call, args, outTradeNo);
    return sendThroughGuard(call, {
      intent,
      confirmationToken: args.confirmation_token,
      // Nothing leaves this process: the link is signed here and handed back.
      send: () => Promise.resolve(client.checkoutLink(linkFields(args, outTradeNo, new Date()), args.lang)),
      describe: () => ({ status: 'AWAITING_CUSTOMER', message: 'checkout link issued' }),
      known,
      endpoint: 'payment',
      payType: undefined,
      ref: { out_trade_no: outTradeNo },
      repeatHint: `including out_trade_no "${outTradeNo}"`,
      confirmationHeadline: `Confirmation required before issuing a checkout link for ${known.amount_display as string} (order ${outTradeNo}).`,
      answerLost: () => Promise.reject(new Error('a checkout link is made locally; it cannot be lost')),
      replayed: (outcome) => replay(call, args, known, intent, outcome),
      executed: (link) => issued(call, args, known, link),
    });
  },
});

/** What the guard binds: the caller's arguments (times are derived, so a retry matches). */
function checkoutIntent(call: ToolCall, args: Input, outTradeNo: string): WriteIntent {
  const { confirmation_token: _token, out_trade_no: _ref, ...rest } = args;
  return {
    tool: 'create_checkout_link',
    // Words only; not in params, so not part of the action's identity (see WriteIntent.language).
    language: call.language,
    environment: call.deps.environment,
    merchant: requireClient(call).merchant,
    params: { ...rest, out_trade_no: outTradeNo },
    out_trade_no: outTradeNo,
    txamt: args.txamt,
    txcurrcd: args.txcurrcd,
    summary: `Issue a checkout link taking ${amountDisplay(args.txamt, args.txcurrcd)} (${amountInWords(args.txamt, args.txcurrcd)}) in the ${call.deps.environment} environment, order reference ${outTradeNo}; it takes the money once the customer pays.`,
  };
}

function linkFields(args: Input, outTradeNo: string, issuedAt: Date): CheckoutLinkFields {
  return {
    paysource: DEFAULT_PAYSOURCE,
    txamt: args.txamt,
    txcurrcd: args.txcurrcd,
    out_trade_no: outTradeNo,
    txdtm: formatQfpayDateTime(issuedAt),
    return_url: args.return_url,
    failed_url: args.failed_url,
    notify_url: args.notify_url,
    goods_name: args.goods_name,
    cancel_url: args.cancel_url,
    checkout_expired_time: deadlineOf(args, issuedAt),
  };
}

function deadlineOf(args: Input, issuedAt: Date): number | undefined {
  return args.expires_in_minutes === undefined
    ? undefined
    : issuedAt.getTime() + args.expires_in_minutes * 60_000;
}

async function issued(
  call: ToolCall,
  args: Input,
  known: KnownFields,
  link: CheckoutLink,
): Promise<ToolOutput<Output>> {
  const outTradeNo = known.out_trade_no as string;
  const deadline = new URLSearchParams(link.url.split('#/?')[1] ?? '').get('checkout_expired_time');
  const expiresAt = deadline ? formatQfpayDateTime(new Date(Number(deadline))) : undefined;
  const next = `Give the customer checkout_url (or the attached QR), then call wait_for_payment with out_trade_no ${outTradeNo}${expiresAt ? ` before ${expiresAt}` : ''}. Do not issue another link for this order.`;
  return {
    structured: {
      environment: call.deps.environment,
      ...known,
      status: 'AWAITING_CUSTOMER',
      checkout_url: link.url,
      ...(expiresAt ? { expires_at: expiresAt } : {}),
      next_action: next,
    },
    summary: `Checkout link for ${known.amount_display as string} (order ${outTradeNo}${args.goods_name ? `, ${args.goods_name}` : ''}): ${link.url}\nThe QR code of the link is attached.\nNext: ${next}`,
    images: [await qrPngImage(link.url)],
  };
}

/** The same order again: the link is rebuilt from the recorded call (never a second order), and QFPay is asked how far it got. */
async function replay(
  call: ToolCall,
  args: Input,
  known: KnownFields,
  intent: WriteIntent,
  outcome: ReplayedWrite<CheckoutLink>,
): Promise<ToolOutput<Output>> {
  const outTradeNo = intent.out_trade_no;
  const preamble = replayPreamble(outcome.recorded.recorded_at, `out_trade_no ${outTradeNo}`);
  const current = await readCurrent(call, { out_trade_no: outTradeNo });
  if (current?.record && current.status !== 'AWAITING_CUSTOMER') {
    if (isFinal(current.status))
      await noteReconciliation(call, intent, {
        status: current.status,
        syssn: current.record.syssn,
        respcd: current.record.respcd,
        message: 'queried when the same checkout link was asked for again',
      });
    const next = nextActionFor(current.status, { syssn: current.record.syssn, out_trade_no: outTradeNo });
    return {
      structured: {
        environment: call.deps.environment,
        ...known,
        status: current.status,
        syssn: current.record.syssn,
        respcd: current.record.respcd,
        replayed: true,
        next_action: next,
      },
      summary: `${preamble}\nOrder ${outTradeNo} is ${current.status} at QFPay.\nNext: ${next}`,
    };
  }
  const link =
    outcome.value ??
    requireClient(call).checkoutLink(
      linkFields(args, outTradeNo, new Date(outcome.recorded.recorded_at)),
      args.lang,
    );
  const answer = await issued(call, args, known, link);
  return {
    ...answer,
    structured: { ...answer.structured, replayed: true },
    summary: `${preamble}\n${answer.summary}`,
  };
}
