import { findPayType, getEnvironment } from '../qfpay/catalog/index.js';
import { amountInWords, amountDisplay } from '../qfpay/money.js';
import type { WriteIntent } from './guard.js';
import { maskAppcode } from './sanitize.js';

/**
 * What a person is asked to approve: one line for the action as the tool words it, then every
 * fact the approval is bound to, spelled out so a misread amount is hard to miss (display form,
 * words and the exact minor units the API receives).
 */
export function confirmationSummary(intent: WriteIntent): string {
  const environment = getEnvironment(intent.environment);
  const payTypeCode = typeof intent.params.pay_type === 'string' ? intent.params.pay_type : undefined;
  const payType = payTypeCode ? findPayType(payTypeCode) : undefined;
  const lines = [
    intent.summary,
    `Environment: ${intent.environment} (${environment.title}) — ${environment.realMoney ? 'REAL MONEY' : 'no real money'}`,
    `Merchant: app code ${maskAppcode(intent.merchant.appcode)}${intent.merchant.mchid ? `, mchid ${intent.merchant.mchid}` : ''}`,
    `Amount: ${amountDisplay(intent.txamt, intent.txcurrcd)} — ${wordsFor(intent)} — txamt ${intent.txamt} (${intent.txcurrcd} smallest units)`,
  ];
  if (payTypeCode) lines.push(`Pay type: ${payTypeCode}${payType ? ` ${payType.name}` : ''}`);
  lines.push(...referenceLines(intent));
  return lines.join('\n');
}

function wordsFor(intent: WriteIntent): string {
  try {
    return amountInWords(intent.txamt, intent.txcurrcd);
  } catch {
    return `${intent.txamt} minor units`;
  }
}

function referenceLines(intent: WriteIntent): string[] {
  switch (intent.tool) {
    case 'create_payment':
    case 'create_checkout_link':
      return [`Order reference (out_trade_no): ${intent.out_trade_no}`];
    case 'refund':
      return [
        `Refund reference (out_trade_no): ${intent.out_trade_no}`,
        `Refunded payment: syssn ${intent.orig_syssn ?? 'unknown'}${typeof intent.params.orig_out_trade_no === 'string' ? `, order ${intent.params.orig_out_trade_no}` : ''}`,
      ];
    case 'cancel_payment':
      return [
        `Cancelled order: out_trade_no ${intent.out_trade_no}, syssn ${intent.orig_syssn ?? 'unknown'}${typeof intent.params.endpoint === 'string' ? ` (via /trade/v1/${intent.params.endpoint})` : ''}`,
      ];
  }
}
