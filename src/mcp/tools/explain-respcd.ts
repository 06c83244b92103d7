import * as z from 'zod';

import { ENVIRONMENT_NAMES } from '../../qfpay/catalog/environments.js';
import { explainRespcd, RESPCD_ENDPOINTS } from '../../qfpay/catalog/index.js';
import { languageInput } from '../../qfpay/language.js';
import { defineTool, type ToolOutput } from './define.js';
import { OUTCOMES } from './catalog-views.js';

const inputSchema = z.strictObject({
  respcd: z.string().regex(/^\d{1,4}$/, { error: 'respcd is the four-digit QFPay code, e.g. "1143"' }),
  endpoint: z.enum(RESPCD_ENDPOINTS).optional(),
  pay_type: z
    .string()
    .regex(/^\d{6}$/, { error: 'pay_type is the six-digit code, e.g. "800101"' })
    .optional(),
  lang: languageInput,
});

/**
 * Flat and said once: the explanation is the result (next_action where every tool has it). No
 * environment: a code means the same in every one, and the answer touches none.
 */
const outputSchema = z.object({
  environment: z.enum(ENVIRONMENT_NAMES),
  respcd: z.string(),
  meaning: z.string(),
  outcome: z.enum(OUTCOMES),
  likely_cause: z.string(),
  next_action: z.string(),
  context_note: z.string().optional(),
});

type Output = z.output<typeof outputSchema>;

const LEGACY_NOTE = 'Only in QFPay’s old code tables.';

export const explainRespcdTool = defineTool({
  name: 'explain_respcd',
  title: 'Explain a respcd',
  description:
    'A QFPay respcd’s meaning, outcome (pending/retryable: query first, never re-send), cause and next action. Pass endpoint and pay_type: 0000 on an MPM payment is only an order.',
  inputSchema,
  outputSchema,
  // eslint-disable-next-line @typescript-eslint/require-await
  async run(args, call): Promise<ToolOutput<Output>> {
    const language = call.language;
    const { code, ...explanation } = explainRespcd(
      args.respcd,
      {
        ...(args.endpoint ? { endpoint: args.endpoint } : {}),
        ...(args.pay_type ? { payType: args.pay_type } : {}),
      },
      language,
    );
    // `known: false` is said by the meaning itself ("not in QFPay's published tables").
    const { legacy, known: _known, context_note: note, ...rest } = explanation;
    // A code only the old tables list says so in its note (one field fewer in every tool list).
    const contextNote = [note, legacy ? LEGACY_NOTE : undefined].filter(Boolean).join(' ');
    const structured: Output = {
      environment: call.deps.environment,
      respcd: code,
      ...rest,
      ...(contextNote ? { context_note: contextNote } : {}),
    };
    return {
      structured,
      // The model's line: what it means and what to do; the cause and notes are in the structure.
      summary: `${code} (${explanation.outcome}): ${explanation.meaning}\nNext: ${explanation.next_action}`,
    };
  },
});
