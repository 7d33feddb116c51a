import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSettings, type Environment } from '../../src/config/environment.js';
import type { RecordsConfig } from '../../src/records/index.js';
import { settingsProblems } from './settings-problems.js';

const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-records-config-'));
afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));
const SECRET = { ZONEGATE_SECRET_KEY: 'a'.repeat(64) };
const CA = '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBclient\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEkey\n-----END PRIVATE KEY-----\n';

function recordsOf(env: Environment): RecordsConfig {
  return readSettings({ ...SECRET, ...env }, { cwd }).records;
}

const problemsOf = (env: Environment): string[] => settingsProblems({ ...SECRET, ...env }, cwd);

const vcapOf = (credentials: unknown, label = 'postgresql-db', tags: string[] = ['postgres', 'relational']) => ({
  VCAP_SERVICES: JSON.stringify({ [label]: [{ label, name: 'zonegate-db', plan: 'trial', tags, credentials }] }),
});

describe('records settings', () => {
  it('are SQLite records.db in the data directory by default, beside the key/TTL store', () => {
    const s = readSettings({}, { cwd });
    expect(s.records).toEqual({ kind: 'sqlite', file: path.join(cwd, '.zonegate', 'records.db') });
    expect(s.storage).toEqual({ kind: 'sqlite', file: path.join(cwd, '.zonegate', 'zonegate.db') });
    expect(recordsOf({ ZONEGATE_DATA_DIR: '/var/lib/zonegate' })).toEqual({ kind: 'sqlite', file: '/var/lib/zonegate/records.db' });
    expect(Object.isFrozen(s.records)).toBe(true);
  });

  it('are PostgreSQL from DATABASE_URL, as given (pg reads sslmode and sslrootcert itself)', () => {
    const ca = path.join(cwd, 'ca.pem');
    fs.writeFileSync(ca, CA);
    for (const url of [
      'postgres://zonegate:s3cret@db.example.com:5432/zonegate',
      'postgresql://db.example.com/zonegate?sslmode=require',
      `postgres://u:p@db.example.com/zonegate?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`,
      'postgres:///zonegate?host=/var/run/postgresql',
    ]) {
      expect(recordsOf({ DATABASE_URL: url })).toEqual({ kind: 'postgres', connectionString: url });
    }
  });

  it('refuse an unusable DATABASE_URL by name, saying what is expected, never echoing the password', () => {
    const cases: [string, RegExp][] = [
      ['not a url s3cret', /DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL, e\.g\. postgres:\/\/zonegate:password@db\.example\.com/],
      ['mysql://u:s3cret@db/x', /DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL, got "mysql:"/],
      ['postgres:///x?user=u&password=s3cret', /DATABASE_URL: expected a host/],
      ['postgres://u:s3cret@db/x?sslmode=strict', /DATABASE_URL: sslmode "strict": expected one of disable, allow, prefer, require, verify-ca, verify-full, no-verify/],
      ['postgres://u:s3cret@db/x?sslmode=verify-full&sslrootcert=/no/such/ca.pem', /DATABASE_URL: sslrootcert: cannot read \/no\/such\/ca\.pem: ENOENT/],
    ];
    for (const [url, expected] of cases) {
      const problems = problemsOf({ DATABASE_URL: url });
      expect(problems).toEqual([expect.stringMatching(expected)]);
      expect(problems.join('\n')).not.toContain('s3cret');
    }
  });

  it('need ZONEGATE_SECRET_KEY with PostgreSQL: instances open each other\'s sealed keys', () => {
    expect(settingsProblems({ DATABASE_URL: 'postgres://db.example.com/zonegate' }, cwd)).toEqual([expect.stringMatching(/^environment variable ZONEGATE_SECRET_KEY: required with PostgreSQL \(DATABASE_URL or a PostgreSQL binding\)/)]);
  });
});

describe('records settings from a PostgreSQL binding in VCAP_SERVICES', () => {
  it('take SAP BTP PostgreSQL (postgresql-db) credentials: uri, with TLS verifying the host against sslrootcert', () => {
    const records = recordsOf(
      vcapOf({
        username: 'u1',
        password: 'p1',
        hostname: 'pg-1.rds.amazonaws.com',
        dbname: 'db1',
        port: '2345',
        uri: 'postgres://u1:p1@pg-1.rds.amazonaws.com:2345/db1?sslmode=verify-full',
        sslcert: CERT,
        sslkey: KEY,
        sslrootcert: CA,
      }),
    );
    // TLS lives in `ssl` only: a sslmode left in the URL would override it in pg.
    expect(records).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://u1:p1@pg-1.rds.amazonaws.com:2345/db1',
      ssl: { verify: 'full', ca: CA, cert: CERT, key: KEY },
    });
    expect(Object.isFrozen(records)).toBe(true);
  });

  it('build the URL from hostname, port, dbname, username and password, encoding them', () => {
    expect(recordsOf(vcapOf({ hostname: 'db.internal', port: 5433, dbname: 'my db', username: 'us@r', password: 'p@ss/word' }, 'postgresql', []))).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://us%40r:p%40ss%2Fword@db.internal:5433/my%20db',
    });
  });

  it('find a user-provided service by its tag, and check as libpq does for each sslmode', () => {
    const ups = (credentials: Record<string, unknown>) => recordsOf(vcapOf(credentials, 'user-provided', ['postgresql']));
    const uri = 'postgresql://u:p@db.example.com/app';
    expect(ups({ uri })).toEqual({ kind: 'postgres', connectionString: uri });
    expect(ups({ uri: `${uri}?sslmode=require` })).toEqual({ kind: 'postgres', connectionString: uri, ssl: { verify: 'none' } });
    expect(ups({ uri: `${uri}?sslmode=require`, sslrootcert: CA })).toEqual({ kind: 'postgres', connectionString: uri, ssl: { verify: 'ca', ca: CA } });
    expect(ups({ uri: `${uri}?sslmode=verify-ca`, sslrootcert: CA })).toEqual({ kind: 'postgres', connectionString: uri, ssl: { verify: 'ca', ca: CA } });
    expect(ups({ uri: `${uri}?sslmode=disable`, sslrootcert: CA })).toEqual({ kind: 'postgres', connectionString: uri });
    expect(ups({ uri, sslrootcert: CA })).toEqual({ kind: 'postgres', connectionString: uri, ssl: { verify: 'full', ca: CA } });
    expect(recordsOf(vcapOf({ uri }, 'user-provided', ['mysql']))).toMatchObject({ kind: 'sqlite' });
  });

  it('yield to DATABASE_URL', () => {
    expect(recordsOf({ ...vcapOf({ uri: 'postgres://u:p@bound/db' }), DATABASE_URL: 'postgres://u:p@chosen/db' })).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://u:p@chosen/db',
    });
  });

  it('report a broken binding at its JSON path, every problem, never the password', () => {
    const at = 'environment variable VCAP_SERVICES /postgresql-db/0/credentials';
    expect(problemsOf(vcapOf({ hostname: 'db', password: 's3cret' }))).toEqual([
      `${at}: the PostgreSQL binding's credentials: expected a "uri", or "hostname", "port", "dbname", "username" and "password"`,
    ]);
    expect(problemsOf(vcapOf({ uri: 'https://u:s3cret@db/x' }))).toEqual([`${at}/uri: the PostgreSQL binding's credentials: expected a postgres:// or postgresql:// URL, got "https:"`]);
    expect(problemsOf(vcapOf({ uri: 'postgres://u:s3cret@db/x', sslrootcert: 'not a certificate' }))).toEqual([
      `${at}/sslrootcert: the PostgreSQL binding's credentials: expected "sslrootcert" to hold PEM certificates`,
    ]);
    expect(problemsOf(vcapOf({ uri: 'postgres://u:s3cret@db/x', sslrootcert: CA, sslcert: CERT }))).toEqual([
      `${at}/sslkey: the PostgreSQL binding's credentials: "sslcert" and "sslkey" come together (a client certificate and its key)`,
    ]);
    expect(problemsOf(vcapOf({ uri: 'postgres://u:s3cret@db/x', sslcert: CERT, sslkey: 'nope' }))).toEqual([
      `${at}/sslkey: the PostgreSQL binding's credentials: expected "sslkey" to hold a PEM private key`,
    ]);
    expect(problemsOf(vcapOf('s3cret'))).toEqual([`${at}: the PostgreSQL binding's credentials: expected an object`]);
  });
});
