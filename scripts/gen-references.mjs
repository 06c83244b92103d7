// Writes the generated parts of the skill's references:
// - references/response-codes.md from the response-code catalog, so the table can never drift
//   from what explain_respcd answers (test/skill.test.ts renders it again from src/ and compares);
// - references/tools.md from a real MCP session against the QFPay simulator: every example call
//   is sent through the official MCP client and every answer shown is what the server returned
//   (test/skill.test.ts validates each call and answer against the tools' schemas).
//
// Usage: npm run build && node scripts/gen-references.mjs
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const RESPONSE_CODES_PATH = 'references/response-codes.md';
export const TOOLS_PATH = 'references/tools.md';

const OUTCOME_WORDS = {
  success: 'success',
  pending: '**pending**: query, never re-send',
  failed: 'failed',
  retryable: 'retryable after a query',
};

/** Markdown table cells: no pipes or line breaks inside a cell. */
function cell(text) {
  return String(text)
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ');
}

function table(entries) {
  const rows = entries.map(
    (e) =>
      `| ${e.code} | ${cell(e.meaning)} | ${OUTCOME_WORDS[e.outcome] ?? cell(e.outcome)} | ${cell(e.likelyCause)} | ${cell(e.nextAction)} |`,
  );
  return ['| Code | Meaning | Outcome | Likely cause | What to do |', '|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}

/**
 * @param {{ RESPONSE_CODES: ReadonlyArray<{code: string, meaning: string, outcome: string, likelyCause: string, nextAction: string, legacy?: boolean}> }} catalog
 * @returns {string}
 */
export function renderResponseCodes(catalog) {
  const current = catalog.RESPONSE_CODES.filter((e) => !e.legacy);
  const legacy = catalog.RESPONSE_CODES.filter((e) => e.legacy);
  const pending = current.filter((e) => e.outcome === 'pending').map((e) => `\`${e.code}\``);
  return `# QFPay response codes (respcd)

<!-- Generated from src/qfpay/catalog/respcd.ts by scripts/gen-references.mjs. Do not edit by hand. -->

Every QFPay answer carries a four-digit \`respcd\`. The tools already explain the code they got
(\`respcd_explanation\` and \`next_action\` in each answer); \`explain_respcd\` explains any other one
and, given the endpoint (\`payment\`, \`query\`, \`query_row\`, \`refund\`, \`close\`, \`reversal\`,
\`notification\`), says what the code means in that place. This table holds the same data.

How to read the outcome column:

- **success**: what succeeded depends on the endpoint. For a QR, web or in-app payment \`0000\`
  only means the order was created; the customer still has to pay (\`wait_for_payment\`).
- **pending** (${pending.join(', ')}): the outcome is not known yet. Query by the same
  \`out_trade_no\` or \`syssn\`; never send the payment again and never invent a new order number.
- **failed**: final. For a payment nothing was charged; a new attempt needs a new \`out_trade_no\`.
- **retryable**: transient. For a payment, query first; re-send only what the query shows never
  arrived, with the same \`out_trade_no\`.

## Current codes (${current.length})

${table(current)}

## Codes from older QFPay documents (${legacy.length})

These appear only in older QFPay references but may still be sent by some channels.

${table(legacy)}
`;
}

// ---------------------------------------------------------------------------------------------
// references/tools.md
// ---------------------------------------------------------------------------------------------

const ACCESS_WORDS = {
  write: 'moves money',
  read: 'reads QFPay',
  reference: 'built-in reference, no QFPay call',
  integration: 'local computation with the configured key, no QFPay call',
  local: 'simulator only (local environment)',
  note: 'writes a remark at QFPay, moves no money',
  exchange: 'spends a single-use WeChat code at QFPay, moves no money',
};

function schemaType(schema) {
  if (!schema || typeof schema !== 'object') return 'any';
  if (schema.enum)
    return schema.enum.length > 6
      ? `${schema.type ?? 'string'}, one of ${schema.enum.length} codes`
      : schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return [...new Set(variants.map(schemaType))].join(' or ');
  if (schema.type === 'array') return `array of ${schemaType(schema.items)}`;
  return Array.isArray(schema.type) ? schema.type.join(' or ') : (schema.type ?? 'any');
}

function inputLines(tool) {
  const properties = tool.inputSchema?.properties ?? {};
  const required = new Set(tool.inputSchema?.required ?? []);
  const names = Object.keys(properties);
  if (names.length === 0) return ['- no arguments'];
  return names.map((name) => {
    const property = properties[name];
    const flags = [schemaType(property), required.has(name) ? 'required' : 'optional'];
    if (property.default !== undefined) flags.push(`default ${JSON.stringify(property.default)}`);
    return `- \`${name}\` (${flags.join(', ')}): ${String(property.description ?? '')
      .replace(/\s+/g, ' ')
      .trim()}`;
  });
}

/** One documented exchange: the call, the summary text and the structured answer. */
function exchangeMarkdown(entry) {
  const lines = [`### ${entry.title}`, ''];
  if (entry.note) lines.push(entry.note, '');
  lines.push(`Call \`${entry.tool}\`:`, '', '```json', JSON.stringify(entry.args, null, 2), '```', '');
  lines.push(`Answer \`${entry.tool}\`${entry.isError ? ' (isError)' : ''}:`, '');
  for (const line of entry.summary.split('\n')) lines.push(`> ${line}`.trimEnd());
  if (entry.images > 0) lines.push('>', `> [${entry.images} PNG image block: the QR code]`);
  lines.push('', '```json', JSON.stringify(entry.structured, null, 2), '```', '');
  return lines.join('\n');
}

/**
 * Runs the documented session against a fresh simulator and returns the markdown.
 * @param {{ distUrl: URL }} options  where the built package lives (…/dist/)
 */
export async function generateToolsReference({ distUrl }) {
  const load = (file) => import(new URL(file, distUrl).href);
  const { createRuntime } = await load('mcp/runtime.js');
  const { startSimulator, DEFAULT_SIMULATOR_CREDENTIAL } = await load('simulator/index.js');
  const { TOOL_REGISTRY } = await load('mcp/tools/index.js');
  const { readPackageVersion } = await load('cli/version.js');
  const { Client } = await import('@modelcontextprotocol/client');
  const { InMemoryTransport } = await import('@modelcontextprotocol/server');

  const stateDir = await mkdtemp(path.join(tmpdir(), 'qfpay-gen-'));
  const simulator = await startSimulator({ quiet: true });
  keepClockOutOfRefundCutoff(simulator);
  const notifications = [];
  const listener = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      notifications.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers['x-qf-sign'] ?? ''),
      });
      res.end('SUCCESS');
    });
  });
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const notifyUrl = `http://127.0.0.1:${listener.address().port}/qfpay/notify`;

  const baseEnv = {
    QFPAY_BASE_URL: simulator.baseUrl,
    QFPAY_APPCODE: DEFAULT_SIMULATOR_CREDENTIAL.appcode,
    QFPAY_KEY: DEFAULT_SIMULATOR_CREDENTIAL.key,
    QFPAY_STATE_DIR: stateDir,
  };
  const sessions = [];
  async function open(env, options = {}) {
    const runtime = await createRuntime({ env: { ...baseEnv, ...env }, log: () => {}, ...options });
    const server = runtime.createServer();
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await server.connect(serverTransport);
    const client = new Client({ name: 'qfpay-references', version: '1.0.0' });
    await client.connect(clientTransport);
    const session = { runtime, client, server };
    sessions.push(session);
    return session;
  }

  const exchanges = [];
  async function call(session, tool, args, title, note) {
    console.error(`  ${tool}: ${title}`);
    // Longer than any wait in the session (the SDK's default is 60 s).
    const result = await session.client.callTool({ name: tool, arguments: args }, { timeout: 150_000 });
    const content = result.content ?? [];
    const entry = {
      tool,
      args,
      title,
      note,
      isError: result.isError === true,
      summary: content.find((block) => block.type === 'text')?.text ?? '',
      structured: result.structuredContent ?? {},
      images: content.filter((block) => block.type === 'image').length,
    };
    exchanges.push(entry);
    return entry;
  }

  try {
    // The operator allows the example shop's callbacks (WeChat's redirect_uri, checkout return URLs).
    const local = await open({ QFPAY_ENV: 'local', QFPAY_ALLOWED_URLS: 'https://shop.example.com' });
    const { tools } = await local.client.listTools();

    // Reference and integration tools.
    await call(local, 'list_pay_types', { wallet: 'FPS' }, 'Choose a pay type');
    await call(local, 'list_currencies', { code: 'HKD' }, 'Minor units of a currency');
    await call(
      local,
      'explain_respcd',
      { respcd: '1143', endpoint: 'payment', pay_type: '800008' },
      'Explain a response code in context',
    );

    // An MPM (QR) payment end to end.
    const qr = await call(
      local,
      'create_payment',
      {
        pay_type: '800201',
        txamt: 2500,
        txcurrcd: 'HKD',
        out_trade_no: 'order_20261127_0042',
        goods_name: 'Lunch set',
        notify_url: notifyUrl,
      },
      'QR payment (MPM)',
      'Confirm amount, currency and order number with the person first. In `local`, loopback notify URLs are allowed; elsewhere only prefixes in QFPAY_ALLOWED_URLS.',
    );
    const syssn = qr.structured.syssn;
    await call(
      local,
      'wait_for_payment',
      { out_trade_no: 'order_20261127_0042', timeout_seconds: 2 },
      'Waiting times out honestly',
      'The customer has not scanned yet: the answer says so and the wait can simply be repeated.',
    );
    await call(
      local,
      'simulate_customer_payment',
      { out_trade_no: 'order_20261127_0042', outcome: 'pay' },
      'The simulated customer pays',
    );
    await call(
      local,
      'wait_for_payment',
      { syssn, timeout_seconds: 30 },
      'Waiting until final',
      'Progress notifications are sent on every poll when the client asks for progress.',
    );
    for (let i = 0; i < 50 && notifications.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    if (notifications[0]) {
      await call(
        local,
        'verify_notification',
        notifications[0],
        'Verify the notification QFPay sent',
        'The body and X-QF-SIGN exactly as the simulator POSTed them to notify_url.',
      );
      await call(
        local,
        'verify_notification',
        { ...notifications[0], body: notifications[0].body.replace('"2500"', '"25000"') },
        'A tampered notification',
      );
    }
    await call(
      local,
      'refund',
      { syssn, txamt: 1000, out_trade_no: 'order_20261127_0042_r1' },
      'Partial refund',
    );
    await call(
      local,
      'query_transaction',
      { out_trade_no: 'order_20261127_0042' },
      'Query a payment with its refunds',
    );
    await call(
      local,
      'refund',
      { syssn, txamt: 2000 },
      'Refund more than is left',
      'Refused before anything is sent to QFPay.',
    );
    await call(
      local,
      'reconcile_day',
      {},
      "Reconcile today's ledger with QFPay",
      'Read-only: lists money QFPay moved that the ledger lacks, ledger actions QFPay does not know, and amount or status differences.',
    );

    await call(
      local,
      'add_note',
      { syssn, note: 'Lunch set, table 12' },
      'Attach a note to the payment',
      'Moves no money; a later note replaces it. Refused for merchants with an mchid and for notes holding a card number.',
    );

    // WeChat JSAPI (800207): the customer's openid through QFPay's official account.
    const link = await call(
      local,
      'wechat_openid',
      { redirect_uri: 'https://shop.example.com/wechat/return' },
      'WeChat JSAPI: the OAuth link for the customer',
      "Open it in the customer's WeChat browser; it comes back to redirect_uri?code=…. redirect_uri must be under QFPAY_ALLOWED_URLS (here https://shop.example.com), or no link is signed.",
    );
    // What the customer's browser does (the simulator plays WeChat's consent page).
    const consentPage = await (await fetch(link.structured.oauth_url)).text();
    const consent = /name="consent" value="([0-9a-f]+)"/.exec(consentPage)?.[1] ?? '';
    const allowed = await fetch(new URL('/tool/v1/get_weixin_oauth_code', link.structured.oauth_url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ consent, decision: 'allow' }).toString(),
      redirect: 'manual',
    });
    const code = new URL(allowed.headers.get('location') ?? 'https://invalid.example/').searchParams.get(
      'code',
    );
    if (code) {
      await call(
        local,
        'wechat_openid',
        { code },
        'WeChat JSAPI: the code from the redirect → the openid',
        'Single-use: the same code again is refused, and the openid serves one create_payment (pay_type 800207, sub_openid).',
      );
      await call(local, 'wechat_openid', { code }, 'The same code again');
    }

    // A hosted checkout link: the customer pays by card (3-D Secure), Apple Pay or a wallet on QFPay's page.
    const shop = new URL(notifyUrl).origin;
    await call(
      local,
      'create_checkout_link',
      {
        txamt: 12800,
        txcurrcd: 'HKD',
        out_trade_no: 'order_20261127_0044',
        goods_name: 'Tea set',
        return_url: `${shop}/paid`,
        failed_url: `${shop}/failed`,
        notify_url: notifyUrl,
        expires_in_minutes: 30,
      },
      'Hosted checkout link (cards, Apple Pay, wallets)',
      'Nothing is sent to QFPay yet; the link takes the money once the customer pays on the page. Card numbers never pass through the agent.',
    );

    // CPM: a scanned wallet code that needs the customer's PIN.
    const cpmArgs = {
      pay_type: '800008',
      txamt: 1800,
      txcurrcd: 'HKD',
      out_trade_no: 'order_20261127_0043',
      auth_code: '134567890123451145',
    };
    await call(
      local,
      'create_payment',
      cpmArgs,
      'Scanned customer code (CPM), wallet asks for a PIN',
      'In the simulator the last four digits of auth_code choose the wallet\'s answer; 1145 means "processing".',
    );
    await call(
      local,
      'wait_for_payment',
      { out_trade_no: 'order_20261127_0043', timeout_seconds: 60 },
      'Wait for the PIN',
    );
    await call(
      local,
      'create_payment',
      cpmArgs,
      'The same call again (a retry)',
      'Same out_trade_no, same parameters: the recorded outcome comes back, nothing is charged twice.',
    );
    await call(
      local,
      'create_payment',
      { ...cpmArgs, txamt: 1900 },
      'Same out_trade_no, different amount',
      'Refused: an order number belongs to one set of parameters.',
    );
    await call(
      local,
      'create_payment',
      { pay_type: '800008', txamt: 990, txcurrcd: 'HKD', auth_code: '134567890123451201' },
      'A declined wallet (insufficient balance)',
      'auth_code ending in 1201: the wallet answers "insufficient balance".',
    );

    // Cancel an unpaid order.
    await call(
      local,
      'create_payment',
      { pay_type: '800101', txamt: 1200, txcurrcd: 'HKD', out_trade_no: 'order_20261127_0044' },
      'Another QR payment',
    );
    await call(
      local,
      'cancel_payment',
      { out_trade_no: 'order_20261127_0044' },
      'The customer gives up: cancel it',
    );

    // Pre-authorisation: hold, capture in parts, release the rest once.
    const hold = await call(
      local,
      'create_payment',
      {
        pay_type: '801801',
        txamt: 50000,
        txcurrcd: 'HKD',
        out_trade_no: 'order_20261127_0047',
        auth_code: '280000000000000001',
      },
      'Pre-authorise a deposit (Alipay, scanned code)',
      'PAID here means authorised: the money is held, not taken.',
    );
    const authSyssn = hold.structured.syssn;
    await call(
      local,
      'capture_preauth',
      { syssn: authSyssn, txamt: 32000, out_trade_no: 'order_20261127_0047_c1' },
      'Capture part of it',
      'The capture has its own out_trade_no and syssn; refund it by that syssn.',
    );
    await call(
      local,
      'capture_preauth',
      { syssn: authSyssn, txamt: 20000 },
      'Capture more than is left',
      'Refused before anything is sent to QFPay.',
    );
    await call(
      local,
      'release_preauth',
      { syssn: authSyssn },
      'Release the rest',
      'Once only: afterwards no capture is accepted, and a repeat sends nothing.',
    );

    // A classic mistake: "&key=" before the key, as some other payment APIs want it.
    const params = {
      out_trade_no: 'order_20261127_0045',
      pay_type: '800101',
      txamt: 100,
      txcurrcd: 'HKD',
      txdtm: '2026-11-27 12:00:00',
    };
    const canonical = Object.keys(params)
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join('&');
    const wrong = createHash('md5')
      .update(`${canonical}&key=${DEFAULT_SIMULATOR_CREDENTIAL.key}`)
      .digest('hex')
      .toUpperCase();
    await call(
      local,
      'diagnose_signature',
      { params, signature: wrong, sign_type: 'MD5' },
      'Find the mistake in a signature',
      'The signature below was made with "&key=" before the key, as some other payment APIs require.',
    );

    // Production: gate closed, then open with a confirmation.
    const prodClosed = await open({ QFPAY_ENV: 'prod' });
    const prodArgs = {
      pay_type: '800008',
      txamt: 4200,
      txcurrcd: 'HKD',
      out_trade_no: 'order_20261127_0046',
      auth_code: '134567890123456789',
    };
    await call(
      prodClosed,
      'create_payment',
      prodArgs,
      'Production, writes not enabled',
      'The server was started without --allow-prod-writes: nothing is sent.',
    );
    const prodOpen = await open({ QFPAY_ENV: 'prod' }, { allowProdWrites: true });
    const prepared = await call(
      prodOpen,
      'create_payment',
      prodArgs,
      'Production, step 1: confirmation required',
      'Nothing is sent yet. Show the summary to the person and wait for an explicit yes.',
    );
    if (typeof prepared.structured.confirmation_token === 'string')
      await call(
        prodOpen,
        'create_payment',
        { ...prodArgs, confirmation_token: prepared.structured.confirmation_token },
        'Production, step 2: the same call with the token',
      );

    return renderToolsReference({ version: readPackageVersion(), tools, registry: TOOL_REGISTRY, exchanges });
  } finally {
    for (const session of sessions) {
      await session.client.close().catch(() => {});
      await session.server.close().catch(() => {});
      await session.runtime.close().catch(() => {});
    }
    await new Promise((resolve) => listener.close(resolve));
    await simulator.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** The simulator enforces QFPay's 23:30–00:30 (UTC+8) refund cut-off; examples should not depend on the hour. */
function keepClockOutOfRefundCutoff(simulator) {
  const hongKong = new Date(simulator.control.clock().epoch_ms + 8 * 3_600_000);
  const minute = hongKong.getUTCHours() * 60 + hongKong.getUTCMinutes();
  if (minute >= 23 * 60 + 30) simulator.control.setClock({ advanceMs: (24 * 60 - minute + 31) * 60_000 });
  else if (minute < 30) simulator.control.setClock({ advanceMs: (31 - minute) * 60_000 });
}

export function renderToolsReference({ version, tools, registry, exchanges }) {
  const access = new Map(registry.map((entry) => [entry.tool.name, entry]));
  const toc = tools.map((tool) => `[\`${tool.name}\`](#${tool.name})`).join(' · ');
  const index = tools.map((tool) => {
    const entry = access.get(tool.name);
    const examples = exchanges.filter((e) => e.tool === tool.name).map((e) => `“${e.title}”`);
    return [
      `### ${tool.name}`,
      '',
      `${tool.title ?? tool.annotations?.title ?? tool.name}: ${ACCESS_WORDS[entry?.access] ?? 'tool'}, toolset \`${entry?.toolset ?? '?'}\`. ` +
        `OpenClaw: \`qfpay__${tool.name}\`, Claude Code: \`mcp__qfpay__${tool.name}\`.`,
      '',
      String(tool.description ?? '').split('\n')[0],
      '',
      'Arguments:',
      '',
      ...inputLines(tool),
      '',
      examples.length > 0 ? `Examples below: ${examples.join(', ')}.` : 'No example below.',
      '',
    ].join('\n');
  });
  return `# qfpay tools: example calls and real answers

<!-- Generated by scripts/gen-references.mjs from a real session (qfpay-mcp ${version}, official MCP client) against the QFPay simulator. Regenerate: npm run build && node scripts/gen-references.mjs -->

Every answer below is what the server returned. Each answer is said once: one short text stating
the essentials (quoted here) and the data as \`structuredContent\` (the JSON blocks); QR payments also
attach the QR as a PNG image. \`syssn\`, times and generated order numbers differ on every run.
Amounts are integers in the smallest currency unit (\`txamt: 2500\` with \`HKD\` is HKD 25.00).

Tools: ${toc}

## The tools

${index.join('\n')}
## A session, call by call

${exchanges.map(exchangeMarkdown).join('\n')}`;
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const root = new URL('../', import.meta.url);
  const distUrl = new URL('dist/', root);
  const catalog = await import(new URL('qfpay/catalog/index.js', distUrl).href);
  await writeFile(fileURLToPath(new URL(RESPONSE_CODES_PATH, root)), renderResponseCodes(catalog));
  console.error(`wrote ${RESPONSE_CODES_PATH} (${catalog.RESPONSE_CODES.length} codes)`);
  await writeFile(fileURLToPath(new URL(TOOLS_PATH, root)), await generateToolsReference({ distUrl }));
  console.error(`wrote ${TOOLS_PATH}`);
}
