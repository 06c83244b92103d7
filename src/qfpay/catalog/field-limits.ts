/**
 * Documented limits of request fields that both the client and the simulator check.
 *
 * `goods_name`: D's paycode table types it String(64) and, on the same row, says it "Cannot exceed
 * 20 alphanumeric or contain special characters". The two contradict each other and QFPay's own
 * samples and real integrations send names with spaces; we enforce the field type, read as 64
 * UTF-8 bytes (a Chinese character is 3), and keep "about 20 plain characters" as advice
 * (docs/simulator.md, "Choices").
 */
export const GOODS_NAME_MAX_BYTES = 64;
export const GOODS_NAME_ADVICE =
  'QFPay types goods_name as String(64) and advises at most 20 letters or digits without special characters.';

/** Why `goodsName` breaks the documented limit, or undefined when it is within it. */
export function goodsNameProblem(goodsName: string): string | undefined {
  const bytes = Buffer.byteLength(goodsName, 'utf8');
  if (bytes <= GOODS_NAME_MAX_BYTES) return undefined;
  return `is ${bytes} bytes in UTF-8, over QFPay's String(${GOODS_NAME_MAX_BYTES}) (a Chinese character takes 3 bytes)`;
}
