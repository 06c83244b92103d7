import * as z from 'zod';

import { ENVIRONMENT_NAMES } from '../../qfpay/catalog/environments.js';
import { defineTool, type ToolOutput, validationFailure } from './define.js';
import { requireClient } from './write-flow.js';

const inputSchema = z.strictObject({
  redirect_uri: z.string().max(1024).optional().describe('Your page WeChat returns to; gives the link'),
  code: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/, { error: 'code must be the value of ?code= from the redirect' })
    .optional()
    .describe('The ?code= from that redirect; gives the openid'),
});

/** Compact on purpose (context budget): no descriptions, the tool description says it all. */
const outputSchema = z.object({
  environment: z.enum(ENVIRONMENT_NAMES),
  oauth_url: z.string().optional(),
  openid: z.string().optional(),
  next_action: z.string().optional(),
  error: z.object({ kind: z.string(), message: z.string() }).optional(),
});

type Output = z.output<typeof outputSchema>;

export const wechatOpenidTool = defineTool({
  name: 'wechat_openid',
  title: 'WeChat JSAPI payer openid',
  description:
    "For WeChat JSAPI (800207). With redirect_uri: the signed link to open in the customer's WeChat; it returns to redirect_uri?code=…. With code: exchanges it once for the openid to pass as sub_openid to create_payment. Code and openid are single-use, one per payment. Moves no money.",
  inputSchema,
  outputSchema,
  async run(args, call): Promise<ToolOutput<Output>> {
    const client = requireClient(call);
    const environment = call.deps.environment;
    if ((args.redirect_uri === undefined) === (args.code === undefined))
      throw validationFailure(
        args.code === undefined ? 'redirect_uri' : 'code',
        'give exactly one of redirect_uri (to get the link) or code (to get the openid)',
        'First call with redirect_uri, send the customer to the link, then call with the code WeChat adds to redirect_uri.',
      );
    if (args.redirect_uri !== undefined) {
      const oauthUrl = client.wechatOauthUrl(args.redirect_uri);
      const next =
        "Open this link in the customer's WeChat browser (not in chat); when it lands on redirect_uri?code=…, call wechat_openid with that code.";
      return {
        structured: { environment, oauth_url: oauthUrl, next_action: next },
        summary: `WeChat OAuth link (valid for one customer, one payment):\n${oauthUrl}\nNext: ${next}`,
      };
    }
    const answer = await client.exchangeWechatCode({ code: args.code! }, { signal: call.signal });
    const next =
      'Call create_payment with pay_type 800207 and sub_openid set to this openid now; it works for one payment only.';
    return {
      structured: { environment, openid: answer.openid, next_action: next },
      summary: `The customer's openid: ${answer.openid}\nNext: ${next}`,
    };
  },
});
