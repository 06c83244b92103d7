import { describe, expect, it } from 'vitest';
import * as z from 'zod';

import { compactInputSchema, compactOutputSchema, unlisting } from '../../src/mcp/tools/compact-schema.js';

const toJson = (schema: z.ZodType, io: 'input' | 'output') =>
  schema['~standard'].jsonSchema[io]({ target: 'draft-2020-12' });

describe('compact wire schemas', () => {
  it('inputs keep types, enums, formats, ranges and the field description, and drop what zod enforces anyway', () => {
    const input = z.strictObject({
      ref: z
        .string()
        .regex(/^[A-Z]{3}$/)
        .min(1)
        .max(3)
        .describe('A reference'),
      count: z.int().min(1).max(9),
      any: z.int(),
      refs: z.union([z.string().describe('repeated'), z.array(z.string()).min(1).max(5)]),
      mixed: z.union([z.record(z.string(), z.unknown()), z.string()]),
      url: z.url().optional(),
      kind: z.enum(['a', 'b']).optional(),
    });
    expect(compactInputSchema(toJson(input, 'input'))).toEqual({
      type: 'object',
      properties: {
        ref: { type: 'string', description: 'A reference' },
        count: { type: 'integer', minimum: 1, maximum: 9 },
        any: { type: 'integer' },
        refs: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        mixed: { type: ['object', 'string'] },
        url: { type: 'string', format: 'uri' },
        kind: { type: 'string', enum: ['a', 'b'] },
      },
      required: ['ref', 'count', 'any', 'refs', 'mixed'],
      additionalProperties: false,
    });
  });

  it('outputs list typed top-level fields, no required list, not unlisted ones, nothing nested', () => {
    const output = z.object(
      unlisting(
        {
          environment: z.enum(['local', 'prod']).describe('where'),
          total: z.int().optional(),
          rows: z.array(z.object({ id: z.string() })),
          detail: z.object({ a: z.string() }).optional(),
          params: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
          echo: z.string().optional(),
        },
        ['echo'],
      ),
    );
    expect(compactOutputSchema(toJson(output, 'output'))).toEqual({
      type: 'object',
      properties: {
        total: { type: 'integer' },
        rows: { type: 'array' },
        detail: { type: 'object' },
        params: { type: ['object', 'string'] },
      },
    });
    // zod still requires what the compact schema does not list as required.
    expect(output.safeParse({ environment: 'local' }).success).toBe(false);
    // The unlisted field is still the full schema's business: zod refuses a wrong type.
    expect(output.safeParse({ environment: 'local', rows: [], echo: 5 }).success).toBe(false);
  });
});
