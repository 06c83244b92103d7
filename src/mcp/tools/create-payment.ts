import { createHash } from 'node:crypto';

import * as z from 'zod';

import { languageInput } from '../../qfpay/language.js';
import { explainRespcd, findPayType } from '../../qfpay/catalog/index.js';
import type { PayTypeEntry } from '../../qfpay/catalog/types.js';
import { amountInWords, validateAmount, amountDisplay } from '../../qfpay/money.js';
import { isFinal, statusOfPaymentResponse } from '../../qfpay/outcome.js';
import type { PaymentRequest, PaymentResponse } from '../../qfpay/types.js';
import type { ExecutionReport, WriteIntent } from '../../safety/guard.js';
import { generateOutTradeNo } from '../order-number.js';
import { qrPngImage } from '../qr-image.js';
import { writeResultShape } from '../result-shape.js';
import { maskAuthCode } from '../../safety/sanitize.js';
import {
  defineTool,
  type KnownFields,
  type ToolCall,
  type ToolImage,
  type ToolOutput,
  ToolFailure,
  validationFailure,
} from './define.js';
import { unlisting } from './compact-schema.js';
import {
  confirmationTokenInput,
  boundedText,
  currencyInput,
  outTradeNoInput,
  payTypeInput,
  txamtInput,
} from './inputs.js';
import { nextActionFor, payTypeLabel } from './views.js';
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
  pay_type: payTypeInput,
  txamt: txamtInput,
  txcurrcd: currencyInput,
  out_trade_no: outTradeNoInput.optional(),
  auth_code: z
    .string()
    .regex(/^[A-Za-z0-9]{6,128}$/, { error: 'auth_code must be the digits scanned from the customer wallet' })
    .optional(),
  goods_name: boundedText(
    'goods_name',
    64,
    'Shorten it to the item name the customer should see.',
  ).optional(),
  goods_info: boundedText(
    'goods_info',
    256,
    'Shorten it; put long details in your own order system.',
  ).optional(),
  expired_time: z.int().min(5).max(120).optional().describe('Minutes'),
  notify_url: z
    .url({ protocol: /^https?$/, error: 'notify_url must be an http(s) URL' })
    .max(256)
    .optional(),
  return_url: z
    .url({ protocol: /^https?$/, error: 'return_url must be an http(s) URL' })
    .max(512)
    .optional(),
  sub_openid: z.string().min(1).max(128).optional(),
  openid: z.string().min(1).max(64).optional(),
  extend_info: z.union([z.record(z.string(), z.unknown()), z.string().min(2).max(4096)]).optional(),
  limit_pay: z.literal('no_credit').optional(),
  pay_tag: z.enum(['ALIPAYHK', 'ALIPAYCN']).optional(),
  rmb_tag: z.literal('Y').optional(),
  lang: languageInput,
  confirmation_token: confirmationTokenInput,
});

const outputSchema = z.object(
  unlisting(
    {
      ...writeResultShape,
      pay_type: z.string().optional(),
      pay_type_name: z.string().optional(),
      mode: z.string().optional().describe('CPM, MPM, WEB, WAP, APP, JSAPI or MINI.'),
      qrcode: z
        .string()
        .optional()
        .describe('MPM: the content to show as a QR code (also attached as an image).'),
      pay_url: z
        .string()
        .optional()
        .describe('WEB/WAP: send the customer to this URL (or show it as a QR on desktop).'),
      pay_params: z
        .union([z.record(z.string(), z.unknown()), z.string()])
        .optional()
        .describe('APP/JSAPI/MINI: hand these to the wallet SDK in the app or page, unchanged.'),
      sysdtm: z.string().optional().describe('QFPay time of the transaction (UTC+8).'),
      reconciled: z
        .boolean()
        .optional()
        .describe(
          "True when QFPay's answer was lost and this result comes from querying the same out_trade_no.",
        ),
      replayed: z
        .boolean()
        .optional()
        .describe(
          'True when this out_trade_no was already sent with the same arguments: nothing was sent again; the status is the recorded answer, refreshed by a query when it was not final.',
        ),
    },
    // qrcode, pay_url and pay_params: the description names them by mode.
    [
      'txamt',
      'qrcode',
      'replayed',
      'pay_type',
      'pay_type_name',
      'mode',
      'sysdtm',
      'reconciled',
      'pay_url',
      'pay_params',
    ],
  ),
);

type Input = z.output<typeof inputSchema>;
type Output = z.output<typeof outputSchema>;

/** Input fields that are pay-type specific and must be listed in the catalogue to be sent. */
const TYPE_SPECIFIC_FIELDS = [
  'auth_code',
  'goods_info',
  'expired_time',
  'return_url',
  'sub_openid',
  'openid',
  'extend_info',
  'limit_pay',
  'pay_tag',
  'rmb_tag',
] as const satisfies readonly (keyof Input)[];

export const createPaymentTool = defineTool({
  name: 'create_payment',
  title: 'Create a payment',
  description:
    'Moves money. txamt in the smallest currency unit. pay_type ending 08 (CPM): auth_code; 01 (MPM): qrcode + image; web: pay_url; app: pay_params; then wait_for_payment. To retry, reuse the SAME out_trade_no; after UNKNOWN do not create a new order.',
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
    const payType = checkPayType(args);
    const outTradeNo = args.out_trade_no ?? generateOutTradeNo('mcp');
    const known: KnownFields = {
      out_trade_no: outTradeNo,
      txamt: args.txamt,
      txcurrcd: args.txcurrcd,
      amount_display: amountDisplay(args.txamt, args.txcurrcd),
      pay_type: payType.payType,
      pay_type_name: payType.name,
      mode: payType.mode,
    };
    checkFields(args, payType, known);
    checkAmount(args, payType, known);
    const request = paymentRequest(args, outTradeNo);
    const intent = writeIntent(call, payType, request);
    // The caller learns the order number before anything can be sent: if its own timeout fires
    // while the payment waits for the rate budget, it still knows which number to query or reuse.
    await call.reportProgress({
      progress: 0,
      message: `Payment order reference out_trade_no ${outTradeNo}: not sent yet. If this call times out, query or retry with this out_trade_no, never a new one.`,
    });
    return sendThroughGuard(call, {
      intent,
      confirmationToken: args.confirmation_token,
      // Withdraws the payment from the rate limiter's queue when the caller gives up; it never
      // cuts a payment that is on the wire (its outcome would become unknown).
      send: () => client.createPayment(request, { signal: call.signal }),
      describe: (response) => paymentReport(response, payType),
      known,
      endpoint: 'payment',
      payType: payType.payType,
      ref: { out_trade_no: outTradeNo },
      repeatHint: `including out_trade_no "${outTradeNo}"`,
      confirmationHeadline: `Confirmation required before taking ${known.amount_display as string} by ${payTypeLabel(payType.payType)} (order ${outTradeNo}).`,
      answerLost: () => reconcile(call, payType, known, intent),
      replayed: (outcome) => replay(call, payType, known, intent, outcome),
      executed: (response) => answered(call, payType, known, response),
    });
  },
});

function paymentReport(response: PaymentResponse, payType: PayTypeEntry): ExecutionReport {
  return {
    status: statusOfPaymentResponse(response, payType),
    ...(response.syssn ? { syssn: response.syssn } : {}),
    respcd: response.respcd,
  };
}

function checkPayType(args: Input): PayTypeEntry {
  const payType = findPayType(args.pay_type);
  if (!payType || !payType.apiCreatable) {
    throw validationFailure(
      'pay_type',
      `${args.pay_type} cannot be created through this server`,
      'Choose an API-creatable pay type from list_pay_types (cards go through QFPay Checkout or a terminal).',
    );
  }
  return payType;
}

function checkFields(args: Input, payType: PayTypeEntry, known: KnownFields): void {
  for (const field of payType.requiredFields) {
    if (args[field as keyof Input] === undefined) {
      throw validationFailure(
        field,
        `is required for ${payTypeLabel(payType.payType)}`,
        field === 'auth_code'
          ? 'Scan the payment code in the customer wallet and pass its digits as auth_code, or choose an MPM pay type (…01) to show a QR instead.'
          : `Provide ${field}; list_pay_types shows each type's required fields.`,
        known,
      );
    }
  }
  const accepted = new Set([...payType.requiredFields, ...payType.optionalFields]);
  for (const field of TYPE_SPECIFIC_FIELDS) {
    if (args[field] !== undefined && !accepted.has(field)) {
      throw validationFailure(
        field,
        `is not used by ${payTypeLabel(payType.payType)} (${payType.mode})`,
        field === 'auth_code'
          ? 'auth_code is only for CPM pay types (…08), where you scan the customer code. Choose a CPM pay type, or drop auth_code to show a QR.'
          : `Remove ${field}, or choose a pay type that takes it (see list_pay_types).`,
        known,
      );
    }
  }
  if (typeof args.extend_info === 'string' && !isJsonObjectText(args.extend_info)) {
    throw validationFailure(
      'extend_info',
      'is not a JSON object',
      'Pass an object, or a string holding a JSON object such as {"scene_info":{…}}.',
      known,
    );
  }
  if (args.rmb_tag === 'Y' && args.txcurrcd !== 'CNY') {
    throw validationFailure(
      'rmb_tag',
      'only applies with txcurrcd CNY',
      'Drop rmb_tag or set txcurrcd to CNY.',
      known,
    );
  }
}

function isJsonObjectText(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

function checkAmount(args: Input, payType: PayTypeEntry, known: KnownFields): void {
  const check = validateAmount(args.txamt, args.txcurrcd, payType);
  if (!check.ok) {
    throw new ToolFailure(
      { kind: 'validation', field: check.field, message: check.message, next_action: check.fix },
      known,
    );
  }
}

function paymentRequest(args: Input, outTradeNo: string): PaymentRequest {
  const optional = {
    auth_code: args.auth_code,
    goods_name: args.goods_name,
    goods_info: args.goods_info,
    expired_time: args.expired_time,
    notify_url: args.notify_url,
    return_url: args.return_url,
    sub_openid: args.sub_openid,
    openid: args.openid,
    extend_info: args.extend_info,
    limit_pay: args.limit_pay,
    pay_tag: args.pay_tag,
    rmb_tag: args.rmb_tag,
  };
  const present = Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined));
  return {
    pay_type: args.pay_type,
    txamt: args.txamt,
    txcurrcd: args.txcurrcd,
    out_trade_no: outTradeNo,
    ...present,
  };
}

/** The request as the guard binds and records it: the wallet code masked, extend_info as text. */
function writeIntent(call: ToolCall, payType: PayTypeEntry, request: PaymentRequest): WriteIntent {
  const { txamt, txcurrcd, out_trade_no: outTradeNo, auth_code: authCode, extend_info: extendInfo } = request;
  return {
    tool: 'create_payment',
    // Words only; not in params, so not part of the action's identity (see WriteIntent.language).
    language: call.language,
    environment: call.deps.environment,
    merchant: requireClient(call).merchant,
    params: {
      ...request,
      // The wallet code is a one-time bearer credential: bound by digest, shown masked.
      auth_code: authCode !== undefined ? maskAuthCode(authCode) : undefined,
      auth_code_sha256: authCode !== undefined ? sha256(authCode) : undefined,
      extend_info:
        extendInfo === undefined || typeof extendInfo === 'string' ? extendInfo : JSON.stringify(extendInfo),
    },
    out_trade_no: outTradeNo,
    txamt,
    txcurrcd,
    summary: `Take ${amountDisplay(txamt, txcurrcd)} (${amountInWords(txamt, txcurrcd)}) by ${payTypeLabel(payType.payType)} in the ${call.deps.environment} environment, order reference ${outTradeNo}.`,
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

async function answered(
  call: ToolCall,
  payType: PayTypeEntry,
  known: KnownFields,
  response: PaymentResponse,
): Promise<ToolOutput<Output>> {
  const status = statusOfPaymentResponse(response, payType);
  const explanation = explainRespcd(
    response.respcd,
    { endpoint: 'payment', payType: payType.payType },
    call.language,
  );
  const ref = {
    ...(response.syssn ? { syssn: response.syssn } : {}),
    out_trade_no: known.out_trade_no as string,
    // A pre-auth payment made here is an authorisation: PAID means the amount is held.
    authorisation: payType.mode === 'PREAUTH',
  };
  const customerFacing = customerArtefacts(response);
  const structured: Output = {
    environment: call.deps.environment,
    ...known,
    status,
    ...(response.syssn ? { syssn: response.syssn } : {}),
    respcd: response.respcd,
    // Said once: a payment that went as planned is explained by next_action alone; the code's
    // explanation is kept for an answer that needs its cause (failed, or not known).
    ...(status === 'FAILED' || status === 'UNKNOWN' ? { respcd_explanation: explanation } : {}),
    next_action: nextActionFor(status, ref),
    ...customerFacing,
    ...(response.sysdtm ? { sysdtm: response.sysdtm } : {}),
  };
  const images: ToolImage[] = [];
  if (customerFacing.qrcode) images.push(await qrPngImage(customerFacing.qrcode));
  return {
    structured,
    summary: [
      `Payment ${ref.out_trade_no}${response.syssn ? ` (syssn ${response.syssn})` : ''}: ${known.amount_display as string} by ${payTypeLabel(payType.payType)} — ${status}.`,
      customerFacing.qrcode ? 'The QR code for the customer is attached as an image.' : '',
      customerFacing.pay_url ? `Payment link for the customer: ${customerFacing.pay_url}` : '',
      `Next: ${structured.next_action ?? ''}`,
    ]
      .filter(Boolean)
      .join('\n'),
    images,
  };
}

/** What the customer needs, checked to be plausible (no control characters, bounded length). */
function customerArtefacts(response: PaymentResponse): Pick<Output, 'qrcode' | 'pay_url' | 'pay_params'> {
  const out: Pick<Output, 'qrcode' | 'pay_url' | 'pay_params'> = {};
  if (isPlainToken(response.qrcode, 2048)) out.qrcode = response.qrcode;
  if (isPlainToken(response.pay_url, 4096)) out.pay_url = response.pay_url;
  // pay_params go to a wallet SDK byte for byte; they are passed on unchanged but bounded.
  if (response.pay_params !== undefined && JSON.stringify(response.pay_params).length <= 16_384) {
    out.pay_params = response.pay_params;
  }
  return out;
}

/** Passed on byte for byte (EMVCo payloads such as FPS contain spaces), but never with control characters. */
function isPlainToken(value: string | undefined, maxLength: number): value is string {
  return (
    typeof value === 'string' &&
    value.trim().length > 0 &&
    value.length <= maxLength &&
    !/\p{Cc}/u.test(value)
  );
}

async function reconcile(
  call: ToolCall,
  payType: PayTypeEntry,
  known: KnownFields,
  intent: WriteIntent,
): Promise<ToolOutput<Output>> {
  const outTradeNo = intent.out_trade_no;
  // An order waiting for its customer will not change until they see the QR / link, which was lost
  // with the answer: finding it is enough. A CPM payment can still finish, so that one waits.
  const result = await reconcileLostAnswer(
    call,
    { out_trade_no: outTradeNo },
    'payment',
    (status) => isFinal(status) || (payType.returns !== 'none' && status === 'AWAITING_CUSTOMER'),
  );
  const record = result.record;
  const status = record ? result.status : 'UNKNOWN';
  if (record) {
    await noteReconciliation(call, intent, {
      status,
      syssn: record.syssn,
      respcd: record.respcd,
      message: "queried after QFPay's answer was lost",
    });
  }
  const base = {
    environment: call.deps.environment,
    ...known,
    status,
    reconciled: true,
    ...(record ? { syssn: record.syssn, respcd: record.respcd } : {}),
  };
  const ref = {
    ...(record ? { syssn: record.syssn } : {}),
    out_trade_no: outTradeNo,
    authorisation: payType.mode === 'PREAUTH',
  };
  if (
    record &&
    (status === 'PAID' || status === 'FAILED' || status === 'EXPIRED' || status === 'CANCELLED')
  ) {
    const next = nextActionFor(status, ref);
    return {
      structured: { ...base, next_action: next },
      summary: `QFPay's answer to the payment was lost; querying out_trade_no ${outTradeNo} shows it is ${status}.\nNext: ${next}`,
    };
  }
  const next = lostAnswerNextAction(status, payType, outTradeNo, record !== undefined);
  throw new ToolFailure(
    {
      kind: 'unknown_outcome',
      message:
        `QFPay's answer to the payment was lost (timeout, dropped connection or unverifiable answer), and after ${result.polls} ` +
        `quer${result.polls === 1 ? 'y' : 'ies'} the payment is ${record ? status : 'not visible yet'}.`,
      next_action: next,
    },
    { ...base, next_action: next },
  );
}

function lostAnswerNextAction(
  status: string,
  payType: PayTypeEntry,
  outTradeNo: string,
  found: boolean,
): string {
  if (!found) {
    return `Do not create a new order now. Call query_transaction with out_trade_no ${outTradeNo} in a little while; if it is still not found after a few minutes, the payment was never created: only then create it again with a NEW out_trade_no (this server keeps ${outTradeNo} reserved, so repeating it returns this outcome instead of charging).`;
  }
  if (status === 'AWAITING_CUSTOMER' && payType.returns !== 'none') {
    return `The order exists but its ${payType.returns} was lost with the answer. Call cancel_payment with out_trade_no ${outTradeNo}, then create a new payment with a new out_trade_no.`;
  }
  return `Do not create a new order. Call wait_for_payment with out_trade_no ${outTradeNo} until the status is final.`;
}

/**
 * The same out_trade_no with the same arguments again: answer from what was recorded, never by
 * sending. A status that was not final is refreshed by one query; when the original answer is not
 * held any more (another process, a restart, a lost answer), the query is the answer.
 */
async function replay(
  call: ToolCall,
  payType: PayTypeEntry,
  known: KnownFields,
  intent: WriteIntent,
  outcome: ReplayedWrite<PaymentResponse>,
): Promise<ToolOutput<Output>> {
  const outTradeNo = intent.out_trade_no;
  const preamble = replayPreamble(outcome.recorded.recorded_at, `out_trade_no ${outTradeNo}`);
  if (outcome.value) {
    const original = await answered(call, payType, known, outcome.value);
    const recordedStatus = original.structured.status;
    const current =
      recordedStatus && recordedStatus !== 'CONFIRMATION_REQUIRED' && isFinal(recordedStatus)
        ? undefined
        : await readCurrent(call, { out_trade_no: outTradeNo });
    if (!current?.record) {
      return {
        ...original,
        structured: { ...original.structured, replayed: true },
        summary: `${preamble}\n${original.summary}`,
      };
    }
    if (isFinal(current.status)) {
      await noteReconciliation(call, intent, {
        status: current.status,
        syssn: current.record.syssn,
        respcd: current.record.respcd,
        message: 'queried when the same call was repeated',
      });
    }
    const ref = {
      syssn: current.record.syssn,
      out_trade_no: outTradeNo,
      authorisation: payType.mode === 'PREAUTH',
    };
    const next = nextActionFor(current.status, ref);
    const stillForCustomer = current.status === 'AWAITING_CUSTOMER';
    return {
      ...original,
      ...(stillForCustomer ? {} : { images: [] }),
      structured: { ...original.structured, status: current.status, next_action: next, replayed: true },
      summary: [
        preamble,
        `Payment ${outTradeNo} (syssn ${current.record.syssn}): ${known.amount_display as string} by ${payTypeLabel(payType.payType)} — now ${current.status}.`,
        stillForCustomer && original.structured.qrcode
          ? 'The QR code for the customer is attached as an image.'
          : '',
        stillForCustomer && original.structured.pay_url
          ? `Payment link for the customer: ${original.structured.pay_url}`
          : '',
        `Next: ${next}`,
      ]
        .filter(Boolean)
        .join('\n'),
    };
  }
  const current = await readCurrent(call, { out_trade_no: outTradeNo });
  const base = { environment: call.deps.environment, ...known, replayed: true };
  if (!current?.record) {
    const next = lostAnswerNextAction('UNKNOWN', payType, outTradeNo, false);
    throw new ToolFailure(
      {
        kind: 'unknown_outcome',
        message: `${preamble} Its outcome was ${outcome.recorded.status === 'UNKNOWN' ? 'not recorded (the answer was lost)' : outcome.recorded.status}, and QFPay ${current ? 'does not show the payment (yet)' : 'could not be queried just now'}.`,
        next_action: next,
      },
      { ...base, status: 'UNKNOWN', next_action: next },
    );
  }
  const status = current.status;
  if (isFinal(status)) {
    await noteReconciliation(call, intent, {
      status,
      syssn: current.record.syssn,
      respcd: current.record.respcd,
      message: 'queried when the same call was repeated',
    });
  }
  const ref = {
    syssn: current.record.syssn,
    out_trade_no: outTradeNo,
    authorisation: payType.mode === 'PREAUTH',
  };
  const artefactLost = status === 'AWAITING_CUSTOMER' && payType.returns !== 'none';
  const next = artefactLost
    ? `This server no longer holds the ${payType.returns} QFPay returned for this order. ${lostAnswerNextAction(status, payType, outTradeNo, true)}`
    : nextActionFor(status, ref);
  return {
    structured: {
      ...base,
      status,
      syssn: current.record.syssn,
      respcd: current.record.respcd,
      next_action: next,
    },
    summary: `${preamble}\nPayment ${outTradeNo} (syssn ${current.record.syssn}): ${known.amount_display as string} by ${payTypeLabel(payType.payType)} — ${status}.\nNext: ${next}`,
  };
}
