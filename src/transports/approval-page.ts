import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { z } from 'zod';

import type { Language } from '../qfpay/language.js';
import type {
  ApprovalRecord,
  ApprovalState,
  ApprovalStore,
  OperatorCredential,
} from '../safety/approval-store.js';
import { APPROVAL_PAGE_SCRIPT, approvalPageHtml, registerPageHtml } from './approval-page-html.js';
import { PAGE_WORDS, type PageMessage, type PageWords, pageLanguageOf } from './approval-page-words.js';
import type { HttpRoute } from './http.js';

/**
 * The operator's approval page: the one place where a person proves, with a credential the agent
 * does not hold, that an exact money-moving action may run (README "Safety model").
 *
 * - `GET /approve/register`: enrol a passkey (WebAuthn, user verification required); allowed only
 *   with the operator secret (QFPAY_OPERATOR_SECRET, from the server's environment).
 * - `GET /approve/<id>`: the bound summary of one pending action; approve with a registered passkey
 *   or, as the fallback, by typing the operator secret; or decline.
 *
 * These routes are outside the MCP bearer token (the person has none); what protects them is the
 * proof itself, plus: a loopback-only listener, an exact Host (`localhost:<port>`, the WebAuthn
 * relying party), an exact Origin on every POST, single-use challenges in the money-state store,
 * failed proofs rate-limited, and a CSP that runs only the two scripts served from here (no inline
 * script, no network beyond this origin). Decisions are stored with one atomic store step; the
 * guard redeems them, so a decision made here is the only way an approval comes to exist.
 */

export const APPROVAL_PATH = '/approve';
const CHALLENGE_TTL_MS = 5 * 60 * 1000;
const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_IDLE_MS = 15 * 60 * 1000;
/** Failed proofs (passkey or secret) tolerated per window before the page refuses for a while. */
const FAILED_PROOFS = { points: 5, duration: 15 * 60 };
const ID = /^[A-Za-z0-9_-]{22}$/;
const FLOW = /^[A-Za-z0-9_-]{22}$/;
const RP_NAME = 'qfpay-mcp operator approvals';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export interface ApprovalPageOptions {
  readonly store: ApprovalStore;
  /** Constant-time check of the operator secret (operator-approval.ts `secretMatcher`). */
  readonly secretMatches: (presented: string) => boolean;
  /** QFPAY_APPROVAL_PORT; 0 (default) picks a free port when the page starts. */
  readonly port?: number;
  /** The listener stops after this long without requests (default 15 min) and restarts on demand. */
  readonly idleMs?: number;
  readonly log: (line: string) => void;
  readonly now?: () => Date;
  /** QFPAY_LANG: the page's words when the browser names none of the three languages. */
  readonly language?: Language;
}

const registrationBody = z.strictObject({ secret: z.string().min(1).max(1024) });
const credentialResponse = z.looseObject({ id: z.string().min(1).max(1024), type: z.literal('public-key') });
const verifyBody = z.strictObject({ flow: z.string().regex(FLOW), response: credentialResponse });
const secretBody = z.strictObject({ secret: z.string().min(1).max(1024) });

/**
 * A loopback listener serving the page, started on first use (a stdio server has no HTTP of its
 * own) and stopped when idle. Its origin is `http://localhost:<port>`: WebAuthn needs a host name
 * (an IP address cannot be a relying party) and treats localhost as a secure context.
 */
export class ApprovalPage {
  private server: Server | undefined;
  private starting: Promise<string> | undefined;
  private origin = '';
  /** Set once the page is served by the HTTP server (serveOn) instead of its own listener. */
  private hosted = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly failures = new RateLimiterMemory(FAILED_PROOFS);
  private readonly now: () => Date;

  constructor(private readonly options: ApprovalPageOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** The page for one approval; starts the listener when it is not running. */
  async urlFor(id: string): Promise<string> {
    return `${await this.start()}${APPROVAL_PATH}/${id}`;
  }

  async registrationUrl(): Promise<string> {
    return `${await this.start()}${APPROVAL_PATH}/register`;
  }

  /**
   * Serves the page from another server (the Streamable HTTP server, through its route hook) at
   * `origin`, the address the operator's browser uses: its own listener is no longer needed.
   */
  async serveOn(origin: string): Promise<void> {
    await this.close();
    this.origin = new URL(origin).origin;
    this.hosted = true;
    this.starting = Promise.resolve(this.origin);
  }

  /**
   * `/approve/…` as a route of the Streamable HTTP server, outside the bearer token (the person has
   * none; the page carries its own proof). Answers 404 until serveOn chose this server's origin.
   */
  httpRoute(): HttpRoute {
    return {
      path: APPROVAL_PATH,
      prefix: true,
      methods: ['GET', 'POST'],
      bearer: 'none',
      handle: async (req, res) => {
        if (!this.hosted) return send(res, 404, 'text/plain', this.wordsFor(req).messages.notFound);
        await this.respond(req, res);
      },
    };
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const server = this.server;
    this.server = undefined;
    if (!this.hosted) this.starting = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private start(): Promise<string> {
    if (this.hosted) return Promise.resolve(this.origin);
    this.touch();
    this.starting ??= this.listen().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async listen(): Promise<string> {
    const server = createServer((req, res) => {
      this.touch();
      void this.respond(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.origin = `http://localhost:${(server.address() as AddressInfo).port}`;
    this.options.log(
      `qfpay-mcp: operator approval page listening on ${this.origin}${APPROVAL_PATH}/ (loopback only)`,
    );
    return this.origin;
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.close(), this.options.idleMs ?? DEFAULT_IDLE_MS);
    this.idleTimer.unref();
  }

  // -------------------------------------------------------------------------------------------

  private wordsFor(req: IncomingMessage): PageWords {
    return PAGE_WORDS[pageLanguageOf(req.headers, this.options.language)];
  }

  /** One request, in the browser's language; a failure approves nothing and says so. */
  private async respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const language = pageLanguageOf(req.headers, this.options.language);
    await this.handle(req, res, language).catch((error: unknown) => {
      this.options.log(`qfpay-mcp: approval page: ${error instanceof Error ? error.message : 'error'}`);
      if (!res.headersSent) send(res, 500, 'text/plain', PAGE_WORDS[language].messages.pageFailed);
      else res.end();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, language: Language): Promise<void> {
    const words = PAGE_WORDS[language];
    const url = new URL(req.url ?? '/', this.origin);
    const expectedHost = new URL(this.origin).host;
    if (req.headers.host !== expectedHost) {
      // The same listener reached as 127.0.0.1: send the person to the name passkeys work with.
      if (
        req.method === 'GET' &&
        expectedHost.startsWith('localhost:') &&
        req.headers.host === expectedHost.replace('localhost', '127.0.0.1')
      ) {
        res.writeHead(302, { location: `${this.origin}${url.pathname}` }).end();
        return;
      }
      return send(res, 403, 'text/plain', words.openAs(`${this.origin}${APPROVAL_PATH}/…`));
    }
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== APPROVAL_PATH.slice(1)) return send(res, 404, 'text/plain', words.messages.notFound);
    if (req.method === 'GET') return this.handleGet(res, parts.slice(1), language);
    if (req.method !== 'POST') return send(res, 405, 'text/plain', 'Method not allowed.');
    if (req.headers.origin !== this.origin)
      return sendJson(res, 403, { ok: false, message: words.messages.foreignOrigin });
    const body = await readJson(req);
    if (body === undefined) return sendJson(res, 400, { ok: false, message: words.messages.notJson });
    return this.handlePost(res, parts.slice(1), body, words);
  }

  private async handleGet(res: ServerResponse, parts: string[], language: Language): Promise<void> {
    const words = PAGE_WORDS[language];
    const [first, second] = parts;
    if (first === 'assets' && second === 'page.js' && parts.length === 2)
      return send(res, 200, 'text/javascript; charset=utf-8', APPROVAL_PAGE_SCRIPT);
    if (first === 'assets' && second === 'webauthn.js' && parts.length === 2)
      return send(res, 200, 'text/javascript; charset=utf-8', await browserBundle());
    if (first === 'register' && parts.length === 1)
      return send(res, 200, 'text/html; charset=utf-8', registerPageHtml(language));
    if (first && ID.test(first) && parts.length === 1) {
      const record = await this.options.store.getApproval(first);
      if (!record) return send(res, 404, 'text/plain', words.messages.noSuchApproval);
      const credentials = await this.options.store.listOperatorCredentials();
      return send(
        res,
        200,
        'text/html; charset=utf-8',
        approvalPageHtml({
          record,
          state: this.stateOf(record),
          hasPasskey: credentials.length > 0,
          language,
        }),
      );
    }
    return send(res, 404, 'text/plain', words.messages.notFound);
  }

  private async handlePost(
    res: ServerResponse,
    parts: string[],
    body: unknown,
    words: PageWords,
  ): Promise<void> {
    const [first, second, third] = parts;
    if (first === 'register' && second === 'options' && parts.length === 2)
      return this.registrationOptions(res, body, words);
    if (first === 'register' && second === 'verify' && parts.length === 2)
      return this.registrationVerify(res, body, words);
    if (!first || !ID.test(first))
      return sendJson(res, 404, { ok: false, message: words.messages.noSuchApproval });
    const id = first;
    if (second === 'passkey' && third === 'options' && parts.length === 3)
      return this.passkeyOptions(res, id, words);
    if (second === 'passkey' && third === 'verify' && parts.length === 3)
      return this.passkeyVerify(res, id, body, words);
    if (second === 'secret' && parts.length === 2) return this.secretApprove(res, id, body, words);
    if (second === 'decline' && parts.length === 2) return this.decline(res, id, words);
    return sendJson(res, 404, { ok: false, message: words.messages.notFound });
  }

  private async registrationOptions(res: ServerResponse, body: unknown, words: PageWords): Promise<void> {
    const parsed = registrationBody.safeParse(body);
    if (!parsed.success) return sendJson(res, 400, { ok: false, message: words.messages.typeSecret });
    if (!(await this.proofAllowed(res, words))) return;
    if (!this.options.secretMatches(parsed.data.secret)) return this.proofFailed(res, 'wrongSecret', words);
    const existing = await this.options.store.listOperatorCredentials();
    const options = await generateRegistrationOptions({
      rpName: RP_NAME,
      rpID: this.rpId(),
      userName: 'operator',
      userDisplayName: 'qfpay-mcp operator',
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({
        id: c.id,
        ...(c.transports ? { transports: [...c.transports] } : {}),
      })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    });
    const flow = await this.putChallenge('register', options.challenge);
    sendJson(res, 200, { ok: true, flow, options });
  }

  private async registrationVerify(res: ServerResponse, body: unknown, words: PageWords): Promise<void> {
    const parsed = verifyBody.safeParse(body);
    if (!parsed.success)
      return sendJson(res, 400, { ok: false, message: words.messages.malformedRegistration });
    const challenge = await this.options.store.takeChallenge(`register:${parsed.data.flow}`, this.now());
    if (!challenge) return sendJson(res, 400, { ok: false, message: words.messages.registrationExpired });
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: parsed.data.response as unknown as Parameters<
          typeof verifyRegistrationResponse
        >[0]['response'],
        expectedChallenge: challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId(),
        requireUserVerification: true,
      });
    } catch {
      return sendJson(res, 400, { ok: false, message: words.messages.passkeyNotVerified });
    }
    if (!verified.verified)
      return sendJson(res, 400, { ok: false, message: words.messages.passkeyNotVerified });
    const { credential } = verified.registrationInfo;
    const stored: OperatorCredential = {
      id: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      ...(credential.transports ? { transports: [...credential.transports] } : {}),
      createdAt: this.now().toISOString(),
    };
    await this.options.store.addOperatorCredential(stored);
    this.options.log('qfpay-mcp: approval page: an operator passkey was registered');
    sendJson(res, 200, { ok: true, message: words.messages.passkeyRegistered });
  }

  private async passkeyOptions(res: ServerResponse, id: string, words: PageWords): Promise<void> {
    const record = await this.pendingOr404(res, id, words);
    if (!record) return;
    const credentials = await this.options.store.listOperatorCredentials();
    if (credentials.length === 0)
      return sendJson(res, 409, {
        ok: false,
        message: words.messages.noPasskeyRegistered,
      });
    const options = await generateAuthenticationOptions({
      rpID: this.rpId(),
      userVerification: 'required',
      allowCredentials: credentials.map((c) => ({
        id: c.id,
        ...(c.transports ? { transports: [...c.transports] } : {}),
      })),
    });
    const flow = await this.putChallenge(`approve:${id}`, options.challenge);
    sendJson(res, 200, { ok: true, flow, options });
  }

  private async passkeyVerify(
    res: ServerResponse,
    id: string,
    body: unknown,
    words: PageWords,
  ): Promise<void> {
    const parsed = verifyBody.safeParse(body);
    if (!parsed.success)
      return sendJson(res, 400, { ok: false, message: words.messages.malformedPasskeyAnswer });
    if (!(await this.proofAllowed(res, words))) return;
    const challenge = await this.options.store.takeChallenge(`approve:${id}:${parsed.data.flow}`, this.now());
    if (!challenge) return sendJson(res, 400, { ok: false, message: words.messages.passkeyPromptExpired });
    const credential = (await this.options.store.listOperatorCredentials()).find(
      (c) => c.id === parsed.data.response.id,
    );
    if (!credential) return this.proofFailed(res, 'passkeyUnknown', words);
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response: parsed.data.response as unknown as Parameters<
          typeof verifyAuthenticationResponse
        >[0]['response'],
        expectedChallenge: challenge,
        expectedOrigin: this.origin,
        expectedRPID: this.rpId(),
        credential: {
          id: credential.id,
          publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')),
          counter: credential.counter,
          ...(credential.transports ? { transports: [...credential.transports] } : {}),
        },
        requireUserVerification: true,
      });
    } catch {
      return this.proofFailed(res, 'passkeyNotVerified', words);
    }
    if (!verified.verified) return this.proofFailed(res, 'passkeyNotVerified', words);
    const { newCounter } = verified.authenticationInfo;
    // Counters that stopped rising betray a cloned authenticator; those that never count stay 0.
    if (
      (newCounter > 0 || credential.counter > 0) &&
      !(await this.options.store.raiseOperatorCredentialCounter(credential.id, newCounter))
    )
      return this.proofFailed(res, 'counterBackwards', words);
    await this.decide(res, id, { approved: true, by: 'passkey', credentialId: credential.id }, words);
  }

  private async secretApprove(
    res: ServerResponse,
    id: string,
    body: unknown,
    words: PageWords,
  ): Promise<void> {
    const parsed = secretBody.safeParse(body);
    if (!parsed.success) return sendJson(res, 400, { ok: false, message: words.messages.typeSecret });
    if (!(await this.pendingOr404(res, id, words))) return;
    if (!(await this.proofAllowed(res, words))) return;
    if (!this.options.secretMatches(parsed.data.secret)) return this.proofFailed(res, 'wrongSecret', words);
    await this.decide(res, id, { approved: true, by: 'secret' }, words);
  }

  /** Declining needs no proof: it can only stop money from moving. */
  private async decline(res: ServerResponse, id: string, words: PageWords): Promise<void> {
    if (!(await this.pendingOr404(res, id, words))) return;
    await this.decide(res, id, { approved: false, by: 'secret' }, words);
  }

  private async decide(
    res: ServerResponse,
    id: string,
    decision: { approved: boolean; by: 'passkey' | 'secret'; credentialId?: string },
    words: PageWords,
  ): Promise<void> {
    const done = await this.options.store.decideApproval(id, decision, this.now());
    if (!done)
      return sendJson(res, 409, {
        ok: false,
        message: words.messages.noLongerPending,
      });
    this.options.log(
      `qfpay-mcp: approval page: ${id.slice(0, 6)}… ${decision.approved ? `approved (${decision.by})` : 'declined'}`,
    );
    sendJson(res, 200, {
      ok: true,
      state: decision.approved ? 'approved' : 'declined',
      message: decision.approved ? words.messages.approved : words.messages.declined,
    });
  }

  private async pendingOr404(
    res: ServerResponse,
    id: string,
    words: PageWords,
  ): Promise<ApprovalRecord | undefined> {
    const record = await this.options.store.getApproval(id);
    if (!record) {
      sendJson(res, 404, { ok: false, message: words.messages.noSuchApproval });
      return undefined;
    }
    if (this.stateOf(record) !== 'pending') {
      sendJson(res, 409, {
        ok: false,
        message: words.nothingLeft.replace('{state}', words.states[this.stateOf(record)]),
      });
      return undefined;
    }
    return record;
  }

  private stateOf(record: ApprovalRecord): ApprovalState | 'expired' {
    if (record.state === 'pending' && Date.parse(record.expiresAt) <= this.now().getTime()) return 'expired';
    return record.state;
  }

  private async putChallenge(prefix: string, challenge: string): Promise<string> {
    const flow = randomBytes(16).toString('base64url');
    await this.options.store.putChallenge(
      `${prefix}:${flow}`,
      challenge,
      new Date(this.now().getTime() + CHALLENGE_TTL_MS),
    );
    return flow;
  }

  private async proofAllowed(res: ServerResponse, words: PageWords): Promise<boolean> {
    const seen = await this.failures.get('operator');
    if (seen && seen.remainingPoints <= 0) {
      sendJson(res, 429, { ok: false, message: words.messages.tooManyFailures });
      return false;
    }
    return true;
  }

  private async proofFailed(res: ServerResponse, reason: PageMessage, words: PageWords): Promise<void> {
    await this.failures.consume('operator').catch(() => undefined);
    // The operator's log stays in one language, whatever the browser spoke.
    this.options.log(`qfpay-mcp: approval page: failed proof (${PAGE_WORDS.en.messages[reason]})`);
    sendJson(res, 403, { ok: false, message: words.messages[reason] });
  }

  private rpId(): string {
    return new URL(this.origin).hostname;
  }
}

let bundle: Promise<string> | undefined;

/** @simplewebauthn/browser's prebuilt UMD bundle (global SimpleWebAuthnBrowser), from node_modules. */
function browserBundle(): Promise<string> {
  bundle ??= (async () => {
    const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
    return readFile(path.join(path.dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js'), 'utf8');
  })();
  return bundle;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
