import process from 'node:process';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import { buildEchoServer } from './echo-tool.mjs';

/**
 * Control for the SDK-floor and cold-start benches: the reference server's `echo` tool, rebuilt on
 * the SAME SDK and transport helper our server uses (@modelcontextprotocol/server v2, serveStdio).
 * Comparing it with the reference (v1 SDK) isolates what the SDK generation costs; comparing our
 * tools with it isolates what our tools cost. With BENCH_ANSWER (a tool result as JSON) it answers
 * that result verbatim: against the plain echo, what the answer's size costs. With
 * BENCH_SCHEMAS_OF=explain_respcd as well, that answer comes from a tool declaring explain_respcd's
 * own input and output schemas (from the build): what checking them costs, with none of our code.
 */
const answer = process.env.BENCH_ANSWER ? JSON.parse(process.env.BENCH_ANSWER) : undefined;
const schemasOf =
  process.env.BENCH_SCHEMAS_OF === 'explain_respcd'
    ? (await import('../../dist/mcp/tools/explain-respcd.js')).explainRespcdTool
    : undefined;
if (process.env.BENCH_SCHEMAS_OF && !schemasOf)
  throw new Error(`BENCH_SCHEMAS_OF: unknown tool ${process.env.BENCH_SCHEMAS_OF}`);
const name = schemasOf ? 'v2-schemas' : answer === undefined ? 'v2-echo' : 'v2-answer';

serveStdio(() => buildEchoServer(name, { answer, schemasOf }), {
  transport: new StdioServerTransport(process.stdin, process.stdout),
});
