import process from 'node:process';
import console from 'node:console';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { CLI, importDist, scratchStateDir } from './paths.mjs';

/** Runs a bench module on its own (`node bench/overhead.mjs`) and prints its result as JSON. */
export function runIfMain(moduleUrl, run) {
  if (process.argv[1] && moduleUrl === pathToFileURL(process.argv[1]).href) {
    run({ log: (line) => console.error(line) })
      .then((result) => console.log(JSON.stringify(result, null, 2)))
      .catch((error) => {
        console.error(error);
        process.exitCode = 1;
      });
  }
}

/** Shared wording: every bench that talks to an upstream gets limits far above what it sends. */
export const UNLIMITED_WINDOWS = [{ count: 1_000_000, durationMs: 1_000 }];
export const UNLIMITED_WINDOWS_TEXT = '1000000/1s';

/** Starts the simulator of the built package with effectively no rate limit. */
export async function startUnlimitedSimulator() {
  const { startSimulator, DEFAULT_SIMULATOR_CREDENTIAL } = await importDist('simulator/index.js');
  const simulator = await startSimulator({ rateLimits: UNLIMITED_WINDOWS, quiet: true });
  return { simulator, credential: DEFAULT_SIMULATOR_CREDENTIAL };
}

/**
 * Environment for a spawned `qfpay-mcp` (stdio) pointed at an external simulator. QFPAY_ENV=local
 * with QFPAY_BASE_URL needs explicit credentials (config.ts only defaults them for the embedded
 * simulator), so the simulator's documented public credential is passed.
 */
export function serverEnvFor(simulatorUrl, credential, extra = {}) {
  return {
    ...getDefaultEnvironment(),
    QFPAY_ENV: 'local',
    QFPAY_BASE_URL: simulatorUrl,
    QFPAY_APPCODE: credential.appcode,
    QFPAY_KEY: credential.key,
    QFPAY_RATE_LIMITS: UNLIMITED_WINDOWS_TEXT,
    QFPAY_STATE_DIR: scratchStateDir(),
    ...extra,
  };
}

/** The embedded-simulator variant: what a user gets from `qfpay-mcp` with QFPAY_ENV=local. */
export function embeddedServerEnv(extra = {}) {
  return {
    ...getDefaultEnvironment(),
    QFPAY_ENV: 'local',
    QFPAY_STATE_DIR: scratchStateDir(),
    ...extra,
  };
}

export const OUR_SERVER = (env, args = []) => ({ command: process.execPath, args: [CLI, ...args], env });

/** The official v2 client over stdio, 2025 era (the default; the reference server is v1). */
export async function connectOfficialClient(spec) {
  const transport = new StdioClientTransport({
    command: spec.command,
    args: spec.args,
    env: spec.env,
    stderr: 'pipe',
  });
  // Keep the tail of the server's stderr: if it dies during start-up, the error says why.
  let stderrTail = '';
  transport.stderr?.on('data', (chunk) => {
    stderrTail = (stderrTail + String(chunk)).slice(-2_000);
  });
  const client = new Client({ name: 'qfpay-mcp-bench', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (error) {
    throw new Error(
      `${spec.args.join(' ')}: ${error instanceof Error ? error.message : String(error)}; server stderr: ${stderrTail.trim() || '(empty)'}`,
      { cause: error },
    );
  }
  return client;
}
