/**
 * What every suite that spawns the built command shares: where the bin is, a check that it was built
 * from the current sources (a stale `dist/` would test yesterday's code and pass), and an environment
 * for the child whose HOME and state directory are temporary, so no test ever reads or appends to the
 * user's real `~/.local/state/qfpay-mcp`.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = path.join(ROOT, 'dist', 'cli.js');

/** Inputs of the build: a change to any of them after `dist/cli.js` was written makes dist stale. */
const BUILD_INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

/** Throws, naming the fix, when `dist/cli.js` is missing or older than a build input. */
export function assertFreshDist(): void {
  let built: number;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    throw new Error('dist/cli.js is missing: run `npm run build` first (npm test does this).');
  }
  const stale = BUILD_INPUTS.map((input) => newestFile(path.join(ROOT, input))).find(
    (newest) => newest !== undefined && newest.mtimeMs > built,
  );
  if (stale)
    throw new Error(
      `dist/ is older than ${path.relative(ROOT, stale.file)}: run \`npm run build\` first (npm test does this).`,
    );
}

function newestFile(entry: string): { file: string; mtimeMs: number } | undefined {
  const stats = statSync(entry, { throwIfNoEntry: false });
  if (!stats) return undefined;
  if (!stats.isDirectory()) return { file: entry, mtimeMs: stats.mtimeMs };
  let newest: { file: string; mtimeMs: number } | undefined;
  for (const child of readdirSync(entry)) {
    const candidate = newestFile(path.join(entry, child));
    if (candidate && (!newest || candidate.mtimeMs > newest.mtimeMs)) newest = candidate;
  }
  return newest;
}

export interface IsolatedHome {
  /** The temporary home directory. */
  readonly home: string;
  /** PATH plus a temporary HOME and XDG state home: the base environment for a spawned server. */
  readonly env: Record<string, string>;
  readonly remove: () => void;
}

/**
 * A throw-away home for spawned processes. The server's default state directory derives from HOME
 * (or XDG_STATE_HOME), so pointing both here keeps its ledger and simulator state inside the test.
 */
export function isolatedHome(label = 'home'): IsolatedHome {
  const home = mkdtempSync(path.join(tmpdir(), `qfpay-test-${label}-`));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
  };
  return { home, env, remove: () => rmSync(home, { recursive: true, force: true }) };
}
