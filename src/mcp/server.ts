import { McpServer } from '@modelcontextprotocol/server';

import { DEFAULT_CONFIRMATION_TTL_MS } from '../safety/confirmation.js';
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
 * What one server instance is built to answer. `tool`: a stateless request that calls only this
 * tool (a 2026-07-28 `tools/call`), so only that tool is registered — registering all of them
 * for every such request was most of its cost. Resources, prompts and capabilities stay whole.
 */
export interface ServerScope {
  readonly tool?: string;
}

/**
 * The factory a runtime hands its transports: a fresh server per connection or request (never
 * one shared between clients), with everything that does not depend on the connection worked out
 * once here: the instructions text now, tool schemas and annotations on first use (`register.ts`).
 */
export function mcpServerFactory(
  deps: ToolDeps,
  tools: readonly ToolEntry[],
): (scope?: ServerScope) => McpServer {
  const instructions = new Map<boolean, string>();
  const instructionsFor = (hasAuditTrail: boolean): string => {
    let text = instructions.get(hasAuditTrail);
    if (text === undefined) {
      text = serverInstructions(deps.environment, tools, hasAuditTrail);
      instructions.set(hasAuditTrail, text);
    }
    return text;
  };
  return (scope) => buildMcpServer(deps, tools, instructionsFor, scope);
}

/**
 * A fresh server with the selected tools, the resources and the prompts, sharing `deps`. The guard
 * is bound to this server's connection, so a confirmation can be asked of the person at this
 * client (elicitation) and of no other.
 */
export function buildMcpServer(
  deps: ToolDeps,
  tools: readonly ToolEntry[],
  instructionsFor: (hasAuditTrail: boolean) => string = (hasAuditTrail) =>
    serverInstructions(deps.environment, tools, hasAuditTrail),
  scope: ServerScope = {},
): McpServer {
  const audit = deps.guard.auditView?.();
  const server = new McpServer(
    { name: SERVER_NAME, title: SERVER_TITLE, version: SERVER_VERSION },
    {
      capabilities: SERVER_CAPABILITIES,
      instructions: instructionsFor(audit !== undefined),
    },
  );
  const guard =
    deps.guard.forConnection?.(elicitationApproval(server, DEFAULT_CONFIRMATION_TTL_MS)) ?? deps.guard;
  const connectionDeps: ToolDeps = { ...deps, guard };
  for (const entry of toolsIn(scope, tools))
    registerToolDefinition(server, entry.tool, entry.access, connectionDeps);
  registerResources(server, deps.environment, audit);
  registerTransactionResource(server, deps);
  if (tools.some((entry) => paymentViewLink(entry.tool.name))) registerPaymentView(server);
  registerPrompts(server, deps.environment);
  return server;
}

/** The tools an instance registers: the scoped one when it exists, else all (an unknown name gets the SDK's own answer). */
function toolsIn(scope: ServerScope, tools: readonly ToolEntry[]): readonly ToolEntry[] {
  if (scope.tool === undefined) return tools;
  const named = tools.filter((entry) => entry.tool.name === scope.tool);
  return named.length > 0 ? named : tools;
}
