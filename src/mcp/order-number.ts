import { randomInt } from 'node:crypto';

import { formatQfpayDateTime } from '../qfpay/time.js';

/** Generated references use letters and digits only, a subset of the rule in qfpay/out-trade-no.ts. */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * A fresh merchant reference: prefix + UTC+8 timestamp + 10 random base-36 characters, e.g.
 * `mcp20251126153045k3j9x0q2ab` (27 characters, ≤ 32, letters and digits only). The timestamp
 * makes references sortable in the merchant portal; 10 random characters (~51 bits) make a
 * collision between two servers in the same second negligible.
 */
export function generateOutTradeNo(
  prefix: 'mcp' | 'mcprf' | 'mcpcp' = 'mcp',
  now: Date = new Date(),
): string {
  const stamp = formatQfpayDateTime(now).replace(/\D/g, '');
  let random = '';
  for (let i = 0; i < 10; i++) random += ALPHABET[randomInt(ALPHABET.length)];
  return `${prefix}${stamp}${random}`;
}
