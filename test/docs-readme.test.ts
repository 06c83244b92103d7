import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  CLIENTS,
  clientConfigs,
  DEFAULT_URL,
  exampleFile,
  PLACEHOLDER_CLI,
  type ClientConfig,
} from '../src/cli/client-config.js';
import { startSimulator, type RunningSimulator } from '../src/simulator/index.js';
import { countRequests } from './mcp/helpers.js';
import { assertFreshDist, CLI, isolatedHome, ROOT } from './support/dist.js';

/**
 * The README, references/setup.md and mcp.json.example as a user would use them: the library example
 * runs verbatim against the built package, every client entry and command line the documents show is
 * exactly what `qfpay-mcp client-config` prints (with the placeholder path), and every npm script the
 * README names exists.
 */

const run = promisify(execFile);
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const README = read('README.md');
const SETUP = read('references/setup.md');
const pkg = JSON.parse(read('package.json')) as { version: string; scripts: Record<string, string> };
const home = isolatedHome('docs');
let work: string;

beforeAll(() => {
  assertFreshDist();
  work = mkdtempSync(path.join(tmpdir(), 'qfpay-docs-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  home.remove();
});

/** The fenced blocks of a Markdown text with their language tag. */
function codeBlocks(markdown: string): Array<{ lang: string; code: string; at: number }> {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    code: m[2]!,
    at: m.index,
  }));
}

describe('README library example', () => {
  const section = README.indexOf('## Library API');
  const example = codeBlocks(README).find((block) => block.at > section && block.lang === 'js')!;

  /** The example verbatim, importing the built package instead of the (not yet published) name. */
  async function runExample(env: Record<string, string>): Promise<string> {
    expect(example, 'README has a js block under Library API').toBeDefined();
    const entry = pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href;
    const code = example.code.replace(/from 'qfpay-mcp';/, `from ${JSON.stringify(entry)};`);
    expect(code).not.toBe(example.code);
    const file = path.join(work, 'readme-example.mjs');
    writeFileSync(file, code);
    const { stdout } = await run(process.execPath, [file], { env: { ...home.env, ...env }, timeout: 60_000 });
    return stdout.trim();
  }

  it('runs with no configuration at all (the bundled simulator)', async () => {
    expect(await runExample({})).toMatch(/^\d+ AWAITING_CUSTOMER HKD 10\.50$/);
  });

  it('runs against a standalone simulator named by QFPAY_BASE_URL', async () => {
    let simulator: RunningSimulator | undefined;
    try {
      simulator = await startSimulator({ quiet: true });
      const out = await runExample({ QFPAY_ENV: 'local', QFPAY_BASE_URL: simulator.baseUrl });
      expect(out).toMatch(/^\d+ AWAITING_CUSTOMER HKD 10\.50$/);
      // The payment and the query reached this simulator, not one of the example's own.
      expect(await countRequests(simulator.baseUrl)).toBeGreaterThanOrEqual(2);
    } finally {
      await simulator?.close();
    }
  });

  it('uses an out_trade_no the documented rule accepts', () => {
    expect(example.code).toContain('out_trade_no = `order_${Date.now()}`');
    expect(README).toContain('not `order-20261126-0001`');
  });
});

describe('client entries are what qfpay-mcp client-config prints', () => {
  const placeholder = { command: 'node', args: [PLACEHOLDER_CLI], url: DEFAULT_URL };
  const sandbox = clientConfigs({ ...placeholder, environment: 'sandbox' });
  const byClient = (name: string) => sandbox.find((entry) => entry.client === name)!;

  it('mcp.json.example is the printed entries with a placeholder path', () => {
    expect(JSON.parse(read('mcp.json.example'))).toEqual(JSON.parse(exampleFile(pkg.version)));
  });

  it('references/setup.md shows each client’s printed JSON and command line', () => {
    const blocks = codeBlocks(SETUP)
      .filter((block) => block.lang === 'json')
      .map((block) => JSON.parse(block.code) as unknown);
    for (const client of ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'openclaw'])
      expect(blocks, `${client} block in setup.md`).toContainEqual(byClient(client).config);
    for (const client of ['claude-code', 'openclaw', 'http'])
      expect(SETUP, `${client} command in setup.md`).toContain(byClient(client).command!);
  });

  it('the README table shows the OpenClaw and Claude Code command lines in their printed form', () => {
    expect(README).toContain(
      'claude mcp add qfpay -e QFPAY_ENV=local -- node /absolute/path/to/qfpay-mcp/dist/cli.js',
    );
    expect(byClient('openclaw').command).toContain(
      `openclaw mcp add qfpay --command node --arg ${PLACEHOLDER_CLI}`,
    );
    expect(README).toContain(`openclaw mcp add qfpay --command node --arg ${PLACEHOLDER_CLI}`);
  });

  it('the built command prints every client with this installation’s absolute paths and no secret', async () => {
    const { stdout } = await run(
      process.execPath,
      [CLI, 'client-config', '--environment', 'sandbox', '--json'],
      {
        env: { ...home.env, QFPAY_KEY: 'must-never-be-printed-0123456789' },
      },
    );
    const printed = JSON.parse(stdout) as ClientConfig[];
    expect(printed.map((entry) => entry.client)).toEqual([...CLIENTS]);
    expect(stdout).not.toContain('must-never-be-printed');
    const claude = printed.find((entry) => entry.client === 'claude-code')!.config as {
      mcpServers: { qfpay: { command: string; args: string[]; env: Record<string, string> } };
    };
    expect(claude.mcpServers.qfpay.command).toBe(process.execPath);
    expect(claude.mcpServers.qfpay.args).toEqual([realpathSync(CLI)]);
    expect(claude.mcpServers.qfpay.env).toEqual({
      QFPAY_ENV: 'sandbox',
      QFPAY_APPCODE: '${QFPAY_APPCODE}',
      QFPAY_KEY: '${QFPAY_KEY}',
    });
  });

  it('refuses an unknown client with the list of known ones (exit 2)', async () => {
    const failure = await run(process.execPath, [CLI, 'client-config', '--client', 'emacs'], {
      env: home.env,
    }).catch((error: { code: number; stderr: string }) => error);
    expect((failure as { code: number }).code).toBe(2);
    expect((failure as { stderr: string }).stderr).toContain(CLIENTS.join(', '));
  });
});

describe('README commands', () => {
  it('every npm script the README names exists', () => {
    const named = [...README.matchAll(/npm run ([a-z:-]+)/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(3);
    for (const script of named) expect(pkg.scripts, `npm run ${script}`).toHaveProperty(script);
    for (const lifecycle of ['start', 'test', 'prepare']) expect(pkg.scripts).toHaveProperty(lifecycle);
  });

  it('the clone form of the command answers as the README shows', async () => {
    const { stdout } = await run(process.execPath, [CLI, '--version'], { env: home.env });
    expect(stdout.trim()).toBe(pkg.version);
    expect(README).toContain(`npm install -g ./qfpay-mcp-${pkg.version}.tgz`);
  });
});
