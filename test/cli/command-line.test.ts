import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteRecords } from '../../src/records/sqlite.js';
import { createZoneDirectory } from '../../src/zones/directory/directory.js';
import { CLI, runCli } from '../support/cli.js';

/**
 * The compiled `zonegate` command, spawned: --version, help on every command before anything is
 * read or opened, usage errors, and the password of `users create` from stdin, a prompt on a real
 * pseudo-terminal (util-linux `script`), or argv with a warning. Build first (`npm run build`).
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

let cwd: string;
let dataDir: string;
let env: Record<string, string>;

beforeAll(() => {
  expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-command-line-'));
  dataDir = path.join(cwd, 'data');
  env = { PATH: process.env.PATH ?? '', ZONEGATE_DATA_DIR: dataDir, ZONEGATE_SECRET_KEY: 'ab'.repeat(32) };
});
afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));

const run = (args: string[], extra: { env?: Record<string, string>; input?: string } = {}) =>
  runCli(args, { cwd, env: { ...env, ...extra.env }, ...(extra.input !== undefined ? { input: extra.input } : {}) });

/** For the tests that run the command a dozen times and more: each start takes seconds on a loaded 2-core machine. */
const SPAWNS_TIMEOUT = 120_000;

/** No stack trace: no "    at fn (file:line)" frames, no error class names. */
const NO_TRACE = /^\s+at |TypeError|ERR_PARSE_ARGS/m;

describe('zonegate --version', () => {
  it('prints package.json\'s version and exits 0, as --version, -v and version', async () => {
    for (const args of [['--version'], ['-v'], ['version']]) {
      expect(await run(args), args.join(' ')).toEqual({ code: 0, stdout: `${PACKAGE.version}\n`, stderr: '' });
    }
  });
});

describe('help on every command', () => {
  it('prints the command\'s own usage and exits 0 without reading the configuration or opening a store', async () => {
    // Nothing here could be opened: no data directory (it would be created), no secret key (it would
    // be generated with a warning), a PostgreSQL nobody listens on, a routes.json that is not JSON.
    const nothing = path.join(cwd, 'never-created');
    fs.writeFileSync(path.join(cwd, 'routes.json'), '{ not json');
    const helpEnv = { ZONEGATE_DATA_DIR: nothing, ZONEGATE_SECRET_KEY: '', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none', REDIS_URL: 'redis://127.0.0.1:1' };
    try {
      for (const [args, usage] of [
        [['start', '--help'], 'Usage: zonegate start [--routes FILE] [--security FILE]'],
        [['check-config', '-h'], 'Usage: zonegate check-config'],
        [['demo', '--help'], 'Usage: zonegate demo [--check]'],
        [['zones', '--help'], '  zonegate zones create <subdomain>'],
        [['zones', 'start', '--help'], 'Usage: zonegate zones start [--security FILE]'],
        [['zones', 'registry-client', '-h'], 'Usage: zonegate zones registry-client'],
        [['zones', 'create', '--help'], 'Usage: zonegate zones create <subdomain> [--id ID] [--name NAME]'],
        [['zones', 'delete', 'acme', '--help'], 'Usage: zonegate zones delete <subdomain|id>'],
        [['users', 'create', '--help'], 'Usage: zonegate users create <subdomain> <username> --email E [--password-stdin]'],
        // Help wins over what else is wrong, as with git and docker.
        [['users', 'create', 'acme', '--colour', 'red', '-h'], 'Usage: zonegate users create'],
        [['users', 'list', '-h'], 'Usage: zonegate users list <subdomain> [--json]'],
        [['users', 'help'], '  zonegate users invite <subdomain> <username>'],
        [['tenants', '--help'], '  zonegate tenants subscribe <subdomain>'],
        [['tenants', 'subscribe', '--help'], 'Usage: zonegate tenants subscribe <subdomain> [--id GUID]'],
        [['keys', 'rotate', '--help'], 'Usage: zonegate keys rotate [--zone SUBDOMAIN]'],
        [['db', 'import', '--help'], 'Usage: zonegate db import [--from'],
        [['events', 'redrive', '--help'], 'Usage: zonegate events redrive <delivery-id> | --all'],
        [['help', 'users', 'create'], 'Usage: zonegate users create'],
        [['help'], 'Usage: zonegate <command> [options]'],
      ] as const) {
        const result = await run([...args], { env: helpEnv });
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
        expect(result.stderr, args.join(' ')).toBe('');
        expect(result.stdout, args.join(' ')).toContain(usage);
      }
      expect(fs.existsSync(nothing)).toBe(false);
    } finally {
      fs.rmSync(path.join(cwd, 'routes.json'));
    }
  }, SPAWNS_TIMEOUT);

  it('lists --version, --password-stdin and per-command help in the main help', async () => {
    const { stdout } = await run(['--help']);
    expect(stdout).toContain('-v, --version');
    expect(stdout).toContain('--password-stdin');
    expect(stdout).toContain('help [COMMAND]');
  });
});

describe('usage errors', () => {
  it('say in one line what is missing or unknown, then the usage; exit 2, no stack trace', async () => {
    for (const [args, first] of [
      [[], 'zonegate: missing command (start, check-config, demo, zones, users, idps, role-mappings, clients, tenants, platforms, relay, events, keys, db, apps, version, help)'],
      [['frobnicate'], "zonegate: unknown command 'frobnicate'"],
      [['zones'], 'zonegate zones: missing subcommand (start, registry-client, create, list, delete, admin-client)'],
      [['users'], 'zonegate users: missing subcommand (create, list, assign, unassign, invite, delete)'],
      [['tenants'], 'zonegate tenants: missing subcommand (subscribe, unsubscribe, list, config)'],
      [['db'], 'zonegate db: missing subcommand (migrate, status, import)'],
      [['platforms'], 'zonegate platforms: missing subcommand (add, list, remove)'],
      [['relay', 'rename'], "zonegate relay: unknown subcommand 'rename' (add, list, remove)"],
      [['keys'], 'zonegate keys: missing subcommand (rotate)'],
      [['zones', 'rename', 'a'], "zonegate zones: unknown subcommand 'rename' (start, registry-client, create, list, delete, admin-client)"],
      [['start', '--bogus'], "zonegate start: unknown option '--bogus'"],
      [['start', 'extra'], "zonegate start: unexpected argument 'extra'"],
      [['zones', 'start', '--port', '1'], "zonegate zones start: unknown option '--port'"],
      [['zones', 'create'], 'zonegate zones create: missing <subdomain>'],
      [['users', 'assign', 'acme', 'bob'], 'zonegate users assign: missing <role collection>'],
      [['users', 'create', 'acme', 'bob', '--password-stdin'], 'zonegate users create: needs --email'],
      [['keys', 'rotate', '--zone'], "zonegate keys rotate: option '--zone <value>' argument missing"],
    ] as const) {
      const result = await run([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout, args.join(' ')).toBe('');
      expect(result.stderr.split('\n')[0], args.join(' ')).toBe(first);
      expect(result.stderr.split('\n')[1], args.join(' ')).toMatch(/^Usage:/);
      expect(result.stderr, args.join(' ')).not.toMatch(NO_TRACE);
    }
    expect(fs.existsSync(dataDir)).toBe(false);
  }, SPAWNS_TIMEOUT);
});

/** Whether `password` logs `userName` in to zone `subdomain`, checked in the records database the command wrote. */
async function logsIn(subdomain: string, userName: string, password: string): Promise<boolean> {
  const records = openSqliteRecords({ file: path.join(dataDir, 'records.db') });
  try {
    const directory = createZoneDirectory(records);
    const zone = await directory.getZoneBySubdomain(subdomain);
    return (await directory.verifyPassword(zone!.id, userName, password)) !== undefined;
  } finally {
    await records.close();
  }
}

describe('users create: the password', () => {
  beforeAll(async () => {
    const zone = await run(['zones', 'create', 'acme']);
    expect(zone.code, zone.stderr).toBe(0);
  });

  it('--password-stdin reads it from the first line of stdin; it is never printed', async () => {
    const password = 'Piped-Secret-17';
    const created = await run(['users', 'create', 'acme', 'bob', '--email', 'bob@example.com', '--password-stdin'], { input: `${password}\nnot this line\n` });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^Created user bob in zone acme/);
    expect(created.stdout + created.stderr).not.toContain(password);
    expect(await logsIn('acme', 'bob', password)).toBe(true);
    expect(await logsIn('acme', 'bob', `${password}\nnot this line`)).toBe(false);
  });

  it('--password-stdin with nothing piped, or with --password too, is a usage error', async () => {
    const empty = await run(['users', 'create', 'acme', 'eve', '--email', 'eve@example.com', '--password-stdin'], { input: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr.split('\n')[0]).toBe('zonegate users create: no password on stdin (--password-stdin reads one line)');
    const both = await run(['users', 'create', 'acme', 'eve', '--email', 'eve@example.com', '--password', 'x-y-z-12345', '--password-stdin'], { input: 'a\n' });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--password and --password-stdin exclude each other');
    expect((await run(['users', 'list', 'acme'])).stdout).not.toContain('eve');
  });

  it('without --password or --password-stdin and no terminal to ask on: exit 2, saying how to give it, nothing created', async () => {
    const result = await run(['users', 'create', 'acme', 'carol', '--email', 'carol@example.com']);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe('zonegate users create: no password: pipe it with --password-stdin, or run the command in a terminal to be asked');
    expect(result.stderr).toContain('Usage: zonegate users create');
    expect((await run(['users', 'list', 'acme'])).stdout).not.toContain('carol');
  });

  it('--password still works, with a warning on stderr that argv is readable by other users', async () => {
    const password = 'Argv-Secret-23';
    const result = await run(['users', 'create', 'acme', 'dave', '--email', 'dave@example.com', '--password', password]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('zonegate: warning: a password on the command line can be read by other users (ps) and stays in shell history');
    expect(result.stdout + result.stderr).not.toContain(password);
    expect(await logsIn('acme', 'dave', password)).toBe(true);
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;

  /**
   * `zonegate users create ...` on a pseudo-terminal: util-linux `script` runs it with its stdin a
   * terminal and copies ours to it. Each answer is typed once its prompt is shown, as a person
   * would (typed earlier, the terminal itself would echo it before the prompt turned echo off).
   */
  async function onTerminal(args: string[], answers: string[]): Promise<{ code: number | null; output: string }> {
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, CLI, ...args].map(quote).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd, env: { ...env, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let typed = 0;
    const prompts = [/Password for \S+ in zone \S+: $/, /Repeat it: $/];
    child.stdout.on('data', (d: Buffer) => {
      output += d;
      if (typed < answers.length && prompts[typed]!.test(output)) child.stdin.write(`${answers[typed++]}\r`);
    });
    child.stderr.on('data', (d: Buffer) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code] = await once(child, 'close');
    clearTimeout(timer);
    return { code: code as number | null, output };
  }

  it('on a terminal, asks twice without echoing it', async () => {
    expect(hasScript, 'util-linux script (Debian bsdutils; .ci/run installs it) runs the command on a terminal').toBe(true);
    const password = 'Typed-Secret-31';
    const result = await onTerminal(['users', 'create', 'acme', 'frank', '--email', 'frank@example.com'], [password, password]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/^Password for frank in zone acme: \r?\nRepeat it: \r?\nCreated user frank in zone acme/);
    expect(result.output).not.toContain(password);
    expect(await logsIn('acme', 'frank', password)).toBe(true);
  });

  it('on a terminal, two different answers create nothing (exit 2)', async () => {
    expect(hasScript, 'util-linux script (Debian bsdutils; .ci/run installs it) runs the command on a terminal').toBe(true);
    const result = await onTerminal(['users', 'create', 'acme', 'gina', '--email', 'gina@example.com'], ['Typed-Secret-41', 'Typed-Secret-42']);
    expect(result.code, result.output).toBe(2);
    expect(result.output).toContain('zonegate users create: the passwords do not match');
    expect(result.output).not.toContain('Typed-Secret-4');
    expect((await run(['users', 'list', 'acme'])).stdout).not.toContain('gina');
  });
});
