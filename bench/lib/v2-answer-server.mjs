import process from 'node:process';
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';

/**
 * Control for the SDK-floor bench: v2-echo's server (same SDK, serveStdio, one tool with echo's
 * input schema and no output schema) whose tool answers, verbatim, the result our explain_respcd
 * gave in this run (BENCH_ANSWER, JSON). Against v2-echo it measures what the size of our answer
 * costs; against ours, what our tool's own code and schemas cost.
 */
const answer = JSON.parse(process.env.BENCH_ANSWER ?? '');

function buildServer() {
  const server = new McpServer({ name: 'v2-answer', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      title: 'Echo Tool',
      description: 'Echoes back the input string',
      inputSchema: z.object({ message: z.string().describe('Message to echo') }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    // A fresh copy per call, as a real handler builds its result afresh.
    async () => structuredClone(answer),
  );
  return server;
}

serveStdio(buildServer, { transport: new StdioServerTransport(process.stdin, process.stdout) });
