/** How an agent should treat a response code. */
export type OutcomeClass = 'success' | 'pending' | 'failed' | 'retryable';

export interface ResponseCodeEntry {
  /** Four-digit code as QFPay sends it, e.g. "1143". */
  readonly code: string;
  /** Short meaning in English. */
  readonly meaning: string;
  readonly outcome: OutcomeClass;
  /** The most likely cause, in a sentence. */
  readonly likelyCause: string;
  /** What an agent should do next, in a sentence (never "retry the payment with a new out_trade_no" blindly). */
  readonly nextAction: string;
  /** True when the code only appears in old QFPay docs (the legacy tables). */
  readonly legacy?: boolean;
}

/** How the customer and merchant interact for a pay type. */
export type PayMode = 'CPM' | 'MPM' | 'WEB' | 'WAP' | 'APP' | 'JSAPI' | 'MINI' | 'CARD' | 'PREAUTH';

export type Wallet =
  'Alipay' | 'WeChat Pay' | 'PayMe' | 'UnionPay' | 'FPS' | 'Octopus' | 'Card' | 'Apple Pay' | 'Unified';

/** Which endpoint cancels an unpaid or unknown-state order of this pay type. */
export type CancelEndpoint = 'close' | 'reversal' | 'none';

export interface PayTypeEntry {
  /** Six-digit pay type code, e.g. "800101". */
  readonly payType: string;
  readonly name: string;
  readonly wallet: Wallet;
  readonly mode: PayMode;
  /** Where it applies (HK merchants, overseas merchants...) and any doc caveats. */
  readonly regionNotes: string;
  readonly refundable: boolean;
  /** Extra request fields this pay type requires beyond txamt/txcurrcd/pay_type/out_trade_no/txdtm. */
  readonly requiredFields: readonly string[];
  /** Optional fields worth knowing for this type. */
  readonly optionalFields: readonly string[];
  /** Strictly greater-than minimum in minor units per currency, when QFPay documents one (801101: > 1 HKD). */
  readonly minimumExclusive?: Readonly<Record<string, number>>;
  /** Human-readable amount rule. */
  readonly amountRule?: string;
  /** The only currencies QFPay documents for this type; absent when any enabled currency works. */
  readonly currencies?: readonly string[];
  /** Whether `expired_time` is honoured. */
  readonly supportsExpiredTime: boolean;
  readonly cancelEndpoint: CancelEndpoint;
  /** With cancelEndpoint none: what to do instead of cancelling (expire, keep querying, refund). */
  readonly cancelAdvice?: string;
  /** What the create-payment response carries for the customer: qrcode, pay_url, pay_params, or nothing (CPM). */
  readonly returns: 'qrcode' | 'pay_url' | 'pay_params' | 'none';
  /** True when this type cannot be created through /trade/v1/payment by this server (cards via Checkout/Element, ECR-only). */
  readonly apiCreatable: boolean;
  /**
   * Environments where a customer can pay with this type on QFPay's hosted checkout page (the link
   * create_checkout_link makes); absent when the checkout does not take it. This is how cards and
   * Apple Pay are taken without any card data passing through this server.
   */
  readonly hostedCheckout?: readonly EnvironmentName[];
  /** True when only documented in older QFPay docs. */
  readonly legacy?: boolean;
}

/** Singular and plural English names of a unit, for amounts written out in words. */
export interface UnitName {
  readonly one: string;
  readonly other: string;
}

export interface CurrencyEntry {
  /** ISO 4217 alphabetic code. */
  readonly code: string;
  readonly name: string;
  /** ISO 4217 minor-unit exponent: txamt 1050 with exponent 2 is 10.50. */
  readonly exponent: number;
  /** Name of the major unit in words ("Hong Kong dollar"); the code is used when absent. */
  readonly majorUnit?: UnitName;
  /** Name of the minor unit in words ("cent"); only meaningful when exponent > 0. */
  readonly minorUnit?: UnitName;
}

export type EnvironmentName = 'local' | 'sandbox' | 'test' | 'prod';

export interface EnvironmentEntry {
  readonly name: EnvironmentName;
  readonly title: string;
  /** Default base URL; `local` has none because the embedded simulator picks a port. */
  readonly baseUrl: string | null;
  readonly realMoney: boolean;
  /** Whether the day's trade bill (`/download/v1/trade_bill`) can be downloaded there: production only (qfpay-api.md §3.7), and the simulator. */
  readonly servesTradeBill: boolean;
  readonly description: string;
}

/**
 * Where a response code was read. The same code means different things in each place:
 * `query` is the query call's own top-level respcd, `query_row` is a transaction's respcd inside
 * the query answer's `data[]`.
 */
export type RespcdEndpoint =
  | 'payment'
  | 'query'
  | 'query_row'
  | 'refund'
  | 'close'
  | 'reversal'
  | 'notification'
  /** POST /trade/v1/authtrade (capture) and /trade/v1/unfreeze (release) of a pre-authorisation. */
  | 'authtrade'
  | 'unfreeze';

export interface RespcdContext {
  readonly endpoint?: RespcdEndpoint;
  readonly mode?: PayMode;
  /** A pay_type code; its mode is used when `mode` is not given. */
  readonly payType?: string;
}

/** A response code explained for an agent (snake_case: it is returned by tools as is). */
export interface RespcdExplanation {
  readonly code: string;
  readonly known: boolean;
  readonly meaning: string;
  readonly outcome: OutcomeClass;
  readonly likely_cause: string;
  readonly next_action: string;
  /** What this code means in the given context (endpoint, pay mode), when that differs from the table. */
  readonly context_note?: string;
  /** True when the code only appears in old QFPay docs. */
  readonly legacy?: boolean;
}
