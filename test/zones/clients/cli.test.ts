/**
 * `zonegate clients ...` as the compiled command runs it (issue 14), against the records database of
 * ZONEGATE_DATA_DIR with the application registered as a start would have: a secret is printed once,
 * never listed, and stored only sealed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/records/migrate.js';
import { openSqliteRecords } from '../../../src/records/sqlite.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import { runCli } from '../../support/cli.js';
import { securityFor } from '../directory/fixtures.js';

const KEY = 'cd'.repeat(32);
let dir: string;
let env: Record<string, string>;
const zonegate = (...args: string[]) => runCli(['clients', ...args], { cwd: dir, env });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zonegate-clients-cli-'));
  env = { PATH: process.env.PATH ?? '', ZONEGATE_DATA_DIR: join(dir, 'data'), ZONEGATE_SECRET_KEY: KEY };
  // What a start against this data directory leaves: the records database with the application.
  const { mkdirSync } = await import('node:fs');
  mkdirSync(env.ZONEGATE_DATA_DIR!, { recursive: true, mode: 0o700 });
  const records = openSqliteRecords({ file: join(env.ZONEGATE_DATA_DIR!, 'records.db') });
  await migrate(records);
  const directory = createZoneDirectory(records, { secretKey: Buffer.from(KEY, 'hex') });
  const zone = await directory.createZone({ subdomain: 'provider' });
  await directory.registerApplication(securityFor('myapp'), zone.id);
  await records.close();
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('zonegate clients', () => {
  it('create prints the secret once; list never shows it; the database holds it only sealed', async () => {
    const created = await zonegate('create', 'partner', '--name', 'Partner server', '--grant-type', 'client_credentials', '--authority', '$XSAPPNAME.Callback');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const secret = /Client secret: (\S+)/.exec(created.stdout)?.[1];
    expect(created.stdout).toContain('Created confidential client partner of myapp');
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const listed = await zonegate('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/partner\s+myapp\s+confidential\s+client_credentials\s+subscribed\s+api/);
    expect(listed.stdout).not.toContain(secret!);
    expect((await zonegate('list', '--json')).stdout).not.toContain(secret!);
    expect(readFileSync(join(env.ZONEGATE_DATA_DIR!, 'records.db')).includes(Buffer.from(secret!))).toBe(false);
  }, 60_000);

  it('create names every problem and exits 1; a public client gets no secret', async () => {
    const bad = await zonegate('create', 'sb-x', '--public', '--grant-type', 'password', '--redirect-uri-regex', '.*');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('client_id: "sb-x" starts with "sb-"');
    expect(bad.stderr).toContain('authorized_grant_types/0: a public client');
    expect(bad.stderr).toContain('redirect_uri_regex/0: expected the scheme');
    const spa = await zonegate('create', 'spa', '--public', '--redirect-uri', 'https://spa.example.com/callback');
    expect(spa.code).toBe(0);
    expect(spa.stdout).toBe('Created public client spa of myapp\n');
  }, 60_000);

  it('rotate-secret prints the new secret and how long the old one works; delete removes; usage errors exit 2', async () => {
    const rotated = await zonegate('rotate-secret', 'partner', '--grace', '600');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/Client secret: \S{43}\n/);
    expect(rotated.stdout).toMatch(/The previous secret works until \d{4}-/);
    expect((await zonegate('rotate-secret', 'partner', '--delete-previous')).stdout).toBe('The previous secret of partner no longer works.\n');
    expect((await zonegate('rotate-secret', 'spa')).code).toBe(1);
    expect((await zonegate('delete', 'partner')).stdout).toBe('Deleted client partner of myapp\n');
    const again = await zonegate('delete', 'partner');
    expect(again).toMatchObject({ code: 1, stderr: 'zonegate: No client "partner"\n' });
    expect((await zonegate('frob')).code).toBe(2);
    expect((await zonegate('create')).code).toBe(2);
  }, 60_000);
});
