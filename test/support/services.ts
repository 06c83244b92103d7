/**
 * The real servers some suites need (PostgreSQL, Redis, Chromium). `.ci/run` starts them through
 * `scripts/test-services.sh` and exports their addresses. Under CI a missing one fails the suite that
 * needs it; on a developer's machine that suite is skipped with a one-line note.
 */
import { describe } from 'vitest';

export type TestService = 'postgres' | 'redis' | 'chromium';

const VARIABLES: Record<TestService, string> = {
  postgres: 'QFPAY_TEST_DATABASE_URL',
  redis: 'QFPAY_TEST_REDIS_URL',
  chromium: 'QFPAY_TEST_CHROMIUM',
};

export const underCi = process.env['CI'] === 'true' || process.env['CI'] === '1';

/** The service's address (URL or executable path), or undefined when it is not configured. */
export function serviceAddress(service: TestService): string | undefined {
  const value = process.env[VARIABLES[service]];
  return value && value.trim() !== '' ? value : undefined;
}

/**
 * `describe` when every service is there; under CI a missing service is an error, never a skip.
 * The callback receives the addresses in the order asked for.
 */
export function describeWithServices(
  name: string,
  services: readonly TestService[],
  body: (addresses: readonly string[]) => void,
): void {
  const missing = services.filter((service) => serviceAddress(service) === undefined);
  if (missing.length === 0) {
    describe(name, () => body(services.map((service) => serviceAddress(service)!)));
    return;
  }
  const variables = missing.map((service) => VARIABLES[service]).join(', ');
  if (underCi) {
    throw new Error(
      `${name}: needs ${missing.join(', ')} but ${variables} is not set; .ci/run starts them with scripts/test-services.sh.`,
    );
  }
  console.warn(`skipped "${name}": set ${variables} (source scripts/test-services.sh start)`);
  describe.skip(name, () => body(services.map(() => '')));
}
