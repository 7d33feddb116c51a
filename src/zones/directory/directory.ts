/**
 * The zone directory on the records database (src/records/): zones, the registered applications and
 * their clients, users and role collections (see ./types.ts for the interface and REFERENCE.md §5 for
 * the XSUAA rules it follows). Tables: migration 1 in src/records/schema.ts.
 *
 * Uniqueness (subdomain, user name per zone and origin, client id, instance number N) is the
 * database's: a write that would break it fails with UniqueViolation, mapped here to the
 * DirectoryError callers know; nothing is read first to decide. Read-modify-write runs in one
 * transaction that locks the rows it reads (`SELECT ... FOR UPDATE`), and a write into a zone locks
 * the zone's row, so a zone being deleted takes nothing new with it half-way. An unreachable database
 * rejects with the GatewayError ZG_ERR_DATABASE_UNAVAILABLE (503), passed on unchanged.
 */
import { randomUUID } from 'node:crypto';
import type { XsSecurity } from '../../config/types.js';
import { ACCEPT_GRANTED_AUTHORITIES, grantedAppName, OWN_PREFIX, parseForeignScope, UAA_RESOURCE, UAA_USER } from '../../config/xs-references.js';
import { UniqueViolation } from '../../records/types.js';
import type { Queries, RecordsDatabase } from '../../records/types.js';
import {
  ADMIN_CLIENT_ID,
  ADMIN_XSAPPNAME,
  DEFAULT_ADMIN_REDIRECT_URIS,
  ZONE_ADMIN_COLLECTION,
  ZONE_ADMIN_ROLE_COLLECTION,
  adminApplication,
  isAdminClient,
  isAdminScope,
  zoneAdminScopes,
} from './admin-client.js';
import { DirectoryError } from './errors.js';
import {
  checkAttributes,
  checkBranding,
  checkEmail,
  checkNameList,
  checkOrigin,
  checkText,
  checkUserName,
  invalid,
  normaliseSubdomain,
  normaliseZoneId,
  optionalText,
} from './validation.js';
import type { StoredSecret } from './client-secret.js';
import { digestSecret, generateClientSecret, openSecret, sealSecret, secretMatchesDigest } from './client-secret.js';
import type { Argon2Params } from './password.js';
import { DEFAULT_ARGON2, burnPasswordCheck, checkArgon2Params, hashPassword, needsRehash, verifyPasswordHash } from './password.js';
import type { Application, NewUser, RoleTemplate, User, Zone, ZoneDirectory } from './types.js';

export interface ZoneDirectoryOptions {
  /** 32 bytes; seals the client secrets in storage (see ./client-secret.ts). Supplied by the entry point. */
  secretKey?: Uint8Array;
  /**
   * argon2id cost of new password hashes; default OWASP's m = 19 MiB, t = 2, p = 1 (./password.ts).
   * A stored hash below it (or a scrypt one) is replaced on the user's next successful login.
   */
  passwordHashing?: Argon2Params;
  /** NIST SP 800-63B §5.1.1.2 asks for at least 8 characters; default 8. */
  minPasswordLength?: number;
  now?: () => Date;
}

/** XSUAA's name for the default identity provider of a subaccount; users created here come from it. */
export const DEFAULT_ORIGIN = 'sap.default';

const MAX_PASSWORD_LENGTH = 1024;

interface StoredApplication {
  application: Application;
  secretDigest: string;
  secret: StoredSecret;
}

interface StoredUser {
  user: User;
  passwordHash?: string;
}

type RoleCollection = { name: string; roleTemplates: string[] };

type ZoneRow = {
  id: string;
  subdomain: string;
  name: string;
  branding: string | null;
  created_at: string;
};

type ApplicationRow = {
  application: string;
  secret_digest: string;
  sealed_secret: string;
};

type UserRow = {
  zone_id: string;
  id: string;
  user_name: string;
  origin: string;
  email: string;
  given_name: string | null;
  family_name: string | null;
  attributes: string;
  password_hash: string | null;
};

const USER_COLUMNS = 'zone_id, id, user_name, origin, email, given_name, family_name, attributes, password_hash';
const APPLICATION_COLUMNS = 'application, secret_digest, sealed_secret';

function zoneOf(row: ZoneRow): Zone {
  const zone: Zone = { id: row.id, subdomain: row.subdomain, name: row.name, createdAt: row.created_at };
  if (row.branding !== null) zone.branding = JSON.parse(row.branding) as Zone['branding'];
  return zone;
}

function storedApplicationOf(row: ApplicationRow): StoredApplication {
  return {
    application: JSON.parse(row.application) as Application,
    secretDigest: row.secret_digest,
    secret: JSON.parse(row.sealed_secret) as StoredSecret,
  };
}

function storedUserOf(row: UserRow, roleCollections: string[]): StoredUser {
  const user: User = {
    id: row.id,
    zoneId: row.zone_id,
    userName: row.user_name,
    email: row.email,
    origin: row.origin,
    attributes: JSON.parse(row.attributes) as Record<string, string[]>,
    roleCollections,
  };
  if (row.given_name !== null) user.givenName = row.given_name;
  if (row.family_name !== null) user.familyName = row.family_name;
  return row.password_hash === null ? { user } : { user, passwordHash: row.password_hash };
}

/**
 * Whether a UniqueViolation is of the constraint guarding `column`: PostgreSQL names the constraint
 * (`zones_subdomain_unique`), SQLite the columns (`zones.subdomain`); src/records/schema.ts names
 * every constraint after its column.
 */
function violates(err: unknown, column: string): boolean {
  return err instanceof UniqueViolation && (err.constraint ?? err.message).includes(column);
}

export function createZoneDirectory(records: RecordsDatabase, options: ZoneDirectoryOptions = {}): ZoneDirectory {
  const hashing = options.passwordHashing ?? DEFAULT_ARGON2;
  checkArgon2Params(hashing);
  if (options.secretKey && options.secretKey.length !== 32) throw new RangeError('secretKey must be 32 bytes (AES-256)');
  const minPasswordLength = options.minPasswordLength ?? 8;
  const now = options.now ?? (() => new Date());

  /**
   * Runs a transaction that creates a row keyed by xsappname, once more when another instance created
   * the same row first: the repeat finds it and takes the update path (one instance, one secret).
   */
  async function upsertApplication<T>(work: (tx: Queries) => Promise<T>): Promise<T> {
    try {
      return await records.transaction(work);
    } catch (err) {
      if (!violates(err, 'applications_pkey') && !violates(err, 'applications.xsappname')) throw err;
      return records.transaction(work);
    }
  }

  /**
   * A write into a zone, in one transaction that holds the zone's row: a zone deleted meanwhile is
   * deleted before or after it, never half-way (no user row left pointing at nothing).
   */
  async function inZone<T>(zoneId: string, work: (tx: Queries, zone: Zone) => Promise<T>): Promise<T> {
    return records.transaction(async (tx) => {
      const row = await tx.one<ZoneRow>('SELECT * FROM zones WHERE id = $1 FOR UPDATE', [zoneId.toLowerCase()]);
      if (!row) throw new DirectoryError('ZONE_NOT_FOUND', `Zone ${zoneId} does not exist`);
      return work(tx, zoneOf(row));
    });
  }

  // ---- applications -----------------------------------------------------------------------------

  function buildApplication(security: XsSecurity, instanceName: string, providerZoneId: string): Application {
    const expand = (s: string) => s.replaceAll('$XSAPPNAME', instanceName);
    // A role collection names templates as `$XSAPPNAME.<Template>`; of this app's we keep the bare
    // template name, a foreign app's reference stays as written (it grants nothing here).
    const templateRef = (ref: string) => {
      const expanded = expand(ref);
      return expanded.startsWith(`${instanceName}.`) ? expanded.slice(instanceName.length + 1) : expanded;
    };
    const o = security.oauth2Configuration;
    const own = (s: string) => s.startsWith(`${instanceName}.`);
    const scopes = [...new Set(security.scopes.map((s) => expand(s.name)))];
    // checkOnlyOwnGrants has refused anything else; the classification follows xs-references.ts.
    const foreignAuthorities = security.authorities.map(parseForeignScope).filter((r) => r !== undefined);
    const authorityGrants = security.scopes
      .map((s) => ({ scope: expand(s.name), apps: [...new Set(s.grantAsAuthorityToApps.map(grantedAppName).filter((a) => a !== undefined))] }))
      .filter((g) => own(g.scope) && g.apps.length > 0);
    return {
      xsappname: security.xsappname,
      instanceName,
      clientId: `sb-${instanceName}`,
      ...(security.description !== undefined ? { description: security.description } : {}),
      tenantMode: security.tenantMode,
      providerZoneId,
      scopes,
      authorities: [...new Set(security.authorities.filter((a) => !parseForeignScope(a) && a !== ACCEPT_GRANTED_AUTHORITIES).map(expand))],
      authorityGrants,
      foreignAuthorities,
      acceptGrantedAuthorities: security.authorities.includes(ACCEPT_GRANTED_AUTHORITIES),
      roleTemplates: security.roleTemplates.map((t) => ({
        name: t.name,
        scopes: t.scopeReferences.map(expand),
        attributes: [...t.attributeReferences],
        ...(t.attributeDefaultValues ? { attributeDefaults: structuredClone(t.attributeDefaultValues) } : {}),
      })),
      roleCollections: security.roleCollections.map((c) => ({
        name: expand(c.name),
        roleTemplates: c.roleTemplateReferences.map(templateRef),
      })),
      redirectUris: [...o.redirectUris],
      grantTypes: [...o.grantTypes],
      tokenValiditySeconds: o.tokenValidity,
      refreshTokenValiditySeconds: o.refreshTokenValidity,
    };
  }

  /**
   * An application must never reach the admin API: its scopes and authorities may not name the admin
   * client's (`scim.*`, `zones.*`), nor may it define the built-in role collection's name.
   */
  function checkNoAdminGrants(security: XsSecurity): void {
    const reserved = [
      ...security.scopes.map((s) => s.name),
      ...security.authorities,
      ...security.roleTemplates.flatMap((t) => t.scopeReferences),
    ].filter(isAdminScope);
    if (reserved.length > 0) {
      throw invalid(`${security.xsappname}: the scopes ${[...new Set(reserved)].join(', ')} are reserved for the zone administration client ${ADMIN_CLIENT_ID}`);
    }
    if (security.roleCollections.some((c) => c.name === ZONE_ADMIN_ROLE_COLLECTION)) {
      throw invalid(`${security.xsappname}: the role collection name "${ZONE_ADMIN_ROLE_COLLECTION}" is reserved for the built-in one`);
    }
  }

  /**
   * An application declares only its own scopes and authorities (src/config/security.ts refuses the
   * rest with the JSON path; this is the same rule for descriptors that did not come through the
   * loader). Another application's scope as its scope or authority would put that scope into this
   * client's tokens: `victim!t1.Callback` made any registered client a SaaS registry.
   */
  function checkOnlyOwnGrants(security: XsSecurity): void {
    const foreign = [
      ...security.scopes.map((s) => s.name).filter((n) => !n.startsWith(OWN_PREFIX) && n !== UAA_USER),
      ...security.authorities.filter((a) => !a.startsWith(OWN_PREFIX) && a !== UAA_RESOURCE && a !== ACCEPT_GRANTED_AUTHORITIES && !parseForeignScope(a)),
    ];
    if (foreign.length > 0) {
      throw invalid(
        `${security.xsappname}: ${[...new Set(foreign)].join(', ')} ${foreign.length > 1 ? 'are' : 'is'} not this application's; it may declare "$XSAPPNAME.<scope>" and receive another application's scopes only through that application's grants`,
      );
    }
  }

  /**
   * Defence in depth for records written before these rules existed: an application's reserved
   * scopes, and scopes or authorities outside its own namespace, are dropped on every read, so no
   * grant can ever put them into its tokens.
   */
  function withoutForeignGrants(application: Application): Application {
    if (isAdminClient(application)) return application;
    const own = (s: string) => s.startsWith(`${application.instanceName}.`);
    const scopeOk = (s: string) => !isAdminScope(s) && (own(s) || s === UAA_USER);
    const authorityOk = (s: string) => !isAdminScope(s) && (own(s) || s === UAA_RESOURCE);
    if (application.scopes.every(scopeOk) && application.authorities.every(authorityOk)) return application;
    return { ...application, scopes: application.scopes.filter(scopeOk), authorities: application.authorities.filter(authorityOk) };
  }

  async function storedApplication(queries: Queries, xsappname: string, lock = false): Promise<StoredApplication | undefined> {
    const row = await queries.one<ApplicationRow>(`SELECT ${APPLICATION_COLUMNS} FROM applications WHERE xsappname = $1${lock ? ' FOR UPDATE' : ''}`, [xsappname]);
    return row && storedApplicationOf(row);
  }

  async function getApplication(xsappname: string): Promise<Application | undefined> {
    const application = (await storedApplication(records, xsappname))?.application;
    return application && withoutForeignGrants(application);
  }

  async function ensureAdminClient(input: { zonesAdminZoneId?: string; redirectUris?: readonly string[] } = {}) {
    if (input.zonesAdminZoneId !== undefined) normaliseZoneId(input.zonesAdminZoneId);
    return upsertApplication(async (tx) => {
      const stored = await storedApplication(tx, ADMIN_XSAPPNAME, true);
      if (stored && !isAdminClient(stored.application)) {
        throw invalid(`An application named "${ADMIN_XSAPPNAME}" was registered before the name was reserved; delete it first`);
      }
      // Unset inputs keep what is stored: `keys rotate` and the CLI do not know the zones-admin zone.
      const zonesAdminZoneId = input.zonesAdminZoneId?.toLowerCase() ?? stored?.application.providerZoneId ?? '';
      const redirectUris = input.redirectUris ?? stored?.application.redirectUris ?? DEFAULT_ADMIN_REDIRECT_URIS;
      const application = adminApplication(zonesAdminZoneId, redirectUris);
      if (stored) {
        const secret = openSecret(stored.secret, options.secretKey, ADMIN_CLIENT_ID);
        if (JSON.stringify(application) !== JSON.stringify(stored.application)) {
          await tx.run('UPDATE applications SET application = $1, provider_zone_id = $2 WHERE xsappname = $3', [
            JSON.stringify(application),
            application.providerZoneId,
            ADMIN_XSAPPNAME,
          ]);
        }
        return { application, clientSecret: secret };
      }
      const secret = generateClientSecret();
      await insertApplication(tx, null, { application, secretDigest: digestSecret(secret), secret: sealSecret(secret, options.secretKey, ADMIN_CLIENT_ID) });
      return { application, clientSecret: secret };
    });
  }

  async function insertApplication(tx: Queries, instanceNumber: number | null, stored: StoredApplication): Promise<void> {
    const { application } = stored;
    await tx.run(
      `INSERT INTO applications (xsappname, instance_number, client_id, provider_zone_id, tenant_mode, application, secret_digest, sealed_secret)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        application.xsappname,
        instanceNumber,
        application.clientId,
        application.providerZoneId,
        application.tenantMode,
        JSON.stringify(application),
        stored.secretDigest,
        JSON.stringify(stored.secret),
      ],
    );
  }

  /** The next N of `<xsappname>!t<N>`: the counter row is locked until the transaction ends, so no two registrations share one. */
  async function nextInstanceNumber(tx: Queries): Promise<number> {
    const row = await tx.one<{ value: number }>(
      `INSERT INTO directory_counters (name, value) VALUES ('instance_number', 1)
       ON CONFLICT (name) DO UPDATE SET value = directory_counters.value + 1
       RETURNING value`,
    );
    return Number(row!.value);
  }

  async function isSubscribed(xsappname: string, zoneId: string): Promise<boolean> {
    const row = await records.one('SELECT 1 AS yes FROM subscriptions WHERE xsappname = $1 AND zone_id = $2', [xsappname, zoneId.toLowerCase()]);
    return row !== undefined;
  }

  async function registerApplication(security: XsSecurity, providerZoneId: string) {
    const xsappname = checkText(security.xsappname, 'xsappname', 100);
    // `!` separates the instance number; XSUAA rejects it in xsappname too.
    if (/[!:|\s]/.test(xsappname)) throw invalid(`xsappname "${xsappname}" must not contain "!", "|", ":" or spaces`);
    if (xsappname === ADMIN_XSAPPNAME) throw invalid(`xsappname "${xsappname}" is reserved for the built-in administration client`);
    checkNoAdminGrants(security);
    checkOnlyOwnGrants(security);
    return upsertApplication(async (tx) => {
      // Held to the end, so the zone cannot be deleted before it is seen to provide this application.
      const zone = await tx.one('SELECT id FROM zones WHERE id = $1 FOR UPDATE', [providerZoneId.toLowerCase()]);
      if (!zone) throw new DirectoryError('ZONE_NOT_FOUND', `Zone ${providerZoneId} does not exist`);
      const stored = await storedApplication(tx, xsappname, true);
      if (stored) {
        // Re-registration keeps N and the secret (XSUAA updates an instance in place on `cf update-service`).
        const { instanceName, clientId } = stored.application;
        const secret = openSecret(stored.secret, options.secretKey, clientId);
        const application = buildApplication(security, instanceName, providerZoneId);
        await tx.run('UPDATE applications SET application = $1, provider_zone_id = $2, tenant_mode = $3 WHERE xsappname = $4', [
          JSON.stringify(application),
          application.providerZoneId,
          application.tenantMode,
          xsappname,
        ]);
        return { application, clientSecret: secret };
      }
      const n = await nextInstanceNumber(tx);
      const application = buildApplication(security, `${xsappname}!t${n}`, providerZoneId);
      const secret = generateClientSecret();
      await insertApplication(tx, n, { application, secretDigest: digestSecret(secret), secret: sealSecret(secret, options.secretKey, application.clientId) });
      return { application, clientSecret: secret };
    });
  }

  async function storedApplicationByClientId(clientId: string): Promise<StoredApplication | undefined> {
    const row = await records.one<ApplicationRow>(`SELECT ${APPLICATION_COLUMNS} FROM applications WHERE client_id = $1`, [clientId]);
    return row && storedApplicationOf(row);
  }

  async function getApplicationByClientId(clientId: string): Promise<Application | undefined> {
    const application = (await storedApplicationByClientId(clientId))?.application;
    return application && withoutForeignGrants(application);
  }

  async function verifyClientSecret(clientId: string, secret: string): Promise<boolean> {
    const stored = await storedApplicationByClientId(clientId);
    // Digest comparison is constant-time; an unknown client compares against a digest that cannot match.
    const matches = secretMatchesDigest(secret, stored?.secretDigest ?? digestSecret(generateClientSecret()));
    return stored !== undefined && matches;
  }

  /** The registered applications (never the admin client), by xsappname. */
  async function registeredApplications(where = '', params: string[] = []): Promise<Application[]> {
    const rows = await records.all<ApplicationRow & { xsappname: string }>(
      `SELECT xsappname, ${APPLICATION_COLUMNS} FROM applications WHERE xsappname <> $1${where}`,
      [ADMIN_XSAPPNAME, ...params],
    );
    // Sorted here, not by ORDER BY: PostgreSQL would sort by the database's collation, SQLite by bytes.
    return rows
      .map((r) => withoutForeignGrants(storedApplicationOf(r).application))
      .sort((a, b) => (a.xsappname < b.xsappname ? -1 : a.xsappname > b.xsappname ? 1 : 0));
  }

  async function clientAuthorities(application: Application): Promise<string[]> {
    const granted = new Set(application.authorities);
    const wanted = application.foreignAuthorities ?? [];
    const acceptAll = application.acceptGrantedAuthorities === true;
    if (!isAdminClient(application) && (wanted.length > 0 || acceptAll)) {
      // Both sides must agree, as in XSUAA: the granting application names this one in
      // grant-as-authority-to-apps, and this one asks for the scope (or accepts whatever is granted).
      for (const granter of await registeredApplications()) {
        if (granter.xsappname === application.xsappname) continue;
        for (const grant of granter.authorityGrants ?? []) {
          if (!grant.apps.includes(application.xsappname) || !grant.scope.startsWith(`${granter.instanceName}.`)) continue;
          const local = grant.scope.slice(granter.instanceName.length + 1);
          if (acceptAll || wanted.some((w) => w.xsappname === granter.xsappname && w.scope === local)) granted.add(grant.scope);
        }
      }
    }
    // XSUAA gives a client that holds no authority UAA's resource-server authority.
    return granted.size > 0 ? [...granted] : [UAA_RESOURCE];
  }

  async function isClientAllowedInZone(application: Application, zoneId: string): Promise<boolean> {
    // The admin client is every zone's own, as UAA's admin clients are; its scopes come from the user.
    if (isAdminClient(application)) return true;
    if (zoneId === application.providerZoneId) return true;
    // REFERENCE.md §5: a shared client works in every subscribed zone, and only there; a dedicated
    // one only in its provider's zone.
    if (application.tenantMode !== 'shared') return false;
    return isSubscribed(application.xsappname, zoneId);
  }

  async function subscribe(application: Application, zoneId: string): Promise<void> {
    if (application.tenantMode !== 'shared') {
      throw invalid(`${application.xsappname} has tenant-mode "dedicated"; only "shared" applications can be subscribed`);
    }
    if (!(await getApplication(application.xsappname))) {
      throw new DirectoryError('APPLICATION_NOT_FOUND', `Application ${application.xsappname} is not registered`);
    }
    await inZone(zoneId, (tx, zone) =>
      tx.run('INSERT INTO subscriptions (xsappname, zone_id) VALUES ($1, $2) ON CONFLICT (xsappname, zone_id) DO NOTHING', [application.xsappname, zone.id]),
    );
  }

  async function unsubscribe(application: Application, zoneId: string): Promise<boolean> {
    const removed = await records.run('DELETE FROM subscriptions WHERE xsappname = $1 AND zone_id = $2', [application.xsappname, zoneId.toLowerCase()]);
    return removed > 0;
  }

  async function listSubscriptions(application: Application): Promise<string[]> {
    const rows = await records.all<{ zone_id: string }>('SELECT zone_id FROM subscriptions WHERE xsappname = $1', [application.xsappname]);
    return rows.map((r) => r.zone_id).sort();
  }

  /** Applications whose role collections apply in a zone: registered there, or shared and subscribed. */
  async function applicationsOfZone(zoneId: string): Promise<Application[]> {
    return registeredApplications(
      ` AND (provider_zone_id = $2 OR (tenant_mode = 'shared' AND xsappname IN (SELECT xsappname FROM subscriptions WHERE zone_id = $2)))`,
      [zoneId],
    );
  }

  async function applicationsInZone(zoneId: string): Promise<{ xsappname: string; provider: boolean }[]> {
    const id = zoneId.toLowerCase();
    return (await applicationsOfZone(id)).map((app) => ({ xsappname: app.xsappname, provider: app.providerZoneId === id }));
  }

  // ---- zones --------------------------------------------------------------------------------------

  async function getZone(id: string): Promise<Zone | undefined> {
    const row = await records.one<ZoneRow>('SELECT * FROM zones WHERE id = $1', [id.toLowerCase()]);
    return row && zoneOf(row);
  }

  async function createZone(input: { id?: string; subdomain: string; name?: string; branding?: Zone['branding'] }): Promise<Zone> {
    if (typeof input !== 'object' || input === null) throw invalid('zone must be an object');
    const subdomain = normaliseSubdomain(input.subdomain);
    const id = input.id === undefined ? randomUUID() : normaliseZoneId(input.id);
    const zone: Zone = {
      id,
      subdomain,
      name: optionalText(input.name, 'name') ?? subdomain,
      createdAt: now().toISOString(),
    };
    const branding = checkBranding(input.branding);
    if (branding) zone.branding = branding;

    try {
      await records.run('INSERT INTO zones (id, subdomain, name, branding, created_at) VALUES ($1, $2, $3, $4, $5)', [
        id,
        subdomain,
        zone.name,
        branding ? JSON.stringify(branding) : null,
        zone.createdAt,
      ]);
    } catch (err) {
      if (violates(err, 'subdomain')) throw new DirectoryError('ZONE_SUBDOMAIN_TAKEN', `Subdomain "${subdomain}" is already taken by another zone`);
      if (err instanceof UniqueViolation) throw new DirectoryError('ZONE_EXISTS', `A zone with id ${id} already exists`);
      throw err;
    }
    return zone;
  }

  async function getZoneBySubdomain(subdomain: string): Promise<Zone | undefined> {
    const row = await records.one<ZoneRow>('SELECT * FROM zones WHERE subdomain = $1', [subdomain.toLowerCase()]);
    return row && zoneOf(row);
  }

  async function listZones(): Promise<Zone[]> {
    const rows = await records.all<ZoneRow>('SELECT * FROM zones');
    return rows.map(zoneOf).sort((a, b) => a.subdomain.localeCompare(b.subdomain));
  }

  async function deleteZone(idInput: string): Promise<boolean> {
    return records.transaction(async (tx) => {
      const row = await tx.one<ZoneRow>('SELECT * FROM zones WHERE id = $1 FOR UPDATE', [idInput.toLowerCase()]);
      if (!row) return false;
      const provided = await tx.one<{ application: string }>(
        'SELECT application FROM applications WHERE provider_zone_id = $1 AND xsappname <> $2 ORDER BY xsappname',
        [row.id, ADMIN_XSAPPNAME],
      );
      if (provided) {
        const app = JSON.parse(provided.application) as Application;
        throw new DirectoryError('ZONE_IN_USE', `Zone ${row.subdomain} is the provider zone of application ${app.instanceName}`);
      }
      // Its users (and their assignments), role collections and subscriptions go with it (ON DELETE CASCADE).
      await tx.run('DELETE FROM zones WHERE id = $1', [row.id]);
      return true;
    });
  }

  async function requireZone(zoneId: string): Promise<Zone> {
    const zone = await getZone(zoneId);
    if (!zone) throw new DirectoryError('ZONE_NOT_FOUND', `Zone ${zoneId} does not exist`);
    return zone;
  }

  // ---- role collections ---------------------------------------------------------------------------

  async function zoneRoleCollections(zoneId: string): Promise<RoleCollection[]> {
    const rows = await records.all<{ name: string; role_templates: string }>('SELECT name, role_templates FROM role_collections WHERE zone_id = $1', [
      zoneId.toLowerCase(),
    ]);
    return rows
      .map((r) => ({ name: r.name, roleTemplates: JSON.parse(r.role_templates) as string[] }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async function listRoleCollections(zoneId: string, listOptions: { includeBuiltIn?: boolean } = {}): Promise<RoleCollection[]> {
    const zone = await requireZone(zoneId);
    const result: RoleCollection[] = listOptions.includeBuiltIn ? [{ name: ZONE_ADMIN_COLLECTION.name, roleTemplates: [...ZONE_ADMIN_COLLECTION.roleTemplates] }] : [];
    for (const app of await applicationsOfZone(zone.id)) result.push(...app.roleCollections);
    result.push(...(await zoneRoleCollections(zone.id)));
    return result;
  }

  async function createRoleCollection(zoneId: string, input: { name: string; roleTemplates: string[] }): Promise<void> {
    const zone = await requireZone(zoneId);
    if (typeof input !== 'object' || input === null) throw invalid('role collection must be an object');
    const name = checkText(input.name, 'role collection name');
    const refs = checkNameList(input.roleTemplates, 'roleTemplates');
    const apps = await applicationsOfZone(zone.id);
    const exists = () => new DirectoryError('ROLE_COLLECTION_EXISTS', `Role collection "${name}" already exists in zone ${zone.subdomain}`);
    if (name === ZONE_ADMIN_ROLE_COLLECTION || apps.some((a) => a.roleCollections.some((c) => c.name === name))) throw exists();
    // Stored qualified as `<instance name>.<template>`, so a collection never picks up a template of
    // the same name from another application.
    const qualified = refs.map((ref) => {
      const candidates = apps.flatMap((a) =>
        a.roleTemplates.filter((t) => ref === t.name || ref === `${a.instanceName}.${t.name}`).map((t) => `${a.instanceName}.${t.name}`),
      );
      if (candidates.length === 0) throw invalid(`Role template "${ref}" does not exist in zone ${zone.subdomain}`);
      if (candidates.length > 1) throw invalid(`Role template "${ref}" is ambiguous; write it as <application>.${ref}`);
      return candidates[0]!;
    });
    try {
      await inZone(zone.id, (tx) =>
        tx.run('INSERT INTO role_collections (zone_id, name, role_templates) VALUES ($1, $2, $3)', [zone.id, name, JSON.stringify(qualified)]),
      );
    } catch (err) {
      if (err instanceof UniqueViolation) throw exists();
      throw err;
    }
  }

  async function requireRoleCollections(zoneId: string, names: string[]): Promise<void> {
    if (names.length === 0) return;
    const known = new Set((await listRoleCollections(zoneId, { includeBuiltIn: true })).map((c) => c.name));
    const unknown = names.filter((n) => !known.has(n));
    if (unknown.length > 0) {
      throw new DirectoryError('ROLE_COLLECTION_UNKNOWN', `Role collection${unknown.length > 1 ? 's' : ''} not found in the zone: ${unknown.join(', ')}`);
    }
  }

  // ---- users --------------------------------------------------------------------------------------

  async function createUser(zoneId: string, input: NewUser): Promise<User> {
    const zone = await requireZone(zoneId);
    if (typeof input !== 'object' || input === null) throw invalid('user must be an object');
    const userName = checkUserName(input.userName, 'userName');
    const email = checkEmail(input.email, 'email');
    const origin = checkOrigin(input.origin ?? DEFAULT_ORIGIN, 'origin');
    const givenName = optionalText(input.givenName, 'givenName');
    const familyName = optionalText(input.familyName, 'familyName');
    const attributes = checkAttributes(input.attributes);
    const roleCollections = checkNameList(input.roleCollections, 'roleCollections');
    if (input.password !== undefined) {
      const problem = passwordProblem(input.password);
      if (problem !== undefined) throw invalid(problem);
    }
    await requireRoleCollections(zone.id, roleCollections);

    const user: User = { id: randomUUID(), zoneId: zone.id, userName, email, origin, attributes, roleCollections };
    if (givenName !== undefined) user.givenName = givenName;
    if (familyName !== undefined) user.familyName = familyName;
    // Hashed before the transaction: argon2 takes milliseconds, the zone's row stays locked for less.
    const passwordHash = input.password === undefined ? null : await hashPassword(input.password, hashing);

    try {
      await inZone(zone.id, async (tx) => {
        // UAA treats user names case-insensitively within a zone and origin: the constraint is on lower case.
        await tx.run(
          `INSERT INTO users (zone_id, id, user_name, user_name_lower, origin, email, given_name, family_name, attributes, password_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [zone.id, user.id, userName, userName.toLowerCase(), origin, email, givenName ?? null, familyName ?? null, JSON.stringify(attributes), passwordHash],
        );
        for (const [position, name] of roleCollections.entries()) {
          await tx.run('INSERT INTO user_role_collections (zone_id, user_id, role_collection, position) VALUES ($1, $2, $3, $4)', [
            zone.id,
            user.id,
            name,
            position + 1,
          ]);
        }
      });
    } catch (err) {
      if (violates(err, 'user_name')) throw new DirectoryError('USER_EXISTS', `User "${userName}" already exists in zone ${zone.subdomain}`);
      throw err;
    }
    return user;
  }

  /** Users of a zone as rows, with their role collections in the order they were assigned. */
  async function usersOf(queries: Queries, rows: UserRow[]): Promise<StoredUser[]> {
    if (rows.length === 0) return [];
    const zoneId = rows[0]!.zone_id;
    const single = rows.length === 1;
    const assignments = await queries.all<{ user_id: string; role_collection: string }>(
      `SELECT user_id, role_collection FROM user_role_collections WHERE zone_id = $1${single ? ' AND user_id = $2' : ''} ORDER BY position, role_collection`,
      single ? [zoneId, rows[0]!.id] : [zoneId],
    );
    const byUser = new Map<string, string[]>();
    for (const a of assignments) byUser.set(a.user_id, [...(byUser.get(a.user_id) ?? []), a.role_collection]);
    return rows.map((row) => storedUserOf(row, byUser.get(row.id) ?? []));
  }

  async function storedUser(queries: Queries, zoneId: string, userId: string, lock = false): Promise<StoredUser | undefined> {
    const row = await queries.one<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE zone_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`, [
      zoneId.toLowerCase(),
      userId,
    ]);
    return row && (await usersOf(queries, [row]))[0];
  }

  /**
   * The user a name means in a zone, whatever the origin, as before users were unique per origin:
   * this zone's own (`sap.default`) first, where another identity provider's has the same name.
   */
  async function storedUserByName(zoneId: string, userName: string): Promise<StoredUser | undefined> {
    const row = await records.one<UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE zone_id = $1 AND user_name_lower = $2
       ORDER BY CASE WHEN origin = $3 THEN 0 ELSE 1 END, origin LIMIT 1`,
      [zoneId.toLowerCase(), userName.toLowerCase(), DEFAULT_ORIGIN],
    );
    return row && (await usersOf(records, [row]))[0];
  }

  async function getUser(zoneId: string, userId: string): Promise<User | undefined> {
    return (await storedUser(records, zoneId, userId))?.user;
  }

  async function getUserByName(zoneId: string, userName: string): Promise<User | undefined> {
    return (await storedUserByName(zoneId, userName))?.user;
  }

  async function listUsers(zoneId: string): Promise<User[]> {
    const zone = await requireZone(zoneId);
    const rows = await records.all<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE zone_id = $1`, [zone.id]);
    return (await usersOf(records, rows)).map((s) => s.user).sort((a, b) => a.userName.localeCompare(b.userName));
  }

  async function deleteUser(zoneId: string, userId: string): Promise<boolean> {
    // Its role assignments go with it (ON DELETE CASCADE); the name is free again at once.
    return (await records.run('DELETE FROM users WHERE zone_id = $1 AND id = $2', [zoneId.toLowerCase(), userId])) > 0;
  }

  /** The password policy's objection, in words a user can act on; undefined when it is acceptable. */
  function passwordProblem(password: unknown): string | undefined {
    if (typeof password !== 'string') return 'password must be a string';
    // Characters as the user counts them (code points), not UTF-16 units (NIST SP 800-63B §5.1.1.2).
    if ([...password].length < minPasswordLength) return `password must be at least ${minPasswordLength} characters`;
    if (password.length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
    return undefined;
  }

  /** Changes one user in a transaction that holds the user's row; USER_NOT_FOUND when there is none. */
  async function changeUser(zoneId: string, userId: string, change: (tx: Queries, user: User) => Promise<void>): Promise<User> {
    return records.transaction(async (tx) => {
      const stored = await storedUser(tx, zoneId, userId, true);
      if (!stored) throw new DirectoryError('USER_NOT_FOUND', `User ${userId} does not exist in this zone`);
      await change(tx, stored.user);
      return (await storedUser(tx, zoneId, userId))!.user;
    });
  }

  async function setPassword(zoneId: string, userId: string, password: string): Promise<User> {
    const problem = passwordProblem(password);
    if (problem !== undefined) throw invalid(problem);
    const passwordHash = await hashPassword(password, hashing);
    return changeUser(zoneId, userId, async (tx, user) => {
      await tx.run('UPDATE users SET password_hash = $1 WHERE zone_id = $2 AND id = $3', [passwordHash, user.zoneId, user.id]);
    });
  }

  async function hasPassword(zoneId: string, userId: string): Promise<boolean> {
    return (await storedUser(records, zoneId, userId))?.passwordHash !== undefined;
  }

  async function verifyPassword(zoneId: string, userName: string, password: string): Promise<User | undefined> {
    const stored = typeof userName === 'string' ? await storedUserByName(zoneId, userName) : undefined;
    if (typeof password !== 'string' || !stored?.passwordHash) {
      await burnPasswordCheck(typeof password === 'string' ? password : '', hashing);
      return undefined;
    }
    if (!(await verifyPasswordHash(password, stored.passwordHash))) return undefined;
    if (needsRehash(stored.passwordHash, hashing)) await rehashPassword(stored.user, password, stored.passwordHash);
    return stored.user;
  }

  /**
   * Replaces a hash below the configured cost, now that the password is known to match it. Only
   * while the row still holds the hash that was checked: a password set in the meantime (by the
   * user, an admin, another instance) is newer and stays. A failure leaves the old hash, which still
   * verifies, for the next login to try again: it must not fail a login that has succeeded.
   */
  async function rehashPassword(user: User, password: string, checked: string): Promise<void> {
    try {
      const passwordHash = await hashPassword(password, hashing);
      await records.run('UPDATE users SET password_hash = $1 WHERE zone_id = $2 AND id = $3 AND password_hash = $4', [passwordHash, user.zoneId, user.id, checked]);
    } catch {
      // See above: the next successful login rehashes.
    }
  }

  /** A direct assignment; one a role collection mapping made before becomes direct (src/zones/idp/store.ts leaves those alone). */
  async function assignRoleCollection(zoneId: string, userId: string, roleCollection: string): Promise<User> {
    checkText(roleCollection, 'role collection name');
    if (!(await getUser(zoneId, userId))) throw new DirectoryError('USER_NOT_FOUND', `User ${userId} does not exist in this zone`);
    await requireRoleCollections(zoneId, [roleCollection]);
    return changeUser(zoneId, userId, async (tx, user) => {
      await tx.run(
        `INSERT INTO user_role_collections (zone_id, user_id, role_collection, position)
         SELECT $1, $2, $3, COALESCE(MAX(position), 0) + 1 FROM user_role_collections WHERE zone_id = $1 AND user_id = $2
         ON CONFLICT (zone_id, user_id, role_collection) DO UPDATE SET mapped_from = NULL`,
        [user.zoneId, user.id, roleCollection],
      );
    });
  }

  async function unassignRoleCollection(zoneId: string, userId: string, roleCollection: string): Promise<User> {
    // No existence check: a collection removed from xs-security.json must still be removable from users.
    return changeUser(zoneId, userId, async (tx, user) => {
      await tx.run('DELETE FROM user_role_collections WHERE zone_id = $1 AND user_id = $2 AND role_collection = $3', [user.zoneId, user.id, roleCollection]);
    });
  }

  // ---- scopes -------------------------------------------------------------------------------------

  /**
   * The application's role templates (roles) the user holds through role collections: the
   * application's own collections, and those the zone's administrators made from its templates.
   * Templates of other applications never count.
   */
  async function heldRoleTemplates(application: Application, user: User): Promise<RoleTemplate[]> {
    const held = new Set<string>();
    const assigned = new Set(user.roleCollections);
    for (const rc of application.roleCollections) {
      if (assigned.has(rc.name)) for (const t of rc.roleTemplates) held.add(t);
    }
    const prefix = `${application.instanceName}.`;
    for (const rc of await zoneRoleCollections(user.zoneId)) {
      if (!assigned.has(rc.name)) continue;
      for (const ref of rc.roleTemplates) if (ref.startsWith(prefix)) held.add(ref.slice(prefix.length));
    }
    return application.roleTemplates.filter((t) => held.has(t.name));
  }

  async function userScopes(application: Application, user: User): Promise<string[]> {
    if (isAdminClient(application)) {
      // Only the built-in role collection counts for this client, so it never yields application scopes.
      const scopes = user.roleCollections.includes(ZONE_ADMIN_ROLE_COLLECTION) ? zoneAdminScopes(application, user.zoneId) : [];
      return ['openid', ...application.scopes.filter((s) => scopes.includes(s))];
    }
    const granted = new Set((await heldRoleTemplates(application, user)).flatMap((t) => t.scopes));
    // REFERENCE.md §5: the client's scopes ∩ the user's, plus `openid`.
    return ['openid', ...application.scopes.filter((s) => s !== 'openid' && !isAdminScope(s) && granted.has(s))];
  }

  async function userAttributes(application: Application, user: User): Promise<Record<string, string[]>> {
    // The admin client's only role (Zone Administrator) references no attribute.
    if (isAdminClient(application)) return {};
    const union = new Map<string, Set<string>>();
    for (const template of await heldRoleTemplates(application, user)) {
      for (const name of template.attributes) {
        // XSUAA: a role's attribute takes static values (a default role: the template's default-values)
        // or the values the user's identity provider asserts; the directory's user record is this
        // zone's identity provider. A token carries, per attribute, the union over the user's roles.
        const values = template.attributeDefaults?.[name] ?? user.attributes[name] ?? [];
        if (values.length === 0) continue;
        const set = union.get(name) ?? new Set<string>();
        for (const v of values) set.add(v);
        union.set(name, set);
      }
    }
    return Object.fromEntries([...union].map(([name, values]) => [name, [...values]]));
  }

  return {
    registerApplication,
    ensureAdminClient,
    getApplicationByClientId,
    verifyClientSecret,
    clientAuthorities,
    isClientAllowedInZone,
    getApplication,
    subscribe,
    unsubscribe,
    listSubscriptions,
    applicationsInZone,
    createZone,
    getZone,
    getZoneBySubdomain,
    listZones,
    deleteZone,
    createUser,
    getUser,
    getUserByName,
    listUsers,
    deleteUser,
    passwordProblem,
    setPassword,
    hasPassword,
    verifyPassword,
    assignRoleCollection,
    unassignRoleCollection,
    listRoleCollections,
    createRoleCollection,
    userScopes,
    userAttributes,
  };
}
