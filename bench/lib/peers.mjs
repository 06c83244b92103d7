import process from 'node:process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { StdioRpc } from './stdio-rpc.mjs';
import { ROOT, serverEverythingBin } from './paths.mjs';
import { nowMs, round, rounded, summarise } from './stats.mjs';

/**
 * The peers measured side by side with this server: the two payment vendors that ship an MCP
 * server on npm (dev dependencies, started offline with dummy credentials) and the official
 * reference server. Neither vendor server reaches its API for initialize, tools/list or ping
 * (checked while building this bench with a preload logging every socket connect and DNS lookup:
 * none); every one of their tools calls the vendor's API, so their per-call floor is `ping`.
 */

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** A dependency's manifest, read from the project's node_modules (not every package exports it). */
function manifestOf(name) {
  const file = path.join(ROOT, 'node_modules', name, 'package.json');
  return { dir: path.dirname(file), manifest: JSON.parse(readFileSync(file, 'utf8')) };
}

/** Spawn specs, one per peer: `{ name, label, spec }`. */
export function peerServers() {
  const env = getDefaultEnvironment();
  const stripe = manifestOf('@stripe/mcp');
  const paypal = manifestOf('@paypal/agent-toolkit');
  const everything = serverEverythingBin();
  return [
    {
      name: 'stripe',
      label: `Stripe @stripe/mcp ${stripe.manifest.version} --tools=all --api-key=sk_test_dummy`,
      spec: {
        command: process.execPath,
        args: [path.join(stripe.dir, stripe.manifest.bin), '--tools=all', '--api-key=sk_test_dummy'],
        env,
      },
    },
    {
      name: 'paypal',
      label: `PayPal @paypal/agent-toolkit ${paypal.manifest.version} MCP server class, every action, dummy token`,
      spec: { command: process.execPath, args: [path.join(HERE, 'paypal-server.mjs')], env },
    },
    {
      name: 'everything',
      label: `@modelcontextprotocol/server-everything ${everything.version} (reference, v1 SDK)`,
      spec: { command: process.execPath, args: [everything.path, 'stdio'], env },
    },
  ];
}

/**
 * Context cost of every peer, measured by the caller's own `toolset(spec)` (bench/context-cost.mjs),
 * so peers and this server are counted by exactly the same code.
 */
export async function measurePeerContext(toolset, log) {
  const peers = {};
  for (const peer of peerServers()) {
    log(`context-cost: peer ${peer.label}`);
    const measured = await toolset(peer.spec);
    await measured.rpc.close();
    peers[peer.name] = { server: peer.label, ...measured.summary };
  }
  return peers;
}

/**
 * Per-call stdio round trips, interleaved call by call with this server (bare JSON-RPC client, one
 * call at a time, order rotating every round): `ping` on every server, and a real tool call where
 * one runs offline (ours: explain_respcd; reference: echo).
 */
export async function measurePeerRoundTrips({ oursSpec, calls, warmup, log }) {
  const servers = [{ name: 'ours', label: 'qfpay-mcp (QFPAY_ENV=local)', spec: oursSpec }, ...peerServers()];
  const rpcs = {};
  try {
    for (const server of servers) {
      rpcs[server.name] = new StdioRpc(server.spec);
      await rpcs[server.name].initialize();
    }
    const contenders = {
      'ours explain_respcd': () => rpcs.ours.callTool('explain_respcd', { respcd: '1143' }),
      'everything echo': () => rpcs.everything.callTool('echo', { message: 'The quick brown fox' }),
      ...Object.fromEntries(servers.map((s) => [`${s.name} ping`, () => rpcs[s.name].request('ping')])),
    };
    const names = Object.keys(contenders);
    const samples = Object.fromEntries(names.map((name) => [name, []]));
    log(`peers: ${warmup} warm-up + ${calls} measured rounds of ${names.join(', ')}`);
    for (let r = 0; r < warmup + calls; r++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(r + k) % names.length];
        const started = nowMs();
        await contenders[name]();
        if (r >= warmup) samples[name].push(nowMs() - started);
      }
    }
    const latency = Object.fromEntries(names.map((name) => [name, rounded(summarise(samples[name]))]));
    const oursPing = latency['ours ping'].p50;
    return {
      calls,
      warmup,
      servers: Object.fromEntries(servers.map((s) => [s.name, s.label])),
      latency_ms: latency,
      ping_ratio_vs_ours: Object.fromEntries(
        servers.map((s) => [s.name, round(latency[`${s.name} ping`].p50 / oursPing)]),
      ),
    };
  } finally {
    for (const rpc of Object.values(rpcs)) await rpc.close();
  }
}
