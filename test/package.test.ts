import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';

/**
 * The published artefact, not the checkout: `npm pack` on a FRESH CLONE (no dist/) must build the
 * package itself (the `prepare` script) and hold only what runs; the tarball installed into an empty
 * folder must work as `npx qfpay-mcp` and as a library. The clone is the repository's files as git
 * sees them (tracked plus untracked-but-not-ignored, so uncommitted work is tested too) copied into a
 * temporary folder, with this checkout's node_modules linked in for the build tools. Installing needs
 * the package's dependencies from the npm registry (or npm's cache); when that fails this test
 * fails with npm's own message — it never skips.
 *
 * Slow by nature (a build, npm pack, npm install): up to 240 s.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
};
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

interface PackedFile {
  path: string;
  size: number;
}

let work: string;
let clone: string;
let tarball: string;
let files: string[];
let installDir: string;

/** The repository as a fresh clone would have it: git's files only, so no dist/ and no build. */
async function freshClone(into: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    maxBuffer: 32 * 1024 * 1024,
  });
  for (const file of stdout.split('\0').filter(Boolean)) {
    if (!existsSync(path.join(ROOT, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(path.dirname(path.join(into, file)), { recursive: true });
    copyFileSync(path.join(ROOT, file), path.join(into, file));
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(into, 'node_modules'), 'dir');
}

async function npm(args: string[], cwd: string, timeout = 150_000): Promise<string> {
  try {
    const { stdout } = await run(NPM, args, {
      cwd,
      timeout,
      maxBuffer: 32 * 1024 * 1024,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    return stdout;
  } catch (error) {
    const failure = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `npm ${args.join(' ')} failed in ${cwd}:\n${failure.stderr ?? ''}${failure.stdout ?? ''}\n${failure.message}`,
      { cause: error },
    );
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'qfpay-pack-'));
  clone = path.join(work, 'clone');
  await freshClone(clone);
  expect(existsSync(path.join(clone, 'dist')), 'a fresh clone has no dist/').toBe(false);
  // --ignore-scripts=false: the build is the point, even where npm is configured not to run scripts.
  const packed = JSON.parse(
    await npm(['pack', '--json', '--ignore-scripts=false', '--pack-destination', work], clone, 200_000),
  ) as Array<{
    filename: string;
    files: PackedFile[];
  }>;
  tarball = path.join(work, packed[0]!.filename);
  files = packed[0]!.files.map((f) => f.path).sort();

  installDir = path.join(work, 'consumer');
  // An empty project, as a merchant's developer would have.
  await run(process.execPath, ['-e', 'require("fs").mkdirSync(process.argv[1])', installDir]);
  writeFileSync(
    path.join(installDir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await npm(
    ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
    installDir,
  );
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('contains only what runs: built JS and types, docs, skill, examples and configs', () => {
    const allowed = [
      /^dist\/.+\.js$/,
      /^dist\/.+\.d\.ts$/,
      /^dist\/app-view\/payment\.html$/,
      /^README\.md$/,
      /^LICENSE$/,
      /^SKILL\.md$/,
      /^references\/[a-z-]+\.md$/,
      /^examples\/[a-z-]+\.m?js$/,
      /^mcp\.json\.example$/,
      /^server\.json$/,
      /^package\.json$/,
    ];
    const unexpected = files.filter((f) => !allowed.some((pattern) => pattern.test(f)));
    expect(unexpected, 'files that should not ship').toEqual([]);
    expect(
      files.filter((f) => /^(src|test|bench|scripts|docs|\.ci)\//.test(f) || f.endsWith('.map')),
    ).toEqual([]);
  });

  it('ships the entry points, the skill and its references, and the registry files', () => {
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'SKILL.md',
      'references/setup.md',
      'references/tools.md',
      'references/response-codes.md',
      'references/safety.md',
      'mcp.json.example',
      'server.json',
      pkg.bin['qfpay-mcp']!,
      'dist/index.js',
      'dist/index.d.ts',
      'dist/app-view/payment.html',
    ])
      expect(files, `${required} is in the tarball`).toContain(required);
  });

  it('ships no stale build output: every dist file comes from a source file or the command bundle', () => {
    const chunk = (f: string) => f.startsWith('dist/chunks/');
    const stale = files
      .filter((f) => f.startsWith('dist/') && !chunk(f))
      .map((f) => f.replace(/^dist\//, 'src/').replace(/\.d\.ts$|\.js$/, '.ts'))
      .filter((source) => !existsSync(path.join(clone, source)));
    expect(stale, 'dist files without a source (clean dist/ before building)').toEqual([]);
    // The bundled command's chunks (scripts/bundle-cli.mjs): each one reached from dist/cli.js.
    const reached = new Set<string>();
    const visit = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      const text = readFileSync(path.join(clone, file), 'utf8');
      for (const [, relative] of text.matchAll(/(?:from\s*|import\(\s*)["'](\.\.?\/[^"']+)["']/g))
        visit(path.posix.join(path.posix.dirname(file), relative!));
    };
    visit('dist/cli.js');
    const chunks = files.filter(chunk);
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.filter((f) => !reached.has(f))).toEqual([]);
  });

  it('ships nothing that needs a devDependency at run time', () => {
    const dev = Object.keys(
      (
        JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
          devDependencies: Record<string, string>;
        }
      ).devDependencies,
    );
    for (const file of files.filter((f) => f.endsWith('.js') || f.endsWith('.mjs'))) {
      const text = readFileSync(path.join(installDir, 'node_modules', pkg.name, file), 'utf8');
      for (const name of dev) {
        const imported = new RegExp(
          `(?:from\\s+|import\\()\\s*['"]${name.replace(/[/.]/g, '\\$&')}(?:/[^'"]*)?['"]`,
        ).test(text);
        expect(imported, `${file} imports the devDependency ${name}`).toBe(false);
      }
    }
  });
});

describe('the installed tarball', () => {
  it('runs as npx qfpay-mcp --version', async () => {
    const { stdout } = await run(NPX, ['qfpay-mcp', '--version'], { cwd: installDir, timeout: 60_000 });
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('installs globally as README shows (npm install -g ./qfpay-mcp-<version>.tgz) and runs as qfpay-mcp', async () => {
    const prefix = path.join(work, 'global');
    // --prefix stands in for the user's global folder, so the test never touches the real one.
    await npm(
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        tarball,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      work,
    );
    const bin = path.join(
      prefix,
      process.platform === 'win32' ? 'qfpay-mcp.cmd' : path.join('bin', 'qfpay-mcp'),
    );
    const { stdout } = await run(bin, ['--version'], { timeout: 60_000 });
    expect(stdout.trim()).toBe(pkg.version);
    expect(path.basename(tarball)).toBe(`qfpay-mcp-${pkg.version}.tgz`);
  });

  it('serves tools/list over stdio to the official MCP client', async () => {
    const stateDir = path.join(work, 'state');
    const transport = new StdioClientTransport({
      command: path.join(
        installDir,
        'node_modules',
        '.bin',
        process.platform === 'win32' ? 'qfpay-mcp.cmd' : 'qfpay-mcp',
      ),
      args: [],
      cwd: installDir,
      env: { ...getDefaultEnvironment(), QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const client = new Client({ name: 'package-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(
        expect.arrayContaining([
          'create_payment',
          'wait_for_payment',
          'refund',
          'cancel_payment',
          'query_transaction',
          'explain_respcd',
          'list_pay_types',
          'list_currencies',
          'verify_notification',
          'diagnose_signature',
          'simulate_customer_payment',
        ]),
      );
      const answer = await client.callTool({ name: 'list_currencies', arguments: { code: 'HKD' } });
      expect(answer.isError).not.toBe(true);
    } finally {
      await client.close();
    }
    expect(stderr).toContain('ready:');
  });

  it('works as a library: the shipped example runs against the simulator', async () => {
    const example = path.join(installDir, 'node_modules', pkg.name, 'examples', 'scripted-workflow.mjs');
    const { stdout } = await run(process.execPath, [example], { cwd: installDir, timeout: 90_000 });
    expect(stdout).toMatch(/Charging HKD 10\.50 as order shop_\d+/);
    expect(stdout).toMatch(/Paid: syssn \d+\./);
    expect(stdout).toMatch(
      /Now (PAID|PARTIALLY_REFUNDED): refunded HKD \d+\.\d\d, still refundable HKD \d+\.\d\d\./,
    );
  });

  it('installs the skill files where an agent can copy them from', () => {
    const installed = path.join(installDir, 'node_modules', pkg.name);
    expect(readFileSync(path.join(installed, 'SKILL.md'), 'utf8')).toMatch(/^---\nname: qfpay\n/);
    expect(existsSync(path.join(installed, 'references', 'tools.md'))).toBe(true);
  });
});
