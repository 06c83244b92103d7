import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { URL } from 'node:url';
/**
 * Run in a fresh process by the cold-start bench: imports the server's dependencies and modules
 * one after the other and prints the incremental cost of each, in the order a stdio start loads
 * them. A module already pulled in by an earlier one costs ~0 here; the attribution is to the
 * first importer.
 */
const started = performance.now();
const steps = [
  ['zod', 'zod'],
  ['@modelcontextprotocol/server', '@modelcontextprotocol/server'],
  ['@modelcontextprotocol/server/stdio', '@modelcontextprotocol/server/stdio'],
  ['undici', 'undici'],
  ['p-queue', 'p-queue'],
  ['qrcode', 'qrcode'],
  ['@modelcontextprotocol/node (+ hono)', '@modelcontextprotocol/node'],
  ['dist/simulator', '../../dist/simulator/index.js'],
  ['dist/qfpay/client', '../../dist/qfpay/client.js'],
  ['dist/mcp/runtime (tools, catalog, guard)', '../../dist/mcp/runtime.js'],
  ['dist/transports/http', '../../dist/transports/http.js'],
  ['dist/cli/serve', '../../dist/cli/serve.js'],
];
const costs = [];
for (const [label, specifier] of steps) {
  const t = performance.now();
  await import(specifier.startsWith('.') ? new URL(specifier, import.meta.url).href : specifier);
  costs.push([label, performance.now() - t]);
}
process.stdout.write(JSON.stringify({ costs, total: performance.now() - started }));
