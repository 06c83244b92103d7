import * as z from 'zod';

import { ENVIRONMENT_NAMES } from '../../qfpay/catalog/environments.js';
import { MAX_NOTE_LENGTH } from '../../qfpay/client.js';
import { findLuhnPan } from '../../safety/sanitize.js';
import { defineTool, type ToolOutput, ToolFailure } from './define.js';
import { boundedText, syssnInput } from './inputs.js';
import { requireClient } from './write-flow.js';

const inputSchema = z.strictObject({
  syssn: syssnInput.describe('The transaction to annotate'),
  note: boundedText('note', MAX_NOTE_LENGTH, 'Shorten the note.'),
});

const outputSchema = z.object({
  environment: z.enum(ENVIRONMENT_NAMES),
  syssn: z.string().optional(),
  note: z.string().optional(),
  next_action: z.string().optional(),
  error: z.object({ kind: z.string(), message: z.string() }).optional(),
});

type Output = z.output<typeof outputSchema>;

export const addNoteTool = defineTool({
  name: 'add_note',
  title: 'Attach a note to a transaction',
  description:
    'Attaches a remark (at most 200 characters) to a QFPay transaction; a later note replaces it, the same note again changes nothing. Moves no money. Only for merchants without an mchid. Never put card numbers in it.',
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
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
      structured: {
        environment: call.deps.environment,
        syssn: args.syssn,
        note: args.note,
        next_action: next,
      },
      summary: `Note attached to ${args.syssn}.\nNext: ${next}`,
    };
  },
});
