import * as z from 'zod';

import { filterPayTypes } from '../../qfpay/catalog/index.js';
import { environmentSchema } from '../result-shape.js';
import { PAY_MODES, payTypeView, payTypeViewSchema, WALLETS } from './catalog-views.js';
import { defineTool, type ToolOutput, validationFailure } from './define.js';

const inputSchema = z.strictObject({
  mode: z
    .string()
    .min(1)
    .max(16)
    .optional()
    .describe(
      `Only this mode, any case: ${PAY_MODES.join(', ')} (CPM: scan the customer code; MPM: show a QR).`,
    ),
  wallet: z
    .string()
    .min(1)
    .max(32)
    .optional()
    .describe(
      `Only wallets whose name contains this, any case: ${WALLETS.join(', ')} ("wechat" finds WeChat Pay).`,
    ),
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
    const modes = args.mode === undefined ? undefined : matching('mode', args.mode, PAY_MODES, 'exact');
    const wallets =
      args.wallet === undefined ? undefined : matching('wallet', args.wallet, WALLETS, 'partial');
    const entries = filterPayTypes({
      ...(args.text ? { text: args.text } : {}),
      includeLegacy: args.include_legacy,
      apiCreatableOnly: args.creatable_only,
    }).filter((p) => (!modes || modes.includes(p.mode)) && (!wallets || wallets.includes(p.wallet)));
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

/**
 * The catalogue names a filter value stands for, ignoring case (and spaces for wallets): a model
 * writes "wechat" or "mpm" as often as "WeChat Pay" or "MPM". No match is an error listing the
 * names, rather than an empty list that looks like "QFPay has no such pay type".
 */
function matching<T extends string>(
  field: string,
  value: string,
  names: readonly T[],
  how: 'exact' | 'partial',
): T[] {
  const squash = (text: string) => text.toLowerCase().replace(/\s+/g, '');
  const needle = squash(value);
  const found = names.filter((name) =>
    how === 'exact' ? squash(name) === needle : squash(name).includes(needle),
  );
  if (found.length === 0)
    throw validationFailure(
      field,
      `"${value.slice(0, 32)}" matches none of ${names.join(', ')}`,
      `Use one of those (any case${how === 'partial' ? ', or part of the name' : ''}), or leave ${field} out to list all.`,
    );
  return found;
}
