import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  defaultAuditLogPath,
  ensurePrivateDir,
  resolveAuditLogPath,
  resolveStateDir,
} from '../../src/safety/state-dir.js';
import { makeTempDir } from './helpers.js';

describe('resolveStateDir', () => {
  const home = '/home/merchant';

  it('prefers QFPAY_STATE_DIR, resolving relative paths against the working directory', () => {
    expect(resolveStateDir({ env: { QFPAY_STATE_DIR: '/srv/qfpay', XDG_STATE_HOME: '/x' }, home })).toBe(
      '/srv/qfpay',
    );
    expect(
      resolveStateDir({ env: { QFPAY_STATE_DIR: 'state' }, home, cwd: '/opt/app', platform: 'linux' }),
    ).toBe('/opt/app/state');
  });

  it('uses XDG_STATE_HOME only when absolute, else ~/.local/state (Linux and macOS)', () => {
    expect(resolveStateDir({ env: { XDG_STATE_HOME: '/var/state' }, home, platform: 'linux' })).toBe(
      '/var/state/qfpay-mcp',
    );
    expect(resolveStateDir({ env: { XDG_STATE_HOME: 'relative/state' }, home, platform: 'linux' })).toBe(
      '/home/merchant/.local/state/qfpay-mcp',
    );
    expect(resolveStateDir({ env: {}, home, platform: 'darwin' })).toBe(
      '/home/merchant/.local/state/qfpay-mcp',
    );
    expect(resolveStateDir({ env: { QFPAY_STATE_DIR: '  ' }, home, platform: 'linux' })).toBe(
      '/home/merchant/.local/state/qfpay-mcp',
    );
  });

  it('uses %LOCALAPPDATA% on Windows', () => {
    expect(
      resolveStateDir({
        env: { LOCALAPPDATA: 'C:\\Users\\m\\AppData\\Local' },
        home: 'C:\\Users\\m',
        platform: 'win32',
      }),
    ).toBe('C:\\Users\\m\\AppData\\Local\\qfpay-mcp');
    expect(resolveStateDir({ env: {}, home: 'C:\\Users\\m', platform: 'win32' })).toBe(
      'C:\\Users\\m\\AppData\\Local\\qfpay-mcp',
    );
  });
});

describe('audit log paths', () => {
  it('keeps one ledger per environment in the state directory', () => {
    const options = { env: { QFPAY_STATE_DIR: '/srv/qfpay' }, platform: 'linux' as const };
    expect(defaultAuditLogPath('prod', options)).toBe('/srv/qfpay/audit-prod.jsonl');
    expect(defaultAuditLogPath('local', options)).toBe('/srv/qfpay/audit-local.jsonl');
    expect(resolveAuditLogPath('prod', options)).toBe('/srv/qfpay/audit-prod.jsonl');
  });

  it('lets QFPAY_AUDIT_LOG override the file', () => {
    const env = { QFPAY_STATE_DIR: '/srv/qfpay', QFPAY_AUDIT_LOG: 'logs/ledger.jsonl' };
    expect(resolveAuditLogPath('prod', { env, cwd: '/opt/app', platform: 'linux' })).toBe(
      '/opt/app/logs/ledger.jsonl',
    );
  });

  it('refuses environment names that could escape the directory', () => {
    for (const bad of ['../prod', 'prod/x', '', 'PROD', 'a'.repeat(40)]) {
      expect(() => defaultAuditLogPath(bad, { env: { QFPAY_STATE_DIR: '/srv' } })).toThrow(RangeError);
    }
  });
});

describe('ensurePrivateDir', () => {
  it('creates nested directories with mode 0700 and refuses a file in the way', async () => {
    const { dir, cleanup } = await makeTempDir('state');
    try {
      const nested = path.join(dir, 'a', 'b');
      await ensurePrivateDir(nested);
      expect((await stat(nested)).mode & 0o777).toBe(0o700);
      await ensurePrivateDir(nested);
      await writeFile(path.join(dir, 'file'), 'x');
      await expect(ensurePrivateDir(path.join(dir, 'file'))).rejects.toThrow();
    } finally {
      await cleanup();
    }
  });
});
