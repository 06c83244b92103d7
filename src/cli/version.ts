import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The version in package.json (two levels up from both src/cli and dist/cli). */
export function readPackageVersion(): string {
  if (cached === undefined) {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    cached = typeof version === 'string' ? version : '0.0.0';
  }
  return cached;
}
