import { clearTimeout, setTimeout } from 'node:timers';
import { spawn } from 'node:child_process';

/**
 * A minimal MCP stdio client: newline-delimited JSON-RPC over a spawned process, nothing else.
 * It adds almost no client-side work (no schema validation, no caching), so what it measures is
 * the server's cost plus the pipe. The official client is used where "same client" matters.
 */
export class StdioRpc {
  /** @param {{ command: string, args: string[], env: Record<string,string>, cwd?: string }} spec */
  constructor(spec) {
    this.child = spawn(spec.command, spec.args, {
      env: spec.env,
      cwd: spec.cwd,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    this.pending = new Map();
    this.nextId = 1;
    this.buffer = '';
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => this.#onData(chunk));
    this.child.once('exit', () => {
      for (const { reject } of this.pending.values()) reject(new Error('server exited'));
      this.pending.clear();
    });
  }

  #onData(chunk) {
    this.buffer += chunk;
    let newline;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, '');
      this.buffer = this.buffer.slice(newline + 1);
      if (line.trim() === '') continue;
      const message = JSON.parse(line);
      const waiter = message.id !== undefined ? this.pending.get(message.id) : undefined;
      if (!waiter) continue; // server-initiated notifications and requests are not used here
      this.pending.delete(message.id);
      waiter.resolve({ line, message });
    }
  }

  /** Sends a request; resolves with the raw response line and the parsed message. */
  request(method, params = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  notify(method, params = {}) {
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`);
  }

  /** The 2025-era handshake; resolves with the initialize result line. */
  async initialize(protocolVersion = '2025-11-25') {
    const answer = await this.request('initialize', {
      protocolVersion,
      capabilities: {},
      clientInfo: { name: 'qfpay-mcp-bench', version: '1.0.0' },
    });
    if (answer.message.error) throw new Error(`initialize failed: ${answer.message.error.message}`);
    this.notify('notifications/initialized');
    return answer;
  }

  /** tools/call; throws when the answer is a protocol error or an isError result. */
  async callTool(name, args) {
    const answer = await this.request('tools/call', { name, arguments: args });
    if (answer.message.error) throw new Error(`${name}: ${answer.message.error.message}`);
    if (answer.message.result?.isError)
      throw new Error(`${name} answered isError: ${answer.line.slice(0, 300)}`);
    return answer;
  }

  /** Closes stdin (the MCP stdio way of saying goodbye) and waits for the exit. */
  async close() {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}
