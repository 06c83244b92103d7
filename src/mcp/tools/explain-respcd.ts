import * as z from 'zod';

import { explainRespcd, findPayType, RESPCD_ENDPOINTS } from '../../qfpay/catalog/index.js';
import { environmentSchema, respcdExplanationSchema } from '../result-shape.js';
import { defineTool, type ToolOutput } from './define.js';
import { PAY_MODES } from './catalog-views.js';

const inputSchema = z.strictObject({
  respcd: z
    .string()
    .regex(/^\d{1,4}$/, { error: 'respcd is the four-digit QFPay code, e.g. "1143"' })
    .describe('The QFPay response code, e.g. "1143" (leading zeros may be missing: 0 = 0000).'),
  endpoint: z
    .enum(RESPCD_ENDPOINTS)
    .optional()
    .describe(
      'Where the code was read: payment, query (the query call itself), query_row (a transaction inside a query answer), refund, close, reversal, notification. The same code means different things per endpoint.',
    ),
  pay_type: z
    .string()
    .regex(/^\d{6}$/)
    .optional()
    .describe(
      'The pay type involved; its mode refines the meaning (0000 on CPM = paid, on MPM = order created).',
    ),
  mode: z.enum(PAY_MODES).optional().describe('The pay mode, when no pay_type is at hand.'),
});

const outputSchema = z.object({
  environment: environmentSchema,
  respcd: z.string(),
  respcd_explanation: respcdExplanationSchema,
  next_action: z.string(),
  pay_type_name: z.string().optional(),
});

type Output = z.output<typeof outputSchema>;

export const explainRespcdTool = defineTool({
  name: 'explain_respcd',
  title: 'Explain a QFPay response code',
  description:
    'Explains a QFPay respcd from the built-in code table: meaning, outcome class (success, pending = query and never re-send, failed = final, retryable = transient), likely cause and the next action. Pass endpoint and pay_type/mode for the exact meaning in context (0000 on an MPM payment only means the order was created). Works offline, without credentials.',
  inputSchema,
  outputSchema,
  // eslint-disable-next-line @typescript-eslint/require-await
  async run(args, call): Promise<ToolOutput<Output>> {
    const explanation = explainRespcd(args.respcd, {
      ...(args.endpoint ? { endpoint: args.endpoint } : {}),
      ...(args.mode ? { mode: args.mode } : {}),
      ...(args.pay_type ? { payType: args.pay_type } : {}),
    });
    const payType = args.pay_type ? findPayType(args.pay_type) : undefined;
    const structured: Output = {
      environment: call.deps.environment,
      respcd: explanation.code,
      respcd_explanation: explanation,
      next_action: explanation.next_action,
      ...(payType ? { pay_type_name: payType.name } : {}),
    };
    const context = [args.endpoint, payType?.name ?? args.mode].filter(Boolean).join(', ');
    return {
      structured,
      summary: [
        `${explanation.code}${context ? ` (${context})` : ''}: ${explanation.meaning}${explanation.known ? '' : ' [not in any QFPay table we know]'}`,
        `Outcome: ${explanation.outcome}. Likely cause: ${explanation.likely_cause}`,
        explanation.context_note ? `Note: ${explanation.context_note}` : '',
        `Next: ${explanation.next_action}`,
      ]
        .filter(Boolean)
        .join('\n'),
    };
  },
});
