/**
 * The one rule for a merchant reference (`out_trade_no`), used by the library client, the MCP tools
 * and the simulator alike. QFPay's API documentation gives the field as String(128) and allows only
 * letters, digits, `_`, `|` and `*`: no spaces, hyphens, dots, Chinese or full-width characters
 * (README, "Order numbers"). A reference outside that set may pass one QFPay channel and fail
 * another, so it is refused before anything is sent.
 */

export const OUT_TRADE_NO_MAX_LENGTH = 128;

export const OUT_TRADE_NO_PATTERN = /^[A-Za-z0-9_|*]{1,128}$/;

export const OUT_TRADE_NO_EXAMPLE = 'order_20261126_0001';

/** Why `value` is not a valid out_trade_no, in words that say what to do; undefined when it is. */
export function outTradeNoProblem(value: string): string | undefined {
  if (OUT_TRADE_NO_PATTERN.test(value)) return undefined;
  if (value.length === 0) return `is empty; use a unique reference such as ${OUT_TRADE_NO_EXAMPLE}`;
  if (value.length > OUT_TRADE_NO_MAX_LENGTH)
    return `is ${value.length} characters long; QFPay allows at most ${OUT_TRADE_NO_MAX_LENGTH}`;
  return `may contain only letters, digits, "_", "|" and "*" (no spaces, hyphens, dots, Chinese or full-width characters), e.g. ${OUT_TRADE_NO_EXAMPLE}`;
}
