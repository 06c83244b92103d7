import { McpServer, type ServerCapabilities } from '@modelcontextprotocol/server';

import { DEFAULT_CONFIRMATION_TTL_MS } from '../safety/confirmation.js';
import type { AuditView } from '../safety/guard.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import { registerTransactionResource } from './transaction-resource.js';
import { SERVER_NAME, SERVER_TITLE, SERVER_VERSION, serverInstructions } from './server-info.js';
import type { ToolDeps } from './tools/define.js';
import type { ToolEntry } from './tools/index.js';
import { registerToolDefinition } from './tools/register.js';
import { elicitationApproval } from './approval.js';
import { paymentViewLink, registerPaymentView } from './app/payment-view.js';

const SERVER_CAPABILITIES = {
  tools: { listChanged: false },
  resources: { listChanged: false },
  prompts: { listChanged: false },
  completions: {},
  logging: {},
};

/**
 * What one server instance is built to answer. `tool`: a stateless request that only calls this
 * tool (a 2026-07-28 `tools/call`), so the instance holds that tool alone — registering every
 * tool, resource and prompt for each such request was most of its cost. It declares the same
 * capabilities as a whole instance, so nothing a client can see differs.
 */
export interface ServerScope {
  readonly tool?: string;
}

type InstructionsFor = (hasAuditTrail: boolean) => string;

/**
 * The factory a runtime hands its transports: a fresh server per connection or request (never
 * one shared between clients), with everything that does not depend on the connection worked out
 * once here: the instructions text now, tool schemas and annotations on first use (`register.ts`),
 * a whole instance's capabilities on the first scoped request.
 */
export function mcpServerFactory(
  deps: ToolDeps,
  tools: readonly ToolEntry[],
): (scope?: ServerScope) => McpServer {
  const instructions = new Map<boolean, string>();
  const instructionsFor: InstructionsFor = (hasAuditTrail) => {
    let text = instructions.get(hasAuditTrail);
    if (text === undefined) {
      text = serverInstructions(deps.environment, tools, hasAuditTrail);
      instructions.set(hasAuditTrail, text);
    }
    return text;
  };
  let wholeCapabilities: ServerCapabilities | undefined;
  return (scope) => {
    const called = tools.find((entry) => entry.tool.name === scope?.tool);
    if (!called) return buildMcpServer(deps, tools, instructionsFor);
    wholeCapabilities ??= buildMcpServer(deps, tools, instructionsFor).server.getCapabilities();
    return buildToolCallServer(deps, called, instructionsFor, wholeCapabilities);
  };
}

/**
 * A fresh server with the selected tools, the resources and the prompts, sharing `deps`. The guard
 * is bound to this server's connection, so a confirmation can be asked of the person at this
 * client (elicitation) and of no other.
 */
export function buildMcpServer(
  deps: ToolDeps,
  tools: readonly ToolEntry[],
  instructionsFor: InstructionsFor = (hasAuditTrail) =>
    serverInstructions(deps.environment, tools, hasAuditTrail),
): McpServer {
  const { server, connectionDeps, audit } = newServer(deps, instructionsFor);
  for (const entry of tools) registerToolDefinition(server, entry.tool, entry.access, connectionDeps);
  registerResources(server, deps.environment, audit);
  registerTransactionResource(server, deps);
  if (tools.some((entry) => paymentViewLink(entry.tool.name))) registerPaymentView(server);
  registerPrompts(server, deps.environment);
  return server;
}

/** An instance that answers one call of `entry` (ServerScope), declaring a whole instance's capabilities. */
function buildToolCallServer(
  deps: ToolDeps,
  entry: ToolEntry,
  instructionsFor: InstructionsFor,
  capabilities: ServerCapabilities,
): McpServer {
  const { server, connectionDeps } = newServer(deps, instructionsFor);
  registerToolDefinition(server, entry.tool, entry.access, connectionDeps);
  server.server.registerCapabilities(capabilities);
  return server;
}

function newServer(
  deps: ToolDeps,
  instructionsFor: InstructionsFor,
): { server: McpServer; connectionDeps: ToolDeps; audit: AuditView | undefined } {
  const audit = deps.guard.auditView?.();
  const server = new McpServer(
    { name: SERVER_NAME, title: SERVER_TITLE, version: SERVER_VERSION },
    { capabilities: SERVER_CAPABILITIES, instructions: instructionsFor(audit !== undefined) },
  );
  const guard =
    deps.guard.forConnection?.(elicitationApproval(server, DEFAULT_CONFIRMATION_TTL_MS)) ?? deps.guard;
  return { server, connectionDeps: { ...deps, guard }, audit };
}
