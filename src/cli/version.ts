import { PACKAGE_VERSION } from '../package-files.js';

/** The version in package.json. */
export function readPackageVersion(): string {
  return PACKAGE_VERSION;
}
