import process from 'node:process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { importDist } from './lib/paths.mjs';
import { median, nowMs, rounded, summarise } from './lib/stats.mjs';
import {
  OUR_SERVER,
  connectOfficialClient,
  runIfMain,
  serverEnvFor,
  startUnlimitedSimulator,
} from './lib/harness.mjs';

/**
 * PostgreSQL store: does a write's cost grow with the ledger? Two databases on the same server, one
 * seeded with 1,000 ledger records and one with 100,000 (payments and their PAID outcomes, same
 * merchant and environment as the measured calls), measured alternately in rounds so load drift on
 * the machine hits both alike:
 *
 *   store        the store's share of one create_payment: beginWrite (claim + caps + intent) and
 *                recordOutcome, in this process against the built store
 *   mcp          create_payment (CPM, PAID) on a spawned `qfpay-mcp` (stdio) with
 *                QFPAY_DATABASE_URL, against one simulator. Counted only when the server really
 *                wrote to the database (its ledger grew by two records per call); otherwise
 *                reported as not using PostgreSQL.
 *
 * Target: p50 at 100k ≤ 1.2 × p50 at 1k. Needs QFPAY_BENCH_DATABASE_URL (or
 * QFPAY_TEST_DATABASE_URL): a PostgreSQL server where it may create and drop databases.
 */

const SIZES = [1_000, 100_000];
const ROUNDS = Number(process.env.BENCH_PG_ROUNDS ?? 8);
const CALLS_PER_ROUND = Number(process.env.BENCH_PG_CALLS ?? 40);
const WARMUP = 20;
const TARGET_RATIO = 1.2;

export async function run({ log }) {
  const serverUrl = process.env.QFPAY_BENCH_DATABASE_URL ?? process.env.QFPAY_TEST_DATABASE_URL;
  if (!serverUrl) {
    return {
      skipped: 'set QFPAY_BENCH_DATABASE_URL to a PostgreSQL server (source scripts/test-services.sh start)',
    };
  }
  const { DEFAULT_SIMULATOR_CREDENTIAL } = await importDist('simulator/index.js');
  const merchant = { appcode: DEFAULT_SIMULATOR_CREDENTIAL.appcode };
  const { simulator, credential } = await startUnlimitedSimulator();
  const databases = [];
  const cleanups = [];
  try {
    for (const size of SIZES) {
      const database = await createDatabase(serverUrl);
      cleanups.push(database.drop);
      const started = nowMs();
      await seed(database.url, size, merchant);
      log(`seeded ${size} records in ${Math.round(nowMs() - started)} ms`);
      databases.push({ size, ...database });
    }
    const { openPostgresStore } = await importDist('safety/stores/postgres.js');
    const { merchantFingerprint } = await importDist('safety/ledger.js');
    const scope = { environment: 'local', merchant: merchantFingerprint(merchant) };
    for (const database of databases) {
      database.store = await openPostgresStore(database.url, {});
      database.before = await ledgerCount(database.url);
      database.rpc = await connectOfficialClient(
        OUR_SERVER(serverEnvFor(simulator.baseUrl, credential, { QFPAY_DATABASE_URL: database.url })),
      );
      database.samples = { store: [], mcp: [] };
      database.mcpCalls = 0;
      cleanups.unshift(
        () => database.store.close(),
        () => database.rpc.close(),
      );
      for (let i = 0; i < WARMUP; i += 1) {
        await storeWrite(database.store, scope, merchant, `warm-${database.size}-${i}`);
        await mcpWrite(database, `warm_${database.size}_${i}`);
      }
    }
    for (let round = 0; round < ROUNDS; round += 1) {
      const order = round % 2 === 0 ? databases : [...databases].reverse();
      for (const database of order) {
        for (let i = 0; i < CALLS_PER_ROUND; i += 1) {
          const id = `${database.size}_${round}_${i}`;
          let t = nowMs();
          await storeWrite(database.store, scope, merchant, `store-${id}`);
          database.samples.store.push(nowMs() - t);
          t = nowMs();
          await mcpWrite(database, `mcp_${id}`);
          database.samples.mcp.push(nowMs() - t);
        }
      }
      log(`round ${round + 1}/${ROUNDS}`);
    }
    const result = { sizes: {}, rounds: ROUNDS, calls_per_round: CALLS_PER_ROUND };
    for (const database of databases) {
      const grew = (await ledgerCount(database.url)) - database.before;
      const storeCalls = WARMUP + ROUNDS * CALLS_PER_ROUND;
      // Two records per store write and two per create_payment (intent and outcome).
      const mcpUsesPostgres = grew >= 2 * storeCalls + 2 * database.mcpCalls;
      result.sizes[database.size] = {
        store_ms: rounded(summarise(database.samples.store)),
        mcp_create_payment_ms: mcpUsesPostgres
          ? rounded(summarise(database.samples.mcp))
          : 'server did not write to PostgreSQL',
        records_after: database.before + grew,
      };
    }
    const [small, large] = databases;
    result.store_p50_ratio = median(large.samples.store) / median(small.samples.store);
    const mcpMeasured = SIZES.every((size) => typeof result.sizes[size].mcp_create_payment_ms === 'object');
    if (mcpMeasured)
      result.mcp_create_payment_p50_ratio = median(large.samples.mcp) / median(small.samples.mcp);
    const ratio = result.mcp_create_payment_p50_ratio ?? result.store_p50_ratio;
    result.target = `create_payment p50 at ${SIZES[1]} records ≤ ${TARGET_RATIO} × at ${SIZES[0]}${mcpMeasured ? '' : ' (store share only: the server does not use PostgreSQL yet)'}`;
    result.met = ratio <= TARGET_RATIO;
    return result;
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    await simulator.close();
  }
}

async function storeWrite(store, scope, merchant, outTradeNo) {
  const fingerprint = randomBytes(32).toString('hex');
  const params = { pay_type: '800108', txamt: 1050, txcurrcd: 'HKD', out_trade_no: outTradeNo };
  const result = await store.beginWrite({
    scope,
    key: `order:${outTradeNo}`,
    fingerprint,
    intent: {
      environment: 'local',
      merchant,
      tool: 'create_payment',
      kind: 'payment',
      params,
      out_trade_no: outTradeNo,
      txamt: 1050,
      txcurrcd: 'HKD',
      fingerprint,
    },
    admit: () => undefined,
  });
  if (result.kind !== 'claimed') throw new Error(`bench write ${outTradeNo} was ${result.kind}`);
  await store.recordOutcome(result.intent.intent_id, {
    status: 'PAID',
    respcd: '0000',
    syssn: `S${outTradeNo}`,
  });
}

async function mcpWrite(database, outTradeNo) {
  database.mcpCalls += 1;
  const result = await database.rpc.callTool({
    name: 'create_payment',
    arguments: {
      pay_type: '800108',
      txamt: 1050,
      txcurrcd: 'HKD',
      auth_code: '280000000000000001',
      out_trade_no: outTradeNo,
    },
  });
  if (result.isError || result.structuredContent?.status !== 'PAID') {
    throw new Error(
      `create_payment ${outTradeNo}: ${JSON.stringify(result.structuredContent ?? result.content).slice(0, 300)}`,
    );
  }
}

/** `size` records: payment intents with PAID outcomes spread over the last 30 days, chained. */
export async function seed(url, size, merchant) {
  const { intentBody, resolutionBody, hashRecordBody, GENESIS_HASH } = await importDist('safety/ledger.js');
  const { importLedgerRecords } = await importDist('safety/stores/postgres-import.js');
  const records = [];
  let previous = GENESIS_HASH;
  const append = (body) => {
    const unsigned = { ...body, seq: records.length + 1, prev_hash: previous };
    const record = { ...unsigned, hash: hashRecordBody(unsigned) };
    records.push(record);
    previous = record.hash;
    return record;
  };
  const start = Date.now() - 30 * 86_400_000;
  const step = (30 * 86_400_000) / size;
  for (let i = 0; records.length < size; i += 1) {
    const outTradeNo = `seed_${i}`;
    const time = new Date(start + records.length * step).toISOString();
    const intent = append(
      intentBody(
        {
          environment: 'local',
          merchant,
          tool: 'create_payment',
          kind: 'payment',
          params: { pay_type: '800108', txamt: 1050, txcurrcd: 'HKD', out_trade_no: outTradeNo },
          out_trade_no: outTradeNo,
          txamt: 1050,
          txcurrcd: 'HKD',
          fingerprint: randomBytes(32).toString('hex'),
        },
        [],
        time,
      ),
    );
    append(resolutionBody('outcome', intent, { status: 'PAID', respcd: '0000', syssn: `S${i}` }, [], time));
  }
  await importLedgerRecords(url, records.slice(0, size));
}

export async function createDatabase(serverUrl) {
  const name = `qfpay_bench_${randomBytes(5).toString('hex')}`;
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function admin(url, sql) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

async function ledgerCount(url) {
  const { rows } = await admin(url, 'SELECT count(*)::int AS n FROM qfpay_ledger');
  return rows[0].n;
}

runIfMain(import.meta.url, run);
