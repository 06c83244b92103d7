import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { InMemoryTransport } from '@modelcontextprotocol/server';

import { createRuntime } from '../src/mcp/runtime.js';
import type { QfpayMcpRuntime } from '../src/mcp/runtime.js';
import { TOOL_REGISTRY } from '../src/mcp/tools/index.js';
import * as catalog from '../src/qfpay/catalog/index.js';
import { renderResponseCodes } from '../scripts/gen-references.mjs';
import { assertFreshDist, CLI, isolatedHome } from './support/dist.js';

/**
 * SKILL.md, references/, mcp.json.example and server.json must be true: every tool, variable,
 * command, pay type and response code they name exists and behaves as written. These tests read
 * the shipped text and check it against the source, the running server and the built CLI.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  name: string;
  version: string;
  mcpName: string;
  bin: Record<string, string>;
  license: string;
};

const SKILL = read('SKILL.md');
const REFERENCE_FILES = readdirSync(path.join(ROOT, 'references'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `references/${f}`);
const DOC_FILES = ['SKILL.md', ...REFERENCE_FILES];
const CONFIG_FILES = ['mcp.json.example', 'server.json'];
const EXAMPLE_FILES = readdirSync(path.join(ROOT, 'examples')).map((f) => `examples/${f}`);

/** Every .ts under src/ except the doctor (whose list of known variables would prove itself). */
const SOURCE = readdirSync(path.join(ROOT, 'src'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts') && f !== 'doctor.ts')
  .map((f) => readFileSync(path.join(ROOT, 'src', f), 'utf8'))
  .join('\n');

// ---------------------------------------------------------------------------------------------
// A tiny frontmatter reader: top-level `key: value` lines, and `metadata:` followed by an
// indented block that is JSON (valid YAML flow style, and what OpenClaw parses with JSON5).
// ---------------------------------------------------------------------------------------------

interface Frontmatter {
  keys: string[];
  scalars: Record<string, string>;
  metadata: unknown;
  body: string;
}

function parseFrontmatter(text: string): Frontmatter {
  const match = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  if (!match) throw new Error('SKILL.md must start with a --- frontmatter block');
  const [, yaml, body] = match as unknown as [string, string, string];
  const keys: string[] = [];
  const scalars: Record<string, string> = {};
  const lines = yaml.split('\n');
  let metadata: unknown;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const top = /^([A-Za-z][\w-]*):(?: (.*))?$/.exec(line);
    if (!top) throw new Error(`unexpected frontmatter line ${i + 1}: ${line}`);
    const [, key, value] = top as unknown as [string, string, string | undefined];
    keys.push(key);
    if (key === 'metadata') {
      const block: string[] = [];
      while (i + 1 < lines.length && /^\s/.test(lines[i + 1]!)) block.push(lines[++i]!);
      metadata = JSON.parse(block.join('\n'));
    } else {
      scalars[key] = value ?? '';
    }
  }
  return { keys, scalars, metadata, body };
}

interface OpenClawMetadata {
  emoji: string;
  homepage: string;
  primaryEnv: string;
  requires: { env?: string[]; anyBins: string[]; bins?: string[] };
  envVars: Array<{ name: string; required: boolean; description: string }>;
  install: Array<{ id: string; kind: string; package: string; bins: string[]; label: string }>;
}

const frontmatter = parseFrontmatter(SKILL);
const openclaw = (frontmatter.metadata as { openclaw: OpenClawMetadata }).openclaw;

// ---------------------------------------------------------------------------------------------
// The live tool list, from a real server of a real runtime over an in-memory MCP pair.
// ---------------------------------------------------------------------------------------------

let runtime: QfpayMcpRuntime;
let client: Client;
let stateDir: string;
/** Spawned commands get a throw-away HOME as well as a state directory. */
const home = isolatedHome('skill');
let liveTools: Array<{ name: string; inputSchema: unknown }>;

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'qfpay-skill-'));
  runtime = await createRuntime({ env: { QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir }, log: () => {} });
  const server = runtime.createServer();
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  client = new Client({ name: 'skill-test', version: '1.0.0' });
  await client.connect(clientTransport);
  liveTools = (await client.listTools()).tools;
});

afterAll(async () => {
  await client?.close();
  await runtime?.close();
  rmSync(stateDir, { recursive: true, force: true });
  home.remove();
});

describe('SKILL.md frontmatter', () => {
  it('uses only keys every skill loader accepts, with metadata.openclaw as the single runtime block', () => {
    expect(frontmatter.keys).toEqual(['name', 'description', 'license', 'metadata']);
    expect(Object.keys(frontmatter.metadata as object)).toEqual(['openclaw']);
  });

  it('has a valid name and a short, safe description', () => {
    expect(frontmatter.scalars.name).toBe('qfpay');
    expect(frontmatter.scalars.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    const description = frontmatter.scalars.description!;
    expect(Buffer.byteLength(description, 'utf8')).toBeLessThan(160);
    expect(description).not.toMatch(/[<>]/);
    expect(description).not.toContain(': ');
    expect(description).not.toMatch(/^["'[{>|&*!%@`#]/);
    expect(description).toMatch(/QFPay/);
    expect(description).toMatch(/refund/);
  });

  it('is licensed MIT-0, as ClawHub publishes every skill', () => {
    expect(frontmatter.scalars.license).toBe('MIT-0');
  });

  it('needs no credential to load, so the local-simulator rehearsal shows the skill', () => {
    expect(openclaw.emoji).toBeTruthy();
    expect(openclaw.homepage).toMatch(/^https:\/\//);
    expect(openclaw.primaryEnv).toBe('QFPAY_KEY');
    // requires.env would hide the skill until QFPAY_APPCODE/QFPAY_KEY are set, yet `local` needs neither.
    expect(openclaw.requires.env).toBeUndefined();
    expect(openclaw.requires.anyBins).toEqual(['qfpay-mcp', 'node']);
    // No npm installer until the package is published: it would offer an install that fails.
    expect(openclaw.install).toBeUndefined();
    expect(Object.keys(pkg.bin)).toContain('qfpay-mcp');
  });

  it('lists every variable in envVars, none of them required', () => {
    const names = openclaw.envVars.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const v of openclaw.envVars) {
      expect(typeof v.required).toBe('boolean');
      expect(v.description.length).toBeGreaterThan(5);
    }
    expect(openclaw.envVars.filter((v) => v.required).map((v) => v.name)).toEqual([]);
    // Every variable the skill body or its references tell the person to set is declared.
    const mentioned = new Set(
      DOC_FILES.flatMap((f) => variablesIn(read(f))).filter((v) => !isPerEnvironment(v)),
    );
    const undeclared = [...mentioned].filter(
      (name) =>
        !names.includes(name) &&
        ![
          'QFPAY_MCP_TOKEN',
          'QFPAY_MCP_ALLOWED_HOSTS',
          'QFPAY_MCP_ALLOWED_ORIGINS',
          'QFPAY_STATE_DIR',
          'QFPAY_CONFIRM_SECRET',
          'QFPAY_BASE_URL',
          'QFPAY_TIMEOUT_MS',
          'QFPAY_RATE_LIMITS',
          'QFPAY_VERIFY_RESPONSES',
        ].includes(name),
    );
    expect(
      undeclared,
      'variables a skill user sets must be in envVars (server-side ones are listed above)',
    ).toEqual([]);
  });

  it('points at the same homepage as server.json', () => {
    const server = JSON.parse(read('server.json')) as { websiteUrl: string };
    expect(openclaw.homepage).toBe(server.websiteUrl);
  });
});

describe('SKILL.md body', () => {
  it('stays short: details live in references/', () => {
    expect(frontmatter.body.split('\n').length).toBeLessThan(150);
    for (const link of [
      'references/setup.md',
      'references/tools.md',
      'references/response-codes.md',
      'references/safety.md',
    ])
      expect(frontmatter.body).toContain(`](${link})`);
  });

  it('maps every server tool, under its OpenClaw and Claude Code names', () => {
    const table = [...frontmatter.body.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(table.sort()).toEqual(liveTools.map((t) => t.name).sort());
    expect(frontmatter.body).toContain('`qfpay__<tool>`');
    expect(frontmatter.body).toContain('`mcp__qfpay__<tool>`');
  });

  it('states the money rules', () => {
    const body = frontmatter.body;
    expect(body).toMatch(/smallest currency unit/);
    expect(body).toMatch(/Confirm before moving money/);
    expect(body).toMatch(/amount[\s\S]*currency[\s\S]*order\s+number/);
    expect(body).toMatch(/same\*\* `out_trade_no`/);
    expect(body).toMatch(/Unknown outcome means query, never re-send/);
    expect(body).toMatch(/CONFIRMATION_REQUIRED/);
    expect(body).toMatch(/QFPAY_ENV=local/);
    expect(body).toMatch(/simulate_customer_payment/);
  });
});

describe('everything the docs name exists', () => {
  it('every tool name is a tool of the server', () => {
    const names = new Set(liveTools.map((t) => t.name));
    for (const file of DOC_FILES) {
      const text = read(file);
      for (const m of text.matchAll(/(?:mcp__qfpay__|qfpay__)([a-z_]+)/g)) {
        if (m[1] === '') continue;
        expect(names, `${file} names ${m[0]}`).toContain(m[1]);
      }
      // Backticked snake_case words that end like a tool verb or object must be tools.
      for (const m of text.matchAll(/`([a-z]+(?:_[a-z]+)+)`/g)) {
        const word = m[1]!;
        const endpoint = (catalog.RESPCD_ENDPOINTS as readonly string[]).includes(word);
        if (
          /^(create|wait|query|cancel|explain|list|verify|diagnose|simulate)_/.test(word) &&
          !names.has(word) &&
          !endpoint &&
          // Field names such as cancel_url are not tool names.
          !word.endsWith('_url')
        )
          expect.fail(`${file} names \`${word}\`, which is not a tool`);
      }
    }
  });

  it('every QFPAY_* variable is read by the server', () => {
    for (const file of [...DOC_FILES, ...CONFIG_FILES, ...EXAMPLE_FILES]) {
      for (const name of variablesIn(read(file))) {
        if (isPerEnvironment(name)) continue;
        expect(SOURCE, `${file} names ${name}`).toContain(name);
      }
    }
  });

  it('every pay type and response code is in the catalog', () => {
    // tools.md and response-codes.md are generated from the server and the catalog themselves.
    const handWritten = DOC_FILES.filter(
      (f) => !['references/tools.md', 'references/response-codes.md'].includes(f),
    );
    for (const file of [...handWritten, ...EXAMPLE_FILES]) {
      const text = read(file);
      for (const m of text.matchAll(/`(80\d{4})`|pay_type[^\n]{0,12}?'(80\d{4})'/g)) {
        const code = m[1] ?? m[2]!;
        expect(catalog.findPayType(code), `${file} names pay type ${code}`).toBeDefined();
      }
      // Response codes: four-digit numbers on lines that talk about codes (amounts are elsewhere).
      for (const line of text.split('\n').filter((l) => /respcd|code/i.test(l))) {
        for (const m of line.matchAll(/(?<![\d.,-])\b(0000|[12]\d{3})\b(?![\d.,:-])/g)) {
          if (/(?:txamt|HKD|USD|JPY)\W{0,4}$/.test(line.slice(0, m.index))) continue;
          expect(catalog.findResponseCode(m[1]!), `${file} names respcd ${m[1]} in: ${line}`).toBeDefined();
        }
      }
    }
  });

  it('every magic auth_code does what the skill says on the simulator', async () => {
    const call = async (authCode: string) =>
      (await client.callTool({
        name: 'create_payment',
        arguments: { pay_type: '800008', txamt: 100, txcurrcd: 'HKD', auth_code: authCode },
      })) as { isError?: boolean; structuredContent?: { status?: string; respcd?: string } };
    expect((await call('134567890123451201')).structuredContent?.respcd).toBe('1201');
    expect((await call('134567890123451202')).structuredContent?.respcd).toBe('1202');
    expect((await call('134567890123451145')).structuredContent?.status).toBe('PROCESSING');
    expect((await call('134567890123456789')).structuredContent?.status).toBe('PAID');
  });

  it('every qfpay-mcp subcommand has a working --help and knows the flags shown with it', () => {
    assertFreshDist();
    const cli = CLI;
    const commands = new Map<string, Set<string>>();
    for (const file of DOC_FILES) {
      for (const m of read(file).matchAll(
        /(?:qfpay-mcp(?:@[\d.]+)?|dist\/cli\.js) ((?:[a-z][a-z-]*)(?: (?:verify|list))?)((?: --?[a-z][a-z-]*(?:[ =][^\s`|&;)]+)?)*)/g,
      )) {
        const command = m[1]!;
        if (!/^(serve|simulator|audit|doctor|client-config)( |$)/.test(command)) continue;
        const flags = commands.get(command) ?? new Set<string>();
        for (const flag of m[2]!.matchAll(/--([a-z][a-z-]*)/g)) flags.add(flag[1]!);
        commands.set(command, flags);
      }
    }
    expect([...commands.keys()].sort()).toEqual(
      expect.arrayContaining(['audit list', 'audit verify', 'client-config', 'doctor', 'serve']),
    );
    for (const [command, flags] of commands) {
      const run = spawnSync(process.execPath, [cli, ...command.split(' '), '--help'], {
        encoding: 'utf8',
        env: { ...home.env, QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir },
        timeout: 20_000,
      });
      expect(run.status, `qfpay-mcp ${command} --help: ${run.stderr}`).toBe(0);
      for (const flag of flags) {
        if (flag === 'help') continue;
        expect(run.stdout, `qfpay-mcp ${command} --help should document --${flag}`).toContain(`--${flag}`);
      }
    }
  });
});

describe('references/', () => {
  it('response-codes.md is the catalog, rendered (regenerate: node scripts/gen-references.mjs)', () => {
    expect(read('references/response-codes.md')).toBe(renderResponseCodes(catalog));
  });

  it('tools.md documents every tool, and every call and answer fits the tool schemas', () => {
    const text = read('references/tools.md');
    const registry = new Map(TOOL_REGISTRY.map((entry) => [entry.tool.name, entry.tool]));
    for (const tool of liveTools)
      expect(text, `tools.md documents ${tool.name}`).toContain(`### ${tool.name}\n`);

    const calls = [...text.matchAll(/^Call `([a-z_]+)`:\n\n```json\n([\s\S]*?)\n```/gm)];
    const answers = [
      ...text.matchAll(/^Answer `([a-z_]+)`( \(isError\))?:\n\n(?:>.*\n)*\n```json\n([\s\S]*?)\n```/gm),
    ];
    expect(calls.length).toBeGreaterThanOrEqual(liveTools.length);
    expect(answers.length).toBe(calls.length);
    for (const tool of liveTools)
      expect(
        calls.some((c) => c[1] === tool.name),
        `an example call of ${tool.name}`,
      ).toBe(true);

    for (const [, name, json] of calls) {
      const tool = registry.get(name!);
      expect(tool, `tools.md calls ${name}`).toBeDefined();
      const parsed = tool!.inputSchema.safeParse(JSON.parse(json!));
      expect(parsed.success, `${name} call ${json}: ${parsed.error?.message}`).toBe(true);
    }
    for (const [, name, , json] of answers) {
      const parsed = registry.get(name!)!.outputSchema.safeParse(JSON.parse(json!));
      expect(parsed.success, `${name} answer: ${parsed.error?.message}`).toBe(true);
    }
  });

  it('tools.md shows the safety behaviour the skill promises', () => {
    const text = read('references/tools.md');
    expect(text).toContain('"status": "CONFIRMATION_REQUIRED"');
    expect(text).toContain('"confirmation_token"');
    expect(text).toMatch(/"status": "PARTIALLY_REFUNDED"/);
    expect(text).toMatch(/"valid": false/);
  });

  it('links between the skill files resolve', () => {
    for (const file of DOC_FILES) {
      for (const m of read(file).matchAll(/\]\(((?:\.\.\/|references\/)[^)#]+)\)/g)) {
        const target = path.join(ROOT, path.dirname(file), m[1]!);
        expect(existsSync(target), `${file} links ${m[1]}`).toBe(true);
      }
    }
  });
});

describe('client configuration files', () => {
  const example = JSON.parse(read('mcp.json.example')) as Record<string, unknown>;
  const server = JSON.parse(read('server.json')) as {
    $schema: string;
    name: string;
    description: string;
    version: string;
    websiteUrl: string;
    repository: { url: string; source: string };
    packages: Array<{
      registryType: string;
      identifier: string;
      version: string;
      runtimeHint?: string;
      packageArguments?: Array<{ type: string; name?: string; value?: string }>;
      transport: { type: string; url?: string; headers?: Array<{ name: string; isSecret?: boolean }> };
      environmentVariables: Array<{
        name: string;
        description: string;
        isRequired?: boolean;
        isSecret?: boolean;
      }>;
    }>;
  };

  it('server.json is a valid registry entry for this package version', () => {
    expect(server.$schema).toBe(
      'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json',
    );
    expect(server.name).toBe(pkg.mcpName);
    expect(server.name).toMatch(/^io\.github\.[a-zA-Z0-9-]+\/[a-zA-Z0-9._-]+$/);
    expect(server.description.length).toBeLessThanOrEqual(100);
    expect(server.version).toBe(pkg.version);
    expect(server.repository.source).toBe('github');
    for (const p of server.packages) {
      expect(p).toMatchObject({
        registryType: 'npm',
        identifier: pkg.name,
        version: pkg.version,
        runtimeHint: 'npx',
      });
      for (const v of p.environmentVariables) {
        expect(v.description.length).toBeLessThanOrEqual(200);
        expect(SOURCE, `server.json names ${v.name}`).toContain(v.name);
      }
    }
    const [stdio, http] = server.packages;
    expect(stdio!.transport).toEqual({ type: 'stdio' });
    expect(http!.transport.type).toBe('streamable-http');
    expect(http!.transport.url).toBe('http://127.0.0.1:3939/mcp');
    expect(http!.packageArguments?.map((a) => a.value ?? a.name)).toEqual(['serve', '--http', '3939']);
    const secrets = server.packages.flatMap((p) =>
      p.environmentVariables.filter((v) => v.isSecret).map((v) => v.name),
    );
    expect(new Set(secrets)).toEqual(new Set(['QFPAY_KEY', 'QFPAY_CONFIRM_SECRET', 'QFPAY_MCP_TOKEN']));
    expect(http!.transport.headers?.every((h) => h.isSecret)).toBe(true);
  });

  it('mcp.json.example names this version for after publishing and uses each client’s own shape', () => {
    const text = read('mcp.json.example');
    const pins = [...text.matchAll(/qfpay-mcp@([^"\s\\]+)/g)].map((m) => m[1]);
    expect(pins.length).toBeGreaterThan(0);
    expect(new Set(pins)).toEqual(new Set([pkg.version]));
    expect(text).not.toMatch(/@latest/);

    const blocks = Object.entries(example).filter(([key]) => key !== '//') as Array<
      [string, Record<string, unknown>]
    >;
    const byClient = (prefix: string) => blocks.find(([key]) => key.startsWith(prefix))?.[1];
    const stdioEntries: Array<Record<string, unknown>> = [];
    for (const [key, block] of blocks) {
      const servers = (block.mcpServers ??
        block.servers ??
        (block.mcp as { servers?: unknown } | undefined)?.servers) as
        Record<string, Record<string, unknown>> | undefined;
      expect(servers, `${key} has a server map`).toBeDefined();
      expect(Object.keys(servers!)).toEqual(['qfpay']);
      const entry = servers!.qfpay!;
      if (entry.command !== undefined) stdioEntries.push(entry);
      else expect(entry.url, `${key}`).toBe('http://127.0.0.1:3939/mcp');
    }
    // What works before publication: node and the built CLI of a clone or an installed tarball.
    for (const entry of stdioEntries) {
      expect(entry.command).toBe('node');
      expect(entry.args).toEqual(['/absolute/path/to/qfpay-mcp/dist/cli.js']);
    }
    expect(byClient('claude-code')!.mcpServers).toMatchObject({
      qfpay: { env: { QFPAY_KEY: '${QFPAY_KEY}' } },
    });
    expect(byClient('cursor')!.mcpServers).toMatchObject({
      qfpay: { env: { QFPAY_KEY: '${env:QFPAY_KEY}' } },
    });
    expect(byClient('http')!.mcpServers).toMatchObject({
      qfpay: { type: 'http', headers: { Authorization: 'Bearer ${QFPAY_MCP_TOKEN}' } },
    });
    const vscode = byClient('vscode (')! as {
      inputs: Array<{ id: string; password?: boolean }>;
      servers: unknown;
    };
    expect(vscode.inputs.find((i) => i.id === 'qfpay-key')?.password).toBe(true);
    expect(vscode.servers).toMatchObject({
      qfpay: { type: 'stdio', env: { QFPAY_KEY: '${input:qfpay-key}' } },
    });
    expect(byClient('openclaw')!.mcp).toMatchObject({
      servers: { qfpay: { env: { QFPAY_KEY: '${QFPAY_KEY}' } } },
    });
    for (const name of variablesIn(text)) expect(SOURCE, `mcp.json.example names ${name}`).toContain(name);
  });

  it('the local-simulator stdio entry really serves the tools (built CLI, real stdio)', async () => {
    const entry = (
      example['local-simulator (any client that reads mcpServers)'] as {
        mcpServers: { qfpay: { env: Record<string, string> } };
      }
    ).mcpServers.qfpay;
    // The placeholder path stands for this checkout's built CLI.
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI],
      env: { ...getDefaultEnvironment(), ...home.env, ...entry.env, QFPAY_STATE_DIR: stateDir },
      stderr: 'pipe',
    });
    const stdioClient = new Client({ name: 'skill-config-test', version: '1.0.0' });
    await stdioClient.connect(transport);
    try {
      const { tools } = await stdioClient.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(liveTools.map((t) => t.name).sort());
    } finally {
      await stdioClient.close();
    }
  });
});

function variablesIn(text: string): string[] {
  return [...new Set([...text.matchAll(/\bQFPAY_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]))];
}

/** QFPAY_<ENV>_APPCODE/KEY/MCHID are built from the environment names in config.ts. */
function isPerEnvironment(name: string): boolean {
  return /^QFPAY_(LOCAL|SANDBOX|TEST|PROD)_(APPCODE|KEY|MCHID)$/.test(name);
}
