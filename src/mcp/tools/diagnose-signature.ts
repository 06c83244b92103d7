import { timingSafeEqual } from 'node:crypto';

import * as z from 'zod';

import { environmentSchema } from '../result-shape.js';
import { redactSecrets } from '../../safety/sanitize.js';
import {
  canonicalFor,
  compareSignedString,
  diagnoseSignature,
  KEY_PLACEHOLDER,
  signWithCallerKey,
  type Diagnosis,
  type StringDifference,
} from '../signature-diagnosis.js';
import { defineTool, type ToolOutput, validationFailure } from './define.js';
import { unlisting } from './compact-schema.js';

const MAX_PARAMS = 100;

const inputSchema = z.strictObject({
  params: z
    .record(
      z.string().regex(/^[A-Za-z0-9_]{1,64}$/, { error: 'parameter names are letters, digits and "_"' }),
      z.union([z.string().max(4096), z.number(), z.boolean()]),
    )
    .refine((p) => Object.keys(p).length <= MAX_PARAMS, { error: `at most ${MAX_PARAMS} parameters` })
    .describe('Body parameters, in your signing order'),
  signature: z.string().min(1).max(256).optional().describe('Your X-QF-SIGN'),
  sign_type: z.enum(['MD5', 'SHA256']).optional().describe('Your X-QF-SIGNTYPE (none = MD5)'),
  signed_string: z
    .string()
    .min(1)
    .max(16_384)
    .optional()
    .describe(`What you hashed, key as ${KEY_PLACEHOLDER}`),
  test_key: z.string().min(1).max(256).optional().describe('Your own key (never the real one)'),
});

const mistakeSchema = z.object({ id: z.string(), explanation: z.string(), fix: z.string() });

const differenceSchema = z.object({
  position: z.int().describe('0-based index of the first character that differs.'),
  expected_excerpt: z.string(),
  given_excerpt: z.string(),
  explanation: z.string(),
});

const outputSchema = z.object(
  unlisting(
    {
      environment: environmentSchema,
      sign_type: z.enum(['MD5', 'SHA256']),
      canonical_string: z.string().describe('Sorted name=value pairs joined by "&", empty values left out.'),
      string_to_sign_masked: z
        .string()
        .describe(
          `What is hashed: canonical_string followed directly by the key (shown as ${KEY_PLACEHOLDER}).`,
        ),
      checked_with: z
        .enum(['configured_key', 'test_key', 'none'])
        .describe(
          "Which key the signature was checked with: the server's configured key (never shown, never used to produce a signature), the test_key you passed, or none (no key configured and none passed).",
        ),
      test_key_signature: z
        .string()
        .optional()
        .describe('Only with test_key: the correct X-QF-SIGN for sign_type under YOUR test key.'),
      test_key_md5: z.string().optional(),
      test_key_sha256: z.string().optional(),
      provided_signature_matches: z.boolean().optional(),
      case_only_difference: z
        .boolean()
        .optional()
        .describe('True when your signature matches except for hex letter case, which QFPay accepts.'),
      likely_mistakes: z
        .array(mistakeSchema)
        .describe('Mistakes that reproduce your signature when recomputed.'),
      signed_string_difference: differenceSchema
        .optional()
        .describe('Where your signed_string first differs from string_to_sign_masked.'),
      signed_string_matches: z.boolean().optional(),
      warnings: z.array(z.string()),
      next_action: z.string(),
    },
    ['test_key_md5', 'test_key_sha256', 'case_only_difference', 'signed_string_matches'],
  ),
);

type Output = z.output<typeof outputSchema>;
type CheckedWith = Output['checked_with'];

export const diagnoseSignatureTool = defineTool({
  name: 'diagnose_signature',
  title: 'Diagnose a signature',
  description:
    'Explains QFPay signing for your params: canonical string, what is hashed (key masked), and the likely mistake in your signature. Never signs with the configured key; only test_key gives signatures.',
  inputSchema,
  outputSchema,
  // eslint-disable-next-line @typescript-eslint/require-await
  async run(args, call): Promise<ToolOutput<Output>> {
    const credentials = call.deps.credentials;
    const signType = args.sign_type ?? 'MD5';
    if (args.test_key !== undefined && credentials && sameSecret(args.test_key, credentials.key)) {
      throw validationFailure(
        'test_key',
        "is this server's configured client key; the server never signs with it",
        'Pass a test key of your own, or leave test_key out and pass your signature to have it checked. The real key should not be in this conversation: ask the operator to rotate it if it was pasted here.',
      );
    }
    const mchid = credentials?.mchid ? { mchid: credentials.mchid } : {};
    const checkKey = args.test_key ?? credentials?.key;
    const checkedWith: CheckedWith =
      args.test_key !== undefined ? 'test_key' : credentials ? 'configured_key' : 'none';
    const diagnosis = diagnoseSignature(
      args.params,
      checkKey === undefined ? undefined : { key: checkKey, ...mchid },
      args.signature,
      signType,
    );
    const testSignatures =
      args.test_key === undefined ? undefined : signWithCallerKey(args.params, args.test_key);
    const difference =
      args.signed_string === undefined
        ? undefined
        : compareSignedString(
            canonicalFor(args.params).masked,
            // The configured key pasted into the string is compared as the placeholder, so no
            // excerpt can show a piece of it.
            credentials
              ? args.signed_string.split(credentials.key).join(KEY_PLACEHOLDER)
              : args.signed_string,
          );
    const secrets = credentials ? [credentials.key] : [];
    const structured: Output = {
      environment: call.deps.environment,
      sign_type: signType,
      // A key pasted into params by mistake is not echoed back.
      canonical_string: redactSecrets(diagnosis.canonical_string, secrets),
      string_to_sign_masked: redactSecrets(diagnosis.string_to_sign_masked, secrets),
      checked_with: checkedWith,
      ...(testSignatures
        ? {
            test_key_signature: testSignatures[signType],
            test_key_md5: testSignatures.MD5,
            test_key_sha256: testSignatures.SHA256,
          }
        : {}),
      ...(diagnosis.provided_signature_matches !== undefined
        ? { provided_signature_matches: diagnosis.provided_signature_matches }
        : {}),
      ...(diagnosis.case_only_difference !== undefined
        ? { case_only_difference: diagnosis.case_only_difference }
        : {}),
      likely_mistakes: [...diagnosis.likely_mistakes],
      ...(args.signed_string !== undefined ? { signed_string_matches: difference === undefined } : {}),
      ...(difference ? { signed_string_difference: redactedDifference(difference, secrets) } : {}),
      warnings: [...diagnosis.warnings],
      next_action: nextAction(diagnosis, checkedWith, args.signature !== undefined, difference),
    };
    return { structured, summary: summarise(structured) };
  },
});

/** Constant-time equality of two secrets of possibly different lengths. */
function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

function redactedDifference(difference: StringDifference, secrets: readonly string[]): StringDifference {
  return {
    position: difference.position,
    expected_excerpt: redactSecrets(difference.expected_excerpt, secrets),
    given_excerpt: redactSecrets(difference.given_excerpt, secrets),
    explanation: redactSecrets(difference.explanation, secrets),
  };
}

function nextAction(
  diagnosis: Diagnosis,
  checkedWith: CheckedWith,
  hasSignature: boolean,
  difference: StringDifference | undefined,
): string {
  if (difference) return `Fix the signed string: ${difference.explanation}`;
  if (checkedWith === 'none')
    return 'No client key is configured on this server, so only the canonical string can be shown (pass test_key to see full signatures under a key of your own). Hash it followed by your key, uppercase hex.';
  if (!hasSignature)
    return checkedWith === 'test_key'
      ? "Compare your code's output under the same test key with test_key_signature; then sign with the real key in your own code."
      : 'Pass the X-QF-SIGN your code computed as "signature" to have it checked against the configured key, or pass test_key to see full signatures under a key of your own.';
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
  if (out.test_key_signature)
    lines.push(`X-QF-SIGN under your test key (${out.sign_type}): ${out.test_key_signature}`);
  if (out.provided_signature_matches === true) lines.push('Your signature matches.');
  if (out.provided_signature_matches === false) {
    lines.push('Your signature does NOT match. Likely cause(s):');
    for (const m of out.likely_mistakes) lines.push(`- ${m.explanation} Fix: ${m.fix}`);
  }
  if (out.signed_string_matches === true) lines.push('Your signed string is correct.');
  if (out.signed_string_difference) lines.push(`Signed string: ${out.signed_string_difference.explanation}`);
  for (const w of out.warnings) lines.push(`Warning: ${w}`);
  lines.push(`Next: ${out.next_action}`);
  return lines.join('\n');
}
