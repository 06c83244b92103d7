import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { CliIo } from '../src/cli/args.js';
import { KNOWN_VARIABLES, runDoctor, runDoctorCli, transportProblem } from '../src/doctor.js';
import type { DoctorReport } from '../src/doctor.js';
import { createRuntime } from '../src/mcp/runtime.js';
import { startSimulator } from '../src/simulator/index.js';
import type { RunningSimulator } from '../src/simulator/index.js';

/**
 * `qfpay-mcp doctor` against real parts: the embedded simulator, a standalone simulator that holds
 * a different key, a port nothing listens on, and an HTTP server that is not QFPay. A canary key
 * (random per run) must never appear in any output.
 */

const CANARY_KEY = `canary${randomBytes(12).toString('hex')}`;
const SIM_APPCODE = 'DOCTORTEST0APPCODE00000000000001';
const SIM_KEY = 'doctor-test-key-held-by-the-simulator';

let stateDir: string;
let simulator: RunningSimulator;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'qfpay-doctor-'));
  simulator = await startSimulator({ quiet: true, credentials: [{ appcode: SIM_APPCODE, key: SIM_KEY }] });
});

afterAll(async () => {
  await simulator.close();
  await rm(stateDir, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  err: string;
}

async function doctor(env: Record<string, string>, argv: string[] = []): Promise<Run> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    env: { QFPAY_STATE_DIR: stateDir, ...env },
  };
  const code = await runDoctorCli(argv, io);
  expect(`${out}${err}`).not.toContain(CANARY_KEY);
  return { code, out, err };
}

async function doctorJson(env: Record<string, string>): Promise<{ code: number; report: DoctorReport }> {
  const run = await doctor(env, ['--json']);
  return { code: run.code, report: JSON.parse(run.out) as DoctorReport };
}

function check(report: DoctorReport, id: string) {
  const found = report.checks.find((c) => c.id === id);
  expect(found, `check ${id} in ${JSON.stringify(report.checks.map((c) => c.id))}`).toBeDefined();
  return found!;
}

describe('qfpay-mcp doctor', () => {
  it('passes on a fresh machine: local environment, embedded simulator, no credentials', async () => {
    const run = await doctor({ QFPAY_ENV: 'local' });
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/\[info\] environment: local \(Embedded simulator, no real money\)/);
    expect(run.out).toMatch(
      /\[ok\] {3}connection: embedded simulator at http:\/\/127\.0\.0\.1:\d+ answered a signed query/,
    );
    expect(run.out).toContain('built-in test credential');
    expect(run.out).toMatch(/\[ok\] {3}ledger: audit ledger .*audit-local\.jsonl/);
    expect(run.out).toContain('No problems found');
  });

  it('reports the ledger the server itself would use, in every way of running', async () => {
    const standalone = await startSimulator({ quiet: true });
    const cases: { name: string; env: Record<string, string>; temporary?: boolean; file?: string }[] = [
      {
        // As `qfpay-mcp serve` runs it: the simulator's orders and the ledger last, side by side.
        name: 'embedded simulator, default state directory',
        env: { QFPAY_ENV: 'local', XDG_STATE_HOME: path.join(stateDir, 'xdg-embedded') },
        file: path.join(stateDir, 'xdg-embedded', 'qfpay-mcp', 'audit-local.jsonl'),
      },
      {
        name: 'embedded simulator, QFPAY_STATE_DIR',
        env: { QFPAY_ENV: 'local', QFPAY_STATE_DIR: stateDir },
        file: path.join(stateDir, 'audit-local.jsonl'),
      },
      {
        name: 'embedded simulator, QFPAY_AUDIT_LOG',
        env: { QFPAY_ENV: 'local', QFPAY_AUDIT_LOG: path.join(stateDir, 'explicit.jsonl') },
        file: path.join(stateDir, 'explicit.jsonl'),
      },
      {
        // The simulator's default credential, a persistent ledger in the per-user state directory.
        name: 'standalone simulator at QFPAY_BASE_URL',
        env: { QFPAY_ENV: 'local', QFPAY_BASE_URL: standalone.baseUrl, XDG_STATE_HOME: stateDir },
        file: path.join(stateDir, 'qfpay-mcp', 'audit-local.jsonl'),
      },
      { name: 'read-only', env: { QFPAY_ENV: 'local', QFPAY_READ_ONLY: '1' } },
      { name: 'no payments toolset', env: { QFPAY_ENV: 'local', QFPAY_TOOLSETS: 'reporting,reference' } },
    ];
    try {
      for (const { name, env, temporary, file } of cases) {
        const report = await runDoctor({ env });
        expect(report.ok, `${name}: ${JSON.stringify(report.checks)}`).toBe(true);
        const ledger = check(report, 'ledger');
        const runtime = await createRuntime({ env, lastingSimulator: true, log: () => undefined });
        const used = runtime.ledgerPath;
        await runtime.close();
        if (temporary) {
          expect(used, name).toContain(`${path.sep}qfpay-mcp-ledger-`);
          expect(path.dirname(used!).startsWith(tmpdir()), name).toBe(true);
          expect(existsSync(path.dirname(used!)), `${name}: removed when the server stops`).toBe(false);
          expect(ledger.status, name).toBe('ok');
          expect(ledger.summary, name).toMatch(/^audit ledger: temporary, one per server process/);
          expect(ledger.summary, name).toContain('set QFPAY_STATE_DIR or QFPAY_AUDIT_LOG to keep it');
        } else if (file) {
          expect(used, name).toBe(file);
          expect(ledger.status, name).toBe('ok');
          expect(ledger.summary, name).toContain(`audit ledger ${file}:`);
        } else {
          expect(used, name).toBeNull();
          expect(ledger.status, name).toBe('info');
          expect(ledger.summary, name).toContain('no audit ledger is used: no money-moving tool is served');
        }
      }
    } finally {
      await standalone.close();
    }
  });

  it('names the simulator credential when local points at a standalone simulator without credentials', async () => {
    const standalone = await startSimulator({ quiet: true });
    try {
      const report = await runDoctor({
        env: { QFPAY_ENV: 'local', QFPAY_BASE_URL: standalone.baseUrl, QFPAY_STATE_DIR: stateDir },
      });
      expect(report.ok).toBe(true);
      const credentials = check(report, 'credentials');
      expect(credentials.summary).toContain("the simulator's built-in test credential is used");
      expect(credentials.details?.join('\n')).toContain('standalone simulator at QFPAY_BASE_URL');
      expect(check(report, 'connection').summary).toContain(`${standalone.baseUrl} answered a signed query`);
    } finally {
      await standalone.close();
    }
  });

  it('reports JSON with one entry per check', async () => {
    const { code, report } = await doctorJson({ QFPAY_ENV: 'local' });
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.environment).toBe('local');
    expect(check(report, 'connection').status).toBe('ok');
    expect(check(report, 'signing').summary).toContain('SHA256');
    expect(check(report, 'limits').summary).toContain('95/1s');
  });

  it('explains a signature rejected by a host that holds a different key, without printing the key', async () => {
    const env = {
      QFPAY_ENV: 'test',
      QFPAY_BASE_URL: simulator.baseUrl,
      QFPAY_APPCODE: SIM_APPCODE,
      QFPAY_KEY: CANARY_KEY,
    };
    const run = await doctor(env);
    expect(run.code).toBe(1);
    expect(run.out).toContain('client key: set via QFPAY_KEY');
    expect(run.out).toMatch(/\[FAIL\] connection: .*rejected the request signature \(respcd 1108\)/);
    expect(run.out).toMatch(/not the one QFPay issued with this app code/);
    expect(run.out).toMatch(/another environment: this is test/);
    expect(run.out).toContain('signed its answer with a different key than yours');
    // The host signed with its own key for this app code: sign type and mchid are not the cause.
    expect(run.out).not.toMatch(/QFPAY_SIGN_TYPE=MD5/);
    expect(run.out).toMatch(/1 problem found/);

    const { code, report } = await doctorJson(env);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(check(report, 'connection').status).toBe('fail');
  });

  it('explains a 1108 for an app code the host does not know', async () => {
    const { code, report } = await doctorJson({
      QFPAY_ENV: 'sandbox',
      QFPAY_BASE_URL: simulator.baseUrl,
      QFPAY_APPCODE: 'UNKNOWNAPPCODE000000000000000000',
      QFPAY_KEY: CANARY_KEY,
    });
    expect(code).toBe(1);
    const connection = check(report, 'connection');
    expect(connection.summary).toContain('respcd 1108');
    const causes = connection.details?.join('\n') ?? '';
    expect(causes).toContain('not the one QFPay issued with this app code');
    expect(causes).toContain('QFPay assigned an mchid to this app code but none is sent: set QFPAY_MCHID');
    expect(causes).toContain('QFPAY_SIGN_TYPE=MD5');
  });

  it('passes with the right key for the standalone simulator, with MD5 signing too', async () => {
    const env = {
      QFPAY_ENV: 'test',
      QFPAY_BASE_URL: simulator.baseUrl,
      QFPAY_APPCODE: SIM_APPCODE,
      QFPAY_KEY: SIM_KEY,
    };
    expect((await doctor(env)).code).toBe(0);
    const md5 = await doctorJson({ ...env, QFPAY_SIGN_TYPE: 'MD5' });
    expect(md5.code).toBe(0);
    expect(check(md5.report, 'connection').summary).toContain('signature accepted (MD5)');
  });

  it('explains the mchid rule when QFPay issued an mchid that is not sent', async () => {
    const withMchid = await startSimulator({
      quiet: true,
      credentials: [{ appcode: SIM_APPCODE, key: SIM_KEY, mchid: 'Zm12345' }],
    });
    try {
      const env = {
        QFPAY_ENV: 'test',
        QFPAY_BASE_URL: withMchid.baseUrl,
        QFPAY_APPCODE: SIM_APPCODE,
        QFPAY_KEY: SIM_KEY,
      };
      const { code, report } = await doctorJson(env);
      expect(code).toBe(1);
      const connection = check(report, 'connection');
      expect(connection.summary).toContain('refused the mchid setting (respcd 1104)');
      expect(connection.fix).toContain('Set QFPAY_MCHID');
      expect((await doctor({ ...env, QFPAY_MCHID: 'Zm12345' })).code).toBe(0);
    } finally {
      await withMchid.close();
    }
  });

  it('names the variable of an invalid configuration and exits 1', async () => {
    const badEnv = await doctor({ QFPAY_ENV: 'staging' });
    expect(badEnv.code).toBe(1);
    expect(badEnv.out).toMatch(/\[FAIL\] configuration: QFPAY_ENV: is not a known environment/);
    expect(badEnv.out).toContain('fix: Set QFPAY_ENV to one of local, sandbox, test, prod');

    const badKey = await doctor({
      QFPAY_ENV: 'sandbox',
      QFPAY_APPCODE: SIM_APPCODE,
      QFPAY_KEY: `${CANARY_KEY} x`,
    });
    expect(badKey.code).toBe(1);
    expect(badKey.out).toMatch(/QFPAY_KEY: contains characters a QFPay client key cannot have/);

    const missingKey = await doctor({ QFPAY_ENV: 'prod', QFPAY_APPCODE: SIM_APPCODE });
    expect(missingKey.code).toBe(1);
    expect(missingKey.out).toContain('QFPAY_KEY (or QFPAY_PROD_KEY)');

    const badCap = await doctor({ QFPAY_ENV: 'local', QFPAY_MAX_TXAMT: 'HKD:10.50' });
    expect(badCap.code).toBe(1);
    expect(badCap.out).toMatch(/\[FAIL\] money-policy: QFPAY_MAX_TXAMT/);

    const badToolset = await doctor({ QFPAY_ENV: 'local', QFPAY_TOOLSETS: 'payments,refunds' });
    expect(badToolset.code).toBe(1);
    expect(badToolset.out).toMatch(/\[FAIL\] tools: QFPAY_TOOLSETS: unknown toolset "refunds"/);
  });

  it('accepts a credential-free server that only serves reference and integration tools', async () => {
    const docsOnly = await doctor({ QFPAY_ENV: 'prod', QFPAY_TOOLSETS: 'reference,integration' });
    expect(docsOnly.code).toBe(0);
    expect(docsOnly.out).toMatch(
      /\[info\] configuration: no QFPay credentials: only the reference and integration tools/,
    );
    expect(docsOnly.out).not.toContain('connection:');
    // With payments enabled, missing credentials are a problem.
    expect((await doctor({ QFPAY_ENV: 'prod', QFPAY_TOOLSETS: 'payments,reference' })).code).toBe(1);
  });

  it('warns about QFPAY_* variables the server does not read', async () => {
    const run = await doctor({ QFPAY_ENV: 'local', QFPAY_APP_KEY: CANARY_KEY });
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/\[warn\] unknown-variable: QFPAY_APP_KEY is set but qfpay-mcp does not read it/);
    expect(run.out).toContain('Did you mean QFPAY_KEY?');
  });

  it('explains a host where nothing listens', async () => {
    const port = await closedPort();
    const { code, report } = await doctorJson({
      QFPAY_ENV: 'test',
      QFPAY_BASE_URL: `http://127.0.0.1:${port}`,
      QFPAY_APPCODE: SIM_APPCODE,
      QFPAY_KEY: CANARY_KEY,
    });
    expect(code).toBe(1);
    expect(check(report, 'connection').summary).toMatch(/nothing accepted the connection .*ECONNREFUSED/);
  });

  it('names the algorithm when an answer is signed otherwise than it declares', async () => {
    // Accepts the request, signs its answer with SHA-256 under the right key but declares MD5.
    const contradicting = createServer((_req, res) => {
      const body =
        '{"respcd": "0000", "resperr": "", "respmsg": "", "page": "1", "page_size": "1", "data": []}';
      const sign = createHash('sha256')
        .update(body + CANARY_KEY)
        .digest('hex')
        .toUpperCase();
      res.writeHead(200, { 'content-type': 'application/json', 'x-qf-sign': sign, 'x-qf-signtype': 'MD5' });
      res.end(body);
    });
    await new Promise<void>((resolve) => contradicting.listen(0, '127.0.0.1', resolve));
    try {
      const { report } = await doctorJson({
        QFPAY_ENV: 'test',
        QFPAY_BASE_URL: `http://127.0.0.1:${(contradicting.address() as AddressInfo).port}`,
        QFPAY_APPCODE: SIM_APPCODE,
        QFPAY_KEY: CANARY_KEY,
      });
      const connection = check(report, 'connection');
      expect(connection.status).toBe('fail');
      expect(connection.details?.join('\n')).toContain(
        'the answer declares X-QF-SIGNTYPE MD5 but its X-QF-SIGN matches SHA-256 over the raw body under your key',
      );
      expect(connection.fix).toMatch(/Report the mismatch to QFPay support/);
      expect(connection.fix).not.toContain('QFPAY_VERIFY_RESPONSES');
      expect(JSON.stringify(report)).not.toContain(CANARY_KEY);
    } finally {
      await new Promise<void>((resolve) => contradicting.close(() => resolve()));
    }
  });

  it('explains a host that is not QFPay', async () => {
    const html = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Welcome</body></html>');
    });
    await new Promise<void>((resolve) => html.listen(0, '127.0.0.1', resolve));
    try {
      const { report } = await doctorJson({
        QFPAY_ENV: 'test',
        QFPAY_BASE_URL: `http://127.0.0.1:${(html.address() as AddressInfo).port}`,
        QFPAY_APPCODE: SIM_APPCODE,
        QFPAY_KEY: CANARY_KEY,
      });
      const connection = check(report, 'connection');
      expect(connection.status).toBe('fail');
      expect(connection.summary).toContain('answered, but not like QFPay');
      expect(connection.fix).toContain('QFPAY_BASE_URL');
    } finally {
      await new Promise<void>((resolve) => html.close(() => resolve()));
    }
  });

  it('explains HTTP 429, a timeout and an answer signed with another key', async () => {
    const env = {
      QFPAY_ENV: 'test',
      QFPAY_BASE_URL: simulator.baseUrl,
      QFPAY_APPCODE: SIM_APPCODE,
      QFPAY_KEY: SIM_KEY,
    };

    simulator.control.addFault({ kind: 'http429', count: 1 });
    const limited = await doctorJson(env);
    expect(limited.code).toBe(1);
    expect(check(limited.report, 'connection').summary).toContain('HTTP 429');

    simulator.control.addFault({ kind: 'latency', latencyMs: 2_500, count: 1 });
    const slow = await doctorJson({ ...env, QFPAY_TIMEOUT_MS: '1000' });
    expect(slow.code).toBe(1);
    expect(check(slow.report, 'connection').summary).toContain('did not answer within 1000 ms');

    simulator.control.addFault({ kind: 'bad_signature', count: 1 });
    const tampered = await doctorJson(env);
    expect(tampered.code).toBe(1);
    const mismatch = check(tampered.report, 'connection');
    expect(mismatch.summary).toContain(
      "accepted the request signature, but its answer's X-QF-SIGN does not verify under your key",
    );
    // Diagnosed by algorithm, never "turn verification off".
    expect(mismatch.details?.join('\n')).toContain('with neither MD5 nor SHA-256');
    expect(mismatch.fix).not.toContain('QFPAY_VERIFY_RESPONSES');
    simulator.control.clearFaults();
  });

  it('names DNS and TLS failures the way the client reports them', () => {
    const event = (reason: string) => ({
      endpoint: 'query' as const,
      attempt: 1,
      outcome: 'transport_error' as const,
      durationMs: 3,
      reason,
    });
    const where = 'https://openapi-hk.qfapi.com';
    const dns = transportProblem(
      { timeoutMs: 15_000 },
      where,
      event('connection failed before an answer arrived (ENOTFOUND)'),
    );
    expect(dns.summary).toBe('the name openapi-hk.qfapi.com could not be resolved (ENOTFOUND)');
    expect(dns.fix).toContain('QFPAY_BASE_URL');
    const tls = transportProblem(
      { timeoutMs: 15_000 },
      where,
      event('connection failed before an answer arrived (UNABLE_TO_VERIFY_LEAF_SIGNATURE)'),
    );
    expect(tls.summary).toContain('TLS to openapi-hk.qfapi.com failed');
    expect(tls.fix).toContain('NODE_EXTRA_CA_CERTS');
    const http = transportProblem({ timeoutMs: 15_000 }, where, {
      ...event('QFPay answered HTTP 502'),
      outcome: 'http_error',
      httpStatus: 502,
    });
    expect(http.summary).toContain('answered HTTP 502');
  });

  it('checks the ledger: a broken chain and an unusable directory fail', async () => {
    const broken = path.join(stateDir, 'broken.jsonl');
    await writeFile(broken, '{"seq":1,"not":"a record"}\n');
    const run = await doctorJson({ QFPAY_ENV: 'local', QFPAY_AUDIT_LOG: broken });
    expect(run.code).toBe(1);
    expect(check(run.report, 'ledger').summary).toMatch(/is broken at record 1 \(line 1\)/);

    const aFile = path.join(stateDir, 'not-a-directory');
    await writeFile(aFile, 'x');
    const unusable = await doctorJson({
      QFPAY_ENV: 'local',
      QFPAY_AUDIT_LOG: path.join(aFile, 'audit.jsonl'),
    });
    expect(unusable.code).toBe(1);
    expect(check(unusable.report, 'ledger').summary).toMatch(/directory .* is not writable/);
  });

  it('has --help, refuses unknown flags and does not echo positionals', async () => {
    const help = await doctor({}, ['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: qfpay-mcp doctor [--json]');

    const unknown = await doctor({}, ['--verbose']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("Unknown option '--verbose'");

    const positional = await doctor({}, [CANARY_KEY]);
    expect(positional.code).toBe(2);
    expect(positional.err).toContain('doctor takes flags only');
  });

  it('knows only variables that exist in the source', async () => {
    const { readFile, readdir } = await import('node:fs/promises');
    const files = (await readdir('src', { recursive: true })).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('doctor.ts'),
    );
    // Comments may name placeholder variables (`QFPAY_X=`); only code counts.
    const source = (await Promise.all(files.map((f) => readFile(path.join('src', f), 'utf8'))))
      .join('\n')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    for (const name of KNOWN_VARIABLES) {
      if (/^QFPAY_(LOCAL|SANDBOX|TEST|PROD)_(APPCODE|KEY|MCHID)$/.test(name)) continue; // built by config.ts
      expect(source, `${name} is read somewhere in src/`).toContain(name);
    }
    const read = new Set(
      [...source.matchAll(/(?:env\.|['"`])(QFPAY_[A-Z0-9_]*[A-Z0-9])\b/g)].map((m) => m[1]!),
    );
    for (const name of read) expect(KNOWN_VARIABLES, `${name} is read by the server`).toContain(name);
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
