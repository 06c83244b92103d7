import { unzipSync } from 'fflate';
import { parse as parseCsv } from 'csv-parse/sync';
import * as z from 'zod';

import {
  MAX_BILL_UNCOMPRESSED_BYTES,
  REQUIRED_COLUMNS,
  TRADE_BILL_COLUMNS,
  TradeBillError,
  type TradeBillOptions,
} from './trade-bill.js';
import type { TransactionRecord } from './types.js';
import { describeIssues, transactionRecordSchema } from './wire.js';

/*
 * Reads QFPay's trade bill (the layout is in trade-bill.ts): the zip with fflate, the CSV with
 * csv-parse. A module of its own so that the client imports these only when a bill is downloaded.
 */

/** Unzips and parses a bill into query-shaped rows: the rows of this merchant, in file order. */
export function parseTradeBill(zip: Uint8Array, options: TradeBillOptions = {}): TransactionRecord[] {
  return parseTradeBillCsv(
    unzipBill(zip, options.maxUncompressedBytes ?? MAX_BILL_UNCOMPRESSED_BYTES),
    options,
  );
}

/** The zip's first `.csv` entry, inflated only once its declared size is known to be within `cap`. */
export function unzipBill(zip: Uint8Array, cap: number): Uint8Array {
  let chosen: string | undefined;
  let declared = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      filter: (file) => {
        if (chosen !== undefined || !/\.csv$/i.test(file.name)) return false;
        chosen = file.name;
        declared = file.originalSize;
        return declared <= cap;
      },
    });
  } catch {
    throw new TradeBillError('not_zip', 'the answer is not a readable zip archive');
  }
  if (chosen === undefined) throw new TradeBillError('no_csv', 'the zip holds no .csv file');
  if (declared > cap)
    throw new TradeBillError(
      'too_large',
      `the zip declares ${declared} bytes uncompressed, over the ${cap}-byte limit`,
    );
  // fflate inflates into a buffer of the declared size, so a lying header cannot make it larger.
  return files[chosen]!;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The CSV of a bill (bytes) → this merchant's rows. */
export function parseTradeBillCsv(bytes: Uint8Array, options: TradeBillOptions = {}): TransactionRecord[] {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new TradeBillError('not_a_bill', 'the CSV is not UTF-8');
  }
  const [header, ...lines] = csvRecords(text);
  const names = (header ?? []).map((name) => columnName(name));
  const missing = REQUIRED_COLUMNS.filter((name) => !names.includes(name));
  if (missing.length > 0)
    throw new TradeBillError('not_a_bill', `its header lacks the column(s) ${missing.join(', ')}`);
  const hasMchid = names.includes('mchid');
  const rows: TransactionRecord[] = [];
  lines.forEach((cells, index) => {
    const fields = rowFields(names, cells);
    if (hasMchid && (fields['mchid'] ?? '') !== (options.mchid ?? '')) return;
    const parsed = billRowSchema.safeParse(fields);
    if (!parsed.success)
      throw new TradeBillError('not_a_bill', `row ${index + 2}: ${describeIssues(parsed.error)}`);
    rows.push(parsed.data);
  });
  return rows;
}

/** A header cell as a field name: trimmed, lower case, `orig_syssn` under its query-row name. */
function columnName(cell: string): string {
  const name = cell.trim().toLowerCase();
  return name === 'orig_syssn' ? 'origssn' : name;
}

const KNOWN: ReadonlySet<string> = new Set([...TRADE_BILL_COLUMNS.map(columnName), 'mchid']);

function rowFields(names: readonly string[], cells: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  names.forEach((name, column) => {
    if (KNOWN.has(name) && cells[column] !== undefined) fields[name] = cells[column];
  });
  return fields;
}

/** A bill row is a query row (same shapes, same strictness on amounts and codes); mchid only filters. */
const billRowSchema = z.preprocess((fields) => {
  const { mchid: _mchid, ...rest } = fields as Record<string, string>;
  return rest;
}, transactionRecordSchema);

/** The CSV's records (RFC 4180, a leading BOM dropped, blank lines skipped); malformed quoting is not a bill. */
function csvRecords(text: string): string[][] {
  try {
    return parseCsv(text, { bom: true, relax_column_count: true, skip_empty_lines: true });
  } catch (error) {
    const line = (error as { lines?: unknown }).lines;
    throw new TradeBillError(
      'not_a_bill',
      `the CSV is malformed${typeof line === 'number' ? ` at line ${line}` : ''}`,
    );
  }
}
