import { findPayType, getEnvironment } from '../qfpay/catalog/index.js';
import { amountInWords, amountDisplay } from '../qfpay/money.js';
import type { WriteIntent } from './guard.js';
import { maskAppcode, sanitizeUpstreamText } from './sanitize.js';

/**
 * What a person is asked to approve: one line for the action as the tool words it, then every
 * fact the approval is bound to, spelled out so a misread amount is hard to miss (display form,
 * words and the exact minor units the API receives).
 *
 * Parts of it come from QFPay (a payment's order reference, its syssn) or from the caller, so
 * every interpolated value is sanitised: one value can never add a line, hide text or reorder
 * what the person reads (red-team finding B5).
 */
export function confirmationSummary(intent: WriteIntent): string {
  const environment = getEnvironment(intent.environment);
  const payTypeCode = typeof intent.params.pay_type === 'string' ? shown(intent.params.pay_type) : undefined;
  const payType = payTypeCode ? findPayType(payTypeCode) : undefined;
  const currency = shown(intent.txcurrcd);
  const mchid = intent.merchant.mchid ? shown(intent.merchant.mchid) : '';
  const lines = [
    sanitizeUpstreamText(intent.summary, 600),
    `Environment: ${intent.environment} (${environment.title}) — ${environment.realMoney ? 'REAL MONEY' : 'no real money'}`,
    `Merchant: app code ${maskAppcode(intent.merchant.appcode)}${mchid ? `, mchid ${mchid}` : ''}`,
    `Amount: ${amountDisplay(intent.txamt, currency)} — ${wordsFor(intent)} — txamt ${intent.txamt} (${currency} smallest units)`,
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

/** One value inside a line of the summary. */
function shown(value: string): string {
  return sanitizeUpstreamText(value, 128);
}

function referenceLines(intent: WriteIntent): string[] {
  const outTradeNo = shown(intent.out_trade_no);
  const origSyssn = intent.orig_syssn ? shown(intent.orig_syssn) : 'unknown';
  const { orig_out_trade_no: origOrder, endpoint } = intent.params;
  switch (intent.tool) {
    case 'create_payment':
    case 'create_checkout_link':
      return [`Order reference (out_trade_no): ${outTradeNo}`];
    case 'refund':
      return [
        `Refund reference (out_trade_no): ${outTradeNo}`,
        `Refunded payment: syssn ${origSyssn}${typeof origOrder === 'string' ? `, order ${shown(origOrder)}` : ''}`,
      ];
    case 'cancel_payment':
      return [
        `Cancelled order: out_trade_no ${outTradeNo}, syssn ${origSyssn}${typeof endpoint === 'string' ? ` (via /trade/v1/${shown(endpoint)})` : ''}`,
      ];
    case 'capture_preauth':
      return [
        `Capture reference (out_trade_no): ${outTradeNo}`,
        `Pre-authorisation: syssn ${origSyssn}${typeof origOrder === 'string' ? `, order ${shown(origOrder)}` : ''}`,
      ];
    case 'release_preauth':
      return [`Released pre-authorisation: out_trade_no ${outTradeNo}, syssn ${origSyssn}`];
  }
}
