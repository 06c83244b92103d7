/**
 * The payment view (MCP App `ui://qfpay/payment`). The host renders it next to a create_payment,
 * create_checkout_link or wait_for_payment result and relays its calls to this server. Every action
 * is an ordinary tool call through the host (`callServerTool`): the live status comes from
 * wait_for_payment and query_transaction, refunds and cancels from the refund and cancel_payment
 * tools, so the same guard, caps, idempotency and approvals apply as for an agent. When the guard
 * answers CONFIRMATION_REQUIRED, the person's click here sends the confirmation exactly as an agent
 * would (same arguments plus the token); an operator-only approval is shown as such.
 */
import { amountDisplay, parseMajorToMinor, toMajorString } from '../qfpay/money.js';
import {
  canCancel,
  canRefund,
  confirmationFrom,
  describeAmount,
  failureText,
  isPending,
  type Payment,
  paymentFromResult,
  paymentReference,
  type PendingConfirmation,
  refundable,
  type ToolResultLike,
  updatedPayment,
} from './payment-state.js';
import { applyHostTheme, HostBridge } from './host-bridge.js';
import type { Language } from '../qfpay/language.js';
import { VIEW_WORDS, viewLanguageOf, type ViewWords } from './words.js';

/** One wait stays under the 60 s request timeout hosts apply; the view asks at most this often. */
const WAIT_SECONDS = 25;
/** About ten minutes of watching; after that the person asks again with "Check again". */
const MAX_WAITS = 24;

/** A wait that comes back sooner than this while still pending is followed by a pause, not a burst. */
const MIN_ROUND_MS = 2_000;

/** The person's language: the host's locale (English until the host says otherwise). */
let language: Language = 'en';
let words: ViewWords = VIEW_WORDS.en;

function element<Kind extends HTMLElement>(id: string): Kind {
  const found = document.getElementById(id);
  if (!found) throw new Error(`payment view: #${id} is missing`);
  return found as Kind;
}

const ui = {
  amountMajor: element('amount-major'),
  amountMinor: element('amount-minor'),
  words: element('amount-words'),
  status: element('status'),
  qrBox: element('qr-box'),
  qr: element<HTMLImageElement>('qr'),
  linkBox: element('link-box'),
  link: element<HTMLButtonElement>('link'),
  reference: element('reference'),
  refunds: element('refunds'),
  confirmBox: element('confirm-box'),
  confirmSummary: element('confirm-summary'),
  confirmOperator: element('confirm-operator'),
  confirmYes: element<HTMLButtonElement>('confirm-yes'),
  confirmNo: element<HTMLButtonElement>('confirm-no'),
  refundForm: element('refund-form'),
  refundCurrency: element('refund-currency'),
  refundAmount: element<HTMLInputElement>('refund-amount'),
  refundButton: element<HTMLButtonElement>('refund-button'),
  cancelButton: element<HTMLButtonElement>('cancel-button'),
  checkButton: element<HTMLButtonElement>('check-button'),
  message: element('message'),
  brand: element('brand'),
  qrCaption: element('qr-caption'),
  confirmTitle: element('confirm-title'),
  refundLabel: element('refund-label'),
};

/** The words written into the page itself, in the person's language. */
function applyWords(): void {
  document.documentElement.lang = language;
  document.title = words.title;
  ui.brand.textContent = words.title;
  ui.qr.alt = words.qrAlt;
  ui.qrCaption.textContent = words.qrCaption;
  ui.link.textContent = words.openCheckout;
  ui.confirmTitle.textContent = words.confirmTitle;
  ui.confirmNo.textContent = words.doNotSend;
  ui.refundLabel.textContent = words.refund;
  ui.refundButton.textContent = words.refund;
  ui.cancelButton.textContent = words.cancelOrder;
  ui.checkButton.textContent = words.checkAgain;
}

/** A host context (whole, or the part that changed): its theme, and its locale when it names one. */
function applyHostContext(context: Parameters<typeof applyHostTheme>[0]): void {
  applyHostTheme(context);
  if (typeof context.locale !== 'string') return;
  language = viewLanguageOf(context.locale);
  words = VIEW_WORDS[language];
  applyWords();
  render();
}

/** Tools answer a person's words in the view's language; English is their default. */
function withLanguage(args: Record<string, unknown>): Record<string, unknown> {
  return language === 'en' ? args : { ...args, lang: language };
}

const host = new HostBridge({
  onToolResult: (result) => showResult(result),
  onHostContext: (context) => applyHostContext(context),
  onTeardown: () => {
    tornDown = true;
  },
});

let payment: Payment | undefined;
let pending: PendingConfirmation | undefined;
let watching = false;
let busy = false;
let tornDown = false;

function say(text: string, tone: 'info' | 'error' = 'info'): void {
  ui.message.textContent = text;
  ui.message.dataset['tone'] = tone;
}

function render(): void {
  const shown = payment;
  document.body.dataset['ready'] = shown ? 'true' : 'false';
  if (!shown) return;
  const amount = describeAmount(shown.txamt, shown.txcurrcd, language);
  ui.amountMajor.textContent = amount.major;
  ui.amountMinor.textContent = amount.minor;
  ui.words.textContent = amount.words;
  ui.status.textContent = words.status[shown.status] ?? shown.status;
  ui.status.dataset['status'] = shown.status;
  ui.qrBox.hidden = !(shown.qrImage && isPending(shown));
  if (shown.qrImage && ui.qr.src !== shown.qrImage) ui.qr.src = shown.qrImage;
  ui.linkBox.hidden = !(shown.link && isPending(shown));
  ui.reference.textContent = [
    shown.outTradeNo ? words.order(shown.outTradeNo) : '',
    shown.syssn ? `QFPay ${shown.syssn}` : '',
  ]
    .filter(Boolean)
    .join(words.separator);
  renderRefunds(shown);
  renderActions(shown);
  renderConfirmation();
}

function renderRefunds(shown: Payment): void {
  const parts: string[] = [];
  if (shown.refundedTxamt) parts.push(words.refunded(amountDisplay(shown.refundedTxamt, shown.txcurrcd)));
  if (shown.refundableTxamt !== undefined && shown.status !== 'AWAITING_CUSTOMER') {
    parts.push(words.stillRefundable(amountDisplay(shown.refundableTxamt, shown.txcurrcd)));
  }
  ui.refunds.textContent = parts.join(words.separator);
}

function renderActions(shown: Payment): void {
  const idle = !busy && !pending;
  ui.refundForm.hidden = !canRefund(shown) || pending !== undefined;
  ui.refundCurrency.textContent = shown.txcurrcd;
  ui.refundButton.disabled = !idle;
  ui.cancelButton.hidden = !canCancel(shown) || pending !== undefined;
  ui.cancelButton.disabled = !idle;
  ui.checkButton.hidden = watching || !isPending(shown);
  ui.checkButton.disabled = busy;
}

function renderConfirmation(): void {
  ui.confirmBox.hidden = !pending;
  if (!pending) return;
  ui.confirmSummary.textContent = pending.summary;
  ui.confirmOperator.hidden = !pending.operatorApprovalUrl;
  ui.confirmOperator.textContent = pending.operatorApprovalUrl
    ? words.operatorOnly(pending.operatorApprovalUrl)
    : '';
  ui.confirmYes.textContent = pending.operatorApprovalUrl ? words.send : words.confirm;
  ui.confirmYes.disabled = busy;
  ui.confirmNo.disabled = busy;
}

/** A tool call through the host; a transport failure becomes an error result the view can show. */
async function callTool(name: string, args: Record<string, unknown>): Promise<ToolResultLike> {
  try {
    return await host.callServerTool(name, args);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      isError: true,
      structuredContent: { error: { message: words.hostUnreachable(reason) } },
    };
  }
}

/** Waits for the customer through wait_for_payment, a bounded number of times, one call at a time. */
async function watch(): Promise<void> {
  if (watching || tornDown) return;
  watching = true;
  render();
  try {
    for (let round = 0; round < MAX_WAITS && payment && isPending(payment) && !tornDown; round += 1) {
      const started = Date.now();
      const result = await callTool(
        'wait_for_payment',
        withLanguage({ ...paymentReference(payment), timeout_seconds: WAIT_SECONDS }),
      );
      if (result.isError) {
        say(failureText(result), 'error');
        return;
      }
      payment = updatedPayment(payment, result, 'wait_for_payment');
      suggestRefundAmount();
      render();
      const early = MIN_ROUND_MS - (Date.now() - started);
      if (early > 0 && isPending(payment)) await new Promise((resolve) => setTimeout(resolve, early));
    }
    if (payment && isPending(payment)) say(words.stillNotFinal);
  } finally {
    watching = false;
    render();
  }
}

async function refresh(): Promise<void> {
  if (!payment || busy) return;
  busy = true;
  render();
  const result = await callTool('query_transaction', withLanguage(paymentReference(payment)));
  busy = false;
  if (result.isError) say(failureText(result), 'error');
  else payment = updatedPayment(payment, result, 'query_transaction');
  render();
  void watch();
}

/** Sends a write, or its confirmation, and shows what the guard and QFPay answered. */
async function write(tool: 'refund' | 'cancel_payment', args: Record<string, unknown>): Promise<void> {
  if (!payment || busy) return;
  busy = true;
  say('');
  render();
  const result = await callTool(tool, args);
  busy = false;
  const confirmation = confirmationFrom(tool, stripToken(args), result);
  if (confirmation) {
    pending = confirmation;
  } else if (result.isError) {
    pending = undefined;
    say(failureText(result), 'error');
  } else {
    pending = undefined;
    payment = updatedPayment(payment, result, tool);
    suggestRefundAmount();
    say(tool === 'refund' ? words.refundSent : words.orderCancelled);
    void tellModel(tool, result);
  }
  render();
}

function stripToken(args: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...args };
  delete rest['confirmation_token'];
  return rest;
}

/** The agent learns what the person did here, so it does not repeat it (hosts that accept it). */
async function tellModel(tool: string, result: ToolResultLike): Promise<void> {
  if (!payment || !host.hostCapabilities().updateModelContext) return;
  const fields = result.structuredContent as Record<string, unknown> | undefined;
  const reference = typeof fields?.['out_trade_no'] === 'string' ? ` (${fields['out_trade_no']})` : '';
  const text = `In the payment view the person ran ${tool}${reference} on order ${payment.outTradeNo ?? payment.syssn ?? ''}; the payment is now ${payment.status}. It is done: do not repeat it.`;
  try {
    await host.updateModelContext(text);
  } catch {
    // Best effort: the server's ledger and idempotency already stop a repeat.
  }
}

function onRefund(): void {
  if (!payment) return;
  let txamt: number;
  try {
    txamt = parseMajorToMinor(ui.refundAmount.value, payment.txcurrcd);
  } catch (error) {
    say(error instanceof Error ? error.message : String(error), 'error');
    return;
  }
  void write('refund', withLanguage({ ...paymentReference(payment), txamt }));
}

function wire(): void {
  ui.refundButton.addEventListener('click', onRefund);
  ui.refundAmount.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !ui.refundButton.disabled) onRefund();
  });
  ui.cancelButton.addEventListener('click', () => {
    if (payment) void write('cancel_payment', withLanguage(paymentReference(payment)));
  });
  ui.checkButton.addEventListener('click', () => void refresh());
  ui.confirmYes.addEventListener('click', () => {
    if (pending) void write(pending.tool, pending.confirmArguments);
  });
  ui.confirmNo.addEventListener('click', () => {
    pending = undefined;
    say(words.nothingSent);
    render();
  });
  ui.link.addEventListener('click', () => {
    if (payment?.link) host.openLink(payment.link).catch(() => say(words.openFailed(payment?.link ?? '')));
  });
}

/** The refund field starts at what is still refundable; the person may lower it for a partial refund. */
function suggestRefundAmount(): void {
  if (!payment) return;
  const remaining = refundable(payment);
  ui.refundAmount.value = remaining > 0 ? toMajorString(remaining, payment.txcurrcd) : '';
}

function showResult(result: ToolResultLike): void {
  const shown = paymentFromResult(result);
  if (!shown) {
    if (result.isError) say(failureText(result), 'error');
    return;
  }
  payment = shown;
  suggestRefundAmount();
  render();
  void watch();
}

wire();
render();
host.connect({ name: 'qfpay-payment-view', version: '1.0.0' }).catch((error: unknown) => {
  say(words.needsHost(error instanceof Error ? error.message : String(error)), 'error');
});
