import type { ToolImage } from './tools/define.js';

/**
 * Renders a QFPay `qrcode` value (a wallet URL such as `weixin://wxpay/...`) as a PNG the chat
 * client can show to the customer. Medium error correction and a 4-module quiet zone scan
 * reliably from a phone screen. The renderer is loaded on first use: most sessions never show a
 * QR, and the import is measurable in cold start (BENCHMARKS.md §4).
 */
export async function qrPngImage(content: string): Promise<ToolImage> {
  const { default: QRCode } = await import('qrcode');
  const png = await QRCode.toBuffer(content, {
    type: 'png',
    errorCorrectionLevel: 'M',
    margin: 4,
    width: 320,
  });
  return { data: png.toString('base64'), mimeType: 'image/png' };
}
