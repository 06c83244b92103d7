import process from 'node:process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where things are, resolved once from this file so the benches run from any working directory. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = path.join(ROOT, 'dist');
export const CLI = path.join(DIST, 'cli.js');
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

const require = createRequire(import.meta.url);

/** The bin of @modelcontextprotocol/server-everything (the official reference server, v1 SDK). */
export function serverEverythingBin() {
  const manifestPath = require.resolve('@modelcontextprotocol/server-everything/package.json');
  const manifest = require(manifestPath);
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin['mcp-server-everything'];
  return { path: path.join(path.dirname(manifestPath), bin), version: manifest.version };
}

/** Imports a module of the built package (dist/), so the benches measure what ships. */
export function importDist(relative) {
  return import(path.join(DIST, relative));
}

const scratchDirs = [];
process.once('exit', () => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A throw-away state directory, so a bench never writes an audit ledger into the user's home;
 * removed when the bench process exits.
 */
export function scratchStateDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'qfpay-bench-state-'));
  scratchDirs.push(dir);
  return dir;
}
