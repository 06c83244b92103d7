/** Types for scripts/gen-references.mjs (imported by test/skill.test.ts). */
import type { ResponseCodeEntry } from '../src/qfpay/catalog/types.js';

export const RESPONSE_CODES_PATH: string;
export const TOOLS_PATH: string;

export function renderResponseCodes(catalog: {
  readonly RESPONSE_CODES: readonly ResponseCodeEntry[];
}): string;

export function generateToolsReference(options: { distUrl: URL }): Promise<string>;
