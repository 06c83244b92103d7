// One writer process for index-growth.test.ts: the built ledger (dist/) with a tiny index table, so
// that it is grown again and again while other writers use it. Writes `count` payments of its own and
// races the others for `count` shared keys (claimed only when the index shows no intent for it).
// Prints {"claimed": n}.
import { AuditLedger, merchantFingerprint } from '../../dist/safety/ledger.js';

const [file, prefix, countText, startAtText] = process.argv.slice(2);
const count = Number(countText);
const merchant = { appcode: 'A1B2C3D4E5F60718293A4B5C6D7E8F90', mchid: 'ZaMVg12345' };
const scope = `sandbox|${merchantFingerprint(merchant)}`;
const intent = (out_trade_no) => ({
  environment: 'sandbox',
  merchant,
  tool: 'create_payment',
  kind: 'payment',
  out_trade_no,
  txamt: 100,
  txcurrcd: 'HKD',
  params: { pay_type: '800101', txamt: 100, txcurrcd: 'HKD', out_trade_no },
  fingerprint: 'f'.repeat(64),
});

// Every writer starts at the same moment, so their steps interleave.
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAtText) - Date.now())));
const ledger = await AuditLedger.open(file, {
  fsync: false,
  index: { initialSlots: 8 },
  onWarning: () => {},
});
let claimed = 0;
for (let i = 0; i < count; i += 1) {
  const own = await ledger.recordIntent(intent(`${prefix}-${i}`));
  await ledger.recordOutcome(own.intent_id, { status: 'PAID', syssn: `${prefix}-S-${i}` });
  const won = await ledger.atomically(async (tx) => {
    if (tx.index.entriesFor(scope, `order:SHARED-${i}`).length > 0) return false;
    await tx.recordIntent(intent(`SHARED-${i}`));
    return true;
  });
  if (won) claimed += 1;
}
await ledger.close();
process.stdout.write(`${JSON.stringify({ claimed })}\n`);
