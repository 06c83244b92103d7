/**
 * The `qfpay://docs/signing` resource: QFPay's signing rules as this server applies them,
 * including where QFPay's own documents disagree and which reading we chose.
 * The worked example's digests are pinned by a test against the signer.
 */
export const SIGNING_DOC = `# QFPay request and notification signing

This is how qfpay-mcp signs and verifies, and why. Where QFPay's documents disagree, the choice
made here is stated and explained.

## 1. Request signature (every OpenAPI call)

1. Take the parameters **actually sent** in the form body.
2. Sort them by parameter name in ascending **byte (ASCII)** order. Upper-case letters sort before
   lower-case ones; a locale-aware or case-insensitive sort is wrong.
3. Write each as \`name=value\` with the **raw, un-URL-encoded** value and join them with \`&\`.
4. Append the client key **directly**: no \`&\`, no \`key=\`.
5. Hash the UTF-8 bytes with MD5 (the default) or SHA-256, hex-encode, and send it in the
   \`X-QF-SIGN\` header together with \`X-QF-APPCODE\`. With SHA-256 also send
   \`X-QF-SIGNTYPE: SHA256\`; without that header QFPay assumes MD5.

qfpay-mcp signs with SHA-256 by default (QFPay recommends it; \`QFPAY_SIGN_TYPE=MD5\` switches) and
sends upper-case hex.

### Worked example

Parameters \`mchid=ZaMVg12345\`, \`txamt=100\`, \`txcurrcd=HKD\`, client key \`abcd1234\`:

- string to hash: \`mchid=ZaMVg12345&txamt=100&txcurrcd=HKDabcd1234\`
- MD5: \`3CB3AA9C21D818AB4CAFAA8FA3FEACF4\`
- SHA-256: \`99D9F7174823928B74C74B1C7A7E1538DF733774DD21C9606A202CB8BB3D74E8\`

### Where the documents disagree, and what we do

| Question | What the sources say | Our choice |
|---|---|---|
| Are empty fields signed? | The official sample code signs every key, empty or not; the newest (2026) page says empty and null parameters are left out; the oldest docs say "non-empty only" but their own example signs an empty field. | **Never send empty fields.** They are dropped from the body and from the signed string, so every reading gives the same signature. |
| Hex letter case | Python/Java/PHP samples upper-case the digest; the JS samples, the Postman collection and the checkout example send lower-case. | We send upper-case and compare case-insensitively (QFPay evidently accepts both). |
| \`mchid\` | All sources: if QFPay assigned an mchid it must be sent (and signed) on every call; if not, the field must not be sent at all. | Sent only when \`QFPAY_MCHID\` is configured. |
| JSON-valued fields (\`extend_info\`) | Sent as a JSON string inside one form field. | Signed as the exact JSON text that is sent. |
| \`0\` values | No source treats them specially. | \`"0"\` is a value like any other and is signed. |
| The refund sample | Its request body contains \`key=<client_key>\` as a form field. | Never send the key; it only goes into the hash. |

## 2. Response signature

Successful answers carry \`X-QF-SIGN\` in the response headers.

- The old Japan reference (with a worked example that checks out) says
  **upper(MD5(raw response body + client key))**, over the bytes exactly as received
  (\`\\uXXXX\` escapes kept literally).
- The newer "response format" page describes sorting \`data\` fields as \`k=v&…\` instead, but that
  page's whole response layout matches no real QFPay answer.

- Whether an answer to a SHA-256 request is signed with SHA-256 is not documented; the newer page
  says answers "may also include the \`X-QF-SIGN\` and \`X-QF-SIGNTYPE\` headers".

**Our choice:** an answer's \`X-QF-SIGNTYPE\`, when present, is honoured (that algorithm only).
Without one, the raw-body MD5 rule is accepted, and so are raw-body SHA-256 and MD5 over the sorted
fields: every reading needs your key, so none lets a forger in. An answer whose signature does not
verify is treated as an **unknown outcome** (never as success or failure): the server queries by the
same \`out_trade_no\` instead of trusting or re-sending. \`qfpay-mcp doctor\` reports which algorithm
the answer was (or was not) signed with.

## 3. Notification signature

QFPay POSTs a JSON body with \`X-QF-SIGN = upper(MD5(raw body + client key))\`, always MD5, no
\`X-QF-SIGNTYPE\`. All current sources agree (one 2017 PHP sample signs sorted fields instead; it
contradicts everything else and is ignored).

- Verify over the **raw bytes as received**. Parsing and re-serialising the JSON changes spacing and
  escapes (QFPay writes Python-style \`", "\` / \`": "\` separators and \`\\uXXXX\` escapes) and breaks the check.
- Answer HTTP 200 with body \`SUCCESS\`, otherwise QFPay retries (2 m, 10 m, 10 m, 60 m, 2 h, 6 h, 15 h).
- The same notification may arrive more than once; process it idempotently.
- Notifications are only sent for successful payments and refunds. Never act on one that fails
  verification; query the transaction instead. The \`verify_notification\` tool does the check.

## 4. Debugging a 1108 (signature error)

Call \`diagnose_signature\` with the parameters you send and the signature you computed. It
recomputes the usual mistakes (URL-encoded values, empty fields signed, \`&key=\` appended,
\`key=\` prefix, unsorted or case-insensitively sorted names, \`mchid\` sent when not assigned or
missing when assigned, SHA-256 vs MD5 mix-up, whitespace after the key) and tells you which one
reproduces your signature. Pass the string your code hashed (key replaced by \`<client_key>\`) as
\`signed_string\` to see where it first differs from the correct one.

It never shows a signature made with the configured key, in any environment: such a signature is
all anyone needs to send a request QFPay accepts, outside this server's money guard, caps and
ledger. To compare digests step by step, pass \`test_key\`, a key of your own: the answer then
carries the full MD5 and SHA-256 signatures under that key.
`;
