// tsc drops the executable bit; npm's bin linking needs it when running from a checkout.
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/cli.js', import.meta.url), 0o755);
