import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { PayPalAgentToolkit } from '@paypal/agent-toolkit/mcp';

/**
 * PayPal's MCP server class (`@paypal/agent-toolkit/mcp`, an McpServer of the v1 SDK) on stdio, as
 * its README's "Custom MCP Server" does, with every action enabled and a dummy token: enough for
 * initialize and tools/list, which reach no PayPal host. The package publishes no server binary.
 */
const everyAction = new Proxy({}, { get: () => new Proxy({}, { get: () => true }) });
const server = new PayPalAgentToolkit({
  accessToken: 'A21AA-bench-dummy-token-never-sent',
  configuration: { actions: everyAction, context: { sandbox: true } },
});
await server.connect(new StdioServerTransport());
