import { parseNotification } from '../qfpay/notification.js';
import type { PaymentEvents } from '../qfpay/payment-events.js';
import type { ExecutionReport } from './guard.js';
import type { NotificationNote } from './safe-guard.js';

/**
 * QFPay's notifications, received: the signature over the exact bytes is checked with the
 * merchant's key before anything is read; a verified payment, refund or unfreeze notification is recorded
 * against the order this server sent (once: QFPay retries until it hears SUCCESS) and wakes
 * whoever waits on that transaction. A forged or altered one changes nothing.
 */

export type InboxAnswer =
  | { readonly accepted: false; readonly reason: string }
  | {
      readonly accepted: true;
      /** What the ledger did with it; `ignored` for signed kinds this server does not interpret. */
      readonly note: NotificationNote | 'ignored';
      readonly out_trade_no?: string;
      readonly syssn?: string;
    };

export interface InboxDeps {
  /** The merchant's client key. */
  readonly key: string;
  readonly ledger: {
    noteObserved(report: ExecutionReport & { out_trade_no: string }): Promise<NotificationNote>;
  };
  readonly events: PaymentEvents;
  readonly log: (line: string) => void;
}

export class NotificationInbox {
  constructor(private readonly deps: InboxDeps) {}

  async receive(rawBody: Uint8Array, signature: string | undefined): Promise<InboxAnswer> {
    const parsed = parseNotification(rawBody, signature, this.deps.key);
    if (!parsed.valid) {
      this.deps.log(`qfpay-mcp: notification refused: ${parsed.reason ?? 'invalid'}`);
      return { accepted: false, reason: parsed.reason ?? 'invalid notification' };
    }
    const { body, status } = parsed;
    if (!body || !status) return { accepted: true, note: 'ignored' };
    // Recording first: a notification answered SUCCESS is never retried, so it must be durable.
    const note = await this.deps.ledger.noteObserved({
      out_trade_no: body.out_trade_no,
      syssn: body.syssn,
      status,
      respcd: body.respcd,
      message: `QFPay ${body.notify_type} notification`,
    });
    if (note === 'unknown_order')
      this.deps.log(
        `qfpay-mcp: notification for ${body.out_trade_no}, which this server did not send; not recorded`,
      );
    this.deps.events.publish({ out_trade_no: body.out_trade_no, syssn: body.syssn, status });
    return { accepted: true, note, out_trade_no: body.out_trade_no, syssn: body.syssn };
  }
}
