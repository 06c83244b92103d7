import process from 'node:process';
import { startHttpServer } from '../../dist/transports/http.js';
import { buildEchoServer } from './echo-tool.mjs';

/**
 * Control for the stateless HTTP ratio in bench/http-load.mjs: the reference server's `echo` tool
 * on the SAME stack as ours — our SDK (v2), our startHttpServer from dist/ (guards, routing,
 * createMcpHandler, a fresh McpServer per 2026-07-28 request) — in its own process. What our
 * explain_respcd costs beyond it is our server and tool, not the SDK or the transport.
 */
const buildServer = () => buildEchoServer('http-echo');

const server = await startHttpServer({
  createServer: buildServer,
  environment: 'local',
  port: 0,
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stderr.write(`ready url=${server.url}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
