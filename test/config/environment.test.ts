import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSettings, withDefaultEnv } from '../../src/config/environment.js';
import { ConfigError } from '../../src/errors.js';

const cwd = os.tmpdir();

function problemsOf(env: Record<string, string>): string[] {
  try {
    readSettings(env, { cwd });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.file}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('readSettings', () => {
  it('has working defaults with nothing set', () => {
    const s = readSettings({}, { cwd });
    expect(s).toMatchObject({ port: 5000, tenantHostPattern: undefined, storage: { kind: 'sqlite' }, sessionMaxLifetimeMinutes: 480, tokenRefreshAheadSeconds: 300, zonesRefreshTokenReuseSeconds: 10, logLevel: 'info' });
    expect(readSettings({ ZONES_REFRESH_TOKEN_REUSE: '0' }, { cwd }).zonesRefreshTokenReuseSeconds).toBe(0);
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('reports every bad variable at once, naming each', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      TENANT_HOST_PATTERN: '^no-group$',
      TRUSTED_PROXIES: '10.0.0.0/99',
      TOKEN_REFRESH_AHEAD: '-5',
      ZONES_REFRESH_TOKEN_REUSE: '61',
      SESSION_MAX_LIFETIME: '0',
      SESSION_KEYS: 'k1:short',
      REDIS_URL: 'http://not-redis',
      LOG_LEVEL: 'chatty',
    });
    for (const name of ['PORT', 'TENANT_HOST_PATTERN', 'TRUSTED_PROXIES', 'TOKEN_REFRESH_AHEAD', 'ZONES_REFRESH_TOKEN_REUSE', 'SESSION_MAX_LIFETIME', 'SESSION_KEYS', 'REDIS_URL', 'LOG_LEVEL']) {
      expect(problems.some((p) => p.includes(name)), name).toBe(true);
    }
    // A secret is never echoed back in a message.
    expect(problems.join('\n')).not.toContain('short');
  });

  it('bounds what clients may hold: defaults, settings, and every bad value reported', () => {
    expect(readSettings({}, { cwd }).clients).toEqual({ requestBufferSize: 65_536, requestTimeoutMs: 300_000, requestBodyTimeoutMs: 60_000, backendQueueTimeoutMs: 5000 });
    const set = { REQUEST_BUFFER_SIZE: '0', REQUEST_TIMEOUT_MS: '0', REQUEST_BODY_TIMEOUT_MS: '5000', BACKEND_QUEUE_TIMEOUT_MS: '250' };
    expect(readSettings(set, { cwd }).clients).toEqual({ requestBufferSize: 0, requestTimeoutMs: 0, requestBodyTimeoutMs: 5000, backendQueueTimeoutMs: 250 });
    const problems = problemsOf({ REQUEST_BUFFER_SIZE: '1e6', REQUEST_TIMEOUT_MS: '500', REQUEST_BODY_TIMEOUT_MS: '0', BACKEND_QUEUE_TIMEOUT_MS: '-1' });
    for (const name of ['REQUEST_BUFFER_SIZE', 'REQUEST_TIMEOUT_MS', 'REQUEST_BODY_TIMEOUT_MS', 'BACKEND_QUEUE_TIMEOUT_MS']) {
      expect(problems.some((p) => p.includes(name)), name).toBe(true);
    }
  });

  it('refuses a TENANT_HOST_PATTERN that backtracks catastrophically, and accepts the usual ones', () => {
    // Against this pattern a Host of 30 "a"s and a "!" takes over ten seconds to reject (measured on
    // Node 20): one request, one stalled gateway.
    const [problem] = problemsOf({ TENANT_HOST_PATTERN: '^((?:[a-z]+)+)\\.gw$' });
    expect(problem).toMatch(/TENANT_HOST_PATTERN: regular expression .* may backtrack catastrophically \(exponential time in the length of a hostile Host header/);
    // The old check dropped `?` before looking: this one passed it.
    expect(problemsOf({ TENANT_HOST_PATTERN: '^((?:[a-z]?[a-z]?)+)\\.gw$' })).toEqual([expect.stringMatching(/may backtrack catastrophically/)]);
    for (const pattern of ['^(.*)\\.app\\.example\\.com$', '^(.*)-approuter\\.cfapps\\.eu10\\.hana\\.ondemand\\.com$', '^([a-z0-9-]+)\\.gw\\.localhost$']) {
      expect(problemsOf({ TENANT_HOST_PATTERN: pattern }), pattern).toEqual([]);
    }
  });

  it('requires ZONEGATE_SECRET_KEY with Redis, where instances that each made up a key would refuse each other\'s sessions', () => {
    expect(problemsOf({ REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual([expect.stringMatching(/ZONEGATE_SECRET_KEY: required with Redis/)]);
    expect(problemsOf({ REDIS_URL: 'redis://127.0.0.1:6379', ZONEGATE_SECRET_KEY: 'b'.repeat(64) })).toEqual([]);
    // With an xsuaa binding the key only derives session keys: SESSION_KEYS does that job too.
    const xsuaa = JSON.stringify({ xsuaa: [{ credentials: { clientid: 'sb-app!t1', clientsecret: 's', url: 'https://p.auth.example.com', uaadomain: 'auth.example.com', xsappname: 'app!t1' } }] });
    expect(problemsOf({ REDIS_URL: 'redis://127.0.0.1:6379', VCAP_SERVICES: xsuaa })).toEqual([expect.stringMatching(/ZONEGATE_SECRET_KEY: .*or set SESSION_KEYS/)]);
    expect(problemsOf({ REDIS_URL: 'redis://127.0.0.1:6379', VCAP_SERVICES: xsuaa, SESSION_KEYS: `k1:${'s'.repeat(40)}` })).toEqual([]);
    // The embedded store is one instance's: a generated development key is fine there.
    expect(problemsOf({})).toEqual([]);
  });

  it('takes an xsuaa binding and a Redis binding from VCAP_SERVICES', () => {
    const s = readSettings(
      {
        VCAP_SERVICES: JSON.stringify({
          xsuaa: [{ credentials: { clientid: 'sb-app!t1', clientsecret: 's', url: 'https://p.auth.example.com', uaadomain: 'auth.example.com', xsappname: 'app!t1' } }],
          redis: [{ credentials: { uri: 'rediss://:pw@redis.example.com:6380' } }],
        }),
        ZONEGATE_SECRET_KEY: 'a'.repeat(64),
      },
      { cwd },
    );
    expect(s.xsuaa?.xsappname).toBe('app!t1');
    expect(s.storage).toEqual({
      kind: 'redis',
      connection: { mode: 'standalone', nodes: [{ host: 'redis.example.com', port: 6380 }], password: 'pw', tls: {} },
    });
    expect(Object.isFrozen(s.storage)).toBe(true);
    expect(s.uaaDomain).toBe('auth.example.com');
  });

  it('names the binding path when xsuaa credentials are incomplete', () => {
    const problems = problemsOf({ VCAP_SERVICES: JSON.stringify({ xsuaa: [{ credentials: { clientid: 'x' } }] }) });
    expect(problems.join('\n')).toMatch(/VCAP_SERVICES: the xsuaa binding's credentials lack clientsecret, url, uaadomain, xsappname/);
  });
});

describe('default-env.json', () => {
  it('supplies what the environment does not set; objects may be JSON values', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-env-'));
    fs.writeFileSync(path.join(dir, 'default-env.json'), JSON.stringify({ PORT: '6000', LOG_LEVEL: 'debug', destinations: [{ name: 'a', url: 'http://a' }] }));
    const { env, problems } = withDefaultEnv({ PORT: '7000' }, dir);
    expect(problems).toEqual([]);
    const s = readSettings(env, { cwd: dir });
    expect(s.port).toBe(7000);
    expect(s.logLevel).toBe('debug');
    expect(s.destinations.map((d) => d.name)).toEqual(['a']);
    fs.writeFileSync(path.join(dir, 'default-env.json'), '{ not json');
    expect(withDefaultEnv({}, dir).problems[0]).toMatchObject({ file: path.join(dir, 'default-env.json') });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('the SaaS registry client of the status reports (issue 12)', () => {
  it('reads SAAS_REGISTRY_CLIENT_ID/SECRET and SAAS_REGISTRY_TOKEN_URL; unset means the application client', () => {
    expect(readSettings({}, { cwd }).provisioning.registryClient).toBeUndefined();
    const s = readSettings(
      { SAAS_REGISTRY_URL: 'https://registry.example.com', SAAS_REGISTRY_CLIENT_ID: 'sb-reg!b1', SAAS_REGISTRY_CLIENT_SECRET: 's3cret', SAAS_REGISTRY_TOKEN_URL: 'https://provider.auth.example.com' },
      { cwd },
    );
    expect(s.provisioning.registryClient).toEqual({ clientId: 'sb-reg!b1', clientSecret: 's3cret', tokenUrl: 'https://provider.auth.example.com' });
  });

  it('refuses half a credential, a token URL without one, and a client without SAAS_REGISTRY_URL', () => {
    expect(problemsOf({ SAAS_REGISTRY_URL: 'https://r.example.com', SAAS_REGISTRY_CLIENT_ID: 'x' })).toEqual([expect.stringMatching(/^environment variable SAAS_REGISTRY_CLIENT_SECRET: .*together/)]);
    expect(problemsOf({ SAAS_REGISTRY_URL: 'https://r.example.com', SAAS_REGISTRY_TOKEN_URL: 'https://a.example.com' })).toEqual([expect.stringMatching(/SAAS_REGISTRY_TOKEN_URL: only used with/)]);
    expect(problemsOf({ SAAS_REGISTRY_CLIENT_ID: 'x', SAAS_REGISTRY_CLIENT_SECRET: 'y' })).toEqual([expect.stringMatching(/SAAS_REGISTRY_CLIENT_ID: only used with SAAS_REGISTRY_URL/)]);
  });
});

describe('a saas-registry binding (Cloud Foundry)', () => {
  const binding = { saas_registry_url: 'https://saas-manager.example.com', clientid: 'sb-reg!b7|saas-registry!b1', clientsecret: 'shh', url: 'https://provider.auth.example.com' };
  const vcap = (credentials: object) => JSON.stringify({ 'saas-registry': [{ label: 'saas-registry', credentials }] });

  it("gives the registry URL and its client when no SAAS_REGISTRY_* is set", () => {
    const s = readSettings({ VCAP_SERVICES: vcap(binding) }, { cwd });
    expect(s.provisioning.registryUrl).toBe('https://saas-manager.example.com');
    expect(s.provisioning.registryClient).toEqual({ clientId: binding.clientid, clientSecret: 'shh', tokenUrl: 'https://provider.auth.example.com' });
  });

  it('is ignored as a whole when SAAS_REGISTRY_URL is set, and an incomplete one is a problem', () => {
    const s = readSettings({ VCAP_SERVICES: vcap(binding), SAAS_REGISTRY_URL: 'https://other.example.com' }, { cwd });
    expect(s.provisioning).toMatchObject({ registryUrl: 'https://other.example.com', registryClient: undefined });
    expect(problemsOf({ VCAP_SERVICES: vcap({ ...binding, clientsecret: undefined }) })).toEqual([expect.stringContaining("saas-registry binding's credentials lack clientsecret")]);
  });
});

describe('readSettings: metrics (issue 17)', () => {
  it('leaves metrics off unless METRICS_PORT or METRICS_TOKEN is set', () => {
    expect(readSettings({}, { cwd }).metrics).toBeUndefined();
    expect(readSettings({ METRICS_PORT: '9464' }, { cwd }).metrics).toEqual({ port: 9464, host: undefined, token: undefined, tenantLabel: false, tenantLimit: 100 });
    const token = 'a'.repeat(32);
    expect(readSettings({ METRICS_TOKEN: token, METRICS_TENANT_LABEL: 'true', METRICS_TENANT_LIMIT: '20' }, { cwd }).metrics).toEqual({
      port: undefined,
      host: undefined,
      token,
      tenantLabel: true,
      tenantLimit: 20,
    });
  });

  it('names each bad metrics variable', () => {
    expect(problemsOf({ PORT: '9464', METRICS_PORT: '9464', METRICS_TOKEN: 'short', METRICS_TENANT_LABEL: 'yes', METRICS_TENANT_LIMIT: '0' })).toEqual([
      'environment variable METRICS_PORT: must differ from PORT (9464): metrics get a listener of their own',
      'environment variable METRICS_TOKEN: expected at least 16 characters',
      'environment variable METRICS_TENANT_LABEL: expected true or false, got "yes"',
      'environment variable METRICS_TENANT_LIMIT: expected a whole number of tenants between 1 and 10000',
    ]);
    expect(problemsOf({ METRICS_PORT: 'x', METRICS_TOKEN: 'has spaces in it, sixteen+' })).toEqual([
      'environment variable METRICS_PORT: expected a port number 0-65535, got "x"',
      expect.stringMatching(/^environment variable METRICS_TOKEN: expected a bearer token/),
    ]);
    // Settings that only mean something with metrics on are not silently ignored.
    expect(problemsOf({ METRICS_TENANT_LABEL: 'true', METRICS_HOST: '127.0.0.1' })).toEqual([
      'environment variable METRICS_HOST: only used with METRICS_PORT (the metrics listener it binds)',
      'environment variable METRICS_TENANT_LABEL: only used when metrics are on (METRICS_PORT or METRICS_TOKEN)',
    ]);
  });
});
