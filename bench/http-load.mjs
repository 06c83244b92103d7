import process from 'node:process';
import { URL } from 'node:url';
import { setTimeout } from 'node:timers';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { request } from 'undici';
import { embeddedServerEnv, runIfMain } from './lib/harness.mjs';
import { nowMs, round, rounded, summarise } from './lib/stats.mjs';

/**
 * Benchmark 6 — Streamable HTTP under load. The server runs in its own process (so its memory is
 * measured alone) with exactly the wiring of `qfpay-mcp serve --http` — createRuntime from the
 * environment, then startHttpServer, from dist/ — started with --expose-gc so memory can also be
 * read after a full collection (bench/lib/http-server-child.mjs).
 *
 * Phase A (modern, stateless): autocannon with many connections POSTing 2026-07-28 JSON-RPC
 * requests — `_meta` envelope with protocol version, client info and capabilities, plus the
 * Mcp-Method / Mcp-Name / MCP-Protocol-Version headers the official client sends (captured from
 * it) — alternating explain_respcd and list_currencies. src/transports/http.ts routes such
 * requests to createMcpHandler (a fresh McpServer per request). Every body is checked: a JSON-RPC
 * result without isError, or it counts as an error.
 * Phase B (2025 era, sessions): many official clients in-process, each with its own session
 * (initialize, then SSE-framed answers), calling the same tools in a loop.
 * Phase C (stateless ratio): explain_respcd on our server against `echo` on the same SDK and the
 * same startHttpServer (bench/lib/http-echo-server.mjs), both 2026-07-28 stateless, in alternating
 * slices of equal length so machine load hits both alike; the ratio of each adjacent pair's
 * throughputs, median over the pairs, is the figure (target ≥ 0.9).
 */

const DURATION_S = Number(process.env.BENCH_HTTP_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 100);
// 128 is where the former 100-session cap made 22–53 % of calls fail (performance audit §5.1).
const SESSION_CLIENTS = Number(process.env.BENCH_HTTP_SESSIONS ?? 128);
const RATIO_SLICES = Number(process.env.BENCH_HTTP_RATIO_SLICES ?? 4);
const RATIO_SLICE_S = Number(process.env.BENCH_HTTP_RATIO_SLICE_SECONDS ?? 5);
const RATIO_CONNECTIONS = Number(process.env.BENCH_HTTP_RATIO_CONNECTIONS ?? 16);
const SESSION_SECONDS = Number(process.env.BENCH_HTTP_SESSION_SECONDS ?? 10);
const PROTOCOL = '2026-07-28';

const META = {
  'io.modelcontextprotocol/protocolVersion': PROTOCOL,
  'io.modelcontextprotocol/clientInfo': { name: 'qfpay-mcp-bench', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

function modernToolCall(id, name, args) {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': PROTOCOL,
      'mcp-method': 'tools/call',
      'mcp-name': name,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name, arguments: args, _meta: META },
    }),
  };
}

function readMemory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss_mb: round(kb('VmRSS') / 1024), peak_rss_mb: round(kb('VmHWM') / 1024) };
}

async function startServer(args, env, { ipc = false } = {}) {
  const child = spawn(process.execPath, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])],
  });
  child.stdout.resume();
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = / url=(\S+)/.exec(stderr);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
  return {
    child,
    url,
    stderr: () => stderr,
    /** RSS and heap, after a full GC when `collect`; peak RSS from /proc. */
    async memory(collect = true) {
      const reply = new Promise((resolve) => {
        const onMessage = (message) => {
          if (message?.type !== 'memory') return;
          child.off('message', onMessage);
          resolve(message);
        };
        child.on('message', onMessage);
      });
      child.send({ type: 'memory', collect });
      const usage = await reply;
      return {
        rss_mb: round(usage.rss / 1024 ** 2),
        heap_used_mb: round(usage.heapUsed / 1024 ** 2),
        peak_rss_mb: readMemory(child.pid).peak_rss_mb,
      };
    },
    /**
     * What the server keeps, not what it happens to have mapped at one instant: SETTLE_READINGS
     * readings, each after a full GC, SETTLE_GAP_MS apart; the lowest RSS and heap stand for the
     * point, the highest RSS is kept beside it. Memory held for good (a leak) is in every reading;
     * pages V8 and the allocator have freed but not yet returned come and go between them.
     */
    async settledMemory() {
      const readings = [];
      for (let i = 0; i < SETTLE_READINGS; i++) {
        await new Promise((resolve) => setTimeout(resolve, SETTLE_GAP_MS));
        readings.push(await this.memory());
      }
      const rss = readings.map((r) => r.rss_mb);
      return {
        rss_mb: Math.min(...rss),
        rss_max_mb: Math.max(...rss),
        heap_used_mb: Math.min(...readings.map((r) => r.heap_used_mb)),
        peak_rss_mb: readings.at(-1).peak_rss_mb,
        readings: readings.length,
      };
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function isGoodToolResult(body) {
  try {
    const message = JSON.parse(body);
    return (
      message.result !== undefined && message.result.isError !== true && Array.isArray(message.result.content)
    );
  } catch {
    return false;
  }
}

/** The same load against a bare node:http server doing fixed work per request (see the lib file). */
async function controlPhase(seconds, connections, workMs) {
  const control = await startServer([new URL('./lib/plain-http-server.mjs', import.meta.url).pathname], {
    ...process.env,
    WORK_MS: String(workMs),
  });

  try {
    await modernPhase(control.url, 3, connections);
    return { work_ms_per_request: workMs, ...(await modernPhase(control.url, seconds, connections)) };
  } finally {
    await control.stop();
  }
}

const MIXED_CALLS = [
  modernToolCall(1, 'explain_respcd', { respcd: '1143' }),
  modernToolCall(2, 'list_currencies', {}),
];

async function modernPhase(url, seconds, connections, requests = MIXED_CALLS) {
  const started = nowMs();
  const slow = [];
  const instance = autocannon({
    url,
    connections,
    duration: seconds,
    timeout: 10,
    requests,
    verifyBody: isGoodToolResult,
  });
  // Answers slower than 500 ms, with when they arrived: tells connection start-up from steady state.
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    if (responseTime > 500) slow.push({ at_s: (nowMs() - started) / 1000, ms: responseTime });
  });
  const result = await instance;
  return {
    connections,
    duration_s: result.duration,
    requests: result.requests.total,
    throughput_rps: round(result.requests.average),
    latency_ms: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    bad_bodies: result.mismatches,
    slow_over_500ms: slow.length,
    // A request sent in the first half second and answered late is a connection's first request.
    slow_over_500ms_sent_at_start: slow.filter((x) => x.at_s - x.ms / 1000 < 0.5).length,
    slow_over_500ms_last_at_s: slow.length > 0 ? round(Math.max(...slow.map((x) => x.at_s))) : null,
  };
}

async function sessionPhase(url, clients, seconds) {
  const latencies = [];
  let errors = 0;
  let calls = 0;
  const deadline = nowMs() + seconds * 1000;
  const worker = async () => {
    const client = new Client({ name: 'qfpay-mcp-bench', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url));
    await client.connect(transport);
    try {
      for (let i = 0; nowMs() < deadline; i++) {
        const started = nowMs();
        try {
          const result =
            i % 2 === 0
              ? await client.callTool({ name: 'explain_respcd', arguments: { respcd: '1143' } })
              : await client.callTool({ name: 'list_currencies', arguments: {} });
          if (result.isError) errors++;
        } catch {
          errors++;
        }
        latencies.push(nowMs() - started);
        calls++;
      }
    } finally {
      // A well-behaved client ends its session (HTTP DELETE), so the server can free it now.
      await transport.terminateSession();
      await client.close();
    }
  };
  const started = nowMs();
  await Promise.all(Array.from({ length: clients }, worker));
  const elapsed = (nowMs() - started) / 1000;
  return {
    clients,
    duration_s: round(elapsed),
    requests: calls,
    throughput_rps: round(calls / elapsed),
    latency_ms: rounded(summarise(latencies)),
    errors,
  };
}

const WARMUP_MODERN_S = 5;
const WARMUP_SESSIONS_S = 3;
const SETTLE_READINGS = 3;
const SETTLE_GAP_MS = 1_000;

async function measureServer({ log }) {
  const server = await startServer(
    ['--expose-gc', new URL('./lib/http-server-child.mjs', import.meta.url).pathname],
    embeddedServerEnv(),
    { ipc: true },
  );
  try {
    log(
      `http-load: warm-up ${WARMUP_MODERN_S} s modern + ${WARMUP_SESSIONS_S} s sessions, then ${DURATION_S} s × ${CONNECTIONS} connections (modern), ${SESSION_SECONDS} s × ${SESSION_CLIENTS} sessions (2025)`,
    );
    const idle = await server.memory();
    // Both code paths are warmed up, so "before" is a heap already sized for this load.
    await modernPhase(server.url, WARMUP_MODERN_S, CONNECTIONS);
    await sessionPhase(server.url, SESSION_CLIENTS, WARMUP_SESSIONS_S);
    const before = await server.settledMemory();
    const modern = await modernPhase(server.url, DURATION_S, CONNECTIONS);
    const afterModern = await server.settledMemory();
    const sessions = await sessionPhase(server.url, SESSION_CLIENTS, SESSION_SECONDS);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = await server.settledMemory();
    const health = await request(server.url.replace(/\/mcp$/, '/healthz'));
    const healthy = health.statusCode === 200 && (await health.body.json()).ok === true;
    const serverErrors = server
      .stderr()
      .split('\n')
      .filter((line) => /unhandled error|request failed|Internal error/.test(line)).length;
    const modernErrors = modern.errors + modern.non2xx + modern.bad_bodies;
    const growth = round(after.rss_mb - before.rss_mb);
    return {
      server:
        'createRuntime + startHttpServer from dist/ (the wiring of `qfpay-mcp serve --http`), QFPAY_ENV=local, own process, --expose-gc',
      load_generator:
        'autocannon 9 (modern 2026-07-28 stateless POSTs) and official v2 clients (2025-era sessions), in the bench process',
      warmup_s: { modern: WARMUP_MODERN_S, sessions: WARMUP_SESSIONS_S },
      modern,
      sessions,
      memory: {
        note: `every reading after a full GC in the server (global.gc twice); before, after_modern and after are each the lowest of ${SETTLE_READINGS} such readings ${SETTLE_GAP_MS} ms apart (rss_max_mb the highest); peak RSS from /proc VmHWM`,
        idle_after_start: idle,
        before,
        after_modern: afterModern,
        after,
        rss_growth_mb: growth,
        heap_growth_mb: round(after.heap_used_mb - before.heap_used_mb),
      },
      server_error_log_lines: serverErrors,
      healthy_after: healthy,
      target: { errors: 0, rss_growth_mb_below: 50 },
      met: modernErrors === 0 && sessions.errors === 0 && growth < 50 && healthy && serverErrors === 0,
    };
  } finally {
    await server.stop();
  }
}

/** Phase C: ours (explain_respcd) and the echo control, alternating slices; see the header. */
async function statelessRatio({ log }) {
  const ours = await startServer(
    [new URL('./lib/http-server-child.mjs', import.meta.url).pathname],
    embeddedServerEnv(),
    { ipc: true },
  );
  const echo = await startServer(
    [new URL('./lib/http-echo-server.mjs', import.meta.url).pathname],
    process.env,
  );
  const oursCall = [modernToolCall(1, 'explain_respcd', { respcd: '1143' })];
  const echoCall = [modernToolCall(1, 'echo', { message: 'The quick brown fox jumps over the lazy dog' })];
  try {
    log(
      `http-load: stateless ratio, ${RATIO_SLICES} × (${RATIO_SLICE_S} s ours + ${RATIO_SLICE_S} s echo) at ${RATIO_CONNECTIONS} connections`,
    );
    await modernPhase(ours.url, 2, RATIO_CONNECTIONS, oursCall);
    await modernPhase(echo.url, 2, RATIO_CONNECTIONS, echoCall);
    const pairs = [];
    for (let slice = 0; slice < RATIO_SLICES; slice++) {
      // Alternate which goes first, so neither always runs on a machine the other just warmed.
      const first = slice % 2 === 0 ? 'ours' : 'echo';
      const runOurs = () => modernPhase(ours.url, RATIO_SLICE_S, RATIO_CONNECTIONS, oursCall);
      const runEcho = () => modernPhase(echo.url, RATIO_SLICE_S, RATIO_CONNECTIONS, echoCall);
      const a = first === 'ours' ? await runOurs() : await runEcho();
      const b = first === 'ours' ? await runEcho() : await runOurs();
      const [o, e] = first === 'ours' ? [a, b] : [b, a];
      pairs.push({
        ours_rps: o.throughput_rps,
        echo_rps: e.throughput_rps,
        ratio: round(o.throughput_rps / e.throughput_rps),
        ours_p50_ms: o.latency_ms.p50,
        echo_p50_ms: e.latency_ms.p50,
        errors: o.errors + o.non2xx + o.bad_bodies + e.errors + e.non2xx + e.bad_bodies,
      });
    }
    const sorted = [...pairs].sort((x, y) => x.ratio - y.ratio);
    const middle = sorted.length / 2;
    const ratio =
      sorted.length % 2 === 1
        ? sorted[Math.floor(middle)].ratio
        : round((sorted[middle - 1].ratio + sorted[middle].ratio) / 2);
    return {
      ours: 'explain_respcd {respcd:"1143"} on createRuntime + startHttpServer (dist/), 2026-07-28 stateless',
      control: 'echo on the same SDK and the same startHttpServer (bench/lib/http-echo-server.mjs)',
      connections: RATIO_CONNECTIONS,
      slice_s: RATIO_SLICE_S,
      pairs,
      ratio_median: ratio,
      target: { ratio_at_least: 0.9 },
      met: ratio >= 0.9 && pairs.every((pair) => pair.errors === 0),
    };
  } finally {
    await ours.stop();
    await echo.stop();
  }
}

export async function run({ log }) {
  const stateless = await statelessRatio({ log });
  const measured = await measureServer({ log });
  // Work per request matched to what our server spent per request in the modern phase (2 cores).
  const workMs = Math.max(0.1, round(1000 / measured.modern.throughput_rps));
  log(`http-load: control run, bare node:http with ${workMs} ms of work per request, 5 s`);
  const control = await controlPhase(5, CONNECTIONS, workMs);
  return { ...measured, control_bare_node_http: control, stateless_vs_echo: stateless };
}

runIfMain(import.meta.url, run);
