import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_INCOMPLETE_EXIT_CODE } from '../../src/records/cli.js';
import { MIGRATIONS } from '../../src/records/schema.js';
import { openRedisStorage } from '../../src/storage/redis.js';
import { DEFAULT_REDIS_KEY_PREFIX } from '../../src/storage/index.js';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/types.js';
import { runCli } from '../support/cli.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { ALICE_PASSWORD, writeOldKeyspace, type OldKeyspace } from './legacy/keyspace.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-import-cli-'));
const secretKey = new Uint8Array(randomBytes(32));
const env = (extra: Record<string, string>) => ({ PATH: process.env.PATH ?? '', ZONEGATE_SECRET_KEY: Buffer.from(secretKey).toString('hex'), ...extra });

let postgres: PostgresServerHandle;
let redis: RedisServerHandle;
beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgresServer(), startRedisServer()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([postgres?.dispose(), redis?.dispose()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function written(storage: Storage): Promise<OldKeyspace> {
  try {
    return await writeOldKeyspace(storage, secretKey);
  } finally {
    await storage.close();
  }
}

/** Nothing secret in what the command prints: no client secret, password, hash or key. */
function expectNoSecrets(text: string, old: OldKeyspace): void {
  for (const secret of [old.shop.clientSecret, old.legacy.clientSecret, old.admin.clientSecret, ALICE_PASSWORD, 'scrypt', 'PRIVATE KEY', Buffer.from(secretKey).toString('hex')]) {
    expect(text).not.toContain(secret);
  }
}

describe('zonegate db import (the command)', () => {
  const data = path.join(dir, 'data');
  const store = path.join(data, 'zonegate.db');
  let fromSqlite: OldKeyspace;

  it('copies the SQLite store of ZONEGATE_DATA_DIR into its records database, and reports it', async () => {
    fromSqlite = await written(openSqliteStorage({ file: store }));
    const first = await runCli(['db', 'import'], { cwd: dir, env: env({ ZONEGATE_DATA_DIR: data }) });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe(
      [
        `Importing from the SQLite store ${store} into the records database ${path.join(data, 'records.db')} (ZONEGATE_DATA_DIR)`,
        // Every migration of this build, in order (a new one adds its line).
        ...MIGRATIONS.map((m) => `Applied ${m.version} ${m.name}`),
        '                    copied  already present  conflicts',
        '  zones                  3                0          0',
        '  users                  2                0          0',
        '  role collections       1                0          0',
        '  applications           3                0          0',
        '  subscriptions          1                0          0',
        '  signing keys           3                0          0',
        '  tenants                1                0          0',
        'Instance numbers: the next application registered gets !t4.',
        'Copied 14 records, 0 already present, 0 conflicts.',
        'Nothing left behind: running it again copies nothing.',
        'The store was only read: once the gateway runs on the records database, delete its dir:*, zkeys:* and prov:tenant:* keys yourself.',
        '',
      ].join('\n'),
    );
    expectNoSecrets(first.stdout, fromSqlite);

    const second = await runCli(['db', 'import'], { cwd: dir, env: env({ ZONEGATE_DATA_DIR: data }) });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('  users                  0                2          0\n');
    expect(second.stdout).toContain('Copied 0 records, 14 already present, 0 conflicts.\n');
    expect(second.stdout).not.toContain('Applied');
  });

  it('reads Redis with --from into PostgreSQL of DATABASE_URL; a second store with other records conflicts, exit 4', async () => {
    const fromRedis = await written(await openRedisStorage({ url: redis.url, keyPrefix: DEFAULT_REDIS_KEY_PREFIX }));
    const url = await postgres.createDatabase('imported');
    const vars = env({ DATABASE_URL: url, ZONEGATE_DATA_DIR: path.join(dir, 'pg-data') });
    const result = await runCli(['db', 'import', '--from', redis.url], { cwd: dir, env: vars });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Importing from Redis at ${redis.url} into the records database at postgres://***@127.0.0.1:${postgres.port}/imported\n`);
    expect(result.stdout).toContain('Copied 14 records, 0 already present, 0 conflicts.\n');
    expectNoSecrets(result.stdout, fromRedis);

    // The SQLite store holds the same zone ids and application names with other secrets and dates.
    const clash = await runCli(['db', 'import', '--from', store], { cwd: dir, env: vars });
    expect(clash.code, clash.stderr).toBe(IMPORT_INCOMPLETE_EXIT_CODE);
    expect(clash.stdout).toContain(`Importing from the SQLite store ${store} into`);
    expect(clash.stdout).toContain('Conflicts, not copied (the database keeps its own):\n');
    expect(clash.stdout).toContain(`  application ${fromSqlite.shop.application.instanceName}: the database holds it with other content\n`);
    expect(clash.stdout).toMatch(/Resolve the records above and run `zonegate db import` again/);
    expectNoSecrets(clash.stdout, fromSqlite);
  });

  it('refuses a store file that does not exist (exit 1) and a wrong option (exit 2); db import is in the help', async () => {
    const missing = path.join(dir, 'nowhere', 'zonegate.db');
    const absent = await runCli(['db', 'import', '--from', missing], { cwd: dir, env: env({ ZONEGATE_DATA_DIR: path.join(dir, 'other') }) });
    expect(absent).toMatchObject({ code: 1, stdout: '', stderr: `zonegate: db import: no store at ${missing}: nothing to import\n` });
    expect(fs.existsSync(missing)).toBe(false);
    const unconfigured = await runCli(['db', 'import'], { cwd: dir, env: env({ ZONEGATE_DATA_DIR: path.join(dir, 'fresh') }) });
    expect(unconfigured.code).toBe(1);
    expect(unconfigured.stderr).toContain(`no store at ${path.join(dir, 'fresh', 'zonegate.db')} (ZONEGATE_DATA_DIR): nothing to import`);
    const wrong = await runCli(['db', 'import', '--form', 'x'], { cwd: dir, env: env({}) });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^zonegate db import: unknown option '--form'\nUsage: zonegate db import /);
    const help = await runCli(['--help'], { cwd: dir, env: env({}) });
    expect(help.stdout).toContain('zonegate db import [--from redis://HOST[:PORT][/DB] | --from FILE]');
    expect(help.stdout).toContain(`${IMPORT_INCOMPLETE_EXIT_CODE} (db import) records left behind`);
  });
});
