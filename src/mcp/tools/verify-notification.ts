import * as z from 'zod';

import { amountDisplay } from '../../qfpay/money.js';
import { parseNotification } from '../../qfpay/notification.js';
import { sharedResultShape, untrustedTextSchema } from '../result-shape.js';
import { optionalUpstreamText, sanitizeUpstreamText } from '../../safety/sanitize.js';
import { defineTool, type ToolOutput, ToolFailure } from './define.js';
import { unlisting } from './compact-schema.js';
import { nextActionFor } from './views.js';

const inputSchema = z.strictObject({
  body: z.string().min(1).max(65_536).describe('Raw body as received, not re-serialised'),
  signature: z.string().min(1).max(256),
});

const outputSchema = z.object(
  unlisting(
    {
      ...sharedResultShape,
      valid: z
        .boolean()
        .optional()
        .describe('True when X-QF-SIGN matches the body under the configured key.'),
      reason: z
        .string()
        .optional()
        .describe('Why it is not valid, or a note on a valid notification of a kind not interpreted.'),
      notify_type: z.string().optional().describe('payment or refund.'),
      pay_type: z.string().optional(),
      cancel: z.string().optional(),
      sysdtm: z.string().optional(),
      paydtm: z.string().optional(),
      goods_name: untrustedTextSchema.optional(),
    },
    ['pay_type', 'cancel', 'sysdtm', 'paydtm', 'goods_name'],
  ),
);

type Output = z.output<typeof outputSchema>;

export const verifyNotificationTool = defineTool({
  name: 'verify_notification',
  title: 'Verify a notification',
  description:
    "Checks a QFPay async notification's X-QF-SIGN (upper MD5 of raw body + key) and returns its fields and status. Never act on an invalid one; for a valid one answer HTTP 200 body SUCCESS and handle duplicates idempotently.",
  inputSchema,
  outputSchema,
  // eslint-disable-next-line @typescript-eslint/require-await
  async run(args, call): Promise<ToolOutput<Output>> {
    const credentials = call.deps.credentials;
    if (!credentials) {
      throw new ToolFailure({
        kind: 'configuration',
        message: 'No QFPay client key is configured, so notification signatures cannot be checked.',
        next_action:
          'Ask the operator to set QFPAY_KEY (with QFPAY_APPCODE) for the environment the notifications come from.',
      });
    }
    const parsed = parseNotification(args.body, args.signature, credentials.key);
    const environment = call.deps.environment;
    if (!parsed.valid) {
      const next =
        'Do not act on it and do not answer SUCCESS. If you expected a payment or refund, call query_transaction to learn its real state.';
      return {
        structured: {
          environment,
          valid: false,
          ...(parsed.reason ? { reason: parsed.reason } : {}),
          next_action: next,
        },
        summary: `INVALID notification: ${parsed.reason ?? 'signature mismatch'}.\nNext: ${next}`,
      };
    }
    const body = parsed.body;
    if (!body) {
      const next =
        'The signature is genuine. Answer HTTP 200 with body SUCCESS; this server does not interpret this notification type.';
      return {
        structured: {
          environment,
          valid: true,
          ...(parsed.reason ? { reason: parsed.reason } : {}),
          next_action: next,
        },
        summary: `Valid notification (${parsed.reason ?? 'not a payment or refund'}).\nNext: ${next}`,
      };
    }
    const status = parsed.status ?? 'UNKNOWN';
    const ack =
      'Answer HTTP 200 with body SUCCESS (QFPay retries otherwise) and process it once: the same notification can arrive again.';
    const next = `${ack} ${body.notify_type === 'refund' && status === 'REFUNDED' ? 'The refund went through.' : nextActionFor(status, { syssn: sanitizeUpstreamText(body.syssn, 64), out_trade_no: sanitizeUpstreamText(body.out_trade_no, 128) })}`;
    const goodsName = optionalUpstreamText(body.goods_name, 64);
    // The body is signed by QFPay, yet whoever created the order chose some of it: every value
    // shown is the sanitised one (red-team finding B5), and the summary is built from those only.
    const shown = {
      syssn: sanitizeUpstreamText(body.syssn, 64),
      out_trade_no: sanitizeUpstreamText(body.out_trade_no, 128),
      txcurrcd: sanitizeUpstreamText(body.txcurrcd, 8),
      pay_type: sanitizeUpstreamText(body.pay_type, 16),
      cancel: sanitizeUpstreamText(body.cancel, 4),
      sysdtm: optionalUpstreamText(body.sysdtm, 32),
      paydtm: optionalUpstreamText(body.paydtm, 32),
    };
    const structured: Output = {
      environment,
      valid: true,
      status,
      notify_type: body.notify_type === 'refund' ? 'refund' : 'payment',
      syssn: shown.syssn,
      out_trade_no: shown.out_trade_no,
      txamt: body.txamt,
      txcurrcd: shown.txcurrcd,
      amount_display: amountDisplay(body.txamt, shown.txcurrcd),
      respcd: sanitizeUpstreamText(body.respcd, 8),
      pay_type: shown.pay_type,
      cancel: shown.cancel,
      ...(shown.sysdtm ? { sysdtm: shown.sysdtm } : {}),
      ...(shown.paydtm ? { paydtm: shown.paydtm } : {}),
      ...(goodsName ? { goods_name: goodsName } : {}),
      ...(parsed.reason ? { reason: parsed.reason } : {}),
      next_action: next,
    };
    return {
      structured,
      summary: `Valid ${structured.notify_type ?? 'payment'} notification: ${shown.out_trade_no} (syssn ${shown.syssn}) ${structured.amount_display ?? ''} — ${status}.\nNext: ${next}`,
    };
  },
});
