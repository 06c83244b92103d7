import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { normaliseForCardSearch } from '../../src/safety/sanitize.js';
import { call, envFor, openSession, type Session, upstreamCount, useWitness } from './helpers.js';

/**
 * Red-team finding B4: 7 of 14 spellings of a card number in goods_name/goods_info reached QFPay
 * and one reached the ledger unmasked. Each spelling here goes through a real MCP client, the
 * guard and a real ledger file against the simulator (the witness of what was sent).
 */

const PAYMENT = '/trade/v1/payment';
const ZWSP = '\u200b';

/** The 14 spellings, rebuilt from the red-team report; [goods_name, goods_info]. */
export const CARD_SPELLINGS: readonly (readonly [string, string, string | undefined])[] = [
  ['plain', 'card 4111111111111111', undefined],
  ['spaces', '4111 1111 1111 1111', undefined],
  ['hyphens', '5555-5555-5555-4444', undefined],
  ['dots', '4111.1111.1111.1111', undefined],
  ['slashes', '4111/1111/1111/1111', undefined],
  ['double spaces', '4111  1111  1111  1111', undefined],
  ['zero-width characters', ['4111', '1111', '1111', '1111'].join(ZWSP), undefined],
  ['Arabic-Indic digits', '٤١١١١١١١١١١١١١١١', undefined],
  ['fullwidth digits', '４１１１ １１１１ １１１１ １１１１', undefined],
  ['newline-separated', '4111\n1111\n1111\n1111', undefined],
  ['split across goods_name and goods_info', 'Tea 4111 1111', '1111 1111'],
  ['only in goods_info', 'Tea', 'pay with 5555 5555 5555 4444 thanks'],
  ['bidi override, soft hyphen and word joiner', '4111\u202e1111\u00ad1111\u20601111', undefined],
  ['en dashes, no-break and ideographic spaces', '4111 – 1111\u00a01111\u30001111', undefined],
];

const PANS = ['4111111111111111', '5555555555554444'];

/** True when any spelling of a test PAN survives in the text, after the same normalisation. */
function carriesPan(text: string): boolean {
  const normalised = normaliseForCardSearch(text);
  return PANS.some((pan) => {
    const spelled = new RegExp(pan.split('').join('[^\\p{L}\\p{N}]{0,3}'), 'u');
    // Split spellings leave half a number in each field: the first and last 8 digits are checked too.
    const halves = [pan.slice(0, 8), pan.slice(8)].map(
      (half) => new RegExp(`(?<!\\d)${half.split('').join('[^\\p{L}\\p{N}]{0,3}')}`, 'u'),
    );
    return spelled.test(normalised) || halves.some((h) => h.test(normalised));
  });
}

const witness = useWitness('cards');

describe('card numbers in free text (B4)', () => {
  let s: Session;
  const ledger = () => path.join(witness.dir, 'cards.jsonl');
  const results: string[] = [];
  beforeAll(async () => {
    s = await openSession({ env: envFor('test', witness.simulator, witness.credential, ledger()) });
  });
  afterAll(async () => {
    await s.close();
  });

  it.each(CARD_SPELLINGS)('refuses %s, sending nothing', async (_label, goodsName, goodsInfo) => {
    const before = upstreamCount(witness.simulator, PAYMENT);
    const answer = await call(s.client, 'create_payment', {
      pay_type: '800101',
      txamt: 100,
      txcurrcd: 'HKD',
      goods_name: goodsName,
      ...(goodsInfo ? { goods_info: goodsInfo } : {}),
    });
    results.push(JSON.stringify(answer));
    expect(answer.isError).toBe(true);
    expect(answer.structured.error).toEqual(expect.objectContaining({ kind: 'refused' }));
    expect(answer.text).toMatch(/looks like a card number \(\*+(1111|4444)\)/);
    expect(upstreamCount(witness.simulator, PAYMENT)).toBe(before);
  });

  it('leaves no spelling in any result, log line or ledger record', async () => {
    // A payment that is allowed, so the ledger file exists and holds records.
    const allowed = await call(s.client, 'create_payment', {
      pay_type: '800101',
      txamt: 100,
      txcurrcd: 'HKD',
      goods_name: 'Tea',
      goods_info: 'table 12',
    });
    expect(allowed.isError, allowed.text).toBe(false);
    const ledgerText = await readFile(ledger(), 'utf8');
    expect(ledgerText).toContain('"step":"intent"');
    expect(results).toHaveLength(CARD_SPELLINGS.length);
    const leaks = [...results, ...s.logs, ledgerText].filter(carriesPan);
    expect(leaks).toEqual([]);
  });
});
