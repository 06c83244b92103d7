import process from 'node:process';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import { buildEchoServer } from './echo-tool.mjs';

/**
 * Control for the SDK-floor and cold-start benches: the reference server's `echo` tool, rebuilt on
 * the SAME SDK and transport helper our server uses (@modelcontextprotocol/server v2, serveStdio).
 * Comparing it with the reference (v1 SDK) isolates what the SDK generation costs; comparing our
 * tools with it isolates what our tools cost. With BENCH_ANSWER (a tool result as JSON) it answers
 * that result verbatim: against the plain echo, what the answer's size costs.
 */
const answer = process.env.BENCH_ANSWER ? JSON.parse(process.env.BENCH_ANSWER) : undefined;

serveStdio(() => buildEchoServer(answer === undefined ? 'v2-echo' : 'v2-answer', { answer }), {
  transport: new StdioServerTransport(process.stdin, process.stdout),
});
