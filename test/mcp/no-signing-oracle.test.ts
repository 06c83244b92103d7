import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { EnvironmentName } from '../../src/qfpay/catalog/types.js';
import { createRuntime } from '../../src/mcp/runtime.js';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.js';
import { attach, call, type ToolAnswer } from './helpers.js';

/**
 * diagnose_signature must never be a signing oracle: whatever the environment label, no answer
 * carries a signature made with the configured key (red-team finding B3). Signatures are computed
 * here with node:crypto and an independent canonical string, not with the server's signer.
 */

const credential = { appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F90', key: 'c0ffee00c0ffee00c0ffee00c0ffee00' };
const ENVIRONMENTS: EnvironmentName[] = ['local', 'sandbox', 'test', 'prod'];
const RUNS_PER_ENVIRONMENT = 60;

const digest = (algorithm: 'md5' | 'sha256', text: string) =>
  createHash(algorithm).update(text, 'utf8').digest('hex').toUpperCase();

function canonical(params: Record<string, string | number | boolean>): string {
  return Object.entries(params)
    .map(([name, value]) => [name, String(value)] as const)
    .filter(([, value]) => value !== '')
    .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function realSignatures(params: Record<string, string | number | boolean>, key: string): string[] {
  const text = canonical(params) + key;
  return [digest('md5', text), digest('sha256', text)];
}

/** Everything a model sees: every text block and the structured content. */
function visible(answer: ToolAnswer): string {
  return `${answer.text}\n${JSON.stringify(answer.structured)}`.toUpperCase();
}

const paramsArbitrary = fc.dictionary(
  // `__proto__` is not a form field name (zod drops it from records, so the signatures would differ).
  fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/).filter((name) => name !== '__proto__'),
  fc.oneof(fc.string({ maxLength: 24 }), fc.integer(), fc.boolean()),
  { minKeys: 1, maxKeys: 6 },
);

describe('diagnose_signature is not a signing oracle', () => {
  let simulator: RunningSimulator;
  const stateDir = mkdtempSync(path.join(tmpdir(), 'qfpay-oracle-'));
  beforeAll(async () => {
    simulator = await startSimulator({ port: 0, credentials: [credential], quiet: true });
  });
  afterAll(async () => {
    await simulator.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function withEnvironment(
    environment: EnvironmentName,
    body: (callTool: (args: Record<string, unknown>) => Promise<ToolAnswer>) => Promise<void>,
  ): Promise<void> {
    const runtime = await createRuntime({
      env: {
        QFPAY_ENV: environment,
        QFPAY_BASE_URL: simulator.baseUrl,
        QFPAY_APPCODE: credential.appcode,
        QFPAY_KEY: credential.key,
        QFPAY_STATE_DIR: stateDir,
      },
      log: () => {},
    });
    const { client, close } = await attach(runtime);
    try {
      await body((args) => call(client, 'diagnose_signature', args));
    } finally {
      await close();
      await runtime.close();
    }
  }

  it.each(ENVIRONMENTS)(
    'in %s: 0 answers contain a real signature, or its first 8 digits, over random parameters',
    async (environment) => {
      let answers = 0;
      let leaks = 0;
      await withEnvironment(environment, async (callTool) => {
        await fc.assert(
          fc.asyncProperty(
            paramsArbitrary,
            fc.constantFrom('MD5', 'SHA256'),
            fc.constantFrom('none', 'correct', 'wrong'),
            async (params, signType, given) => {
              const real = realSignatures(params, credential.key);
              const correct = signType === 'MD5' ? real[0]! : real[1]!;
              const signature =
                given === 'correct' ? correct : given === 'wrong' ? 'AB'.repeat(16) : undefined;
              const answer = await callTool({
                params,
                sign_type: signType,
                ...(signature ? { signature } : {}),
              });
              answers += 1;
              expect(answer.isError).toBe(false);
              const text = visible(answer);
              if (real.some((s) => text.includes(s.slice(0, 8)))) leaks += 1;
              // The checker still answers the question it is for.
              if (given === 'correct') expect(answer.structured.provided_signature_matches).toBe(true);
              if (given === 'wrong') expect(answer.structured.provided_signature_matches).toBe(false);
              expect(answer.structured.checked_with).toBe('configured_key');
            },
          ),
          { numRuns: RUNS_PER_ENVIRONMENT },
        );
      });
      expect(answers).toBeGreaterThanOrEqual(RUNS_PER_ENVIRONMENT);
      expect(leaks).toBe(0);
    },
  );

  it('signs with a test key the caller passes, and refuses the configured key as one', async () => {
    await withEnvironment('sandbox', async (callTool) => {
      const params = { txamt: 100, txcurrcd: 'HKD', out_trade_no: 'order_1' };
      const withTestKey = await callTool({ params, sign_type: 'SHA256', test_key: 'my-own-test-key' });
      expect(withTestKey.structured).toMatchObject({
        checked_with: 'test_key',
        test_key_signature: digest('sha256', `${canonical(params)}my-own-test-key`),
        test_key_md5: digest('md5', `${canonical(params)}my-own-test-key`),
      });
      expect(visible(withTestKey)).not.toContain(realSignatures(params, credential.key)[1]!.slice(0, 8));

      const withRealKey = await callTool({ params, test_key: credential.key });
      expect(withRealKey.isError).toBe(true);
      expect(withRealKey.text).toMatch(/failed \(validation\) \[field: test_key\]/);
      const text = visible(withRealKey);
      for (const signature of realSignatures(params, credential.key))
        expect(text).not.toContain(signature.slice(0, 8));
      expect(text).not.toContain(credential.key.toUpperCase());
    });
  });

  it('shows where a signed string differs, without echoing the configured key', async () => {
    await withEnvironment('prod', async (callTool) => {
      const params = { txamt: 100, txcurrcd: 'HKD' };
      const answer = await callTool({
        params,
        signed_string: `txamt=100&txcurrcd=HKD&key=${credential.key}`,
      });
      expect(answer.structured.signed_string_matches).toBe(false);
      expect(answer.structured.signed_string_difference).toMatchObject({ position: 22 });
      expect(visible(answer)).not.toContain(credential.key.slice(0, 8).toUpperCase());
      const right = await callTool({ params, signed_string: 'txamt=100&txcurrcd=HKD<client_key>' });
      expect(right.structured.signed_string_matches).toBe(true);
    });
  });
});
