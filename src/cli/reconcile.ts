import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';

import { createRuntime } from '../mcp/runtime.js';
import { EXIT_FAILURE, EXIT_OK, parseStrict } from './args.js';
import type { CliIo } from './args.js';

const RECONCILE_HELP = `Usage: qfpay-mcp reconcile [--date YYYY-MM-DD] [--json]

Compares the audit ledger of one Hong Kong (UTC+8) day with QFPay's transactions of that day and
lists every difference: money QFPay moved that the ledger lacks, ledger payments or refunds QFPay does
not know, amount or status differences. QFPay's side is its trade bill in prod and local (the
simulator), its query API by range in sandbox and test or when the bill cannot be had; the first
line says which. Read-only. Uses the same configuration as serve (QFPAY_ENV, credentials,
QFPAY_AUDIT_LOG or QFPAY_DATABASE_URL).

Options:
  --date YYYY-MM-DD   The day (default: today in Hong Kong)
  --json              Print the structured result
  -h, --help          Show this help

Exit status: 0 no differences, 1 differences found or the reconciliation failed, 2 usage error.
`;

const OPTIONS = {
  date: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The reconcile_day tool, run once from the command line through an in-process MCP client, so the
 * command and the tool can never disagree.
 */
export async function runReconcileCli(argv: readonly string[], io: CliIo): Promise<number> {
  const values = parseStrict(argv, OPTIONS, 'reconcile');
  if (values.help) {
    io.out(RECONCILE_HELP);
    return EXIT_OK;
  }
  const runtime = await createRuntime({ env: io.env, log: (line) => io.err(`${line}\n`) });
  try {
    const server = runtime.createServer();
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'qfpay-mcp-reconcile', version: '1' });
    await client.connect(clientSide);
    const result = await client.callTool({
      name: 'reconcile_day',
      arguments: values.date === undefined ? {} : { date: values.date },
    });
    await client.close();
    const text = (result.content as { type: string; text?: string }[])
      .filter((block) => block.type === 'text')
      .map((block) => block.text ?? '')
      .join('\n');
    if (result.isError) {
      io.err(`${text}\n`);
      return EXIT_FAILURE;
    }
    const structured = result.structuredContent as { differences: unknown[] };
    io.out(values.json ? `${JSON.stringify(structured, null, 2)}\n` : `${text}\n`);
    return structured.differences.length === 0 ? EXIT_OK : EXIT_FAILURE;
  } finally {
    await runtime.close();
  }
}
