import type { IncomingMessage, ServerResponse } from 'node:http';

import { z } from 'zod';

import { CHECKOUT_CSS, CHECKOUT_HTML, CHECKOUT_JS } from './page.js';
import { CheckoutDesk, CheckoutError, openCheckoutSession, sessionView } from './session.js';
import type { SimulatorEngine } from '../engine.js';

/** `/checkstand/…`: the page, its assets and the three steps the page calls. */
export function isCheckoutPath(pathname: string): boolean {
  return pathname === '/checkstand' || pathname.startsWith('/checkstand/');
}

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
} as const;

const stepBodies = {
  session: z.object({ query: z.string().max(8192) }),
  pay: z.object({
    query: z.string().max(8192),
    method: z.string().max(32),
    card_number: z.string().max(64).optional(),
  }),
  challenge: z.object({
    query: z.string().max(8192),
    challenge_id: z.string().max(64),
    code: z.string().max(16),
  }),
};

export class CheckoutRoutes {
  private readonly desk: CheckoutDesk;

  constructor(private readonly engine: SimulatorEngine) {
    this.desk = new CheckoutDesk(engine);
  }

  handle(req: IncomingMessage, res: ServerResponse, pathname: string, body: Buffer | undefined): void {
    const method = req.method ?? '';
    if (method === 'GET' && (pathname === '/checkstand' || pathname === '/checkstand/'))
      return send(res, 200, 'text/html; charset=utf-8', CHECKOUT_HTML);
    if (method === 'GET' && pathname === '/checkstand/checkout.js')
      return send(res, 200, 'text/javascript; charset=utf-8', CHECKOUT_JS);
    if (method === 'GET' && pathname === '/checkstand/checkout.css')
      return send(res, 200, 'text/css; charset=utf-8', CHECKOUT_CSS);
    const step = pathname.replace(/^\/checkstand\/api\//, '');
    if (method === 'POST' && (step === 'session' || step === 'pay' || step === 'challenge'))
      return this.runStep(res, step, body);
    sendJson(res, 404, { error: 'not_found', message: `no checkout page at ${pathname}` });
  }

  private runStep(res: ServerResponse, step: keyof typeof stepBodies, body: Buffer | undefined): void {
    let input: unknown;
    try {
      input = JSON.parse(body?.toString('utf8') ?? '');
    } catch {
      return sendJson(res, 400, { error: 'bad_request', message: 'The page sent a body that is not JSON.' });
    }
    this.engine.sweep();
    try {
      sendJson(res, 200, this.answer(step, input));
    } catch (error) {
      if (!(error instanceof CheckoutError)) throw error;
      const status = error.code === 'bad_signature' ? 403 : error.code === 'expired' ? 410 : 400;
      sendJson(res, status, {
        error: error.code,
        message: error.message,
        ...(error.failedUrl ? { failed_url: error.failedUrl } : {}),
      });
    }
  }

  private answer(step: keyof typeof stepBodies, input: unknown): object {
    if (step === 'session') {
      const { query } = parseStep(stepBodies.session, input);
      return sessionView(openCheckoutSession(this.engine, query));
    }
    if (step === 'pay') {
      const { query, method, card_number } = parseStep(stepBodies.pay, input);
      return this.desk.pay(query, method, card_number);
    }
    const { query, challenge_id, code } = parseStep(stepBodies.challenge, input);
    return this.desk.completeChallenge(query, challenge_id, code);
  }
}

function parseStep<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new CheckoutError('bad_request', 'The page sent an incomplete request.');
  return parsed.data;
}

function send(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': contentType });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}
