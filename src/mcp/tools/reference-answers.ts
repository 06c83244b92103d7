import type { CallToolResult } from '@modelcontextprotocol/server';

import type { Language } from '../../qfpay/language.js';

/**
 * Finished answers of the reference tools (access `reference`: explain_respcd, list_pay_types,
 * list_currencies), kept per runtime. Such an answer is a function of the call's validated
 * arguments and language alone (the built-in catalogue, the runtime's environment), so a repeat of
 * the same call is answered with the same result instead of being rebuilt, re-checked against its
 * output schema and re-scanned for secrets each time; the first answer went through all of that.
 *
 * Bounded: the oldest answer leaves once `capacity` are kept, so arguments an agent varies without
 * end cost memory only up to the bound. Stored answers are frozen, so no reader can alter what the
 * next caller receives. Error answers are never kept.
 */
export class ReferenceAnswers {
  readonly #answers = new Map<string, CallToolResult>();

  constructor(readonly capacity = DEFAULT_REFERENCE_ANSWERS) {
    if (!Number.isInteger(capacity) || capacity < 0)
      throw new RangeError(`capacity must be a whole number ≥ 0, got ${capacity}`);
  }

  get size(): number {
    return this.#answers.size;
  }

  find(tool: string, language: Language, args: unknown): CallToolResult | undefined {
    return this.#answers.get(answerKey(tool, language, args));
  }

  keep(tool: string, language: Language, args: unknown, answer: CallToolResult): void {
    if (this.capacity === 0 || answer.isError) return;
    const key = answerKey(tool, language, args);
    if (this.#answers.has(key)) return;
    if (this.#answers.size >= this.capacity) {
      const oldest = this.#answers.keys().next().value;
      if (oldest !== undefined) this.#answers.delete(oldest);
    }
    this.#answers.set(key, deepFreeze(answer));
  }
}

/** 256 answers: every code of the catalogue in one language, or a day of varied lookups, in well under 2 MB. */
export const DEFAULT_REFERENCE_ANSWERS = 256;

/**
 * Arguments arrive parsed by the tool's input schema, so the same call gives the same JSON. A
 * NUL cannot appear in a tool name or a language tag, so the three parts cannot run into each other.
 */
function answerKey(tool: string, language: Language, args: unknown): string {
  return `${tool}\u0000${language}\u0000${JSON.stringify(args)}`;
}

/** Freezes a JSON-like value through and through (shared, read-only data of this layer). */
export function deepFreeze<Value>(value: Value): Value {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
