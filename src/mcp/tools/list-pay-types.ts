import * as z from 'zod';

import { filterPayTypes } from '../../qfpay/catalog/index.js';
import { environmentSchema } from '../result-shape.js';
import { PAY_MODES, payTypeView, payTypeViewSchema, WALLETS } from './catalog-views.js';
import { defineTool, type ToolOutput } from './define.js';

const inputSchema = z.strictObject({
  mode: z
    .enum(PAY_MODES)
    .optional()
    .describe(
      'Only this mode: CPM (scan customer code), MPM (show QR), WEB, WAP, APP, JSAPI, MINI, CARD, PREAUTH.',
    ),
  wallet: z.enum(WALLETS).optional().describe('Only this wallet.'),
  text: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('Case-insensitive search in code, name, wallet and region notes.'),
  include_legacy: z.boolean().default(false).describe('Also list types only old QFPay docs mention.'),
  creatable_only: z.boolean().default(false).describe('Only types create_payment can create.'),
});

const outputSchema = z.object({
  environment: environmentSchema,
  count: z.int(),
  pay_types: z.array(payTypeViewSchema),
});

type Output = z.output<typeof outputSchema>;

export const listPayTypesTool = defineTool({
  name: 'list_pay_types',
  title: 'List QFPay pay types',
  description:
    'Lists QFPay pay types from the built-in catalogue with their mode (CPM: scan the customer code, needs auth_code; MPM: customer scans your QR; WEB/WAP: pay_url; APP/JSAPI/MINI: pay_params), wallet, refund support (FPS 802001 cannot be refunded), required fields, amount rules and which cancel endpoint applies. Filter by mode, wallet or text. Works offline, without credentials.',
  inputSchema,
  outputSchema,
  // eslint-disable-next-line @typescript-eslint/require-await
  async run(args, call): Promise<ToolOutput<Output>> {
    const entries = filterPayTypes({
      ...(args.mode ? { mode: args.mode } : {}),
      ...(args.wallet ? { wallet: args.wallet } : {}),
      ...(args.text ? { text: args.text } : {}),
      includeLegacy: args.include_legacy,
      apiCreatableOnly: args.creatable_only,
    });
    const payTypes = entries.map(payTypeView);
    const lines = payTypes.map(
      (p) =>
        `- ${p.pay_type} ${p.name} [${p.mode}${p.refundable ? '' : ', no refunds'}${p.api_creatable ? '' : ', not creatable here'}]` +
        (p.required_fields.length > 0 ? ` requires ${p.required_fields.join(', ')}` : ''),
    );
    return {
      structured: { environment: call.deps.environment, count: payTypes.length, pay_types: payTypes },
      summary:
        payTypes.length === 0
          ? 'No pay type matches these filters.'
          : [`${payTypes.length} pay type(s):`, ...lines].join('\n'),
    };
  },
});
