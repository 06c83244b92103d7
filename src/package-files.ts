import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Files of the installed package (package.json, the built command, the payment view), found from
 * its root. The root is the nearest folder above this module holding qfpay-mcp's package.json:
 * the sources (tests), the compiled modules and the bundled command (scripts/bundle-cli.mjs) sit at
 * different depths, so no relative path would serve all three.
 */

const PACKAGE_NAME = 'qfpay-mcp';

function packageJsonAt(dir: string): { name?: unknown; version?: unknown } | undefined {
  const file = path.join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
  } catch {
    return undefined;
  }
}

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (packageJsonAt(dir)?.name === PACKAGE_NAME) return dir;
    if (path.dirname(dir) === dir)
      throw new Error(`qfpay-mcp: no ${PACKAGE_NAME} package.json above ${start}; reinstall the package.`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A file of the package, from its root (e.g. `dist/cli.js`). */
export function packagePath(relative: string): string {
  return path.join(PACKAGE_ROOT, relative);
}

/** The version in package.json ('0.0.0' when it has none). */
export const PACKAGE_VERSION: string = (() => {
  const version = packageJsonAt(PACKAGE_ROOT)?.version;
  return typeof version === 'string' ? version : '0.0.0';
})();
