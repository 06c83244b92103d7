/**
 * qfpay-mcp as a library, for scripted workflows: the QFPay client, the signer, the catalog,
 * outcome normalisation, notifications, the simulator and the MCP runtime.
 */
export * from './qfpay/signature.js';
export * from './qfpay/types.js';
export * from './qfpay/errors.js';
export * from './qfpay/catalog/index.js';
export * from './qfpay/money.js';
export { loadConfig, describeConfig, type QfpayConfig } from './qfpay/config.js';
export { parseRateWindows, formatRateWindows } from './qfpay/rate-windows.js';
export { getMerchantLimiter, MerchantLimiter } from './qfpay/limiter.js';
export {
  QfpayClient,
  type QfpayClientOptions,
  type ClientEvent,
  type CallOptions,
  type TransactionRef,
} from './qfpay/client.js';
export {
  statusOfRecord,
  statusOfPaymentResponse,
  summariseTransactions,
  isFinal,
  type PaymentSummary,
  type RefundSummary,
} from './qfpay/outcome.js';
export { pollUntilFinal, type PollOptions, type PollResult } from './qfpay/reconcile.js';
export { parseNotification, type ParsedNotification } from './qfpay/notification.js';
export { pythonJsonDumps } from './qfpay/pyjson.js';
export { OUT_TRADE_NO_PATTERN, OUT_TRADE_NO_EXAMPLE, outTradeNoProblem } from './qfpay/out-trade-no.js';
export { formatQfpayDateTime } from './qfpay/time.js';
export {
  startSimulator,
  DEFAULT_SIMULATOR_CREDENTIAL,
  type RunningSimulator,
  type SimulatorOptions,
  type SimCredential,
} from './simulator/index.js';
export { createRuntime, resolveToolsets, type RuntimeOptions, type QfpayMcpRuntime } from './mcp/runtime.js';
export { startHttpServer, type HttpServeOptions, type RunningHttpServer } from './transports/http.js';
export { startStdioServer } from './transports/stdio.js';
