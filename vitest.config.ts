import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The checks with clients this project did not write (OpenClaw, the official conformance suite)
 * install from the npm registry and take minutes, so `npm test` leaves them out and
 * `npm run test:clients` runs only them; .ci/run runs both.
 */
const CLIENT_SUITES = ['test/openclaw.test.ts', 'test/conformance.test.ts'];
const clientsOnly = process.env['QFPAY_TEST_CLIENTS'] === '1';

export default defineConfig({
  test: {
    include: clientsOnly ? CLIENT_SUITES : ['test/**/*.test.ts'],
    exclude: clientsOnly ? configDefaults.exclude : [...configDefaults.exclude, ...CLIENT_SUITES],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // A throw-away HOME per test file: no test touches the user's real state directory.
    setupFiles: ['test/support/isolated-state.ts'],
    reporters: ['default'],
  },
});
