import { describe, expect, it } from 'vitest';
import {
  parseCredential,
  parseSimulatorArgs,
  runSimulatorCli,
  SimulatorCliError,
  SIMULATOR_USAGE,
} from '../../src/simulator/index.js';
import { qfOk } from './helpers.js';

/** `qfpay-mcp simulator …` argument parsing and the run loop. */

describe('parseSimulatorArgs', () => {
  it('defaults to port 8787 and the built-in credential', () => {
    expect(parseSimulatorArgs([])).toEqual({ kind: 'run', options: { port: 8787 } });
  });

  it('reads every flag, in "--flag value" and "--flag=value" form', () => {
    const command = parseSimulatorArgs([
      '--host',
      '127.0.0.2',
      '--port=0',
      '--credential',
      'APP1:key1',
      '--credential=APP2:key2:Store9',
      '--rate-limits',
      '5/200ms,20/1s',
      '--time-scale',
      '60',
      '--quiet',
    ]);
    expect(command).toEqual({
      kind: 'run',
      options: {
        host: '127.0.0.2',
        port: 0,
        credentials: [
          { appcode: 'APP1', key: 'key1' },
          { appcode: 'APP2', key: 'key2', mchid: 'Store9' },
        ],
        rateLimits: [
          { count: 5, durationMs: 200 },
          { count: 20, durationMs: 1_000 },
        ],
        timeScale: 60,
        quiet: true,
      },
    });
  });

  it('reads --response-sign and --state-file, and the reset subcommand', () => {
    expect(parseSimulatorArgs(['--response-sign', 'SHA256', '--state-file=/tmp/s.jsonl'])).toEqual({
      kind: 'run',
      options: { port: 8787, responseSign: 'sha256', stateFile: '/tmp/s.jsonl' },
    });
    expect(() => parseSimulatorArgs(['--response-sign', 'sha1'])).toThrow(
      /--response-sign must be one of md5, sha256, request/,
    );
    expect(parseSimulatorArgs(['reset', '--state-file', '/tmp/s.jsonl'])).toEqual({
      kind: 'reset',
      stateFile: '/tmp/s.jsonl',
    });
    const byDefault = parseSimulatorArgs(['reset']);
    expect(byDefault.kind === 'reset' && byDefault.stateFile).toMatch(
      /qfpay-mcp[\\/]simulator-state\.jsonl$/,
    );
    expect(() => parseSimulatorArgs(['reset', '--port', '1'])).toThrow(/reset takes only --state-file/);
    expect(SIMULATOR_USAGE).toMatch(/qfpay-mcp simulator reset \[--state-file FILE\]/);
  });

  it('recognises --help and -h', () => {
    expect(parseSimulatorArgs(['--port', '1', '--help'])).toEqual({ kind: 'help' });
    expect(parseSimulatorArgs(['-h'])).toEqual({ kind: 'help' });
    expect(SIMULATOR_USAGE).toMatch(/--credential APPCODE:KEY\[:MCHID\]/);
  });

  it.each([
    [['--bogus'], /unknown option --bogus/],
    [['stray'], /unexpected argument "stray"/],
    [['--port'], /--port needs a value/],
    [['--port', '--quiet'], /--port needs a value/],
    [['--port', 'eighty'], /--port must be an integer/],
    [['--port', '65536'], /--port must be an integer/],
    [['--time-scale', '0'], /--time-scale must be a positive number/],
    [['--time-scale', 'fast'], /--time-scale must be a positive number/],
    [['--rate-limits', '5 per second'], /--rate-limits: .*COUNT\/DURATION/],
    [['--credential', 'only-appcode'], /--credential must be APPCODE:KEY/],
    [['--credential', 'A:B:C:D'], /--credential must be APPCODE:KEY/],
    [['--credential', 'A::C'], /no empty part/],
    [['--host', ''], /--host must not be empty/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseSimulatorArgs(argv)).toThrow(SimulatorCliError);
    expect(() => parseSimulatorArgs(argv)).toThrow(message);
  });

  it('errors point at --help', () => {
    try {
      parseSimulatorArgs(['--nope']);
      expect.unreachable();
    } catch (error) {
      expect((error as SimulatorCliError).message).toMatch(/qfpay-mcp simulator --help/);
      expect((error as SimulatorCliError).exitCode).toBe(2);
    }
  });
});

describe('parseCredential', () => {
  it('splits APPCODE:KEY[:MCHID]', () => {
    expect(parseCredential('A:K')).toEqual({ appcode: 'A', key: 'K' });
    expect(parseCredential('A:K:M')).toEqual({ appcode: 'A', key: 'K', mchid: 'M' });
  });
});

describe('runSimulatorCli', () => {
  it('prints usage for --help without starting anything', async () => {
    let printed = '';
    await runSimulatorCli(['--help'], { out: (text) => (printed += text) });
    expect(printed).toBe(SIMULATOR_USAGE);
  });

  it('starts, prints the base URL and credentials, serves, and stops when asked', async () => {
    let printed = '';
    const stop = new AbortController();
    const running = runSimulatorCli(
      ['--port', '0', '--quiet', '--credential', 'CLIAPP:cli-secret-key:Shop1'],
      {
        out: (text) => (printed += text),
        stop: stop.signal,
      },
    );
    for (let i = 0; i < 100 && !printed.includes('listening'); i++)
      await new Promise((r) => setTimeout(r, 10));
    const baseUrl = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1];
    expect(baseUrl).toBeDefined();
    expect(printed).toContain('appcode CLIAPP');
    expect(printed).toContain('mchid Shop1');
    // A key given on the command line is not echoed back.
    expect(printed).not.toContain('cli-secret-key');
    const answer = await qfOk(
      { baseUrl: baseUrl! },
      '/trade/v1/query',
      {},
      {
        credential: { appcode: 'CLIAPP', key: 'cli-secret-key', mchid: 'Shop1' },
      },
    );
    expect(answer.respcd).toBe('0000');
    stop.abort();
    await running;
    await expect(qfOk({ baseUrl: baseUrl! }, '/trade/v1/query', {})).rejects.toThrow();
  });

  it('prints the built-in fake key, which is not a secret', async () => {
    let printed = '';
    const stop = new AbortController();
    const running = runSimulatorCli(['--port=0', '--quiet'], {
      out: (text) => (printed += text),
      stop: stop.signal,
    });
    for (let i = 0; i < 100 && !printed.includes('listening'); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(printed).toContain('key qfpay-simulator-key-not-secret');
    expect(printed).toContain('100/1s,400/60s');
    stop.abort();
    await running;
  });

  it('reports a port in use as a SimulatorCliError', async () => {
    const stop = new AbortController();
    let printed = '';
    const first = runSimulatorCli(['--port=0', '--quiet'], {
      out: (text) => (printed += text),
      stop: stop.signal,
    });
    for (let i = 0; i < 100 && !printed.includes('listening'); i++)
      await new Promise((r) => setTimeout(r, 10));
    const port = /127\.0\.0\.1:(\d+)/.exec(printed)![1]!;
    await expect(runSimulatorCli(['--port', port, '--quiet'])).rejects.toThrow(/already in use/);
    stop.abort();
    await first;
  });
});
