import { crc32, deflateSync } from 'node:zlib';

import type { ToolImage } from './tools/define.js';

/**
 * Renders a QFPay `qrcode` value (a wallet URL such as `https://qr.alipay.com/…`) as a PNG the chat
 * client can show to the customer. The result is paid for in every answer that carries it
 * (issue #15 ¶2: a QR payment ≤ 3 KB on the wire), so it is the smallest image that still scans
 * from a phone: a 1-bit greyscale PNG, 4 pixels per module, the standard 4-module quiet zone and
 * medium error correction (≈ 150 px for a typical wallet link). `qrcode` computes the modules; its
 * own PNG writer only makes 32-bit RGBA images, ten times the bytes, so the few lines of PNG
 * framing are written here. The encoder is loaded on first use: most sessions never show a QR, and
 * the import is measurable in cold start (BENCHMARKS.md §4).
 */
export const QR_PIXELS_PER_MODULE = 4;
export const QR_QUIET_ZONE_MODULES = 4;

export async function qrPngImage(content: string): Promise<ToolImage> {
  const { default: QRCode } = await import('qrcode');
  const { modules } = QRCode.create(content, { errorCorrectionLevel: 'M' });
  const png = onebitPng(modules.size, (row, column) => modules.get(row, column) !== 0);
  return { data: png.toString('base64'), mimeType: 'image/png' };
}

/** A PNG of the module grid: black modules on white, quiet zone around, each module scaled. */
function onebitPng(size: number, isDark: (row: number, column: number) => boolean): Buffer {
  const pixels = (size + 2 * QR_QUIET_ZONE_MODULES) * QR_PIXELS_PER_MODULE;
  const rowBytes = Math.ceil(pixels / 8);
  const raw = Buffer.alloc((rowBytes + 1) * pixels);
  let above: Buffer = Buffer.alloc(rowBytes); // PNG: the row above the first is zeros
  for (let y = 0; y < pixels; y++) {
    const row = pixelRow(y, pixels, rowBytes, size, isDark);
    const offset = y * (rowBytes + 1);
    // Filter "Up" (2): a row equal to the one above becomes zeros, which deflate to almost nothing.
    raw[offset] = 2;
    for (let i = 0; i < rowBytes; i++) raw[offset + 1 + i] = (row[i]! - above[i]!) & 0xff;
    above = row;
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(pixels, 0);
  header.writeUInt32BE(pixels, 4);
  header[8] = 1; // bit depth 1
  header[9] = 0; // greyscale; compression, filter and interlace methods stay 0 (PNG's only ones)
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** One row of pixels, 8 to a byte, most significant bit first; 0 is black, 1 is white. */
function pixelRow(
  y: number,
  pixels: number,
  rowBytes: number,
  size: number,
  isDark: (row: number, column: number) => boolean,
): Buffer {
  const row = Buffer.alloc(rowBytes, 0xff);
  const moduleRow = Math.floor(y / QR_PIXELS_PER_MODULE) - QR_QUIET_ZONE_MODULES;
  if (moduleRow < 0 || moduleRow >= size) return row;
  for (let x = 0; x < pixels; x++) {
    const moduleColumn = Math.floor(x / QR_PIXELS_PER_MODULE) - QR_QUIET_ZONE_MODULES;
    if (moduleColumn >= 0 && moduleColumn < size && isDark(moduleRow, moduleColumn)) {
      row[x >> 3]! &= ~(0x80 >> (x & 7));
    }
  }
  return row;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData), 0);
  return Buffer.concat([length, typeAndData, crc]);
}
