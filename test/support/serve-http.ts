import { type ChildProcess, spawn } from 'node:child_process';

import { CLI, ROOT } from './dist.js';

/** A spawned `qfpay-mcp serve --http --port 0`, once it said where it listens. */
export interface ServedHttp {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it wrote so far: stdout, stderr, and both in arrival order. */
  stdout(): string;
  stderr(): string;
  output(): string;
  /** SIGTERM, then waits for the exit (at once when it already exited). */
  stop(): Promise<void>;
}

const LISTENING = /serving MCP over Streamable HTTP at (\S+)/;

/**
 * Spawns the built command over HTTP on a free port and resolves with its URL, read from its own
 * start-up line. Rejects with the output when it exits or stays silent first, so a test that cannot
 * start the server says why.
 */
export function serveHttp(options: {
  readonly env: NodeJS.ProcessEnv;
  readonly args?: readonly string[];
  readonly timeoutMs?: number;
}): Promise<ServedHttp> {
  const child = spawn(process.execPath, [CLI, 'serve', '--http', '--port', '0', ...(options.args ?? [])], {
    cwd: ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise<ServedHttp>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve --http printed no URL in ${options.timeoutMs ?? 30_000} ms: ${output}`));
    }, options.timeoutMs ?? 30_000);
    let listening = false;
    const onData = (text: string) => {
      output += text;
      const url = listening ? undefined : LISTENING.exec(output)?.[1];
      if (url) {
        listening = true;
        clearTimeout(timer);
        resolve({ url, child, stdout: () => stdout, stderr: () => stderr, output: () => output, stop });
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      onData(chunk.toString('utf8'));
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      onData(chunk.toString('utf8'));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`serve --http exited (${code ?? signal}) before listening: ${output}`));
    });
  });
}
