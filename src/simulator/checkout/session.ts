import { randomBytes } from 'node:crypto';

import { findPayType } from '../../qfpay/catalog/index.js';
import { findCurrency } from '../../qfpay/catalog/currencies.js';
import {
  CHECKOUT_LANGUAGES,
  checkoutDeadlineMs,
  parseCheckoutQuery,
  verifyCheckoutFields,
} from '../../qfpay/checkout.js';
import { amountDisplay } from '../../qfpay/money.js';
import { channelSerialFor } from '../artefacts.js';
import { parseUtc8 } from '../clock.js';
import type { SimulatorEngine } from '../engine.js';
import { merchantKey, type SimCredential } from '../options.js';
import type { SimTransaction } from '../state.js';

/**
 * The hosted checkout page's server side: every step re-verifies the link (its signature, expiry and
 * fields) so nothing is recorded for a link QFPay would refuse. Payments it takes are ordinary
 * transactions of the books: queryable, refundable and notified like any other.
 */

const REQUIRED_FIELDS = [
  'appcode',
  'sign_type',
  'sign',
  'paysource',
  'txamt',
  'txcurrcd',
  'out_trade_no',
  'txdtm',
  'return_url',
  'failed_url',
  'notify_url',
] as const;

/** Test cards (docs/simulator.md): one succeeds at once, one is declined, one asks for 3-D Secure. */
export const TEST_CARDS = {
  frictionless: '4242424242424242',
  declined: '4000000000000002',
  challenge: '4000000000003220',
} as const;
/** The one-time code the simulated 3-D Secure challenge accepts. */
export const CHALLENGE_CODE = '123456';

/** What the customer can choose on the page, and the pay type each is recorded as. */
export const CHECKOUT_METHODS = {
  alipay_hk: { payType: '801514', label: 'Alipay HK' },
  payme: { payType: '805814', label: 'PayMe' },
  card: { payType: '802801', label: 'Visa / Mastercard' },
} as const;
export type CheckoutMethod = keyof typeof CHECKOUT_METHODS;

export class CheckoutError extends Error {
  constructor(
    readonly code: 'bad_link' | 'bad_signature' | 'expired' | 'used' | 'unknown_challenge' | 'bad_request',
    message: string,
    /** Where the page offers to go back: the link's failed_url, once the link itself is trusted. */
    readonly failedUrl?: string,
  ) {
    super(message);
  }
}

export interface CheckoutSession {
  readonly fields: Readonly<Record<string, string>>;
  readonly credential: SimCredential;
  readonly merchant: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly deadlineMs: number | undefined;
  /** The payment this link already took, if any. */
  readonly paid: SimTransaction | undefined;
}

export interface SessionView {
  readonly out_trade_no: string;
  readonly txamt: number;
  readonly txcurrcd: string;
  readonly amount_display: string;
  readonly goods_name: string | null;
  readonly lang: string;
  readonly methods: readonly { readonly id: CheckoutMethod; readonly label: string }[];
  readonly expires_at_ms: number | null;
  readonly paid: boolean;
  readonly return_url: string;
  readonly failed_url: string;
  readonly cancel_url: string;
}

/** Verifies a link and tells what the page may show; throws CheckoutError for anything QFPay would refuse. */
export function openCheckoutSession(engine: SimulatorEngine, query: string): CheckoutSession {
  const fields = parseCheckoutQuery(query);
  const missing = REQUIRED_FIELDS.filter((name) => !fields[name]);
  if (missing.length > 0)
    throw new CheckoutError('bad_link', `The checkout link lacks ${missing.join(', ')}.`);
  const credential = credentialFor(engine, fields);
  const verification = verifyCheckoutFields(fields, credential.key);
  if (!verification.ok)
    throw new CheckoutError(
      'bad_signature',
      verification.reason === 'bad_sign_type'
        ? 'The checkout link has an unknown sign_type (expected sha256 or md5).'
        : 'The checkout link is not signed by this merchant: it was changed or made with another key.',
    );
  // From here on the link is the merchant's own, so its failed_url may be offered.
  const failedUrl = fields['failed_url'];
  if (!fields['paysource']!.endsWith('_checkout'))
    throw new CheckoutError('bad_link', 'paysource must end in _checkout.', failedUrl);
  const txamt = Number(fields['txamt']);
  if (!/^[1-9]\d{0,10}$/.test(fields['txamt']!) || !Number.isSafeInteger(txamt))
    throw new CheckoutError('bad_link', 'txamt must be a positive integer in minor units.', failedUrl);
  const currency = findCurrency(fields['txcurrcd']!);
  if (!currency || currency.code !== fields['txcurrcd'])
    throw new CheckoutError(
      'bad_link',
      `txcurrcd ${fields['txcurrcd']} is not a currency QFPay takes.`,
      failedUrl,
    );
  const txdtmMs = parseUtc8(fields['txdtm']!);
  if (txdtmMs === undefined)
    throw new CheckoutError('bad_link', 'txdtm must be YYYY-MM-DD hh:mm:ss.', failedUrl);
  const deadlineMs = checkoutDeadlineMs(fields['checkout_expired_time'], txdtmMs);
  if (deadlineMs !== undefined && Number.isNaN(deadlineMs))
    throw new CheckoutError('bad_link', 'checkout_expired_time must be digits.', failedUrl);
  const merchant = merchantKey(credential.appcode, credential.mchid);
  const existing = engine.ledger.byOutTradeNo(merchant, fields['out_trade_no']!);
  const paid = existing && isSameCheckout(existing, txamt, currency.code) ? existing : undefined;
  if (existing && !paid)
    throw new CheckoutError(
      'used',
      `out_trade_no ${fields['out_trade_no']} is already used by another order of this merchant.`,
      failedUrl,
    );
  if (!paid && deadlineMs !== undefined && engine.clock.now() > deadlineMs)
    throw new CheckoutError('expired', 'This checkout link has expired.', failedUrl);
  return { fields, credential, merchant, txamt, txcurrcd: currency.code, deadlineMs, paid };
}

function isSameCheckout(transaction: SimTransaction, txamt: number, txcurrcd: string): boolean {
  return (
    transaction.orderType === 'payment' &&
    transaction.state === 'PAID' &&
    transaction.txamt === txamt &&
    transaction.txcurrcd === txcurrcd
  );
}

/** The mchid rule, as for the API: a credential with an mchid needs it as `mchntid`, one without must not. */
function credentialFor(engine: SimulatorEngine, fields: Readonly<Record<string, string>>): SimCredential {
  const mchntid = fields['mchntid'] || undefined;
  const credential = engine.credentials.find(
    (candidate) => candidate.appcode === fields['appcode'] && candidate.mchid === mchntid,
  );
  if (!credential)
    throw new CheckoutError(
      'bad_signature',
      'The checkout link names an app code (and mchntid) this merchant does not have.',
    );
  return credential;
}

export function sessionView(session: CheckoutSession): SessionView {
  const lang = session.fields['lang'];
  return {
    out_trade_no: session.fields['out_trade_no']!,
    txamt: session.txamt,
    txcurrcd: session.txcurrcd,
    amount_display: amountDisplay(session.txamt, session.txcurrcd),
    goods_name: session.fields['goods_name'] ?? null,
    lang: lang && (CHECKOUT_LANGUAGES as readonly string[]).includes(lang) ? lang : 'en',
    methods: availableMethods(session).map((id) => ({ id, label: CHECKOUT_METHODS[id].label })),
    expires_at_ms: session.deadlineMs ?? null,
    paid: session.paid !== undefined,
    return_url: session.fields['return_url']!,
    failed_url: session.fields['failed_url']!,
    cancel_url: session.fields['cancel_url'] || session.fields['failed_url']!,
  };
}

/** Wallets only take HKD here; cards take any currency the link names. */
function availableMethods(session: CheckoutSession): CheckoutMethod[] {
  return session.txcurrcd === 'HKD' ? ['alipay_hk', 'payme', 'card'] : ['card'];
}

export type PayResult =
  | { readonly result: 'paid'; readonly redirect: string; readonly syssn: string }
  | { readonly result: 'declined'; readonly redirect: string; readonly message: string }
  | { readonly result: 'challenge'; readonly challenge_id: string };

interface PendingChallenge {
  readonly query: string;
  readonly card: string;
  readonly expiresAtMs: number;
}

/** Open 3-D Secure challenges, by id. In memory: a challenge lives for minutes, like the page. */
export class CheckoutDesk {
  private readonly challenges = new Map<string, PendingChallenge>();

  constructor(private readonly engine: SimulatorEngine) {}

  pay(query: string, method: string, cardNumber: string | undefined): PayResult {
    const session = openCheckoutSession(this.engine, query);
    const failedUrl = session.fields['failed_url']!;
    if (session.paid)
      return { result: 'paid', redirect: session.fields['return_url']!, syssn: session.paid.syssn };
    if (!availableMethods(session).includes(method as CheckoutMethod))
      throw new CheckoutError(
        'bad_request',
        `Payment method ${method} is not offered for this order.`,
        failedUrl,
      );
    if (method !== 'card') return this.record(session, method as CheckoutMethod, '');
    const card = (cardNumber ?? '').replace(/[\s-]/g, '');
    if (card === TEST_CARDS.frictionless) return this.record(session, 'card', card);
    if (card === TEST_CARDS.challenge) {
      const id = randomBytes(16).toString('base64url');
      this.challenges.set(id, { query, card, expiresAtMs: Date.now() + 10 * 60_000 });
      return { result: 'challenge', challenge_id: id };
    }
    return {
      result: 'declined',
      redirect: failedUrl,
      message:
        card === TEST_CARDS.declined
          ? 'The card issuer declined the payment.'
          : 'Unknown test card: use one of the simulator test cards (docs/simulator.md).',
    };
  }

  completeChallenge(query: string, challengeId: string, code: string): PayResult {
    const challenge = this.challenges.get(challengeId);
    if (!challenge || challenge.query !== query || challenge.expiresAtMs < Date.now())
      throw new CheckoutError('unknown_challenge', 'This 3-D Secure challenge is unknown or has expired.');
    this.challenges.delete(challengeId);
    const session = openCheckoutSession(this.engine, query);
    if (code !== CHALLENGE_CODE)
      return {
        result: 'declined',
        redirect: session.fields['failed_url']!,
        message: 'The 3-D Secure code was wrong; the card issuer declined the payment.',
      };
    if (session.paid)
      return { result: 'paid', redirect: session.fields['return_url']!, syssn: session.paid.syssn };
    return this.record(session, 'card', challenge.card);
  }

  /** Books the payment, settles it (which sends the notification) and tells where to send the browser. */
  private record(session: CheckoutSession, method: CheckoutMethod, card: string): PayResult {
    const { engine } = this;
    const payType = findPayType(CHECKOUT_METHODS[method].payType);
    if (!payType) throw new Error(`pay type ${CHECKOUT_METHODS[method].payType} vanished from the catalog`);
    const now = engine.clock.now();
    const transaction = engine.ledger.add({
      syssn: engine.syssn.next(now),
      merchant: session.merchant,
      appcode: session.credential.appcode,
      mchid: session.credential.mchid,
      orderType: 'payment',
      outTradeNo: session.fields['out_trade_no']!,
      payType: payType.payType,
      mode: payType.mode,
      txamt: session.txamt,
      txcurrcd: session.txcurrcd,
      txdtm: session.fields['txdtm']!,
      createdAtSimMs: now,
      origSyssn: undefined,
      goodsName: session.fields['goods_name'] || undefined,
      udid: session.fields['udid'] || '',
      notifyUrl: session.fields['notify_url'],
      state: 'PROCESSING',
      respcd: '1143',
      errmsg: '',
    });
    engine.ledger.markPaid(transaction, now, {
      chnlsn: channelSerialFor(payType, now),
      cardcd: card ? `${card.slice(0, 6)}******${card.slice(-4)}` : '',
    });
    engine.reschedule();
    return { result: 'paid', redirect: session.fields['return_url']!, syssn: transaction.syssn };
  }
}
