import { Buffer } from 'node:buffer';
import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { getEncoding } from 'js-tiktoken';
import { StdioRpc } from './lib/stdio-rpc.mjs';
import { scratchStateDir } from './lib/paths.mjs';
import { OUR_SERVER, embeddedServerEnv, runIfMain } from './lib/harness.mjs';
import { measurePeerContext } from './lib/peers.mjs';

/**
 * Benchmark 5 — context cost: what a host puts in the model's context before the first call
 * (the tools/list answer, plus the server instructions from initialize, and the resource and
 * prompt lists hosts load on demand), in UTF-8 bytes and tokens of the o200k tokenizer
 * (js-tiktoken), per tool and in total. Also the size of typical results. Measured on the wire
 * with a bare JSON-RPC client, so the bytes are exactly what the server sent. The targets of
 * issue #15 ¶1–2 are reported with pass/fail.
 */

/** issue #15 ¶1–2: o200k tokens of the default tool list and of each tool; result bytes on the wire. */
const TARGETS = {
  tools_list_tokens: 4_000,
  tool_tokens: 400,
  results_bytes: {
    'explain_respcd {respcd:"1143"}': 1_000,
    'query_transaction (1 payment)': 1_500,
    'create_payment MPM (QR image attached)': 3_000,
  },
};

const o200k = getEncoding('o200k_base');
/** Tokens of a value as a model sees it: strings as they are, everything else as its JSON. */
const tokensOf = (value) => o200k.encode(typeof value === 'string' ? value : JSON.stringify(value)).length;
const byteLength = (value) => Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value));

async function toolset(spec) {
  const rpc = new StdioRpc(spec);
  try {
    const init = await rpc.initialize();
    const list = await rpc.request('tools/list');
    const tools = list.message.result.tools;
    const instructions = init.message.result.instructions ?? '';
    const lists = {};
    for (const [method, key] of [
      ['resources/list', 'resources'],
      ['resources/templates/list', 'resourceTemplates'],
      ['prompts/list', 'prompts'],
    ]) {
      const answer = await rpc.request(method);
      const items = answer.message.result?.[key] ?? [];
      lists[method] = { count: items.length, bytes: byteLength(items), tokens: tokensOf(items) };
    }
    // Hosts typically hand the model name + description + input schema (the shape of an LLM API
    // tool definition); the output schema is used by the client to validate results.
    const modelFacing = (tool) =>
      byteLength({ name: tool.name, description: tool.description, input_schema: tool.inputSchema });
    const modelFacingTotal = tools.reduce((sum, tool) => sum + modelFacing(tool), 0);
    const modelFacingTokens = tools.reduce(
      (sum, tool) =>
        sum + tokensOf({ name: tool.name, description: tool.description, input_schema: tool.inputSchema }),
      0,
    );
    return {
      rpc,
      summary: {
        tools: tools.length,
        tools_list_bytes: byteLength(tools),
        tools_list_tokens: tokensOf(tools),
        model_facing_bytes: modelFacingTotal,
        model_facing_tokens: modelFacingTokens,
        instructions_bytes: byteLength(instructions),
        instructions_tokens: tokensOf(instructions),
        lists,
        per_tool: tools.map((tool) => ({
          name: tool.name,
          bytes: byteLength(tool),
          tokens: tokensOf(tool),
          model_facing_bytes: modelFacing(tool),
          description_bytes: byteLength(tool.description ?? ''),
          description_tokens: tokensOf(tool.description ?? ''),
          input_schema_tokens: tokensOf(tool.inputSchema ?? {}),
          output_schema_tokens: tokensOf(tool.outputSchema ?? {}),
          input_schema_bytes: byteLength(tool.inputSchema ?? {}),
          output_schema_bytes: byteLength(tool.outputSchema ?? {}),
        })),
      },
    };
  } catch (error) {
    await rpc.close();
    throw error;
  }
}

/** Calls a write tool, repeating with the token when a guard asks for confirmation. */
async function callConfirmed(rpc, name, args) {
  let answer = await rpc.callTool(name, args);
  const token = answer.message.result.structuredContent?.confirmation_token;
  if (token) answer = await rpc.callTool(name, { ...args, confirmation_token: token });
  return answer;
}

async function resultSizes(rpc) {
  const sizes = [];
  const record = (label, answer) => {
    const result = answer.message.result;
    const texts = result.content.filter((c) => c.type === 'text').map((c) => c.text);
    const textBytes = texts.reduce((s, text) => s + byteLength(text), 0);
    const imageBytes = result.content
      .filter((c) => c.type === 'image')
      .reduce((s, c) => s + byteLength(c.data), 0);
    sizes.push({
      call: label,
      bytes: byteLength(answer.line),
      text_blocks: texts.length,
      text_bytes: textBytes,
      text_tokens: texts.reduce((s, text) => s + tokensOf(text), 0),
      structured_bytes: byteLength(result.structuredContent ?? {}),
      image_base64_bytes: imageBytes,
    });
  };
  record('explain_respcd {respcd:"1143"}', await rpc.callTool('explain_respcd', { respcd: '1143' }));
  record('list_currencies {}', await rpc.callTool('list_currencies', {}));
  record('list_pay_types {}', await rpc.callTool('list_pay_types', {}));
  const cpm = await callConfirmed(rpc, 'create_payment', {
    pay_type: '800108',
    txamt: 1050,
    txcurrcd: 'HKD',
    auth_code: '280000000000000001',
  });
  record('create_payment CPM (PAID)', cpm);
  const mpm = await callConfirmed(rpc, 'create_payment', {
    pay_type: '800101',
    txamt: 1050,
    txcurrcd: 'HKD',
  });
  record('create_payment MPM (QR image attached)', mpm);
  const ref = cpm.message.result.structuredContent.out_trade_no;
  record('query_transaction (1 payment)', await rpc.callTool('query_transaction', { out_trade_no: ref }));
  return sizes;
}

export async function run({ log }) {
  log('context-cost: tools/list of the full, production-like and read-only toolsets');
  const full = await toolset(OUR_SERVER(embeddedServerEnv()));
  let results;
  try {
    results = await resultSizes(full.rpc);
  } finally {
    await full.rpc.close();
  }
  // A non-local environment has no simulator tool; no request leaves the machine for tools/list.
  const sandbox = await toolset(
    OUR_SERVER({
      ...getDefaultEnvironment(),
      QFPAY_ENV: 'sandbox',
      QFPAY_APPCODE: 'BENCHAPPCODE00000000000000000000',
      QFPAY_KEY: 'bench-key-not-used-for-any-request',
      QFPAY_STATE_DIR: scratchStateDir(),
    }),
  );
  await sandbox.rpc.close();
  const readOnly = await toolset(OUR_SERVER(embeddedServerEnv(), ['--read-only']));
  await readOnly.rpc.close();
  // Stripe, PayPal and the reference server, counted by the same `toolset` (bench/lib/peers.mjs).
  const peers = await measurePeerContext(toolset, log);
  const reference = { summary: peers.everything };
  return {
    tokenizer: 'o200k_base (js-tiktoken): tokens of the JSON text as sent',
    targets: targetsMet(full.summary, results),
    toolsets: {
      'full (QFPAY_ENV=local)': full.summary,
      'full (QFPAY_ENV=sandbox, no simulator tool)': sandbox.summary,
      'read-only (--read-only)': readOnly.summary,
    },
    peers,
    reference: {
      server: peers.everything.server,
      tools: reference.summary.tools,
      tools_list_bytes: reference.summary.tools_list_bytes,
      tools_list_tokens: reference.summary.tools_list_tokens,
      model_facing_bytes: reference.summary.model_facing_bytes,
    },
    result_sizes: results,
  };
}

/** Each target of issue #15 ¶1–2 with the measured figure and pass/fail. */
function targetsMet(full, results) {
  const overTools = full.per_tool.filter((t) => t.tokens > TARGETS.tool_tokens);
  const rows = [
    {
      target: `default tool list ≤ ${TARGETS.tools_list_tokens} tokens`,
      measured: full.tools_list_tokens,
      met: full.tools_list_tokens <= TARGETS.tools_list_tokens,
    },
    {
      target: `every tool ≤ ${TARGETS.tool_tokens} tokens`,
      measured: `largest ${Math.max(...full.per_tool.map((t) => t.tokens))}; over: ${overTools.map((t) => `${t.name} ${t.tokens}`).join(', ') || 'none'}`,
      met: overTools.length === 0,
    },
  ];
  for (const [call, limit] of Object.entries(TARGETS.results_bytes)) {
    const result = results.find((r) => r.call === call);
    rows.push({
      target: `${call} ≤ ${limit} B on the wire`,
      measured: result?.bytes ?? 'not measured',
      met: result !== undefined && result.bytes <= limit,
    });
  }
  rows.push({
    target: 'results said once: one text block per result',
    measured: results.map((r) => r.text_blocks).join(', '),
    met: results.every((r) => r.text_blocks === 1),
  });
  return rows;
}

runIfMain(import.meta.url, run);
