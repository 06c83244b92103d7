import { requiredField } from '../fields.js';
import { WireError } from '../wire.js';
import type { HandlerContext, ResponseBody } from './common.js';

/** QFPay's add_note limit (D `docs/04-common-api/05-transaction-note.md`). */
const MAX_NOTE_CHARACTERS = 200;

/**
 * POST /trade/v1/add_note: `code` (the app code), `syssn`, `note` ≤ 200. Only for merchants without
 * an mchid. The note is kept on the transaction (GET /__sim/transactions shows it); QFPay's query
 * answer documents no note field, so query rows carry none. A second note replaces the first.
 */
export function handleAddNote(context: HandlerContext): ResponseBody {
  const { engine, auth, params } = context;
  if (auth.credential.mchid !== undefined)
    throw new WireError(
      '1104',
      'add_note is only for merchants without an mchid; this merchant was issued one, so QFPay offers it no notes',
    );
  const code = requiredField(params, 'code', 'your app code');
  if (code !== auth.credential.appcode)
    throw new WireError('1104', 'code must be your app code, the same as X-QF-APPCODE');
  const syssn = requiredField(params, 'syssn', 'the QFPay transaction number to annotate');
  const note = requiredField(params, 'note', 'the remark to attach, at most 200 characters');
  if ([...note].length > MAX_NOTE_CHARACTERS)
    throw new WireError(
      '1104',
      `note is ${[...note].length} characters long; at most ${MAX_NOTE_CHARACTERS} are allowed`,
    );
  const transaction = engine.ledger.bySyssnFor(auth.merchant, syssn);
  if (!transaction)
    throw new WireError('1104', `syssn ${syssn.slice(0, 40)} is not a transaction of this merchant`);
  transaction.note = note;
  engine.ledger.touch(transaction);
  return { respcd: '0000', resperr: '请求成功', respmsg: '', data: { syssn: transaction.syssn } };
}
