import * as z from 'zod';

import { MAX_NOTE_LENGTH } from '../../qfpay/client.js';
import { findLuhnPan } from '../../safety/sanitize.js';
import { defineTool, type ToolOutput, ToolFailure, validationFailure } from './define.js';
import { boundedText } from './inputs.js';
import { requireClient } from './write-flow.js';

const SYSSN = /^[A-Za-z0-9]{1,40}$/;

// Bare schemas for the context budget (issue #15); the messages still name the field and the fix.
const inputSchema = z.strictObject({
  syssn: z.string(),
  note: boundedText('note', MAX_NOTE_LENGTH, 'Shorten the note.'),
});

/** Compact on purpose: the summary text carries the next step and, on error, the reason. */
const outputSchema = z.object({
  environment: z.string(),
  syssn: z.string().optional(),
});

type Output = z.output<typeof outputSchema>;

export const addNoteTool = defineTool({
  name: 'add_note',
  title: 'Note on a transaction',
  description:
    'Attaches a remark (≤200 characters) to a QFPay transaction; a new one replaces it. Moves no money. Not for merchants with an mchid. Never card numbers.',
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
    if (!SYSSN.test(args.syssn))
      throw validationFailure(
        'syssn',
        'must be the QFPay transaction number: up to 40 letters or digits',
        'Pass the syssn create_payment or query_transaction returned.',
      );
    if (call.deps.credentials?.mchid)
      throw new ToolFailure({
        kind: 'configuration',
        field: 'QFPAY_MCHID',
        message:
          "QFPay's add_note is only for merchants without an mchid, and this server is configured with one (QFPAY_MCHID).",
        next_action: 'Nothing was sent. Keep the remark in your own records.',
      });
    const pan = findLuhnPan(args.note);
    if (pan)
      throw new ToolFailure({
        kind: 'refused',
        field: 'note',
        message: `note contains what looks like a card number (${pan.masked}); this server never handles card data.`,
        next_action: 'Nothing was sent to QFPay. Remove the number from the note and call again.',
      });
    await client.addNote({ syssn: args.syssn, note: args.note }, { signal: call.signal });
    const next = 'Nothing else to do; call again with a new note to replace it.';
    return {
      structured: { environment: call.deps.environment, syssn: args.syssn },
      summary: `Note attached to ${args.syssn}.\nNext: ${next}`,
    };
  },
});
