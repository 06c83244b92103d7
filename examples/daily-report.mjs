#!/usr/bin/env node
// Read-only end-of-day report with the qfpay-mcp library: every payment of today (Hong Kong
// time) with its refunds, and totals per currency. It only queries, so it is safe against any
// environment:
//
//   QFPAY_ENV=sandbox QFPAY_APPCODE=... QFPAY_KEY=... node examples/daily-report.mjs
//   node examples/daily-report.mjs               (no credentials: an empty simulator, for a dry run)
//
// Configuration is read exactly as the MCP server reads it (loadConfig), including
// QFPAY_<ENV>_APPCODE/KEY/MCHID, QFPAY_BASE_URL, QFPAY_SIGN_TYPE and QFPAY_RATE_LIMITS.

import {
  DEFAULT_SIMULATOR_CREDENTIAL,
  QfpayClient,
  QfpayError,
  formatMinor,
  formatQfpayDateTime,
  loadConfig,
  startSimulator,
  summariseTransactions,
} from 'qfpay-mcp';

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof QfpayError)) throw error;
  console.error(`${error.message}\n  what to do: ${error.nextAction}`);
  process.exit(1);
}

const simulator = config.baseUrl === null ? await startSimulator({ quiet: true }) : undefined;
const client = new QfpayClient({
  baseUrl: config.baseUrl ?? simulator.baseUrl,
  credentials: config.credentials ?? DEFAULT_SIMULATOR_CREDENTIAL,
  signType: config.signType,
  timeoutMs: config.timeoutMs,
  rateLimits: config.rateLimits,
  verifyResponseSignatures: config.verifyResponseSignatures,
});

try {
  // QFPay's times are Hong Kong time (UTC+8); a range must stay inside one calendar month.
  const now = formatQfpayDateTime();
  const start_time = `${now.slice(0, 10)} 00:00:00`;
  const rows = [];
  for (let page = 1; ; page++) {
    const answer = await client.query({ start_time, end_time: now, page, page_size: 100 });
    rows.push(...answer.data);
    if (answer.data.length < 100) break;
  }

  const payments = summariseTransactions(rows).filter((p) => p.payment_found);
  console.log(`${config.environment}: ${payments.length} payment(s) from ${start_time} to ${now} (UTC+8)`);
  const totals = new Map();
  for (const p of payments) {
    console.log(
      `  ${p.sysdtm ?? p.txdtm ?? ''}  ${p.out_trade_no}  ${formatMinor(p.txamt ?? 0, p.txcurrcd)}  ${p.pay_type_name ?? p.pay_type}  ${p.status}` +
        (p.refunded_txamt > 0 ? `  refunded ${formatMinor(p.refunded_txamt, p.txcurrcd)}` : ''),
    );
    if (p.status !== 'PAID' && p.status !== 'PARTIALLY_REFUNDED' && p.status !== 'REFUNDED') continue;
    const total = totals.get(p.txcurrcd) ?? { taken: 0, refunded: 0 };
    total.taken += p.txamt ?? 0;
    total.refunded += p.refunded_txamt;
    totals.set(p.txcurrcd, total);
  }
  for (const [currency, { taken, refunded }] of totals)
    console.log(
      `  ${currency}: taken ${formatMinor(taken, currency)}, refunded ${formatMinor(refunded, currency)}, ` +
        `net ${formatMinor(taken - refunded, currency)}`,
    );
} catch (error) {
  if (!(error instanceof QfpayError)) throw error;
  console.error(`${error.message}\n  what to do: ${error.nextAction}`);
  process.exitCode = 1;
} finally {
  await client.destroy();
  await simulator?.close();
}
