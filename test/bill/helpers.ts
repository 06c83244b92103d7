import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { request } from 'undici';

/** A zip whose central directory claims `size` bytes uncompressed for its first file. */
export function withDeclaredSize(zip: Uint8Array, size: number): Uint8Array {
  const patched = Buffer.from(zip);
  const central = patched.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  patched.writeUInt32LE(size, central + 24);
  return patched;
}

export interface BillAnswer {
  readonly status?: number;
  readonly contentType: string;
  readonly body: Uint8Array | string;
  readonly headers?: Record<string, string>;
}

export interface BillProxy {
  readonly baseUrl: string;
  /** What the next bill requests get; undefined passes them to the simulator too. */
  bill: BillAnswer | undefined;
  close(): Promise<void>;
}

/**
 * A loopback server in front of the simulator that answers the trade bill itself, with bytes the
 * simulator cannot be made to produce, and passes every other request on unchanged.
 */
export async function billProxy(simulatorUrl: string): Promise<BillProxy> {
  const proxy: { bill: BillAnswer | undefined } = { bill: undefined };
  const server = createServer((req, res) => {
    forward(req, res, simulatorUrl, proxy.bill).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  simulatorUrl: string,
  bill: BillAnswer | undefined,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (bill && (req.url ?? '').startsWith('/download/v1/trade_bill')) {
    res.writeHead(bill.status ?? 200, { 'content-type': bill.contentType, ...bill.headers });
    res.end(bill.body);
    return;
  }
  const headers = Object.fromEntries(
    Object.entries(req.headers).filter(([name]) => name !== 'host' && name !== 'connection'),
  ) as Record<string, string>;
  const answer = await request(`${simulatorUrl}${req.url ?? '/'}`, {
    method: (req.method ?? 'GET') as 'GET',
    headers,
    ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
  });
  const passed = Object.fromEntries(
    Object.entries(answer.headers).filter(
      ([name]) => !['connection', 'keep-alive', 'transfer-encoding'].includes(name),
    ),
  );
  res.writeHead(answer.statusCode, passed as Record<string, string>);
  res.end(Buffer.from(await answer.body.arrayBuffer()));
}
