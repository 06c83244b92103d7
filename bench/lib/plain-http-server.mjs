import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { createServer } from 'node:http';

/**
 * Control for the HTTP load bench: a bare node:http server that reads the body, burns
 * WORK_MS of CPU and answers a tiny JSON-RPC result. Run under the same autocannon settings, it
 * shows which latency effects belong to Node's HTTP server on this machine rather than to ours.
 */
const WORK_MS = Number(process.env.WORK_MS ?? 0.6);
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const started = performance.now();
    while (performance.now() - started < WORK_MS);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"jsonrpc":"2.0","id":1,"result":{"content":[]}}');
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stderr.write(`control ready url=http://127.0.0.1:${server.address().port}/mcp\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
