import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { main } from '../src/cli/main.js';
import type { CliIo } from '../src/cli/args.js';
import { assertFreshDist, CLI, isolatedHome, ROOT } from './support/dist.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const TOKEN = 'cli-test-token-0123456789abcdef0123456789abcdef';

/** In-process run of the command line with captured output. */
async function run(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (text) => void (out += text), err: (text) => void (err += text), env };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('qfpay-mcp arguments (in-process)', () => {
  it('prints top-level help listing every subcommand', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const { code, out, err } = await run(argv);
      expect(code).toBe(0);
      expect(err).toBe('');
      expect(out).toContain('Usage: qfpay-mcp [command] [options]');
      for (const command of ['serve', 'simulator', 'audit'])
        expect(out).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
  });

  it('prints serve help for serve --help and help serve', async () => {
    for (const argv of [
      ['serve', '--help'],
      ['help', 'serve'],
      ['--http', '--help'],
    ]) {
      const { code, out } = await run(argv);
      expect(code).toBe(0);
      expect(out).toContain('Usage: qfpay-mcp serve');
      expect(out).toContain('QFPAY_MCP_TOKEN');
    }
  });

  it('prints the package version', async () => {
    for (const argv of [['--version'], ['-v']]) {
      const { code, out } = await run(argv);
      expect(code).toBe(0);
      expect(out).toBe(`${VERSION}\n`);
    }
  });

  it('exits 2 with a pointer to --help on unknown flags and commands', async () => {
    const flag = await run(['serve', '--frobnicate']);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain("unknown option '--frobnicate'");
    expect(flag.err).toContain('qfpay-mcp serve --help');
    const bare = await run(['--frobnicate']);
    expect(bare.code).toBe(2);
    const command = await run(['deploy']);
    expect(command.code).toBe(2);
    expect(command.err).toContain('unknown command "deploy"');
    const positional = await run(['serve', 'extra']);
    expect(positional.code).toBe(2);
  });

  it('exits 2 on bad values', async () => {
    for (const argv of [
      ['serve', '--http', '--port', 'abc'],
      ['serve', '--http', '--port', '70000'],
      ['serve', '--http', '--port', '-1'],
      ['serve', '--http', '--port'],
      ['serve', '--http', '--max-body-bytes', '0'],
      ['serve', '--http', '--allowed-origins', 'https://app.example.com/path'],
      ['serve', '--toolsets', ' , '],
    ]) {
      const { code, err } = await run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(err).toMatch(/^qfpay-mcp: /);
    }
    const port = await run(['serve', '--http', '--port', 'abc']);
    expect(port.err).toContain('--port must be a whole number from 0 to 65535, got "abc"');
  });

  it('exits 2 on an unknown toolset, naming the valid ones', async () => {
    const { code, err } = await run(['serve', '--toolsets', 'payments,bogus']);
    expect(code).toBe(2);
    expect(err).toContain('unknown toolset "bogus"');
    expect(err).toContain('reporting');
  });

  it('dispatches to the audit subcommand with its own help', async () => {
    const { code, out } = await run(['audit', '--help']);
    expect(code).toBe(0);
    expect(out).toContain('Usage: qfpay-mcp audit');
  });

  it('exits 2 when an HTTP-only flag is given without --http', async () => {
    const { code, err } = await run(['serve', '--port', '3939']);
    expect(code).toBe(2);
    expect(err).toContain('--port only applies with --http');
  });

  it('refuses secrets as flags, naming the environment variable and never echoing the value', async () => {
    const cases: Array<[string[], string]> = [
      [['serve', '--key', 'sk-canary-value'], 'QFPAY_KEY'],
      [['serve', '--app-key=sk-canary-value'], 'QFPAY_KEY'],
      [['--token', 'sk-canary-value'], 'QFPAY_MCP_TOKEN'],
      [['serve', '--http', '--token=sk-canary-value'], 'QFPAY_MCP_TOKEN'],
      [['serve', '--client-secret', 'sk-canary-value'], 'QFPAY_KEY'],
    ];
    for (const [argv, variable] of cases) {
      const { code, err, out } = await run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(err).toContain(variable);
      expect(err).toContain('never taken from the command line');
      expect(err + out).not.toContain('sk-canary-value');
    }
  });

  it('refuses a non-loopback bind without a token before starting anything', async () => {
    const { code, err } = await run(['serve', '--http', '--host', '0.0.0.0', '--port', '0']);
    expect(code).toBe(1);
    expect(err).toContain('Refusing to listen on all interfaces');
    expect(err).toContain('QFPAY_MCP_TOKEN');
  });

  it('refuses a weak QFPAY_MCP_TOKEN without echoing it', async () => {
    const { code, err } = await run(['serve', '--http', '--port', '0'], { QFPAY_MCP_TOKEN: 'hunter2-weak' });
    expect(code).toBe(1);
    expect(err).toContain('shorter than 32 characters');
    expect(err).not.toContain('hunter2-weak');
  });
});

/** The spawned tests run the built bin, with a throw-away HOME; `npm test` builds first. */
const home = isolatedHome('cli');
afterAll(() => home.remove());

interface Spawned {
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...home.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { stdout: () => stdout, stderr: () => stderr, exited, kill: (signal) => void child.kill(signal) };
}

function statusWithHost(port: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', headers: { Host: host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('qfpay-mcp binary (spawned)', () => {
  beforeAll(() => {
    assertFreshDist();
  });

  it('is an executable node script', () => {
    expect(readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(CLI).mode & 0o111).not.toBe(0);
  });

  it('answers --version and exits 2 on an unknown flag', async () => {
    const version = spawnCli(['--version']);
    expect(await version.exited).toBe(0);
    expect(version.stdout()).toBe(`${VERSION}\n`);
    const unknown = spawnCli(['serve', '--nope']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.stderr()).toContain("unknown option '--nope'");
    expect(unknown.stdout()).toBe('');
  });

  it('serve --http prints the URL and a client config, serves MCP, and stops cleanly on SIGTERM', async () => {
    const cli = spawnCli(['serve', '--http', '--port', '0', '--read-only'], {
      QFPAY_MCP_TOKEN: TOKEN,
      QFPAY_MCP_ALLOWED_HOSTS: 'mcp.test.example',
    });
    try {
      const url = await waitFor(
        () => /serving MCP over Streamable HTTP at (\S+)/.exec(cli.stdout())?.[1],
        'the URL on stdout',
      );
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      await waitFor(() => (cli.stdout().includes('Press Ctrl+C') ? true : undefined), 'the config snippet');
      const snippet = /\{\n {2}"mcpServers"[\s\S]*?\n\}/.exec(cli.stdout())?.[0];
      expect(JSON.parse(snippet!)).toEqual({
        mcpServers: { qfpay: { type: 'http', url, headers: { Authorization: 'Bearer ${QFPAY_MCP_TOKEN}' } } },
      });
      expect(cli.stderr()).toMatch(
        /ready: transport=http url=\S+ auth=bearer environment=local .* read_only=yes/,
      );
      expect(cli.stdout() + cli.stderr()).not.toContain(TOKEN);

      const client = new Client({ name: 'cli-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
        }),
      );
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toContain('explain_respcd');
      expect(names).not.toContain('create_payment');
      expect(names).not.toContain('refund');
      await client.close();

      // QFPAY_MCP_ALLOWED_HOSTS extends the Host allow-list; anything else is still refused.
      const port = new URL(url).port;
      expect(await statusWithHost(port, 'mcp.test.example')).toBe(200);
      expect(await statusWithHost(port, 'other.test.example')).toBe(403);

      // With a token configured, /healthz tells only a token holder which environment answers.
      const healthUrl = url.replace(/\/mcp$/, '/healthz');
      expect(await (await fetch(healthUrl)).json()).toEqual({ ok: true });
      const detailed = await fetch(healthUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(await detailed.json()).toEqual({ ok: true, environment: 'local' });
    } finally {
      cli.kill('SIGTERM');
    }
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toContain('shutting down');
  });

  it('serve --http with operator approval still receives QFPay notifications at QFPAY_NOTIFY_PATH', async () => {
    const cli = spawnCli(['serve', '--http', '--port', '0'], {
      QFPAY_APPROVAL: 'operator',
      QFPAY_OPERATOR_SECRET: `operator-${TOKEN}`,
    });
    try {
      const url = await waitFor(
        () => /serving MCP over Streamable HTTP at (\S+)/.exec(cli.stdout())?.[1],
        'the URL on stdout',
      );
      // An unsigned body reaches the receiver (FAIL, nothing recorded) instead of a 404.
      const notified = await fetch(url.replace(/\/mcp$/, '/qfpay/notify'), { method: 'POST', body: '{}' });
      expect(notified.status).toBe(400);
      expect(await notified.text()).toBe('FAIL');
    } finally {
      cli.kill('SIGTERM');
    }
    expect(await cli.exited).toBe(0);
  });

  it('serve --http takes its session limits from QFPAY_HTTP_MAX_SESSIONS(_PER_PRINCIPAL)', async () => {
    const tokens = ['a', 'b', 'c'].map((letter) => `${letter}-${TOKEN}`);
    const cli = spawnCli(['serve', '--http', '--port', '0', '--read-only'], {
      QFPAY_MCP_TOKEN: tokens.join(','),
      QFPAY_HTTP_MAX_SESSIONS: '2',
      QFPAY_HTTP_MAX_SESSIONS_PER_PRINCIPAL: '1',
    });
    try {
      const url = await waitFor(
        () => /serving MCP over Streamable HTTP at (\S+)/.exec(cli.stdout())?.[1],
        'the URL on stdout',
      );
      const post = (token: string, body: unknown, sessionId?: string) =>
        fetch(url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream',
            Authorization: `Bearer ${token}`,
            ...(sessionId ? { 'Mcp-Session-Id': sessionId, 'Mcp-Protocol-Version': '2025-06-18' } : {}),
          },
          body: JSON.stringify(body),
        });
      const initialize = {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'cli', version: '1' },
        },
      };
      const open = async (token: string) => {
        const response = await post(token, initialize);
        await response.text();
        return { status: response.status, id: response.headers.get('mcp-session-id') ?? '' };
      };
      const firstOfA = await open(tokens[0]!);
      const secondOfA = await open(tokens[0]!);
      expect([firstOfA.status, secondOfA.status]).toEqual([200, 200]);
      // One session per token: A's second replaced its first.
      const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };
      expect((await post(tokens[0]!, ping, firstOfA.id)).status).toBe(404);
      expect((await post(tokens[0]!, ping, secondOfA.id)).status).toBe(200);
      expect((await open(tokens[1]!)).status).toBe(200);
      // Two sessions in all: C, holding none, is refused rather than evicting A's or B's.
      expect((await open(tokens[2]!)).status).toBe(503);
      expect((await post(tokens[0]!, ping, secondOfA.id)).status).toBe(200);
    } finally {
      cli.kill('SIGTERM');
    }
    expect(await cli.exited).toBe(0);

    const invalid = spawnCli(['serve', '--http', '--port', '0'], { QFPAY_HTTP_MAX_SESSIONS: 'lots' });
    expect(await invalid.exited).toBe(2);
    expect(invalid.stderr()).toContain('QFPAY_HTTP_MAX_SESSIONS must be a whole number');
  });

  it('fails fast with an actionable message and a clean stdout when configuration is incomplete', async () => {
    const cli = spawnCli(['serve'], { QFPAY_ENV: 'sandbox', QFPAY_KEY: 'sk-canary-key-value-0123456789' });
    expect(await cli.exited).toBe(1);
    expect(cli.stdout()).toBe('');
    expect(cli.stderr()).toMatch(/^qfpay-mcp: .*QFPAY_APPCODE/m);
    expect(cli.stderr()).toContain('what to do:');
    expect(cli.stderr()).not.toContain('sk-canary-key-value-0123456789');
  });

  it('runs the simulator subcommand, which owns its flags', async () => {
    const help = spawnCli(['simulator', '--help']);
    expect(await help.exited).toBe(0);
    expect(help.stdout()).toContain('Usage: qfpay-mcp simulator');
    const bad = spawnCli(['simulator', '--bogus']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('unknown option --bogus');
  });

  it('serve --http on all interfaces without a token exits 1 without listening', async () => {
    const cli = spawnCli(['serve', '--http', '--host', '0.0.0.0', '--port', '0']);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain('Refusing to listen');
    expect(cli.stdout()).toBe('');
  });
});
