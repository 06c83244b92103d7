import process from 'node:process';
import { rounded, summarise, median, nowMs, round } from './lib/stats.mjs';
import { RawQfpay, qfpayNow } from './lib/qfpay-raw.mjs';
import { StdioRpc } from './lib/stdio-rpc.mjs';
import { importDist } from './lib/paths.mjs';
import {
  OUR_SERVER,
  UNLIMITED_WINDOWS,
  UNLIMITED_WINDOWS_TEXT,
  connectOfficialClient,
  runIfMain,
  serverEnvFor,
  startUnlimitedSimulator,
} from './lib/harness.mjs';

/**
 * Benchmark 1 — per-call overhead of the MCP server.
 *
 * One in-process simulator; three callers take turns on the same query (rotating order every
 * round, one call at a time):
 *   raw           a signed undici POST of /trade/v1/query + JSON.parse (a hand-written script)
 *   qfpay-client  our QfpayClient.findTransaction in this process (limiter, signing, response
 *                 signature check, zod parsing of the answer) — no MCP
 *   mcp-line      query_transaction on the spawned built CLI over stdio, bare JSON-RPC line client
 *   mcp-sdk       the same tool through the official @modelcontextprotocol/client (adds client-side
 *                 validation of structuredContent against the outputSchema: client cost)
 *   mcp-ping      MCP `ping` on the same spawned server: the stdio round-trip floor
 * "Server adds" = mcp-line − raw: stdio framing, MCP dispatch, zod input parsing, our QfpayClient,
 * outcome summary and rendering of the result (text + structuredContent).
 */

const CALLS = Number(process.env.BENCH_OVERHEAD_CALLS ?? 2_000);
const WARMUP = 200;
const OUT_TRADE_NO = 'bench_overhead_0001';

export async function run({ log }) {
  const { simulator, credential } = await startUnlimitedSimulator();
  const raw = new RawQfpay(simulator.baseUrl, credential);
  const servers = [];
  try {
    const created = await raw.post('/trade/v1/payment', {
      pay_type: '800108',
      auth_code: '280000000000000001',
      txamt: '1050',
      txcurrcd: 'HKD',
      out_trade_no: OUT_TRADE_NO,
      txdtm: qfpayNow(),
    });
    if (created.json.respcd !== '0000') throw new Error(`seed payment failed: ${created.json.respcd}`);

    const spec = OUR_SERVER(serverEnvFor(simulator.baseUrl, credential));
    const line = new StdioRpc(spec);
    servers.push(line);
    await line.initialize();
    const sdk = await connectOfficialClient(spec);
    servers.push(sdk);
    await sdk.listTools();

    const { QfpayClient } = await importDist('qfpay/client.js');
    const client = new QfpayClient({
      baseUrl: simulator.baseUrl,
      credentials: credential,
      rateLimits: UNLIMITED_WINDOWS,
    });
    servers.push({ close: () => client.destroy() });

    const perCall = {};
    const contenders = {
      // As many signed POSTs as the client sends for one lookup, so "server adds" compares like with like.
      raw: async () => {
        for (let i = 0; i < (perCall['qfpay-client'] ?? 1); i++) {
          const answer = await raw.post('/trade/v1/query', { out_trade_no: OUT_TRADE_NO, page_size: '100' });
          if (answer.json.respcd !== '0000' || answer.json.data.length !== 1)
            throw new Error('raw query failed');
        }
      },
      'qfpay-client': async () => {
        const rows = await client.findTransaction({ out_trade_no: OUT_TRADE_NO });
        if (rows.length !== 1 || rows[0].respcd !== '0000') throw new Error('qfpay-client: not found');
      },
      'mcp-line': async () => {
        const answer = await line.callTool('query_transaction', { out_trade_no: OUT_TRADE_NO });
        if (answer.message.result.structuredContent.status !== 'PAID') throw new Error('mcp-line: not PAID');
      },
      'mcp-sdk': async () => {
        const result = await sdk.callTool({
          name: 'query_transaction',
          arguments: { out_trade_no: OUT_TRADE_NO },
        });
        if (result.isError || result.structuredContent?.status !== 'PAID')
          throw new Error('mcp-sdk: not PAID');
      },
      'mcp-ping': async () => {
        const answer = await line.request('ping');
        if (answer.message.error) throw new Error('ping failed');
      },
    };
    const names = Object.keys(contenders);
    const upstreamCallers = names.filter((name) => name !== 'mcp-ping');
    const samples = Object.fromEntries(names.map((name) => [name, []]));
    // Upstream queries per call of each contender (a lookup by out_trade_no covers two months, so
    // the client and the tools send two where the raw call sends one), counted once, then checked.
    for (const name of ['qfpay-client', ...upstreamCallers.filter((n) => n !== 'qfpay-client')]) {
      const start = simulator.control.requests().length;
      await contenders[name]();
      perCall[name] = simulator.control.requests().length - start;
    }
    const before = simulator.control.requests().length;
    log(`overhead: ${WARMUP} warm-up + ${CALLS} measured rounds of ${names.join(', ')}`);
    for (let round = 0; round < WARMUP + CALLS; round++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(round + k) % names.length];
        const started = nowMs();
        await contenders[name]();
        if (round >= WARMUP) samples[name].push(nowMs() - started);
      }
    }
    const upstream = simulator.control.requests().slice(before);
    const queries = upstream.filter((r) => r.path === '/trade/v1/query' && r.http_status === 200).length;
    const expected = upstreamCallers.reduce((sum, name) => sum + perCall[name], 0) * (WARMUP + CALLS);
    if (queries !== expected) throw new Error(`expected ${expected} upstream queries, saw ${queries}`);

    const paired = (a, b) => median(samples[a].map((x, i) => x - samples[b][i]));
    const summaries = Object.fromEntries(names.map((name) => [name, rounded(summarise(samples[name]))]));
    const rawP50 = summaries.raw.p50;
    return {
      calls: CALLS,
      warmup: WARMUP,
      rate_limits: `simulator ${UNLIMITED_WINDOWS_TEXT}, server QFPAY_RATE_LIMITS=${UNLIMITED_WINDOWS_TEXT}`,
      upstream_queries_per_call: perCall,
      latency_ms: summaries,
      server_adds_ms: {
        p50: round(summaries['mcp-line'].p50 - rawP50),
        p99: round(summaries['mcp-line'].p99 - summaries.raw.p99),
        paired_median: round(paired('mcp-line', 'raw')),
      },
      breakdown_p50_ms: {
        stdio_round_trip: summaries['mcp-ping'].p50,
        qfpay_client_over_raw: round(summaries['qfpay-client'].p50 - rawP50),
        mcp_layer_over_qfpay_client: round(summaries['mcp-line'].p50 - summaries['qfpay-client'].p50),
      },
      sdk_client_adds_ms: {
        p50: round(summaries['mcp-sdk'].p50 - summaries['mcp-line'].p50),
        paired_median: round(paired('mcp-sdk', 'mcp-line')),
      },
      target: { server_adds_p50_ms_below: 0.5, typical_qfpay_round_trip_ms: 50 },
      met: summaries['mcp-line'].p50 - rawP50 < 0.5,
    };
  } finally {
    for (const server of servers) await server.close();
    await raw.close();
    await simulator.close();
  }
}

runIfMain(import.meta.url, run);
