import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import { runDirectoryCli } from '../../src/zones/cli.js';
import { createZoneDirectory } from '../../src/zones/directory/directory.js';
import { migrate } from '../../src/records/migrate.js';
import { openSqliteRecords } from '../../src/records/sqlite.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { dumpRows } from './directory/directory-contract.js';
import { createKeyStore } from '../../src/zones/keys/keystore.js';
import { createInvitationStore } from '../../src/zones/invitations.js';
import { createMemoryLogger } from '../../src/log.js';
import { FAST_HASHING, securityFor } from './directory/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'zonegate-cli-'));
const file = join(tmp, 'zones.db');
const recordsFile = join(tmp, 'records.db');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fresh handle on the records file, migrated, as the entry point opens it. */
async function openRecords(): Promise<RecordsDatabase> {
  const records = openSqliteRecords({ file: recordsFile });
  await migrate(records);
  return records;
}

/** Runs one command the way the entry point will: fresh storage and records handles on the files, closed afterwards. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const storage = openSqliteStorage({ file });
  const records = await openRecords();
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await runDirectoryCli(argv, {
      storage,
      records,
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      directory: { passwordHashing: FAST_HASHING },
      zoneRemoval: { keys: createKeyStore({ records, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, notices: storage }) },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    await storage.close();
    await records.close();
  }
}

beforeAll(async () => {
  // The application (and so its role collections) is registered by the server at start-up.
  const records = await openRecords();
  const dir = createZoneDirectory(records);
  const provider = await dir.createZone({ subdomain: 'provider' });
  await dir.registerApplication(securityFor('myapp', 'dedicated'), provider.id);
  await records.close();
});

describe('zonegate zones', () => {
  it('creates, lists (text and --json) and deletes zones', async () => {
    const created = await cli('zones', 'create', 'Acme', '--name', 'Acme Inc.', '--id', '6f1c3c2e-9a43-4b0e-8f43-2d3f1b0c7a10');
    expect(created).toMatchObject({ code: 0, err: '' });
    expect(created.out.split('\n')[0]).toBe('Created zone acme (id 6f1c3c2e-9a43-4b0e-8f43-2d3f1b0c7a10)');
    expect((await cli('zones', 'create', 'globex')).code).toBe(0);

    const list = await cli('zones', 'list');
    expect(list.code).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(/^SUBDOMAIN\s+ID\s+NAME\s+APPLICATIONS$/);
    expect(list.out).toMatch(/acme\s+6f1c3c2e-9a43-4b0e-8f43-2d3f1b0c7a10\s+Acme Inc\.\s+- \(zone only\)/);
    expect(list.out).toMatch(/provider\s+\S+\s+provider\s+myapp \(provider\)/);
    const zones = JSON.parse((await cli('zones', 'list', '--json')).out) as { subdomain: string }[];
    expect(zones.map((z) => z.subdomain)).toEqual(['acme', 'globex', 'provider']);

    expect(await cli('zones', 'delete', 'globex')).toMatchObject({ code: 0, out: expect.stringContaining('Deleted zone globex') });
    const again = await cli('zones', 'delete', 'globex');
    expect(again).toMatchObject({ code: 1, err: 'zonegate: No zone with subdomain or id "globex"' });
  });

  it('deletes the signing keys with the zone: re-created with the same id, it signs with a new key (issue 9)', async () => {
    const id = '5d2f7a10-2222-4333-8444-955566667777';
    await cli('zones', 'create', 'reborn', '--id', id);
    const records = await openRecords();
    try {
      const keys = () => createKeyStore({ records, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, cacheMs: 0 });
      const old = await keys().signingKey(id);
      expect((await cli('zones', 'delete', 'reborn')).code).toBe(0);
      expect(await records.all('SELECT kid FROM signing_keys WHERE zone_id = $1', [id])).toEqual([]);
      await cli('zones', 'create', 'reborn', '--id', id);
      expect((await keys().signingKey(id)).kid).not.toBe(old.kid);
      expect(await keys().verificationKey(id, old.kid)).toBeUndefined();
    } finally {
      await records.close();
    }
  });

  it('deletes by id too, and refuses the provider zone of the application', async () => {
    await cli('zones', 'create', 'byid', '--id', '0b5a6e7c-1111-4222-8333-944455556666');
    expect((await cli('zones', 'delete', '0b5a6e7c-1111-4222-8333-944455556666')).code).toBe(0);
    const provider = await cli('zones', 'delete', 'provider');
    expect(provider.code).toBe(1);
    expect(provider.err).toMatch(/provider zone of application myapp!t\d+/);
  });

  it('reports a taken or invalid subdomain clearly with exit code 1', async () => {
    await cli('zones', 'create', 'taken');
    expect(await cli('zones', 'create', 'TAKEN')).toMatchObject({ code: 1, err: 'zonegate: Subdomain "taken" is already taken by another zone' });
    const bad = await cli('zones', 'create', 'no_underscores');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/not a DNS label/);
  });
});

describe('zonegate users', () => {
  it('creates users with role collections, lists, assigns, unassigns and deletes them', async () => {
    await cli('zones', 'create', 'users-zone');
    const password = 'Correct-Horse-42';
    const created = await cli('users', 'create', 'provider', 'Alice', '--email', 'alice@example.com', '--password', password, '--given-name', 'Alice', '--family-name', 'Liddell', '--role-collection', 'myapp_Viewer');
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/^Created user Alice in zone provider \(id [0-9a-f-]{36}\)$/);
    expect(created.out + created.err).not.toContain(password);

    const text = await cli('users', 'list', 'provider');
    expect(text.out).toMatch(/^USERNAME\s+EMAIL\s+ID\s+ROLE COLLECTIONS\n/);
    expect(text.out).toMatch(/Alice\s+alice@example\.com\s+\S+\s+myapp_Viewer/);
    const [alice] = JSON.parse((await cli('users', 'list', 'provider', '--json')).out) as Record<string, unknown>[];
    expect(alice).toMatchObject({ userName: 'Alice', givenName: 'Alice', familyName: 'Liddell', roleCollections: ['myapp_Viewer'] });
    expect(JSON.stringify(alice)).not.toMatch(/password|argon2|scrypt/i);

    expect((await cli('users', 'assign', 'provider', 'alice', 'myapp_Administrator')).out).toBe('Assigned "myapp_Administrator" to Alice; role collections: myapp_Viewer, myapp_Administrator');
    expect((await cli('users', 'unassign', 'provider', 'ALICE', 'myapp_Viewer')).out).toBe('Removed "myapp_Viewer" from Alice; role collections: myapp_Administrator');
    expect(await cli('users', 'unassign', 'provider', 'alice', 'myapp_Viewer')).toMatchObject({ code: 1, err: 'zonegate: Alice does not have "myapp_Viewer"' });
    expect(await cli('users', 'assign', 'provider', 'alice', 'Ghosts')).toMatchObject({ code: 1, err: expect.stringContaining('Role collection not found in the zone: Ghosts') });

    // What the CLI stored is what the server will check at login.
    const records = await openRecords();
    try {
      const dir = createZoneDirectory(records);
      const zone = await dir.getZoneBySubdomain('provider');
      expect((await dir.verifyPassword(zone!.id, 'alice', password))?.roleCollections).toEqual(['myapp_Administrator']);
      expect((await dumpRows(records)).filter((row) => JSON.stringify(row).includes(password))).toEqual([]);
    } finally {
      await records.close();
    }
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.prepare<[string], { n: number }>("SELECT count(*) AS n FROM kv WHERE value LIKE '%' || ? || '%'").get(password)!.n).toBe(0);
    } finally {
      raw.close();
    }

    expect((await cli('users', 'delete', 'provider', 'alice')).out).toBe('Deleted user Alice from zone provider');
    expect(await cli('users', 'delete', 'provider', 'alice')).toMatchObject({ code: 1, err: 'zonegate: No user "alice" in zone provider' });
    expect((await cli('users', 'list', 'provider')).out).toBe('No users in zone provider.');
  });

  it('makes a zone administrator with --role-collection "Zone Administrator" and hands out the admin client', async () => {
    await cli('zones', 'create', 'admins-zone');
    const created = await cli('users', 'create', 'admins-zone', 'boss', '--email', 'boss@example.com', '--password', 'bosses-password', '--role-collection', 'Zone Administrator');
    expect(created).toMatchObject({ code: 0, err: '' });
    expect((await cli('users', 'list', 'admins-zone')).out).toMatch(/boss\s+boss@example\.com\s+\S+\s+Zone Administrator$/m);
    await cli('users', 'create', 'admins-zone', 'deputy', '--email', 'deputy@example.com', '--password', 'deputys-password');
    expect((await cli('users', 'assign', 'admins-zone', 'deputy', 'Zone Administrator')).out).toBe('Assigned "Zone Administrator" to deputy; role collections: Zone Administrator');

    const text = await cli('zones', 'admin-client');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^Client id:\s+zonegate-admin$/m);
    const details = JSON.parse((await cli('zones', 'admin-client', '--json')).out) as { clientid: string; clientsecret: string; grantTypes: string[] };
    expect(details).toMatchObject({ clientid: 'zonegate-admin', grantTypes: ['authorization_code', 'refresh_token'], roleCollection: 'Zone Administrator' });
    expect(text.out).toContain(details.clientsecret);
    // The same client every time, and what it grants the administrator is scim.* of their zone.
    const records = await openRecords();
    try {
      const dir = createZoneDirectory(records);
      expect(await dir.verifyClientSecret('zonegate-admin', details.clientsecret)).toBe(true);
      const { application } = await dir.ensureAdminClient();
      const zone = (await dir.getZoneBySubdomain('admins-zone'))!;
      expect(await dir.userScopes(application, (await dir.getUserByName(zone.id, 'boss'))!)).toEqual(['openid', 'scim.read', 'scim.write']);
    } finally {
      await records.close();
    }
  });

  it('refuses duplicate users, unknown zones and unknown role collections with exit code 1', async () => {
    await cli('users', 'create', 'provider', 'bob', '--email', 'bob@example.com', '--password', 'bobs-password');
    expect((await cli('users', 'create', 'provider', 'BOB', '--email', 'b@example.com', '--password', 'bobs-password')).err).toBe('zonegate: User "BOB" already exists in zone provider');
    expect((await cli('users', 'create', 'nowhere', 'bob', '--email', 'b@example.com', '--password', 'bobs-password')).err).toBe('zonegate: No zone with subdomain "nowhere"');
    const rc = await cli('users', 'create', 'provider', 'carl', '--email', 'c@example.com', '--password', 'carls-password', '--role-collection', 'Nope', '--role-collection', 'Nada');
    expect(rc).toMatchObject({ code: 1, err: 'zonegate: Role collections not found in the zone: Nope, Nada' });
  });

  it('answers usage errors with exit code 2 and the usage text', async () => {
    for (const argv of [
      [],
      ['zones'],
      ['zones', 'rename', 'a', 'b'],
      ['zones', 'create'],
      ['zones', 'create', 'a', 'b'],
      ['zones', 'create', 'a', '--colour', 'red'],
      ['zones', 'list', 'extra'],
      ['zones', 'admin-client', 'extra'],
      ['users', 'create', 'provider', 'dora', '--password', 'dora-password'],
      ['users', 'create', 'provider', 'dora', '--email', 'd@example.com'],
      ['users', 'assign', 'provider', 'dora'],
    ]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toContain('Usage:');
      expect(r.out).toBe('');
    }
    expect((await cli('users', 'create', 'provider', 'dora', '--email', 'd@example.com')).err).toMatch(/^zonegate users create: needs --password\n/);
    expect(await cli('help')).toMatchObject({ code: 0, out: expect.stringContaining('zonegate zones create') });
  });
});

describe('zonegate users invite', () => {
  it('prints a one-time set-password link on the zone host that opens the set-password record; refused without the zones URL', async () => {
    expect((await cli('zones', 'create', 'invitees')).code).toBe(0);
    expect((await cli('users', 'create', 'invitees', 'ivy', '--email', 'ivy@example.com', '--password', 'initial-pass-1')).code).toBe(0);
    const refused = await cli('users', 'invite', 'invitees', 'ivy');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('public URL');

    const storage = openSqliteStorage({ file });
    const records = await openRecords();
    const out: string[] = [];
    try {
      const code = await runDirectoryCli(['users', 'invite', 'invitees', 'ivy'], {
        storage,
        records,
        out: (l) => out.push(l),
        err: () => undefined,
        directory: { passwordHashing: FAST_HASHING },
        zoneUrl: (sub) => `http://${sub}.auth.localhost:8080`,
        zoneRemoval: { keys: createKeyStore({ records, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, notices: storage }) },
      });
      expect(code).toBe(0);
      const link = new URL(out[0]!);
      expect(link.origin).toBe('http://invitees.auth.localhost:8080');
      expect(link.pathname).toBe('/invitation');
      const zone = await createZoneDirectory(records).getZoneBySubdomain('invitees');
      expect(await createInvitationStore(storage).find(link.searchParams.get('code')!)).toMatchObject({ zoneId: zone!.id });
      expect(out[1]).toMatch(/^One use, until /);
    } finally {
      await storage.close();
      await records.close();
    }
  });
});
