import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The gate follows the destination (red-team B3): a server whose QFPAY_ENV is laxer than the host
 * its requests would go to does not start. Spawned as an operator would start it (dist/cli.js,
 * built by `npm test`), with QFPAY_BASE_URL naming the production host or a host this server cannot
 * tell from production. The latter is an IPv4-mapped loopback address: not on the loopback list,
 * so production by classification, yet reachable here, so a TCP listener counts every connection
 * the refused server might have made.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const CREDENTIALS = {
  QFPAY_APPCODE: 'A1B2C3D4E5F60718293A4B5C6D7E8F90',
  QFPAY_KEY: 'startup-test-key-0123456789',
};

let listener: Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  listener = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => listener.close(() => resolve()));
});

/** Runs `qfpay-mcp serve` (stdio) until it exits, or until stderr shows `until` (then stops it). */
function serve(env: NodeJS.ProcessEnv, until?: string): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: {
        PATH: process.env.PATH,
        QFPAY_STATE_DIR: join(ROOT, 'node_modules', '.cache', 'unused'),
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
      if (until !== undefined && err.includes(until)) child.kill('SIGTERM');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    });
  });
}

describe('start-up refuses a label that contradicts the host', () => {
  it.each(['local', 'sandbox', 'test', ''])(
    'QFPAY_ENV=%s with the production host: exits before serving, naming both variables',
    async (label) => {
      const { code, err } = await serve({
        ...CREDENTIALS,
        QFPAY_ENV: label,
        QFPAY_BASE_URL: 'https://openapi-hk.qfapi.com',
      });
      expect(code).not.toBe(0);
      expect(err).toMatch(label === '' ? /QFPAY_ENV/ : /QFPAY_BASE_URL/);
      if (label !== '') {
        expect(err).toContain(`QFPAY_ENV=${label}`);
        expect(err).toContain('treated as production');
      }
      expect(err).not.toContain(CREDENTIALS.QFPAY_KEY);
    },
    30_000,
  );

  it.each(['local', 'sandbox', 'test'])(
    'QFPAY_ENV=%s with a host that may be production: refused, 0 upstream connections',
    async (label) => {
      const before = connections;
      const { code, err } = await serve({
        ...CREDENTIALS,
        QFPAY_ENV: label,
        QFPAY_BASE_URL: `https://[::ffff:127.0.0.1]:${port}`,
      });
      expect(code).not.toBe(0);
      expect(err).toContain('treated as production');
      expect(connections).toBe(before);
    },
    30_000,
  );
});

describe('start-up says what the environment can test', () => {
  it('a consistent configuration starts and names what it can test', async () => {
    const { err } = await serve({ QFPAY_ENV: 'local' }, 'can test');
    expect(err).toMatch(/ready: transport=stdio .*environment=local/);
    expect(err).toContain('qfpay-mcp: local can test: everything, simulated');
  }, 30_000);
});
