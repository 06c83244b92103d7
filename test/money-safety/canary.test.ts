import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RunningSimulator, SimCredential } from '../../src/simulator/index.js';
import { assertFreshDist } from '../support/dist.js';
import { serveHttp } from '../support/serve-http.js';
import {
  call,
  CPM_AUTH_CODE,
  envFor,
  openSession,
  startWitness,
  tempDir,
  type ToolAnswer,
} from './helpers.js';

/**
 * Canary run: a unique random client key and bearer token for this
 * suite, then every log line, tool result, error, resource and ledger record of an in-process
 * runtime AND of a spawned `qfpay-mcp serve --http` is searched for either. Zero occurrences.
 * The flows include the unhappy paths, where leaks usually hide: lost answers, unverifiable
 * answers, rate limits, validation errors, a refused confirmation, a wrong bearer token.
 */

const KEY = `canary-key-${randomBytes(20).toString('hex')}`;
const TOKEN = `canary-token-${randomBytes(24).toString('hex')}`;

let credential: SimCredential;
let simulator: RunningSimulator;
let dir: { dir: string; remove: () => Promise<void> };

beforeAll(async () => {
  credential = { appcode: `CANARY${randomBytes(13).toString('hex').toUpperCase()}`, key: KEY };
  simulator = await startWitness(credential);
  dir = await tempDir('canary');
});
afterAll(async () => {
  await simulator.close();
  await dir.remove();
});

/** Every place a secret could surface, as text, with a label for the failure message. */
function expectNoCanary(label: string, text: string): void {
  for (const [name, secret] of [
    ['client key', KEY],
    ['bearer token', TOKEN],
  ] as const) {
    const index = text.toLowerCase().indexOf(secret.toLowerCase());
    expect(index, `${name} found in ${label}: …${text.slice(Math.max(0, index - 80), index + 20)}…`).toBe(-1);
  }
}

/** The flows, through whichever client: happy paths and every kind of failure. */
async function exercise(client: Client, persistent429s: number): Promise<ToolAnswer[]> {
  const answers: ToolAnswer[] = [];
  const run = async (name: string, args: Record<string, unknown>) => {
    const answer = await call(client, name, args);
    answers.push(answer);
    return answer;
  };
  const mpm = await run('create_payment', { pay_type: '800101', txamt: 1_000, txcurrcd: 'HKD' });
  await run('simulate_customer_payment', { syssn: mpm.structured.syssn, outcome: 'pay' });
  await run('wait_for_payment', { syssn: mpm.structured.syssn, timeout_seconds: 2 });
  await run('refund', { syssn: mpm.structured.syssn, txamt: 100 });
  await run('query_transaction', { syssn: mpm.structured.syssn });
  // The key pasted where an agent might paste anything.
  await run('create_payment', {
    pay_type: '800101',
    txamt: 200,
    txcurrcd: 'HKD',
    goods_name: KEY.slice(0, 64),
  });
  await run('diagnose_signature', { params: { txamt: 100, txcurrcd: 'HKD', key: KEY } });
  await run('verify_notification', { body: `{"respcd":"0000","key":"${KEY}"}`, signature: 'A'.repeat(32) });
  // Failures: lost answer, unverifiable answer, rate limit, bad input, refused token.
  simulator.control.addFault({ kind: 'drop_after_commit', paths: ['/trade/v1/payment'], count: 1 });
  await run('create_payment', { pay_type: '800108', txamt: 300, txcurrcd: 'HKD', auth_code: CPM_AUTH_CODE });
  simulator.control.addFault({ kind: 'bad_signature', paths: ['/trade/v1/payment'], count: 1 });
  await run('create_payment', { pay_type: '800101', txamt: 400, txcurrcd: 'HKD' });
  simulator.control.addFault({ kind: 'http429', paths: ['/trade/v1/payment'], count: persistent429s });
  await run('create_payment', { pay_type: '800101', txamt: 500, txcurrcd: 'HKD' });
  simulator.control.clearFaults();
  await run('create_payment', { pay_type: '800101', txamt: 1.5, txcurrcd: 'HKD' });
  await run('create_payment', {
    pay_type: '800101',
    txamt: 600,
    txcurrcd: 'HKD',
    confirmation_token: `${KEY}.x`,
  });
  await run('refund', { syssn: mpm.structured.syssn, txamt: 999_999 });
  const audit = await client.readResource({ uri: 'qfpay://audit/recent' });
  answers.push({
    isError: false,
    text: JSON.stringify(audit),
    structured: {},
    images: [],
  });
  return answers;
}

describe('canary: in-process runtime', () => {
  it('no log line, tool result, resource or ledger record contains the key or the token', async () => {
    const ledgerFile = path.join(dir.dir, 'in-process.jsonl');
    const session = await openSession({
      env: envFor('local', simulator, credential, ledgerFile, { QFPAY_MCP_TOKEN: TOKEN }),
    });
    let answers: ToolAnswer[];
    try {
      // The in-process client gives up after two 429s (test retry settings): a rate_limited error.
      answers = await exercise(session.client, 8);
    } finally {
      await session.close();
    }
    expect(answers.filter((a) => a.isError).length).toBeGreaterThanOrEqual(5);
    answers.forEach((answer, i) => expectNoCanary(`tool result #${i}`, JSON.stringify(answer)));
    expect(session.logs.length).toBeGreaterThan(0);
    expectNoCanary('runtime log', session.logs.join('\n'));
    const ledger = await readFile(ledgerFile, 'utf8');
    expect(ledger.split('\n').filter(Boolean).length).toBeGreaterThan(10);
    expectNoCanary('audit ledger', ledger);
  });
});

describe('canary: spawned qfpay-mcp serve --http', () => {
  // Never skipped: a missing or stale build fails here with the fix, so this half always runs.
  beforeAll(() => assertFreshDist());

  it('stdout, stderr, every HTTP answer and the ledger are free of the key and the token', async () => {
    const ledgerFile = path.join(dir.dir, 'cli.jsonl');
    const served = await serveHttp({
      env: {
        PATH: process.env.PATH,
        HOME: dir.dir,
        ...envFor('local', simulator, credential, ledgerFile, { QFPAY_MCP_TOKEN: TOKEN }),
      },
      timeoutMs: 15_000,
    });
    const { url } = served;
    const answers: ToolAnswer[] = [];
    try {
      // A wrong token is refused without echoing anything secret.
      const wrong = await fetch(url, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${TOKEN.slice(0, -4)}xxxx`,
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
        },
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      });
      expect(wrong.status).toBe(401);
      answers.push({ isError: true, text: await wrong.text(), structured: {}, images: [] });

      const client = new Client({ name: 'canary', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
        }),
      );
      try {
        // The CLI uses production back-off (seconds): two 429s, then it gets through.
        answers.push(...(await exercise(client, 2)));
      } finally {
        await client.close();
      }
    } finally {
      await served.stop();
    }
    const stdout = served.stdout();
    const stderr = served.stderr();
    expect(answers.length).toBeGreaterThan(10);
    answers.forEach((answer, i) => expectNoCanary(`HTTP answer #${i}`, JSON.stringify(answer)));
    expect(stderr).toMatch(/ready: transport=http/);
    expectNoCanary('stdout', stdout);
    expectNoCanary('stderr', stderr);
    const ledger = await readFile(ledgerFile, 'utf8');
    expect(ledger.split('\n').filter(Boolean).length).toBeGreaterThan(10);
    expectNoCanary('audit ledger', ledger);
  });
});
