import { parseUtc8 } from './clock.js';
import { outTradeNoProblem } from '../qfpay/out-trade-no.js';
import { WireError } from './wire.js';
import type { FormParams } from './wire.js';

/**
 * Field rules shared by the trade endpoints. Every failure is 1104 ("bad parameter") with a
 * respmsg that names the field, says what was wrong and what is expected.
 */

export function optionalField(params: FormParams, name: string): string | undefined {
  const value = params.get(name);
  return value === undefined || value === '' ? undefined : value;
}

export function requiredField(params: FormParams, name: string, hint = ''): string {
  const value = optionalField(params, name);
  if (value === undefined)
    throw new WireError('1104', `missing required field ${name}${hint ? `: ${hint}` : ''}`);
  return value;
}

const TXAMT = /^[1-9]\d{0,10}$/;

/** A positive integer in the currency's smallest unit, at most 11 digits (QFPay Int(11)). */
export function requiredAmount(params: FormParams, name = 'txamt'): number {
  const text = requiredField(
    params,
    name,
    'an integer amount in the smallest currency unit, e.g. 100 for HKD 1.00',
  );
  if (!TXAMT.test(text))
    throw new WireError(
      '1104',
      `${name} must be a positive integer in the currency's smallest unit (e.g. 100 for HKD 1.00), without sign, decimals or leading zeros; got ${JSON.stringify(truncate(text))}`,
    );
  return Number(text);
}

/** `YYYY-MM-DD hh:mm:ss`, a real date. */
export function requiredDateTime(params: FormParams, name: string): string {
  const text = requiredField(params, name, 'format YYYY-MM-DD hh:mm:ss');
  if (parseUtc8(text) === undefined)
    throw new WireError(
      '1104',
      `${name} must be a real date-time as YYYY-MM-DD hh:mm:ss (24-hour); got ${JSON.stringify(truncate(text))}`,
    );
  return text;
}

export function optionalDateTime(params: FormParams, name: string): number | undefined {
  const text = optionalField(params, name);
  if (text === undefined) return undefined;
  const ms = parseUtc8(text);
  if (ms === undefined)
    throw new WireError(
      '1104',
      `${name} must be YYYY-MM-DD hh:mm:ss (UTC+8, 24-hour); got ${JSON.stringify(truncate(text))}`,
    );
  return ms;
}

/** out_trade_no: the one rule the client and the tools apply too (qfpay/out-trade-no.ts). */
export function requiredOutTradeNo(params: FormParams, name = 'out_trade_no'): string {
  const text = requiredField(params, name, 'your unique reference for this transaction');
  const problem = outTradeNoProblem(text);
  if (problem) throw new WireError('1104', `${name} ${problem}`);
  return text;
}

export function optionalBoundedText(params: FormParams, name: string, maxLength: number): string | undefined {
  const text = optionalField(params, name);
  if (text !== undefined && [...text].length > maxLength)
    throw new WireError('1104', `${name} is longer than ${maxLength} characters`);
  return text;
}

export function optionalPositiveInteger(
  params: FormParams,
  name: string,
  range: { min: number; max: number },
): number | undefined {
  const text = optionalField(params, name);
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text) || Number(text) < range.min || Number(text) > range.max)
    throw new WireError(
      '1104',
      `${name} must be an integer from ${range.min} to ${range.max}; got ${JSON.stringify(truncate(text))}`,
    );
  return Number(text);
}

/** notify_url: an absolute http(s) URL of at most 256 characters. */
export function optionalNotifyUrl(params: FormParams): string | undefined {
  const text = optionalField(params, 'notify_url');
  if (text === undefined) return undefined;
  if (text.length > 256) throw new WireError('1104', 'notify_url is longer than 256 characters');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WireError('1104', 'notify_url must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new WireError('1104', 'notify_url must be an absolute http:// or https:// URL');
  return text;
}

/** A comma-separated list (query filters); empty items are ignored. */
export function optionalList(params: FormParams, name: string): string[] | undefined {
  const text = optionalField(params, name);
  if (text === undefined) return undefined;
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length === 0 ? undefined : items;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
