import path from 'node:path';

import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRuntime } from '../../src/mcp/runtime.js';
import type { RunningSimulator, SimCredential } from '../../src/simulator/index.js';
import { startHttpServer } from '../../src/transports/http.js';
import {
  call,
  envFor,
  ledgerRecords,
  openSession,
  randomCredential,
  startWitness,
  tempDir,
  upstreamCount,
} from './helpers.js';

/**
 * When the client can ask its person (form elicitation), a production write asks them directly
 * with the same summary instead of the token round trip. Accept executes once; decline or
 * dismiss sends nothing. Clients that cannot be asked get the token.
 */

const PAYMENT = '/trade/v1/payment';
const ARGS = { pay_type: '800101', txamt: 2_500, txcurrcd: 'HKD' } as const;

let credential: SimCredential;
let simulator: RunningSimulator;
let dir: { dir: string; remove: () => Promise<void> };

beforeAll(async () => {
  credential = randomCredential();
  simulator = await startWitness(credential);
  dir = await tempDir('elicit');
});
afterAll(async () => {
  await simulator.close();
  await dir.remove();
});

function prodEnv(ledger: string): NodeJS.ProcessEnv {
  return envFor('prod', simulator, credential, path.join(dir.dir, ledger));
}

describe('a client that supports form elicitation', () => {
  it('accept: the person sees the summary, the payment is sent once, the ledger says how it was approved', async () => {
    const ledger = path.join(dir.dir, 'accept.jsonl');
    const session = await openSession({
      env: prodEnv('accept.jsonl'),
      allowProdWrites: true,
      elicitation: { answer: () => ({ action: 'accept', content: { approve: true } }) },
    });
    try {
      const before = upstreamCount(simulator, PAYMENT);
      const answer = await call(session.client, 'create_payment', ARGS);
      expect(answer.isError).toBe(false);
      expect(answer.structured.status).toBe('AWAITING_CUSTOMER');
      expect(answer.structured.confirmation_token).toBeUndefined();
      expect(upstreamCount(simulator, PAYMENT)).toBe(before + 1);
      expect(session.prompts).toHaveLength(1);
      const prompt = session.prompts[0]!;
      expect(prompt).toContain('HKD 25.00');
      expect(prompt).toContain('twenty-five Hong Kong dollars');
      expect(prompt).toContain('txamt 2500');
      expect(prompt).toContain('REAL MONEY');
      expect(prompt).toContain(String(answer.structured.out_trade_no));
      const intents = (await ledgerRecords(ledger)).filter((r) => r.step === 'intent');
      expect(intents).toHaveLength(1);
      expect(intents[0]?.approval).toBe('elicitation');
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
      const before = simulator.control.requests().length;
      const answer = await call(session.client, 'create_payment', ARGS);
      expect(answer.isError).toBe(true);
      expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
      expect(answer.text).toMatch(/The person (declined|dismissed)/);
      expect(answer.text).toMatch(/Nothing was sent to QFPay/);
      expect(simulator.control.requests().length).toBe(before);
      expect(session.prompts).toHaveLength(1);
      expect(await ledgerRecords(path.join(dir.dir, file)).catch(() => [])).toEqual([]);
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
      const before = upstreamCount(simulator, PAYMENT);
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
      expect(upstreamCount(simulator, PAYMENT)).toBe(before);
      expect(await ledgerRecords(path.join(dir.dir, 'cancelled.jsonl')).catch(() => [])).toEqual([]);
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
      const before = upstreamCount(simulator, '/trade/v1/refund');
      const refund = await call(session.client, 'refund', { syssn: paid.structured.syssn, txamt: 400 });
      expect(refund.structured.status).toBe('PARTIALLY_REFUNDED');
      expect(upstreamCount(simulator, '/trade/v1/refund')).toBe(before + 1);
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
      const before = upstreamCount(simulator, PAYMENT);
      const answer = await call(session.client, 'create_payment', ARGS);
      expect(answer.structured.status).toBe('CONFIRMATION_REQUIRED');
      expect(upstreamCount(simulator, PAYMENT)).toBe(before);
    } finally {
      await session.close();
    }
  });

  it('over HTTP: a 2025-era session is asked directly; a 2026-07-28 per-request client gets the token', async () => {
    const runtime = await createRuntime({
      env: prodEnv('http.jsonl'),
      allowProdWrites: true,
      log: () => undefined,
    });
    const server = await startHttpServer({
      createServer: () => runtime.createServer(),
      environment: runtime.environment,
      port: 0,
    });
    const clients: Client[] = [];
    const connectClient = async (mode: 'legacy' | 'auto'): Promise<{ client: Client; asked: string[] }> => {
      const asked: string[] = [];
      const client = new Client(
        { name: `elicit-${mode}`, version: '1.0.0' },
        { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode } },
      );
      client.setRequestHandler('elicitation/create', (request) => {
        asked.push(request.params.message);
        return Promise.resolve({ action: 'accept', content: { approve: true } });
      });
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      clients.push(client);
      return { client, asked };
    };
    try {
      const legacy = await connectClient('legacy');
      const before = upstreamCount(simulator, PAYMENT);
      const direct = await call(legacy.client, 'create_payment', ARGS);
      expect(direct.structured.status).toBe('AWAITING_CUSTOMER');
      expect(legacy.asked).toHaveLength(1);
      expect(upstreamCount(simulator, PAYMENT)).toBe(before + 1);

      const modern = await connectClient('auto');
      const viaToken = await call(modern.client, 'create_payment', ARGS);
      expect(viaToken.structured.status).toBe('CONFIRMATION_REQUIRED');
      expect(upstreamCount(simulator, PAYMENT)).toBe(before + 1);
      const confirmed = await call(modern.client, 'create_payment', {
        ...ARGS,
        out_trade_no: viaToken.structured.out_trade_no,
        confirmation_token: viaToken.structured.confirmation_token,
      });
      expect(confirmed.structured.status).toBe('AWAITING_CUSTOMER');
      expect(upstreamCount(simulator, PAYMENT)).toBe(before + 2);
    } finally {
      for (const client of clients) await client.close();
      await server.close();
      await runtime.close();
    }
  });
});
