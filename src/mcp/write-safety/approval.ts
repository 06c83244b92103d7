import type { ClientCapabilities, McpServer } from '@modelcontextprotocol/server';

import type { GuardContext, HumanApproval } from '../guard.js';

/**
 * Asking the person directly, through MCP form elicitation, instead of the token round trip.
 *
 * Design (documented choice): the question is sent as a server→client `elicitation/create`
 * request tied to the tool call being served (relatedRequestId), from the McpServer of that one
 * connection. That reaches the person on every 2025-era connection this server speaks: stdio and
 * stateful Streamable HTTP sessions with SSE responses. Where it cannot be carried — the client did
 * not declare form elicitation, a 2026-07-28 per-request exchange (the SDK refuses push-style
 * requests there), a stream that fails, or nobody answering before the confirmation would have
 * expired — the answer is `unavailable` and the guard falls back to the confirmation token, which
 * works with every client. A decline or cancel is final for that call: nothing is sent.
 *
 * Elicitation is not proof that a human approved (a fully automated client can answer it), which
 * is why it is offered in addition to, never instead of, the server-side gate, caps and ledger.
 */

export const APPROVAL_FIELD = 'approve';

export function supportsFormElicitation(capabilities: ClientCapabilities | undefined): boolean {
  const elicitation = capabilities?.elicitation as Record<string, unknown> | undefined;
  return elicitation !== undefined && elicitation.form !== undefined;
}

export function elicitationApproval(server: McpServer, timeoutMs: number): HumanApproval {
  return {
    canAsk: () => supportsFormElicitation(server.server.getClientCapabilities()),
    async ask(summary: string, ctx: GuardContext, signal?: AbortSignal) {
      try {
        const answer = await server.server.elicitInput(
          {
            mode: 'form',
            message: `${summary}\n\nApprove this? Nothing is sent to QFPay unless you accept.`,
            requestedSchema: {
              type: 'object',
              properties: {
                [APPROVAL_FIELD]: {
                  type: 'boolean',
                  title: 'Approve',
                  description: 'Tick to carry out exactly the action described above.',
                },
              },
              required: [APPROVAL_FIELD],
            },
          },
          {
            timeout: timeoutMs,
            ...(signal ? { signal } : {}),
            ...(ctx.requestId !== undefined ? { relatedRequestId: ctx.requestId } : {}),
          },
        );
        if (answer.action === 'accept')
          return answer.content?.[APPROVAL_FIELD] === true ? 'approved' : 'declined';
        return answer.action === 'decline' ? 'declined' : 'cancelled';
      } catch (error) {
        // The tool call itself was cancelled: nobody is waiting for an answer any more.
        if (signal?.aborted) return 'cancelled';
        ctx.log(
          `qfpay-mcp: could not ask the person directly (${error instanceof Error ? error.name : 'error'}); falling back to a confirmation token`,
        );
        return 'unavailable';
      }
    },
  };
}
