import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { runAuditCli } from '../../src/cli/audit.js';
import { canonicalJson } from '../../src/safety/idempotency.js';
import { AuditLedger, hashRecordBody } from '../../src/safety/ledger.js';
import { makeTempDir, paymentIntent } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let file: string;

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runAuditCli(argv, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env,
  });
  return { code, stdout, stderr };
}

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('audit-cli'));
  file = path.join(dir, 'audit-sandbox.jsonl');
  const ledger = await AuditLedger.open(file, { now: () => new Date('2025-06-01T02:03:04.000Z') });
  const paid = await ledger.recordIntent(paymentIntent({ out_trade_no: 'ORDER-PAID', txamt: 1050 }));
  await ledger.recordOutcome(paid.intent_id, {
    status: 'PAID',
    respcd: '0000',
    syssn: '20250601000100020012345678',
  });
  const refund = await ledger.recordIntent(
    paymentIntent({
      tool: 'refund',
      kind: 'refund',
      out_trade_no: 'REFUND-1',
      txamt: 500,
      orig_syssn: '20250601000100020012345678',
    }),
  );
  await ledger.recordOutcome(refund.intent_id, { status: 'UNKNOWN', message: 'timeout' });
  await ledger.recordIntent(paymentIntent({ out_trade_no: 'ORDER-JPY', txamt: 300, txcurrcd: 'JPY' }));
  await ledger.close();
});

afterEach(async () => {
  await cleanup();
});

describe('qfpay-mcp audit verify', () => {
  it('prints OK and the record count for an intact ledger', async () => {
    const result = await run(['verify', file]);
    expect(result).toEqual({ code: 0, stdout: `OK ${file}: 5 records, hash chain intact.\n`, stderr: '' });
    expect(JSON.parse((await run(['verify', '--file', file, '--json'])).stdout)).toEqual({
      file,
      ok: true,
      records: 5,
    });
  });

  it('exits 1 and names the first broken record', async () => {
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('"txamt":500', '"txamt":50000'));
    const result = await run(['verify', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `BROKEN ${file}: record 3 (line 3): hash does not match the record content`,
    );
    expect(result.stdout).toContain('2 records before it verify');
    const json = JSON.parse((await run(['audit', 'verify', file, '--json'])).stdout) as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({ ok: false, firstBrokenSeq: 3, line: 3, records: 2 });
  });

  it('finds the default file from QFPAY_AUDIT_LOG, or QFPAY_STATE_DIR and QFPAY_ENV', async () => {
    expect((await run(['verify'], { QFPAY_AUDIT_LOG: file })).code).toBe(0);
    const viaStateDir = await run(['verify'], { QFPAY_STATE_DIR: dir, QFPAY_ENV: 'sandbox' });
    expect(viaStateDir.stdout).toContain(`OK ${file}`);
    const viaCredentials = await run(['verify'], {
      QFPAY_STATE_DIR: dir,
      QFPAY_APPCODE: 'x',
      QFPAY_KEY: 'y',
    });
    // Credentials without QFPAY_ENV no longer default to the (card-only) sandbox: the CLI asks.
    expect(viaCredentials.code).toBe(2);
    expect(viaCredentials.stderr).toMatch(/QFPAY_ENV/);
    const viaHost = await run(['verify'], {
      QFPAY_STATE_DIR: dir,
      QFPAY_APPCODE: 'x',
      QFPAY_KEY: 'y',
      QFPAY_BASE_URL: 'https://openapi-int.qfapi.com',
    });
    expect(viaHost.stdout).toContain(`OK ${file}`);
    const local = await run(['verify'], { QFPAY_STATE_DIR: dir });
    expect(local.code).toBe(2);
    expect(local.stderr).toContain(path.join(dir, 'audit-local.jsonl'));
    expect(local.stderr).toMatch(/ENOENT.*nothing has been recorded/);
    const badEnv = await run(['verify'], { QFPAY_ENV: 'staging' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/QFPAY_ENV is not one of/);
  });

  it('has help and refuses bad usage', async () => {
    const help = await run(['verify', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: qfpay-mcp audit verify/);
    expect((await run(['verify', file, '--file', file])).code).toBe(2);
    expect((await run(['verify', '--bogus'])).code).toBe(2);
    expect((await run(['verify', '--limit', '3', file])).code).toBe(2);
  });
});

describe('qfpay-mcp audit list', () => {
  it('shows one row per action, newest first, with formatted amounts and latest status', async () => {
    const result = await run(['list', '--file', file]);
    expect(result.code).toBe(0);
    const rows = result.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(
      /^TIME \(UTC\+8\)\s+ENV\s+TOOL\s+OUT_TRADE_NO\s+AMOUNT\s+STATUS\s+RESPCD\s+SYSSN$/,
    );
    expect(rows).toHaveLength(4);
    expect(rows[1]).toMatch(
      /^2025-06-01 10:03:04\s+sandbox\s+create_payment\s+ORDER-JPY\s+JPY 300\s+NO OUTCOME$/,
    );
    expect(rows[2]).toMatch(/refund\s+REFUND-1\s+HKD 5\.00\s+UNKNOWN$/);
    expect(rows[3]).toMatch(/ORDER-PAID\s+HKD 10\.50\s+PAID\s+0000\s+20250601000100020012345678$/);
  });

  it('limits and prints JSON', async () => {
    const limited = await run(['list', '--file', file, '--limit', '1', '--json']);
    expect(limited.code).toBe(0);
    const actions = JSON.parse(limited.stdout) as { out_trade_no: string }[];
    expect(actions.map((action) => action.out_trade_no)).toEqual(['ORDER-JPY']);
    const all = JSON.parse((await run(['list', '--file', file, '--json'])).stdout) as Record<
      string,
      unknown
    >[];
    expect(all[1]).toMatchObject({
      tool: 'refund',
      kind: 'refund',
      status: 'UNKNOWN',
      txamt: 500,
      orig_syssn: '20250601000100020012345678',
    });
  });

  it('lists what precedes a break, warns, and exits 1', async () => {
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[3] = lines[3]!.replace('"status":"UNKNOWN"', '"status":"PAID"');
    await writeFile(file, lines.join('\n'));
    const result = await run(['list', '--file', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('REFUND-1');
    expect(result.stdout).not.toContain('ORDER-JPY');
    expect(result.stderr).toMatch(/broken at record 4 \(line 4\)/);
  });

  it('strips terminal escapes even from a re-hashed (forged but chain-valid) file', async () => {
    // The chain is unkeyed: someone with write access can rewrite it consistently. The ledger never
    // writes control characters, but list must not trust the file to be the ledger's own work.
    const records = (await readFile(file, 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    let previous = '0'.repeat(64);
    const forged = records.map((record) => {
      const { hash: _hash, ...body } = record;
      const next = {
        ...body,
        prev_hash: previous,
        out_trade_no: `${String(body.out_trade_no)}\u001b[2J\u001b]0;pwned\u0007`,
      };
      previous = hashRecordBody(next);
      return canonicalJson({ ...next, hash: previous });
    });
    await writeFile(file, forged.join('\n') + '\n');
    expect((await run(['verify', file])).code).toBe(0);
    const result = await run(['list', '--file', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ORDER-PAID[2J');
    expect(result.stdout).not.toMatch(/\p{Cc}(?<!\n)/u);
  });

  it('validates options', async () => {
    for (const argv of [
      ['list', '--limit', '0'],
      ['list', '--limit', 'ten'],
      ['list', file],
    ]) {
      expect((await run(argv, { QFPAY_AUDIT_LOG: file })).code).toBe(2);
    }
    expect((await run(['list', '--help'])).stdout).toMatch(/--limit N/);
    expect(await run(['list'], { QFPAY_AUDIT_LOG: path.join(dir, 'none.jsonl') })).toMatchObject({ code: 2 });
  });
});

describe('qfpay-mcp audit', () => {
  it('prints usage for help, and refuses unknown or missing commands', async () => {
    expect(await run(['--help'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/verify \[FILE\]/) as unknown,
    });
    expect((await run([])).code).toBe(2);
    const unknown = await run(['rotate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "rotate"');
  });
});
