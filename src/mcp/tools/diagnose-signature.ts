import * as z from 'zod';

import { getEnvironment } from '../../qfpay/catalog/index.js';
import { environmentSchema } from '../result-shape.js';
import { redactSecrets } from '../../safety/sanitize.js';
import { diagnoseSignature, KEY_PLACEHOLDER } from '../signature-diagnosis.js';
import { defineTool, type ToolOutput } from './define.js';

const MAX_PARAMS = 100;

const inputSchema = z.strictObject({
  params: z
    .record(
      z.string().regex(/^[A-Za-z0-9_]{1,64}$/, { error: 'parameter names are letters, digits and "_"' }),
      z.union([z.string().max(4096), z.number(), z.boolean()]),
    )
    .refine((p) => Object.keys(p).length <= MAX_PARAMS, { error: `at most ${MAX_PARAMS} parameters` })
    .describe(
      'The request parameters exactly as you send them in the body (name → value), in the order your code signs them.',
    ),
  signature: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe('The X-QF-SIGN you computed, to find out why it is rejected.'),
  sign_type: z
    .enum(['MD5', 'SHA256'])
    .optional()
    .describe(
      'What your request declares: SHA256 when you send X-QF-SIGNTYPE: SHA256, MD5 when you send no X-QF-SIGNTYPE (default).',
    ),
});

const mistakeSchema = z.object({ id: z.string(), explanation: z.string(), fix: z.string() });

const outputSchema = z.object({
  environment: environmentSchema,
  sign_type: z.enum(['MD5', 'SHA256']),
  canonical_string: z.string().describe('Sorted name=value pairs joined by "&", empty values left out.'),
  string_to_sign_masked: z
    .string()
    .describe(`What is hashed: canonical_string followed directly by the key (shown as ${KEY_PLACEHOLDER}).`),
  expected_signature: z
    .string()
    .optional()
    .describe(
      'The correct X-QF-SIGN for sign_type with the configured key (uppercase hex; case does not matter to QFPay).',
    ),
  expected_md5: z.string().optional(),
  expected_sha256: z.string().optional(),
  signatures_masked: z
    .boolean()
    .describe(
      'True in real-money environments: only the first 8 hex digits are shown, so this tool cannot be used to sign arbitrary requests.',
    ),
  provided_signature_matches: z.boolean().optional(),
  case_only_difference: z
    .boolean()
    .optional()
    .describe('True when your signature matches except for hex letter case, which QFPay accepts.'),
  likely_mistakes: z.array(mistakeSchema).describe('Mistakes that reproduce your signature when recomputed.'),
  warnings: z.array(z.string()),
  next_action: z.string(),
});

type Output = z.output<typeof outputSchema>;

export const diagnoseSignatureTool = defineTool({
  name: 'diagnose_signature',
  title: 'Diagnose a QFPay request signature',
  description: [
    'Explains QFPay request signing for given parameters: the canonical string (sorted by name, raw values, empty fields left out, joined with "&", key appended directly), and the expected MD5 and SHA-256 X-QF-SIGN with the configured key.',
    'Pass the signature your code computed and the server finds the mistake by recomputing the usual ones: URL-encoded values, empty fields signed, "&key=" appended, key prefix, unsorted or case-insensitively sorted names, mchid sent when not assigned (or missing when assigned), SHA-256 vs MD5 mix-up, trailing whitespace in the key. Hex case does not matter to QFPay.',
    'Use it when QFPay answers 1108 (signature error). In real-money environments expected signatures are shown truncated. Sends nothing to QFPay.',
  ].join('\n'),
  inputSchema,
  outputSchema,
  // eslint-disable-next-line @typescript-eslint/require-await
  async run(args, call): Promise<ToolOutput<Output>> {
    const credentials = call.deps.credentials;
    const signType = args.sign_type ?? 'MD5';
    const diagnosis = diagnoseSignature(
      args.params,
      credentials
        ? { key: credentials.key, ...(credentials.mchid ? { mchid: credentials.mchid } : {}) }
        : undefined,
      args.signature,
      signType,
    );
    const masked = getEnvironment(call.deps.environment).realMoney;
    const secrets = credentials ? [credentials.key] : [];
    const show = (hex: string): string => (masked ? `${hex.slice(0, 8)}…` : hex);
    const expected = diagnosis.expected;
    const next = nextAction(diagnosis, credentials !== null, args.signature !== undefined);
    const structured: Output = {
      environment: call.deps.environment,
      sign_type: signType,
      // A key pasted into params by mistake is not echoed back.
      canonical_string: redactSecrets(diagnosis.canonical_string, secrets),
      string_to_sign_masked: redactSecrets(diagnosis.string_to_sign_masked, secrets),
      ...(expected
        ? {
            expected_signature: show(expected[signType]),
            expected_md5: show(expected.MD5),
            expected_sha256: show(expected.SHA256),
          }
        : {}),
      signatures_masked: masked,
      ...(diagnosis.provided_signature_matches !== undefined
        ? { provided_signature_matches: diagnosis.provided_signature_matches }
        : {}),
      ...(diagnosis.case_only_difference !== undefined
        ? { case_only_difference: diagnosis.case_only_difference }
        : {}),
      likely_mistakes: [...diagnosis.likely_mistakes],
      warnings: [...diagnosis.warnings],
      next_action: next,
    };
    return { structured, summary: summarise(structured) };
  },
});

function nextAction(
  diagnosis: ReturnType<typeof diagnoseSignature>,
  hasKey: boolean,
  hasSignature: boolean,
): string {
  if (!hasKey)
    return 'No client key is configured on this server, so only the canonical string can be shown. Hash it followed by your key, uppercase hex.';
  if (!hasSignature)
    return 'Compare your X-QF-SIGN with expected_signature; pass your signature as "signature" to have a mismatch explained.';
  if (diagnosis.provided_signature_matches) {
    return diagnosis.case_only_difference
      ? 'Your signature is correct (QFPay accepts either hex case). If QFPay still answers 1108, the body you send differs from these params, or the app code belongs to another key.'
      : 'Your signature is correct. If QFPay still answers 1108, the body you send differs from these params, or the app code belongs to another key.';
  }
  const first = diagnosis.likely_mistakes[0];
  return first ? `Fix: ${first.fix}` : 'Recompute the signature from canonical_string followed by the key.';
}

function summarise(out: Output): string {
  const lines = [`Signed string: ${out.string_to_sign_masked}`];
  if (out.expected_signature) lines.push(`Expected X-QF-SIGN (${out.sign_type}): ${out.expected_signature}`);
  if (out.provided_signature_matches === true) lines.push('Your signature matches.');
  if (out.provided_signature_matches === false) {
    lines.push('Your signature does NOT match. Likely cause(s):');
    for (const m of out.likely_mistakes) lines.push(`- ${m.explanation} Fix: ${m.fix}`);
  }
  for (const w of out.warnings) lines.push(`Warning: ${w}`);
  lines.push(`Next: ${out.next_action}`);
  return lines.join('\n');
}
