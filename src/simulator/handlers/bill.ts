import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { zipSync } from 'fflate';

import { TRADE_BILL_COLUMNS } from '../../qfpay/trade-bill.js';
import { parseUtc8 } from '../clock.js';
import { requiredField } from '../fields.js';
import { merchantKey } from '../options.js';
import type { SimTransaction } from '../state.js';
import { WireError } from '../wire.js';
import type { HandlerContext } from './common.js';
import { queryRow } from './query.js';

/**
 * GET /download/v1/trade_bill?trade_date=YYYY-MM-DD (qfpay-api.md §3.7): a zip of the UTC+8 day's
 * transactions of every merchant of the app code, by sysdtm. QFPay does not document the file in
 * the zip; the simulator writes the CSV docs/simulator.md ("Trade bill") defines, which the client
 * reads (src/qfpay/trade-bill.ts). Authentication is channel-wide (wire.ts): mchid is refused.
 */

const DAY_MS = 86_400_000;

export interface BillFile {
  readonly filename: string;
  readonly bytes: Uint8Array;
}

export function handleTradeBill(context: HandlerContext): BillFile {
  const { engine, auth } = context;
  const day = requiredField(context.params, 'trade_date', 'the day of the bill, YYYY-MM-DD');
  const startMs = /^\d{4}-\d{2}-\d{2}$/.test(day) ? parseUtc8(`${day} 00:00:00`) : undefined;
  if (startMs === undefined)
    throw new WireError('1104', 'trade_date must be a calendar day as YYYY-MM-DD, e.g. 2026-12-01');
  // The ledger keeps each merchant's orders sorted by creation: a day costs what it holds.
  const rows = engine.credentials
    .filter((credential) => credential.appcode === auth.credential.appcode)
    .flatMap((credential) =>
      engine.ledger.createdBetween(
        merchantKey(credential.appcode, credential.mchid),
        startMs,
        startMs + DAY_MS - 1,
      ),
    )
    .sort((a, b) => a.createdAtSimMs - b.createdAtSimMs || (a.syssn < b.syssn ? -1 : 1));
  // A pre-authorisation past its capture window shows as finished, as it does in a query.
  for (const transaction of rows) engine.expirePreauthIfDue(transaction);
  const csv = stringifyCsv(rows.map(billLine), {
    header: true,
    columns: [...TRADE_BILL_COLUMNS],
    record_delimiter: 'windows',
  });
  const filename = `trade_bill_${day}.csv`;
  return {
    filename: `trade_bill_${day}.zip`,
    bytes: zipSync({ [filename]: Buffer.from(csv, 'utf8') }, { level: 6 }),
  };
}

function billLine(transaction: SimTransaction): Record<string, string> {
  const row: Record<string, string> = {
    ...queryRow(transaction),
    orig_syssn: transaction.origSyssn ?? '',
    mchid: transaction.mchid ?? '',
  };
  return Object.fromEntries(TRADE_BILL_COLUMNS.map((column) => [column, row[column] ?? '']));
}
