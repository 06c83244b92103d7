import type { ToolAnnotations } from '@modelcontextprotocol/server';
import type * as z from 'zod';

import type { EnvironmentName } from '../../qfpay/catalog/types.js';
import type { QfpayClient } from '../../qfpay/client.js';
import type { Language } from '../../qfpay/language.js';
import type { Credentials } from '../../qfpay/types.js';
import type { PaymentEvents } from '../../qfpay/payment-events.js';
import type { GuardContext, MerchantIdentity, MoneyGuard } from '../../safety/guard.js';
import type { SharedResultFields, ToolErrorInfo } from '../result-shape.js';
import type { ReferenceAnswers } from './reference-answers.js';

/** Groups an operator can switch on or off (QFPAY_TOOLSETS / --toolsets). */
export const TOOLSETS = ['payments', 'reporting', 'reference', 'integration', 'local'] as const;
export type Toolset = (typeof TOOLSETS)[number];

/**
 * What a tool does to the world, declared once per tool in the registry and used for read-only
 * filtering and annotations alike, so the two can never disagree.
 * - write: moves money at QFPay (goes through the guard)
 * - read: reads live QFPay state
 * - reference: answers from the built-in catalogue, touches nothing
 * - integration: local computation with the configured key (signatures, notifications)
 * - local: drives the embedded simulator (local environment only)
 * - note: writes a remark at QFPay, moves no money (a repeat with the same text changes nothing)
 * - exchange: spends a single-use credential at QFPay (a WeChat OAuth code), moves no money
 */
export type AccessKind = 'write' | 'read' | 'reference' | 'integration' | 'local' | 'note' | 'exchange';

export function isReadOnlyAccess(access: AccessKind): boolean {
  return access === 'read' || access === 'reference' || access === 'integration';
}

/**
 * The hints of an access kind: only what differs from the MCP defaults (readOnlyHint false,
 * destructiveHint true, idempotentHint false, openWorldHint true), except that a money write
 * says destructiveHint outright; destructive and idempotent hints mean nothing on a read-only
 * tool. The title is the tool's own `title`, not repeated here.
 */
export function annotationsFor(access: AccessKind): ToolAnnotations {
  switch (access) {
    case 'write':
      return { destructiveHint: true };
    case 'read':
      return { readOnlyHint: true };
    case 'reference':
    case 'integration':
      return { readOnlyHint: true, openWorldHint: false };
    case 'note':
      // Replaces the transaction's earlier remark, if any; the same note twice leaves the same state.
      return { idempotentHint: true };
    case 'exchange':
      // Spends a one-time WeChat code; nothing is destroyed.
      return { destructiveHint: false };
    case 'local':
      // Changes simulated state only: not read-only, but nothing real is destroyed.
      return { readOnlyHint: false, destructiveHint: false, openWorldHint: false };
  }
}

/** Timing of the unknown-outcome reconciliation (shortened in tests). */
export interface ReconcileTiming {
  /** How long a write whose answer was lost is reconciled by querying before answering UNKNOWN. */
  readonly unknownOutcomeWindowMs: number;
  /** Delay between queries while waiting or reconciling; undefined = the poller's default. */
  readonly pollIntervalMs?: number;
}

/** What every tool may use; one instance per runtime, shared by all sessions. */
export interface ToolDeps {
  readonly environment: EnvironmentName;
  /** Null when no credentials are configured (reference tools still work). */
  readonly client: QfpayClient | null;
  readonly credentials: Credentials | null;
  readonly merchant: MerchantIdentity | null;
  readonly guard: MoneyGuard;
  /** Base URL of the simulator's control API; only in the local environment. */
  readonly simulatorBaseUrl: string | null;
  readonly timing: ReconcileTiming;
  /** News of verified notifications (HTTP receiver), so a wait can end without its next poll. */
  readonly paymentEvents?: PaymentEvents;
  /**
   * Finished answers of the reference tools, shared by every session of the runtime (absent: each
   * such call is answered afresh).
   */
  readonly referenceAnswers?: ReferenceAnswers;
  /** QFPAY_LANG: words for people when a call names no `lang` (absent: English). */
  readonly language?: Language;
  readonly log: (line: string) => void;
}

export interface ProgressUpdate {
  readonly progress: number;
  readonly total?: number;
  readonly message?: string;
}

/** Per-call context handed to a tool: its dependencies plus the MCP request's signal and progress. */
export interface ToolCall {
  readonly deps: ToolDeps;
  /**
   * Aborted when the client cancels or the request's lifetime ends. A money-moving call passes it
   * only to the rate limiter's queue (a write still waiting is dropped unsent, QfpayNotSentError);
   * a write already on the wire is never cut by it.
   */
  readonly signal: AbortSignal;
  readonly guardContext: GuardContext;
  /** Words for people in this call's answers: its `lang`, else QFPAY_LANG, else English. */
  readonly language: Language;
  /** Sends notifications/progress when the caller asked for progress; otherwise does nothing. */
  reportProgress(update: ProgressUpdate): Promise<void>;
  /**
   * 2026-07-28 requests whose client declared form elicitation: makes this call answer
   * `input_required` with the question, instead of the tool's own (token) answer.
   */
  askInBand?(question: InBandQuestion): void;
}

/** A confirmation to ask within the call's answer; `state` (server-signed, naming the out_trade_no) comes back as request state. */
export interface InBandQuestion {
  readonly summary: string;
  /** The summary's language, for the words of the question around it. */
  readonly language?: Language;
  readonly state: string;
  readonly out_trade_no: string;
}

export interface ToolImage {
  /** Base64 without a data: prefix. */
  readonly data: string;
  readonly mimeType: 'image/png';
}

export interface ToolOutput<Structured> {
  readonly structured: Structured;
  /**
   * The one text of the result: a few lines stating the essentials (status, amount, references,
   * the next step); the data itself is in `structured` (docs/ARCHITECTURE.md, "What an agent pays").
   */
  readonly summary: string;
  readonly isError?: boolean;
  readonly images?: readonly ToolImage[];
}

export interface ToolDefinition<
  Input extends z.ZodObject = z.ZodObject,
  Output extends z.ZodObject = z.ZodObject,
> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: Input;
  readonly outputSchema: Output;
  // Method syntax on purpose: definitions with concrete schemas must fit a registry typed with the base.
  run(args: z.output<Input>, call: ToolCall): Promise<ToolOutput<z.output<Output>>>;
}

export function defineTool<Input extends z.ZodObject, Output extends z.ZodObject>(
  definition: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output> {
  return definition;
}

/** Extra fields known at the time of failure (shared ones, plus tool-specific ones like orig_syssn). */
export type KnownFields = Partial<Omit<SharedResultFields, 'environment' | 'error'>> &
  Record<string, unknown>;

/**
 * A failure the tool has already explained: becomes an isError result with this error object and
 * the fields known so far. Thrown before anything is sent upstream for validation and refusals.
 */
export class ToolFailure extends Error {
  constructor(
    readonly info: ToolErrorInfo,
    readonly known: KnownFields = {},
  ) {
    super(info.message);
    this.name = 'ToolFailure';
  }
}

export function validationFailure(
  field: string,
  message: string,
  fix: string,
  known?: KnownFields,
): ToolFailure {
  return new ToolFailure(
    { kind: 'validation', field, message: `${field}: ${message}`, next_action: fix },
    known,
  );
}
