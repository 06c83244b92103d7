/**
 * A local, stateful QFPay OpenAPI simulator: the embedded default target of qfpay-mcp and the
 * fixture of its tests. See docs/simulator.md.
 */
export { startSimulator } from './server.js';
export type { RunningSimulator } from './server.js';
export {
  runSimulatorCli,
  parseSimulatorArgs,
  parseCredential,
  SimulatorCliError,
  SIMULATOR_USAGE,
} from './cli.js';
export type { SimulatorCliCommand, SimulatorCliIo } from './cli.js';
export {
  DEFAULT_SIMULATOR_CREDENTIAL,
  DEFAULT_RATE_LIMITS,
  DEFAULT_NOTIFICATION_RETRY_SCHEDULE_MS,
  SimulatorOptionsError,
} from './options.js';
export type { SimCredential, SimulatorOptions, PendingSettleOptions } from './options.js';
export { SimulatorControl, SimulatorControlError } from './control.js';
export type { ClockInput, ClockView, PayActionInput, RequestLogEntry, TransactionView } from './control.js';
export { FAULT_KINDS, TRADE_PATHS } from './faults.js';
export type { FaultInput, FaultKind, TradePath } from './faults.js';
export type { NotificationAttempt, NotificationRecord } from './notifier.js';
export type { TransactionState } from './state.js';
