/** QFPay data declared once: response codes, pay types, currencies, environments. */
export type * from './types.js';
export { CURRENCIES, CURRENCY_CODES, findCurrency } from './currencies.js';
export { ENVIRONMENTS, ENVIRONMENT_NAMES, getEnvironment } from './environments.js';
export {
  RESPONSE_CODES,
  RESPCD_ENDPOINTS,
  PENDING_CODES,
  findResponseCode,
  explainRespcd,
  normaliseRespcd,
} from './respcd.js';
export { PAY_TYPES, PAY_TYPE_CODES, findPayType, filterPayTypes } from './pay-types.js';
export { GOODS_NAME_ADVICE, GOODS_NAME_MAX_BYTES, goodsNameProblem } from './field-limits.js';
export type { PayTypeFilter } from './pay-types.js';
