// Builds the payment MCP App view into one self-contained HTML file (scripts and styles inlined):
// hosts render it in a sandboxed iframe with no network, so nothing may be loaded from elsewhere.
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vite';
import { viteSingleFile } from 'vite-plugin-singlefile';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  logLevel: 'warn',
  plugins: [viteSingleFile()],
  build: {
    outDir: fileURLToPath(new URL('../../dist/app-view', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // One inline script and nothing to preload: the polyfill would only add a fetch() to the view.
    modulePreload: { polyfill: false },
    rollupOptions: { input: fileURLToPath(new URL('payment.html', import.meta.url)) },
  },
});
