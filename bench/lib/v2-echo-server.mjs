import process from 'node:process';
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';

/**
 * Control for the SDK-floor and cold-start benches: the reference server's `echo` tool, rebuilt on
 * the SAME SDK and transport helper our server uses (@modelcontextprotocol/server v2, serveStdio).
 * Comparing it with the reference (v1 SDK) isolates what the SDK generation costs; comparing our
 * tools with it isolates what our tools cost.
 */
function buildServer() {
  const server = new McpServer({ name: 'v2-echo', version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      title: 'Echo Tool',
      description: 'Echoes back the input string',
      inputSchema: z.object({ message: z.string().describe('Message to echo') }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
  );
  return server;
}

serveStdio(buildServer, { transport: new StdioServerTransport(process.stdin, process.stdout) });
