/**
 * The identity provider records (src/zones/idp/store.ts, migration 3), as a contract run on every
 * records backend: SQLite (./store.sqlite.test.ts) and PostgreSQL (./store.postgres.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/records/migrate.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import { DirectoryError } from '../../../src/zones/directory/errors.js';
import type { Zone, ZoneDirectory } from '../../../src/zones/directory/types.js';
import { readIdentityProvider } from '../../../src/zones/idp/config.js';
import { createIdentityProviderStore, type IdentityProviderStore } from '../../../src/zones/idp/store.js';
import { FAST_HASHING, securityFor } from '../directory/fixtures.js';

const SECRET = 'the-relying-party-secret-123';

function input(originKey: string, secret: string | undefined = SECRET) {
  return readIdentityProvider({
    type: 'oidc1.0',
    originKey,
    config: { discoveryUrl: 'https://idp.example.com', relyingPartyId: 'zone', ...(secret !== undefined ? { relyingPartySecret: secret } : {}) },
  });
}

async function code(call: () => Promise<unknown>): Promise<string | undefined> {
  const err = await call().then(() => undefined, (e: unknown) => e);
  return err instanceof DirectoryError ? err.code : String(err);
}

export function describeIdentityProviderStore(name: string, open: () => Promise<RecordsDatabase>): void {
  describe(`identity provider records on ${name}`, () => {
    let records: RecordsDatabase;
    let directory: ZoneDirectory;
    let store: IdentityProviderStore;
    let a: Zone;
    let b: Zone;
    const key = randomBytes(32);

    beforeAll(async () => {
      records = await open();
      await migrate(records);
      directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING, secretKey: key });
      store = createIdentityProviderStore(records, directory, { secretKey: key });
      const provider = await directory.createZone({ subdomain: `p${randomBytes(4).toString('hex')}` });
      const { application } = await directory.registerApplication(securityFor(`app${randomBytes(3).toString('hex')}`), provider.id);
      a = await directory.createZone({ subdomain: `a${randomBytes(4).toString('hex')}` });
      b = await directory.createZone({ subdomain: `b${randomBytes(4).toString('hex')}` });
      await directory.subscribe(application, a.id);
      await directory.subscribe(application, b.id);
    });
    afterAll(async () => {
      await records?.close();
    });

    it('keeps an origin key unique per zone, not across zones, and each zone sees only its own', async () => {
      const idp = await store.create(a.id, input('corp'));
      expect(await code(() => store.create(a.id, input('corp')))).toBe('IDENTITY_PROVIDER_EXISTS');
      const other = await store.create(b.id, input('corp'));
      expect((await store.list(a.id)).map((p) => p.id)).toEqual([idp.id]);
      expect(await store.get(b.id, idp.id)).toBeUndefined();
      expect(await store.get(a.id, other.id)).toBeUndefined();
      expect((await store.getByOrigin(b.id, 'corp'))!.id).toBe(other.id);
    });

    it('seals the client secret: not in clear in the row, opens for its own zone and origin only', async () => {
      const idp = (await store.getByOrigin(a.id, 'corp'))!;
      const row = await records.one<{ config: string; sealed_secret: string }>('SELECT config, sealed_secret FROM identity_providers WHERE zone_id = $1 AND id = $2', [a.id, idp.id]);
      expect(row!.config + row!.sealed_secret).not.toContain(SECRET);
      expect(await store.clientSecret(idp)).toBe(SECRET);
      // A's sealed secret copied onto B's row does not open there.
      const onB = (await store.getByOrigin(b.id, 'corp'))!;
      await records.run('UPDATE identity_providers SET sealed_secret = $1 WHERE zone_id = $2 AND id = $3', [row!.sealed_secret, b.id, onB.id]);
      expect(await code(() => store.clientSecret(onB))).toBe('SECRET_KEY_MISMATCH');
    });

    it('keeps the secret on an update without one, and replaces it with a new one', async () => {
      const idp = (await store.getByOrigin(a.id, 'corp'))!;
      const renamed = await store.update(a.id, idp.id, { ...input('corp', undefined), name: 'Renamed' } as never);
      expect(renamed.name).toBe('Renamed');
      expect(await store.clientSecret(renamed)).toBe(SECRET);
      const rotated = await store.update(a.id, idp.id, input('corp', 'a-new-secret-456'));
      expect(await store.clientSecret(rotated)).toBe('a-new-secret-456');
    });

    it('refuses a mapping to a role collection the zone does not have', async () => {
      const rc = (await directory.listRoleCollections(a.id))[0]!.name;
      expect(await store.replaceMappings(a.id, 'corp', [{ group: 'admins', roleCollection: rc }])).toEqual([{ group: 'admins', roleCollection: rc }]);
      expect(await code(() => store.replaceMappings(a.id, 'corp', [{ group: 'admins', roleCollection: 'Nope' }]))).toBe('ROLE_COLLECTION_UNKNOWN');
      expect(await store.mappings(a.id, 'corp')).toHaveLength(1);
      expect(await store.mappings(b.id, 'corp')).toEqual([]);
    });

    it('creates the shadow user once per origin, refreshes its profile, and replaces only mapped role collections', async () => {
      const [admin, viewer] = (await directory.listRoleCollections(a.id)).map((c) => c.name);
      await store.replaceMappings(a.id, 'corp', [
        { group: 'admins', roleCollection: admin! },
        { group: 'staff', roleCollection: viewer! },
      ]);
      const id = await store.recordLogin(a.id, 'corp', { userName: 'Alice', email: 'alice@corp.example' }, ['admins']);
      expect(await store.recordLogin(a.id, 'corp', { userName: 'alice', email: 'alice@new.example', givenName: 'Alice' }, ['admins', 'staff'])).toBe(id);
      let user = (await directory.getUser(a.id, id))!;
      expect(user).toMatchObject({ origin: 'corp', userName: 'alice', email: 'alice@new.example', givenName: 'Alice' });
      expect([...user.roleCollections].sort()).toEqual([admin, viewer].sort());
      // Viewer assigned directly too: it stays when the group goes; Admin, only mapped, goes.
      await directory.assignRoleCollection(a.id, id, viewer!);
      await store.recordLogin(a.id, 'corp', { userName: 'alice', email: 'alice@new.example' }, []);
      user = (await directory.getUser(a.id, id))!;
      expect(user.roleCollections).toEqual([viewer]);
      expect(await store.hasLocalPasswordUsers(a.id)).toBe(false);
      // The same name from the zone's own directory is another user (UAA: unique per origin).
      await directory.createUser(a.id, { userName: 'alice', email: 'alice@a.example', password: 'local-pass-123' });
      expect(await store.hasLocalPasswordUsers(a.id)).toBe(true);
      expect(await store.recordLogin(a.id, 'corp', { userName: 'alice', email: 'alice@new.example' }, [])).toBe(id);
    });

    it('keeps a SAML provider without a secret and a user backend with its shared secret sealed; neither type can change', async () => {
      const metaDataLocation = 'https://idp.example.com/saml/metadata';
      const saml = await store.create(b.id, readIdentityProvider({ type: 'saml', originKey: 'saml', config: { metaDataLocation } }));
      expect(saml).toMatchObject({ type: 'saml', hasSecret: false, config: { metaDataLocation, attributeMappings: { user_name: 'NameID' } } });
      const shared = 'the-shared-secret-of-the-backend-0123456789';
      const backend = await store.create(b.id, readIdentityProvider({ type: 'userbackend', originKey: 'users', config: { url: 'https://users.example.com/check', sharedSecret: shared } }));
      expect(backend).toMatchObject({ type: 'userbackend', hasSecret: true, config: { timeoutMs: 5000 } });
      const row = await records.one<{ config: string; sealed_secret: string }>('SELECT config, sealed_secret FROM identity_providers WHERE zone_id = $1 AND id = $2', [b.id, backend.id]);
      expect(row!.config + row!.sealed_secret).not.toContain(shared);
      expect(await store.clientSecret(backend)).toBe(shared);
      // A PUT without the secret keeps it; the type is fixed.
      const kept = await store.update(b.id, backend.id, readIdentityProvider({ config: { url: 'https://users.example.com/v2/check' } }, backend));
      expect(await store.clientSecret(kept)).toBe(shared);
      expect(() => readIdentityProvider({ type: 'saml', config: { metaDataLocation } }, backend)).toThrow(/type cannot change/);
      await store.remove(b.id, saml.id);
      await store.remove(b.id, backend.id);
    });

    it('goes with its zone, and its mappings with it', async () => {
      const idp = (await store.getByOrigin(b.id, 'corp'))!;
      expect(await store.remove(a.id, idp.id)).toBeUndefined();
      expect((await store.remove(b.id, idp.id))!.id).toBe(idp.id);
      await directory.deleteZone(a.id);
      expect(await records.all('SELECT id FROM identity_providers WHERE zone_id = $1', [a.id])).toEqual([]);
      expect(await records.all('SELECT group_value FROM role_collection_mappings WHERE zone_id = $1', [a.id])).toEqual([]);
    });
  });
}
