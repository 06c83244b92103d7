import * as z from 'zod';

import { defineTool, ToolFailure, type ToolOutput, validationFailure } from './define.js';
import { requireClient } from './write-flow.js';

// Shapes are checked by the client (QfpayClient.wechatOauthUrl / exchangeWechatCode), which names
// the field and the fix; the schemas stay bare for the context budget (issue #15).
const inputSchema = z.strictObject({
  redirect_uri: z.string().optional(),
  code: z.string().optional(),
});

/** Compact on purpose: the summary text carries the next step and, on error, the reason. */
const outputSchema = z.object({
  environment: z.string(),
  oauth_url: z.string().optional(),
  openid: z.string().optional(),
});

type Output = z.output<typeof outputSchema>;

export const wechatOpenidTool = defineTool({
  name: 'wechat_openid',
  title: 'WeChat openid',
  description:
    "WeChat JSAPI (800207) payer id: redirect_uri gives a signed link for the customer's WeChat (it returns ?code=); that code gives the openid (once) for create_payment's sub_openid. One payment each. Moves no money.",
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
      // The link is signed as the merchant's: it may only send the customer (and the code) where
      // the operator allows callbacks, like return_url.
      const allowed = call.deps.guard.checkCallbackUrl?.('redirect_uri', args.redirect_uri);
      if (allowed && !allowed.ok)
        throw new ToolFailure({
          kind: 'refused',
          field: 'redirect_uri',
          message: allowed.message,
          next_action: allowed.next_action.replace('Nothing was sent to QFPay.', 'No link was signed.'),
        });
      const oauthUrl = client.wechatOauthUrl(args.redirect_uri);
      const next =
        "Open this link in the customer's WeChat browser (not in chat); when it lands on redirect_uri?code=…, call wechat_openid with that code.";
      return {
        structured: { environment, oauth_url: oauthUrl },
        summary: `WeChat OAuth link (valid for one customer, one payment):\n${oauthUrl}\nNext: ${next}`,
      };
    }
    const answer = await client.exchangeWechatCode({ code: args.code! }, { signal: call.signal });
    const next =
      'Call create_payment with pay_type 800207 and sub_openid set to this openid now; it works for one payment only.';
    return {
      structured: { environment, openid: answer.openid },
      summary: `The customer's openid: ${answer.openid}\nNext: ${next}`,
    };
  },
});
