import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { McpServer } from '@modelcontextprotocol/server';
import { request } from 'undici';

import type { QfpayMcpRuntime } from '../src/mcp/runtime.js';
import { createRuntime } from '../src/mcp/runtime.js';
import { explainRespcdTool } from '../src/mcp/tools/explain-respcd.js';
import { startHttpServer } from '../src/transports/http.js';
import type { RunningHttpServer } from '../src/transports/http.js';

/**
 * What a runtime can build once is built once: a 2026-07-28 request and a 2025-era session each
 * get a fresh McpServer, but the tools' zod→JSON Schema conversion is shared by all of them
 * (performance audit §5.1 measured it at 11–17 % of server CPU when redone per instance).
 */

const PROTOCOL = '2026-07-28';
const META = {
  'io.modelcontextprotocol/protocolVersion': PROTOCOL,
  'io.modelcontextprotocol/clientInfo': { name: 'build-once', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

function statelessCall(
  url: string,
  id: number,
  method: string,
  params: Record<string, unknown>,
  name?: string,
) {
  return request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': PROTOCOL,
      'mcp-method': method,
      ...(name ? { 'mcp-name': name } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: META } }),
  });
}

let runtime: QfpayMcpRuntime;
let server: RunningHttpServer;
/** The tools each instance the HTTP server built registered, in order. */
const builtWith: string[][] = [];

function registeredTools(instance: McpServer): string[] {
  return Object.keys((instance as unknown as { _registeredTools: Record<string, unknown> })._registeredTools);
}

beforeAll(async () => {
  runtime = await createRuntime({ env: {}, log: () => undefined });
  server = await startHttpServer({
    createServer: (scope) => {
      const instance = runtime.createServer(scope);
      builtWith.push(registeredTools(instance));
      return instance;
    },
    environment: runtime.environment,
    port: 0,
  });
});

afterAll(async () => {
  await server.close();
  await runtime.close();
});

describe('built once per process', () => {
  it('converts a tool’s schemas once across 30 stateless requests and 3 sessions', async () => {
    const standard = explainRespcdTool.inputSchema['~standard'];
    const outputStandard = explainRespcdTool.outputSchema['~standard'];
    const toInput = vi.spyOn(standard.jsonSchema, 'input');
    const toOutput = vi.spyOn(outputStandard.jsonSchema, 'output');

    for (let id = 1; id <= 15; id++) {
      const listed = await statelessCall(server.url, id, 'tools/list', {});
      const tools = ((await listed.body.json()) as { result: { tools: { name: string }[] } }).result.tools;
      expect(tools.map((tool) => tool.name)).toContain('explain_respcd');
      const called = await statelessCall(
        server.url,
        100 + id,
        'tools/call',
        { name: 'explain_respcd', arguments: { respcd: '1143' } },
        'explain_respcd',
      );
      const answer = (await called.body.json()) as { result: { structuredContent: { respcd: string } } };
      expect(answer.result.structuredContent.respcd).toBe('1143');
    }
    for (let i = 0; i < 3; i++) {
      const client = new Client({ name: 'build-once', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      const listed = await client.listTools();
      const explain = listed.tools.find((tool) => tool.name === 'explain_respcd');
      expect(explain?.inputSchema.properties).toHaveProperty('respcd');
      expect(explain?.outputSchema?.properties).toHaveProperty('respcd');
      await client.callTool({ name: 'explain_respcd', arguments: { respcd: '1150' } });
      await client.close();
    }

    expect(toInput).toHaveBeenCalledTimes(1);
    expect(toOutput).toHaveBeenCalledTimes(1);
    toInput.mockRestore();
    toOutput.mockRestore();
  });

  it('a stateless tools/call builds an instance with only the tool it calls; a list gets them all', async () => {
    builtWith.length = 0;
    const called = await statelessCall(
      server.url,
      1,
      'tools/call',
      { name: 'list_currencies', arguments: { code: 'HKD' } },
      'list_currencies',
    );
    const answer = (await called.body.json()) as { result: { structuredContent: { count: number } } };
    expect(answer.result.structuredContent.count).toBe(1);
    const listed = await statelessCall(server.url, 2, 'tools/list', {});
    const all = ((await listed.body.json()) as { result: { tools: { name: string }[] } }).result.tools;
    const unknown = await statelessCall(
      server.url,
      3,
      'tools/call',
      { name: 'no_such_tool', arguments: {} },
      'no_such_tool',
    );
    expect(JSON.stringify(await unknown.body.json())).toMatch(/no_such_tool/);
    expect(builtWith[0]).toEqual(['list_currencies']);
    expect(builtWith[1]).toHaveLength(all.length);
    expect(all.length).toBeGreaterThan(10);
    // An unknown name gets the whole server, so the SDK answers as it does for any unknown tool.
    expect(builtWith[2]).toHaveLength(all.length);
    // Nothing else is registered for the call, but the capabilities declared are a whole instance's.
    const registered = (instance: McpServer) => {
      const parts = instance as unknown as Record<string, Record<string, unknown>>;
      return ['_registeredResources', '_registeredResourceTemplates', '_registeredPrompts'].map(
        (field) => Object.keys(parts[field] ?? {}).length,
      );
    };
    const scoped = runtime.createServer({ tool: 'list_currencies' });
    const whole = runtime.createServer();
    expect(registered(scoped)).toEqual([0, 0, 0]);
    expect(registered(whole).every((count) => count > 0)).toBe(true);
    expect(scoped.server.getCapabilities()).toEqual(whole.server.getCapabilities());
  });

  it('answers a repeated reference call once per process, for stateless requests and sessions alike', async () => {
    const run = vi.spyOn(explainRespcdTool, 'run');
    const statelessAnswer = async (id: number, args: Record<string, unknown>) => {
      const called = await statelessCall(
        server.url,
        id,
        'tools/call',
        { name: 'explain_respcd', arguments: args },
        'explain_respcd',
      );
      return ((await called.body.json()) as { result: Record<string, unknown> }).result;
    };
    const first = await statelessAnswer(1, { respcd: '1261' });
    for (let id = 2; id <= 10; id++) expect(await statelessAnswer(id, { respcd: '1261' })).toEqual(first);
    const client = new Client({ name: 'build-once', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    const inSession = await client.callTool({ name: 'explain_respcd', arguments: { respcd: '1261' } });
    expect(inSession.structuredContent).toEqual(first.structuredContent);
    expect(inSession.content).toEqual(first.content);
    expect(run).toHaveBeenCalledTimes(1);

    // Other arguments or another language are other answers, each built once.
    const chinese = await client.callTool({
      name: 'explain_respcd',
      arguments: { respcd: '1261', lang: 'zh-HK' },
    });
    await client.callTool({ name: 'explain_respcd', arguments: { respcd: '1261', lang: 'zh-HK' } });
    const withEndpoint = await statelessAnswer(11, { respcd: '1261', endpoint: 'payment' });
    expect(run).toHaveBeenCalledTimes(3);
    expect((chinese.structuredContent as { meaning: string }).meaning).not.toBe(
      (first.structuredContent as { meaning: string }).meaning,
    );
    expect(chinese.isError).toBeFalsy();
    expect(withEndpoint.structuredContent).toMatchObject({ respcd: '1261' });

    // A tool that reads live state is never answered from memory.
    const queries = vi.spyOn(
      (await import('../src/mcp/tools/query-transaction.js')).queryTransactionTool,
      'run',
    );
    for (let i = 0; i < 2; i++)
      await client.callTool({ name: 'query_transaction', arguments: { out_trade_no: 'never_created_1' } });
    expect(queries).toHaveBeenCalledTimes(2);
    await client.close();
    run.mockRestore();
    queries.mockRestore();
  });

  it('shares one frozen copy of the converted schema between server instances', () => {
    const first = runtime.createServer();
    const second = runtime.createServer();
    expect(first).not.toBe(second);
    const schemaOf = (instance: unknown) =>
      (
        instance as {
          _registeredTools: Record<string, { inputSchema: typeof explainRespcdTool.inputSchema }>;
        }
      )._registeredTools.explain_respcd!.inputSchema['~standard'].jsonSchema.input({
        target: 'draft-2020-12',
      });
    const shared = schemaOf(first);
    expect(schemaOf(second)).toBe(shared);
    expect(Object.isFrozen(shared)).toBe(true);
    expect(Object.isFrozen((shared as { properties: object }).properties)).toBe(true);
  });
});
