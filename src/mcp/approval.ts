import { randomUUID } from 'node:crypto';

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

import { DEFAULT_LANGUAGE, type Language } from '../qfpay/language.js';
import type { GuardContext, HumanApproval, InBandConfirmation } from '../safety/guard.js';
import { inBandStateOutTradeNo } from '../safety/confirmation.js';

/**
 * Asking the person directly, through MCP form elicitation, instead of the token round trip.
 *
 * Design (documented choice), per protocol era:
 * - 2025-era connections (stdio, stateful Streamable HTTP sessions with SSE responses): the question
 *   is sent as a server→client `elicitation/create` request tied to the tool call being served
 *   (relatedRequestId), from the McpServer of that one connection.
 * - 2026-07-28 requests (no server→client requests): the tool call answers `input_required` with
 *   the same question embedded; the client asks the person and sends the same call again with the
 *   answer and the request state. That state is a question this server signed (InBandQuestions in
 *   src/safety/confirmation.ts): bound to tool, environment, merchant and the exact parameters,
 *   naming the out_trade_no the first round generated (so the repeated call rebuilds the identical
 *   action), short-lived and single use. It is not a confirmation token and no token is accepted
 *   in its place, so an agent cannot turn a token it was given into an "answered" question. It
 *   comes back through the client, so the guard verifies it against the repeated call's own
 *   parameters; which era a request belongs to, and whether it declared form elicitation, is read
 *   from the request's own `_meta` envelope, as the SDK does.
 * - URL mode (2025-11-25 clients that declare `elicitation.url`), for operator approval: the
 *   client is asked to show its person this server's approval page; the decision is verified there.
 *
 * Where a question cannot be carried — the client did not declare form elicitation, a stream that
 * fails, or nobody answering before the confirmation would have expired — the guard falls back to
 * the confirmation token, which works with every client. A decline or cancel is final for that
 * call: nothing is sent.
 *
 * Elicitation is not proof that a human approved (a fully automated client can answer it): the
 * ledger records it as `client-elicitation`, the client's word. Only operator approval (the page,
 * src/transports/approval-page.ts) is verified by this server.
 */

export const APPROVAL_FIELD = 'approve';

export function supportsFormElicitation(capabilities: ClientCapabilities | undefined): boolean {
  const elicitation = capabilities?.elicitation as Record<string, unknown> | undefined;
  return elicitation !== undefined && elicitation.form !== undefined;
}

/** The words around the summary, in the summary's language (the field name never changes). */
const QUESTION_WORDS: Readonly<Record<Language, { ask: string; title: string; tick: string }>> = {
  en: {
    ask: 'Approve this? Nothing is sent to QFPay unless you accept.',
    title: 'Approve',
    tick: 'Tick to carry out exactly the action described above.',
  },
  'zh-HK': {
    ask: '是否批准？除非你接受，否則不會向 QFPay 發送任何請求。',
    title: '批准',
    tick: '勾選即執行上面所述的操作，不多不少。',
  },
  'zh-CN': {
    ask: '是否批准？除非你接受，否则不会向 QFPay 发送任何请求。',
    title: '批准',
    tick: '勾选即执行上面所述的操作，不多不少。',
  },
};

/** The one question asked of the person, whichever way it travels. */
export function approvalQuestion(
  summary: string,
  language: Language = DEFAULT_LANGUAGE,
): ElicitRequestFormParams {
  const words = QUESTION_WORDS[language];
  return {
    mode: 'form',
    message: `${summary}\n\n${words.ask}`,
    requestedSchema: {
      type: 'object',
      properties: {
        [APPROVAL_FIELD]: { type: 'boolean', title: words.title, description: words.tick },
      },
      required: [APPROVAL_FIELD],
    },
  };
}

export function supportsUrlElicitation(capabilities: ClientCapabilities | undefined): boolean {
  const elicitation = capabilities?.elicitation as Record<string, unknown> | undefined;
  return elicitation !== undefined && elicitation.url !== undefined;
}

export function elicitationApproval(server: McpServer, timeoutMs: number): HumanApproval {
  return {
    canAsk: () => supportsFormElicitation(server.server.getClientCapabilities()),
    canOpenUrl: () => supportsUrlElicitation(server.server.getClientCapabilities()),
    async openUrl(message: string, url: string, ctx: GuardContext, signal?: AbortSignal) {
      try {
        // URL mode (2025-11-25): the client shows the person the address; what they decide there
        // is verified by this server's page, so "accept" only means "I am going there".
        const answer = await server.server.elicitInput(
          { mode: 'url', message, url, elicitationId: randomUUID() },
          {
            timeout: timeoutMs,
            ...(signal ? { signal } : {}),
            ...(ctx.requestId !== undefined ? { relatedRequestId: ctx.requestId } : {}),
          },
        );
        if (answer.action === 'accept') return 'opened';
        return answer.action === 'decline' ? 'declined' : 'cancelled';
      } catch (error) {
        if (signal?.aborted) return 'cancelled';
        ctx.log(
          `qfpay-mcp: could not send the approval page to the client (${error instanceof Error ? error.name : 'error'}); the agent relays the link instead`,
        );
        return 'unavailable';
      }
    },
    async ask(summary: string, ctx: GuardContext, signal?: AbortSignal, language?: Language) {
      try {
        const answer = await server.server.elicitInput(approvalQuestion(summary, language), {
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

const approvalAnswerSchema = z.object({ [APPROVAL_FIELD]: z.boolean() });

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
    // Only shaped like this server's question state here; the guard verifies it for this action.
    const outTradeNo = inBandStateOutTradeNo(raw);
    if (typeof raw !== 'string' || outTradeNo === undefined) return { kind: 'foreign_state' };
    return {
      kind: 'modern',
      confirmation: { kind: 'answered', answer: personsAnswer(ctx.mcpReq.inputResponses), state: raw },
      outTradeNo,
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
