import fs from 'node:fs';
import { isIP } from 'node:net';
import { redisConnectionFromUrl, type RedisConnection, type RedisNode } from '../storage/redis.js';
import { caFromCredentials, firstBinding, isRecord, portOf } from './service-bindings.js';

type Problem = (variable: string, message: string, at?: string) => void;
type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Where Redis is, from the REDIS_* variables or else from the first Redis binding in VCAP_SERVICES
 * (REFERENCE.md §12, as SAP's application router reads it); undefined: no Redis, the embedded
 * SQLite serves. Called by readSettings only (one reader of the environment).
 *
 * | topology   | variables                                                                  |
 * |------------|----------------------------------------------------------------------------|
 * | one server | `REDIS_URL=redis[s]://[[user]:password@]host:port[/db]`                     |
 * | Sentinel   | `REDIS_SENTINELS=host:port,...` + `REDIS_SENTINEL_MASTER=name` (or `#name`   |
 * |            | after REDIS_URL, whose host:port is then the sentinel when REDIS_SENTINELS  |
 * |            | is unset); REDIS_URL gives password, TLS and database                       |
 * | Cluster    | `REDIS_CLUSTER=true` + REDIS_URL (a seed node) and/or                       |
 * |            | `REDIS_CLUSTER_NODES=host:port,...`                                         |
 *
 * With TLS (`rediss://`): `REDIS_CA_FILE` (PEM bundle trusted instead of the system CAs) and
 * `REDIS_TLS_SERVERNAME` (the name the certificates carry, when Sentinel or the Cluster hand out
 * addresses instead of names).
 */
export function readRedisSettings(env: Environment, vcap: Record<string, unknown> | undefined, problem: Problem): RedisConnection | undefined {
  const fromEnv = Boolean(env.REDIS_URL || env.REDIS_SENTINELS || env.REDIS_CLUSTER_NODES || env.REDIS_SENTINEL_MASTER || truthy(env.REDIS_CLUSTER));
  const connection = fromEnv ? connectionFromEnv(env, problem) : vcap ? connectionFromVcap(vcap, problem) : undefined;
  if (connection === undefined) {
    for (const name of ['REDIS_CA_FILE', 'REDIS_TLS_SERVERNAME'] as const) {
      if (env[name]) problem(name, 'set, but no Redis is configured (REDIS_URL or a Redis binding)');
    }
    return undefined;
  }

  let tls = connection.tls;
  if (env.REDIS_CA_FILE || env.REDIS_TLS_SERVERNAME) {
    if (!tls) {
      for (const name of ['REDIS_CA_FILE', 'REDIS_TLS_SERVERNAME'] as const) {
        if (env[name]) problem(name, 'only with TLS: use a rediss:// URL (or a binding with "tls": true)');
      }
    } else {
      tls = { ...tls };
      if (env.REDIS_CA_FILE) {
        const ca = readCaFile(env.REDIS_CA_FILE);
        if ('problem' in ca) problem('REDIS_CA_FILE', ca.problem);
        else tls.ca = ca.pem;
      }
      if (env.REDIS_TLS_SERVERNAME) {
        if (!HOST_NAME.test(env.REDIS_TLS_SERVERNAME)) problem('REDIS_TLS_SERVERNAME', `expected a DNS name such as redis.example.com, got "${env.REDIS_TLS_SERVERNAME}"`);
        else tls.servername = env.REDIS_TLS_SERVERNAME.toLowerCase();
      }
    }
  }
  return deepFreeze({ ...connection, ...(tls ? { tls } : {}) });
}

function connectionFromEnv(env: Environment, problem: Problem): RedisConnection | undefined {
  let base: RedisConnection | undefined;
  let fragment: string | undefined;
  if (env.REDIS_URL) {
    try {
      const url = new URL(env.REDIS_URL);
      fragment = url.hash ? decodeURIComponent(url.hash.slice(1)) : undefined;
      url.hash = '';
      base = redisConnectionFromUrl(url.href);
    } catch (err) {
      problem('REDIS_URL', `${err instanceof TypeError && err.message.startsWith('expected') ? err.message : 'expected a redis:// or rediss:// URL'}, e.g. rediss://:password@redis.example.com:6380`);
      return undefined;
    }
  }
  const sentinels = env.REDIS_SENTINELS ? parseNodes(env.REDIS_SENTINELS, 'REDIS_SENTINELS', problem) : undefined;
  const clusterNodes = env.REDIS_CLUSTER_NODES ? parseNodes(env.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES', problem) : undefined;
  const cluster = env.REDIS_CLUSTER === undefined || env.REDIS_CLUSTER === '' ? false : truthy(env.REDIS_CLUSTER);
  if (env.REDIS_CLUSTER && !/^(true|false)$/i.test(env.REDIS_CLUSTER)) problem('REDIS_CLUSTER', `expected true or false, got "${env.REDIS_CLUSTER}"`);
  const master = env.REDIS_SENTINEL_MASTER || fragment;
  if (env.REDIS_SENTINEL_MASTER && fragment && env.REDIS_SENTINEL_MASTER !== fragment) {
    problem('REDIS_SENTINEL_MASTER', `"${env.REDIS_SENTINEL_MASTER}" contradicts the master name "#${fragment}" in REDIS_URL; give it once`);
  }
  const credentials = {
    ...(base?.username ? { username: base.username } : {}),
    ...(base?.password ? { password: base.password } : {}),
    ...(base?.tls ? { tls: base.tls } : {}),
  };

  if (cluster) {
    if (sentinels || master) problem('REDIS_CLUSTER', 'a Redis Cluster has no sentinels: set either REDIS_CLUSTER or REDIS_SENTINELS/REDIS_SENTINEL_MASTER');
    if (base?.db) problem('REDIS_URL', 'a Redis Cluster has only database 0: remove the database number');
    const nodes = [...(base?.nodes ?? []), ...(clusterNodes ?? [])];
    if (nodes.length === 0) problem('REDIS_CLUSTER_NODES', 'expected host:port,... of one or more cluster nodes (or REDIS_URL with one of them)');
    return { mode: 'cluster', nodes, ...credentials };
  }
  if (clusterNodes) problem('REDIS_CLUSTER_NODES', 'only with REDIS_CLUSTER=true');
  if (env.REDIS_SENTINELS || master) {
    if (!master) problem('REDIS_SENTINEL_MASTER', 'required with REDIS_SENTINELS: the name the sentinels monitor the master under (e.g. mymaster)');
    const nodes = sentinels ?? base?.nodes ?? [];
    if (nodes.length === 0) problem('REDIS_SENTINELS', 'expected host:port,... of the sentinels');
    return { mode: 'sentinel', nodes, sentinelMaster: master ?? '', ...credentials, ...(base?.db ? { db: base.db } : {}) };
  }
  return base;
}

/**
 * The first binding whose label (`redis`, `redis-cache`, `hyperscaler-redis`, ...) or one of whose
 * tags says Redis, which also covers user-provided services tagged `redis`. Its credentials as SAP
 * hands them out: `uri` (or `hostname`/`port`/`password`), `tls` (true, or an object) with a CA in
 * `ca_base64`, `server_ca` or `sslrootcert`, `sentinel_nodes` with the master name after `#` in
 * `uri`, `cluster_mode`.
 */
function connectionFromVcap(vcap: Record<string, unknown>, problem: Problem): RedisConnection | undefined {
  const binding = firstBinding(vcap, isRedisBinding);
  if (!binding) return undefined;
  const atProblem = (message: string, field = '') => problem('VCAP_SERVICES', `the Redis binding's credentials: ${message}`, `${binding.at}${field}`);
  if (!isRecord(binding.credentials)) {
    atProblem('expected an object');
    return undefined;
  }
  return connectionFromCredentials(binding.credentials, atProblem);
}

// SAP's Redis service puts this placeholder user in its `uri` because the server has no ACL users;
// sent as `AUTH <user> <password>` to Redis 6+ it would be refused, so it is dropped.
const PLACEHOLDER_USER = 'no-user-name-for-redis';

function connectionFromCredentials(c: Record<string, unknown>, problem: (message: string, field?: string) => void): RedisConnection | undefined {
  let base: RedisConnection | undefined;
  let master: string | undefined;
  const uri = c['uri'] ?? c['url'];
  if (typeof uri === 'string' && uri !== '') {
    try {
      const url = new URL(uri);
      master = url.hash ? decodeURIComponent(url.hash.slice(1)) : undefined;
      url.hash = '';
      if (decodeURIComponent(url.username) === PLACEHOLDER_USER) url.username = '';
      base = redisConnectionFromUrl(url.href);
    } catch (err) {
      problem(err instanceof TypeError && err.message.startsWith('expected') ? err.message : 'expected a redis:// or rediss:// URL', '/uri');
      return undefined;
    }
  } else {
    const host = c['hostname'] ?? c['host'];
    const port = portOf(c['port']);
    if (typeof host !== 'string' || host === '' || port === undefined) {
      problem('expected a "uri", or "hostname" and "port"');
      return undefined;
    }
    const password = c['password'];
    base = { mode: 'standalone', nodes: [{ host, port }], ...(typeof password === 'string' && password !== '' ? { password } : {}) };
  }

  const tlsField = c['tls'];
  const tlsOn = base.tls !== undefined || tlsField === true || tlsField === 'true' || isRecord(tlsField);
  let tls: RedisConnection['tls'];
  if (tlsOn) {
    tls = {};
    const ca = caFromCredentials(isRecord(tlsField) ? { ...c, ...tlsField } : c);
    if (typeof ca === 'object') problem(ca.problem, ca.field);
    else if (ca !== undefined) tls.ca = ca;
    // Sentinel and Cluster hand out addresses; the certificate names the service's host.
    const hostname = c['hostname'] ?? c['host'];
    if (typeof hostname === 'string' && HOST_NAME.test(hostname) && isIP(hostname) === 0) tls.servername = hostname.toLowerCase();
  }
  const common = {
    ...(base.username ? { username: base.username } : {}),
    ...(base.password ? { password: base.password } : {}),
    ...(tls ? { tls } : {}),
  };

  const sentinelNodes = c['sentinel_nodes'];
  if (sentinelNodes !== undefined && sentinelNodes !== null && !(Array.isArray(sentinelNodes) && sentinelNodes.length === 0)) {
    const nodes = Array.isArray(sentinelNodes) ? sentinelNodes.map(nodeOf) : [];
    if (nodes.length === 0 || nodes.some((n) => n === undefined)) {
      problem('expected "sentinel_nodes" as a list of {"hostname", "port"} (or "host:port")', '/sentinel_nodes');
      return undefined;
    }
    if (!master) problem('with "sentinel_nodes" the master name belongs after "#" in "uri" (e.g. redis://:pw@host:26379#mymaster)', '/uri');
    return { mode: 'sentinel', nodes: nodes as RedisNode[], sentinelMaster: master ?? '', ...common, ...(base.db ? { db: base.db } : {}) };
  }
  if (c['cluster_mode'] === true || c['cluster_mode'] === 'true') return { mode: 'cluster', nodes: base.nodes, ...common };
  return { ...base, ...common };
}


function readCaFile(file: string): { pem: string } | { problem: string } {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { problem: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return { problem: `expected ${file} to hold PEM certificates (-----BEGIN CERTIFICATE-----)` };
  return { pem };
}

function parseNodes(text: string, variable: string, problem: Problem): RedisNode[] | undefined {
  const nodes = text.split(',').map((part) => nodeOf(part.trim()));
  if (nodes.some((n) => n === undefined)) {
    problem(variable, `expected host:port,... (IPv6 as [::1]:26379), got "${text}"`);
    return undefined;
  }
  return nodes as RedisNode[];
}

function nodeOf(value: unknown): RedisNode | undefined {
  if (typeof value === 'string') {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(value);
    const port = m ? portOf(m[2]) : undefined;
    return m && port !== undefined ? { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port } : undefined;
  }
  if (!isRecord(value)) return undefined;
  const host = value['hostname'] ?? value['host'] ?? value['ip'];
  const port = portOf(value['port']);
  return typeof host === 'string' && host !== '' && port !== undefined ? { host, port } : undefined;
}


function isRedisBinding(label: string, tags: readonly string[]): boolean {
  return /redis/i.test(label) || tags.some((t) => /^redis$/i.test(t));
}

function truthy(text: string | undefined): boolean {
  return text !== undefined && /^true$/i.test(text.trim());
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;


function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
