import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { runDemo } from '../src/demo/index.js';
import { assertFreshDist, ROOT } from './support/dist.js';

describe('npm run demo', () => {
  it('runs the scripted agent session end to end and exits 0', async () => {
    assertFreshDist();
    let transcript = '';
    const code = await runDemo({
      write: (text) => void (transcript += text),
      customerDelayMs: 300,
      color: false,
    });
    expect(code, transcript).toBe(0);

    // Each flow appears, in order, with the tool that ran it and what it answered.
    const steps = [
      /Connected over stdio\. The server offers 17 tools: create_payment, .*simulate_customer_payment\./,
      /\[1\] list_pay_types[\s\S]*?← \[list_pay_types\] \d+ pay type\(s\):[\s\S]*?800101/,
      /\[2\] create_payment[\s\S]*?"txamt":1050,"txcurrcd":"HKD"[\s\S]*?AWAITING_CUSTOMER/,
      /1 image block/,
      /[█▀▄]{7}/, // the QR, drawn with block characters
      /QR content: \S+/,
      /\[3\] wait_for_payment[\s\S]*?\n {4}… .*AWAITING_CUSTOMER/, // a progress notification
      /\[4\] simulate_customer_payment[\s\S]*?← \[simulate_customer_payment\] .*PAID/,
      /← \[wait_for_payment\] .*PAID after/,
      /\[5\] refund[\s\S]*?"txamt":550[\s\S]*?← \[refund\] .*PARTIALLY_REFUNDED/,
      /\[6\] query_transaction[\s\S]*?← \[query_transaction\][\s\S]*?PARTIALLY_REFUNDED/,
      /\[7\] refund[\s\S]*?"txamt":1000[\s\S]*?← error \[refund\][\s\S]*?txamt/,
      /\[8\] create_payment[\s\S]*?"auth_code":"134567890123451201"[\s\S]*?← error \[create_payment\][\s\S]*?1201/,
      /\[9\] explain_respcd[\s\S]*?← \[explain_respcd\] .*1201/,
      /QFPay \(the simulator\) received \d+ signed requests: 2 × \/trade\/v1\/payment, \d+ × \/trade\/v1\/query, 1 × \/trade\/v1\/refund\./,
      /Demo finished: every step answered as expected\./,
    ];
    let rest = transcript;
    for (const step of steps) {
      const match = step.exec(rest);
      expect(
        match,
        `transcript should contain ${step} after the previous step:\n${transcript}`,
      ).not.toBeNull();
      rest = rest.slice(match!.index + match![0].length);
    }
    // No colour codes when writing to a file, and no key in the transcript.
    expect(transcript).not.toContain('\u001b[');
    expect(transcript).not.toContain('qfpay-simulator-key-not-secret');
  });

  it('fails loudly with exit 1 when the server cannot be started', async () => {
    let transcript = '';
    const code = await runDemo({
      write: (text) => void (transcript += text),
      cliPath: join(ROOT, 'dist', 'no-such-cli.js'),
      color: false,
    });
    expect(code).toBe(1);
    expect(transcript).toContain('Demo failed:');
  });
});
