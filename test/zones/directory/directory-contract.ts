import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CLIENT_ID, ZONE_ADMIN_ROLE_COLLECTION } from '../../../src/zones/directory/admin-client.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import { DirectoryError } from '../../../src/zones/directory/errors.js';
import type { DirectoryErrorCode } from '../../../src/zones/directory/errors.js';
import type { Application, User, ZoneDirectory } from '../../../src/zones/directory/types.js';
import { migrate } from '../../../src/records/migrate.js';
import { UniqueViolation } from '../../../src/records/types.js';
import type { RecordsDatabase, Row } from '../../../src/records/types.js';
import { FAST_HASHING, LEGACY_PASSWORD, LEGACY_SCRYPT_DEFAULT, LEGACY_SCRYPT_FAST, securityFor } from './fixtures.js';

export interface Backend {
  /**
   * A handle on the SAME database each call: a NEW one (own connections) where the backend serves
   * several at once in one process (PostgreSQL), so races go through the database itself.
   */
  open(): Promise<RecordsDatabase>;
}

/** The directory's tables (migration 1). */
export const DIRECTORY_TABLES = ['zones', 'directory_counters', 'applications', 'subscriptions', 'users', 'role_collections', 'user_role_collections'];

/** Every row the directory's tables hold (to prove what is and is not stored). */
export async function dumpRows(db: RecordsDatabase): Promise<Row[]> {
  const rows: Row[] = [];
  for (const table of DIRECTORY_TABLES) rows.push(...(await db.all(`SELECT * FROM ${table}`)));
  return rows;
}

async function expectCode(promise: Promise<unknown>, code: DirectoryErrorCode): Promise<DirectoryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected DirectoryError ${code}`).toBeInstanceOf(DirectoryError);
  expect((err as DirectoryError).code).toBe(code);
  return err as DirectoryError;
}

/** Subdomains and xsappnames unique per run, so suites sharing one Redis never see each other. */
const unique = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

/** The directory behaviour, run against every records backend. */
export function describeDirectory(name: string, backend: Backend): void {
  describe(`zone directory on ${name}`, () => {
    const handles: RecordsDatabase[] = [];
    let dir: ZoneDirectory;
    /** Directories on separate handles, as separate gateway instances would have. */
    let instances: ZoneDirectory[];

    beforeAll(async () => {
      for (let i = 0; i < 3; i++) handles.push(await backend.open());
      await migrate(handles[0]!);
      instances = handles.map((h) => createZoneDirectory(h, { passwordHashing: FAST_HASHING }));
      dir = instances[0]!;
    });
    /** An application record as stored, and written back past the directory (records made by older versions). */
    const readStoredApplication = async (xsappname: string) => {
      const row = await handles[0]!.one<{ application: string }>('SELECT application FROM applications WHERE xsappname = $1', [xsappname]);
      return { application: JSON.parse(row!.application) as Application };
    };
    const writeStoredApplication = async (xsappname: string, stored: { application: Application }) => {
      await handles[0]!.run('UPDATE applications SET application = $1 WHERE xsappname = $2', [JSON.stringify(stored.application), xsappname]);
    };

    afterAll(async () => {
      await Promise.all([...new Set(handles)].map((h) => h.close()));
    });

    describe('zones', () => {
      it('creates a zone with a GUID id, lower-cases the subdomain and finds it by id and subdomain', async () => {
        const sub = unique('Acme');
        const zone = await dir.createZone({ subdomain: sub });
        expect(zone.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(zone.subdomain).toBe(sub.toLowerCase());
        expect(zone.name).toBe(sub.toLowerCase());
        expect(new Date(zone.createdAt).toString()).not.toBe('Invalid Date');
        expect(await dir.getZone(zone.id)).toEqual(zone);
        expect(await instances[1]!.getZoneBySubdomain(sub.toUpperCase())).toEqual(zone);
        expect((await dir.listZones()).map((z) => z.id)).toContain(zone.id);
        expect(await dir.getZoneBySubdomain(unique('nowhere'))).toBeUndefined();
      });

      it('keeps the subdomain and user-name uniqueness in the database, where no writer can get around it', async () => {
        const sub = unique('lasting');
        const zone = await dir.createZone({ subdomain: sub });
        const user = await dir.createUser(zone.id, { userName: 'Lasting', email: 'l@example.com' });
        // Written past the directory, a duplicate is refused all the same, now and later.
        const zoneCopy = handles[0]!.run("INSERT INTO zones (id, subdomain, name, created_at) VALUES ($1, $2, 'copy', '')", [randomUUID(), sub]);
        await expect(zoneCopy).rejects.toBeInstanceOf(UniqueViolation);
        const userCopy = handles[0]!.run(
          "INSERT INTO users (zone_id, id, user_name, user_name_lower, origin, email, attributes) VALUES ($1, $2, 'LASTING', 'lasting', $3, 'x@example.com', '{}')",
          [zone.id, randomUUID(), user.origin],
        );
        await expect(userCopy).rejects.toBeInstanceOf(UniqueViolation);
      });

      it('keeps a given id, name and branding', async () => {
        const id = randomUUID().toUpperCase();
        const zone = await dir.createZone({ id, subdomain: unique('given'), name: 'Given Ltd', branding: { title: 'Given', color: '#0a6ed1' } });
        expect(zone.id).toBe(id.toLowerCase());
        expect(zone.name).toBe('Given Ltd');
        expect((await dir.getZone(id))?.branding).toEqual({ title: 'Given', color: '#0a6ed1' });
      });

      it('rejects subdomains that are not DNS labels, and branding that could break out of the login page', async () => {
        for (const bad of ['', '-acme', 'acme-', 'ac_me', 'ac.me', 'acme corp', 'äcme', 'a'.repeat(64), '../x']) {
          const err = await expectCode(dir.createZone({ subdomain: bad }), 'INVALID_INPUT');
          expect(err.message).toMatch(/DNS label/);
        }
        expect((await dir.createZone({ subdomain: `${'a'.repeat(54)}${randomUUID().slice(0, 8)}0` })).subdomain).toHaveLength(63);
        await expectCode(dir.createZone({ subdomain: unique('brand'), branding: { color: 'red;}</style><script>' } }), 'INVALID_INPUT');
        await expectCode(dir.createZone({ subdomain: unique('brand'), branding: { logoUrl: 'javascript:alert(1)' } }), 'INVALID_INPUT');
        await expectCode(dir.createZone({ id: 'not:a:guid', subdomain: unique('badid') }), 'INVALID_INPUT');
      });

      it('lets exactly one of many concurrent creates claim a subdomain, across instances', async () => {
        const sub = unique('race');
        const results = await Promise.allSettled(
          Array.from({ length: 24 }, (_, i) => instances[i % instances.length]!.createZone({ subdomain: sub, name: `attempt ${i}` })),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as DirectoryError).code).toBe('ZONE_SUBDOMAIN_TAKEN');
        }
        const winner = (won[0] as PromiseFulfilledResult<{ id: string }>).value;
        expect((await dir.getZoneBySubdomain(sub))?.id).toBe(winner.id);
        expect((await dir.listZones()).filter((z) => z.subdomain === sub)).toHaveLength(1);
      });

      it('refuses a duplicate id without keeping the subdomain it tried to claim', async () => {
        const zone = await dir.createZone({ subdomain: unique('first') });
        const sub = unique('second');
        await expectCode(dir.createZone({ id: zone.id, subdomain: sub }), 'ZONE_EXISTS');
        expect((await dir.createZone({ subdomain: sub })).subdomain).toBe(sub);
      });

      it('deletes a zone with its users, role collections and subscriptions, and frees the subdomain', async () => {
        const provider = await dir.createZone({ subdomain: unique('provider') });
        const { application } = await dir.registerApplication(securityFor(unique('delapp')), provider.id);
        const sub = unique('doomed');
        const zone = await dir.createZone({ subdomain: sub });
        await dir.subscribe(application, zone.id);
        await dir.createRoleCollection(zone.id, { name: 'Auditors', roleTemplates: ['Viewer'] });
        const user = await dir.createUser(zone.id, { userName: 'alice', email: 'alice@example.com', password: 'correct horse', roleCollections: ['Auditors'] });

        expect(await dir.deleteZone(zone.id)).toBe(true);
        expect(await dir.getZone(zone.id)).toBeUndefined();
        expect(await dir.getZoneBySubdomain(sub)).toBeUndefined();
        expect(await dir.getUser(zone.id, user.id)).toBeUndefined();
        expect(await dir.verifyPassword(zone.id, 'alice', 'correct horse')).toBeUndefined();
        expect(await dir.isClientAllowedInZone(application, zone.id)).toBe(false);
        expect(await dir.listSubscriptions(application)).not.toContain(zone.id);
        expect(await dir.deleteZone(zone.id)).toBe(false);

        // A zone that takes the subdomain (and even the id) again starts empty.
        const again = await dir.createZone({ id: zone.id, subdomain: sub });
        expect(await dir.listUsers(again.id)).toEqual([]);
        expect((await dir.listRoleCollections(again.id)).map((c) => c.name)).not.toContain('Auditors');
        expect(await dir.isClientAllowedInZone(application, again.id)).toBe(false);
      });

      it('refuses to delete the provider zone of a registered application', async () => {
        const provider = await dir.createZone({ subdomain: unique('keep') });
        await dir.registerApplication(securityFor(unique('keepapp')), provider.id);
        await expectCode(dir.deleteZone(provider.id), 'ZONE_IN_USE');
        expect(await dir.getZone(provider.id)).toBeDefined();
      });
    });

    describe('applications', () => {
      it('registers <xsappname>!t<N> with client sb-<instance> and expands $XSAPPNAME everywhere', async () => {
        const provider = await dir.createZone({ subdomain: unique('prov') });
        const xsappname = unique('myapp');
        const { application: app, clientSecret } = await dir.registerApplication(securityFor(xsappname), provider.id);
        const inst = app.instanceName;
        expect(inst).toMatch(new RegExp(`^${xsappname}!t[1-9][0-9]*$`));
        expect(app.clientId).toBe(`sb-${inst}`);
        expect(app.providerZoneId).toBe(provider.id);
        expect(app.scopes).toEqual([`${inst}.Admin`, `${inst}.Viewer`, `${inst}.Callback`]);
        expect(app.authorities).toEqual([`${inst}.Callback`]);
        expect(app.roleTemplates).toEqual([
          { name: 'Administrator', scopes: [`${inst}.Admin`, `${inst}.Viewer`, 'other!t1.Audit'], attributes: [] },
          { name: 'Viewer', scopes: [`${inst}.Viewer`], attributes: ['Country'] },
        ]);
        expect(app.roleCollections).toEqual([
          { name: `${xsappname}_Administrator`, roleTemplates: ['Administrator'] },
          { name: `${xsappname}_Viewer`, roleTemplates: ['Viewer'] },
        ]);
        expect(app.tokenValiditySeconds).toBe(3600);
        expect(Buffer.from(clientSecret, 'base64url').length).toBeGreaterThanOrEqual(32);
        expect(await instances[2]!.getApplicationByClientId(app.clientId)).toEqual(app);
        expect(await dir.getApplicationByClientId(`sb-${xsappname}!t999999`)).toBeUndefined();
      });

      it('verifies the client secret and refuses a wrong one, another client\'s, and unknown clients', async () => {
        const provider = await dir.createZone({ subdomain: unique('prov') });
        const a = await dir.registerApplication(securityFor(unique('appa')), provider.id);
        const b = await dir.registerApplication(securityFor(unique('appb')), provider.id);
        expect(a.application.instanceName).not.toBe(b.application.instanceName);
        expect(await dir.verifyClientSecret(a.application.clientId, a.clientSecret)).toBe(true);
        expect(await dir.verifyClientSecret(a.application.clientId, b.clientSecret)).toBe(false);
        expect(await dir.verifyClientSecret(a.application.clientId, `${a.clientSecret}x`)).toBe(false);
        expect(await dir.verifyClientSecret(a.application.clientId, '')).toBe(false);
        expect(await dir.verifyClientSecret('sb-nobody!t1', a.clientSecret)).toBe(false);
      });

      it('re-registering keeps N and the secret and takes scopes and role collections from the new file', async () => {
        const provider = await dir.createZone({ subdomain: unique('prov') });
        const xsappname = unique('again');
        const first = await dir.registerApplication(securityFor(xsappname), provider.id);
        const changed = securityFor(xsappname);
        changed.scopes.push({ name: '$XSAPPNAME.Editor', grantedApps: [], grantAsAuthorityToApps: [] });
        changed.roleCollections = [{ name: 'Editors', roleTemplateReferences: ['$XSAPPNAME.Viewer'] }];
        const second = await instances[1]!.registerApplication(changed, provider.id);
        expect(second.application.instanceName).toBe(first.application.instanceName);
        expect(second.clientSecret).toBe(first.clientSecret);
        expect(second.application.scopes).toContain(`${first.application.instanceName}.Editor`);
        expect((await dir.getApplication(xsappname))?.roleCollections).toEqual([{ name: 'Editors', roleTemplates: ['Viewer'] }]);
      });

      it('gives concurrent registrations of one xsappname one instance and one secret', async () => {
        const provider = await dir.createZone({ subdomain: unique('prov') });
        const xsappname = unique('together');
        const results = await Promise.all(instances.map((d) => d.registerApplication(securityFor(xsappname), provider.id)));
        expect(new Set(results.map((r) => r.application.instanceName)).size).toBe(1);
        expect(new Set(results.map((r) => r.clientSecret)).size).toBe(1);
      });

      it('refuses a provider zone that does not exist and an xsappname with "!"', async () => {
        await expectCode(dir.registerApplication(securityFor(unique('nozone')), randomUUID()), 'ZONE_NOT_FOUND');
        const provider = await dir.createZone({ subdomain: unique('prov') });
        await expectCode(dir.registerApplication(securityFor('evil!t1'), provider.id), 'INVALID_INPUT');
      });

      it("grants another application's scope as an authority only when both sides agree (XSUAA's grant-as-authority-to-apps)", async () => {
        const provider = await dir.createZone({ subdomain: unique('grants') });
        const [grantorName, receiverName, askerName, greedyName] = [unique('grantor'), unique('receiver'), unique('asker'), unique('greedy')];
        const grantorSecurity = securityFor(grantorName);
        grantorSecurity.scopes[2]!.grantAsAuthorityToApps = [`$XSAPPNAME(application,${receiverName})`, `$XSAPPNAME(application,space,${greedyName})`, '$XSSERVICENAME(some-instance)'];
        const { application: grantor } = await dir.registerApplication(grantorSecurity, provider.id);
        const withAuthorities = (name: string, authorities: string[]) => ({ ...securityFor(name), authorities });
        const { application: receiver } = await dir.registerApplication(withAuthorities(receiverName, ['$XSAPPNAME.Viewer', `$XSAPPNAME(application,${grantorName}).Callback`]), provider.id);
        const { application: asker } = await dir.registerApplication(withAuthorities(askerName, [`$XSAPPNAME(application,${grantorName}).Callback`]), provider.id);
        const { application: greedy } = await dir.registerApplication(withAuthorities(greedyName, ['$ACCEPT_GRANTED_AUTHORITIES']), provider.id);
        expect(await instances[1]!.clientAuthorities(receiver)).toEqual([`${receiver.instanceName}.Viewer`, `${grantor.instanceName}.Callback`]);
        // Asked for but not granted: nothing of the grantor's, so XSUAA's default.
        expect(await dir.clientAuthorities(asker)).toEqual(['uaa.resource']);
        expect(await dir.clientAuthorities(greedy)).toEqual([`${grantor.instanceName}.Callback`]);
        // Granting is not holding: the grantor's own client lists no authority of its own here.
        expect(await dir.clientAuthorities({ ...grantor, authorities: [] })).toEqual(['uaa.resource']);
      });

      it("refuses an application that claims another application's scope or authority, and strips one stored before (attack)", async () => {
        const provider = await dir.createZone({ subdomain: unique('claims') });
        const { application: victim } = await dir.registerApplication(securityFor(unique('victim')), provider.id);
        const claimAuthority = { ...securityFor(unique('thief')), authorities: [`${victim.instanceName}.Callback`] };
        await expectCode(dir.registerApplication(claimAuthority, provider.id), 'INVALID_INPUT');
        const claimScope = securityFor(unique('thief'));
        claimScope.scopes.push({ name: `${victim.instanceName}.Admin`, grantedApps: [], grantAsAuthorityToApps: [] });
        await expectCode(dir.registerApplication(claimScope, provider.id), 'INVALID_INPUT');

        const xsappname = unique('oldthief');
        const { application } = await dir.registerApplication(securityFor(xsappname), provider.id);
        const stored = await readStoredApplication(xsappname);
        stored.application.scopes.push(`${victim.instanceName}.Admin`);
        stored.application.authorities.push(`${victim.instanceName}.Callback`);
        await writeStoredApplication(xsappname, stored);
        const read = (await dir.getApplicationByClientId(application.clientId))!;
        expect(read.scopes).toEqual(application.scopes);
        expect(await dir.clientAuthorities(read)).toEqual([`${application.instanceName}.Callback`]);
      });

      it('allows a shared client in its provider zone and in subscribed zones only', async () => {
        const provider = await dir.createZone({ subdomain: unique('prov') });
        const tenant = await dir.createZone({ subdomain: unique('tenant') });
        const other = await dir.createZone({ subdomain: unique('other') });
        const { application } = await dir.registerApplication(securityFor(unique('shared'), 'shared'), provider.id);
        expect(await dir.isClientAllowedInZone(application, provider.id)).toBe(true);
        expect(await dir.isClientAllowedInZone(application, tenant.id)).toBe(false);
        await dir.subscribe(application, tenant.id);
        await dir.subscribe(application, tenant.id);
        expect(await instances[1]!.isClientAllowedInZone(application, tenant.id)).toBe(true);
        expect(await dir.isClientAllowedInZone(application, other.id)).toBe(false);
        expect(await dir.listSubscriptions(application)).toEqual([tenant.id]);
        expect(await dir.unsubscribe(application, tenant.id)).toBe(true);
        expect(await dir.unsubscribe(application, tenant.id)).toBe(false);
        expect(await dir.isClientAllowedInZone(application, tenant.id)).toBe(false);
        await expectCode(dir.subscribe(application, randomUUID()), 'ZONE_NOT_FOUND');
      });

      it('allows a dedicated client only in its provider zone and refuses to subscribe it', async () => {
        const provider = await dir.createZone({ subdomain: unique('prov') });
        const tenant = await dir.createZone({ subdomain: unique('tenant') });
        const { application } = await dir.registerApplication(securityFor(unique('dedicated'), 'dedicated'), provider.id);
        await expectCode(dir.subscribe(application, tenant.id), 'INVALID_INPUT');
        expect(await dir.isClientAllowedInZone(application, provider.id)).toBe(true);
        expect(await dir.isClientAllowedInZone(application, tenant.id)).toBe(false);
      });
    });

    describe('users', () => {
      it('creates users with unique, case-insensitive names per zone and never returns the hash', async () => {
        const zone = await dir.createZone({ subdomain: unique('users') });
        const other = await dir.createZone({ subdomain: unique('users') });
        const user = await dir.createUser(zone.id, { userName: 'Alice', email: 'alice@example.com', givenName: 'Alice', familyName: 'Liddell', password: 'wonderland!' });
        expect(user).toEqual({
          id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          zoneId: zone.id,
          userName: 'Alice',
          email: 'alice@example.com',
          givenName: 'Alice',
          familyName: 'Liddell',
          origin: 'sap.default',
          attributes: {},
          roleCollections: [],
        });
        expect(JSON.stringify(await dir.getUser(zone.id, user.id))).not.toMatch(/argon2|scrypt|hash|wonderland/i);
        expect(await dir.getUserByName(zone.id, 'ALICE')).toEqual(user);
        await expectCode(instances[1]!.createUser(zone.id, { userName: 'alice', email: 'x@example.com', password: 'whatever1' }), 'USER_EXISTS');
        // The same name in another zone is another user.
        const twin = await dir.createUser(other.id, { userName: 'alice', email: 'alice@example.com' });
        expect(twin.id).not.toBe(user.id);
        expect(await dir.getUser(other.id, user.id)).toBeUndefined();
        expect((await dir.listUsers(zone.id)).map((u) => u.userName)).toEqual(['Alice']);
      });

      it('lets exactly one of concurrent creates of one user name win', async () => {
        const zone = await dir.createZone({ subdomain: unique('userrace') });
        const results = await Promise.allSettled(
          Array.from({ length: 9 }, (_, i) => instances[i % 3]!.createUser(zone.id, { userName: i % 2 ? 'BOB' : 'bob', email: 'bob@example.com' })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(await dir.listUsers(zone.id)).toHaveLength(1);
      });

      it('requires an e-mail, an existing zone, existing role collections and a long enough password', async () => {
        const zone = await dir.createZone({ subdomain: unique('rules') });
        await expectCode(dir.createUser(zone.id, { userName: 'nomail' } as never), 'INVALID_INPUT');
        await expectCode(dir.createUser(zone.id, { userName: 'badmail', email: 'not-an-address' }), 'INVALID_INPUT');
        await expectCode(dir.createUser(zone.id, { userName: 'ctl\u0000name', email: 'a@b.c' }), 'INVALID_INPUT');
        await expectCode(dir.createUser(zone.id, { userName: 'short', email: 'a@b.c', password: 'abc' }), 'INVALID_INPUT');
        await expectCode(dir.createUser(zone.id, { userName: 'nobody', email: 'a@b.c', roleCollections: ['Ghosts'] }), 'ROLE_COLLECTION_UNKNOWN');
        await expectCode(dir.createUser(randomUUID(), { userName: 'lost', email: 'a@b.c' }), 'ZONE_NOT_FOUND');
        expect(await dir.listUsers(zone.id)).toEqual([]);
      });

      it('verifies passwords without saying which part was wrong, and only in the user\'s zone', async () => {
        const zone = await dir.createZone({ subdomain: unique('login') });
        const other = await dir.createZone({ subdomain: unique('login') });
        const user = await dir.createUser(zone.id, { userName: 'carol', email: 'carol@example.com', password: 'päss wörd 1' });
        const nopass = await dir.createUser(zone.id, { userName: 'dave', email: 'dave@example.com' });
        expect(await instances[2]!.verifyPassword(zone.id, 'CAROL', 'päss wörd 1')).toEqual(user);
        expect(await dir.verifyPassword(zone.id, 'carol', 'päss wörd 2')).toBeUndefined();
        expect(await dir.verifyPassword(zone.id, 'carol', '')).toBeUndefined();
        expect(await dir.verifyPassword(zone.id, 'nobody', 'päss wörd 1')).toBeUndefined();
        expect(await dir.verifyPassword(zone.id, nopass.userName, '')).toBeUndefined();
        expect(await dir.verifyPassword(other.id, 'carol', 'päss wörd 1')).toBeUndefined();
      });

      it('sets the password of a user created without one (an invitation), under the same policy', async () => {
        const zone = await dir.createZone({ subdomain: unique('invite') });
        const invited = await dir.createUser(zone.id, { userName: 'gina', email: 'gina@example.com' });
        expect(await dir.hasPassword(zone.id, invited.id)).toBe(false);
        expect(dir.passwordProblem('short')).toMatch(/at least 8 characters/);
        expect(dir.passwordProblem('long enough')).toBeUndefined();
        await expectCode(dir.setPassword(zone.id, invited.id, 'short'), 'INVALID_INPUT');
        await expectCode(dir.setPassword(zone.id, randomUUID(), 'long enough'), 'USER_NOT_FOUND');
        expect(await dir.setPassword(zone.id, invited.id, 'long enough')).toEqual(invited);
        expect(await instances[1]!.hasPassword(zone.id, invited.id)).toBe(true);
        expect(await instances[2]!.verifyPassword(zone.id, 'gina', 'long enough')).toEqual(invited);
      });

      it('stores passwords only as salted argon2id hashes (raw storage dump)', async () => {
        const zone = await dir.createZone({ subdomain: unique('raw') });
        const password = `Secret-${randomUUID()}`;
        await dir.createUser(zone.id, { userName: 'erin', email: 'erin@example.com', password });
        await dir.createUser(zone.id, { userName: 'frank', email: 'frank@example.com', password });
        const rows = await dumpRows(handles[0]!);
        const values = rows.map((r) => JSON.stringify(r));
        expect(values.length).toBeGreaterThan(0);
        expect(values.filter((v) => v.includes(password))).toEqual([]);
        expect(values.filter((v) => v.includes(Buffer.from(password).toString('base64')))).toEqual([]);
        const hashes = rows.filter((r) => r.zone_id === zone.id && (r.user_name === 'erin' || r.user_name === 'frank')).map((r) => r.password_hash as string);
        expect(hashes).toHaveLength(2);
        // PHC string format, unpadded standard base64: a 16-byte salt and a 32-byte hash.
        for (const h of hashes) expect(h).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
        // Random salts: the same password gives two different hashes.
        expect(hashes[0]).not.toBe(hashes[1]);
      });

      it('assigns and unassigns role collections; concurrent assignments are all kept', async () => {
        const provider = await dir.createZone({ subdomain: unique('assign') });
        const { application } = await dir.registerApplication(securityFor(unique('assignapp')), provider.id);
        const names = application.roleCollections.map((c) => c.name);
        for (let i = 0; i < 4; i++) await dir.createRoleCollection(provider.id, { name: `Extra${i}`, roleTemplates: ['Viewer'] });
        const user = await dir.createUser(provider.id, { userName: 'gina', email: 'gina@example.com' });
        const all = [...names, 'Extra0', 'Extra1', 'Extra2', 'Extra3'];
        await Promise.all(all.map((rc, i) => instances[i % 3]!.assignRoleCollection(provider.id, user.id, rc)));
        expect((await dir.getUser(provider.id, user.id))?.roleCollections.sort()).toEqual([...all].sort());
        await dir.assignRoleCollection(provider.id, user.id, 'Extra0');
        expect((await dir.getUser(provider.id, user.id))?.roleCollections.filter((r) => r === 'Extra0')).toHaveLength(1);
        await expectCode(dir.assignRoleCollection(provider.id, user.id, 'Ghosts'), 'ROLE_COLLECTION_UNKNOWN');
        await expectCode(dir.assignRoleCollection(provider.id, randomUUID(), 'Extra0'), 'USER_NOT_FOUND');
        const after = await dir.unassignRoleCollection(provider.id, user.id, 'Extra0');
        expect(after.roleCollections).not.toContain('Extra0');
      });

      it('deletes a user and frees the name', async () => {
        const zone = await dir.createZone({ subdomain: unique('deluser') });
        const user = await dir.createUser(zone.id, { userName: 'hank', email: 'hank@example.com', password: 'hank-pass-1' });
        expect(await dir.deleteUser(zone.id, user.id)).toBe(true);
        expect(await dir.deleteUser(zone.id, user.id)).toBe(false);
        expect(await dir.getUserByName(zone.id, 'hank')).toBeUndefined();
        expect(await dir.verifyPassword(zone.id, 'hank', 'hank-pass-1')).toBeUndefined();
        expect((await dir.createUser(zone.id, { userName: 'Hank', email: 'hank@example.com' })).id).not.toBe(user.id);
      });
    });

    describe('password hashes', () => {
      /** The stored hash of a user, read past the directory. */
      const storedHash = async (user: User) =>
        (await handles[0]!.one<{ password_hash: string | null }>('SELECT password_hash FROM users WHERE zone_id = $1 AND id = $2', [user.zoneId, user.id]))?.password_hash;
      const writeHash = (user: User, hash: string) => handles[0]!.run('UPDATE users SET password_hash = $1 WHERE zone_id = $2 AND id = $3', [hash, user.zoneId, user.id]);
      /** A user whose password was stored by an earlier zonegate: a scrypt hash. */
      const legacyUser = async (userName: string, hash = LEGACY_SCRYPT_FAST) => {
        const zone = await dir.createZone({ subdomain: unique('legacy') });
        const user = await dir.createUser(zone.id, { userName, email: `${userName}@example.com`, password: 'placeholder-1' });
        await writeHash(user, hash);
        return user;
      };

      it('hashes new passwords with OWASP\'s argon2id parameters (m = 19 MiB, t = 2, p = 1) by default, and keeps them on login', async () => {
        const production = createZoneDirectory(handles[0]!);
        const zone = await production.createZone({ subdomain: unique('owasp') });
        const user = await production.createUser(zone.id, { userName: 'olga', email: 'olga@example.com', password: 'olga-pass-1' });
        const hash = await storedHash(user);
        expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
        expect(await production.verifyPassword(zone.id, 'olga', 'olga-pass-1')).toEqual(user);
        expect(await storedHash(user)).toBe(hash);
        await production.setPassword(zone.id, user.id, 'olga-pass-2');
        expect(await storedHash(user)).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      });

      it('verifies a scrypt hash of an earlier version and replaces it with argon2id on the first successful login', async () => {
        const user = await legacyUser('lena');
        // A wrong password changes nothing.
        expect(await dir.verifyPassword(user.zoneId, 'lena', 'legacy-pass-2')).toBeUndefined();
        expect(await storedHash(user)).toBe(LEGACY_SCRYPT_FAST);

        expect(await instances[1]!.verifyPassword(user.zoneId, 'lena', LEGACY_PASSWORD)).toEqual(user);
        const rehashed = await storedHash(user);
        expect(rehashed).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
        // The new hash is of the same password, and a login on it leaves it alone.
        expect(await instances[2]!.verifyPassword(user.zoneId, 'lena', LEGACY_PASSWORD)).toEqual(user);
        expect(await dir.verifyPassword(user.zoneId, 'lena', 'legacy-pass-2')).toBeUndefined();
        expect(await storedHash(user)).toBe(rehashed);
      });

      it('verifies a scrypt hash at the old default cost (N = 2^15)', async () => {
        const user = await legacyUser('luis', LEGACY_SCRYPT_DEFAULT);
        expect(await dir.verifyPassword(user.zoneId, 'luis', LEGACY_PASSWORD)).toEqual(user);
        expect(await storedHash(user)).toMatch(/^\$argon2id\$/);
      });

      it('rehashes an argon2 hash below the configured cost, and keeps one above it', async () => {
        const zone = await dir.createZone({ subdomain: unique('cost') });
        const user = await dir.createUser(zone.id, { userName: 'max', email: 'max@example.com', password: 'max-pass-1' });
        const weak = await storedHash(user);
        const stronger = createZoneDirectory(handles[0]!, { passwordHashing: { memoryCost: 2048, timeCost: 2, parallelism: 1 } });
        expect(await stronger.verifyPassword(zone.id, 'max', 'max-pass-2')).toBeUndefined();
        expect(await storedHash(user)).toBe(weak);
        expect(await stronger.verifyPassword(zone.id, 'max', 'max-pass-1')).toEqual(user);
        const strong = await storedHash(user);
        expect(strong).toMatch(/^\$argon2id\$v=19\$m=2048,t=2,p=1\$/);
        // An instance still configured lower verifies the stronger hash and does not weaken it.
        expect(await dir.verifyPassword(zone.id, 'max', 'max-pass-1')).toEqual(user);
        expect(await storedHash(user)).toBe(strong);
      });

      it('a password set while a login is rehashing the old hash is kept', async () => {
        const user = await legacyUser('nina');
        const db = handles[0]!;
        let racedAt = 0;
        // The real database, with one moment held open: just before the login's rehash is written,
        // another instance sets a new password (and commits).
        const racing: RecordsDatabase = {
          dialect: db.dialect,
          all: (sql, params) => db.all(sql, params),
          one: (sql, params) => db.one(sql, params),
          run: async (sql, params) => {
            // Only the rehash writes outside a transaction (setPassword goes through its `tx`).
            if (/^UPDATE users SET password_hash\b/.test(sql)) {
              racedAt++;
              await instances[1]!.setPassword(user.zoneId, user.id, 'changed-meanwhile');
            }
            return db.run(sql, params);
          },
          transaction: (work) => db.transaction(work),
          ping: () => db.ping(),
          close: () => db.close(),
        };
        const loggingIn = createZoneDirectory(racing, { passwordHashing: FAST_HASHING });
        expect(await loggingIn.verifyPassword(user.zoneId, 'nina', LEGACY_PASSWORD)).toEqual(user);
        expect(racedAt).toBe(1);
        expect(await storedHash(user)).not.toBe(LEGACY_SCRYPT_FAST);
        expect(await dir.verifyPassword(user.zoneId, 'nina', 'changed-meanwhile')).toEqual(user);
        expect(await dir.verifyPassword(user.zoneId, 'nina', LEGACY_PASSWORD)).toBeUndefined();
      });

      it('verifies nothing against a malformed or foreign hash', async () => {
        const zone = await dir.createZone({ subdomain: unique('malformed') });
        const user = await dir.createUser(zone.id, { userName: 'omar', email: 'omar@example.com', password: 'omar-pass-1' });
        for (const hash of ['', 'omar-pass-1', 'scrypt$1024$8$1$short$short', '$argon2id$v=19$m=1024,t=1,p=1$garbage', '$2b$10$abcdefghijklmnopqrstuuFpA2Iq2kMEWiSbUXCtRjQ4LnzfRCM9m']) {
          await writeHash(user, hash);
          expect(await dir.verifyPassword(zone.id, 'omar', 'omar-pass-1')).toBeUndefined();
          expect(await storedHash(user)).toBe(hash);
        }
      });
    });

    describe('the built-in admin client and Zone Administrator role collection', () => {
      it('is created once and keeps its secret across instances and concurrent starts', async () => {
        const results = await Promise.all(instances.map((d) => d.ensureAdminClient()));
        const secrets = new Set(results.map((r) => r.clientSecret));
        expect(secrets.size).toBe(1);
        const [first] = results;
        expect(first!.application).toMatchObject({
          clientId: ADMIN_CLIENT_ID,
          scopes: ['scim.read', 'scim.write', 'zones.read', 'zones.write'],
          authorities: [],
          grantTypes: ['authorization_code', 'refresh_token'],
          redirectUris: ['http://127.0.0.1:*/**', 'http://localhost:*/**'],
        });
        expect(await instances[2]!.verifyClientSecret(ADMIN_CLIENT_ID, first!.clientSecret)).toBe(true);
        expect(await dir.verifyClientSecret(ADMIN_CLIENT_ID, `${first!.clientSecret}x`)).toBe(false);
        expect((await instances[1]!.ensureAdminClient()).clientSecret).toBe(first!.clientSecret);
        expect(await dir.getApplicationByClientId(ADMIN_CLIENT_ID)).toEqual(first!.application);
        await expectCode(dir.ensureAdminClient({ zonesAdminZoneId: 'not a zone id!' }), 'INVALID_INPUT');
      });

      it('works in every zone; the role collection grants scim.* there and zones.* only in the zones-admin zone', async () => {
        const provider = await dir.createZone({ subdomain: unique('adminprov') });
        const tenant = await dir.createZone({ subdomain: unique('admintenant') });
        const { application: app } = await dir.registerApplication(securityFor(unique('adminapp')), provider.id);
        const { application: admin } = await dir.ensureAdminClient({ zonesAdminZoneId: provider.id });
        expect(await dir.isClientAllowedInZone(admin, tenant.id)).toBe(true);
        // Unset inputs keep what is stored.
        expect((await instances[1]!.ensureAdminClient()).application.providerZoneId).toBe(provider.id);

        // Available in a zone no application is subscribed to, listed only when asked for.
        const tenantAdmin = await dir.createUser(tenant.id, { userName: 'tadmin', email: 't@example.com', roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
        expect(await dir.listRoleCollections(tenant.id)).toEqual([]);
        expect(await dir.listRoleCollections(tenant.id, { includeBuiltIn: true })).toEqual([{ name: ZONE_ADMIN_ROLE_COLLECTION, roleTemplates: ['zonegate-admin.ZoneAdministrator'] }]);
        const providerAdmin = await dir.createUser(provider.id, { userName: 'padmin', email: 'p@example.com' });
        await dir.assignRoleCollection(provider.id, providerAdmin.id, ZONE_ADMIN_ROLE_COLLECTION);
        const both = await dir.createUser(provider.id, {
          userName: 'both',
          email: 'b@example.com',
          roleCollections: [ZONE_ADMIN_ROLE_COLLECTION, `${app.xsappname}_Administrator`],
        });
        const plain = await dir.createUser(provider.id, { userName: 'plain', email: 'x@example.com', roleCollections: [`${app.xsappname}_Administrator`] });

        expect(await dir.userScopes(admin, tenantAdmin)).toEqual(['openid', 'scim.read', 'scim.write']);
        expect(await dir.userScopes(admin, (await dir.getUser(provider.id, providerAdmin.id))!)).toEqual(['openid', 'scim.read', 'scim.write', 'zones.read', 'zones.write']);
        // The admin client never yields application scopes, the application never admin scopes.
        expect(await dir.userScopes(admin, both)).toEqual(['openid', 'scim.read', 'scim.write', 'zones.read', 'zones.write']);
        expect(await dir.userScopes(app, both)).toEqual(['openid', `${app.instanceName}.Admin`, `${app.instanceName}.Viewer`]);
        expect(await dir.userScopes(admin, plain)).toEqual(['openid']);
      });

      it('cannot be copied: no zone collection may take its name or its template', async () => {
        const provider = await dir.createZone({ subdomain: unique('copyprov') });
        await dir.registerApplication(securityFor(unique('copyapp')), provider.id);
        await expectCode(dir.createRoleCollection(provider.id, { name: ZONE_ADMIN_ROLE_COLLECTION, roleTemplates: ['Viewer'] }), 'ROLE_COLLECTION_EXISTS');
        for (const ref of ['ZoneAdministrator', 'zonegate-admin.ZoneAdministrator']) {
          await expectCode(dir.createRoleCollection(provider.id, { name: 'Sneaky', roleTemplates: [ref] }), 'INVALID_INPUT');
        }
      });

      it('refuses applications that claim the admin client\'s name, scopes or role collection (attack)', async () => {
        const provider = await dir.createZone({ subdomain: unique('greedy') });
        await expectCode(dir.registerApplication(securityFor('zonegate-admin'), provider.id), 'INVALID_INPUT');
        const base = securityFor(unique('greedyapp'));
        const attempts = [
          { ...base, scopes: [...base.scopes, { name: 'scim.write', grantedApps: [], grantAsAuthorityToApps: [] }] },
          { ...base, authorities: ['zones.write'] },
          { ...base, roleTemplates: [{ name: 'Sneaky', scopeReferences: ['scim.read'], attributeReferences: [] }] },
          { ...base, roleCollections: [{ name: ZONE_ADMIN_ROLE_COLLECTION, roleTemplateReferences: ['$XSAPPNAME.Viewer'] }] },
        ];
        for (const security of attempts) {
          const err = await expectCode(dir.registerApplication(security, provider.id), 'INVALID_INPUT');
          expect(err.message).toMatch(/reserved/);
        }
        expect(await dir.getApplication(base.xsappname)).toBeUndefined();
        // And the admin client itself is not replaced by a registration.
        expect((await dir.getApplicationByClientId(ADMIN_CLIENT_ID))?.xsappname).toBe('zonegate-admin');
      });

      it('strips admin scopes from an application record written before they were reserved (defence in depth)', async () => {
        const provider = await dir.createZone({ subdomain: unique('legacy') });
        const xsappname = unique('legacyapp');
        const { application } = await dir.registerApplication(securityFor(xsappname), provider.id);
        const stored = await readStoredApplication(xsappname);
        stored.application.scopes.push('scim.write', 'zones.write');
        stored.application.authorities.push('scim.write');
        stored.application.roleTemplates[0]!.scopes.push('scim.write', 'zones.write');
        await writeStoredApplication(xsappname, stored);

        const read = (await dir.getApplicationByClientId(application.clientId))!;
        expect(read.scopes).toEqual(application.scopes);
        expect(read.authorities).toEqual(application.authorities);
        const user = await dir.createUser(provider.id, { userName: 'legacy', email: 'l@example.com', roleCollections: [`${xsappname}_Administrator`] });
        // Even handed the raw record, the scope computation does not grant them.
        expect(await dir.userScopes(stored.application, user)).toEqual(['openid', `${application.instanceName}.Admin`, `${application.instanceName}.Viewer`]);
      });
    });

    describe('role collections and scopes', () => {
      it('gives a user the client scopes ∩ the scopes of the user\'s role collections, plus openid', async () => {
        const provider = await dir.createZone({ subdomain: unique('scopes') });
        const xsappname = unique('scopeapp');
        const { application: app } = await dir.registerApplication(securityFor(xsappname), provider.id);
        const inst = app.instanceName;
        const admin = await dir.createUser(provider.id, { userName: 'admin', email: 'a@example.com', roleCollections: [`${xsappname}_Administrator`] });
        const viewer = await dir.createUser(provider.id, { userName: 'viewer', email: 'v@example.com', roleCollections: [`${xsappname}_Viewer`] });
        const nobody = await dir.createUser(provider.id, { userName: 'nobody', email: 'n@example.com' });
        // `other!t1.Audit` is in the Administrator template but not a scope of the client: dropped.
        expect(await dir.userScopes(app, admin)).toEqual(['openid', `${inst}.Admin`, `${inst}.Viewer`]);
        expect(await dir.userScopes(app, viewer)).toEqual(['openid', `${inst}.Viewer`]);
        expect(await dir.userScopes(app, nobody)).toEqual(['openid']);

        // The user's collections belong to the first application: another client's token gets none of it.
        const { application: other } = await dir.registerApplication(securityFor(unique('otherapp')), provider.id);
        expect(await dir.userScopes(other, admin)).toEqual(['openid']);
      });

      it("gives a user the union, per attribute, of the attribute values of the user's roles (xs.user.attributes)", async () => {
        const provider = await dir.createZone({ subdomain: unique('attrs') });
        const xsappname = unique('attrapp');
        const base = securityFor(xsappname);
        const { application: app } = await dir.registerApplication(
          {
            ...base,
            attributes: [...base.attributes, { name: 'Region', valueType: 'string', valueRequired: false }],
            roleTemplates: [
              ...base.roleTemplates.filter((t) => t.name !== 'Viewer'),
              // `{ "name": "Country", "default-values": ["DE"] }`
              { name: 'Viewer', scopeReferences: ['$XSAPPNAME.Viewer'], attributeReferences: ['Country'], attributeDefaultValues: { Country: ['DE'] } },
              // `{ "name": "Country", "default-values": ["FR", "DE"] }` and the string form `"Region"`
              { name: 'France', scopeReferences: ['$XSAPPNAME.Viewer'], attributeReferences: ['Country', 'Region'], attributeDefaultValues: { Country: ['FR', 'DE'] } },
            ],
            roleCollections: [...base.roleCollections, { name: `${xsappname}_France`, roleTemplateReferences: ['$XSAPPNAME.France'] }],
          },
          provider.id,
        );
        expect(app.roleTemplates.find((t) => t.name === 'France')).toEqual({
          name: 'France',
          scopes: [`${app.instanceName}.Viewer`],
          attributes: ['Country', 'Region'],
          attributeDefaults: { Country: ['FR', 'DE'] },
        });
        const both = await dir.createUser(provider.id, {
          userName: 'both',
          email: 'b@example.com',
          // Region has no default: the user's own value (the identity provider's) fills it. Secret is in
          // no role and stays out of tokens; the role's default wins over the user's own Country.
          attributes: { Region: ['EMEA'], Secret: ['s3cr3t'], Country: ['US'] },
          roleCollections: [`${xsappname}_Viewer`, `${xsappname}_France`],
        });
        expect(await dir.userAttributes(app, both)).toEqual({ Country: ['DE', 'FR'], Region: ['EMEA'] });
        const viewer = await dir.createUser(provider.id, { userName: 'viewer', email: 'v@example.com', roleCollections: [`${xsappname}_Viewer`] });
        expect(await dir.userAttributes(app, viewer)).toEqual({ Country: ['DE'] });
        // A reference without defaults and a user without the attribute: no value, so no entry.
        const noRegion = await dir.createUser(provider.id, { userName: 'noregion', email: 'n@example.com', roleCollections: [`${xsappname}_France`] });
        expect(await dir.userAttributes(app, noRegion)).toEqual({ Country: ['FR', 'DE'] });
        const admin = await dir.createUser(provider.id, { userName: 'admin', email: 'a@example.com', attributes: { Country: ['US'] }, roleCollections: [`${xsappname}_Administrator`] });
        expect(await dir.userAttributes(app, admin)).toEqual({});

        // A collection a zone administrator built from the template carries the same role.
        await dir.createRoleCollection(provider.id, { name: 'Local France', roleTemplates: ['France'] });
        const local = await dir.createUser(provider.id, { userName: 'local', email: 'l@example.com', attributes: { Region: ['APJ'] }, roleCollections: ['Local France'] });
        expect(await dir.userAttributes(app, local)).toEqual({ Country: ['FR', 'DE'], Region: ['APJ'] });
        // Another application's client sees none of these roles.
        const { application: other } = await dir.registerApplication(securityFor(unique('otherattr')), provider.id);
        expect(await dir.userAttributes(other, both)).toEqual({});
      });

      it('lets zone administrators build role collections from the app\'s role templates', async () => {
        const provider = await dir.createZone({ subdomain: unique('rcprov') });
        const tenant = await dir.createZone({ subdomain: unique('rctenant') });
        const xsappname = unique('rcapp');
        const { application: app } = await dir.registerApplication(securityFor(xsappname), provider.id);
        // Before subscribing, the tenant has none of the app's templates or collections.
        await expectCode(dir.createRoleCollection(tenant.id, { name: 'Readers', roleTemplates: ['Viewer'] }), 'INVALID_INPUT');
        expect(await dir.listRoleCollections(tenant.id)).toEqual([]);
        await dir.subscribe(app, tenant.id);
        expect((await dir.listRoleCollections(tenant.id)).map((c) => c.name)).toEqual([`${xsappname}_Administrator`, `${xsappname}_Viewer`]);

        await dir.createRoleCollection(tenant.id, { name: 'Readers', roleTemplates: ['Viewer'] });
        await expectCode(dir.createRoleCollection(tenant.id, { name: 'Readers', roleTemplates: ['Viewer'] }), 'ROLE_COLLECTION_EXISTS');
        await expectCode(dir.createRoleCollection(tenant.id, { name: `${xsappname}_Viewer`, roleTemplates: ['Viewer'] }), 'ROLE_COLLECTION_EXISTS');
        await expectCode(dir.createRoleCollection(tenant.id, { name: 'Bad', roleTemplates: ['NoSuchTemplate'] }), 'INVALID_INPUT');
        expect((await dir.listRoleCollections(tenant.id)).find((c) => c.name === 'Readers')).toEqual({ name: 'Readers', roleTemplates: [`${app.instanceName}.Viewer`] });
        // Zone-created collections stay in their zone.
        expect((await dir.listRoleCollections(provider.id)).map((c) => c.name)).not.toContain('Readers');

        const reader = await dir.createUser(tenant.id, { userName: 'reader', email: 'r@example.com', roleCollections: ['Readers'] });
        const admin = await dir.createUser(tenant.id, { userName: 'admin', email: 'a@example.com', roleCollections: [`${xsappname}_Administrator`] });
        expect(await dir.userScopes(app, reader)).toEqual(['openid', `${app.instanceName}.Viewer`]);
        expect(await dir.userScopes(app, admin)).toEqual(['openid', `${app.instanceName}.Admin`, `${app.instanceName}.Viewer`]);
      });
    });

    describe('uniqueness and transactions in the database', () => {
      it('lets one of concurrent creates of one user name (any case) in a zone and origin win; the others get USER_EXISTS', async () => {
        const zone = await dir.createZone({ subdomain: unique('namerace') });
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) => instances[i % 3]!.createUser(zone.id, { userName: ['Zed', 'ZED', 'zed'][i % 3]!, email: 'zed@example.com' })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect((r.reason as DirectoryError).code).toBe('USER_EXISTS');
        expect(await dir.listUsers(zone.id)).toHaveLength(1);
      });

      it('allows the same name from another origin (UAA: a user is unique per identity provider), and logs in the zone\'s own', async () => {
        const zone = await dir.createZone({ subdomain: unique('origins') });
        const own = await dir.createUser(zone.id, { userName: 'Yves', email: 'yves@example.com', password: 'own password' });
        const ldap = await dir.createUser(zone.id, { userName: 'yves', email: 'yves@corp.example', origin: 'ldap', password: 'ldap password' });
        expect(ldap.id).not.toBe(own.id);
        await expectCode(dir.createUser(zone.id, { userName: 'YVES', email: 'y@corp.example', origin: 'ldap' }), 'USER_EXISTS');
        // A name alone means the zone's own user (sap.default) where both have it.
        expect(await dir.getUserByName(zone.id, 'YVES')).toEqual(own);
        expect(await dir.verifyPassword(zone.id, 'yves', 'own password')).toEqual(own);
        expect(await dir.verifyPassword(zone.id, 'yves', 'ldap password')).toBeUndefined();
        await dir.deleteUser(zone.id, own.id);
        expect(await dir.getUserByName(zone.id, 'yves')).toEqual(ldap);
        expect((await dir.listUsers(zone.id)).map((u) => u.origin)).toEqual(['ldap']);
      });

      it('gives concurrent registrations of different xsappnames different numbers N', async () => {
        const provider = await dir.createZone({ subdomain: unique('nrace') });
        const names = Array.from({ length: 9 }, () => unique('napp'));
        const results = await Promise.all(names.map((n, i) => instances[i % 3]!.registerApplication(securityFor(n), provider.id)));
        const numbers = results.map((r) => Number(r.application.instanceName.split('!t')[1]));
        expect(new Set(numbers).size).toBe(names.length);
        for (const [i, r] of results.entries()) expect(r.application.instanceName).toBe(`${names[i]}!t${numbers[i]}`);
      });

      it('leaves no row of a deleted zone behind: users, their assignments, role collections, subscriptions', async () => {
        const provider = await dir.createZone({ subdomain: unique('rowprov') });
        const { application } = await dir.registerApplication(securityFor(unique('rowapp')), provider.id);
        const zone = await dir.createZone({ subdomain: unique('rows') });
        await dir.subscribe(application, zone.id);
        await dir.createRoleCollection(zone.id, { name: 'Auditors', roleTemplates: ['Viewer'] });
        for (const name of ['una', 'ulf']) {
          await dir.createUser(zone.id, { userName: name, email: `${name}@example.com`, password: 'a password', roleCollections: ['Auditors', `${application.xsappname}_Viewer`] });
        }
        const count = async (table: string) => Number((await handles[1]!.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE zone_id = $1`, [zone.id]))!.n);
        const tables = ['users', 'user_role_collections', 'role_collections', 'subscriptions'];
        expect(await Promise.all(tables.map(count))).toEqual([2, 4, 1, 1]);
        expect(await instances[1]!.deleteZone(zone.id)).toBe(true);
        expect(await Promise.all(tables.map(count))).toEqual([0, 0, 0, 0]);
        // The provider's own rows are untouched.
        expect(await dir.getApplication(application.xsappname)).toEqual(application);
      });

      it('refuses a user in a zone deleted at the same moment, or creates it before: never a user without its zone', async () => {
        const zone = await dir.createZone({ subdomain: unique('gone') });
        const [created, deleted] = await Promise.allSettled([
          instances[1]!.createUser(zone.id, { userName: 'late', email: 'late@example.com' }),
          instances[2]!.deleteZone(zone.id),
        ]);
        expect(deleted).toEqual({ status: 'fulfilled', value: true });
        if (created.status === 'rejected') expect((created.reason as DirectoryError).code).toBe('ZONE_NOT_FOUND');
        const orphans = await handles[0]!.one<{ n: number }>('SELECT COUNT(*) AS n FROM users WHERE zone_id = $1', [zone.id]);
        expect(Number(orphans!.n)).toBe(0);
      });
    });
  });
}
