import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, describeConfig, loadConfig } from '../src/qfpay/config.js';
import { maskAppcode } from '../src/qfpay/text.js';
import { QfpayConfigError } from '../src/qfpay/errors.js';

const APPCODE = 'A1B2C3D4E5F60718293A4B5C6D7E8F90';
/** A canary: if it ever shows up in a message, the test fails. */
const CANARY_KEY = 'canary-key-7f3a9c1e5b2d4068-DO-NOT-LEAK';

function failure(env: NodeJS.ProcessEnv): QfpayConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(QfpayConfigError);
    const configError = error as QfpayConfigError;
    const everything = `${configError.message} ${configError.nextAction} ${configError.variable} ${String(configError.stack)}`;
    expect(everything).not.toContain(CANARY_KEY);
    expect(everything).not.toContain(CANARY_KEY.slice(0, 12));
    return configError;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig: environment selection', () => {
  it('defaults to local with the embedded simulator when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      environment: 'local',
      baseUrl: null,
      destination: 'simulator',
      credentials: null,
      signType: 'SHA256',
      timeoutMs: 15_000,
      rateLimits: [...DEFAULT_RATE_LIMITS],
      verifyResponseSignatures: true,
      language: 'en',
    });
  });

  it('with credentials and no QFPAY_ENV asks for a choice, saying what each environment can test', () => {
    const error = failure({ QFPAY_APPCODE: APPCODE, QFPAY_KEY: CANARY_KEY });
    expect(error.variable).toBe('QFPAY_ENV');
    expect(error.message).toContain('not set while QFPay credentials are');
    expect(error.nextAction).toContain('sandbox: card simulation only');
    expect(error.nextAction).toContain('test: real wallets and real money');
    expect(error.nextAction).toContain('refund test payments the same day');
    expect(error.nextAction).toContain('local: everything, simulated');
    expect(error.nextAction).toContain('QFPAY_ENV=test');
  });

  it('with credentials and no QFPAY_ENV follows a QFPAY_BASE_URL whose host says where it goes', () => {
    const creds = { QFPAY_APPCODE: APPCODE, QFPAY_KEY: CANARY_KEY };
    expect(loadConfig({ ...creds, QFPAY_BASE_URL: 'https://test-openapi-hk.qfapi.com' }).environment).toBe(
      'test',
    );
    expect(loadConfig({ ...creds, QFPAY_BASE_URL: 'https://openapi-int.qfapi.com' }).environment).toBe(
      'sandbox',
    );
    expect(loadConfig({ ...creds, QFPAY_BASE_URL: 'http://127.0.0.1:8787' }).environment).toBe('local');
    // Production is never inferred: it has to be chosen.
    expect(failure({ ...creds, QFPAY_BASE_URL: 'https://openapi-hk.qfapi.com' }).variable).toBe('QFPAY_ENV');
  });

  it.each([
    ['local', 'local', null],
    ['SANDBOX', 'sandbox', 'https://openapi-int.qfapi.com'],
    ['Test', 'test', 'https://test-openapi-hk.qfapi.com'],
    ['prod', 'prod', 'https://openapi-hk.qfapi.com'],
    ['production', 'prod', 'https://openapi-hk.qfapi.com'],
    [' PRODUCTION ', 'prod', 'https://openapi-hk.qfapi.com'],
  ])('QFPAY_ENV=%s selects %s', (raw, environment, baseUrl) => {
    const config = loadConfig({ QFPAY_ENV: raw, QFPAY_APPCODE: APPCODE, QFPAY_KEY: CANARY_KEY });
    expect(config.environment).toBe(environment);
    expect(config.baseUrl).toBe(baseUrl);
  });

  it('rejects an unknown QFPAY_ENV and lists the choices', () => {
    const error = failure({ QFPAY_ENV: 'staging', QFPAY_APPCODE: APPCODE, QFPAY_KEY: CANARY_KEY });
    expect(error.variable).toBe('QFPAY_ENV');
    expect(error.nextAction).toContain('local, sandbox, test, prod');
  });
});

describe('loadConfig: credentials', () => {
  it('lets QFPAY_<ENV>_* win over the plain variables, and sends mchid only when set', () => {
    const config = loadConfig({
      QFPAY_ENV: 'prod',
      QFPAY_APPCODE: 'PLAINAPPCODE00000000000000000000',
      QFPAY_KEY: 'plain-key',
      QFPAY_MCHID: 'plainMchid',
      QFPAY_PROD_APPCODE: APPCODE,
      QFPAY_PROD_KEY: CANARY_KEY,
      QFPAY_PROD_MCHID: 'ZaMVg12345',
      QFPAY_TEST_KEY: 'other-environment-key',
    });
    expect(config.credentials).toEqual({ appcode: APPCODE, key: CANARY_KEY, mchid: 'ZaMVg12345' });
    const withoutMchid = loadConfig({
      QFPAY_ENV: 'test',
      QFPAY_APPCODE: APPCODE,
      QFPAY_KEY: CANARY_KEY,
      QFPAY_MCHID: '',
    });
    expect(withoutMchid.credentials).toEqual({ appcode: APPCODE, key: CANARY_KEY });
    expect(withoutMchid.credentials).not.toHaveProperty('mchid');
  });

  it('mixes a per-environment value with a plain one', () => {
    const config = loadConfig({
      QFPAY_ENV: 'sandbox',
      QFPAY_SANDBOX_APPCODE: APPCODE,
      QFPAY_KEY: CANARY_KEY,
    });
    expect(config.credentials).toEqual({ appcode: APPCODE, key: CANARY_KEY });
  });

  it('trims whitespace around values (secret files often end in a newline)', () => {
    const config = loadConfig({
      QFPAY_ENV: 'test',
      QFPAY_APPCODE: ` ${APPCODE}\n`,
      QFPAY_KEY: `${CANARY_KEY}\n`,
    });
    expect(config.credentials).toEqual({ appcode: APPCODE, key: CANARY_KEY });
  });

  it('uses configured credentials in local too (the simulator can be started with them)', () => {
    const config = loadConfig({ QFPAY_ENV: 'local', QFPAY_APPCODE: APPCODE, QFPAY_KEY: CANARY_KEY });
    expect(config.credentials).toEqual({ appcode: APPCODE, key: CANARY_KEY });
    expect(config.baseUrl).toBeNull();
  });

  it.each(['sandbox', 'test', 'prod'])('%s without credentials is an error naming the variables', (env) => {
    const error = failure({ QFPAY_ENV: env });
    expect(error.message).toContain('QFPAY_APPCODE');
    expect(error.nextAction).toContain('QFPAY_KEY');
    expect(error.nextAction).toContain('QFPAY_ENV=local');
  });

  it('points at the environment that does have credentials', () => {
    const error = failure({ QFPAY_PROD_APPCODE: APPCODE, QFPAY_PROD_KEY: CANARY_KEY });
    expect(error.nextAction).toContain('Credentials were found for prod');
  });

  it('an app code without a key is an error, and so is a key without an app code', () => {
    const noKey = failure({ QFPAY_ENV: 'test', QFPAY_APPCODE: APPCODE });
    expect(noKey.variable).toContain('QFPAY_KEY');
    const noAppcode = failure({ QFPAY_ENV: 'test', QFPAY_KEY: CANARY_KEY });
    expect(noAppcode.variable).toContain('QFPAY_APPCODE');
    expect(noAppcode.message).toContain('QFPAY_KEY is set');
    const localNoKey = failure({ QFPAY_ENV: 'local', QFPAY_LOCAL_APPCODE: APPCODE });
    expect(localNoKey.variable).toContain('QFPAY_KEY');
  });

  it('a mchid without credentials is an error', () => {
    expect(failure({ QFPAY_MCHID: 'ZaMVg12345' }).variable).toBe('QFPAY_MCHID');
  });

  it('rejects malformed credentials without echoing them', () => {
    const env = { QFPAY_ENV: 'sandbox' };
    const spaced = failure({ ...env, QFPAY_APPCODE: APPCODE, QFPAY_KEY: `${CANARY_KEY} extra` });
    expect(spaced.variable).toBe('QFPAY_KEY');
    expect(spaced.message).toContain('characters');
    const long = failure({ ...env, QFPAY_APPCODE: APPCODE, QFPAY_KEY: CANARY_KEY.repeat(5) });
    expect(long.message).toContain('too long');
    const badAppcode = failure({ ...env, QFPAY_APPCODE: 'ÄPPCODE', QFPAY_KEY: CANARY_KEY });
    expect(badAppcode.variable).toBe('QFPAY_APPCODE');
    expect(badAppcode.message).not.toContain('ÄPPCODE');
    const badMchid = failure({
      ...env,
      QFPAY_APPCODE: APPCODE,
      QFPAY_KEY: CANARY_KEY,
      QFPAY_MCHID: 'has space',
    });
    expect(badMchid.variable).toBe('QFPAY_MCHID');
  });
});

describe('loadConfig: QFPAY_BASE_URL', () => {
  const creds = { QFPAY_APPCODE: APPCODE, QFPAY_KEY: CANARY_KEY };

  it('overrides the environment host and drops a trailing slash', () => {
    expect(
      loadConfig({ ...creds, QFPAY_ENV: 'prod', QFPAY_BASE_URL: 'https://proxy.example.com/qfpay/' }).baseUrl,
    ).toBe('https://proxy.example.com/qfpay');
    expect(loadConfig({ QFPAY_BASE_URL: 'http://127.0.0.1:8787' }).baseUrl).toBe('http://127.0.0.1:8787');
  });

  it('allows plain http to loopback only, in every environment', () => {
    expect(loadConfig({ ...creds, QFPAY_ENV: 'prod', QFPAY_BASE_URL: 'http://localhost:9000' }).baseUrl).toBe(
      'http://localhost:9000',
    );
    expect(loadConfig({ ...creds, QFPAY_ENV: 'test', QFPAY_BASE_URL: 'http://[::1]:9000' }).baseUrl).toBe(
      'http://[::1]:9000',
    );
    for (const [environment, url] of [
      ['local', 'http://simulator:8787'],
      ['local', 'http://openapi-hk.qfapi.com'],
      ['sandbox', 'http://openapi-int.qfapi.com'],
      ['prod', 'http://openapi-hk.qfapi.com'],
    ] as const) {
      const error = failure({ ...creds, QFPAY_ENV: environment, QFPAY_BASE_URL: url });
      expect(error.variable).toBe('QFPAY_BASE_URL');
      expect(error.message).toContain('plain http');
    }
  });

  it.each([
    ['not a url', 'not a valid URL'],
    ['ftp://example.com', 'not http or https'],
    ['https://user:secret@example.com', 'user name or password'],
    ['https://example.com/?a=1', 'query string'],
  ])('rejects %s', (value, message) => {
    const error = failure({ ...creds, QFPAY_ENV: 'prod', QFPAY_BASE_URL: value });
    expect(error.variable).toBe('QFPAY_BASE_URL');
    expect(error.message).toContain(message);
    expect(error.message).not.toContain('secret');
  });
});

describe('loadConfig: the gate follows the destination', () => {
  const creds = { QFPAY_APPCODE: APPCODE, QFPAY_KEY: CANARY_KEY };

  it.each(['local', 'sandbox', 'test'])(
    'refuses the production host under QFPAY_ENV=%s, naming both variables and the fix',
    (environment) => {
      const error = failure({
        ...creds,
        QFPAY_ENV: environment,
        QFPAY_BASE_URL: 'https://openapi-hk.qfapi.com',
      });
      expect(error.variable).toBe('QFPAY_BASE_URL');
      expect(error.message).toContain(`QFPAY_ENV=${environment}`);
      expect(error.message).toContain('treated as production');
      expect(error.nextAction).toContain('QFPAY_ENV=prod');
    },
  );

  it.each(['local', 'sandbox', 'test'])(
    'treats an unknown host under QFPAY_ENV=%s as production',
    (environment) => {
      const error = failure({
        ...creds,
        QFPAY_ENV: environment,
        QFPAY_BASE_URL: 'https://proxy.example.com/qfpay',
      });
      expect(error.variable).toBe('QFPAY_BASE_URL');
      expect(error.message).toContain('proxy.example.com is not a QFPay test host or loopback');
    },
  );

  it('refuses a known QFPay host under another environment label', () => {
    const cases = [
      ['sandbox', 'https://test-openapi-hk.qfapi.com', 'test'],
      ['local', 'https://openapi-int.qfapi.com', 'sandbox'],
      ['test', 'https://openapi-int.qfapi.com', 'sandbox'],
      ['prod', 'https://test-openapi-hk.qfapi.com', 'test'],
    ] as const;
    for (const [environment, url, host] of cases) {
      const error = failure({ ...creds, QFPAY_ENV: environment, QFPAY_BASE_URL: url });
      expect(error.message).toContain(`QFPay's ${host} host`);
      expect(error.nextAction).toContain(`QFPAY_ENV=${host}`);
    }
  });

  it('classifies every accepted configuration by where its requests go', () => {
    const destination = (env: NodeJS.ProcessEnv) => loadConfig({ ...creds, ...env }).destination;
    expect(destination({ QFPAY_ENV: 'prod' })).toBe('production');
    expect(destination({ QFPAY_ENV: 'prod', QFPAY_BASE_URL: 'https://proxy.example.com' })).toBe(
      'production',
    );
    expect(destination({ QFPAY_ENV: 'test' })).toBe('test');
    expect(destination({ QFPAY_ENV: 'sandbox' })).toBe('sandbox');
    expect(destination({ QFPAY_ENV: 'local' })).toBe('simulator');
    // A stricter label on loopback keeps its stricter gate (production rehearsed on a simulator).
    expect(destination({ QFPAY_ENV: 'prod', QFPAY_BASE_URL: 'http://127.0.0.1:8787' })).toBe('simulator');
    expect(
      loadConfig({ ...creds, QFPAY_ENV: 'prod', QFPAY_BASE_URL: 'http://127.0.0.1:8787' }).environment,
    ).toBe('prod');
  });

  it('describeConfig shows the destination', () => {
    expect(describeConfig(loadConfig({ ...creds, QFPAY_ENV: 'test' })).destination).toBe('test');
  });
});

describe('loadConfig: tuning variables', () => {
  it.each([
    ['MD5', 'MD5'],
    ['md5', 'MD5'],
    ['sha-256', 'SHA256'],
    ['SHA256', 'SHA256'],
  ])('QFPAY_SIGN_TYPE=%s', (raw, expected) => {
    expect(loadConfig({ QFPAY_SIGN_TYPE: raw }).signType).toBe(expected);
  });

  it('rejects an unknown sign type', () => {
    expect(failure({ QFPAY_SIGN_TYPE: 'SHA1' }).variable).toBe('QFPAY_SIGN_TYPE');
  });

  it('QFPAY_TIMEOUT_MS accepts 1000–120000 only', () => {
    expect(loadConfig({ QFPAY_TIMEOUT_MS: '1000' }).timeoutMs).toBe(1000);
    expect(loadConfig({ QFPAY_TIMEOUT_MS: '120000' }).timeoutMs).toBe(120_000);
    for (const bad of ['999', '120001', '15s', '1e4', '-5', '15000.5']) {
      const error = failure({ QFPAY_TIMEOUT_MS: bad });
      expect(error.variable).toBe('QFPAY_TIMEOUT_MS');
      expect(error.message).toContain('between 1000 and 120000');
    }
  });

  it('QFPAY_RATE_LIMITS is parsed as windows', () => {
    expect(loadConfig({ QFPAY_RATE_LIMITS: '50/1s, 200/1m' }).rateLimits).toEqual([
      { count: 50, durationMs: 1000 },
      { count: 200, durationMs: 60_000 },
    ]);
    const error = failure({ QFPAY_RATE_LIMITS: 'fast' });
    expect(error.variable).toBe('QFPAY_RATE_LIMITS');
    expect(error.nextAction).toContain('95/1s,380/60s');
  });

  it('QFPAY_VERIFY_RESPONSES=0 disables response verification', () => {
    expect(loadConfig({ QFPAY_VERIFY_RESPONSES: '0' }).verifyResponseSignatures).toBe(false);
    expect(loadConfig({ QFPAY_VERIFY_RESPONSES: 'false' }).verifyResponseSignatures).toBe(false);
    expect(loadConfig({ QFPAY_VERIFY_RESPONSES: '1' }).verifyResponseSignatures).toBe(true);
    expect(failure({ QFPAY_VERIFY_RESPONSES: 'maybe' }).variable).toBe('QFPAY_VERIFY_RESPONSES');
  });

  it('treats empty variables as unset', () => {
    expect(
      loadConfig({ QFPAY_ENV: '', QFPAY_SIGN_TYPE: '', QFPAY_TIMEOUT_MS: '', QFPAY_BASE_URL: '  ' })
        .environment,
    ).toBe('local');
  });
});

describe('describeConfig', () => {
  it('says which secrets are set without revealing them', () => {
    const config = loadConfig({
      QFPAY_ENV: 'prod',
      QFPAY_APPCODE: APPCODE,
      QFPAY_KEY: CANARY_KEY,
      QFPAY_MCHID: 'ZaMVg12345',
    });
    const summary = describeConfig(config);
    expect(summary).toMatchObject({
      environment: 'prod',
      baseUrl: 'https://openapi-hk.qfapi.com',
      appcode: 'A1B2****8F90',
      key: 'set',
      mchid: 'set',
      signType: 'SHA256',
      rateLimits: '95/1s,380/60s',
      verifyResponseSignatures: true,
    });
    const text = JSON.stringify(summary);
    expect(text).not.toContain(CANARY_KEY);
    expect(text).not.toContain(APPCODE);
  });

  it('describes the local default', () => {
    expect(describeConfig(loadConfig({}))).toMatchObject({
      baseUrl: '(embedded simulator)',
      appcode: null,
      key: 'not set',
      credentials: 'embedded simulator default',
    });
  });

  it('shows no more than the last characters of short app codes', () => {
    expect(maskAppcode('ABC')).toBe('****');
    expect(maskAppcode('ABCDEFGH')).toBe('****GH');
  });
});
