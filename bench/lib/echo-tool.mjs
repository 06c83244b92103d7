import { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';

/**
 * The reference server's `echo` tool rebuilt on OUR SDK (v2): the control of the SDK-floor,
 * cold-start and stateless-HTTP benches. With `answer`, the same tool answers that result verbatim
 * instead (a fresh copy per call, as a real handler builds its result afresh): the control that
 * isolates what the size of our answer costs. With `schemasOf` (one of our tool definitions) as
 * well, the tool takes that tool's name and declares its input and output schemas, so the SDK (and
 * the client) check them on every call while none of our code runs: the floor for any tool that
 * declares those schemas and gives that answer on this stack.
 */
export function buildEchoServer(name, { answer, schemasOf } = {}) {
  const server = new McpServer({ name, version: '1.0.0' });
  const handler =
    answer === undefined
      ? async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] })
      : async () => structuredClone(answer);
  if (schemasOf) {
    server.registerTool(
      schemasOf.name,
      {
        title: schemasOf.title,
        description: schemasOf.description,
        inputSchema: schemasOf.inputSchema,
        outputSchema: schemasOf.outputSchema,
      },
      handler,
    );
    return server;
  }
  server.registerTool(
    'echo',
    {
      title: 'Echo Tool',
      description: 'Echoes back the input string',
      inputSchema: z.object({ message: z.string().describe('Message to echo') }),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    handler,
  );
  return server;
}
