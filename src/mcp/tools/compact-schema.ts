import type * as z from 'zod';

/**
 * The JSON Schemas a tool shows on the wire, made compact once per process (issue #15 ¶1: the
 * default tool list is paid for in every conversation). Validation is unchanged: zod checks every
 * input and every structured result with the full schema and its actionable messages; the JSON
 * shown to clients only ever *relaxes* it, so a client that validates structuredContent against it
 * (the SDK's v2 client does) accepts every result the server sends.
 *
 * - input: as zod converts it, minus `$schema`, minus the ±2^53 bounds zod adds to every integer,
 *   minus descriptions repeated inside `anyOf`/`items` branches (the field's own one is kept), and
 *   minus string `pattern`/`minLength`/`maxLength` and list lengths: identifiers are copied from earlier answers and
 *   zod still enforces every one of them with a message naming the field and the fix, which a
 *   client-side pattern failure would not; types, enums, formats and numeric ranges stay;
 * - output: the top-level fields an agent or a client acts on (not `environment`, which every
 *   result has and the instructions state once), each with its JSON type; no
 *   `required` list (zod requires them; the list cost ~140 tokens across the tools); nothing nested, no descriptions, no enums (the tool description and the server
 *   instructions say what fields mean). A field declared with `unlisted` (an echo of the input, a
 *   display form, a detail) is still sent and still checked by zod, just not listed: the schema
 *   leaves additional properties open, so it stays true of every result (issue #15 ¶1 counts
 *   every listed field in every conversation).
 */

type Json = Record<string, unknown>;

/** Metadata key of a result field the compact output schema does not list. */
const UNLISTED = 'x-unlisted';

/**
 * The same result shape, with the named fields marked as sent and validated but not listed in
 * the compact output schema. Used on output shapes only.
 */
export function unlisting<Shape extends Record<string, z.ZodType>>(
  shape: Shape,
  names: readonly (keyof Shape & string)[],
): Shape {
  const marked: Record<string, z.ZodType> = { ...shape };
  for (const name of names) marked[name] = shape[name]!.meta({ [UNLISTED]: true });
  return marked as Shape;
}

const SAFE_INTEGER_BOUND = Number.MAX_SAFE_INTEGER;
const STRING_CHECKS = new Set(['pattern', 'minLength', 'maxLength']);
const ARRAY_CHECKS = new Set(['minItems', 'maxItems']);

export function compactInputSchema(schema: Json): Json {
  const { $schema: _dialect, ...rest } = schema;
  return compactInputNode(rest, false) as Json;
}

function compactInputNode(node: unknown, nested: boolean): unknown {
  if (Array.isArray(node)) return node.map((item) => compactInputNode(item, nested));
  if (!isRecord(node)) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (isDropped(node, key, value, nested)) continue;
    if (key === 'properties' && isRecord(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, field]) => [name, compactInputNode(field, false)]),
      );
    } else {
      const inBranch =
        key === 'anyOf' || key === 'oneOf' || key === 'items' || key === 'additionalProperties';
      out[key] = compactInputNode(value, nested || inBranch);
    }
  }
  return withBareTypesMerged(out);
}

function isDropped(node: Json, key: string, value: unknown, nested: boolean): boolean {
  if (key === UNLISTED) return true;
  if (key === 'description') return nested;
  if (key === 'minimum') return value === -SAFE_INTEGER_BOUND;
  if (key === 'maximum') return value === SAFE_INTEGER_BOUND;
  if (STRING_CHECKS.has(key)) return node.type === 'string';
  if (ARRAY_CHECKS.has(key)) return node.type === 'array';
  // What zod writes for every record: names are strings, and any value is allowed anyway.
  if (key === 'propertyNames') return isRecord(value) && value.type === 'string';
  if (key === 'additionalProperties') return isRecord(value) && Object.keys(value).length === 0;
  return false;
}

/** `anyOf` of bare types (zod's form of a union of plain types) is one list of types. */
function withBareTypesMerged(node: Json): Json {
  const branches = node.anyOf;
  if (!Array.isArray(branches)) return node;
  const bare = branches.every(
    (b) => isRecord(b) && Object.keys(b).length === 1 && typeof b.type === 'string',
  );
  if (!bare) return node;
  const { anyOf: _branches, ...rest } = node;
  return { ...rest, type: branches.map((b) => (b as Json).type) };
}

export function compactOutputSchema(schema: Json): Json {
  const properties = isRecord(schema.properties) ? schema.properties : undefined;
  if (!properties) return { type: 'object' };
  return {
    type: 'object',
    properties: Object.fromEntries(
      Object.entries(properties)
        // `environment` is in every result; the server instructions say so once.
        .filter(([name, field]) => name !== 'environment' && !(isRecord(field) && field[UNLISTED] === true))
        .map(([name, field]) => [name, compactField(field)]),
    ),
  };
}

function compactField(field: unknown): Json {
  if (!isRecord(field)) return {};
  const types = jsonTypesOf(field);
  if (types === undefined) return {};
  return { type: types.length === 1 ? types[0] : types };
}

/** The JSON types a (sub)schema allows, or undefined when it allows anything. */
function jsonTypesOf(node: Json): string[] | undefined {
  if (typeof node.type === 'string') return [node.type];
  if (Array.isArray(node.type)) return node.type.filter((t): t is string => typeof t === 'string');
  if ('const' in node) return [jsonTypeOfValue(node.const)];
  const branches = Array.isArray(node.anyOf) ? node.anyOf : Array.isArray(node.oneOf) ? node.oneOf : null;
  if (!branches) return undefined;
  const union = new Set<string>();
  for (const branch of branches) {
    const types = isRecord(branch) ? jsonTypesOf(branch) : undefined;
    if (types === undefined) return undefined;
    for (const type of types) union.add(type);
  }
  // An integer branch is subsumed by a number branch.
  if (union.has('number')) union.delete('integer');
  return [...union];
}

function jsonTypeOfValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value === 'number' ? 'number' : typeof value;
}

function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
