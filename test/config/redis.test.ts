import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { readSettings, type Environment } from '../../src/config/environment.js';
import { openStorage } from '../../src/storage/index.js';
import type { RedisConnection } from '../../src/storage/redis.js';
import { settingsProblems } from './settings-problems.js';

const cwd = os.tmpdir();
const SECRET = { ZONEGATE_SECRET_KEY: 'a'.repeat(64) };
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function redisOf(env: Environment): RedisConnection | undefined {
  const s = readSettings({ ...SECRET, ...env }, { cwd });
  return s.storage.kind === 'redis' ? s.storage.connection : undefined;
}

const problemsOf = (env: Environment): string[] => settingsProblems({ ...SECRET, ...env }, cwd);

const vcapOf = (credentials: Record<string, unknown>, label = 'redis-cache') => ({
  VCAP_SERVICES: JSON.stringify({ [label]: [{ label, name: 'zonegate-redis', plan: 'standard', credentials }] }),
});

describe('Redis settings from REDIS_*', () => {
  it('REDIS_URL: one server, with user, password (decoded), database and TLS', () => {
    expect(redisOf({ REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual({ mode: 'standalone', nodes: [{ host: '127.0.0.1', port: 6379 }] });
    expect(redisOf({ REDIS_URL: `rediss://app:${encodeURIComponent('p@ss:w/rd')}@redis.example.com:6380/2` })).toEqual({
      mode: 'standalone',
      nodes: [{ host: 'redis.example.com', port: 6380 }],
      username: 'app',
      password: 'p@ss:w/rd',
      db: 2,
      tls: {},
    });
    expect(redisOf({ REDIS_URL: 'redis://[::1]' })).toMatchObject({ nodes: [{ host: '::1', port: 6379 }] });
  });

  it('Sentinel: REDIS_SENTINELS and REDIS_SENTINEL_MASTER, with password and TLS from REDIS_URL', () => {
    expect(redisOf({ REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26379,[fd00::3]:26379', REDIS_SENTINEL_MASTER: 'mymaster', REDIS_URL: 'rediss://:pw@ignored:6379/1' })).toEqual({
      mode: 'sentinel',
      nodes: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
        { host: 'fd00::3', port: 26379 },
      ],
      sentinelMaster: 'mymaster',
      password: 'pw',
      db: 1,
      tls: {},
    });
    expect(redisOf({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_MASTER: 'm' })).toEqual({ mode: 'sentinel', nodes: [{ host: '127.0.0.1', port: 26379 }], sentinelMaster: 'm' });
  });

  it("Sentinel: the master's name after # in REDIS_URL, whose host is then the sentinel", () => {
    expect(redisOf({ REDIS_URL: 'redis://:pw@sentinel.example.com:26379#mymaster' })).toEqual({
      mode: 'sentinel',
      nodes: [{ host: 'sentinel.example.com', port: 26379 }],
      sentinelMaster: 'mymaster',
      password: 'pw',
    });
  });

  it('Cluster: REDIS_CLUSTER=true with REDIS_URL as seed and/or REDIS_CLUSTER_NODES', () => {
    expect(redisOf({ REDIS_CLUSTER: 'true', REDIS_URL: 'rediss://:pw@c1.example.com:6379', REDIS_CLUSTER_NODES: 'c2.example.com:6379,c3.example.com:6379' })).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'c1.example.com', port: 6379 },
        { host: 'c2.example.com', port: 6379 },
        { host: 'c3.example.com', port: 6379 },
      ],
      password: 'pw',
      tls: {},
    });
    expect(redisOf({ REDIS_CLUSTER: 'TRUE', REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).toEqual({ mode: 'cluster', nodes: [{ host: '127.0.0.1', port: 7000 }] });
    expect(redisOf({ REDIS_CLUSTER: 'false', REDIS_URL: 'redis://h:1' })).toMatchObject({ mode: 'standalone' });
  });

  it('REDIS_TLS_SERVERNAME sets the name the certificates are checked against', () => {
    expect(redisOf({ REDIS_URL: 'rediss://10.0.0.1:6380', REDIS_TLS_SERVERNAME: 'Redis.Example.com' })?.tls).toEqual({ servername: 'redis.example.com' });
  });

  it('reports every problem at once, naming the variable and what was expected', () => {
    const problems = problemsOf({
      REDIS_URL: 'redis://h:6379/3',
      REDIS_CLUSTER: 'yes',
      REDIS_SENTINELS: 'nohostport',
      REDIS_CLUSTER_NODES: 'a:1',
      REDIS_CA_FILE: '/nonexistent.pem',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/REDIS_CLUSTER: expected true or false, got "yes"/),
        expect.stringMatching(/REDIS_SENTINELS: expected host:port/),
        expect.stringMatching(/REDIS_CLUSTER_NODES: only with REDIS_CLUSTER=true/),
        expect.stringMatching(/REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS/),
        expect.stringMatching(/REDIS_CA_FILE: only with TLS/),
      ]),
    );
    expect(problemsOf({ REDIS_URL: 'http://not-redis' })).toEqual([expect.stringMatching(/REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL/)]);
    expect(problemsOf({ REDIS_URL: 'redis://h/x' })).toEqual([expect.stringMatching(/REDIS_URL: expected a database number/)]);
    expect(problemsOf({ REDIS_CLUSTER: 'true', REDIS_URL: 'redis://h:1/2' })).toEqual([expect.stringMatching(/REDIS_URL: a Redis Cluster has only database 0/)]);
    expect(problemsOf({ REDIS_CLUSTER: 'true', REDIS_CLUSTER_NODES: 'b:2', REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'm' })).toEqual([expect.stringMatching(/REDIS_CLUSTER: a Redis Cluster has no sentinels/)]);
    expect(problemsOf({ REDIS_URL: 'redis://s:26379#one', REDIS_SENTINEL_MASTER: 'two' })).toEqual([expect.stringMatching(/REDIS_SENTINEL_MASTER: "two" contradicts/)]);
    expect(problemsOf({ REDIS_TLS_SERVERNAME: 'x.example' })).toEqual([expect.stringMatching(/REDIS_TLS_SERVERNAME: set, but no Redis is configured/)]);
    expect(problemsOf({ REDIS_URL: 'rediss://h:1', REDIS_TLS_SERVERNAME: 'not a name' })).toEqual([expect.stringMatching(/REDIS_TLS_SERVERNAME: expected a DNS name/)]);
  });

  it('is frozen, all the way down', () => {
    const c = redisOf({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_URL: 'rediss://h:1' })!;
    expect(Object.isFrozen(c) && Object.isFrozen(c.nodes) && Object.isFrozen(c.nodes[0]) && Object.isFrozen(c.tls)).toBe(true);
  });
});

describe('Redis settings from a binding in VCAP_SERVICES (REFERENCE.md §12)', () => {
  it("reads SAP's Redis on SAP BTP binding, dropping the placeholder user from its uri, the hostname as TLS server name", () => {
    expect(
      redisOf(
        vcapOf({
          cluster_mode: false,
          hostname: 'master.rg-abc.cache.amazonaws.com',
          password: 'p@ss:w/rd',
          port: 1234,
          tls: true,
          uri: 'rediss://no-user-name-for-redis:p%40ss%3Aw%2Frd@master.rg-abc.cache.amazonaws.com:1234',
        }),
      ),
    ).toEqual({
      mode: 'standalone',
      nodes: [{ host: 'master.rg-abc.cache.amazonaws.com', port: 1234 }],
      password: 'p@ss:w/rd',
      tls: { servername: 'master.rg-abc.cache.amazonaws.com' },
    });
  });

  it('builds the connection from hostname, port, password and tls when there is no uri', () => {
    expect(redisOf(vcapOf({ hostname: 'h.example', port: '6380', password: 'a b/c@d', tls: true }, 'hyperscaler-redis'))).toEqual({
      mode: 'standalone',
      nodes: [{ host: 'h.example', port: 6380 }],
      password: 'a b/c@d',
      tls: { servername: 'h.example' },
    });
    expect(redisOf(vcapOf({ hostname: 'h', port: 6379 }, 'redis'))).toEqual({ mode: 'standalone', nodes: [{ host: 'h', port: 6379 }] });
  });

  it('takes the CA from ca_base64, server_ca or sslrootcert, in tls or beside it', () => {
    const base = { hostname: 'h.example', port: 6380, password: 'pw' };
    expect(redisOf(vcapOf({ ...base, tls: { ca_base64: Buffer.from(PEM).toString('base64') } }))?.tls?.ca).toBe(PEM);
    expect(redisOf(vcapOf({ ...base, tls: true, server_ca: PEM }))?.tls?.ca).toBe(PEM);
    expect(redisOf(vcapOf({ ...base, tls: 'true', sslrootcert: PEM }))?.tls?.ca).toBe(PEM);
    // A CA without TLS switched on is not used: the connection stays as the binding says.
    expect(redisOf(vcapOf({ ...base, tls: false, server_ca: PEM }))?.tls).toBeUndefined();
    expect(problemsOf(vcapOf({ ...base, tls: { ca_base64: 'bm90IGEgY2VydA==' } }))).toEqual([
      expect.stringMatching(/VCAP_SERVICES \/redis-cache\/0\/credentials\/ca_base64: .*PEM certificates in base64/),
    ]);
  });

  it('Sentinel: sentinel_nodes, with the master name after # in uri', () => {
    expect(
      redisOf(
        vcapOf({
          hostname: '10.11.241.1',
          port: 26379,
          password: 'pw',
          uri: 'redis://no-user-name-for-redis:pw@10.11.241.1:26379#mymaster',
          sentinel_nodes: [
            { hostname: '10.11.241.1', port: 26379 },
            { hostname: '10.11.241.2', port: '26379' },
            '10.11.241.3:26379',
          ],
        }),
      ),
    ).toEqual({
      mode: 'sentinel',
      nodes: [
        { host: '10.11.241.1', port: 26379 },
        { host: '10.11.241.2', port: 26379 },
        { host: '10.11.241.3', port: 26379 },
      ],
      sentinelMaster: 'mymaster',
      password: 'pw',
    });
    expect(problemsOf(vcapOf({ uri: 'redis://:pw@h:26379', sentinel_nodes: [{ hostname: 'h', port: 26379 }] }))).toEqual([
      expect.stringMatching(/VCAP_SERVICES \/redis-cache\/0\/credentials\/uri: .*master name belongs after "#"/),
    ]);
    expect(problemsOf(vcapOf({ uri: 'redis://:pw@h:26379#m', sentinel_nodes: [{ hostname: 'h' }] }))).toEqual([
      expect.stringMatching(/credentials\/sentinel_nodes: .*expected "sentinel_nodes" as a list/),
    ]);
  });

  it('Cluster: cluster_mode true makes the binding host a seed node', () => {
    expect(redisOf(vcapOf({ hostname: 'cfg.example.com', port: 6379, password: 'pw', tls: true, cluster_mode: true }))).toEqual({
      mode: 'cluster',
      nodes: [{ host: 'cfg.example.com', port: 6379 }],
      password: 'pw',
      tls: { servername: 'cfg.example.com' },
    });
  });

  it('finds user-provided services tagged redis, skips everything else, and lets REDIS_URL win', () => {
    const vcap = {
      postgresql: [{ label: 'postgresql', credentials: { uri: 'postgres://db' } }],
      'user-provided': [
        { label: 'user-provided', tags: [], credentials: { uri: 'postgres://db' } },
        { label: 'user-provided', tags: ['Redis'], credentials: { uri: 'redis://:pw@cache:6379/2' } },
      ],
    };
    expect(redisOf({ VCAP_SERVICES: JSON.stringify(vcap) })).toEqual({ mode: 'standalone', nodes: [{ host: 'cache', port: 6379 }], password: 'pw', db: 2 });
    expect(redisOf({ VCAP_SERVICES: JSON.stringify(vcap), REDIS_URL: 'redis://other:1' })).toMatchObject({ nodes: [{ host: 'other', port: 1 }] });
    expect(redisOf({ VCAP_SERVICES: JSON.stringify({ postgresql: vcap.postgresql }) })).toBeUndefined();
    expect(problemsOf(vcapOf({ hostname: 'h' }, 'redis'))).toEqual([expect.stringMatching(/expected a "uri", or "hostname" and "port"/)]);
  });

  it('a binding connects to a real Redis', async () => {
    const c = redisOf(vcapOf({ hostname: '127.0.0.1', port: 6379 }, 'redis'))!;
    const s = await openStorage({ kind: 'redis', connection: c, keyPrefix: `zonegate-test:config:${process.pid}:` });
    try {
      await s.ping();
    } finally {
      await s.close();
    }
  });
});
