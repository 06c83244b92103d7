import {
  acceptedContent,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type ElicitRequestFormParams,
  inputResponse,
  type McpServer,
  PROTOCOL_VERSION_META_KEY,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

import type { GuardContext, HumanApproval, InBandConfirmation } from '../safety/guard.js';
import { outTradeNoInput } from './tools/inputs.js';

/**
 * Asking the person directly, through MCP form elicitation, instead of the token round trip.
 *
 * Design (documented choice), per protocol era:
 * - 2025-era connections (stdio, stateful Streamable HTTP sessions with SSE responses): the question
 *   is sent as a server→client `elicitation/create` request tied to the tool call being served
 *   (relatedRequestId), from the McpServer of that one connection.
 * - 2026-07-28 requests (no server→client requests): the tool call answers `input_required` with
 *   the same question embedded; the client asks the person and sends the same call again with the
 *   answer and the request state. That state is the bound confirmation token (HMAC, single use,
 *   bound to tool, environment, merchant and the exact parameters) plus the out_trade_no the first
 *   round generated, so the repeated call rebuilds the identical action. It comes back through the
 *   client, so it is trusted only by redeeming the token against the repeated call's own
 *   parameters, and only when the person accepted; no separate state codec (and second secret to
 *   share between instances) is needed. Which era a request belongs to, and whether it declared
 *   form elicitation, is read from the request's own `_meta` envelope, as the SDK does.
 *
 * Where a question cannot be carried — the client did not declare form elicitation, a stream that
 * fails, or nobody answering before the confirmation would have expired — the guard falls back to
 * the confirmation token, which works with every client. A decline or cancel is final for that
 * call: nothing is sent.
 *
 * Elicitation is not proof that a human approved (a fully automated client can answer it), which
 * is why it is offered in addition to, never instead of, the server-side gate, caps and ledger.
 */

export const APPROVAL_FIELD = 'approve';

export function supportsFormElicitation(capabilities: ClientCapabilities | undefined): boolean {
  const elicitation = capabilities?.elicitation as Record<string, unknown> | undefined;
  return elicitation !== undefined && elicitation.form !== undefined;
}

/** The one question asked of the person, whichever way it travels. */
export function approvalQuestion(summary: string): ElicitRequestFormParams {
  return {
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
  };
}

export function elicitationApproval(server: McpServer, timeoutMs: number): HumanApproval {
  return {
    canAsk: () => supportsFormElicitation(server.server.getClientCapabilities()),
    async ask(summary: string, ctx: GuardContext, signal?: AbortSignal) {
      try {
        const answer = await server.server.elicitInput(approvalQuestion(summary), {
          timeout: timeoutMs,
          ...(signal ? { signal } : {}),
          ...(ctx.requestId !== undefined ? { relatedRequestId: ctx.requestId } : {}),
        });
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

// ---------------------------------------------------------------------------------------------
// 2026-07-28: the question travels in the tool call's answer (multi round trip `input_required`).

/** Key of the confirmation in `inputRequests` / `inputResponses`. */
export const CONFIRM_INPUT_KEY = 'confirm';

const STATE_PREFIX = 'qfpay-confirm.v1.';

/** What the request state carries from the asking round to the answered one. */
export interface InBandState {
  /** The bound confirmation token issued for the action the person is asked about. */
  readonly token: string;
  /** The out_trade_no the action is bound to (generated in the first round when not given). */
  readonly out_trade_no: string;
}

const inBandStateSchema = z.strictObject({
  token: z.string().min(1).max(1024),
  out_trade_no: outTradeNoInput,
});

const approvalAnswerSchema = z.object({ [APPROVAL_FIELD]: z.boolean() });

export function encodeInBandState(state: InBandState): string {
  return STATE_PREFIX + Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
}

function decodeInBandState(raw: string): InBandState | undefined {
  if (!raw.startsWith(STATE_PREFIX) || raw.length > 4096) return undefined;
  try {
    const json: unknown = JSON.parse(
      Buffer.from(raw.slice(STATE_PREFIX.length), 'base64url').toString('utf8'),
    );
    const parsed = inBandStateSchema.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** How one tool call stands with regard to an in-band confirmation. */
export type InBandReading =
  /** A 2025-era request: questions, if any, are pushed (see elicitationApproval). */
  | { readonly kind: 'legacy' }
  | { readonly kind: 'modern'; readonly confirmation: InBandConfirmation; readonly outTradeNo?: string }
  /** Request state that this server did not issue (or that was altered): nothing may run. */
  | { readonly kind: 'foreign_state' };

/**
 * Reads a tool call's era, declared capabilities, request state and the person's answer. A call
 * that comes back with request state is an answered round, whatever else it carries.
 */
export function readInBandConfirmation(ctx: ServerContext): InBandReading {
  const raw: unknown = ctx.mcpReq.requestState();
  if (raw !== undefined) {
    const state = typeof raw === 'string' ? decodeInBandState(raw) : undefined;
    if (!state) return { kind: 'foreign_state' };
    return {
      kind: 'modern',
      confirmation: {
        kind: 'answered',
        answer: personsAnswer(ctx.mcpReq.inputResponses),
        token: state.token,
      },
      outTradeNo: state.out_trade_no,
    };
  }
  const envelope = ctx.mcpReq.envelope as Readonly<Record<string, unknown>> | undefined;
  if (envelope?.[PROTOCOL_VERSION_META_KEY] === undefined) return { kind: 'legacy' };
  const capabilities = envelope[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
  return {
    kind: 'modern',
    confirmation: { kind: supportsFormElicitation(capabilities) ? 'ask' : 'unsupported' },
  };
}

/** Approved only by an accepted form with the box ticked; a missing answer is a dismissal. */
function personsAnswer(
  responses: Record<string, unknown> | undefined,
): 'approved' | 'declined' | 'cancelled' {
  const view = inputResponse(responses, CONFIRM_INPUT_KEY);
  if (view.kind !== 'elicit') return 'cancelled';
  if (view.action === 'accept') {
    const content = acceptedContent(responses, CONFIRM_INPUT_KEY, approvalAnswerSchema);
    return content?.[APPROVAL_FIELD] === true ? 'approved' : 'declined';
  }
  return view.action === 'decline' ? 'declined' : 'cancelled';
}
