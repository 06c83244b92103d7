import type { QfpayClient } from '../../qfpay/client.js';
import { type PaymentSummary, summariseTransactions } from '../../qfpay/outcome.js';
import { ToolFailure, validationFailure } from './define.js';
import { describeRef, type TransactionRef } from './views.js';

/** The identifying inputs of a payment, checked for presence before any request. */
export function paymentRef(
  syssn: string | undefined,
  outTradeNo: string | undefined,
  outTradeNoField: string,
): TransactionRef {
  if (syssn === undefined && outTradeNo === undefined) {
    throw validationFailure(
      'syssn',
      `give the payment's syssn or its ${outTradeNoField}`,
      `Pass syssn (from create_payment or query_transaction) or ${outTradeNoField} (the order reference the payment was created with).`,
    );
  }
  return {
    ...(syssn !== undefined ? { syssn } : {}),
    ...(outTradeNo !== undefined ? { out_trade_no: outTradeNo } : {}),
  };
}

/**
 * Reads one payment with its refunds (queries only). Fails with not_found when QFPay has no
 * payment under the reference, and explains when the reference is a refund's rather than a
 * payment's, or when syssn and out_trade_no name different payments.
 */
export async function findPayment(
  client: QfpayClient,
  ref: TransactionRef,
  signal: AbortSignal,
): Promise<PaymentSummary> {
  const rows = await client.findTransaction(
    {
      ...(ref.syssn ? { syssn: ref.syssn } : {}),
      ...(!ref.syssn && ref.out_trade_no ? { out_trade_no: ref.out_trade_no } : {}),
    },
    { signal },
  );
  const summaries = summariseTransactions(rows);
  const payment = summaries.find(
    (s) => s.payment_found && (ref.syssn ? s.syssn === ref.syssn : s.out_trade_no === ref.out_trade_no),
  );
  if (payment) {
    if (ref.syssn && ref.out_trade_no && payment.out_trade_no !== ref.out_trade_no) {
      throw validationFailure(
        'out_trade_no',
        `syssn ${ref.syssn} belongs to order ${payment.out_trade_no}, not ${ref.out_trade_no}`,
        'Pass only the syssn, or the matching out_trade_no.',
        { syssn: payment.syssn },
      );
    }
    return payment;
  }
  const owner = summaries.find((s) =>
    s.refunds.some((r) => r.syssn === ref.syssn || r.out_trade_no === ref.out_trade_no),
  );
  if (owner) {
    throw validationFailure(
      ref.syssn ? 'syssn' : 'out_trade_no',
      `${describeRef(ref)} is a refund of payment ${owner.syssn}, not a payment`,
      `Use the payment's syssn ${owner.syssn} instead.`,
    );
  }
  throw new ToolFailure({
    kind: 'not_found',
    message: `QFPay has no payment with ${describeRef(ref)} for this merchant in this environment.`,
    next_action:
      'Check the reference, the environment (test vs prod) and the merchant. If the payment was created moments ago with an unknown outcome, call query_transaction again shortly; nothing was changed.',
  });
}
