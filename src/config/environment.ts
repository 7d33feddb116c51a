import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { Level } from '../log.js';
import { compileTenantHostPattern } from '../tenant/resolve.js';
import { parseTrustedProxies, type TrustedProxies } from '../tenant/trusted-proxies.js';
import { parseDestinations } from './destinations.js';
import { redisUrlFromVcap } from '../storage/redis.js';
import type { Destination } from './types.js';

/** The credentials of an `xsuaa` service binding (REFERENCE.md §3), or of the built-in zones. */
export interface XsuaaCredentials {
  clientid: string;
  clientsecret: string;
  url: string;
  uaadomain: string;
  xsappname: string;
  identityzone?: string;
  tenantid?: string;
  tenantmode?: string;
}

export type StorageSettings = { kind: 'sqlite'; file: string } | { kind: 'redis'; url: string };

/** Everything the gateway takes from its environment, validated once and frozen. */
export interface Settings {
  port: number;
  /** Bind address; undefined = all interfaces. */
  host: string | undefined;
  tenantHostPattern: RegExp | undefined;
  trustedProxies: TrustedProxies;
  destinations: readonly Destination[];
  storage: StorageSettings;
  /** From an `xsuaa` binding in VCAP_SERVICES; undefined means the built-in zones serve logins. */
  xsuaa: XsuaaCredentials | undefined;
  /** Base domain of the built-in zones (`<tenant>.<uaaDomain>`), when they run in-process. */
  uaaDomain: string;
  sessionTimeoutMinutes: number | undefined;
  logLevel: Level;
  shutdownTimeoutMs: number;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Cloud Foundry's local-development convention (SAP's approuter reads it too): `default-env.json`
 * in the working directory holds environment variables as JSON; objects (VCAP_SERVICES,
 * destinations) are given as JSON values, not strings. The real environment wins.
 */
export function withDefaultEnv(env: Environment, cwd: string): { env: Environment; problems: ConfigProblem[] } {
  const file = path.join(cwd, 'default-env.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { env, problems: [] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { env, problems: [{ file, path: '', message: `not valid JSON: ${(err as Error).message}` }] };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { env, problems: [{ file, path: '', message: 'expected an object of environment variables' }] };
  }
  const merged: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(doc)) {
    merged[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return { env: { ...merged, ...env }, problems: [] };
}

const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

/**
 * Reads the environment into Settings. This and the entry point are the only readers of the
 * environment: everything else receives Settings. Every problem is reported at once.
 */
export function readSettings(env: Environment, options: { cwd: string; defaultPort?: number }): Settings {
  const problems: ConfigProblem[] = [];
  const problem = (variable: string, message: string, at = '') =>
    problems.push({ file: `environment variable ${variable}`, path: at, message });

  const port = integer(env.PORT, options.defaultPort ?? 5000, 0, 65535);
  if (port === undefined) problem('PORT', `expected a port number 0-65535, got "${env.PORT}"`);

  let tenantHostPattern: RegExp | undefined;
  if (env.TENANT_HOST_PATTERN) {
    const compiled = compileTenantHostPattern(env.TENANT_HOST_PATTERN);
    if (typeof compiled === 'string') problem('TENANT_HOST_PATTERN', compiled);
    else tenantHostPattern = compiled;
  }

  const trusted = parseTrustedProxies(env.TRUSTED_PROXIES);
  if (typeof trusted === 'string') problem('TRUSTED_PROXIES', trusted);

  let destinations: Destination[] = [];
  try {
    destinations = parseDestinations(env.destinations, 'environment variable destinations');
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems);
    else throw err;
  }

  let vcap: Record<string, unknown> | undefined;
  if (env.VCAP_SERVICES) {
    try {
      const parsed: unknown = JSON.parse(env.VCAP_SERVICES);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected an object of service bindings by label');
      vcap = parsed as Record<string, unknown>;
    } catch (err) {
      problem('VCAP_SERVICES', `not valid: ${(err as Error).message}`);
    }
  }

  const xsuaa = vcap ? xsuaaBinding(vcap, (m, at) => problem('VCAP_SERVICES', m, at)) : undefined;
  const redisUrl = env.REDIS_URL || (vcap ? redisUrlFromVcap(vcap) : undefined);
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) problem('REDIS_URL', `expected a redis:// or rediss:// URL`);
  const storage: StorageSettings = redisUrl
    ? { kind: 'redis', url: redisUrl }
    : { kind: 'sqlite', file: path.resolve(options.cwd, env.ZONEGATE_DATA_DIR ?? '.zonegate', 'zonegate.db') };

  const uaaDomain = (env.UAA_DOMAIN ?? xsuaa?.uaadomain ?? 'auth.localhost').toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(uaaDomain)) problem('UAA_DOMAIN', 'expected a host name without scheme or port, e.g. auth.example.com');

  let sessionTimeoutMinutes: number | undefined;
  if (env.SESSION_TIMEOUT !== undefined) {
    sessionTimeoutMinutes = integer(env.SESSION_TIMEOUT, 15, 1, 60 * 24 * 30);
    if (sessionTimeoutMinutes === undefined) problem('SESSION_TIMEOUT', 'expected a whole number of minutes between 1 and 43200');
  }

  const logLevel = (env.LOG_LEVEL ?? 'info').toLowerCase() as Level;
  if (!LEVELS.includes(logLevel)) problem('LOG_LEVEL', `expected one of ${LEVELS.join(', ')}`);

  const shutdownTimeoutMs = integer(env.SHUTDOWN_TIMEOUT_MS, 10_000, 0, 600_000);
  if (shutdownTimeoutMs === undefined) problem('SHUTDOWN_TIMEOUT_MS', 'expected milliseconds between 0 and 600000');

  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({
    port: port!,
    host: env.HOST || undefined,
    tenantHostPattern,
    trustedProxies: trusted as TrustedProxies,
    destinations: Object.freeze(destinations),
    storage,
    xsuaa,
    uaaDomain,
    sessionTimeoutMinutes,
    logLevel,
    shutdownTimeoutMs: shutdownTimeoutMs!,
  });
}

function integer(text: string | undefined, fallback: number, min: number, max: number): number | undefined {
  if (text === undefined || text === '') return fallback;
  if (!/^\d+$/.test(text.trim())) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

function bindingsOf(vcap: Record<string, unknown>, label: (l: string) => boolean): { index: string; binding: Record<string, unknown> }[] {
  const found: { index: string; binding: Record<string, unknown> }[] = [];
  for (const [name, list] of Object.entries(vcap)) {
    if (!label(name) || !Array.isArray(list)) continue;
    list.forEach((binding, i) => {
      if (typeof binding === 'object' && binding !== null) found.push({ index: `/${name}/${i}`, binding: binding as Record<string, unknown> });
    });
  }
  return found;
}

/** The first `xsuaa` binding's credentials (SAP's approuter takes the one with plan application). */
function xsuaaBinding(vcap: Record<string, unknown>, problem: (message: string, at: string) => void): XsuaaCredentials | undefined {
  const [first] = bindingsOf(vcap, (l) => l === 'xsuaa');
  if (!first) return undefined;
  const credentials = first.binding.credentials as Record<string, unknown> | undefined;
  const required = ['clientid', 'clientsecret', 'url', 'uaadomain', 'xsappname'] as const;
  const missing = required.filter((k) => typeof credentials?.[k] !== 'string' || credentials[k] === '');
  if (missing.length) {
    problem(`the xsuaa binding's credentials lack ${missing.join(', ')}`, `${first.index}/credentials`);
    return undefined;
  }
  const c = credentials as Record<string, string>;
  return {
    clientid: c.clientid!,
    clientsecret: c.clientsecret!,
    url: c.url!,
    uaadomain: c.uaadomain!,
    xsappname: c.xsappname!,
    identityzone: c.identityzone,
    tenantid: c.tenantid,
    tenantmode: c.tenantmode,
  };
}
