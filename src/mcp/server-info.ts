import { readFileSync } from 'node:fs';

/**
 * Name and version as published. package.json sits two levels above both src/mcp and dist/mcp,
 * so the same relative URL works from the sources (tests) and from the build.
 */
function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const parsed = JSON.parse(text) as { version?: unknown };
    return typeof parsed.version === 'string' ? parsed.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const SERVER_NAME = 'qfpay-mcp';
export const SERVER_TITLE = 'QFPay';
export const SERVER_VERSION = packageVersion();
