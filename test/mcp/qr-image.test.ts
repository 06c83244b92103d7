import { inflateSync } from 'node:zlib';

import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';

import { QR_PIXELS_PER_MODULE, QR_QUIET_ZONE_MODULES, qrPngImage } from '../../src/mcp/qr-image.js';

/**
 * No QR decoder is installed, so the image is checked against the encoder's own module grid: the
 * PNG is parsed and unfiltered here, and every module must be the right colour at every pixel.
 */
interface DecodedPng {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  /** true = black */
  pixel(x: number, y: number): boolean;
}

function decodePng(png: Buffer): DecodedPng {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let offset = 8;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('ascii', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') header = data;
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  expect(header).toBeDefined();
  const width = header!.readUInt32BE(0);
  const height = header!.readUInt32BE(4);
  const rowBytes = Math.ceil(width / 8);
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe((rowBytes + 1) * height);
  const rows: Buffer[] = [];
  let above = Buffer.alloc(rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)]!;
    const line = raw.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1));
    expect([0, 2]).toContain(filter);
    const row = Buffer.from(filter === 2 ? line.map((byte, i) => (byte + above[i]!) & 0xff) : line);
    rows.push(row);
    above = row;
  }
  return {
    width,
    height,
    bitDepth: header![8]!,
    colourType: header![9]!,
    pixel: (x, y) => (rows[y]![x >> 3]! & (0x80 >> (x & 7))) === 0,
  };
}

describe('QR image', () => {
  const link = 'https://qr.alipay.com/bax079924dmuasjlmvhfseee';

  it('is a 1-bit greyscale PNG whose pixels are exactly the QR modules, quiet zone included', async () => {
    const image = await qrPngImage(link);
    expect(image.mimeType).toBe('image/png');
    const png = decodePng(Buffer.from(image.data, 'base64'));
    const { modules } = QRCode.create(link, { errorCorrectionLevel: 'M' });
    const side = (modules.size + 2 * QR_QUIET_ZONE_MODULES) * QR_PIXELS_PER_MODULE;
    expect({
      width: png.width,
      height: png.height,
      bitDepth: png.bitDepth,
      colourType: png.colourType,
    }).toEqual({ width: side, height: side, bitDepth: 1, colourType: 0 });
    let dark = 0;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const row = Math.floor(y / QR_PIXELS_PER_MODULE) - QR_QUIET_ZONE_MODULES;
        const column = Math.floor(x / QR_PIXELS_PER_MODULE) - QR_QUIET_ZONE_MODULES;
        const inside = row >= 0 && row < modules.size && column >= 0 && column < modules.size;
        const expected = inside && modules.get(row, column) !== 0;
        if (png.pixel(x, y) !== expected)
          throw new Error(`pixel ${x},${y} should be ${expected ? 'black' : 'white'}`);
        if (expected) dark++;
      }
    }
    // A QR is roughly half dark modules: the grid is not blank or inverted.
    expect(dark / (modules.size * QR_PIXELS_PER_MODULE) ** 2).toBeGreaterThan(0.3);
    expect(dark / (modules.size * QR_PIXELS_PER_MODULE) ** 2).toBeLessThan(0.7);
  });

  it('stays small: a wallet link costs under 700 bytes of base64', async () => {
    const image = await qrPngImage(link);
    expect(image.data.length).toBeLessThan(700);
  });
});
