/**
 * The view's side of the MCP Apps protocol (SEP-1865, `@modelcontextprotocol/ext-apps` 2026-01-26):
 * JSON-RPC over `postMessage` with the host window. Written against the library's own types, so a
 * renamed method or field fails the type check, and tested against the library's `AppBridge` on the
 * host side (test/app/payment-view.test.ts).
 *
 * Why not the library's `App` class: at run time it brings the MCP SDK's Protocol and zod's full
 * API, 245 KB built (its `PostMessageTransport` alone, 121 KB), and the view must stay under 100 KB
 * (issue #15 ¶4). This covers the handful of messages the view uses, with zod/mini at the boundary.
 */
import type {
  LATEST_PROTOCOL_VERSION,
  McpUiHostCapabilities,
  McpUiHostContext,
  McpUiHostContextChangedNotification,
  McpUiInitializedNotification,
  McpUiInitializeRequest,
  McpUiOpenLinkRequest,
  McpUiResourceTeardownRequest,
  McpUiSizeChangedNotification,
  McpUiStyles,
  McpUiTheme,
  McpUiToolResultNotification,
  McpUiUpdateModelContextRequest,
} from '@modelcontextprotocol/ext-apps';
import * as z from 'zod/mini';

import type { ToolResultLike } from './payment-state.js';

const PROTOCOL_VERSION: typeof LATEST_PROTOCOL_VERSION = '2026-01-26';
const INITIALIZE: McpUiInitializeRequest['method'] = 'ui/initialize';
const INITIALIZED: McpUiInitializedNotification['method'] = 'ui/notifications/initialized';
const TOOL_RESULT: McpUiToolResultNotification['method'] = 'ui/notifications/tool-result';
const HOST_CONTEXT_CHANGED: McpUiHostContextChangedNotification['method'] =
  'ui/notifications/host-context-changed';
const TEARDOWN: McpUiResourceTeardownRequest['method'] = 'ui/resource-teardown';
const OPEN_LINK: McpUiOpenLinkRequest['method'] = 'ui/open-link';
const UPDATE_MODEL_CONTEXT: McpUiUpdateModelContextRequest['method'] = 'ui/update-model-context';
const SIZE_CHANGED: McpUiSizeChangedNotification['method'] = 'ui/notifications/size-changed';

/** Longer than one wait_for_payment call (25 s) plus the host's relay. */
const REQUEST_TIMEOUT_MS = 60_000;

const messageSchema = z.looseObject({
  jsonrpc: z.literal('2.0'),
  id: z.optional(z.union([z.string(), z.number()])),
  method: z.optional(z.string()),
  params: z.optional(z.unknown()),
  result: z.optional(z.unknown()),
  error: z.optional(z.looseObject({ code: z.number(), message: z.string() })),
});
type Message = z.infer<typeof messageSchema>;

const initializeResultSchema = z.looseObject({
  protocolVersion: z.string(),
  hostCapabilities: z.optional(z.record(z.string(), z.unknown())),
  hostContext: z.optional(z.record(z.string(), z.unknown())),
});

const toolResultSchema = z.looseObject({
  content: z.optional(
    z.array(
      z.looseObject({ type: z.string(), data: z.optional(z.string()), mimeType: z.optional(z.string()) }),
    ),
  ),
  structuredContent: z.optional(z.unknown()),
  isError: z.optional(z.boolean()),
});

interface Waiting {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface HostBridgeHandlers {
  onToolResult(result: ToolResultLike): void;
  onHostContext(context: McpUiHostContext): void;
  onTeardown(): void;
}

export class HostBridge {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private capabilities: McpUiHostCapabilities = {};

  constructor(
    private readonly handlers: HostBridgeHandlers,
    private readonly host: Window = window.parent,
  ) {}

  /** The `ui/initialize` handshake; notifications that arrive before it completes are still handled. */
  async connect(appInfo: { name: string; version: string }): Promise<void> {
    window.addEventListener('message', this.receive);
    const params: McpUiInitializeRequest['params'] = {
      appInfo,
      appCapabilities: {},
      protocolVersion: PROTOCOL_VERSION,
    };
    const answer = initializeResultSchema.parse(await this.request(INITIALIZE, params));
    this.capabilities = answer.hostCapabilities ?? {};
    if (answer.hostContext) this.handlers.onHostContext(answer.hostContext);
    this.notify(INITIALIZED, {});
    this.reportSize();
  }

  hostCapabilities(): McpUiHostCapabilities {
    return this.capabilities;
  }

  /** A tool of this server, called through the host (`tools/call`), exactly as the agent calls it. */
  async callServerTool(name: string, args: Record<string, unknown>): Promise<ToolResultLike> {
    return toolResultSchema.parse(await this.request('tools/call', { name, arguments: args }));
  }

  async openLink(url: string): Promise<void> {
    const params: McpUiOpenLinkRequest['params'] = { url };
    await this.request(OPEN_LINK, params);
  }

  async updateModelContext(text: string): Promise<void> {
    const params: McpUiUpdateModelContextRequest['params'] = { content: [{ type: 'text', text }] };
    await this.request(UPDATE_MODEL_CONTEXT, params);
  }

  private request(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${method} got no answer from the host`));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(id, { resolve, reject, timer });
      this.post({ jsonrpc: '2.0', id, method, params });
    });
  }

  private notify(method: string, params: unknown): void {
    this.post({ jsonrpc: '2.0', method, params });
  }

  private post(message: Message): void {
    // The view runs in a sandboxed iframe with an opaque origin and cannot know the host's.
    this.host.postMessage(message, '*');
  }

  private readonly receive = (event: MessageEvent): void => {
    if (event.source !== this.host) return;
    const parsed = messageSchema.safeParse(event.data);
    if (!parsed.success) return;
    const message = parsed.data;
    if (message.method === undefined) this.settle(message);
    else if (message.id !== undefined) this.answer(message.id, message.method);
    else this.dispatch(message.method, message.params);
  };

  private settle(message: Message): void {
    if (typeof message.id !== 'number') return;
    const waiting = this.waiting.get(message.id);
    if (!waiting) return;
    this.waiting.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.error) waiting.reject(new Error(message.error.message));
    else waiting.resolve(message.result ?? {});
  }

  /** Requests from the host: teardown and ping are answered; anything else is not offered. */
  private answer(id: string | number, method: string): void {
    if (method === TEARDOWN) this.handlers.onTeardown();
    if (method === TEARDOWN || method === 'ping') {
      this.post({ jsonrpc: '2.0', id, result: {} });
      return;
    }
    this.post({
      jsonrpc: '2.0',
      id,
      error: { code: -32601, message: `${method} is not offered by this view` },
    });
  }

  private dispatch(method: string, params: unknown): void {
    if (method === TOOL_RESULT) {
      const result = toolResultSchema.safeParse(params);
      if (result.success) this.handlers.onToolResult(result.data);
    } else if (method === HOST_CONTEXT_CHANGED && params !== null && typeof params === 'object') {
      this.handlers.onHostContext(params as McpUiHostContext);
    }
  }

  /** Tells the host the view's height whenever it changes, so no scroll bar appears inside it. */
  private reportSize(): void {
    let last = -1;
    const send = (): void => {
      const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (height === last) return;
      last = height;
      const params: McpUiSizeChangedNotification['params'] = { height };
      this.notify(SIZE_CHANGED, params);
    };
    new ResizeObserver(send).observe(document.body);
    send();
  }
}

/**
 * The host's theme on the document, as the library's `applyDocumentTheme` and
 * `applyHostStyleVariables` define it: `data-theme` and `color-scheme` on the root element, and
 * each host style variable as a CSS custom property (style.css reads them, with light and dark
 * fallbacks). Done here because importing the helpers brings the library's whole App module.
 */
export function applyHostTheme(context: McpUiHostContext): void {
  const root = document.documentElement;
  if (context.theme) applyTheme(root, context.theme);
  const variables: Partial<McpUiStyles> | undefined = context.styles?.variables;
  for (const [name, value] of Object.entries(variables ?? {})) {
    if (name.startsWith('--') && typeof value === 'string') root.style.setProperty(name, value);
  }
}

function applyTheme(root: HTMLElement, theme: McpUiTheme): void {
  root.setAttribute('data-theme', theme);
  root.style.colorScheme = theme;
}
