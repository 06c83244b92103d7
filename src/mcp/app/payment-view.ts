import { readFile } from 'node:fs/promises';

import type { McpServer } from '@modelcontextprotocol/server';
import {
  type McpUiReadResourceResult,
  registerAppResource,
  RESOURCE_MIME_TYPE,
} from '@modelcontextprotocol/ext-apps/server';

import { packagePath } from '../../package-files.js';

/**
 * The payment MCP App: one HTML view (built from `src/app-view/` by `npm run build`) that hosts
 * with MCP Apps render beside a payment's result. It shows the amount, the QR or link and the live
 * status, and offers refund and cancel; every one of those is an ordinary call of this server's
 * tools through the host, so the guard and approvals apply unchanged (see src/app-view/main.ts).
 * Hosts without Apps ignore the link and keep the tools' text and image.
 */
export const PAYMENT_VIEW_URI = 'ui://qfpay/payment';

/** The tools whose results the view can show: it needs a payment's amount, reference and status. */
const LINKED_TOOLS: ReadonlySet<string> = new Set([
  'create_payment',
  'create_checkout_link',
  'wait_for_payment',
]);

/** The `_meta` that links a tool to the view, or undefined for a tool the view does not show. */
export function paymentViewLink(toolName: string): { ui: { resourceUri: string } } | undefined {
  return LINKED_TOOLS.has(toolName) ? { ui: { resourceUri: PAYMENT_VIEW_URI } } : undefined;
}

/**
 * Nothing outside the view: no fetch, no remote scripts, styles, fonts or images (the QR is a data:
 * URL from the tool result). Empty lists are the spec's "no network" default, declared explicitly.
 */
const VIEW_META = Object.freeze({
  ui: Object.freeze({
    csp: Object.freeze({ connectDomains: [], resourceDomains: [] }),
    prefersBorder: false,
  }),
});

/** Where `npm run build` writes the view: the sources (tests) and the package serve the one built file. */
const VIEW_FILE = packagePath('dist/app-view/payment.html');

let viewHtml: Promise<string> | undefined;

function readView(): Promise<string> {
  viewHtml ??= readFile(VIEW_FILE, 'utf8').catch((error: unknown) => {
    viewHtml = undefined;
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? 'The payment view is not built: run `npm run build` (it writes dist/app-view/payment.html).'
        : 'The payment view could not be read.',
    );
  });
  return viewHtml;
}

export function registerPaymentView(server: McpServer): void {
  registerAppResource(
    server,
    'payment-view',
    PAYMENT_VIEW_URI,
    {
      title: 'QFPay payment view',
      description: 'MCP App: a payment with its QR, live status, refund and cancel.',
      _meta: VIEW_META,
    },
    async (uri): Promise<McpUiReadResourceResult> => ({
      contents: [{ uri: uri.href, mimeType: RESOURCE_MIME_TYPE, text: await readView(), _meta: VIEW_META }],
    }),
  );
}
