import * as z from 'zod';

import { summariseTransactions } from '../../qfpay/outcome.js';
import { parseQfpayDateTime } from '../../qfpay/time.js';
import type { TransactionRecord } from '../../qfpay/types.js';
import { sharedResultShape } from '../result-shape.js';
import { languageInput } from '../../qfpay/language.js';
import { defineTool, type ToolCall, type ToolOutput, validationFailure } from './define.js';
import { unlisting } from './compact-schema.js';
import { outTradeNoInput, qfpayDateTimeInput, syssnInput } from './inputs.js';
import { paymentView, paymentViewSchema, sharedFieldsOf } from './views.js';
import { requireClient } from './write-flow.js';

const MAX_IDS = 50;
const DEFAULT_PAGE_SIZE = 20;

const oneOrMany = <T extends z.ZodType>(item: T, what: string) =>
  z.union([
    item,
    z
      .array(item)
      .min(1)
      .max(MAX_IDS, { error: `at most ${MAX_IDS} ${what} per query` }),
  ]);

const inputSchema = z.strictObject({
  syssn: oneOrMany(syssnInput, 'syssn').optional(),
  out_trade_no: oneOrMany(outTradeNoInput, 'out_trade_no').optional(),
  start_time: qfpayDateTimeInput.optional().describe('YYYY-MM-DD hh:mm:ss, Hong Kong time'),
  end_time: qfpayDateTimeInput.optional().describe('Same month as start_time'),
  pay_type: z
    .union([
      z.string().regex(/^\d{6}$/),
      z
        .array(z.string().regex(/^\d{6}$/))
        .min(1)
        .max(20),
    ])
    .optional(),
  page: z.int().min(1).max(10_000).optional(),
  page_size: z.int().min(1).max(100).optional(),
  lang: languageInput,
});

const outputSchema = z.object(
  unlisting(
    {
      ...sharedResultShape,
      count: z.int().optional().describe('Number of payments in this answer.'),
      payments: z
        .array(paymentViewSchema)
        .optional()
        .describe(
          'Each payment with its refunds, normalised status and refundable remainder. Top-level fields repeat the payment when exactly one was found.',
        ),
      page: z.int().optional(),
      page_size: z.int().optional(),
      has_more: z.boolean().optional().describe('True when the page was full: ask for the next page.'),
    },
    ['page', 'page_size'],
  ),
);

type Input = z.output<typeof inputSchema>;
type Output = z.output<typeof outputSchema>;

export const queryTransactionTool = defineTool({
  name: 'query_transaction',
  title: 'Query transactions',
  description:
    'Reads payments, their refunds and refundable_txamt from QFPay: by syssn or out_trade_no (one or a list), or a time range in one month. After UNKNOWN, query the same out_trade_no.',
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const lookup = plan(args);
    const { rows, page, pageSize } = await fetchRows(call, args, lookup);
    const summaries = summariseTransactions(rows);
    const payments = summaries.map((s) => paymentView(s, call.language));
    const single = payments.length === 1 && payments[0]!.payment_found ? payments[0]! : undefined;
    const structured: Output = {
      environment: call.deps.environment,
      ...(single ? sharedFieldsOf(single) : {}),
      count: payments.length,
      payments,
      ...(page !== undefined ? { page, page_size: pageSize, has_more: rows.length >= pageSize } : {}),
      ...(payments.length === 0 ? { next_action: emptyNextAction(args) } : {}),
    };
    return { structured, summary: summarise(structured) };
  },
});

type Plan = { kind: 'one'; syssn?: string; out_trade_no?: string } | { kind: 'list' } | { kind: 'range' };

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function plan(args: Input): Plan {
  const syssns = asList(args.syssn);
  const refs = asList(args.out_trade_no);
  const hasIds = syssns.length + refs.length > 0;
  const hasRange = args.start_time !== undefined || args.end_time !== undefined;
  if (hasIds && hasRange) {
    throw validationFailure(
      'start_time',
      'cannot be combined with syssn or out_trade_no (QFPay ignores the range then)',
      'Query either by ids or by a time range.',
    );
  }
  if (!hasIds && !hasRange) {
    throw validationFailure(
      'syssn',
      'give syssn, out_trade_no, or start_time together with end_time',
      'Pass the reference(s) to look up, or a time range within one calendar month.',
    );
  }
  if (hasRange) {
    checkRange(args.start_time, args.end_time);
    return { kind: 'range' };
  }
  if (syssns.length + refs.length === 1) {
    return {
      kind: 'one',
      ...(syssns[0] ? { syssn: syssns[0] } : {}),
      ...(refs[0] ? { out_trade_no: refs[0] } : {}),
    };
  }
  return { kind: 'list' };
}

function checkRange(start: string | undefined, end: string | undefined): void {
  if (start === undefined || end === undefined) {
    throw validationFailure(
      start === undefined ? 'start_time' : 'end_time',
      'both start_time and end_time are needed',
      'Give the range start and end, e.g. "2025-11-01 00:00:00" and "2025-11-30 23:59:59".',
    );
  }
  const from = parseQfpayDateTime(start);
  const to = parseQfpayDateTime(end);
  if (!from)
    throw validationFailure(
      'start_time',
      `"${start}" is not a real date and time`,
      'Use "YYYY-MM-DD hh:mm:ss".',
    );
  if (!to)
    throw validationFailure('end_time', `"${end}" is not a real date and time`, 'Use "YYYY-MM-DD hh:mm:ss".');
  if (from > to)
    throw validationFailure('end_time', 'is before start_time', 'Swap the two or correct the range.');
  // The strings are already UTC+8 wall-clock time, so the calendar month is their first 7 characters.
  if (start.slice(0, 7) !== end.slice(0, 7)) {
    throw validationFailure(
      'end_time',
      'QFPay refuses ranges that cross a calendar month',
      `Split the range: query up to the end of ${start.slice(0, 7)} first, then from the start of the next month.`,
    );
  }
}

async function fetchRows(
  call: ToolCall,
  args: Input,
  lookup: Plan,
): Promise<{ rows: TransactionRecord[]; page?: number; pageSize: number }> {
  const client = requireClient(call);
  const options = { signal: call.signal };
  if (lookup.kind === 'one') {
    // findTransaction also brings the payment behind a refund and the refunds of a payment.
    const ref = {
      ...(lookup.syssn ? { syssn: lookup.syssn } : {}),
      ...(lookup.out_trade_no ? { out_trade_no: lookup.out_trade_no } : {}),
    };
    return { rows: await client.findTransaction(ref, options), pageSize: 100 };
  }
  const payTypes = asList(args.pay_type);
  const page = args.page ?? 1;
  const pageSize = args.page_size ?? (lookup.kind === 'list' ? 100 : DEFAULT_PAGE_SIZE);
  const answer = await client.query(
    {
      ...(args.syssn !== undefined ? { syssn: asList(args.syssn) } : {}),
      ...(args.out_trade_no !== undefined ? { out_trade_no: asList(args.out_trade_no) } : {}),
      ...(payTypes.length > 0 ? { pay_type: payTypes } : {}),
      ...(lookup.kind === 'range' ? { start_time: args.start_time!, end_time: args.end_time! } : {}),
      page,
      page_size: pageSize,
    },
    options,
  );
  return { rows: answer.data, page, pageSize };
}

function emptyNextAction(args: Input): string {
  if (args.start_time !== undefined)
    return 'No transactions in this range (and page). Check the range, the environment and the pay_type filter.';
  return 'QFPay has no transaction with this reference for this merchant in this environment. If a payment was just created with an unknown outcome, query again shortly before doing anything else; do not create a new order in the meantime.';
}

function summarise(out: Output): string {
  const payments = out.payments ?? [];
  if (payments.length === 0) return `No transactions found.\nNext: ${out.next_action ?? ''}`;
  const lines = payments.slice(0, 10).map((p) => {
    const refunds =
      p.refunds.length > 0
        ? `, ${p.refunds.length} refund(s), refundable ${p.refundable_display ?? p.refundable_txamt}`
        : '';
    return `- ${p.out_trade_no || '(refunds only)'} / syssn ${p.syssn}: ${p.amount_display ?? '?'} ${p.pay_type_name ?? p.pay_type} — ${p.status}${refunds}`;
  });
  const more = payments.length > 10 ? [`… and ${payments.length - 10} more (see JSON).`] : [];
  const next = out.next_action ? [`Next: ${out.next_action}`] : [];
  const paging = out.has_more ? ['More rows exist: ask for the next page.'] : [];
  return [`${payments.length} payment(s):`, ...lines, ...more, ...paging, ...next].join('\n');
}
