import path from 'node:path';

import {
  Client,
  type ElicitResult,
  type FetchLike,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LedgerRecord } from '../../src/safety/ledger.js';
import { createRuntime, type QfpayMcpRuntime } from '../../src/mcp/runtime.js';
import { type RunningHttpServer, startHttpServer } from '../../src/transports/http.js';
import { call, envFor, ledgerRecords, openSession, upstreamCount, useWitness } from './helpers.js';

/**
 * When the client can ask its person (form elicitation), a production write asks them directly
 * with the same summary instead of the token round trip. Accept executes once; decline or
 * dismiss sends nothing. Clients that cannot be asked get the token.
 */

const PAYMENT = '/trade/v1/payment';
const ARGS = { pay_type: '800101', txamt: 2_500, txcurrcd: 'HKD' } as const;

const witness = useWitness('elicit');

function prodEnv(ledger: string): NodeJS.ProcessEnv {
  return envFor('prod', witness.simulator, witness.credential, path.join(witness.dir, ledger));
}

describe('a client that supports form elicitation', () => {
  it('accept: the person sees the summary, the payment is sent once, the ledger says how it was approved', async () => {
    const ledger = path.join(witness.dir, 'accept.jsonl');
    const session = await openSession({
      env: prodEnv('accept.jsonl'),
      allowProdWrites: true,
      elicitation: { answer: () => ({ action: 'accept', content: { approve: true } }) },
    });
    try {
      const before = upstreamCount(witness.simulator, PAYMENT);
      const answer = await call(session.client, 'create_payment', ARGS);
      expect(answer.isError).toBe(false);
      expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
      expect(answer.structured.confirmation_token).toBeUndefined();
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
      expect(session.prompts).toHaveLength(1);
      const prompt = session.prompts[0]!;
      expect(prompt).toContain('HKD 25.00');
      expect(prompt).toContain('twenty-five Hong Kong dollars');
      expect(prompt).toContain('txamt 2500');
      expect(prompt).toContain('REAL MONEY');
      expect(prompt).toContain(String(answer.structured.out_trade_no));
      const intents = (await ledgerRecords(ledger)).filter((r) => r.step === 'intent');
      expect(intents).toHaveLength(1);
      expect(intents[0]?.approval).toBe('client-elicitation');
    } finally {
      await session.close();
    }
  });

  it.each([
    ['decline', { action: 'decline' as const }],
    ['cancel', { action: 'cancel' as const }],
    ['accept without ticking approve', { action: 'accept' as const, content: { approve: false } }],
  ])('%s: nothing is sent, the call ends refused, nothing is recorded', async (_label, response) => {
    const file = `no-${String(_label).replace(/\W+/g, '-')}.jsonl`;
    const session = await openSession({
      env: prodEnv(file),
      allowProdWrites: true,
      elicitation: { answer: () => response },
    });
    try {
      const before = witness.simulator.control.requests().length;
      const answer = await call(session.client, 'create_payment', ARGS);
      expect(answer.isError).toBe(true);
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(answer.text).toMatch(/The person (declined|dismissed)/);
      expect(answer.text).toMatch(/Nothing was sent to QFPay/);
      expect(witness.simulator.control.requests().length).toBe(before);
      expect(session.prompts).toHaveLength(1);
      expect(await ledgerRecords(path.join(witness.dir, file)).catch(() => [])).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('a tool call cancelled while the person is being asked sends nothing, even if they approve later', async () => {
    let approveLater!: () => void;
    let markAsked!: () => void;
    const asked = new Promise<void>((resolve) => (markAsked = resolve));
    const session = await openSession({
      env: prodEnv('cancelled.jsonl'),
      allowProdWrites: true,
      elicitation: {
        answer: () =>
          new Promise((resolve) => {
            approveLater = () => resolve({ action: 'accept', content: { approve: true } });
            markAsked();
          }),
      },
    });
    try {
      const before = upstreamCount(witness.simulator, PAYMENT);
      const controller = new AbortController();
      const calling = session.client.callTool(
        { name: 'create_payment', arguments: ARGS },
        { signal: controller.signal },
      );
      await asked;
      controller.abort();
      await expect(calling).rejects.toThrow();
      approveLater();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
      expect(await ledgerRecords(path.join(witness.dir, 'cancelled.jsonl')).catch(() => [])).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('a refund is confirmed the same way and executed once', async () => {
    const session = await openSession({
      env: prodEnv('refund.jsonl'),
      allowProdWrites: true,
      elicitation: { answer: () => ({ action: 'accept', content: { approve: true } }) },
    });
    try {
      const paid = await call(session.client, 'create_payment', {
        pay_type: '800108',
        txamt: 1_000,
        txcurrcd: 'HKD',
        auth_code: '280000000000000001',
      });
      expect(paid.structured.status).toBe('PAID');
      const before = upstreamCount(witness.simulator, '/trade/v1/refund');
      const refund = await call(session.client, 'refund', { syssn: paid.structured.syssn, txamt: 400 });
      expect(refund.structured.status).toBe('PARTIALLY_REFUNDED');
      expect(upstreamCount(witness.simulator, '/trade/v1/refund')).toBe(before + 1);
      expect(session.prompts.at(-1)).toMatch(/Refund HKD 4\.00 \(four Hong Kong dollars\)/);
    } finally {
      await session.close();
    }
  });
});

describe('clients that cannot be asked get the token', () => {
  it('no elicitation capability: CONFIRMATION_REQUIRED, nothing sent', async () => {
    const session = await openSession({ env: prodEnv('no-capability.jsonl'), allowProdWrites: true });
    try {
      const before = upstreamCount(witness.simulator, PAYMENT);
      const answer = await call(session.client, 'create_payment', ARGS);
      expect(answer.structured.status).toBe('CONFIRMATION_REQUIRED');
      expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
    } finally {
      await session.close();
    }
  });
});

/**
 * Over Streamable HTTP both protocol eras are served, and each is asked its own way: a 2025-era
 * session by a pushed elicitation request, a 2026-07-28 client (no push channel) by an
 * `input_required` answer that the official client fulfils with the same elicitation handler and
 * sends back with the person's answer and the request state.
 */
describe('over HTTP, per protocol era', () => {
  const LEDGER = 'http-eras.jsonl';
  let runtime: QfpayMcpRuntime;
  let server: RunningHttpServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    runtime = await createRuntime({ env: prodEnv(LEDGER), allowProdWrites: true, log: () => undefined });
    server = await startHttpServer({
      createServer: (scope) => runtime.createServer(scope),
      environment: runtime.environment,
      port: 0,
    });
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    await server.close();
    await runtime.close();
  });

  interface Connected {
    client: Client;
    /** Messages of the elicitations the person was shown. */
    asked: string[];
    /** JSON-RPC tools/call params as they left the client. */
    toolCalls: Record<string, unknown>[];
  }

  /** An official client; `rewrite` may alter a tools/call on the wire (a tampering client). */
  async function connect(
    mode: 'legacy' | 'auto',
    answer: ElicitResult | undefined,
    rewrite?: (params: Record<string, unknown>) => void,
  ): Promise<Connected> {
    const asked: string[] = [];
    const toolCalls: Record<string, unknown>[] = [];
    const watching: FetchLike = (url, init) => {
      if (typeof init?.body === 'string') {
        const message = JSON.parse(init.body) as { method?: string; params?: Record<string, unknown> };
        if (message.method === 'tools/call' && message.params) {
          rewrite?.(message.params);
          toolCalls.push(structuredClone(message.params));
          return fetch(url, { ...init, body: JSON.stringify(message) });
        }
      }
      return fetch(url, init);
    };
    const client = new Client(
      { name: `elicit-${mode}`, version: '1.0.0' },
      { ...(answer ? { capabilities: { elicitation: { form: {} } } } : {}), versionNegotiation: { mode } },
    );
    if (answer) {
      client.setRequestHandler('elicitation/create', (request) => {
        asked.push(request.params.message);
        return Promise.resolve(answer);
      });
    }
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch: watching }));
    clients.push(client);
    return { client, asked, toolCalls };
  }

  async function intentsFor(outTradeNo: unknown): Promise<LedgerRecord[]> {
    const records = await ledgerRecords(path.join(witness.dir, LEDGER)).catch((): LedgerRecord[] => []);
    return records.filter((r) => r.step === 'intent' && r.out_trade_no === outTradeNo);
  }

  const APPROVE = { action: 'accept', content: { approve: true } } as const;

  it('2025-era session: asked by a pushed request, executed once', async () => {
    const legacy = await connect('legacy', APPROVE);
    const before = upstreamCount(witness.simulator, PAYMENT);
    const direct = await call(legacy.client, 'create_payment', ARGS);
    expect(direct.structured.status).toBe('AWAITING_CUSTOMER');
    expect(legacy.asked).toHaveLength(1);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
    // No multi round trip on this era: one tools/call, no request state.
    expect(legacy.toolCalls).toHaveLength(1);
    expect(legacy.toolCalls[0]?.requestState).toBeUndefined();
    const intents = await intentsFor(direct.structured.out_trade_no);
    expect(intents.map((r) => r.approval)).toEqual(['client-elicitation']);
  });

  it('2026-07-28 client with form elicitation: asked in the answer, executed exactly once', async () => {
    const modern = await connect('auto', APPROVE);
    const before = upstreamCount(witness.simulator, PAYMENT);
    const answer = await call(modern.client, 'create_payment', ARGS);
    expect(answer.isError).toBe(false);
    expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
    expect(answer.structured.confirmation_token).toBeUndefined();
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);

    expect(modern.asked).toHaveLength(1);
    expect(modern.asked[0]).toContain('HKD 25.00');
    expect(modern.asked[0]).toContain('REAL MONEY');
    expect(modern.asked[0]).toContain(String(answer.structured.out_trade_no));
    // The round trip really happened in-band: the same call, sent again with the answer and state.
    expect(modern.toolCalls).toHaveLength(2);
    const [first, second] = modern.toolCalls;
    expect(first?.requestState).toBeUndefined();
    expect(second?.arguments).toEqual(first?.arguments);
    expect(typeof second?.requestState).toBe('string');
    expect(second?.inputResponses).toEqual({ confirm: APPROVE });

    const intents = await intentsFor(answer.structured.out_trade_no);
    expect(intents).toHaveLength(1);
    expect(intents[0]?.approval).toBe('client-elicitation');
  });

  it('2026-07-28: a refund is confirmed the same way and keeps its generated reference', async () => {
    const modern = await connect('auto', APPROVE);
    const paid = await call(modern.client, 'create_payment', {
      pay_type: '800108',
      txamt: 1_000,
      txcurrcd: 'HKD',
      auth_code: '280000000000000001',
    });
    expect(paid.structured.status).toBe('PAID');
    const before = upstreamCount(witness.simulator, '/trade/v1/refund');
    const refund = await call(modern.client, 'refund', { syssn: paid.structured.syssn, txamt: 400 });
    expect(refund.structured.status).toBe('PARTIALLY_REFUNDED');
    expect(upstreamCount(witness.simulator, '/trade/v1/refund')).toBe(before + 1);
    expect(modern.asked.at(-1)).toMatch(/Refund HKD 4\.00 \(four Hong Kong dollars\)/);
    expect(modern.asked.at(-1)).toContain(String(refund.structured.out_trade_no));
  });

  it.each([
    ['decline', { action: 'decline' } as const, /The person declined/],
    ['cancel', { action: 'cancel' } as const, /The person dismissed/],
    [
      'accept without ticking approve',
      { action: 'accept', content: { approve: false } } as const,
      /The person declined/,
    ],
  ])(
    '2026-07-28 %s: nothing is sent, a clear refusal, nothing recorded',
    async (_label, response, reason) => {
      const modern = await connect('auto', response);
      const before = witness.simulator.control.requests().length;
      const answer = await call(modern.client, 'create_payment', ARGS);
      expect(answer.isError).toBe(true);
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(answer.text).toMatch(reason);
      expect(answer.text).toMatch(/Nothing was sent to QFPay/);
      expect(answer.structured.out_trade_no).toEqual(expect.any(String));
      expect(modern.toolCalls).toHaveLength(2);
      expect(witness.simulator.control.requests().length).toBe(before);
      expect(modern.asked).toHaveLength(1);
      expect(await intentsFor(answer.structured.out_trade_no)).toEqual([]);
    },
  );

  it('2026-07-28 client without elicitation: the token round trip, as before', async () => {
    const modern = await connect('auto', undefined);
    const before = upstreamCount(witness.simulator, PAYMENT);
    const viaToken = await call(modern.client, 'create_payment', ARGS);
    expect(viaToken.structured.status).toBe('CONFIRMATION_REQUIRED');
    expect(modern.toolCalls).toHaveLength(1);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
    const confirmed = await call(modern.client, 'create_payment', {
      ...ARGS,
      out_trade_no: viaToken.structured.out_trade_no,
      confirmation_token: viaToken.structured.confirmation_token,
    });
    expect(confirmed.structured.status).toBe('AWAITING_CUSTOMER');
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before + 1);
    expect((await intentsFor(viaToken.structured.out_trade_no)).map((r) => r.approval)).toEqual([
      'agent-token',
    ]);
  });

  it.each([
    [
      'state pointing at another out_trade_no',
      (state: string): string => {
        const [prefix, encoded, mac] = [
          state.slice(0, 'qfpay-inband.v1.'.length),
          ...state.slice('qfpay-inband.v1.'.length).split('.'),
        ];
        const body = JSON.parse(Buffer.from(String(encoded), 'base64url').toString('utf8')) as { o: string };
        body.o = `${body.o}X`;
        return `${prefix}${Buffer.from(JSON.stringify(body), 'utf8').toString('base64url')}.${mac}`;
      },
      /The answer was refused: The answer came back with request state this server did not issue/,
    ],
    ['state not issued by this server', (): string => 'forged-state', /was not issued by this server/],
  ])('2026-07-28 tampered request state (%s): refused, nothing sent', async (_label, tamper, reason) => {
    const modern = await connect('auto', APPROVE, (params) => {
      if (typeof params.requestState === 'string') params.requestState = tamper(params.requestState);
    });
    const before = witness.simulator.control.requests().length;
    const answer = await call(modern.client, 'create_payment', ARGS);
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(reason);
    expect(answer.text).toMatch(/Nothing was sent to QFPay/);
    expect(modern.asked).toHaveLength(1);
    expect(witness.simulator.control.requests().length).toBe(before);
  });

  it('red-team M8: a token from a call that declared no elicitation, sent back as an accepted answer, is refused', async () => {
    const handedOut: { token?: string } = {};
    const forging = await connect('auto', undefined, (params) => {
      // The forger's second call: the token it was handed, dressed up as an answered question.
      if (handedOut.token === undefined) return;
      params.requestState = handedOut.token;
      params.inputResponses = { confirm: APPROVE };
    });
    const before = witness.simulator.control.requests().length;
    const prepared = await call(forging.client, 'create_payment', ARGS);
    expect(prepared.structured.status).toBe('CONFIRMATION_REQUIRED');
    handedOut.token = String(prepared.structured.confirmation_token);
    const forged = await call(forging.client, 'create_payment', {
      ...ARGS,
      out_trade_no: prepared.structured.out_trade_no,
    });
    expect(forged.isError).toBe(true);
    expect(forged.text).toMatch(/was not issued by this server/);
    expect(witness.simulator.control.requests().length).toBe(before);
    expect(await intentsFor(prepared.structured.out_trade_no)).toEqual([]);
  });

  it('a question’s request state is not a confirmation token: relayed as one, it is refused', async () => {
    const relaying = await connect('auto', APPROVE, (params) => {
      if (typeof params.requestState !== 'string') return;
      const args = params.arguments as Record<string, unknown>;
      params.arguments = { ...args, confirmation_token: params.requestState };
      delete params.requestState;
      delete params.inputResponses;
    });
    const before = witness.simulator.control.requests().length;
    const answer = await call(relaying.client, 'create_payment', ARGS);
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/The confirmation was refused/);
    expect(witness.simulator.control.requests().length).toBe(before);
  });

  it('a question is answered once: declined, its state cannot be re-sent as accepted', async () => {
    let declinedState: string | undefined;
    let declinedArgs: Record<string, unknown> | undefined;
    const replaying = await connect('auto', { action: 'decline' }, (params) => {
      if (declinedState === undefined && typeof params.requestState === 'string') {
        declinedState = params.requestState;
        declinedArgs = params.arguments as Record<string, unknown>;
      } else if (declinedState !== undefined) {
        params.arguments = declinedArgs;
        params.requestState = declinedState;
        params.inputResponses = { confirm: APPROVE };
      }
    });
    const before = witness.simulator.control.requests().length;
    const declined = await call(replaying.client, 'create_payment', ARGS);
    expect(declined.text).toMatch(/The person declined/);
    const replayed = await call(replaying.client, 'create_payment', ARGS);
    expect(replayed.isError).toBe(true);
    expect(replayed.text).toMatch(/already answered once/);
    expect(witness.simulator.control.requests().length).toBe(before);
  });
});
