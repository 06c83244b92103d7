import type { Dispatcher } from 'undici';
import { findPayType } from '../qfpay/catalog/index.js';
import type { PayTypeEntry } from '../qfpay/catalog/types.js';
import { channelSerialFor, payerIdFor, SyssnIssuer } from './artefacts.js';
import { SimClock } from './clock.js';
import { Notifier, notificationBody, type NotifyType } from './notifier.js';
import { merchantKey } from './options.js';
import type { ResolvedSimulatorOptions, SimCredential } from './options.js';
import { StateFile } from './persistence.js';
import { WechatOauthDesk } from './handlers/tool.js';
import { isAuthorisation, Ledger } from './state.js';
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
  /** WeChat OAuth codes and openids (in memory only). */
  readonly wechat: WechatOauthDesk;
  private readonly credentialsByMerchant = new Map<string, SimCredential>();
  private readonly stateFile: StateFile | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly options: ResolvedSimulatorOptions,
    dispatcher: () => Promise<Dispatcher>,
    readonly warn: (message: string) => void,
  ) {
    this.clock = new SimClock(options.timeScale);
    this.wechat = new WechatOauthDesk(this.clock);
    for (const credential of options.credentials)
      this.credentialsByMerchant.set(merchantKey(credential.appcode, credential.mchid), credential);
    this.notifier = new Notifier(
      this.clock,
      options.notificationRetryScheduleMs,
      dispatcher,
      () => this.reschedule(),
      warn,
    );
    this.ledger.onSucceeded = (transaction) => this.notify(transaction);
    if (options.stateFile !== undefined) {
      const store = StateFile.open(options.stateFile, this.ledger);
      this.ledger.onChanged = (transaction) => store.markDirty(transaction);
      this.stateFile = store;
    }
    this.syssn.isTaken = (syssn) => this.ledger.has(syssn);
    this.reschedule();
  }

  /** Writes the changes of the last request or timer step to the state file, if there is one. */
  persist(): void {
    this.stateFile?.flush();
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
    this.persist();
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
    else {
      transaction.pendingQueriesSeen += 1;
      this.ledger.touch(transaction);
    }
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
    this.stateFile?.clear();
    this.notifier.clear();
    this.wechat.clear();
    this.clock.reset();
    this.reschedule();
  }

  close(): void {
    this.stateFile?.close();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.notifier.close();
  }

  /**
   * A pre-authorisation whose capture window has passed is finished (cancel 4) when it is next
   * looked at: QFPay releases the hold by itself (docs/simulator.md, "Pre-authorisation").
   */
  expirePreauthIfDue(transaction: SimTransaction): void {
    if (!isAuthorisation(transaction) || transaction.state !== 'PAID' || transaction.finishedBy) return;
    const windowEnds = this.captureWindowEnd(transaction);
    if (this.clock.now() <= windowEnds) return;
    transaction.finishedBy = 'expired';
    transaction.finishedAtSimMs = windowEnds;
    transaction.cancel = '4';
    this.ledger.touch(transaction);
  }

  captureWindowEnd(authorisation: SimTransaction): number {
    const authorisedAt = authorisation.paidAtSimMs ?? authorisation.createdAtSimMs;
    return authorisedAt + this.options.preauthCaptureWindowDays * 24 * 60 * 60 * 1000;
  }

  /** The `unfreeze` notification of a release: the authorisation's numbers, the amount released. */
  notifyRelease(authorisation: SimTransaction, releasedTxamt: number): void {
    this.notify(authorisation, 'unfreeze', { txamt: releasedTxamt, cancel: '4' });
  }

  /**
   * To the request's notify_url, else to the URL support configured for the merchant (the
   * credential's notifyUrl); without either, nothing is sent. Any port is delivered to: rehearsals
   * run on loopback, although QFPay itself only delivers to ports 80 and 443.
   */
  private notify(
    transaction: SimTransaction,
    notifyType: NotifyType = transaction.orderType,
    override?: { readonly txamt: number; readonly cancel: string },
  ): void {
    if (this.closed) return;
    const credential = this.credentialsByMerchant.get(transaction.merchant);
    const url = transaction.notifyUrl ?? credential?.notifyUrl;
    if (credential === undefined || url === undefined) return;
    this.notifier.enqueue({
      notifyType,
      transaction,
      url,
      body: notificationBody(transaction, notifyType, override),
      key: credential.key,
    });
  }
}
