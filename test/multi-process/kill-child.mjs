// A money-moving process for the kill -9 loop (kill-loop.test.ts): the real guard on the real
// embedded store (built, from dist/) paying through the real client, one key after another from
// `first` (the parent passes keys the previous, killed, process had finished or was working on). Prints "ready" once warmed up, then each key it finished.
import { QfpayClient } from '../../dist/qfpay/client.js';
import { ConfirmationTokens } from '../../dist/safety/confirmation.js';
import { loadMoneyPolicy } from '../../dist/safety/policy.js';
import { SafeGuard } from '../../dist/safety/safe-guard.js';
import { EmbeddedMoneyStore } from '../../dist/safety/stores/embedded.js';

const [baseUrl, appcode, key, mchid, file, authCode, first] = process.argv.slice(2);
const client = new QfpayClient({ baseUrl, credentials: { appcode, key, mchid } });
const store = new EmbeddedMoneyStore(file);
const guard = new SafeGuard({
  environment: 'test',
  merchant: client.merchant,
  // The test environment confirms by default; this loop is about crashes, not confirmations.
  policy: loadMoneyPolicy({ QFPAY_CONFIRM: 'prod' }, 'test'),
  store,
  tokens: new ConfirmationTokens({ nonces: store }),
  log: () => undefined,
  // An intent left by a killed process never gets an outcome: do not wait long for it.
  sharedWaitMs: 100,
});
// Warm up (HTTP stack, connection, ledger) so the kill window falls on money-moving work.
await client.findTransaction({ out_trade_no: 'warm_up' }).catch(() => undefined);
await store.recent(1);
process.stdout.write('ready\n');
for (let index = Number(first); ; index += 1) {
  const request = {
    pay_type: '800108',
    txamt: 100,
    txcurrcd: 'HKD',
    out_trade_no: `kill_${index}`,
    auth_code: authCode,
  };
  const intent = {
    tool: 'create_payment',
    environment: 'test',
    merchant: client.merchant,
    params: request,
    out_trade_no: request.out_trade_no,
    txamt: 100,
    txcurrcd: 'HKD',
    summary: 'kill loop',
  };
  await guard.run(intent, undefined, { log: () => undefined }, () => client.createPayment(request), {
    describe: (answer) => ({
      status: answer.respcd === '0000' ? 'PAID' : 'UNKNOWN',
      syssn: answer.syssn,
      respcd: answer.respcd,
    }),
  });
  process.stdout.write(`${index}\n`);
}
