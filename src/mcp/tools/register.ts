import {
  type CallToolResult,
  inputRequired,
  type InputRequiredResult,
  type McpServer,
  type ServerContext,
  type StandardSchemaWithJSON,
  type ToolAnnotations,
  type ToolCallback,
} from '@modelcontextprotocol/server';
import { registerAppTool } from '@modelcontextprotocol/ext-apps/server';
import type * as z from 'zod';

import { type Language, languageNamed, resolveLanguage } from '../../qfpay/language.js';
import type { GuardContext } from '../../safety/guard.js';
import { redactSecretsDeep } from '../../safety/sanitize.js';
import type { ToolErrorInfo } from '../result-shape.js';
import {
  approvalQuestion,
  CONFIRM_INPUT_KEY,
  type InBandReading,
  readInBandConfirmation,
} from '../approval.js';
import {
  type AccessKind,
  annotationsFor,
  type InBandQuestion,
  type ToolCall,
  type ToolDefinition,
  type ToolDeps,
  type ToolOutput,
  ToolFailure,
} from './define.js';
import { compactInputSchema, compactOutputSchema } from './compact-schema.js';
import { describeFailure } from './failures.js';
import { paymentViewLink } from '../app/payment-view.js';
import { deepFreeze } from './reference-answers.js';

/** JSON Schema as the SDK puts it on the wire (`tools/list`, Mcp-Param validation, result projection). */
type JsonSchemaObject = Record<string, unknown>;

/**
 * A zod schema whose JSON Schema conversion is done once per process and shared, frozen, by
 * every server instance. The SDK converts a registered tool's schemas on each instance that lists
 * or calls it; with a fresh instance per 2026-07-28 request and per 2025-era session, that
 * conversion was 11–17 % of server CPU (performance audit §5.1). Validation stays zod's own; the
 * JSON shown is made compact (`compact-schema.ts`), because every tool list is paid for in context.
 */
function withConvertedOnce<Schema extends z.ZodType>(
  schema: Schema,
  compact: (json: JsonSchemaObject) => JsonSchemaObject,
): StandardSchemaWithJSON<z.input<Schema>, z.output<Schema>> {
  const standard = schema['~standard'];
  const converted = new Map<string, JsonSchemaObject>();
  const convert = (io: 'input' | 'output', options: { target: string }): JsonSchemaObject => {
    const key = `${io}:${options.target}`;
    let json = converted.get(key);
    if (json === undefined) {
      // Frozen: an instance that tried to edit the shared copy would throw, not corrupt its neighbours.
      json = deepFreeze(compact(standard.jsonSchema[io](options)));
      converted.set(key, json);
    }
    return json;
  };
  return {
    '~standard': {
      version: standard.version,
      vendor: standard.vendor,
      // A result toCallToolResult has just checked is not parsed a second time by the SDK.
      validate: (value) =>
        isCheckedOutput(value) ? { value: value as z.output<Schema> } : standard.validate(value),
      ...(standard.types ? { types: standard.types } : {}),
      jsonSchema: {
        input: (options) => convert('input', options),
        output: (options) => convert('output', options),
      },
    },
  };
}

/** Structured results already parsed against their tool's output schema (by toCallToolResult). */
const checkedOutputs = new WeakSet<object>();
const isCheckedOutput = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && checkedOutputs.has(value);

/** What `registerTool` is given for a tool, built once per definition and access kind. */
interface PreparedTool {
  readonly config: {
    readonly title: string;
    readonly description: string;
    readonly inputSchema: StandardSchemaWithJSON<unknown, Record<string, unknown>>;
    readonly outputSchema: StandardSchemaWithJSON;
    readonly annotations: ToolAnnotations;
  };
}

const prepared = new WeakMap<ToolDefinition, Map<AccessKind, PreparedTool>>();

function prepareTool(definition: ToolDefinition, access: AccessKind): PreparedTool {
  let byAccess = prepared.get(definition);
  if (!byAccess) {
    byAccess = new Map();
    prepared.set(definition, byAccess);
  }
  let tool = byAccess.get(access);
  if (!tool) {
    tool = {
      config: {
        title: definition.title,
        description: definition.description,
        inputSchema: withConvertedOnce(definition.inputSchema, compactInputSchema),
        outputSchema: withConvertedOnce(definition.outputSchema, compactOutputSchema),
        annotations: Object.freeze(annotationsFor(access)),
      },
    };
    byAccess.set(access, tool);
  }
  return tool;
}

/**
 * Registers one tool with a wrapper that (1) builds the per-call context, (2) turns every thrown
 * error into a sanitised isError result, and (3) checks the structured output against the
 * declared schema before it leaves, so a contract slip is caught here and not by a client. A
 * reference tool's finished answer is kept (`deps.referenceAnswers`) and given again to the same
 * call, checked and redacted already.
 * Schemas and annotations come from `prepareTool`, so a new server instance converts nothing.
 */
export function registerToolDefinition(
  server: McpServer,
  definition: ToolDefinition,
  access: AccessKind,
  deps: ToolDeps,
): void {
  const { config } = prepareTool(definition, access);
  const handler: ToolCallback<typeof config.inputSchema> = async (args, ctx) => {
    const inBand = access === 'write' ? readInBandConfirmation(ctx) : ({ kind: 'legacy' } as const);
    if (inBand.kind === 'foreign_state') {
      return withoutSecrets(failureResult(definition, foreignStateFailure(), deps, false), deps);
    }
    let question: InBandQuestion | undefined;
    const language = resolveLanguage(languageNamed((args as { lang?: unknown }).lang), deps.language);
    const answers = access === 'reference' ? deps.referenceAnswers : undefined;
    const kept = answers?.find(definition.name, language, args);
    if (kept) return kept;
    const call = buildCall(deps, ctx, inBand, language, (asked) => (question = asked));
    let result: CallToolResult;
    try {
      const output = await definition.run(withRestoredReference(args, inBand), call);
      if (question) return withoutSecrets(askPerson(question), deps);
      result = toCallToolResult(definition, output, deps);
    } catch (error) {
      result = failureResult(definition, error, deps, ctx.mcpReq.signal.aborted, language);
    }
    const answer = withoutSecrets(result, deps);
    answers?.keep(definition.name, language, args, answer);
    return answer;
  };
  // A tool whose results the payment view shows is linked to it the library's way (src/mcp/app/).
  const appView = paymentViewLink(definition.name);
  if (appView) registerAppTool(server, definition.name, { ...config, _meta: appView }, handler);
  else server.registerTool(definition.name, config, handler);
}

/** The 2026-07-28 answer that has the client ask its person, then send this call again. */
function askPerson(question: InBandQuestion): InputRequiredResult {
  return inputRequired({
    inputRequests: {
      [CONFIRM_INPUT_KEY]: inputRequired.elicit(approvalQuestion(question.summary, question.language)),
    },
    requestState: question.state,
  });
}

/**
 * The answered round repeats the first round's arguments byte for byte, without the out_trade_no
 * the tool generated then; the request state brings it back so the action is the one the person
 * approved (for every write tool, `out_trade_no` names the reference the action is bound to). A
 * value altered on the way fails the state's signature or binding in the guard: nothing is sent.
 */
function withRestoredReference<Args>(args: Args, inBand: InBandReading): Args {
  const record = args as Record<string, unknown>;
  if (inBand.kind !== 'modern' || inBand.outTradeNo === undefined || record.out_trade_no !== undefined) {
    return args;
  }
  return { ...record, out_trade_no: inBand.outTradeNo } as Args;
}

function foreignStateFailure(): ToolFailure {
  return new ToolFailure({
    kind: 'refused',
    message:
      'The confirmation state sent back with this call was not issued by this server (or was altered), so the approval cannot be trusted.',
    next_action:
      'Nothing was sent to QFPay. Call the tool again without request state to ask the person afresh.',
  });
}

function buildCall(
  deps: ToolDeps,
  ctx: ServerContext,
  inBand: InBandReading,
  language: Language,
  askInBand: (question: InBandQuestion) => void,
): ToolCall {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  const guardContext: GuardContext = {
    ...(ctx.sessionId !== undefined ? { sessionId: ctx.sessionId } : {}),
    ...(ctx.http?.authInfo?.clientId !== undefined ? { clientId: ctx.http.authInfo.clientId } : {}),
    requestId: ctx.mcpReq.id,
    ...(inBand.kind === 'modern' ? { inBand: inBand.confirmation } : {}),
    log: deps.log,
  };
  return {
    deps,
    signal: ctx.mcpReq.signal,
    guardContext,
    language,
    askInBand,
    async reportProgress(update) {
      if (progressToken === undefined || ctx.mcpReq.signal.aborted) return;
      try {
        await ctx.mcpReq.notify({
          method: 'notifications/progress',
          params: {
            progressToken,
            progress: update.progress,
            ...(update.total !== undefined ? { total: update.total } : {}),
            ...(update.message !== undefined ? { message: update.message } : {}),
          },
        });
      } catch {
        // Progress is best effort; a closed stream must not fail the payment flow.
      }
    },
  };
}

function toCallToolResult(
  definition: ToolDefinition,
  output: ToolOutput<unknown>,
  deps: ToolDeps,
): CallToolResult {
  const checked = definition.outputSchema.safeParse(output.structured);
  if (!checked.success) {
    deps.log(
      `tool ${definition.name} produced output outside its schema: ${checked.error.issues.map((i) => i.path.join('.') + ' ' + i.message).join('; ')}`,
    );
    return failureResult(definition, new Error('output schema mismatch'), deps, false);
  }
  const structured = checked.data;
  if (typeof structured === 'object' && structured !== null) checkedOutputs.add(structured);
  // Said once (docs/ARCHITECTURE.md, "What an agent pays"): the data in structuredContent, one text
  // stating the essentials for the model and for clients that read only content, and any image.
  return {
    content: [
      { type: 'text', text: output.summary },
      ...(output.images ?? []).map((image) => ({
        type: 'image' as const,
        data: image.data,
        mimeType: image.mimeType,
      })),
    ],
    structuredContent: structured,
    ...(output.isError ? { isError: true } : {}),
  };
}

function failureResult(
  definition: ToolDefinition,
  error: unknown,
  deps: ToolDeps,
  cancelled: boolean,
  language = deps.language,
): CallToolResult {
  const described = cancelled
    ? {
        info: {
          kind: 'internal' as const,
          message: 'The request was cancelled by the client.',
          next_action:
            'If a payment, refund or cancel was in flight, call query_transaction with its out_trade_no to learn the outcome.',
        },
        // The order number (and whatever else the tool knew) stays in the answer.
        known: error instanceof ToolFailure ? error.known : {},
      }
    : describeFailure(error, deps.log, language);
  const structured: Record<string, unknown> = {
    environment: deps.environment,
    ...described.known,
    next_action: described.info.next_action,
    error: described.info,
  };
  const conforms = definition.outputSchema.safeParse(structured);
  const summary = { type: 'text' as const, text: errorSummary(definition.name, described.info) };
  // Only attach structured content that matches the declared schema; a v2 client may validate it.
  if (!conforms.success) return { content: [summary], isError: true };
  return { content: [summary], structuredContent: conforms.data, isError: true };
}

/**
 * Last line of defence: no tool result ever carries the client key, whatever a tool or an
 * upstream answer put into it (a key pasted into an argument and echoed back, for instance).
 */
function withoutSecrets<Result extends CallToolResult | InputRequiredResult>(
  result: Result,
  deps: ToolDeps,
): Result {
  const key = deps.credentials?.key;
  return key ? redactSecretsDeep(result, [key]) : result;
}

export function errorSummary(toolName: string, info: ToolErrorInfo): string {
  const field = info.field ? ` [field: ${info.field}]` : '';
  return `${toolName} failed (${info.kind})${field}: ${info.message}\nNext: ${info.next_action}`;
}
