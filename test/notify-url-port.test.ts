import { describe, expect, it } from 'vitest';
import { checkUrlAllowed, loadMoneyPolicy } from '../src/safety/policy.js';

/**
 * QFPay only delivers notifications to ports 80 and 443 (D asynchronous notifications): outside
 * `local`, a notify_url on another port is refused before anything is sent, even when its prefix
 * is allowed; in `local` the simulator delivers to any loopback port.
 */

const allowing = {
  QFPAY_ALLOWED_URLS: 'https://shop.example.com,https://shop.example.com:8443',
};

describe('notify_url ports', () => {
  it.each(['test', 'prod', 'sandbox'] as const)('%s: only 80 and 443', (environment) => {
    const policy = loadMoneyPolicy({ ...allowing, QFPAY_AUDIT_LOG: '/tmp/unused.jsonl' }, environment);
    expect(checkUrlAllowed(policy, 'notify_url', 'https://shop.example.com/qfpay/notify')).toEqual({
      ok: true,
    });
    expect(checkUrlAllowed(policy, 'notify_url', 'https://shop.example.com:443/notify')).toEqual({
      ok: true,
    });
    const refused = checkUrlAllowed(policy, 'notify_url', 'https://shop.example.com:8443/notify');
    expect(refused).toMatchObject({ ok: false });
    if (!refused.ok) {
      expect(refused.message).toMatch(/port 8443; QFPay only delivers notifications to ports 80 and 443/);
      expect(refused.next_action).toMatch(/^Nothing was sent to QFPay/);
    }
    // return_url is a browser redirect: any port the operator allowed.
    expect(checkUrlAllowed(policy, 'return_url', 'https://shop.example.com:8443/done')).toEqual({ ok: true });
  });

  it('local: loopback notify URLs on any port, for the simulator', () => {
    const policy = loadMoneyPolicy({ QFPAY_AUDIT_LOG: '/tmp/unused.jsonl' }, 'local');
    expect(checkUrlAllowed(policy, 'notify_url', 'http://127.0.0.1:38123/notify')).toEqual({ ok: true });
  });
});
