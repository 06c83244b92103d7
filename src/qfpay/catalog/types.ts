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
  /** True when the code only appears in old QFPay docs (reference notes §8, "old sources"). */
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
  /** Whether `expired_time` is honoured. */
  readonly supportsExpiredTime: boolean;
  readonly cancelEndpoint: CancelEndpoint;
  /** What the create-payment response carries for the customer: qrcode, pay_url, pay_params, or nothing (CPM). */
  readonly returns: 'qrcode' | 'pay_url' | 'pay_params' | 'none';
  /** True when this type cannot be created through /trade/v1/payment by this server (cards via Checkout/Element, ECR-only). */
  readonly apiCreatable: boolean;
  /** True when only documented in older QFPay docs. */
  readonly legacy?: boolean;
}

export interface CurrencyEntry {
  /** ISO 4217 alphabetic code. */
  readonly code: string;
  readonly name: string;
  /** ISO 4217 minor-unit exponent: txamt 1050 with exponent 2 is 10.50. */
  readonly exponent: number;
}

export type EnvironmentName = 'local' | 'sandbox' | 'test' | 'prod';

export interface EnvironmentEntry {
  readonly name: EnvironmentName;
  readonly title: string;
  /** Default base URL; `local` has none because the embedded simulator picks a port. */
  readonly baseUrl: string | null;
  readonly realMoney: boolean;
  readonly description: string;
}
