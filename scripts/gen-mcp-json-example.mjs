// Writes mcp.json.example from the entries `qfpay-mcp client-config` prints (run after npm run build);
// test/docs-readme.test.ts fails when the file and the printer disagree.
import { readFileSync, writeFileSync } from 'node:fs';

import { exampleFile } from '../dist/cli/client-config.js';

const root = new URL('..', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
writeFileSync(new URL('mcp.json.example', root), exampleFile(version));
