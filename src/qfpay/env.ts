import { QfpayConfigError } from './errors.js';

/**
 * Reading operator settings from environment variables, the same way everywhere: surrounding
 * whitespace is ignored and an empty value counts as unset (a `.env` line `QFPAY_X=` or a shell
 * `QFPAY_X=""` means "not configured", not "configured as nothing").
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** The trimmed value, or undefined when the variable is unset or blank. */
export function readVariable(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

const TRUE_WORDS: ReadonlySet<string> = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['0', 'false', 'no', 'off']);

/**
 * A switch: 1/true/yes/on or 0/false/no/off (any case); unset or blank gives `fallback`. Anything
 * else fails fast rather than guessing, since these switches guard money and verification.
 */
export function readBoolean(env: Env, variable: string, fallback: boolean): boolean {
  const raw = readVariable(env, variable);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (TRUE_WORDS.has(lower)) return true;
  if (FALSE_WORDS.has(lower)) return false;
  throw new QfpayConfigError(
    variable,
    'must be 1 or 0',
    `Set ${variable}=1 to enable or ${variable}=0 to disable, or unset it for the default (${fallback ? 'enabled' : 'disabled'}).`,
  );
}
