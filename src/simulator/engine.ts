import type { Dispatcher } from 'undici';
import { findPayType } from '../qfpay/catalog/index.js';
import type { PayTypeEntry } from '../qfpay/catalog/types.js';
import { channelSerialFor, payerIdFor, SyssnIssuer } from './artefacts.js';
import { SimClock } from './clock.js';
import { Notifier, notificationBody } from './notifier.js';
import { merchantKey } from './options.js';
import type { ResolvedSimulatorOptions, SimCredential } from './options.js';
import { Ledger } from './state.js';
import type { SimTransaction } from './state.js';

/** Longest delay setTimeout accepts. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Everything stateful behind the HTTP surface: the books, the simulated clock, transaction
 * numbers, notifications and the one timer that fires time-driven transitions (order expiry,
 * pending settlement, notification retries). Handlers and the control API share it.
 */
export class SimulatorEngine {
  readonly ledger = new Ledger();
  readonly clock: SimClock;
  readonly syssn = new SyssnIssuer();
  readonly notifier: Notifier;
  private readonly keysByMerchant = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly options: ResolvedSimulatorOptions,
    dispatcher: () => Promise<Dispatcher>,
    readonly warn: (message: string) => void,
  ) {
    this.clock = new SimClock(options.timeScale);
    for (const credential of options.credentials)
      this.keysByMerchant.set(merchantKey(credential.appcode, credential.mchid), credential.key);
    this.notifier = new Notifier(
      this.clock,
      options.notificationRetryScheduleMs,
      dispatcher,
      () => this.reschedule(),
      warn,
    );
    this.ledger.onSucceeded = (transaction) => this.notify(transaction);
  }

  get credentials(): readonly SimCredential[] {
    return this.options.credentials;
  }

  /** Applies every time-driven transition that is due, then re-arms the timer. */
  sweep(): void {
    if (this.closed) return;
    const { expired, settled } = this.ledger.due(this.clock.now());
    for (const transaction of expired) this.ledger.markExpired(transaction);
    for (const transaction of settled) this.settle(transaction);
    this.notifier.runDue();
    this.reschedule();
  }

  /** The customer completes a waiting or processing payment. */
  settle(transaction: SimTransaction): void {
    const payType = this.payTypeOf(transaction);
    const now = this.clock.now();
    this.ledger.markPaid(transaction, now, {
      chnlsn: channelSerialFor(payType, now),
      cardcd: payerIdFor(payType),
    });
    this.reschedule();
  }

  /** A query saw this PROCESSING payment: settle it once enough queries have seen it pending. */
  noteQueried(transaction: SimTransaction): void {
    if (transaction.state !== 'PROCESSING') return;
    if (transaction.pendingQueriesSeen >= this.options.pendingSettle.afterQueries) this.settle(transaction);
    else transaction.pendingQueriesSeen += 1;
  }

  payTypeOf(transaction: SimTransaction): PayTypeEntry {
    const entry = findPayType(transaction.payType);
    if (!entry) throw new Error(`pay type ${transaction.payType} vanished from the catalog`);
    return entry;
  }

  reschedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    const deadlines = [this.ledger.nextDeadline(), this.notifier.nextDeadline()].filter(
      (at): at is number => at !== undefined,
    );
    if (deadlines.length === 0) return;
    const delay = Math.min(MAX_TIMER_MS, Math.ceil(this.clock.realDelayUntil(Math.min(...deadlines))));
    this.timer = setTimeout(() => this.sweep(), delay);
    this.timer.unref();
  }

  /** Clears the books, notifications and the clock offset. */
  reset(): void {
    this.ledger.clear();
    this.notifier.clear();
    this.clock.reset();
    this.reschedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.notifier.close();
  }

  private notify(transaction: SimTransaction): void {
    if (transaction.notifyUrl === undefined || this.closed) return;
    const key = this.keysByMerchant.get(transaction.merchant);
    if (key === undefined) return;
    const notifyType = transaction.orderType;
    this.notifier.enqueue({
      notifyType,
      transaction,
      url: transaction.notifyUrl,
      body: notificationBody(transaction, notifyType),
      key,
    });
  }
}
