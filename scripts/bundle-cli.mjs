// The command as one module graph of our own code: Node resolves, reads and compiles every ESM
// module separately, and the 138 modules of ours it loaded before tools/list cost about 100 ms of
// start-up (BENCHMARKS.md §4). Dependencies stay external (installed with the package, as before);
// what the command loads on demand (the simulator, the approval page, the bill reader…) becomes
// chunks under dist/chunks/. The library entry (dist/index.js) is not bundled.
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { rolldown } from 'rolldown';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const bundle = await rolldown({
  input: `${dist}cli.js`,
  platform: 'node',
  // node: built-ins and bare package names stay imports; only our relative modules are joined.
  external: [/^node:/, /^[^./]/],
  logLevel: 'warn',
});
await bundle.write({
  dir: dist,
  format: 'esm',
  entryFileNames: 'cli.js',
  chunkFileNames: 'chunks/[name]-[hash].js',
});
await bundle.close();
// npm's bin linking needs the executable bit when running from a checkout.
chmodSync(`${dist}cli.js`, 0o755);
