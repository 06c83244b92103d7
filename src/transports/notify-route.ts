import type { IncomingMessage, ServerResponse } from 'node:http';

import type { NotificationInbox } from '../safety/notification-inbox.js';
import type { HttpRoute } from './http.js';

/** Where QFPay POSTs notifications unless QFPAY_NOTIFY_PATH says otherwise. */
export const DEFAULT_NOTIFY_PATH = '/qfpay/notify';
/** QFPay's notifications are a few hundred bytes. */
const MAX_NOTIFICATION_BYTES = 64 * 1024;

/**
 * The notification receiver: outside the MCP bearer token (QFPay cannot send one); the signature
 * over the raw body is the proof. QFPay stops retrying once it reads `SUCCESS`, so that is the
 * answer exactly when the notification was verified and recorded; anything else gets `FAIL`.
 */
export function notificationRoute(inbox: NotificationInbox, path = DEFAULT_NOTIFY_PATH): HttpRoute {
  return {
    path,
    methods: ['POST'],
    bearer: 'none',
    async handle(req, res) {
      const body = await readBounded(req, MAX_NOTIFICATION_BYTES);
      if (body === undefined) return answer(res, 413, 'FAIL');
      const signature = req.headers['x-qf-sign'];
      const verdict = await inbox.receive(body, typeof signature === 'string' ? signature : undefined);
      answer(res, verdict.accepted ? 200 : 400, verdict.accepted ? 'SUCCESS' : 'FAIL');
    },
  };
}

function answer(res: ServerResponse, status: number, text: 'SUCCESS' | 'FAIL'): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** The raw body, or undefined when it is larger than `limit` (then the connection is not read further). */
function readBounded(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
