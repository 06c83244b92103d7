import process from 'node:process';
import { createRuntime } from '../../dist/mcp/runtime.js';
import { startHttpServer } from '../../dist/transports/http.js';

/**
 * The HTTP server under test for bench/http-load.mjs: the same wiring as `qfpay-mcp serve --http`
 * (src/cli/serve.ts: createRuntime from the environment, then startHttpServer), run in its own
 * process started with --expose-gc so the bench can ask, over IPC, for memory figures after a
 * full garbage collection — the only reading that tells a leak from a heap that is merely sized.
 */
const runtime = await createRuntime({ log: () => undefined });
const server = await startHttpServer({
  createServer: (scope) => runtime.createServer(scope),
  environment: runtime.environment,
  port: 0,
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stderr.write(`ready url=${server.url}\n`);

process.on('message', (message) => {
  if (message?.type !== 'memory') return;
  if (message.collect && typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
  const usage = process.memoryUsage();
  process.send?.({ type: 'memory', rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal });
});

process.on('SIGTERM', () => {
  void server
    .close()
    .then(() => runtime.close())
    .then(() => process.exit(0));
});
