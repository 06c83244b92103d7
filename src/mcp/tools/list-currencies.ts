import * as z from 'zod';

import { ENVIRONMENT_NAMES } from '../../qfpay/catalog/environments.js';
import { CURRENCIES } from '../../qfpay/catalog/index.js';
import { currencyView, currencyViewSchema } from './catalog-views.js';
import { defineTool, type ToolOutput } from './define.js';
import { currencyInput } from './inputs.js';

const inputSchema = z.strictObject({
  code: currencyInput.optional().describe('Only this ISO 4217 code'),
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
    'Lists the currencies QFPay accepts with their minor-unit exponent and an example: txamt is an integer in the smallest unit (HKD 10.50 is 1050, exponent 2; JPY 1050 is 1050, exponent 0). The merchant must also be enabled for a currency. Works offline.',
  inputSchema,
  outputSchema,
  // eslint-disable-next-line @typescript-eslint/require-await
  async run(args, call): Promise<ToolOutput<Output>> {
    const currencies = CURRENCIES.filter((c) => args.code === undefined || c.code === args.code).map(
      currencyView,
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
