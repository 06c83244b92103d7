import type { CancelEndpoint, EnvironmentName, PayMode, PayTypeEntry, Wallet } from './types.js';
import { PAY_TYPE_WORDS } from './words.js';

/**
 * QFPay pay types (D `docs/01-preparation/02-paycode.md`, M `paytypes.md`).
 * Each type is declared once below; the fields that follow from its mode and wallet (what the
 * response returns, which cancel endpoint, the mode's required fields) are derived by the rules in
 * this file so that they cannot drift apart between entries.
 */

/**
 * Types whose `expired_time` QFPay honours: the list in D's public payment parameters
 * plus 800213, whose own page (D `06-wechat/04-wechat-mini-programs.md`) lists expired_time 5–120.
 */
const EXPIRED_TIME_TYPES: ReadonlySet<string> = new Set([
  '800213',
  '800201',
  '800101',
  '801512',
  '801501',
  '801107',
  '801101',
  '801010',
  '801510',
]);

/** What the create-payment answer carries for the customer, by mode. */
function returnsFor(mode: PayMode): PayTypeEntry['returns'] {
  switch (mode) {
    case 'MPM':
      return 'qrcode';
    case 'WEB':
    case 'WAP':
      return 'pay_url';
    case 'APP':
    case 'JSAPI':
    case 'MINI':
      return 'pay_params';
    case 'CPM':
    case 'CARD':
    case 'PREAUTH':
      return 'none';
  }
}

/**
 * The one rule for choosing /trade/v1/reversal or /trade/v1/close (README "Where QFPay's documentation conflicts"; a documented
 * conflict). We follow D, the official docs in both English and Chinese:
 * - Hong Kong pay types → none. D: "Hong Kong PayTypes do not support transaction cancel". D does
 *   not list them; we take the types QFPay offers to Hong Kong merchants only (`hongKong` below:
 *   Alipay HK, WeChat Pay HK direct settlement, PayMe, UnionPay HK online, FPS, Octopus).
 *   cancel_payment refuses them before sending, with what to do instead (cancelAdviceFor).
 * - Alipay (every other mode) → reversal. D names reversal for Alipay CPM and MPM, and the old docs
 *   (G/J) say /close does not work for Alipay orders at all ("Alipay not applicable"), so reversal is
 *   the only Alipay endpoint that can work. The Alipay pre-auth page also cancels with reversal.
 * - WeChat Pay CPM, and unified CPM 800008 (which is mostly WeChat/Alipay codes) → reversal (D; G/J
 *   also reserve reversal for offline CPM network trouble). M's 2026 page says the opposite for
 *   WeChat (close for CPM, reversal for MPM) and contradicts itself on the same page, so it loses.
 * - Every other wallet and mode → close (D: "WeChat Pay MPM and other qualified wallets").
 * - Types this server cannot create (cards through Checkout/Element or terminals, ECR-only) → none:
 *   cards are voided by a same-day refund and terminals cancel on the device.
 */
function cancelEndpointFor(
  wallet: Wallet,
  mode: PayMode,
  apiCreatable: boolean,
  hongKong: boolean,
): CancelEndpoint {
  if (!apiCreatable && mode !== 'PREAUTH') return 'none';
  if (hongKong) return 'none';
  if (wallet === 'Alipay') return 'reversal';
  if (mode === 'CPM' && (wallet === 'WeChat Pay' || wallet === 'Unified')) return 'reversal';
  return 'close';
}

/** What to do instead when an order of this type cannot be cancelled (shown by cancel_payment). */
function cancelAdviceFor(mode: PayMode, apiCreatable: boolean, hongKong: boolean): string | undefined {
  if (!apiCreatable && mode !== 'PREAUTH')
    return 'Let the order expire, or cancel it on the terminal or checkout where it was created; refund it if it ends up paid.';
  if (!hongKong) return undefined;
  if (mode === 'CPM')
    return 'QFPay does not cancel Hong Kong pay types. Keep querying the payment (query_transaction / wait_for_payment) until it is final; if it ends PAID and the customer should not be charged, refund it.';
  return 'QFPay does not cancel Hong Kong pay types. Stop showing the QR code or link: the order expires by itself (expired_time, default 30 minutes) and then can no longer be paid; if it ends up PAID, refund it.';
}

/** Fields a mode needs on top of txamt/txcurrcd/pay_type/out_trade_no/txdtm. */
function modeRequiredFields(mode: PayMode): string[] {
  if (mode === 'CPM') return ['auth_code'];
  // D: goods_name "cannot be empty for app payment".
  if (mode === 'APP') return ['goods_name'];
  return [];
}

function optionalFieldsFor(payType: string, wallet: Wallet, mode: PayMode): string[] {
  const fields = ['goods_name', 'goods_info', 'notify_url', 'udid'];
  if (EXPIRED_TIME_TYPES.has(payType)) fields.push('expired_time');
  if (mode === 'WEB' || mode === 'WAP' || mode === 'JSAPI') fields.push('return_url');
  // limit_pay=no_credit only applies to the mainland wallets.
  if (wallet === 'Alipay' || wallet === 'WeChat Pay' || wallet === 'Unified') fields.push('limit_pay');
  if (wallet === 'Alipay') fields.push('pay_tag');
  if (wallet === 'WeChat Pay') fields.push('rmb_tag', 'extend_info');
  return fields;
}

const HK_NO_CANCEL =
  'QFPay docs say Hong Kong pay types do not support cancel: cancel_payment refuses it; let an unpaid order expire, refund a paid one.';

interface Declaration {
  readonly payType: string;
  readonly name: string;
  readonly wallet: Wallet;
  readonly mode: PayMode;
  readonly regionNotes: string;
  /** Defaults to true; only `***` types are documented as non-refundable. */
  readonly refundable?: boolean;
  /** Offered to Hong Kong merchants only: QFPay does not cancel these (see cancelEndpointFor). */
  readonly hongKong?: boolean;
  /** Required beyond what the mode requires. */
  readonly extraRequired?: readonly string[];
  readonly minimumExclusive?: Readonly<Record<string, number>>;
  readonly amountRule?: string;
  /** Defaults to true. */
  readonly apiCreatable?: boolean;
  readonly legacy?: boolean;
  readonly currencies?: readonly string[];
  /** Only for pre-auth types, whose answer follows the doc's own label rather than the mode. */
  readonly returns?: PayTypeEntry['returns'];
  readonly hostedCheckout?: readonly EnvironmentName[];
}

function declare(d: Declaration): PayTypeEntry {
  const apiCreatable = d.apiCreatable ?? true;
  const requiredFields = [...modeRequiredFields(d.mode), ...(d.extraRequired ?? [])];
  const optionalFields = optionalFieldsFor(d.payType, d.wallet, d.mode).filter(
    (f) => !requiredFields.includes(f),
  );
  return {
    payType: d.payType,
    name: d.name,
    wallet: d.wallet,
    mode: d.mode,
    regionNotes: d.regionNotes,
    refundable: d.refundable ?? true,
    requiredFields,
    optionalFields,
    ...(d.minimumExclusive ? { minimumExclusive: d.minimumExclusive } : {}),
    ...(d.amountRule ? { amountRule: d.amountRule } : {}),
    ...(d.currencies ? { currencies: d.currencies } : {}),
    supportsExpiredTime: EXPIRED_TIME_TYPES.has(d.payType),
    cancelEndpoint: cancelEndpointFor(d.wallet, d.mode, apiCreatable, d.hongKong ?? false),
    ...optional('cancelAdvice', cancelAdviceFor(d.mode, apiCreatable, d.hongKong ?? false)),
    returns: d.returns ?? returnsFor(d.mode),
    apiCreatable,
    ...optional('hostedCheckout', d.hostedCheckout),
    ...(d.legacy ? { legacy: true } : {}),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/**
 * Where the hosted checkout takes cards (D `03-online-shop/02-checkout.md`, reference notes §10):
 * QFPay's sandbox exists to simulate cards (its test cards), live testing and production take real
 * cards, and the embedded simulator's checkout page simulates a card with its own test cards
 * (docs/simulator.md).
 */
const CARD_CHECKOUT: readonly EnvironmentName[] = ['local', 'sandbox', 'test', 'prod'];
/**
 * Apple Pay on the checkout needs a real Apple wallet: QFPay documents no Apple Pay simulation in the
 * sandbox (whose notes say it may not offer every method), and the embedded simulator has none.
 */
const APPLE_PAY_CHECKOUT: readonly EnvironmentName[] = ['test', 'prod'];

/** Pay types QFPay documents for Hong Kong dollars only (PayMe, FPS, Octopus). */
const HKD_ONLY = ['HKD'] as const;

/** `**` in QFPay's table: the amount must be greater than 1 HKD. */
const ABOVE_ONE_HKD = {
  minimumExclusive: { HKD: 100 },
  amountRule: 'Amount must be greater than HKD 1.00 (txamt > 100). An older Chinese doc said 1 MYR.',
} as const;

/** The Alipay pre-authorisation page's currencies. */
const PREAUTH_CURRENCIES = ['AUD', 'HKD', 'MYR', 'NZD', 'PHP', 'SGD', 'THB', 'USD'] as const;

const PREAUTH_NOTES =
  'Pre-authorisation (hidden doc page): holds the amount; the request is valid 15 minutes. Capture within the window (7 days, 28 for hotels/rentals) with capture_preauth, free the rest with release_preauth; refund a capture’s syssn, never the authorisation’s. Query cancel=4: finished.';

const CURRENT_TYPES: readonly PayTypeEntry[] = [
  declare({
    payType: '800008',
    name: 'Unified CPM (WeChat Pay, Alipay, UnionPay QuickPass, PayMe)',
    wallet: 'Unified',
    mode: 'CPM',
    regionNotes:
      'HK and overseas merchants. QFPay detects the wallet from the auth_code; the answer’s pay_type shows the wallet actually used.',
  }),
  declare({
    payType: '800101',
    name: 'Alipay MPM (in-store QR)',
    wallet: 'Alipay',
    mode: 'MPM',
    regionNotes: 'Overseas merchants. QR content is an https://qr.alipay.com/... link.',
  }),
  declare({
    payType: '800108',
    name: 'Alipay CPM',
    wallet: 'Alipay',
    mode: 'CPM',
    regionNotes: 'Overseas and HK merchants.',
  }),
  declare({
    payType: '801101',
    name: 'Alipay online web (desktop browser)',
    wallet: 'Alipay',
    mode: 'WEB',
    regionNotes: 'Overseas merchants. Marked ** in QFPay’s table.',
    ...ABOVE_ONE_HKD,
  }),
  declare({
    payType: '801107',
    name: 'Alipay online WAP (mobile browser)',
    wallet: 'Alipay',
    mode: 'WAP',
    regionNotes: 'Overseas merchants. Alipay limits return_url to 200 characters.',
  }),
  declare({
    payType: '801110',
    name: 'Alipay in-app',
    wallet: 'Alipay',
    mode: 'APP',
    regionNotes:
      'Overseas merchants. pay_params is a flat dict of Alipay mobile parameters whose total_fee is in major units.',
  }),
  declare({
    payType: '800107',
    name: 'Alipay Service Window H5 (inside the Alipay app)',
    wallet: 'Alipay',
    mode: 'JSAPI',
    regionNotes: 'Needs the payer’s Alipay user_id as openid; pay_params carries tradeNO.',
    extraRequired: ['openid'],
  }),
  declare({
    payType: '801501',
    name: 'Alipay MPM (in-store QR), HK',
    wallet: 'Alipay',
    mode: 'MPM',
    regionNotes: `HK merchants. ${HK_NO_CANCEL}`,
    hongKong: true,
  }),
  declare({
    payType: '801510',
    name: 'Alipay in-app, HK',
    wallet: 'Alipay',
    mode: 'APP',
    regionNotes: `HK merchants. ${HK_NO_CANCEL}`,
    hongKong: true,
  }),
  declare({
    payType: '801512',
    name: 'Alipay online WAP (mobile browser), HK',
    wallet: 'Alipay',
    mode: 'WAP',
    regionNotes: `HK merchants. Alipay limits return_url to 200 characters. ${HK_NO_CANCEL}`,
    hongKong: true,
  }),
  declare({
    payType: '801514',
    name: 'Alipay online web (desktop browser), HK',
    wallet: 'Alipay',
    mode: 'WEB',
    regionNotes: `HK merchants. ${HK_NO_CANCEL}`,
    hongKong: true,
  }),
  declare({
    payType: '800201',
    name: 'WeChat Pay MPM / web QR',
    wallet: 'WeChat Pay',
    mode: 'MPM',
    regionNotes:
      'Overseas and HK merchants. Used both in store and as the desktop-web QR; qrcode is a weixin://wxpay/bizpayurl link.',
  }),
  declare({
    payType: '800208',
    name: 'WeChat Pay CPM',
    wallet: 'WeChat Pay',
    mode: 'CPM',
    regionNotes: 'Overseas and HK merchants.',
  }),
  declare({
    payType: '800207',
    name: 'WeChat Pay JSAPI (official account, inside WeChat)',
    wallet: 'WeChat Pay',
    mode: 'JSAPI',
    regionNotes:
      'Overseas and HK merchants. sub_openid comes from QFPay’s get_weixin_oauth_code / get_weixin_openid flow and is single-use.',
    extraRequired: ['sub_openid'],
  }),
  declare({
    payType: '800212',
    name: 'WeChat Pay H5 (mobile browser)',
    wallet: 'WeChat Pay',
    mode: 'WAP',
    regionNotes:
      'extend_info must carry scene_info.h5_info {type "Wap", wap_url, wap_name} and spbill_create_ip. Older docs used 800212 for "JSAPI, Canadian merchants".',
    extraRequired: ['extend_info'],
  }),
  declare({
    payType: '800210',
    name: 'WeChat Pay in-app',
    wallet: 'WeChat Pay',
    mode: 'APP',
    regionNotes:
      'Overseas and HK merchants. One newer doc also labels FPS app-to-app as 800210, which looks like a doc error.',
  }),
  declare({
    payType: '800213',
    name: 'WeChat Pay mini-program',
    wallet: 'WeChat Pay',
    mode: 'MINI',
    regionNotes: 'Overseas and HK merchants. Needs the user’s sub_openid for the mini-program.',
    extraRequired: ['sub_openid'],
  }),
  declare({
    payType: '801008',
    name: 'WeChat Pay HK CPM (direct settlement)',
    wallet: 'WeChat Pay',
    mode: 'CPM',
    regionNotes: `HK merchants with direct settlement. ${HK_NO_CANCEL}`,
    hongKong: true,
  }),
  declare({
    payType: '801010',
    name: 'WeChat Pay HK in-app (direct settlement)',
    wallet: 'WeChat Pay',
    mode: 'APP',
    regionNotes: `HK merchants with direct settlement. ${HK_NO_CANCEL}`,
    hongKong: true,
  }),
  declare({
    payType: '805801',
    name: 'PayMe MPM (in-store QR)',
    wallet: 'PayMe',
    mode: 'MPM',
    regionNotes: `HK merchants, HKD. ${HK_NO_CANCEL}`,
    currencies: HKD_ONLY,
    hongKong: true,
  }),
  declare({
    payType: '805808',
    name: 'PayMe CPM',
    wallet: 'PayMe',
    mode: 'CPM',
    regionNotes: `HK merchants, HKD. ${HK_NO_CANCEL}`,
    currencies: HKD_ONLY,
    hongKong: true,
  }),
  declare({
    payType: '805814',
    name: 'PayMe online web (desktop browser)',
    wallet: 'PayMe',
    mode: 'WEB',
    regionNotes: `HK merchants, HKD. ${HK_NO_CANCEL}`,
    currencies: HKD_ONLY,
    hongKong: true,
  }),
  declare({
    payType: '805812',
    name: 'PayMe online WAP (mobile browser)',
    wallet: 'PayMe',
    mode: 'WAP',
    regionNotes: `HK merchants, HKD. ${HK_NO_CANCEL}`,
    currencies: HKD_ONLY,
    hongKong: true,
  }),
  declare({
    payType: '800701',
    name: 'UnionPay QuickPass MPM (in-store QR)',
    wallet: 'UnionPay',
    mode: 'MPM',
    regionNotes: 'Customers must use the UnionPay overseas code (otherwise 1212).',
  }),
  declare({
    payType: '800708',
    name: 'UnionPay QuickPass CPM',
    wallet: 'UnionPay',
    mode: 'CPM',
    regionNotes: 'Customers must show the UnionPay overseas payment code (otherwise 1212).',
  }),
  declare({
    payType: '800712',
    name: 'UnionPay online WAP (mobile browser), HK',
    wallet: 'UnionPay',
    mode: 'WAP',
    regionNotes: `HK merchants. ${HK_NO_CANCEL}`,
    hongKong: true,
  }),
  declare({
    payType: '800714',
    name: 'UnionPay online PC web, HK',
    wallet: 'UnionPay',
    mode: 'WEB',
    regionNotes: `HK merchants. ${HK_NO_CANCEL}`,
    hongKong: true,
  }),
  declare({
    payType: '802001',
    name: 'FPS MPM (Faster Payment System QR)',
    wallet: 'FPS',
    mode: 'MPM',
    regionNotes: `HK merchants, HKD. Marked *** in QFPay’s table: refunds are not supported, settle returns outside QFPay. ${HK_NO_CANCEL}`,
    currencies: HKD_ONLY,
    hongKong: true,
    refundable: false,
  }),
  declare({
    payType: '803701',
    name: 'Octopus dynamic QR MPM',
    wallet: 'Octopus',
    mode: 'MPM',
    regionNotes: `HK merchants, HKD. ${HK_NO_CANCEL}`,
    currencies: HKD_ONLY,
    hongKong: true,
  }),
  declare({
    payType: '803712',
    name: 'Octopus online WAP (mobile browser)',
    wallet: 'Octopus',
    mode: 'WAP',
    regionNotes: `HK merchants, HKD. Listed in the newer docs (M) only. ${HK_NO_CANCEL}`,
    currencies: HKD_ONLY,
    hongKong: true,
  }),
  declare({
    payType: '803714',
    name: 'Octopus online PC web',
    wallet: 'Octopus',
    mode: 'WEB',
    regionNotes: `HK merchants, HKD. Listed in the newer docs (M) only. ${HK_NO_CANCEL}`,
    currencies: HKD_ONLY,
    hongKong: true,
  }),
  declare({
    payType: '803708',
    name: 'Octopus on a QFPay terminal (ECR)',
    wallet: 'Octopus',
    mode: 'CARD',
    regionNotes:
      'Only appears in the POS/ECR protocol docs as a terminal mapping; taken on a QFPay Android terminal, not through /trade/v1/payment.',
    apiCreatable: false,
  }),
  declare({
    payType: '802801',
    name: 'Visa / Mastercard online',
    wallet: 'Card',
    mode: 'CARD',
    regionNotes:
      'Taken through the hosted checkout (create_checkout_link) or the Payment Element (3-D Secure), not through /trade/v1/payment. A same-day refund is processed as a void.',
    apiCreatable: false,
    hostedCheckout: CARD_CHECKOUT,
  }),
  declare({
    payType: '802808',
    name: 'Visa / Mastercard offline (terminal)',
    wallet: 'Card',
    mode: 'CARD',
    regionNotes: 'Card-present on a QFPay terminal. A same-day refund must be for the full amount.',
    apiCreatable: false,
  }),
  declare({
    payType: '806527',
    name: 'Apple Pay online',
    wallet: 'Apple Pay',
    mode: 'CARD',
    regionNotes:
      'Taken through the hosted checkout (create_checkout_link) or the Payment Element, not through /trade/v1/payment.',
    apiCreatable: false,
    hostedCheckout: APPLE_PAY_CHECKOUT,
  }),
  declare({
    payType: '806708',
    name: 'UnionPay card offline (terminal)',
    wallet: 'Card',
    mode: 'CARD',
    regionNotes: 'Card-present on a QFPay terminal.',
    apiCreatable: false,
  }),
  declare({
    payType: '806808',
    name: 'American Express offline (terminal)',
    wallet: 'Card',
    mode: 'CARD',
    regionNotes: 'Card-present on a QFPay terminal.',
    apiCreatable: false,
  }),
  // Alipay pre-authorisation (README "Pre-authorisation"): from a hidden doc page whose labels call
  // 801801 CPM and 801808 MPM, the reverse of QFPay's usual suffix convention (…01 MPM, …08 CPM).
  // `returns` and 801801's auth_code follow the doc's labels. Created through create_payment (an
  // authorisation holds the money: capture_preauth takes it, release_preauth frees the rest).
  // Card pre-authorisation (VisaMasterCardPreAuth) exists only in the Payment Element, which this
  // server does not drive: no tool ever handles card data.
  declare({
    payType: '801801',
    name: 'Alipay pre-authorisation, scanned customer code (labelled CPM)',
    wallet: 'Alipay',
    mode: 'PREAUTH',
    regionNotes: PREAUTH_NOTES,
    extraRequired: ['auth_code'],
    currencies: PREAUTH_CURRENCIES,
    returns: 'none',
  }),
  declare({
    payType: '801808',
    name: 'Alipay pre-authorisation, QR (labelled MPM)',
    wallet: 'Alipay',
    mode: 'PREAUTH',
    regionNotes: `${PREAUTH_NOTES} The label contradicts the usual suffix convention.`,
    currencies: PREAUTH_CURRENCIES,
    returns: 'qrcode',
  }),
  declare({
    payType: '801810',
    name: 'Alipay pre-authorisation in-app',
    wallet: 'Alipay',
    mode: 'PREAUTH',
    regionNotes: PREAUTH_NOTES,
    currencies: PREAUTH_CURRENCIES,
    returns: 'pay_params',
  }),
  declare({
    payType: '801814',
    name: 'Alipay pre-authorisation online',
    wallet: 'Alipay',
    mode: 'PREAUTH',
    regionNotes: PREAUTH_NOTES,
    currencies: PREAUTH_CURRENCIES,
    returns: 'pay_url',
  }),
];

/**
 * Types only in older docs (D-old, or commented out in D) that fit the wallets we model.
 * Regional wallets (GrabPay, Boost, PayNow, PromptPay…) are left out: they are not offered to
 * Hong Kong merchants and have no wallet in our model.
 */
const LEGACY_TYPES: readonly PayTypeEntry[] = [
  declare({
    payType: '805810',
    name: 'PayMe in-app',
    wallet: 'PayMe',
    mode: 'APP',
    regionNotes: 'Only in the 2023–24 docs; no longer listed.',
    hongKong: true,
    legacy: true,
  }),
  declare({
    payType: '800710',
    name: 'UnionPay in-app, HK',
    wallet: 'UnionPay',
    mode: 'APP',
    regionNotes: 'Commented out of the current table.',
    hongKong: true,
    legacy: true,
  }),
  declare({
    payType: '805508',
    name: 'Credit card via First Data, quick payment mode',
    wallet: 'Card',
    mode: 'CARD',
    regionNotes: 'HK merchants; commented out of the current table, replaced by Checkout/Element.',
    apiCreatable: false,
    legacy: true,
  }),
  declare({
    payType: '805514',
    name: 'Credit card via First Data, security verification mode',
    wallet: 'Card',
    mode: 'CARD',
    regionNotes: 'HK merchants; commented out of the current table, replaced by Checkout/Element.',
    apiCreatable: false,
    legacy: true,
  }),
];

/** Every pay type we know: current ones first, then old-doc ones (`legacy: true`). */
export const PAY_TYPES: readonly PayTypeEntry[] = [...CURRENT_TYPES, ...LEGACY_TYPES];

const BY_CODE: ReadonlyMap<string, PayTypeEntry> = new Map(PAY_TYPES.map((p) => [p.payType, p]));

export function findPayType(code: string): PayTypeEntry | undefined {
  return BY_CODE.get(code.trim());
}

function nonEmpty<T>(items: readonly T[], what: string): readonly [T, ...T[]] {
  if (items.length === 0) throw new Error(`catalog invariant broken: no ${what}`);
  return items as readonly [T, ...T[]];
}

/** Codes this server can create through /trade/v1/payment (current, apiCreatable), for `z.enum`. */
export const PAY_TYPE_CODES: readonly [string, ...string[]] = nonEmpty(
  PAY_TYPES.filter((p) => p.apiCreatable && !p.legacy).map((p) => p.payType),
  'API-creatable pay type',
);

export interface PayTypeFilter {
  readonly mode?: PayMode;
  readonly wallet?: Wallet;
  /** Case-insensitive substring of the code, a name (any language), the wallet or region notes. */
  readonly text?: string;
  /** Defaults to true; false hides types that only old docs list. */
  readonly includeLegacy?: boolean;
  /** Defaults to false; true keeps only types this server can create. */
  readonly apiCreatableOnly?: boolean;
}

export function filterPayTypes(filter: PayTypeFilter = {}): PayTypeEntry[] {
  const needle = filter.text?.trim().toLowerCase();
  return PAY_TYPES.filter(
    (p) =>
      (filter.mode === undefined || p.mode === filter.mode) &&
      (filter.wallet === undefined || p.wallet === filter.wallet) &&
      (filter.includeLegacy !== false || !p.legacy) &&
      (!filter.apiCreatableOnly || p.apiCreatable) &&
      (!needle || searchableText(p).some((s) => s.toLowerCase().includes(needle))),
  );
}

/** What a text filter searches: the code, the names in every language, the wallet and the notes. */
function searchableText(p: PayTypeEntry): string[] {
  const chinese = PAY_TYPE_WORDS[p.payType];
  return [p.payType, p.name, ...(chinese ? Object.values(chinese) : []), p.wallet, p.regionNotes];
}
