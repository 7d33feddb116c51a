/**
 * An earlier release's keyspace, written into a real Storage for `zonegate db import` to read: the
 * zone directory through that release's own code (./directory-on-storage.ts), the signing keys and
 * tenant records in the exact JSON that the keystore and provisioning wrote (`zkeys:<zone>`,
 * `prov:tenant:<id>`), which are no longer written by this build once they move to the records.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Storage } from '../../../src/storage/types.js';
import { sealSecret } from '../../../src/zones/directory/client-secret.js';
import type { Application, User, Zone } from '../../../src/zones/directory/types.js';
import { ZONE_ADMIN_ROLE_COLLECTION } from '../../../src/zones/directory/admin-client.js';
import { FAST_SCRYPT, securityFor } from '../../zones/directory/fixtures.js';
import { createZoneDirectory } from './directory-on-storage.js';

export const ALICE_PASSWORD = 'correct horse battery';

export interface OldKey {
  kid: string;
  pem: string;
  createdAt: number;
  publishUntil?: number;
  active: boolean;
}

/** What was written, for the assertions: every record, and the secrets as the operator knows them. */
export interface OldKeyspace {
  provider: Zone;
  acme: Zone;
  /** A zone without users, keys or tenant record. */
  empty: Zone;
  shop: { application: Application; clientSecret: string };
  /** Registered without a secret key: its client secret is stored in clear (`alg: none`). */
  legacy: { application: Application; clientSecret: string };
  admin: { application: Application; clientSecret: string };
  alice: User;
  bob: User;
  /** The provider zone's keys, sealed (one rotated out, one active). */
  providerKeys: OldKey[];
  /** acme's keys, as releases before sealing wrote them: `privatePem` in clear. */
  acmeKeys: OldKey[];
  tenant: Record<string, string>;
  /** dir:app-seq: one more than the highest N of an application (a registration that failed half-way). */
  appSeq: number;
}

function rsaKey(createdAt: number, active: boolean, publishUntil?: number): OldKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('base64url').slice(0, 22);
  return { kid, pem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, createdAt, active, ...(publishUntil ? { publishUntil } : {}) };
}

/** Writes the old keyspace into `storage`, sealed with `secretKey`. */
export async function writeOldKeyspace(storage: Storage, secretKey: Uint8Array): Promise<OldKeyspace> {
  const directory = createZoneDirectory(storage, { secretKey, passwordHashing: FAST_SCRYPT });
  const provider = await directory.createZone({ id: 'provider-zone-id', subdomain: 'provider', name: 'Provider' });
  const acme = await directory.createZone({ id: '6d1b6f4e-8a3c-4d3e-9b1a-0c2f7e5a9d10', subdomain: 'acme', name: 'ACME Corp.', branding: { title: 'ACME', color: '#0a6ed1' } });
  const empty = await directory.createZone({ subdomain: 'empty' });
  const shop = await directory.registerApplication(securityFor('shop', 'shared'), provider.id);
  // A release run without ZONEGATE_SECRET_KEY kept the client secret in clear.
  const legacy = await createZoneDirectory(storage, { passwordHashing: FAST_SCRYPT }).registerApplication(securityFor('legacy', 'dedicated'), provider.id);
  const admin = await directory.ensureAdminClient({ zonesAdminZoneId: provider.id });
  await directory.subscribe(shop.application, acme.id);
  await directory.createRoleCollection(acme.id, { name: 'Auditors', roleTemplates: ['Viewer'] });
  const created = await directory.createUser(acme.id, {
    userName: 'Alice@Example.com',
    email: 'alice@example.com',
    givenName: 'Alice',
    attributes: { Country: ['DE'] },
    roleCollections: ['shop_Administrator'],
    password: ALICE_PASSWORD,
  });
  const alice = await directory.assignRoleCollection(acme.id, created.id, 'Auditors');
  const bob = await directory.createUser(provider.id, { userName: 'bob', email: 'bob@example.com', roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
  const appSeq = await storage.increment('dir:app-seq');

  const now = Date.UTC(2026, 0, 15);
  const providerKeys = [rsaKey(now - 86_400_000, false, now + 3_600_000), rsaKey(now, true)];
  await storage.set(
    `zkeys:${provider.id}`,
    JSON.stringify({
      activeKid: providerKeys[1]!.kid,
      keys: providerKeys.map((k) => ({
        kid: k.kid,
        sealedPem: sealSecret(k.pem, secretKey, `zkeys:${provider.id}:${k.kid}`),
        createdAt: k.createdAt,
        ...(k.publishUntil ? { publishUntil: k.publishUntil } : {}),
      })),
    }),
  );
  const acmeKeys = [rsaKey(now, true)];
  await storage.set(`zkeys:${acme.id}`, JSON.stringify({ activeKid: acmeKeys[0]!.kid, keys: acmeKeys.map((k) => ({ kid: k.kid, privatePem: k.pem, createdAt: k.createdAt })) }));

  const tenant = {
    tenantId: acme.id,
    subdomain: 'acme',
    subscribedAt: '2026-01-10T09:00:00.000Z',
    updatedAt: '2026-01-12T09:00:00.000Z',
    globalAccountId: 'ga-1',
    subscriptionAppName: 'shop',
    admin: 'Alice@Example.com',
  };
  await storage.set(`prov:tenant:${acme.id}`, JSON.stringify(tenant));
  return { provider, acme, empty, shop, legacy, admin, alice, bob, providerKeys, acmeKeys, tenant, appSeq };
}
