/**
 * A zone's identity providers and role collection mappings on the records database (migration 3),
 * and the shadow users their logins create. Every read and write names the zone: a zone can never
 * read, change or log in through another zone's provider (the zone is part of every key).
 *
 * The client secret (a user backend's shared secret) is sealed with ZONEGATE_SECRET_KEY under the associated data
 * `idp:<zone id>:<origin key>` (../directory/client-secret.ts), so a database dump yields no secret
 * and a sealed secret copied onto another zone's or provider's row fails to open.
 */
import { randomUUID } from 'node:crypto';
import type { Queries, RecordsDatabase } from '../../records/types.js';
import { UniqueViolation } from '../../records/types.js';
import { openSecret, sealSecret, type StoredSecret } from '../directory/client-secret.js';
import { DirectoryError } from '../directory/errors.js';
import { DEFAULT_ORIGIN } from '../directory/directory.js';
import type { ZoneDirectory } from '../directory/types.js';
import type { IdentityProviderInput } from './config.js';
import type { IdentityProvider, OidcConfig, RoleCollectionMapping, SamlConfig, UserBackendConfig } from './types.js';

type IdpRow = {
  zone_id: string;
  id: string;
  origin_key: string;
  type: string;
  name: string;
  config: string;
  sealed_secret: string | null;
  active: number;
  created_at: string;
  updated_at: string;
};

/** The profile an IdP asserted, as the shadow user keeps it. */
export interface ShadowProfile {
  userName: string;
  email: string;
  givenName?: string;
  familyName?: string;
}

export interface IdentityProviderStore {
  list(zoneId: string): Promise<IdentityProvider[]>;
  get(zoneId: string, id: string): Promise<IdentityProvider | undefined>;
  getByOrigin(zoneId: string, originKey: string): Promise<IdentityProvider | undefined>;
  /** DirectoryError IDENTITY_PROVIDER_EXISTS when the zone has a provider with this origin key. */
  create(zoneId: string, input: IdentityProviderInput): Promise<IdentityProvider>;
  update(zoneId: string, id: string, input: IdentityProviderInput): Promise<IdentityProvider>;
  /** Removes the provider and its mappings; its shadow users stay (UAA keeps them too) but can no longer log in. */
  remove(zoneId: string, id: string): Promise<IdentityProvider | undefined>;
  /** The provider's client secret, opened. */
  clientSecret(idp: IdentityProvider): Promise<string>;
  mappings(zoneId: string, originKey: string): Promise<RoleCollectionMapping[]>;
  /** Replaces the provider's mappings; ROLE_COLLECTION_UNKNOWN for a role collection the zone does not have. */
  replaceMappings(zoneId: string, originKey: string, mappings: RoleCollectionMapping[]): Promise<RoleCollectionMapping[]>;
  /** Whether the zone has a user of its own who can sign in with a password (then its login page stays). */
  hasLocalPasswordUsers(zoneId: string): Promise<boolean>;
  /**
   * After a login at the provider: creates or updates the shadow user (unique per zone, origin and
   * user name), and makes its mapped role collections those the groups map to now, leaving the
   * directly assigned ones alone. Returns the user's id.
   */
  recordLogin(zoneId: string, originKey: string, profile: ShadowProfile, groups: string[]): Promise<string>;
}

const COLUMNS = 'zone_id, id, origin_key, type, name, config, sealed_secret, active, created_at, updated_at';

function providerOf(row: IdpRow): IdentityProvider {
  const base = {
    id: row.id,
    zoneId: row.zone_id,
    originKey: row.origin_key,
    name: row.name,
    active: row.active === 1,
    hasSecret: row.sealed_secret !== null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.type === 'saml') return { ...base, type: 'saml', config: JSON.parse(row.config) as SamlConfig };
  if (row.type === 'userbackend') return { ...base, type: 'userbackend', config: JSON.parse(row.config) as UserBackendConfig };
  return { ...base, type: 'oidc1.0', config: JSON.parse(row.config) as OidcConfig };
}

const secretContext = (zoneId: string, originKey: string) => `idp:${zoneId}:${originKey}`;

export function createIdentityProviderStore(
  records: RecordsDatabase,
  directory: ZoneDirectory,
  options: { secretKey?: Uint8Array; now?: () => Date } = {},
): IdentityProviderStore {
  const now = options.now ?? (() => new Date());

  async function requireZone(zoneId: string): Promise<string> {
    const zone = await directory.getZone(zoneId);
    if (!zone) throw new DirectoryError('ZONE_NOT_FOUND', `Zone ${zoneId} does not exist`);
    return zone.id;
  }

  async function get(zoneId: string, id: string): Promise<IdentityProvider | undefined> {
    const row = await records.one<IdpRow>(`SELECT ${COLUMNS} FROM identity_providers WHERE zone_id = $1 AND id = $2`, [zoneId, id]);
    return row && providerOf(row);
  }

  async function getByOrigin(zoneId: string, originKey: string): Promise<IdentityProvider | undefined> {
    const row = await records.one<IdpRow>(`SELECT ${COLUMNS} FROM identity_providers WHERE zone_id = $1 AND origin_key = $2`, [zoneId, originKey]);
    return row && providerOf(row);
  }

  const conflict = (originKey: string) => new DirectoryError('IDENTITY_PROVIDER_EXISTS', `An identity provider with originKey "${originKey}" already exists in this zone`);

  async function requireRoleCollections(zoneId: string, names: string[]): Promise<void> {
    const known = new Set((await directory.listRoleCollections(zoneId, { includeBuiltIn: true })).map((c) => c.name));
    const unknown = [...new Set(names.filter((n) => !known.has(n)))];
    if (unknown.length > 0) {
      throw new DirectoryError('ROLE_COLLECTION_UNKNOWN', `roleCollection: ${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length > 1 ? 'are no role collections' : 'is no role collection'} of this zone`);
    }
  }

  return {
    async list(zoneId) {
      const id = await requireZone(zoneId);
      const rows = await records.all<IdpRow>(`SELECT ${COLUMNS} FROM identity_providers WHERE zone_id = $1 ORDER BY origin_key`, [id]);
      return rows.map(providerOf);
    },
    get,
    getByOrigin,
    async create(zoneIdInput, input) {
      const zoneId = await requireZone(zoneIdInput);
      // OpenID providers need their client secret, user backends their shared secret; a SAML provider has none (the IdP signs, the zone checks).
      if (input.secret === undefined && input.type !== 'saml') throw new DirectoryError('INVALID_INPUT', `config.${input.type === 'oidc1.0' ? 'relyingPartySecret' : 'sharedSecret'} is required`);
      const at = now().toISOString();
      const id = randomUUID();
      const sealed: StoredSecret | null = input.secret === undefined ? null : sealSecret(input.secret, options.secretKey, secretContext(zoneId, input.originKey));
      try {
        await records.run(
          `INSERT INTO identity_providers (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [zoneId, id, input.originKey, input.type, input.name, JSON.stringify(input.config), sealed === null ? null : JSON.stringify(sealed), input.active ? 1 : 0, at, at],
        );
      } catch (err) {
        if (err instanceof UniqueViolation) throw conflict(input.originKey);
        // A zone deleted meanwhile: the foreign key refuses the row.
        if (!(await directory.getZone(zoneId))) throw new DirectoryError('ZONE_NOT_FOUND', `Zone ${zoneId} does not exist`);
        throw err;
      }
      return (await get(zoneId, id))!;
    },
    async update(zoneId, id, input) {
      const at = now().toISOString();
      const sealed = input.secret === undefined ? undefined : JSON.stringify(sealSecret(input.secret, options.secretKey, secretContext(zoneId, input.originKey)));
      const changed = await records.run(
        `UPDATE identity_providers SET name = $1, config = $2, active = $3, updated_at = $4${sealed === undefined ? '' : ', sealed_secret = $7'}
         WHERE zone_id = $5 AND id = $6`,
        [input.name, JSON.stringify(input.config), input.active ? 1 : 0, at, zoneId, id, ...(sealed === undefined ? [] : [sealed])],
      );
      if (changed === 0) throw new DirectoryError('IDENTITY_PROVIDER_NOT_FOUND', 'Identity provider not found');
      return (await get(zoneId, id))!;
    },
    async remove(zoneId, id) {
      const idp = await get(zoneId, id);
      if (!idp) return undefined;
      // Its mappings go with it (ON DELETE CASCADE); what they assigned stays until the user's next login elsewhere or an admin removes it.
      await records.run('DELETE FROM identity_providers WHERE zone_id = $1 AND id = $2', [zoneId, id]);
      return idp;
    },
    async clientSecret(idp) {
      const row = await records.one<{ sealed_secret: string | null }>('SELECT sealed_secret FROM identity_providers WHERE zone_id = $1 AND id = $2', [idp.zoneId, idp.id]);
      if (!row?.sealed_secret) throw new DirectoryError('SECRET_KEY_MISMATCH', `The identity provider ${idp.originKey} has no client secret`);
      return openSecret(JSON.parse(row.sealed_secret) as StoredSecret, options.secretKey, secretContext(idp.zoneId, idp.originKey));
    },
    async mappings(zoneId, originKey) {
      const rows = await records.all<{ group_value: string; role_collection: string }>(
        'SELECT group_value, role_collection FROM role_collection_mappings WHERE zone_id = $1 AND origin_key = $2 ORDER BY group_value, role_collection',
        [zoneId, originKey],
      );
      return rows.map((r) => ({ group: r.group_value, roleCollection: r.role_collection }));
    },
    async replaceMappings(zoneId, originKey, mappings) {
      await requireRoleCollections(zoneId, mappings.map((m) => m.roleCollection));
      await records.transaction(async (tx) => {
        const idp = await tx.one('SELECT id FROM identity_providers WHERE zone_id = $1 AND origin_key = $2 FOR UPDATE', [zoneId, originKey]);
        if (!idp) throw new DirectoryError('IDENTITY_PROVIDER_NOT_FOUND', 'Identity provider not found');
        await tx.run('DELETE FROM role_collection_mappings WHERE zone_id = $1 AND origin_key = $2', [zoneId, originKey]);
        for (const m of mappings) {
          await tx.run('INSERT INTO role_collection_mappings (zone_id, origin_key, group_value, role_collection) VALUES ($1, $2, $3, $4)', [
            zoneId,
            originKey,
            m.group,
            m.roleCollection,
          ]);
        }
      });
      return this.mappings(zoneId, originKey);
    },
    async hasLocalPasswordUsers(zoneId) {
      const row = await records.one('SELECT 1 AS one FROM users WHERE zone_id = $1 AND origin = $2 AND password_hash IS NOT NULL LIMIT 1', [zoneId, DEFAULT_ORIGIN]);
      return row !== undefined;
    },
    async recordLogin(zoneId, originKey, profile, groups) {
      const work = (tx: Queries) => recordLoginIn(tx, zoneId, originKey, profile, groups);
      try {
        return await records.transaction(work);
      } catch (err) {
        // Two first logins of one user at once: the second finds the row the first created.
        if (!(err instanceof UniqueViolation)) throw err;
        return records.transaction(work);
      }
    },
  };
}

/**
 * Creates or updates the user of `origin` named `profile.userName` in the zone (unique per zone,
 * origin and user name), with no password: such a user signs in only through where it came from (an
 * identity provider, a trusted platform). Locks the zone's row first, as the directory's writes do: a
 * zone being deleted takes no new user half-way (DirectoryError ZONE_NOT_FOUND). Returns the user's id.
 */
export async function upsertShadowUser(tx: Queries, zoneId: string, origin: string, profile: ShadowProfile): Promise<string> {
  if (!(await tx.one('SELECT id FROM zones WHERE id = $1 FOR UPDATE', [zoneId]))) throw new DirectoryError('ZONE_NOT_FOUND', `Zone ${zoneId} does not exist`);
  const lower = profile.userName.toLowerCase();
  const existing = await tx.one<{ id: string }>('SELECT id FROM users WHERE zone_id = $1 AND origin = $2 AND user_name_lower = $3 FOR UPDATE', [zoneId, origin, lower]);
  let userId: string;
  if (existing) {
    userId = existing.id;
    await tx.run('UPDATE users SET user_name = $1, email = $2, given_name = $3, family_name = $4 WHERE zone_id = $5 AND id = $6', [
      profile.userName,
      profile.email,
      profile.givenName ?? null,
      profile.familyName ?? null,
      zoneId,
      userId,
    ]);
  } else {
    userId = randomUUID();
    await tx.run(
      `INSERT INTO users (zone_id, id, user_name, user_name_lower, origin, email, given_name, family_name, attributes, password_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)`,
      [zoneId, userId, profile.userName, lower, origin, profile.email, profile.givenName ?? null, profile.familyName ?? null, '{}'],
    );
  }
  return userId;
}

async function recordLoginIn(tx: Queries, zoneId: string, originKey: string, profile: ShadowProfile, groups: string[]): Promise<string> {
  const userId = await upsertShadowUser(tx, zoneId, originKey, profile);
  const wanted = new Set<string>();
  if (groups.length > 0) {
    const placeholders = groups.map((_, i) => `$${i + 3}`).join(', ');
    const rows = await tx.all<{ role_collection: string }>(
      `SELECT DISTINCT role_collection FROM role_collection_mappings WHERE zone_id = $1 AND origin_key = $2 AND group_value IN (${placeholders}) ORDER BY role_collection`,
      [zoneId, originKey, ...groups],
    );
    for (const r of rows) wanted.add(r.role_collection);
  }
  // XSUAA applies the mappings at each login: what this origin mapped before and maps no more goes;
  // direct assignments (mapped_from NULL) are never touched.
  const held = await tx.all<{ role_collection: string; mapped_from: string | null }>(
    'SELECT role_collection, mapped_from FROM user_role_collections WHERE zone_id = $1 AND user_id = $2',
    [zoneId, userId],
  );
  for (const row of held) {
    if (row.mapped_from === originKey && !wanted.has(row.role_collection)) {
      await tx.run('DELETE FROM user_role_collections WHERE zone_id = $1 AND user_id = $2 AND role_collection = $3', [zoneId, userId, row.role_collection]);
    }
  }
  const heldNames = new Set(held.map((r) => r.role_collection));
  for (const name of wanted) {
    if (heldNames.has(name)) continue;
    await tx.run(
      `INSERT INTO user_role_collections (zone_id, user_id, role_collection, position, mapped_from)
       SELECT $1, $2, $3, COALESCE(MAX(position), 0) + 1, $4 FROM user_role_collections WHERE zone_id = $1 AND user_id = $2
       ON CONFLICT (zone_id, user_id, role_collection) DO NOTHING`,
      [zoneId, userId, name, originKey],
    );
  }
  return userId;
}
