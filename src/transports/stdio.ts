import type { Readable, Writable } from 'node:stream';
import type { McpServer, ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';

/*
 * stdio: the host spawns us and speaks MCP over our stdin/stdout. stdout carries protocol and
 * nothing else — one stray line and the host drops the connection — so diagnostics go to stderr.
 * `serveStdio` pins one fresh server instance per connection and serves both protocol eras. A
 * payment confirmation asks the human through elicitation when the client declared it: pushed as
 * a request on a 2025-era connection, or on a 2026-07-28 one (no push requests) as an
 * `input_required` answer the client fulfils and sends back; otherwise the confirmation token.
 * Changes (a transaction paid or refunded) reach a 2025-era connection through resources/subscribe
 * and a 2026-07-28 one through its `subscriptions/listen` streams: the connection's instance sends
 * each event of `eventBus`, and `serveStdio` delivers it on the streams whose filter names it.
 */

export interface StdioServeOptions {
  /** Builds a fresh McpServer for the connection (and for a discarded era probe). */
  createServer: () => McpServer;
  log?: (line: string) => void;
  /** Defaults to process.stdin / process.stdout; tests may pass their own streams. */
  input?: Readable;
  output?: Writable;
  /**
   * The change events a 2026-07-28 connection's `subscriptions/listen` streams are fed from (the
   * runtime's `resourceEvents`). Without it such streams hear nothing.
   */
  eventBus?: ServerEventBus;
}

export interface RunningStdioServer {
  /** Settles when the client closes our stdin or `close()` is called. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

export function startStdioServer(options: StdioServeOptions): RunningStdioServer {
  const log = options.log ?? (() => undefined);
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const handle = serveStdio(
    ({ era }) => {
      const server = options.createServer();
      if (era === 'modern' && options.eventBus) relayChanges(server, options.eventBus);
      return server;
    },
    {
      transport: new StdioServerTransport(input, output),
      onerror: (error) => log(`stdio: ${error.message}`),
    },
  );

  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= handle
      .close()
      .catch((error: unknown) => {
        log(`stdio: close failed: ${error instanceof Error ? error.message : String(error)}`);
      })
      .finally(markClosed));
  // The host signals "go away" by closing our stdin (MCP stdio binding); treat it as shutdown.
  const onInputEnded = () => void close();
  input.once('end', onInputEnded);
  input.once('close', onInputEnded);
  return { closed, close };
}

/**
 * Sends each change event to this connection as the notification it maps to; `serveStdio` stamps
 * it onto every listen stream that asked for it and drops it otherwise. Stops when the instance
 * closes (a discarded era probe included).
 */
function relayChanges(server: McpServer, bus: ServerEventBus): void {
  const stop = bus.subscribe((event) => void notifyOf(server, event).catch(() => undefined));
  const previous = server.server.onclose;
  server.server.onclose = () => {
    stop();
    previous?.();
  };
}

function notifyOf(server: McpServer, event: ServerEvent): Promise<void> {
  switch (event.kind) {
    case 'resource_updated':
      return server.server.sendResourceUpdated({ uri: event.uri });
    case 'resources_list_changed':
      return server.server.sendResourceListChanged();
    case 'tools_list_changed':
      return server.server.sendToolListChanged();
    case 'prompts_list_changed':
      return server.server.sendPromptListChanged();
  }
}

/**
 * In stdio mode a `console.log` anywhere (ours or a dependency's) would corrupt the protocol
 * stream. Route the stdout-bound console methods to stderr; `process.stdout.write` stays untouched
 * for the transport.
 */
export function routeConsoleToStderr(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  // Reassigning (not calling) the stdout-bound methods is the point of this function.
  /* eslint-disable no-console */
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  /* eslint-enable no-console */
}
