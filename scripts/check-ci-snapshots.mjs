// Proves the test run of .ci/run is in CI mode: vitest must FAIL on a missing snapshot instead of
// writing it, so a deleted tool-contract snapshot can never be silently re-created. It runs a
// throw-away suite (one inline and one file snapshot, neither recorded) with this environment and
// this repository's vitest, and expects a failure and no snapshot written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'qfpay-ci-snapshots-'));
try {
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFileSync(
    path.join(dir, 'vitest.config.mjs'),
    "export default { test: { include: ['*.test.mjs'] } };\n",
  );
  writeFileSync(
    path.join(dir, 'guard.test.mjs'),
    [
      "import { expect, it } from 'vitest';",
      "it('has a snapshot', () => expect({ tool: 'x' }).toMatchSnapshot());",
      "it('has a file snapshot', async () => { await expect('x').toMatchFileSnapshot('./tool.json.snap'); });",
      '',
    ].join('\n'),
  );
  const result = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run'],
    {
      cwd: dir,
      encoding: 'utf8',
      env: process.env,
    },
  );
  const written = ['__snapshots__', 'tool.json.snap'].filter((name) => existsSync(path.join(dir, name)));
  if (result.status === 0 || written.length > 0) {
    console.error(
      `check-ci-snapshots: vitest is not in CI mode (exit ${result.status}, wrote ${written.join(', ') || 'nothing'}).` +
        ' Run it with CI=true and UPDATE_SNAPSHOT=none, as .ci/run does.',
    );
    process.exit(1);
  }
  console.log('check-ci-snapshots: vitest refuses to write missing snapshots (CI mode).');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
