import * as z from 'zod';

import { getEnvironment } from '../../qfpay/catalog/environments.js';
import { formatQfpayDateTime, parseQfpayDateTime } from '../../qfpay/time.js';
import { type DayDifference, reconcileDay } from '../../safety/reconcile-day.js';
import { environmentSchema } from '../result-shape.js';
import { defineTool, type ToolOutput, ToolFailure, validationFailure } from './define.js';
import { unlisting } from './compact-schema.js';
import { requireClient } from './write-flow.js';

const inputSchema = z.strictObject({
  date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'date must be YYYY-MM-DD (a Hong Kong calendar day)' })
    .optional()
    .describe('Hong Kong day, YYYY-MM-DD; default today'),
});

const differenceSchema = z.object({
  kind: z.enum(['missing_from_ledger', 'unknown_to_qfpay', 'amount_differs', 'status_differs']),
  out_trade_no: z.string(),
  syssn: z.string().optional(),
  order_type: z.string(),
  txamt: z.int().optional(),
  txcurrcd: z.string().optional(),
  ledger_status: z.string().optional(),
  qfpay_status: z.string().optional(),
  ledger_final: z.boolean().optional(),
  ledger_txamt: z.int().optional(),
  qfpay_txamt: z.int().optional(),
  ledger_txcurrcd: z.string().optional(),
  qfpay_txcurrcd: z.string().optional(),
});

const outputSchema = z.object(
  unlisting(
    {
      environment: environmentSchema,
      day: z.string(),
      ledger_actions: z.int().describe('Payments and refunds this server recorded that day.'),
      qfpay_transactions: z.int().describe("QFPay's rows for that day."),
      matched: z.int(),
      differences: z.array(differenceSchema),
      truncated: z
        .boolean()
        .describe('True when QFPay had more rows than were read: the list may be incomplete.'),
      source: z.enum(['trade_bill', 'query']),
      source_note: z.string().optional(),
      next_action: z.string(),
    },
    ['day', 'source_note'],
  ),
);

type Output = z.output<typeof outputSchema>;

const SOURCE_TEXT: Record<'trade_bill' | 'query', string> = {
  trade_bill: "QFPay's trade bill",
  query: "QFPay's query API",
};

const WHAT: Record<DayDifference['kind'], string> = {
  missing_from_ledger: 'QFPay moved money this server has no record of',
  unknown_to_qfpay: 'recorded here, unknown to QFPay',
  amount_differs: 'amount differs',
  status_differs: 'status differs',
};

export const reconcileDayTool = defineTool({
  name: 'reconcile_day',
  title: 'Reconcile a day',
  description:
    "Compares this server's audit ledger for one Hong Kong day with QFPay's transactions: money moved that the ledger lacks, actions QFPay does not know, amount or status differences.",
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
    const day = args.date ?? formatQfpayDateTime().slice(0, 10);
    if (!parseQfpayDateTime(`${day} 00:00:00`))
      throw validationFailure('date', `${day} is not a calendar day`, 'Use YYYY-MM-DD, e.g. 2026-12-01.');
    const dayRecords = call.deps.guard.dayRecords?.bind(call.deps.guard);
    if (!dayRecords)
      throw new ToolFailure({
        kind: 'configuration',
        message: 'This server keeps no audit ledger here, so there is nothing to reconcile against.',
        next_action: 'Run the server with its money-moving tools enabled (the default toolsets).',
      });
    const report = await reconcileDay(day, {
      records: () => dayRecords(day),
      queryPage: async (range) => (await client.query(range, { signal: call.signal })).data,
      // Where no bill is served (sandbox, test), the query by range is QFPay's record.
      ...(getEnvironment(call.deps.environment).servesTradeBill
        ? { bill: () => client.downloadTradeBill(day, { signal: call.signal }) }
        : {}),
    });
    const next =
      report.differences.length === 0
        ? `Nothing to chase for ${day}.`
        : 'Look into each difference: query_transaction shows QFPay\'s view of an order; "status_differs" with ledger_final false only means the ledger learnt less than QFPay knows.';
    const structured: Output = {
      environment: call.deps.environment,
      ...report,
      differences: [...report.differences],
      next_action: report.truncated
        ? `${next} QFPay had more rows than were read; the list may be incomplete.`
        : next,
    };
    const lines = report.differences
      .slice(0, 20)
      .map((d) => `- ${d.out_trade_no} (${d.order_type}): ${WHAT[d.kind]}`);
    return {
      structured,
      summary: [
        `Reconciled ${day} from ${SOURCE_TEXT[report.source]}: ${report.ledger_actions} ledger action(s), ${report.qfpay_transactions} QFPay transaction(s), ${report.matched} matched, ${report.differences.length} difference(s).`,
        report.source_note ?? '',
        ...lines,
        report.differences.length > lines.length
          ? `… and ${report.differences.length - lines.length} more in the structured result.`
          : '',
        `Next: ${structured.next_action}`,
      ]
        .filter(Boolean)
        .join('\n'),
    };
  },
});
