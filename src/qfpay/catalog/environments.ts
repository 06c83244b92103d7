import type { EnvironmentEntry, EnvironmentName } from './types.js';

/** QFPay's documented Hong Kong hosts plus the embedded simulator. */
export const ENVIRONMENTS: readonly EnvironmentEntry[] = [
  {
    name: 'local',
    title: 'Embedded simulator',
    baseUrl: null,
    realMoney: false,
    description:
      'The QFPay simulator started in-process on loopback. No credentials needed; whole flows can be rehearsed offline, and customers are simulated with simulate_customer_payment.',
  },
  {
    name: 'sandbox',
    title: 'QFPay sandbox',
    baseUrl: 'https://openapi-int.qfapi.com',
    realMoney: false,
    description:
      'QFPay integration sandbox. Documented as simulating card payments only; wallet pay types may not be supported.',
  },
  {
    name: 'test',
    title: 'QFPay live testing',
    baseUrl: 'https://test-openapi-hk.qfapi.com',
    realMoney: true,
    description:
      'Real payment flow with real wallets; test accounts are not settled. Refund test payments the same day.',
  },
  {
    name: 'prod',
    title: 'QFPay production',
    baseUrl: 'https://openapi-hk.qfapi.com',
    realMoney: true,
    description:
      'Real money, settled to the merchant. Writes need --allow-prod-writes and a bound confirmation.',
  },
];

export const ENVIRONMENT_NAMES = ENVIRONMENTS.map((e) => e.name) as [EnvironmentName, ...EnvironmentName[]];

export function getEnvironment(name: EnvironmentName): EnvironmentEntry {
  const entry = ENVIRONMENTS.find((e) => e.name === name);
  if (!entry) throw new Error(`unknown environment ${name}`);
  return entry;
}
