import fs from 'node:fs';
import path from 'node:path';
import type { PostgresTls, RecordsConfig } from '../records/index.js';
import { caFromCredentials, firstBinding, isRecord, portOf } from './service-bindings.js';

type Problem = (variable: string, message: string, at?: string) => void;
type Environment = Readonly<Record<string, string | undefined>>;

const EXAMPLE = 'postgres://zonegate:password@db.example.com:5432/zonegate?sslmode=verify-full';
// libpq's sslmode values, and pg's `no-verify` (TLS without any certificate check).
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];
const TLS_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl'];

/**
 * Where the records database is (issue 19). Called by readSettings only (one reader of the environment).
 *
 * 1. `DATABASE_URL=postgres://user:password@host:5432/db[?sslmode=verify-full&sslrootcert=/path/ca.pem]`:
 *    PostgreSQL, as libpq and pg read such a URL;
 * 2. else the first PostgreSQL binding in VCAP_SERVICES: label `postgresql-db` (SAP BTP's PostgreSQL,
 *    hyperscaler option) or `postgresql`, or a tag `postgresql`/`postgres` (user-provided services);
 *    credentials `uri` (or `hostname`, `port`, `dbname`, `username`, `password`), `sslrootcert` (PEM CA:
 *    TLS verifying chain and host name), `sslcert`/`sslkey` (client certificate);
 * 3. else the embedded SQLite file `<ZONEGATE_DATA_DIR>/records.db`.
 */
export function readRecordsSettings(env: Environment, vcap: Record<string, unknown> | undefined, dataDir: string, problem: Problem): RecordsConfig {
  if (env.DATABASE_URL) {
    const connectionString = checkDatabaseUrl(env.DATABASE_URL, (message) => problem('DATABASE_URL', message));
    if (connectionString !== undefined) return Object.freeze({ kind: 'postgres', connectionString });
    // Unusable: a problem above, never a silent fall-back to SQLite.
    return Object.freeze({ kind: 'sqlite', file: path.join(dataDir, 'records.db') });
  }
  const binding = vcap ? firstBinding(vcap, isPostgresBinding) : undefined;
  if (binding) {
    const at = (message: string, field = '') => problem('VCAP_SERVICES', `the PostgreSQL binding's credentials: ${message}`, `${binding.at}${field}`);
    const config = isRecord(binding.credentials) ? fromCredentials(binding.credentials, at) : at('expected an object');
    if (config) return Object.freeze(config);
  }
  return Object.freeze({ kind: 'sqlite', file: path.join(dataDir, 'records.db') });
}

function isPostgresBinding(label: string, tags: readonly string[]): boolean {
  return /^postgresql(-db)?$/i.test(label) || tags.some((t) => /^postgres(ql)?$/i.test(t));
}

/** The URL as given when pg can use it; the message never repeats it (it holds the password). */
function checkDatabaseUrl(text: string, problem: (message: string) => void): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problem(`expected a postgres:// or postgresql:// URL, e.g. ${EXAMPLE}`);
    return undefined;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    problem(`expected a postgres:// or postgresql:// URL, got "${url.protocol}" (without DATABASE_URL the records are in SQLite, <ZONEGATE_DATA_DIR>/records.db)`);
    return undefined;
  }
  // A unix socket directory may be given as ?host=/var/run/postgresql instead.
  if (!url.hostname && !url.searchParams.get('host')) {
    problem(`expected a host, e.g. ${EXAMPLE}`);
    return undefined;
  }
  let usable = true;
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) {
    problem(`sslmode "${sslmode}": expected one of ${SSL_MODES.join(', ')}`);
    usable = false;
  }
  // pg reads these files when it connects: a missing one would only show at the first login.
  for (const name of ['sslrootcert', 'sslcert', 'sslkey']) {
    const file = url.searchParams.get(name);
    if (file === null) continue;
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      problem(`${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      usable = false;
    }
  }
  return usable ? text : undefined;
}

function fromCredentials(c: Record<string, unknown>, problem: (message: string, field?: string) => void): RecordsConfig | undefined {
  let url: URL;
  const uri = c['uri'] ?? c['url'];
  if (typeof uri === 'string' && uri !== '') {
    try {
      url = new URL(uri);
    } catch {
      problem('expected a postgres:// or postgresql:// URL', '/uri');
      return undefined;
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      problem(`expected a postgres:// or postgresql:// URL, got "${url.protocol}"`, '/uri');
      return undefined;
    }
  } else {
    const host = c['hostname'] ?? c['host'];
    const port = c['port'] === undefined ? 5432 : portOf(c['port']);
    const database = c['dbname'] ?? c['database'];
    const user = c['username'] ?? c['user'];
    const password = c['password'];
    if (typeof host !== 'string' || host === '' || port === undefined || typeof database !== 'string' || database === '' || typeof user !== 'string' || user === '') {
      problem('expected a "uri", or "hostname", "port", "dbname", "username" and "password"');
      return undefined;
    }
    url = new URL(`postgres://${host.includes(':') ? `[${host}]` : host}:${port}/${encodeURIComponent(database)}`);
    url.username = encodeURIComponent(user);
    if (typeof password === 'string') url.password = encodeURIComponent(password);
  }

  // TLS is said by the credentials and the `ssl` option, not by URL parameters that would override it.
  const sslmode = url.searchParams.get('sslmode') ?? (typeof c['sslmode'] === 'string' ? c['sslmode'] : undefined);
  for (const name of TLS_PARAMETERS) url.searchParams.delete(name);
  if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) {
    problem(`sslmode "${sslmode}": expected one of ${SSL_MODES.join(', ')}`, '/uri');
    return undefined;
  }
  const ca = caFromCredentials(c);
  if (typeof ca === 'object') {
    problem(ca.problem, ca.field);
    return undefined;
  }
  const cert = pemField(c, 'sslcert', 'CERTIFICATE', problem);
  const key = pemField(c, 'sslkey', 'PRIVATE KEY', problem);
  if (cert === null || key === null) return undefined;
  if ((cert === undefined) !== (key === undefined)) {
    problem('"sslcert" and "sslkey" come together (a client certificate and its key)', cert === undefined ? '/sslcert' : '/sslkey');
    return undefined;
  }
  const verify = verifyLevel(sslmode, ca !== undefined);
  const ssl: PostgresTls | undefined =
    verify === undefined ? undefined : Object.freeze({ verify, ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert, key } : {}) });
  return { kind: 'postgres', connectionString: url.href, ...(ssl ? { ssl } : {}) };
}

/**
 * TLS on when a CA is given or sslmode asks for it; how much is checked as libpq does: require with a
 * CA checks the chain (verify-ca), without one nothing. undefined: no TLS.
 */
function verifyLevel(sslmode: string | undefined, hasCa: boolean): PostgresTls['verify'] | undefined {
  switch (sslmode) {
    case 'disable':
      return undefined;
    case 'verify-full':
      return 'full';
    case 'verify-ca':
      return 'ca';
    case 'require':
      return hasCa ? 'ca' : 'none';
    case 'no-verify':
      return 'none';
    default:
      // unset, allow, prefer: TLS with a CA to check against (a binding's sslrootcert).
      return hasCa ? 'full' : undefined;
  }
}

/** A PEM field of the credentials; undefined when absent, null when wrong (reported). */
function pemField(c: Record<string, unknown>, field: string, label: string, problem: (message: string, field?: string) => void): string | undefined | null {
  const value = c[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !value.includes(`-----BEGIN `) || !value.includes(`${label}-----`)) {
    problem(`expected "${field}" to hold a PEM ${label.toLowerCase()}`, `/${field}`);
    return null;
  }
  return value;
}
