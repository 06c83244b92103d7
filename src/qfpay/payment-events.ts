import type { NormalisedStatus } from './types.js';

/**
 * In-process news that a transaction changed, for whoever waits on it: a `wait_for_payment` poll
 * that can stop sleeping, a resource subscription to tell. Only a hint: listeners re-read the
 * transaction from QFPay rather than trust the news itself.
 */
export interface PaymentEvent {
  readonly out_trade_no: string;
  readonly syssn: string;
  readonly status: NormalisedStatus;
}

export type PaymentListener = (event: PaymentEvent) => void;

export class PaymentEvents {
  readonly #listeners = new Set<PaymentListener>();

  /** Returns the function that stops listening (idempotent). */
  subscribe(listener: PaymentListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  publish(event: PaymentEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // One broken listener must not keep the news from the others.
      }
    }
  }

  /** Listens for events about one transaction, by syssn or out_trade_no. */
  subscribeTo(ref: { syssn?: string; out_trade_no?: string }, wake: () => void): () => void {
    return this.subscribe((event) => {
      if (
        (ref.syssn && event.syssn === ref.syssn) ||
        (ref.out_trade_no && event.out_trade_no === ref.out_trade_no)
      )
        wake();
    });
  }
}
