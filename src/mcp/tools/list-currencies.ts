import * as z from 'zod';

import { ENVIRONMENT_NAMES } from '../../qfpay/catalog/environments.js';
import { CURRENCIES } from '../../qfpay/catalog/index.js';
import { languageInput } from '../../qfpay/language.js';
import { currencyView, currencyViewSchema } from './catalog-views.js';
import { defineTool, type ToolOutput } from './define.js';
import { currencyInput } from './inputs.js';

const inputSchema = z.strictObject({
  code: currencyInput.optional().describe('Only this ISO 4217 code'),
  lang: languageInput,
});

const outputSchema = z.object({
  environment: z.enum(ENVIRONMENT_NAMES),
  count: z.int(),
  currencies: z.array(currencyViewSchema),
});

type Output = z.output<typeof outputSchema>;

export const listCurrenciesTool = defineTool({
  name: 'list_currencies',
  title: 'List currencies',
  description:
    'The currencies QFPay accepts, with the minor-unit exponent of txamt (HKD 2, JPY 0) and an example. The merchant must also be enabled for a currency. Offline.',
  inputSchema,
  outputSchema,
  // eslint-disable-next-line @typescript-eslint/require-await
  async run(args, call): Promise<ToolOutput<Output>> {
    const currencies = CURRENCIES.filter((c) => args.code === undefined || c.code === args.code).map((c) =>
      currencyView(c, call.language),
    );
    return {
      structured: { environment: call.deps.environment, count: currencies.length, currencies },
      summary: currencies
        .map(
          (c) =>
            `- ${c.code} ${c.name}: exponent ${c.exponent}, txamt ${c.example_txamt} = ${c.example_display}`,
        )
        .join('\n'),
    };
  },
});
