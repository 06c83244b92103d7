import type { EnvironmentName } from '../../qfpay/catalog/types.js';
import { cancelPaymentTool } from './cancel-payment.js';
import { capturePreauthTool } from './capture-preauth.js';
import { createCheckoutLinkTool } from './create-checkout-link.js';
import { createPaymentTool } from './create-payment.js';
import { type AccessKind, isReadOnlyAccess, type ToolDefinition, type Toolset } from './define.js';
import { addNoteTool } from './add-note.js';
import { diagnoseSignatureTool } from './diagnose-signature.js';
import { explainRespcdTool } from './explain-respcd.js';
import { listCurrenciesTool } from './list-currencies.js';
import { listPayTypesTool } from './list-pay-types.js';
import { queryTransactionTool } from './query-transaction.js';
import { reconcileDayTool } from './reconcile-day.js';
import { refundTool } from './refund.js';
import { releasePreauthTool } from './release-preauth.js';
import { simulateCustomerPaymentTool } from './simulate-customer-payment.js';
import { verifyNotificationTool } from './verify-notification.js';
import { waitForPaymentTool } from './wait-for-payment.js';
import { wechatOpenidTool } from './wechat-openid.js';

export interface ToolEntry {
  readonly tool: ToolDefinition;
  readonly toolset: Toolset;
  /** Declared once here; drives read-only filtering and the annotations. */
  readonly access: AccessKind;
}

/** Every tool the server has, with its toolset and access kind. The order is the tools/list order. */
export const TOOL_REGISTRY: readonly ToolEntry[] = [
  { tool: createPaymentTool, toolset: 'payments', access: 'write' },
  { tool: createCheckoutLinkTool, toolset: 'payments', access: 'write' },
  { tool: waitForPaymentTool, toolset: 'payments', access: 'read' },
  { tool: refundTool, toolset: 'payments', access: 'write' },
  { tool: cancelPaymentTool, toolset: 'payments', access: 'write' },
  { tool: capturePreauthTool, toolset: 'payments', access: 'write' },
  { tool: releasePreauthTool, toolset: 'payments', access: 'write' },
  { tool: wechatOpenidTool, toolset: 'payments', access: 'exchange' },
  { tool: addNoteTool, toolset: 'payments', access: 'note' },
  { tool: queryTransactionTool, toolset: 'reporting', access: 'read' },
  { tool: reconcileDayTool, toolset: 'reporting', access: 'read' },
  { tool: explainRespcdTool, toolset: 'reference', access: 'reference' },
  { tool: listPayTypesTool, toolset: 'reference', access: 'reference' },
  { tool: listCurrenciesTool, toolset: 'reference', access: 'reference' },
  { tool: verifyNotificationTool, toolset: 'integration', access: 'integration' },
  { tool: diagnoseSignatureTool, toolset: 'integration', access: 'integration' },
  { tool: simulateCustomerPaymentTool, toolset: 'local', access: 'local' },
];

export interface ToolSelection {
  readonly environment: EnvironmentName;
  readonly toolsets: ReadonlySet<Toolset>;
  readonly readOnly: boolean;
}

/**
 * The tools a server exposes: those of the enabled toolsets, minus every non-read-only tool in
 * read-only mode (read-only wins over any toolset), minus the local toolset outside `local`.
 * A tool that is not selected is never registered, so it cannot be called at all.
 */
export function selectTools(selection: ToolSelection): ToolEntry[] {
  return TOOL_REGISTRY.filter(
    (entry) =>
      selection.toolsets.has(entry.toolset) &&
      (!selection.readOnly || isReadOnlyAccess(entry.access)) &&
      (entry.toolset !== 'local' || selection.environment === 'local'),
  );
}
