#!/usr/bin/env node
// A scripted workflow with the qfpay-mcp library, no agent involved: take a payment from a
// scanned wallet code, wait for the customer's PIN, refund part of it, and print the state.
// It runs against the QFPay simulator, so it needs no account and moves no money:
//
//   node examples/scripted-workflow.mjs          (from a checkout, after npm run build)
//
// The patterns are the ones that matter with real money:
// - amounts are integers in the smallest unit (1050 = HKD 10.50);
// - the merchant order number (out_trade_no) is chosen once and kept;
// - a pending code or a lost answer is resolved by QUERYING that order number, never by paying again.
//
// Against QFPay itself, build the client from the environment instead of the simulator:
//   const config = loadConfig(process.env);  // QFPAY_ENV, QFPAY_APPCODE, QFPAY_KEY, ...
//   const client = new QfpayClient({ baseUrl: config.baseUrl, credentials: config.credentials,
//     signType: config.signType, timeoutMs: config.timeoutMs, rateLimits: config.rateLimits });

import {
  DEFAULT_SIMULATOR_CREDENTIAL,
  QfpayClient,
  QfpayUnknownOutcomeError,
  QfpayUpstreamError,
  explainRespcd,
  formatMinor,
  pollUntilFinal,
  startSimulator,
  summariseTransactions,
} from 'qfpay-mcp';

const simulator = await startSimulator({ quiet: true });
const client = new QfpayClient({ baseUrl: simulator.baseUrl, credentials: DEFAULT_SIMULATOR_CREDENTIAL });

try {
  const orderNo = `shop_${Date.now()}`;
  const txamt = 1050;
  console.log(`Charging ${formatMinor(txamt, 'HKD')} as order ${orderNo}`);

  // In the simulator an auth_code ending in 1145 makes the wallet ask for a PIN first: QFPay
  // answers "processing" and the payment completes a little later.
  let syssn;
  try {
    const answer = await client.createPayment({
      pay_type: '800008',
      txamt,
      txcurrcd: 'HKD',
      out_trade_no: orderNo,
      auth_code: '134567890123451145',
      goods_name: 'Flat white',
    });
    syssn = answer.syssn;
    console.log(
      `QFPay answered ${answer.respcd}: ${explainRespcd(answer.respcd, { endpoint: 'payment', payType: '800008' }).meaning}`,
    );
  } catch (error) {
    if (!(error instanceof QfpayUnknownOutcomeError)) throw error;
    // The request may have been processed. Do not send it again: find out by querying.
    console.log(`No trustworthy answer (${error.message}); querying order ${orderNo}.`);
  }

  const result = await pollUntilFinal(client, syssn ? { syssn } : { out_trade_no: orderNo }, {
    timeoutMs: 45_000,
    intervalMs: 500,
    onPoll: ({ attempt, status }) => console.log(`  poll ${attempt}: ${status}`),
  });
  if (result.status !== 'PAID') {
    console.log(
      `Payment ended ${result.status}${result.timedOut ? ' (still not final: query again later)' : ''}.`,
    );
    process.exitCode = 1;
  } else {
    syssn = result.summary.syssn;
    console.log(`Paid: syssn ${syssn}.`);

    // A refund has its own new out_trade_no; keep it too, a retry must reuse it.
    const refundNo = `${orderNo}_r1`;
    try {
      const refund = await client.refund({ syssn, out_trade_no: refundNo, txamt: 300 });
      console.log(`Refunded ${formatMinor(300, 'HKD')} (refund syssn ${refund.syssn}).`);
    } catch (error) {
      if (!(error instanceof QfpayUpstreamError)) throw error;
      // For example 1265: QFPay takes no refunds between 23:30 and 00:30 Hong Kong time.
      console.log(`Refund refused with ${error.respcd}: ${error.nextAction}`);
    }

    const [payment] = summariseTransactions(await client.findTransaction({ syssn }));
    console.log(
      `Now ${payment.status}: refunded ${formatMinor(payment.refunded_txamt, 'HKD')}, ` +
        `still refundable ${formatMinor(payment.refundable_txamt, 'HKD')}.`,
    );
  }
} finally {
  await client.destroy();
  await simulator.close();
}
