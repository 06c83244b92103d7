import { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';

/**
 * The reference server's `echo` tool rebuilt on OUR SDK (v2): the control of the SDK-floor,
 * cold-start and stateless-HTTP benches. With `answer`, the same tool answers that result verbatim
 * instead (a fresh copy per call, as a real handler builds its result afresh): the control that
 * isolates what the size of our answer costs.
 */
export function buildEchoServer(name, { answer } = {}) {
  const server = new McpServer({ name, version: '1.0.0' });
  server.registerTool(
    'echo',
    {
      title: 'Echo Tool',
      description: 'Echoes back the input string',
      inputSchema: z.object({ message: z.string().describe('Message to echo') }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    answer === undefined
      ? async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] })
      : async () => structuredClone(answer),
  );
  return server;
}
