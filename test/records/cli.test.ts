import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { DB_USAGE, parseDbCommand, PENDING_EXIT_CODE, runDbCommand, type DbCommand } from '../../src/records/cli.js';
import type { RecordsConfig } from '../../src/records/index.js';
import { MIGRATIONS, type Migration } from '../../src/records/schema.js';
import { runCli } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-db-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const migrations: readonly Migration[] = [
  { version: 1, name: 'notes', statements: ['CREATE TABLE notes (id TEXT PRIMARY KEY)'] },
  { version: 2, name: 'note text', statements: ['ALTER TABLE notes ADD COLUMN body TEXT'] },
];

async function db(command: DbCommand, records: RecordsConfig, schema = migrations): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDbCommand(command, { records, migrations: schema, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('zonegate db (in process, with a schema of its own)', () => {
  const file = path.join(dir, 'records.db');
  const records: RecordsConfig = { kind: 'sqlite', file };

  it('status lists what is pending and exits 3; migrate applies it; then both say up to date', async () => {
    const before = await db('status', records);
    expect(before).toEqual({
      code: PENDING_EXIT_CODE,
      out: [`Records database ${file} (ZONEGATE_DATA_DIR)`, 'Applied: none', 'Pending:', '  1 notes', '  2 note text', '2 migrations pending: run `zonegate db migrate` (start-up applies them too).'].join('\n'),
      err: '',
    });
    expect(await db('migrate', records)).toEqual({
      code: 0,
      out: [`Records database ${file} (ZONEGATE_DATA_DIR)`, 'Applied 1 notes', 'Applied 2 note text', 'Up to date now: schema version 2.'].join('\n'),
      err: '',
    });
    expect(await db('migrate', records)).toMatchObject({ code: 0, out: `Records database ${file} (ZONEGATE_DATA_DIR)\nUp to date: schema version 2.` });
    const after = await db('status', records);
    expect(after.code).toBe(0);
    expect(after.out).toMatch(/^Applied:\n {2}1 notes {2}\d{4}-\d\d-\d\dT[\d:.]+Z\n {2}2 note text {2}\d{4}-/m);
    expect(after.out).toMatch(/Pending: none\nUp to date: schema version 2\.$/);
  });

  it('refuses, exit 1, a database migrated by a newer zonegate', async () => {
    const older = migrations.slice(0, 1);
    const status = await db('status', records, older);
    expect(status.code).toBe(1);
    expect(status.out).toContain('  2 note text');
    expect(status.out).toContain('(unknown to this zonegate)');
    expect(status.err).toBe('zonegate: the records database has schema version 2, newer than this zonegate knows (1): run the newer version, or restore a backup');
    const migrate = await db('migrate', records, older);
    expect(migrate).toEqual({
      code: 1,
      out: '',
      err: `zonegate: cannot migrate the records database ${file} (ZONEGATE_DATA_DIR): the records database has schema version 2, newer than this zonegate knows (1): run the newer version, or restore a backup`,
    });
  });

  it('says in one line, exit 1, when the database cannot be reached, without the password', async () => {
    const port = await freePort();
    const result = await db('status', { kind: 'postgres', connectionString: `postgres://zonegate:s3cret@127.0.0.1:${port}/records` });
    expect(result).toEqual({
      code: 1,
      out: '',
      err: `zonegate: cannot open the records database at postgres://***:***@127.0.0.1:${port}/records: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });

  it('parses its command: help, or a usage error naming the problem with the usage', () => {
    for (const [args, expected] of [
      [['migrate'], 'migrate'],
      [['status'], 'status'],
      [['import'], { name: 'import' }],
      [['import', '--from', 'redis://127.0.0.1:6380/2'], { name: 'import', from: 'redis://127.0.0.1:6380/2' }],
      [['import', '--from=/data/zonegate.db'], { name: 'import', from: '/data/zonegate.db' }],
    ] as const) {
      expect(parseDbCommand(args)).toEqual(expected);
    }
    expect(parseDbCommand(['--help'])).toEqual({ help: DB_USAGE });
    expect(parseDbCommand(['status', '-h'])).toEqual({ help: expect.stringMatching(/^Usage: zonegate db status\n\n.*exits 3 when any are pending/) });
    expect(parseDbCommand(['import', '--bogus', '-h'])).toEqual({ help: expect.stringMatching(/^Usage: zonegate db import \[--from /) });
    for (const [args, message] of [
      [[], 'zonegate db: missing subcommand (migrate, status, import)'],
      [['export'], "zonegate db: unknown subcommand 'export' (migrate, status, import)"],
      [['import', '--from'], "zonegate db import: option '--from <value>' argument missing"],
      [['import', '--from='], 'zonegate db import: --from needs a redis:// URL or a file'],
      [['import', '--form', 'x'], "zonegate db import: unknown option '--form'"],
      [['import', 'x.db'], "zonegate db import: unexpected argument 'x.db'"],
      [['status', 'extra'], "zonegate db status: unexpected argument 'extra'"],
    ] as const) {
      let thrown: unknown;
      try {
        parseDbCommand(args);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, args.join(' ')).toBeInstanceOf(UsageError);
      expect((thrown as UsageError).message).toBe(message);
      expect((thrown as UsageError).usage).toMatch(/^Usage:/);
    }
  });
});

describe('zonegate db (the command)', () => {
  let server: PostgresServerHandle;
  beforeAll(async () => {
    server = await startPostgresServer();
  }, 120_000);
  afterAll(async () => {
    await server?.dispose();
  });
  const env = (extra: Record<string, string>) => ({ PATH: process.env.PATH ?? '', ...extra });
  // The build's own schema: whatever it holds, a fresh database has all of it pending.
  const pendingCode = MIGRATIONS.length > 0 ? PENDING_EXIT_CODE : 0;

  it('is in the help, with its exit codes', async () => {
    const help = await runCli(['--help'], { cwd: dir, env: env({}) });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('zonegate db migrate');
    expect(help.stdout).toContain(`exits ${PENDING_EXIT_CODE} when any are`);
    expect(help.stdout).toContain('DATABASE_URL');
    const own = await runCli(['db', '--help'], { cwd: dir, env: env({}) });
    expect(own).toMatchObject({ code: 0, stdout: `${DB_USAGE}\n` });
    expect((await runCli(['db'], { cwd: dir, env: env({}) })).code).toBe(2);
  });

  it('migrates the SQLite records of ZONEGATE_DATA_DIR', async () => {
    const data = path.join(dir, 'data');
    const file = path.join(data, 'records.db');
    const first = await runCli(['db', 'status'], { cwd: dir, env: env({ ZONEGATE_DATA_DIR: data }) });
    expect(first.code, first.stderr).toBe(pendingCode);
    expect(first.stdout).toContain(`Records database ${file} (ZONEGATE_DATA_DIR)`);
    const migrate = await runCli(['db', 'migrate'], { cwd: dir, env: env({ ZONEGATE_DATA_DIR: data }) });
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/Up to date( now)?: /);
    const status = await runCli(['db', 'status'], { cwd: dir, env: env({ ZONEGATE_DATA_DIR: data }) });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/Pending: none\nUp to date: /);
  });

  it('migrates PostgreSQL of DATABASE_URL', async () => {
    const url = await server.createDatabase('cli');
    const vars = env({ DATABASE_URL: url, ZONEGATE_SECRET_KEY: 'a'.repeat(64) });
    expect((await runCli(['db', 'status'], { cwd: dir, env: vars })).code).toBe(pendingCode);
    const migrate = await runCli(['db', 'migrate'], { cwd: dir, env: vars });
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toContain(`Records database at postgres://***@127.0.0.1:${server.port}/cli`);
    const status = await runCli(['db', 'status'], { cwd: dir, env: vars });
    expect(status.code, status.stderr).toBe(0);
  });

  it('refuses an unusable DATABASE_URL before connecting, naming the variable', async () => {
    const result = await runCli(['db', 'migrate'], { cwd: dir, env: env({ DATABASE_URL: 'mysql://u:s3cret@db/x', ZONEGATE_SECRET_KEY: 'a'.repeat(64) }) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('environment variable DATABASE_URL: expected a postgres:// or postgresql:// URL, got "mysql:"');
    expect(result.stderr).not.toContain('s3cret');
  });
});
