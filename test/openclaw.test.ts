import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ClientConfig } from '../src/cli/client-config.js';
import { assertFreshDist, CLI, ROOT } from './support/dist.js';
import { type ServedHttp, serveHttp } from './support/serve-http.js';

/**
 * OpenClaw for real: the `openclaw` package from the npm registry, run by a Node 24 binary from the
 * registry's `node` package (OpenClaw needs Node >= 24.16), both installed into a temporary folder.
 * The server is registered with the command `qfpay-mcp client-config` prints (the one
 * references/setup.md shows), and OpenClaw's own probe must list the tools: over stdio with the
 * credentials reaching the server only through `${VAR}` placeholders filled from
 * `~/.openclaw/.env`, and over remote Streamable HTTP with a bearer token. The sandbox environment
 * is used for stdio because it refuses to start without credentials, so a listed tool proves they
 * arrived (no request is sent to QFPay: listing tools needs none). A registration without the
 * placeholders must fail, which shows the check can fail.
 *
 * Slow by nature (two npm installs and OpenClaw's cold start): up to 8 minutes.
 */

const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const OPENCLAW_VERSION = '2026.9.6';
const APPCODE = 'OPENCLAWTESTAPPCODE000000000001';
const KEY = 'openclaw-test-client-key-0123456789abcdef';
const TOKEN = 'openclaw-test-bearer-token-0123456789abcdef0123';

let work: string;
let home: string;
let nodeBin: string;
let openclawEntry: string;
let httpServer: ServedHttp | undefined;

function toolEnv(): NodeJS.ProcessEnv {
  return {
    PATH: `${path.dirname(nodeBin)}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: home,
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
    npm_config_update_notifier: 'false',
    NO_COLOR: '1',
  };
}

async function npmInstall(prefix: string, spec: string, env: NodeJS.ProcessEnv): Promise<void> {
  mkdirSync(prefix, { recursive: true });
  try {
    await run(
      NPM,
      [
        'install',
        '--prefix',
        prefix,
        spec,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      {
        env: { ...process.env, ...env },
        timeout: 240_000,
        maxBuffer: 32 * 1024 * 1024,
      },
    );
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    throw new Error(`npm install ${spec} failed:\n${failure.stderr ?? ''}\n${failure.message}`, {
      cause: error,
    });
  }
}

/** Runs a shell line as a person would type it, with the Node 24 first on PATH and the test HOME. */
async function shell(line: string, timeout = 120_000): Promise<{ code: number; out: string; all: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let all = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      all += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => (all += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, all });
    });
  });
}

/** The printed registration for a client, with `openclaw` resolved to the installed one. */
async function printedCommand(client: 'openclaw' | 'http', extra: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [CLI, 'client-config', '--client', client, '--json', ...extra],
    {
      env: toolEnv(),
    },
  );
  const [entry] = JSON.parse(stdout) as ClientConfig[];
  expect(entry!.command).toMatch(/^openclaw mcp add qfpay /);
  return entry!.command!.replace(
    /(^|&& )openclaw /g,
    (_match, lead: string) => `${lead}${shellQuote(nodeBin)} ${shellQuote(openclawEntry)} `,
  );
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

async function probe(): Promise<{ servers: Record<string, { tools: number }>; tools: string[] }> {
  const answer = await shell(`${shellQuote(nodeBin)} ${shellQuote(openclawEntry)} mcp probe --json`);
  const json = answer.out.slice(answer.out.indexOf('{'));
  return JSON.parse(json) as { servers: Record<string, { tools: number }>; tools: string[] };
}

beforeAll(async () => {
  assertFreshDist();
  work = mkdtempSync(path.join(tmpdir(), 'qfpay-openclaw-'));
  home = path.join(work, 'home');
  mkdirSync(path.join(home, '.openclaw'), { recursive: true });
  // node@24's install script fetches the platform binary package, also from the npm registry.
  await npmInstall(path.join(work, 'node24'), 'node@^24.16.0', { npm_config_ignore_scripts: 'false' });
  nodeBin = path.join(work, 'node24', 'node_modules', 'node', 'bin', 'node');
  const { stdout: version } = await run(nodeBin, ['--version']);
  expect(version.trim()).toMatch(/^v24\./);
  await npmInstall(path.join(work, 'openclaw'), `openclaw@${OPENCLAW_VERSION}`, {
    PATH: toolEnv().PATH,
  });
  openclawEntry = path.join(work, 'openclaw', 'node_modules', 'openclaw', 'openclaw.mjs');
}, 480_000);

afterAll(async () => {
  await httpServer?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe(`OpenClaw ${OPENCLAW_VERSION} with the documented recipes`, () => {
  it('shows the qfpay skill to the model with no credential set (the local rehearsal)', async () => {
    const skillDir = path.join(home, '.openclaw', 'skills', 'qfpay');
    mkdirSync(skillDir, { recursive: true });
    cpSync(path.join(ROOT, 'SKILL.md'), path.join(skillDir, 'SKILL.md'));
    cpSync(path.join(ROOT, 'references'), path.join(skillDir, 'references'), { recursive: true });
    const answer = await shell(
      `${shellQuote(nodeBin)} ${shellQuote(openclawEntry)} skills info qfpay --json`,
    );
    const info = JSON.parse(answer.out.slice(answer.out.indexOf('{'))) as {
      eligible: boolean;
      modelVisible: boolean;
      missing: Record<string, string[]>;
    };
    expect(info.missing, answer.all).toMatchObject({ env: [], anyBins: [] });
    expect(info.eligible).toBe(true);
    expect(info.modelVisible).toBe(true);
  }, 120_000);

  it('refuses a stdio registration whose env block does not pass the credentials on', async () => {
    // The credentials are in ~/.openclaw/.env, but OpenClaw does not hand that to a stdio server.
    writeFileSync(
      path.join(home, '.openclaw', '.env'),
      `QFPAY_APPCODE=${APPCODE}\nQFPAY_KEY=${KEY}\nQFPAY_MCP_TOKEN=${TOKEN}\n`,
    );
    const command = (await printedCommand('openclaw', ['--environment', 'sandbox']))
      .replace(/ --env 'QFPAY_APPCODE=\$\{QFPAY_APPCODE\}'/, '')
      .replace(/ --env 'QFPAY_KEY=\$\{QFPAY_KEY\}'/, '')
      .replace(/--connect-timeout 60/, '--connect-timeout 20');
    expect(command).not.toContain('QFPAY_KEY');
    const answer = await shell(command);
    expect(answer.code, answer.all).not.toBe(0);
    expect(readFileOr(path.join(home, '.openclaw', 'openclaw.json'))).not.toContain('dist/cli.js');
  }, 120_000);

  it('registers the stdio server with the printed command; the probe lists the sandbox tools', async () => {
    const answer = await shell(await printedCommand('openclaw', ['--environment', 'sandbox']));
    expect(answer.code, answer.all).toBe(0);
    const saved = JSON.parse(readFileSync(path.join(home, '.openclaw', 'openclaw.json'), 'utf8')) as {
      mcp: { servers: { qfpay: { env: Record<string, string> } } };
    };
    // The file holds the placeholders, never the secrets.
    expect(saved.mcp.servers.qfpay.env).toMatchObject({ QFPAY_KEY: '${QFPAY_KEY}' });
    expect(JSON.stringify(saved)).not.toContain(KEY);

    const result = await probe();
    expect(result.servers.qfpay?.tools).toBe(16);
    expect(result.tools).toEqual(
      expect.arrayContaining(['qfpay__create_payment', 'qfpay__refund', 'qfpay__query_transaction']),
    );
    // simulate_customer_payment exists only in local: this really is the sandbox configuration.
    expect(result.tools).not.toContain('qfpay__simulate_customer_payment');
  }, 180_000);

  it('reaches a token-protected `serve --http` with the printed remote command', async () => {
    const url = await startHttpServer();
    await shell(`${shellQuote(nodeBin)} ${shellQuote(openclawEntry)} mcp unset qfpay`);
    const printed = await printedCommand('http', ['--url', url]);
    // The printed line ends with OpenClaw's probe; the test runs that probe itself, as JSON.
    const [register, printedProbe] = printed.split(' && ');
    expect(printedProbe).toMatch(/ mcp probe qfpay$/);
    const answer = await shell(register!);
    expect(answer.code, answer.all).toBe(0);
    const result = await probe();
    expect(result.servers.qfpay?.tools).toBe(17);
    expect(result.tools).toContain('qfpay__simulate_customer_payment');
  }, 180_000);
});

function readFileOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function startHttpServer(): Promise<string> {
  httpServer = await serveHttp({ env: { ...toolEnv(), QFPAY_ENV: 'local', QFPAY_MCP_TOKEN: TOKEN } });
  return httpServer.url;
}
