import * as z from 'zod';

import { CURRENCY_CODES, PAY_TYPE_CODES } from '../../qfpay/catalog/index.js';
import { MAX_TXAMT } from '../../qfpay/money.js';
import { OUT_TRADE_NO_PATTERN, outTradeNoProblem } from '../../qfpay/out-trade-no.js';

/**
 * Input fields shared by several tools, declared once so that every tool validates `txamt`,
 * `out_trade_no` or `pay_type` the same way. Messages name the fix, because the SDK hands them
 * to the model verbatim as the isError text. They carry no description: the server instructions
 * say once what txamt, txcurrcd, out_trade_no and confirmation_token are (issue #15 ¶1).
 */

export const txamtInput = z
  .int({ error: 'txamt must be a whole number in the smallest currency unit, e.g. 1050 for HKD 10.50' })
  .positive({ error: 'txamt must be greater than 0 (smallest currency unit, e.g. 1050 for HKD 10.50)' })
  // A check rather than `.max`: the bound is QFPay's Int(11), enforced here with its message, and
  // not worth its tokens in every money tool's schema (issue #15 ¶1).
  .refine((txamt) => txamt <= MAX_TXAMT, { error: `txamt must be at most ${MAX_TXAMT} (QFPay Int(11))` });

/**
 * Shown as a three-letter string (list_currencies has the table, issue #15 ¶1: the list is not
 * repeated in every tool); checked against the catalogue, with a message that names the fix.
 */
export const currencyInput = z
  .string({ error: (issue) => currencyMessage(issue.input) })
  .refine((code) => CURRENCY_CODES.includes(code), {
    error: (issue) => currencyMessage(issue.input),
  });

/** Missing, wrong case or unknown: each gets its own message naming the fix. */
function currencyMessage(input: unknown): string {
  if (input === undefined)
    return `txcurrcd is required: the ISO 4217 code of txamt's currency, e.g. "HKD" (one of ${CURRENCY_CODES.join(', ')})`;
  const upper = typeof input === 'string' ? input.trim().toUpperCase() : '';
  if ((CURRENCY_CODES as readonly string[]).includes(upper))
    return `txcurrcd must be upper-case as QFPay sends and signs it: use "${upper}"`;
  return `txcurrcd must be an ISO 4217 code QFPay lists: ${CURRENCY_CODES.join(', ')}`;
}

/** zod's own wording for a too-long string names no fix; this one says the unit and what to do. */
export function boundedText(field: string, max: number, hint: string) {
  return z
    .string({ error: `${field} must be text` })
    .min(1, { error: `${field} must not be empty; leave it out instead` })
    .max(max, {
      error: (issue) =>
        `${field} is ${typeof issue.input === 'string' ? [...issue.input].length : 'too many'} characters long; QFPay allows at most ${max} (counted in characters, not bytes). ${hint}`,
    });
}

const PAY_TYPE_MESSAGE =
  'pay_type must be one of the six-digit codes this server can create; call list_pay_types to choose one';

/** Shown as six digits (list_pay_types has the table); checked against the catalogue. */
export const payTypeInput = z
  .string({ error: PAY_TYPE_MESSAGE })
  .regex(/^\d{6}$/, { error: PAY_TYPE_MESSAGE })
  .refine((code) => PAY_TYPE_CODES.includes(code), {
    error: PAY_TYPE_MESSAGE,
  });

export const outTradeNoInput = z
  .string({ error: 'out_trade_no must be a string, e.g. "order_20261126_0001"' })
  .regex(OUT_TRADE_NO_PATTERN, {
    // The pattern stays in the JSON Schema clients see; the message says what exactly is wrong.
    error: (issue) => `out_trade_no ${outTradeNoProblem(String(issue.input)) ?? 'is not valid'}`,
  });

export const syssnInput = z.string().regex(/^[A-Za-z0-9]{1,40}$/, {
  error: 'syssn must be the QFPay transaction number: up to 40 letters or digits',
});

export const confirmationTokenInput = z.string().min(1).max(1024).optional();

/** `YYYY-MM-DD hh:mm:ss` in Hong Kong time (UTC+8), QFPay's only date format. */
export const qfpayDateTimeInput = z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, {
  error: 'use "YYYY-MM-DD hh:mm:ss" in Hong Kong time (UTC+8), e.g. "2025-11-26 09:30:00"',
});
