import type { EnvironmentEntry, EnvironmentName } from './types.js';

/** QFPay's documented Hong Kong hosts plus the embedded simulator. */
export const ENVIRONMENTS: readonly EnvironmentEntry[] = [
  {
    name: 'local',
    title: 'Embedded simulator',
    baseUrl: null,
    realMoney: false,
    servesTradeBill: true,
    description:
      'The QFPay simulator started in-process on loopback. No credentials needed; whole flows can be rehearsed offline, and customers are simulated with simulate_customer_payment.',
  },
  {
    name: 'sandbox',
    title: 'QFPay sandbox',
    baseUrl: 'https://openapi-int.qfapi.com',
    realMoney: false,
    servesTradeBill: false,
    description:
      'QFPay integration sandbox. Documented as simulating card payments only: cards are rehearsed there through the hosted checkout (create_checkout_link) with QFPay’s test cards. Wallet flows are tested in test (real wallets) or rehearsed in local.',
  },
  {
    name: 'test',
    title: 'QFPay live testing',
    baseUrl: 'https://test-openapi-hk.qfapi.com',
    realMoney: true,
    servesTradeBill: false,
    description:
      'Real payment flow with real wallets and real money; test accounts are not settled. Refund test payments the same day. Writes need a bound confirmation by default.',
  },
  {
    name: 'prod',
    title: 'QFPay production',
    baseUrl: 'https://openapi-hk.qfapi.com',
    realMoney: true,
    servesTradeBill: true,
    description:
      'Real money, settled to the merchant. Writes need --allow-prod-writes and a bound confirmation.',
  },
];

/**
 * What each environment can rehearse, in the words start-up, `doctor` and references/setup.md use
 * (reference notes §1.1: the sandbox simulates cards only, which this server takes through the hosted
 * checkout link).
 */
export const ENVIRONMENT_CAPABILITIES: Readonly<Record<EnvironmentName, string>> = {
  local: 'everything, simulated: every tool and flow, customers simulated; no real money',
  sandbox:
    'card simulation only: cards through the hosted checkout (create_checkout_link) with QFPay test cards; wallet payments cannot be tested there',
  test: 'real wallets and real money (test accounts are not settled); refund test payments the same day',
  prod: 'real money, settled to the merchant',
};

/**
 * The hosts QFPay documents for each non-production environment (reference notes §1.1). The money
 * gate follows the destination: a host listed here is that environment, a loopback host is a
 * simulator, and every other host is treated as production whatever QFPAY_ENV says.
 */
export const NON_PRODUCTION_HOSTS: Readonly<Record<string, Exclude<EnvironmentName, 'local' | 'prod'>>> = {
  'openapi-int.qfapi.com': 'sandbox',
  'test-openapi-hk.qfapi.com': 'test',
};

/** Where requests to a host end up, for the money gate. */
export type DestinationClass = 'simulator' | 'sandbox' | 'test' | 'production';

export const ENVIRONMENT_NAMES = ENVIRONMENTS.map((e) => e.name) as [EnvironmentName, ...EnvironmentName[]];

export function getEnvironment(name: EnvironmentName): EnvironmentEntry {
  const entry = ENVIRONMENTS.find((e) => e.name === name);
  if (!entry) throw new Error(`unknown environment ${name}`);
  return entry;
}
