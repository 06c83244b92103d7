import { randomInt } from 'node:crypto';

import { formatQfpayDateTime } from '../qfpay/time.js';

/** QFPay accepts letters, digits, `_`, `|` and `*` (notes §3.2); we never generate the latter two. */
export const OUT_TRADE_NO_PATTERN = /^[A-Za-z0-9_|*]{1,128}$/;

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * A fresh merchant reference: prefix + UTC+8 timestamp + 10 random base-36 characters, e.g.
 * `mcp20251126153045k3j9x0q2ab` (27 characters, ≤ 32, letters and digits only). The timestamp
 * makes references sortable in the merchant portal; 10 random characters (~51 bits) make a
 * collision between two servers in the same second negligible.
 */
export function generateOutTradeNo(prefix: 'mcp' | 'mcprf' = 'mcp', now: Date = new Date()): string {
  const stamp = formatQfpayDateTime(now).replace(/\D/g, '');
  let random = '';
  for (let i = 0; i < 10; i++) random += ALPHABET[randomInt(ALPHABET.length)];
  return `${prefix}${stamp}${random}`;
}
