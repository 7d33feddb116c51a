/**
 * The trusted-platform and relay records (migration 6) and the platform's users, as a contract run
 * on every records backend: SQLite (./records.sqlite.test.ts) and PostgreSQL (./records.postgres.test.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordPlatformUser } from '../../src/platform/autologin.js';
import { createRelayInstallations } from '../../src/platform/relay.js';
import { createTrustedPlatforms, readPlatformInput } from '../../src/platform/trusted-platforms.js';
import { migrate } from '../../src/records/migrate.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { createZoneDirectory } from '../../src/zones/directory/directory.js';
import type { Zone, ZoneDirectory } from '../../src/zones/directory/types.js';
import { FAST_HASHING, securityFor } from '../zones/directory/fixtures.js';

export function describePlatformRecords(name: string, open: () => Promise<RecordsDatabase>): void {
  describe(`platform records on ${name}`, () => {
    let records: RecordsDatabase;
    let directory: ZoneDirectory;
    let zone: Zone;
    let xsappname: string;

    beforeAll(async () => {
      records = await open();
      await migrate(records);
      directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING, secretKey: randomBytes(32) });
      const provider = await directory.createZone({ subdomain: `p${randomBytes(4).toString('hex')}` });
      xsappname = `app${randomBytes(3).toString('hex')}`;
      const { application } = await directory.registerApplication(securityFor(xsappname), provider.id);
      zone = await directory.createZone({ subdomain: `t${randomBytes(4).toString('hex')}` });
      await directory.subscribe(application, zone.id);
    });
    afterAll(async () => {
      await records?.close();
    });

    it('registers, updates and removes platforms; an id is registered once', async () => {
      const platforms = createTrustedPlatforms(records);
      const input = await readPlatformInput({ id: 'tix', jwksUri: 'https://tix.example.com/jwks', subdomainPattern: 'tix-*', roleCollections: ['A', 'A', 'B'] });
      expect(input.roleCollections).toEqual(['A', 'B']);
      const created = await platforms.create(input);
      expect(created).toMatchObject({ id: 'tix', name: 'tix', jwksUri: 'https://tix.example.com/jwks', subdomainPattern: 'tix-*', roleCollections: ['A', 'B'] });
      await expect(platforms.create(input)).rejects.toMatchObject({ code: 'ZG_ERR_ADMIN_CONFLICT' });
      const updated = await platforms.update({ ...input, subdomainPattern: 'tix-eu-*', roleCollections: [] });
      expect(updated).toMatchObject({ subdomainPattern: 'tix-eu-*', roleCollections: [] });
      await expect(platforms.update({ ...input, id: 'nobody' })).rejects.toMatchObject({ code: 'ZG_ERR_ADMIN_NOT_FOUND' });
      expect((await platforms.list()).map((p) => p.id)).toEqual(['tix']);
    });

    it('claims an organization once, even when many claim it at once; a tenant has one owner; removal forgets the claims', async () => {
      const platforms = createTrustedPlatforms(records);
      await platforms.create(await readPlatformInput({ id: 'other', jwksUri: 'https://o.example.com/jwks', subdomainPattern: 'o-*' }));
      const claims = await Promise.all(Array.from({ length: 8 }, () => platforms.claimOrganization('tix', 'org-1', randomUUID())));
      expect(new Set(claims.map((c) => c.tenantId)).size).toBe(1);
      expect(claims.filter((c) => c.claimed)).toHaveLength(1);
      const tenantId = claims[0]!.tenantId;
      expect(await platforms.ownerOf(tenantId)).toEqual({ platformId: 'tix', organizationId: 'org-1' });
      // The same organization id at another platform is another organization.
      expect((await platforms.claimOrganization('other', 'org-1', randomUUID())).tenantId).not.toBe(tenantId);
      // A tenant belongs to one platform: another cannot claim it for one of its organizations.
      await expect(platforms.claimOrganization('other', 'org-2', tenantId)).rejects.toThrow();
      await platforms.remove('tix');
      expect(await platforms.ownerOf(tenantId)).toBeUndefined();
      expect(await platforms.get('tix')).toBeUndefined();
    });

    it('keeps a relay installation\'s secret only as a hash and authenticates it in constant time', async () => {
      const installations = createRelayInstallations(records);
      const { secret } = await installations.create({ id: 'shop', name: 'Shop', callbackUrls: ['https://shop.example.com/cb'] });
      const row = await records.one<Record<string, string>>('SELECT * FROM relay_installations WHERE id = $1', ['shop']);
      expect(JSON.stringify(row)).not.toContain(secret);
      expect((await installations.authenticate('shop', secret))?.id).toBe('shop');
      expect(await installations.authenticate('shop', `${secret}x`)).toBeUndefined();
      expect(await installations.authenticate('nobody', secret)).toBeUndefined();
      await expect(installations.create({ id: 'shop', name: 'x', callbackUrls: ['https://x.example.com'] })).rejects.toMatchObject({ code: 'ZG_ERR_ADMIN_CONFLICT' });
      expect((await installations.remove('shop'))?.id).toBe('shop');
      expect(await installations.get('shop')).toBeUndefined();
    });

    it("records a platform's user apart from the zone's own, and replaces only what the platform granted", async () => {
      const viewer = `${xsappname}_Viewer`;
      const admin = `${xsappname}_Administrator`;
      const local = await directory.createUser(zone.id, { userName: 'jane', email: 'jane@local.example', password: 'local-password-1', roleCollections: [admin] });
      const profile = { userName: 'Jane', email: 'jane@tix.example', givenName: 'Jane' };
      const concurrent = await Promise.all([1, 2, 3].map(() => recordPlatformUser(records, zone.id, 'tix', profile, [viewer])));
      expect(new Set(concurrent).size).toBe(1);
      const userId = concurrent[0]!;
      expect(userId).not.toBe(local.id);
      expect(await directory.getUser(zone.id, userId)).toMatchObject({ userName: 'Jane', origin: 'tix', roleCollections: [viewer] });
      await directory.assignRoleCollection(zone.id, userId, admin);
      expect(await recordPlatformUser(records, zone.id, 'tix', { ...profile, userName: 'jane', email: 'j@tix.example' }, [])).toBe(userId);
      expect(await directory.getUser(zone.id, userId)).toMatchObject({ userName: 'jane', email: 'j@tix.example', roleCollections: [admin] });
      expect((await directory.getUser(zone.id, local.id))!.roleCollections).toEqual([admin]);
      expect(await directory.hasPassword(zone.id, userId)).toBe(false);
    });
  });
}
