/**
 * Redis over TLS (`rediss://`, SAP's bindings with `"tls": true`): a real redis-server with a TLS
 * port and a certificate from a throw-away CA (test/support/tls.ts). The store trusts that CA from
 * REDIS_CA_FILE or from the binding's `ca_base64`, and refuses a server whose certificate does not
 * name the host it expects.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/environment.js';
import { openStorage } from '../../src/storage/index.js';
import { openRedisStorage, type RedisConnection } from '../../src/storage/redis.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { makeTestTls, type TestTls } from '../support/tls.js';

const SECRET = { ZONEGATE_SECRET_KEY: 'a'.repeat(64) };

describe('Redis over TLS', () => {
  let tls: TestTls;
  let otherCa: TestTls;
  let server: RedisServerHandle;
  beforeAll(async () => {
    // The certificate names redis.test (and 127.0.0.1), not localhost.
    tls = makeTestTls(['redis.test']);
    otherCa = makeTestTls(['redis.test']);
    server = await startRedisServer([], { tls });
  });
  afterAll(async () => {
    await server?.dispose();
    tls?.cleanup();
    otherCa?.cleanup();
  });

  const at = (host: string, tlsOptions: RedisConnection['tls']): RedisConnection => ({
    mode: 'standalone',
    nodes: [{ host, port: server.tlsPort! }],
    tls: tlsOptions,
  });

  async function roundTrip(connection: RedisConnection): Promise<void> {
    const s = await openRedisStorage({ connection, keyPrefix: 'tls:', connectTimeoutMs: 1000 });
    try {
      await s.set('k', 'over tls');
      expect(await s.get('k')).toBe('over tls');
    } finally {
      await s.close();
    }
  }

  async function refusal(connection: RedisConnection): Promise<string> {
    const err = await openRedisStorage({ connection, keyPrefix: 'tls:', connectTimeoutMs: 1000 }).then(
      async (s) => {
        await s.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
    return String((err as Error & { cause?: Error }).cause?.message);
  }

  it('connects with the CA from REDIS_CA_FILE', async () => {
    const settings = readSettings({ ...SECRET, REDIS_URL: `rediss://127.0.0.1:${server.tlsPort}`, REDIS_CA_FILE: tls.caFile }, { cwd: os.tmpdir() });
    expect(settings.storage).toMatchObject({ kind: 'redis', connection: { tls: { ca: tls.ca } } });
    const s = await openStorage(settings.storage);
    try {
      await s.set('k', 'v');
      expect(await s.get('k')).toBe('v');
    } finally {
      await s.close();
    }
  });

  it("connects with the CA from a binding's tls.ca_base64, checking the certificate against the binding's hostname (SNI)", async () => {
    const vcap = {
      'redis-cache': [
        {
          label: 'redis-cache',
          credentials: {
            hostname: 'redis.test',
            port: server.tlsPort,
            password: '',
            tls: { ca_base64: Buffer.from(tls.ca).toString('base64') },
          },
        },
      ],
    };
    const settings = readSettings({ ...SECRET, VCAP_SERVICES: JSON.stringify(vcap) }, { cwd: os.tmpdir() });
    expect(settings.storage).toMatchObject({ kind: 'redis', connection: { tls: { ca: tls.ca, servername: 'redis.test' } } });
    // redis.test does not resolve here: connect to the loopback address, verify as redis.test.
    const connection = settings.storage.kind === 'redis' ? settings.storage.connection : undefined;
    await roundTrip({ ...connection!, nodes: [{ host: '127.0.0.1', port: server.tlsPort! }] });
  });

  it('refuses a certificate that does not name the expected host', async () => {
    // Connected by a name the certificate lacks.
    expect(await refusal(at('localhost', { ca: tls.ca }))).toMatch(/localhost|altnames|match/i);
    // Or told to expect another name (REDIS_TLS_SERVERNAME) than the certificate carries.
    expect(await refusal(at('127.0.0.1', { ca: tls.ca, servername: 'other.example' }))).toMatch(/other\.example|altnames|match/i);
    // The right name passes.
    await roundTrip(at('127.0.0.1', { ca: tls.ca, servername: 'redis.test' }));
  });

  it('refuses a server whose certificate another CA signed, and a self-made CA without REDIS_CA_FILE', async () => {
    expect(await refusal(at('127.0.0.1', { ca: otherCa.ca }))).toMatch(/certificate/i);
    expect(await refusal(at('127.0.0.1', {}))).toMatch(/certificate/i);
  });

  it('reports a CA file that is missing or not PEM, naming the variable', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-ca-'));
    try {
      fs.writeFileSync(path.join(dir, 'not.pem'), 'hello');
      for (const file of [path.join(dir, 'absent.pem'), path.join(dir, 'not.pem')]) {
        expect(() => readSettings({ ...SECRET, REDIS_URL: 'rediss://127.0.0.1:6380', REDIS_CA_FILE: file }, { cwd: dir })).toThrow(/REDIS_CA_FILE/);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
