import process from 'node:process';
import { URL } from 'node:url';
import { Buffer } from 'node:buffer';
import { rounded, summarise, median, nowMs, round } from './lib/stats.mjs';
import { StdioRpc } from './lib/stdio-rpc.mjs';
import { serverEverythingBin } from './lib/paths.mjs';
import { OUR_SERVER, connectOfficialClient, embeddedServerEnv, runIfMain } from './lib/harness.mjs';
import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { measurePeerRoundTrips } from './lib/peers.mjs';

/**
 * Benchmark 2 — the SDK floor: how close a reference-only tool of ours gets to the official
 * reference server's trivial `echo`, with the same client, interleaved call by call.
 *   ours        explain_respcd {respcd:"1143"} on `node dist/cli.js` (QFPAY_ENV=local): a repeat of
 *               the same call, as the reference's echo is, so answered from the runtime's
 *               reference-answer memory (src/mcp/tools/reference-answers.ts) after the first round
 *   ours-computed the same server, each call with another pay_type (which does not change a 1143
 *               answer, checked below), so every answer is built, checked and redacted afresh
 *   everything  echo {message:"…"} on @modelcontextprotocol/server-everything (v1 SDK), stdio
 *   v2-echo     the same echo rebuilt on OUR SDK (v2 + serveStdio, bench/lib/v2-echo-server.mjs):
 *               v2-echo / everything is what the SDK generation costs, ours / v2-echo what our tool costs
 *   v2-answer   that server answering our explain_respcd result verbatim (BENCH_ANSWER):
 *               v2-answer / v2-echo is what our answer's size costs
 *   v2-schemas  the same answer from a tool declaring explain_respcd's own input and output schemas
 *               (BENCH_SCHEMAS_OF), none of our code: v2-schemas / v2-answer is what checking those
 *               schemas costs (server and client), ours / v2-schemas our tool's own code, and
 *               v2-schemas / everything the floor any tool with these schemas and this answer has here
 * Measured twice: with the official v2 client (the "same client" of the target) and with a bare
 * JSON-RPC line client (server cost without client-side validation).
 */

const CALLS = Number(process.env.BENCH_FLOOR_CALLS ?? 2_000);
const WARMUP = 200;
const PEER_CALLS = Number(process.env.BENCH_PEER_CALLS ?? 1_000);

export async function run({ log }) {
  const everything = serverEverythingBin();
  const oursSpec = OUR_SERVER(embeddedServerEnv());
  const v2EchoSpec = {
    command: process.execPath,
    args: [new URL('./lib/v2-echo-server.mjs', import.meta.url).pathname],
    env: getDefaultEnvironment(),
  };
  const everythingSpec = {
    command: process.execPath,
    args: [everything.path, 'stdio'],
    env: getDefaultEnvironment(),
  };
  const closers = [];
  try {
    const sdkOurs = await connectOfficialClient(oursSpec);
    closers.push(sdkOurs);
    const sdkEverything = await connectOfficialClient(everythingSpec);
    closers.push(sdkEverything);
    const sdkV2Echo = await connectOfficialClient(v2EchoSpec);
    closers.push(sdkV2Echo);
    // Our answer as the client receives it, served back verbatim by the v2-answer control.
    const ourAnswer = await sdkOurs.callTool({ name: 'explain_respcd', arguments: { respcd: '1143' } });
    const sdkV2Answer = await connectOfficialClient({
      ...v2EchoSpec,
      env: { ...v2EchoSpec.env, BENCH_ANSWER: JSON.stringify(ourAnswer) },
    });
    closers.push(sdkV2Answer);
    const sdkV2Schemas = await connectOfficialClient({
      ...v2EchoSpec,
      env: { ...v2EchoSpec.env, BENCH_ANSWER: JSON.stringify(ourAnswer), BENCH_SCHEMAS_OF: 'explain_respcd' },
    });
    closers.push(sdkV2Schemas);
    const lineOurs = new StdioRpc(oursSpec);
    closers.push(lineOurs);
    const lineEverything = new StdioRpc(everythingSpec);
    closers.push(lineEverything);
    await Promise.all([
      lineOurs.initialize(),
      lineEverything.initialize(),
      sdkOurs.listTools(),
      sdkEverything.listTools(),
      sdkV2Echo.listTools(),
      sdkV2Answer.listTools(),
      // The client learns the output schema here and checks every later answer against it, as it does ours.
      sdkV2Schemas.listTools(),
    ]);

    const message = 'The quick brown fox jumps over the lazy dog';
    // The answer built afresh must be, byte for byte, the one measured: only the work differs.
    const measuredAnswer = JSON.stringify([ourAnswer.content, ourAnswer.structuredContent]);
    let computedRound = 0;
    const contenders = {
      'sdk:ours': async () => {
        const r = await sdkOurs.callTool({ name: 'explain_respcd', arguments: { respcd: '1143' } });
        if (r.isError || r.structuredContent?.respcd !== '1143') throw new Error('explain_respcd failed');
        return r;
      },
      'sdk:everything': async () => {
        const r = await sdkEverything.callTool({ name: 'echo', arguments: { message } });
        if (r.isError || !r.content[0].text.includes(message)) throw new Error('echo failed');
        return r;
      },
      'sdk:v2-echo': async () => {
        const r = await sdkV2Echo.callTool({ name: 'echo', arguments: { message } });
        if (r.isError || !r.content[0].text.includes(message)) throw new Error('v2 echo failed');
        return r;
      },
      'sdk:v2-answer': async () => {
        const r = await sdkV2Answer.callTool({ name: 'echo', arguments: { message } });
        if (r.isError || r.structuredContent?.respcd !== '1143') throw new Error('v2 answer failed');
        return r;
      },
      'sdk:v2-schemas': async () => {
        const r = await sdkV2Schemas.callTool({ name: 'explain_respcd', arguments: { respcd: '1143' } });
        if (r.isError || r.structuredContent?.respcd !== '1143') throw new Error('v2 schemas failed');
        return r;
      },
      'sdk:ours-computed': async () => {
        computedRound += 1;
        const r = await sdkOurs.callTool({
          name: 'explain_respcd',
          arguments: { respcd: '1143', pay_type: String(100_000 + computedRound) },
        });
        if (r.isError || JSON.stringify([r.content, r.structuredContent]) !== measuredAnswer)
          throw new Error(
            'explain_respcd with another pay_type answered other bytes than the measured answer',
          );
        return r;
      },
      'line:ours': async () => lineOurs.callTool('explain_respcd', { respcd: '1143' }),
      'line:everything': async () => lineEverything.callTool('echo', { message }),
    };
    const names = Object.keys(contenders);
    const samples = Object.fromEntries(names.map((name) => [name, []]));
    const bytes = {};
    log(`sdk-floor: ${WARMUP} warm-up + ${CALLS} measured rounds of ${names.join(', ')}`);
    for (let round = 0; round < WARMUP + CALLS; round++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(round + k) % names.length];
        const started = nowMs();
        const answer = await contenders[name]();
        if (round >= WARMUP) samples[name].push(nowMs() - started);
        if (round === 0 && name.startsWith('line:')) bytes[name] = Buffer.byteLength(answer.line);
      }
    }
    const s = Object.fromEntries(names.map((name) => [name, rounded(summarise(samples[name]))]));
    const pairedRatio = (a, b) => median(samples[a].map((x, i) => x / samples[b][i]));
    const ratio = round(s['sdk:ours'].p50 / s['sdk:everything'].p50);
    for (const closer of closers.splice(0)) await closer.close();
    // Stripe, PayPal and the reference side by side with ours (bench/lib/peers.mjs), after the main
    // loop so the payment peers' extra processes do not load the measurement of the target.
    const peers = await measurePeerRoundTrips({ oursSpec, calls: PEER_CALLS, warmup: 100, log });
    return {
      peers,
      calls: CALLS,
      warmup: WARMUP,
      reference: `@modelcontextprotocol/server-everything ${everything.version} (stdio, v1 SDK), tool echo`,
      ours: 'qfpay-mcp dist/cli.js (QFPAY_ENV=local), tool explain_respcd',
      latency_ms: s,
      response_bytes: { ours: bytes['line:ours'], everything: bytes['line:everything'] },
      ratio_p50_official_client: ratio,
      ratio_p99_official_client: round(s['sdk:ours'].p99 / s['sdk:everything'].p99),
      ratio_paired_median_official_client: round(pairedRatio('sdk:ours', 'sdk:everything')),
      ratio_p50_sdk_generation_v2_echo_vs_reference: round(s['sdk:v2-echo'].p50 / s['sdk:everything'].p50),
      ratio_p50_our_tool_vs_v2_echo: round(s['sdk:ours'].p50 / s['sdk:v2-echo'].p50),
      ratio_p50_answer_size_v2_answer_vs_v2_echo: round(s['sdk:v2-answer'].p50 / s['sdk:v2-echo'].p50),
      ratio_p50_our_code_vs_v2_answer: round(s['sdk:ours'].p50 / s['sdk:v2-answer'].p50),
      ratio_p50_schema_checks_v2_schemas_vs_v2_answer: round(
        s['sdk:v2-schemas'].p50 / s['sdk:v2-answer'].p50,
      ),
      ratio_p50_our_code_vs_v2_schemas: round(s['sdk:ours'].p50 / s['sdk:v2-schemas'].p50),
      ratio_p50_schemas_floor_v2_schemas_vs_reference: round(
        s['sdk:v2-schemas'].p50 / s['sdk:everything'].p50,
      ),
      ratio_p50_computed_official_client: round(s['sdk:ours-computed'].p50 / s['sdk:everything'].p50),
      ratio_p50_kept_vs_computed: round(s['sdk:ours'].p50 / s['sdk:ours-computed'].p50),
      ratio_p50_line_client: round(s['line:ours'].p50 / s['line:everything'].p50),
      target: { ratio_at_most: 1.2 },
      met: ratio <= 1.2,
    };
  } finally {
    for (const closer of closers) await closer.close();
  }
}

runIfMain(import.meta.url, run);
