import type { Tool } from '@modelcontextprotocol/client';
import { getEncoding } from 'js-tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Connected, connect } from './helpers.js';

/**
 * What an agent pays before its first call (issue #15 ¶1): the default tool list (QFPAY_ENV=local)
 * in o200k tokens of `JSON.stringify(tool)`, as `bench/context-cost.mjs` measures it on the wire.
 * Sizes are properties of the definitions, not timings: they do not depend on the machine.
 */
const o200k = getEncoding('o200k_base');
const tokensOf = (value: unknown): number =>
  o200k.encode(typeof value === 'string' ? value : JSON.stringify(value)).length;

const LIST_BUDGET = 4_000;
const TOOL_BUDGET = 400;
const INSTRUCTIONS_BUDGET = 300;

describe('context cost of the default tool list', () => {
  let env: Connected;
  let tools: Tool[];
  beforeAll(async () => {
    env = await connect();
    tools = (await env.client.listTools()).tools;
  });
  afterAll(async () => {
    await env.close();
  });

  it(`keeps the whole list within ${LIST_BUDGET} tokens`, () => {
    expect(tools.length).toBeGreaterThanOrEqual(13);
    expect(tokensOf(tools)).toBeLessThanOrEqual(LIST_BUDGET);
  });

  it(`keeps every tool within ${TOOL_BUDGET} tokens`, () => {
    const over = tools
      .map((tool) => ({ name: tool.name, tokens: tokensOf(tool) }))
      .filter((row) => row.tokens > TOOL_BUDGET);
    expect(over).toEqual([]);
  });

  it(`keeps the server instructions within ${INSTRUCTIONS_BUDGET} tokens, money rules included`, () => {
    const instructions = env.client.getInstructions() ?? '';
    expect(tokensOf(instructions)).toBeLessThanOrEqual(INSTRUCTIONS_BUDGET);
    expect(instructions).toMatch(/smallest currency unit/);
    expect(instructions).toMatch(/CONFIRMATION_REQUIRED/);
    expect(instructions).toMatch(/reuse the SAME/);
    expect(instructions).toMatch(/never create a new order/);
  });

  it('sends output schemas of typed top-level fields only: no descriptions, no nesting', () => {
    for (const tool of tools) {
      const properties = (tool.outputSchema?.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const [name, field] of Object.entries(properties)) {
        expect(Object.keys(field), `${tool.name}.${name}`).toEqual(['type']);
      }
      expect(JSON.stringify(tool.outputSchema), tool.name).not.toMatch(/"description"/);
    }
  });

  it('shows no input field description longer than 60 characters and no description over 350', () => {
    for (const tool of tools) {
      expect(tool.description?.length ?? 0, tool.name).toBeLessThanOrEqual(350);
      const properties = (tool.inputSchema.properties ?? {}) as Record<string, { description?: string }>;
      for (const [name, field] of Object.entries(properties)) {
        expect(field.description?.length ?? 0, `${tool.name}.${name}`).toBeLessThanOrEqual(60);
      }
    }
  });
});
