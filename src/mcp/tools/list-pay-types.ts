import * as z from 'zod';

import { ENVIRONMENT_NAMES } from '../../qfpay/catalog/environments.js';
import { filterPayTypes } from '../../qfpay/catalog/index.js';
import type { PayTypeEntry } from '../../qfpay/catalog/types.js';
import { type Language, languageInput, payTypeName } from '../../qfpay/language.js';
import { PAY_MODES, payTypeRow, payTypeRowSchema, payTypeView, WALLETS } from './catalog-views.js';
import { defineTool, type ToolOutput, validationFailure } from './define.js';

/**
 * Rows per page. The default answer (short rows) stays well under 6 KB (issue #15 ¶2) even as
 * pay types are added; `detail: 'full'` pages the same way, and qfpay://catalog/pay-types has
 * every type in full at once.
 */
export const PAY_TYPES_PER_PAGE = 20;

const inputSchema = z.strictObject({
  mode: z.string().min(1).max(16).optional(),
  wallet: z.string().min(1).max(32).optional(),
  text: z.string().min(1).max(64).optional(),
  include_legacy: z.boolean().optional(),
  creatable_only: z.boolean().optional(),
  detail: z.enum(['summary', 'full']).optional(),
  page: z.int().min(1).optional(),
  lang: languageInput,
});

const outputSchema = z.object({
  environment: z.enum(ENVIRONMENT_NAMES),
  count: z.int(),
  page: z.int(),
  next_page: z.int().optional(),
  pay_types: z.array(payTypeRowSchema),
});

type Output = z.output<typeof outputSchema>;

export const listPayTypesTool = defineTool({
  name: 'list_pay_types',
  title: 'List pay types',
  description:
    'QFPay pay types, 20 a page, by mode, wallet or text: refunds (FPS 802001: none), required fields. Cards and Apple Pay only via create_checkout_link (hosted_checkout: where); never ask for a card number. detail full: all fields.',
  inputSchema,
  outputSchema,
  // eslint-disable-next-line @typescript-eslint/require-await
  async run(args, call): Promise<ToolOutput<Output>> {
    const language = call.language;
    const entries = matchingEntries(args);
    const page = args.page ?? 1;
    const pages = Math.max(1, Math.ceil(entries.length / PAY_TYPES_PER_PAGE));
    if (page > pages)
      throw validationFailure(
        'page',
        `there are ${pages} page(s) of ${entries.length} pay type(s)`,
        `Ask for page 1 to ${pages}.`,
      );
    const shown = entries.slice((page - 1) * PAY_TYPES_PER_PAGE, page * PAY_TYPES_PER_PAGE);
    const view = args.detail === 'full' ? payTypeView : payTypeRow;
    const nextPage = page < pages ? page + 1 : undefined;
    return {
      structured: {
        environment: call.deps.environment,
        count: entries.length,
        page,
        ...(nextPage ? { next_page: nextPage } : {}),
        pay_types: shown.map((entry) => view(entry, language)),
      },
      summary: summaryText(shown, entries.length, page, pages, language),
    };
  },
});

function matchingEntries(args: z.output<typeof inputSchema>): PayTypeEntry[] {
  const modes = args.mode === undefined ? undefined : matching('mode', args.mode, PAY_MODES, 'exact');
  const wallets = args.wallet === undefined ? undefined : matching('wallet', args.wallet, WALLETS, 'partial');
  return filterPayTypes({
    ...(args.text ? { text: args.text } : {}),
    includeLegacy: args.include_legacy ?? false,
    apiCreatableOnly: args.creatable_only ?? false,
  }).filter((p) => (!modes || modes.includes(p.mode)) && (!wallets || wallets.includes(p.wallet)));
}

/** One line per pay type: code, name, mode and only the flags that are exceptions. */
function summaryText(
  shown: readonly PayTypeEntry[],
  count: number,
  page: number,
  pages: number,
  language: Language,
): string {
  if (count === 0) return 'No pay type matches these filters.';
  const header = `${count} pay type(s)${pages > 1 ? `, page ${page} of ${pages}` : ''}:`;
  const lines = shown.map((p) => {
    const flags = [
      p.mode,
      p.refundable ? '' : 'no refunds',
      p.apiCreatable ? '' : 'not creatable here',
      p.hostedCheckout ? `checkout: ${p.hostedCheckout.join('/')}` : '',
    ].filter(Boolean);
    const required = p.requiredFields.length > 0 ? ` requires ${p.requiredFields.join(', ')}` : '';
    return `${p.payType} ${payTypeName(p, language)} [${flags.join(', ')}]${required}`;
  });
  return [header, ...lines].join('\n');
}

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
