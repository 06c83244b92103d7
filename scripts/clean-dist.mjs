// A renamed or deleted module must not linger in dist/ and ship in the package.
import { rmSync } from 'node:fs';
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
