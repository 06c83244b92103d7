import type { Dispatcher } from 'undici';
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pythonJsonDumps } from '../qfpay/pyjson.js';
import { signRawBody } from '../qfpay/signature.js';
import type { SignType } from '../qfpay/signature.js';
import { RequestLog, routeControlRequest, SimulatorControl, SimulatorControlError } from './control.js';
import type { RequestLogEntry } from './control.js';
import { SimulatorEngine } from './engine.js';
import { FaultRegistry, isTradePath, TRADE_BILL_PATH, TRADE_PATHS } from './faults.js';
import type { ActiveFault, TradePath } from './faults.js';
import { CheckoutRoutes, isCheckoutPath } from './checkout/routes.js';
import { cancelHandler } from './handlers/cancel.js';
import type { ResponseBody, TradeHandler } from './handlers/common.js';
import { handlePayment } from './handlers/payment.js';
import { handleQuery } from './handlers/query.js';
import { handleCapture, handleRelease } from './handlers/preauth.js';
import { handleRefund } from './handlers/refund.js';
import { handleAddNote } from './handlers/note.js';
import type { BillFile, handleTradeBill } from './handlers/bill.js';
import { handleWechatOpenid, isWechatOauthPath, WechatOauthRoute } from './handlers/tool.js';
import { resolveSimulatorOptions } from './options.js';
import type { SimCredential, SimulatorOptions } from './options.js';
import { SlidingWindowLimiter } from './rate-limit.js';
import {
  authenticate,
  checkFormContentType,
  decodeUtf8Body,
  parseForm,
  parseSignType,
  WireError,
} from './wire.js';
import type { FormParams } from './wire.js';

export interface RunningSimulator {
  /** `http://HOST:PORT`, without a trailing slash. */
  readonly baseUrl: string;
  readonly credentials: readonly SimCredential[];
  /** The control operations of /__sim/, in-process. */
  readonly control: SimulatorControl;
  /** Stops the server, timers, pending notifications and keep-alive sockets. */
  close(): Promise<void>;
}

const HANDLERS: Record<Exclude<TradePath, typeof TRADE_BILL_PATH>, TradeHandler> = {
  '/trade/v1/payment': handlePayment,
  '/trade/v1/query': handleQuery,
  '/trade/v1/refund': handleRefund,
  '/trade/v1/close': cancelHandler('close'),
  '/trade/v1/reversal': cancelHandler('reversal'),
  '/trade/v1/authtrade': handleCapture,
  '/trade/v1/unfreeze': handleRelease,
  '/trade/v1/add_note': handleAddNote,
  '/tool/v1/get_weixin_openid': handleWechatOpenid,
};

/** QFPay documents GET for close and reversal although every sample POSTs. */
const GET_ALLOWED: ReadonlySet<TradePath> = new Set(['/trade/v1/close', '/trade/v1/reversal']);
/** QFPay's header-signed `tool` endpoints are GETs only. */
const GET_ONLY: ReadonlySet<TradePath> = new Set(['/tool/v1/get_weixin_openid', TRADE_BILL_PATH]);

const MAX_BODY_BYTES = 64 * 1024;
const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';
const ZIP_CONTENT_TYPE = 'application/zip';

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const resolved = resolveSimulatorOptions(options);
  const warn = resolved.quiet
    ? () => undefined
    : (message: string) => console.warn(`[qfpay-simulator] ${message}`);
  // Notifications are the simulator's only outgoing HTTP; undici is loaded for the first one, so
  // that starting the embedded simulator stays cheap on the server's cold start.
  let agent: Promise<Dispatcher> | undefined;
  const dispatcher = () =>
    (agent ??= import('undici').then(
      ({ Agent }) => new Agent({ connect: { timeout: 5_000 }, keepAliveTimeout: 1_000 }),
    ));
  const engine = new SimulatorEngine(resolved, dispatcher, warn);
  const monotonicNow = () => performance.timeOrigin + performance.now();
  const limiter = new SlidingWindowLimiter(resolved.rateLimits, monotonicNow);
  const faults = new FaultRegistry();
  const requestLog = new RequestLog();
  const control = new SimulatorControl(engine, faults, requestLog, limiter);
  const shutdown = new AbortController();
  const app = new SimulatorApp(engine, limiter, faults, requestLog, control, shutdown.signal);

  const server = createServer((req, res) => {
    app.handle(req, res).catch((error: unknown) => {
      warn(`internal error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent)
        sendJson(res, 500, { error: 'internal_error', message: 'the simulator failed; see its stderr' });
      else res.destroy();
    });
  });
  await listen(server, resolved.host, resolved.port);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    baseUrl: `http://${host}:${address.port}`,
    credentials: resolved.credentials,
    control,
    close() {
      closing ??= (async () => {
        shutdown.abort();
        engine.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        if (agent) await (await agent).destroy();
      })();
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** What processing a trade request produced, before any fault reshapes it. */
interface TradeResult {
  readonly body: ResponseBody | Record<string, string>;
  readonly signingKey: string | undefined;
  /** A download's file (the trade bill): sent instead of the JSON body. */
  readonly file?: BillFile;
}

class SimulatorApp {
  private readonly checkout: CheckoutRoutes;
  private readonly wechatOauth: WechatOauthRoute;
  private billHandler: typeof handleTradeBill | undefined;

  constructor(
    private readonly engine: SimulatorEngine,
    private readonly limiter: SlidingWindowLimiter,
    private readonly faults: FaultRegistry,
    private readonly requestLog: RequestLog,
    private readonly control: SimulatorControl,
    private readonly shutdown: AbortSignal,
  ) {
    this.checkout = new CheckoutRoutes(engine);
    this.wechatOauth = new WechatOauthRoute(engine.wechat, () => engine.credentials);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The rate limiter's clock, so window checks on the log agree with what the limiter admitted.
    const arrivedAtMs = performance.timeOrigin + performance.now();
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const body = await readBody(req);
    if (url.pathname === '/__sim' || url.pathname.startsWith('/__sim/')) {
      this.handleControl(req, res, url.pathname, body);
      return;
    }
    if (isCheckoutPath(url.pathname)) {
      this.checkout.handle(req, res, url.pathname, body);
      return;
    }
    if (isWechatOauthPath(url.pathname)) {
      this.engine.sweep();
      this.wechatOauth.handle(req, res, url, body);
      return;
    }
    const appcode = headerText(req, 'x-qf-appcode');
    const entry = this.requestLog.add({
      at_ms: arrivedAtMs,
      method: req.method ?? '',
      path: url.pathname,
      appcode: appcode ?? null,
      http_status: null,
    });
    if (!isTradePath(url.pathname)) {
      entry.http_status = 404;
      this.sendTradeJson(
        res,
        404,
        {
          resperr: 'not found',
          respmsg: `no endpoint ${url.pathname}; the simulator serves ${TRADE_PATHS.join(', ')} and the control API under /__sim/`,
        },
        this.keyForAppcode(appcode),
      );
      return;
    }
    await this.handleTrade(req, res, url, url.pathname, body, entry);
  }

  private async handleTrade(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    path: TradePath,
    body: Buffer | undefined,
    entry: RequestLogEntry,
  ): Promise<void> {
    const method = req.method ?? '';
    const allowed = GET_ONLY.has(path) ? ['GET'] : GET_ALLOWED.has(path) ? ['POST', 'GET'] : ['POST'];
    if (!allowed.includes(method)) {
      entry.http_status = 405;
      res.setHeader('Allow', allowed.join(', '));
      this.sendTradeJson(
        res,
        405,
        {
          resperr: 'method not allowed',
          respmsg: GET_ONLY.has(path)
            ? `${path} accepts GET with the fields in the query string`
            : `${path} accepts POST with a form body`,
        },
        this.keyForAppcode(entry.appcode ?? undefined),
      );
      return;
    }
    this.engine.sweep();
    const parsed = parseParams(req, url, body);
    const mchid = parsed instanceof WireError ? undefined : parsed.get('mchid');
    if (mchid !== undefined && mchid !== '') Object.assign(entry, { mchid });
    // Not a secret, and it lets tests attribute every answer to the order it concerns.
    const outTradeNo = parsed instanceof WireError ? undefined : parsed.get('out_trade_no');
    if (outTradeNo !== undefined && outTradeNo !== '') Object.assign(entry, { out_trade_no: outTradeNo });
    const knownKey = this.keyForAppcode(entry.appcode ?? undefined);

    if (!this.limiter.tryAdmit(`${entry.appcode ?? ''}|${mchid ?? ''}`)) {
      entry.http_status = 429;
      this.sendTradeJson(
        res,
        429,
        { resperr: 'Too Many Requests', respmsg: 'rate limit exceeded; back off and retry later' },
        knownKey,
      );
      return;
    }

    const { latency, primary } = this.faults.take(path);
    if (primary) entry.fault = primary.kind;
    if (primary && !committedBeforeFault(primary)) {
      this.sendFaultWithoutProcessing(res, primary, entry, knownKey);
      return;
    }
    const delayBefore = sumLatency(latency.filter((f) => !f.afterCommit));
    if (delayBefore > 0 && !(await this.wait(delayBefore))) return;

    // The bill's handler (and its zip and CSV libraries) is loaded on its first request.
    if (path === TRADE_BILL_PATH) this.billHandler ??= (await import('./handlers/bill.js')).handleTradeBill;
    const result = this.process(req, path, parsed);
    // Booked before the answer leaves: a client that saw the answer finds the order next run.
    this.engine.persist();
    entry.respcd = result.body.respcd;
    const delayAfter = sumLatency(latency.filter((f) => f.afterCommit));
    if (delayAfter > 0 && !(await this.wait(delayAfter))) return;
    this.sendProcessed(res, result, primary, entry);
  }

  private process(req: IncomingMessage, path: TradePath, parsed: FormParams | WireError): TradeResult {
    let signingKey = this.keyForAppcode(headerText(req, 'x-qf-appcode'));
    try {
      if (parsed instanceof WireError) throw parsed;
      const scope = path === TRADE_BILL_PATH ? 'channel' : 'merchant';
      const outcome = authenticate(req.headers, parsed, this.engine.credentials, scope);
      signingKey = outcome.signingKey;
      if (!outcome.ok) throw outcome.error;
      const context = { engine: this.engine, auth: outcome.auth, params: parsed };
      if (path === TRADE_BILL_PATH)
        return { body: { respcd: '0000' }, signingKey, file: this.billHandler!(context) };
      return { body: HANDLERS[path](context), signingKey };
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      return { body: { respcd: error.respcd, resperr: error.resperr, respmsg: error.respmsg }, signingKey };
    }
  }

  private sendProcessed(
    res: ServerResponse,
    result: TradeResult,
    fault: ActiveFault | undefined,
    entry: RequestLogEntry,
  ): void {
    const text = result.file ? Buffer.from(result.file.bytes) : pythonJsonDumps(result.body);
    const contentType = result.file ? ZIP_CONTENT_TYPE : JSON_CONTENT_TYPE;
    switch (fault?.kind) {
      case undefined:
      case 'latency':
        entry.http_status = 200;
        if (result.file)
          res.setHeader('Content-Disposition', `attachment; filename="${result.file.filename}"`);
        this.sendTradeText(res, 200, text, contentType, result.signingKey);
        return;
      case 'drop_after_commit':
        entry.http_status = null;
        res.socket?.destroy();
        return;
      case 'malformed_json': {
        entry.http_status = 200;
        const truncated = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
        this.sendTradeText(res, 200, truncated, contentType, result.signingKey);
        return;
      }
      case 'bad_signature':
        entry.http_status = 200;
        this.sendTradeText(res, 200, text, contentType, `${result.signingKey ?? ''}\u0000not-the-key`);
        return;
      case 'http5xx':
      case 'html_error':
      case 'http429':
        this.sendFaultWithoutProcessing(res, fault, entry, undefined);
        return;
    }
  }

  /** Error answers that come from "in front of" QFPay: not signed, whatever the appcode. */
  private sendFaultWithoutProcessing(
    res: ServerResponse,
    fault: ActiveFault,
    entry: RequestLogEntry,
    knownKey: string | undefined,
  ): void {
    entry.http_status = fault.status;
    switch (fault.kind) {
      case 'http429':
        if (fault.retryAfterSeconds !== undefined)
          res.setHeader('Retry-After', String(fault.retryAfterSeconds));
        this.sendTradeJson(
          res,
          429,
          {
            resperr: 'Too Many Requests',
            respmsg: 'rate limit exceeded (simulated fault); back off and retry later',
          },
          knownKey,
        );
        return;
      case 'html_error':
        sendText(res, fault.status, htmlErrorPage(fault.status), 'text/html; charset=utf-8');
        return;
      default:
        sendText(
          res,
          fault.status,
          pythonJsonDumps({ resperr: 'Service Unavailable', respmsg: 'simulated upstream failure' }),
          JSON_CONTENT_TYPE,
        );
    }
  }

  private sendTradeJson(
    res: ServerResponse,
    status: number,
    body: Record<string, string>,
    key: string | undefined,
  ): void {
    this.sendTradeText(res, status, pythonJsonDumps(body), JSON_CONTENT_TYPE, key);
  }

  /**
   * Every answer to a known app code carries X-QF-SIGN = upper(hash(body + key)):
   * MD5 by default; with `responseSign` SHA-256 or the request's algorithm, then declared in
   * X-QF-SIGNTYPE: SHA256 the way requests declare it.
   */
  private sendTradeText(
    res: ServerResponse,
    status: number,
    text: string | Buffer,
    contentType: string,
    key: string | undefined,
  ): void {
    if (key !== undefined) {
      const signType = this.answerSignType(res.req);
      res.setHeader('X-QF-SIGN', signRawBody(text, key, signType));
      if (signType === 'SHA256') res.setHeader('X-QF-SIGNTYPE', 'SHA256');
    }
    sendText(res, status, text, contentType);
  }

  private answerSignType(req: IncomingMessage): SignType {
    switch (this.engine.options.responseSign) {
      case 'md5':
        return 'MD5';
      case 'sha256':
        return 'SHA256';
      case 'request':
        return parseSignType(headerText(req, 'x-qf-signtype')) ?? 'MD5';
    }
  }

  /** The key that signs answers to this app code before the mchid is known: its first credential's. */
  private keyForAppcode(appcode: string | undefined): string | undefined {
    return appcode === undefined
      ? undefined
      : this.engine.credentials.find((c) => c.appcode === appcode)?.key;
  }

  /** Resolves false when the simulator shut down meanwhile. */
  private async wait(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.shutdown });
      return true;
    } catch {
      return false;
    }
  }

  private handleControl(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Buffer | undefined,
  ): void {
    if (!isLoopback(req.socket.remoteAddress)) {
      sendJson(res, 403, { error: 'forbidden', message: 'the control API only answers loopback clients' });
      return;
    }
    try {
      const parsed = parseControlBody(req, body);
      const answer = routeControlRequest(this.control, req.method ?? '', path, parsed);
      sendJson(res, answer.status, answer.body);
    } catch (error) {
      if (!(error instanceof SimulatorControlError)) throw error;
      sendJson(res, error.status, { error: controlErrorName(error.status), message: error.message });
    }
  }
}

function committedBeforeFault(fault: ActiveFault): boolean {
  switch (fault.kind) {
    case 'http429':
      return false;
    case 'http5xx':
    case 'html_error':
      return fault.commit;
    default:
      return true;
  }
}

function sumLatency(faults: readonly ActiveFault[]): number {
  return faults.reduce((total, fault) => total + fault.latencyMs, 0);
}

function parseParams(req: IncomingMessage, url: URL, body: Buffer | undefined): FormParams | WireError {
  try {
    if (body === undefined)
      throw new WireError('1103', `request body is larger than ${MAX_BODY_BYTES} bytes`);
    const query = parseForm(url.search.slice(1));
    if (req.method === 'GET') return query;
    // QFPay's official JSAPI sample POSTs its fields in the query string with no body
    // (requests.post(url, params=data)): accepted, and merged with a body when both are sent.
    if (body.length === 0 && query.size > 0) return query;
    checkFormContentType(req.headers);
    const form = parseForm(decodeUtf8Body(body));
    for (const [name, value] of query) {
      if (form.has(name))
        throw new WireError(
          '1103',
          `field ${name} was sent both in the query string and in the body; send it once`,
        );
      (form as Map<string, string>).set(name, value);
    }
    return form;
  } catch (error) {
    if (error instanceof WireError) return error;
    throw error;
  }
}

function parseControlBody(req: IncomingMessage, body: Buffer | undefined): unknown {
  if (body === undefined) throw new SimulatorControlError(400, `body larger than ${MAX_BODY_BYTES} bytes`);
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new SimulatorControlError(400, `${req.method ?? ''} body must be JSON`);
  }
}

function controlErrorName(status: number): string {
  return status === 404 ? 'not_found' : status === 409 ? 'conflict' : 'invalid_request';
}

/** Reads the whole body; undefined when it exceeds the limit (the rest is drained and dropped). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms: only these may use /__sim/. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

function headerText(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
}

function sendText(res: ServerResponse, status: number, text: string | Buffer, contentType: string): void {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': String(bytes.length) });
  res.end(bytes);
}

/** What a reverse proxy in front of QFPay would answer: HTML, not JSON. */
function htmlErrorPage(status: number): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}
