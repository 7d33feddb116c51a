// Test fixture, not product code: the zone directory on the Storage contract exactly as releases
// before issue 19 shipped it (git show 7659310:src/zones/directory/directory.ts), only its import
// paths changed. `zonegate db import` tests write their old keyspace with it, so what they import is
// what those releases wrote, not a re-creation of it.
/**
 * The zone directory on top of the Storage contract: zones, the registered applications and their
 * clients, users and role collections (see ./types.ts for the interface and REFERENCE.md §5 for the
 * XSUAA rules it follows).
 *
 * Key layout (all under `dir:` so no other feature's keys can collide):
 *   dir:app-seq                      running number N of `<xsappname>!t<N>`
 *   dir:app:<xsappname>              StoredApplication        index dir:apps
 *   dir:app:zonegate-admin           the built-in admin client (./admin-client.ts), not in dir:apps
 *   dir:client:<clientId>            xsappname
 *   dir:sub:<xsappname>:<zoneId>     subscription marker      index dir:subs:<xsappname>
 *   dir:zone:<id>                    Zone                     index dir:zones
 *   dir:subdomain:<subdomain>        zone id (the unique claim)
 *   dir:zone-apps:<zoneId>           index: apps registered in or subscribed by the zone
 *   dir:user:<zoneId>:<userId>       StoredUser               index dir:users:<zoneId>
 *   dir:username:<zoneId>:<lower>    user id (the unique claim)
 *   dir:rc:<zoneId>:<name>           zone-created role collection   index dir:rcs:<zoneId>
 *   lock:dir:<what>                  short-lived write locks (read-modify-write of one record; storage/lock.ts)
 * Uniqueness is always claimed with setIfAbsent, so concurrent instances cannot both win.
 */
import { randomUUID } from 'node:crypto';
import type { XsSecurity } from '../../../src/config/types.js';
import { ACCEPT_GRANTED_AUTHORITIES, grantedAppName, OWN_PREFIX, parseForeignScope, UAA_RESOURCE, UAA_USER } from '../../../src/config/xs-references.js';
import type { Storage } from '../../../src/storage/types.js';
import { LockTimeoutError, withLock as withStorageLock } from '../../../src/storage/lock.js';
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
} from '../../../src/zones/directory/admin-client.js';
import { DirectoryError } from '../../../src/zones/directory/errors.js';
import type { StoredSecret } from '../../../src/zones/directory/client-secret.js';
import { digestSecret, generateClientSecret, openSecret, sealSecret, secretMatchesDigest } from '../../../src/zones/directory/client-secret.js';
import type { ScryptParams } from './password-scrypt.js';
import { DEFAULT_SCRYPT, burnPasswordCheck, checkScryptParams, hashPassword, verifyPasswordHash } from './password-scrypt.js';
import type { Application, NewUser, RoleTemplate, User, Zone, ZoneDirectory as CurrentZoneDirectory } from '../../../src/zones/directory/types.js';

/** The interface as the old release had it: what was added since is not part of the old code. */
type ZoneDirectory = Omit<CurrentZoneDirectory, 'applicationsInZone'>;

export interface ZoneDirectoryOptions {
  /** 32 bytes; seals the client secrets in storage (see ./client-secret.ts). Supplied by the entry point. */
  secretKey?: Uint8Array;
  /** scrypt cost for new password hashes; existing hashes keep the parameters they were made with. */
  passwordHashing?: ScryptParams;
  /** NIST SP 800-63B §5.1.1.2 asks for at least 8 characters; default 8. */
  minPasswordLength?: number;
  now?: () => Date;
}

/** XSUAA's name for the default identity provider of a subaccount; users created here come from it. */
export const DEFAULT_ORIGIN = 'sap.default';

const MAX_PASSWORD_LENGTH = 1024;
const LOCK_TTL_MS = 5_000;
const LOCK_WAIT_MS = 3_000;
/**
 * A unique claim (subdomain, user name) is first taken with this TTL and made permanent once the
 * record it points to is written: a process that dies in between leaves no name blocked for ever.
 */
const CLAIM_TTL_MS = 30_000;

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

// RFC 1035 §2.3.1 label, as lower case: letters, digits, hyphens, 1..63, no hyphen at either end.
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// Zone ids are GUIDs (SaaS tenant ids) in practice; anything else must at least be a safe key part.
const ZONE_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
const ORIGIN = /^[A-Za-z0-9._-]{1,64}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function invalid(message: string): DirectoryError {
  return new DirectoryError('INVALID_INPUT', message);
}

function checkText(value: unknown, what: string, max = 255): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${what} must be a non-empty string`);
  if (value.length > max) throw invalid(`${what} must be at most ${max} characters`);
  if (CONTROL.test(value)) throw invalid(`${what} must not contain control characters`);
  return value;
}

function optionalText(value: unknown, what: string): string | undefined {
  return value === undefined ? undefined : checkText(value, what);
}

export function normaliseSubdomain(subdomain: unknown): string {
  if (typeof subdomain !== 'string') throw invalid('subdomain must be a string');
  const lower = subdomain.toLowerCase();
  if (!DNS_LABEL.test(lower)) {
    throw invalid(
      `subdomain "${subdomain.slice(0, 80)}" is not a DNS label: use 1 to 63 of a-z, 0-9 and "-", not starting or ending with "-"`,
    );
  }
  return lower;
}

function normaliseZoneId(id: unknown): string {
  if (typeof id !== 'string' || !ZONE_ID.test(id.toLowerCase())) {
    throw invalid('zone id must be 1 to 64 of a-z, 0-9 and "-" (a GUID), starting with a letter or digit');
  }
  return id.toLowerCase();
}

function checkBranding(branding: unknown): Zone['branding'] {
  if (branding === undefined) return undefined;
  if (typeof branding !== 'object' || branding === null || Array.isArray(branding)) throw invalid('branding must be an object');
  const { title, color, logoUrl, ...rest } = branding as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw invalid(`branding has unknown properties: ${Object.keys(rest).join(', ')}`);
  const result: NonNullable<Zone['branding']> = {};
  if (title !== undefined) result.title = checkText(title, 'branding.title', 200);
  if (color !== undefined) {
    // The login page puts the colour into CSS: only a plain hex colour can never break out of it.
    if (typeof color !== 'string' || !/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(color)) {
      throw invalid('branding.color must be a hex colour like #0a6ed1');
    }
    result.color = color;
  }
  if (logoUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof logoUrl === 'string' ? new URL(logoUrl) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw invalid('branding.logoUrl must be an http(s) URL');
    result.logoUrl = url.href;
  }
  return result;
}

function checkAttributes(attributes: unknown): Record<string, string[]> {
  if (attributes === undefined) return {};
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw invalid('attributes must be an object');
  const result: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(attributes)) {
    checkText(name, 'attribute name');
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
      throw invalid(`attribute ${name} must be an array of strings`);
    }
    result[name] = [...values];
  }
  return result;
}

function checkNameList(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${what} must be an array of strings`);
  return [...new Set(value.map((v) => checkText(v, `each of ${what}`)))];
}

export function createZoneDirectory(storage: Storage, options: ZoneDirectoryOptions = {}): ZoneDirectory {
  const scryptParams = options.passwordHashing ?? DEFAULT_SCRYPT;
  checkScryptParams(scryptParams);
  if (options.secretKey && options.secretKey.length !== 32) throw new RangeError('secretKey must be 32 bytes (AES-256)');
  const minPasswordLength = options.minPasswordLength ?? 8;
  const now = options.now ?? (() => new Date());

  const getJson = async <T>(key: string): Promise<T | undefined> => {
    const raw = await storage.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  };
  const setJson = (key: string, value: unknown) => storage.set(key, JSON.stringify(value));

  /**
   * Serialises read-modify-write of one record across instances (the contract has no compare-and-set).
   * The TTL frees the lock if its holder dies; the critical sections are a few storage calls.
   */
  async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withStorageLock(storage, `dir:${name}`, { ttlMs: LOCK_TTL_MS, waitMs: LOCK_WAIT_MS }, fn);
    } catch (err) {
      if (err instanceof LockTimeoutError) throw new DirectoryError('BUSY', `${name} is being changed by another request; try again`);
      throw err;
    }
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

  async function storedApplication(xsappname: string): Promise<StoredApplication | undefined> {
    return getJson<StoredApplication>(`dir:app:${xsappname}`);
  }

  async function getApplication(xsappname: string): Promise<Application | undefined> {
    const application = (await storedApplication(xsappname))?.application;
    return application && withoutForeignGrants(application);
  }

  async function ensureAdminClient(input: { zonesAdminZoneId?: string; redirectUris?: readonly string[] } = {}) {
    if (input.zonesAdminZoneId !== undefined) normaliseZoneId(input.zonesAdminZoneId);
    const key = `dir:app:${ADMIN_XSAPPNAME}`;
    return withLock(`app:${ADMIN_XSAPPNAME}`, async () => {
      const stored = await storedApplication(ADMIN_XSAPPNAME);
      if (stored && !isAdminClient(stored.application)) {
        throw invalid(`An application named "${ADMIN_XSAPPNAME}" was registered before the name was reserved; delete it first`);
      }
      // Unset inputs keep what is stored: `keys rotate` and the CLI do not know the zones-admin zone.
      const zonesAdminZoneId = input.zonesAdminZoneId?.toLowerCase() ?? stored?.application.providerZoneId ?? '';
      const redirectUris = input.redirectUris ?? stored?.application.redirectUris ?? DEFAULT_ADMIN_REDIRECT_URIS;
      const application = adminApplication(zonesAdminZoneId, redirectUris);
      let secret: string;
      let next: StoredApplication;
      if (stored) {
        secret = openSecret(stored.secret, options.secretKey, ADMIN_CLIENT_ID);
        next = { ...stored, application };
      } else {
        secret = generateClientSecret();
        next = { application, secretDigest: digestSecret(secret), secret: sealSecret(secret, options.secretKey, ADMIN_CLIENT_ID) };
      }
      if (JSON.stringify(next) !== JSON.stringify(stored)) await setJson(key, next);
      await storage.set(`dir:client:${ADMIN_CLIENT_ID}`, ADMIN_XSAPPNAME);
      return { application, clientSecret: secret };
    });
  }

  async function isSubscribed(xsappname: string, zoneId: string): Promise<boolean> {
    return (await storage.get(`dir:sub:${xsappname}:${zoneId}`)) !== undefined;
  }

  async function registerApplication(security: XsSecurity, providerZoneId: string) {
    const xsappname = checkText(security.xsappname, 'xsappname', 100);
    // `!` separates the instance number and `:` our key parts; XSUAA rejects both in xsappname too.
    if (/[!:|\s]/.test(xsappname)) throw invalid(`xsappname "${xsappname}" must not contain "!", "|", ":" or spaces`);
    if (xsappname === ADMIN_XSAPPNAME) throw invalid(`xsappname "${xsappname}" is reserved for the built-in administration client`);
    checkNoAdminGrants(security);
    checkOnlyOwnGrants(security);
    if (!(await getZone(providerZoneId))) throw new DirectoryError('ZONE_NOT_FOUND', `Zone ${providerZoneId} does not exist`);
    const key = `dir:app:${xsappname}`;

    return withLock(`app:${xsappname}`, async () => {
      let stored = await storedApplication(xsappname);
      let secret: string;
      if (stored) {
        // Re-registration keeps N and the secret (XSUAA updates an instance in place on `cf update-service`).
        const { instanceName, clientId } = stored.application;
        secret = openSecret(stored.secret, options.secretKey, clientId);
        const previousProvider = stored.application.providerZoneId;
        stored = { ...stored, application: buildApplication(security, instanceName, providerZoneId) };
        await setJson(key, stored);
        if (previousProvider !== providerZoneId && !(await isSubscribed(xsappname, previousProvider))) {
          await storage.removeFromIndex(`dir:zone-apps:${previousProvider}`, xsappname);
        }
      } else {
        const n = await storage.increment('dir:app-seq');
        const application = buildApplication(security, `${xsappname}!t${n}`, providerZoneId);
        secret = generateClientSecret();
        stored = { application, secretDigest: digestSecret(secret), secret: sealSecret(secret, options.secretKey, application.clientId) };
        await setJson(key, stored);
      }
      await storage.set(`dir:client:${stored.application.clientId}`, xsappname);
      await storage.addToIndex('dir:apps', xsappname);
      await storage.addToIndex(`dir:zone-apps:${providerZoneId}`, xsappname);
      return { application: stored.application, clientSecret: secret };
    });
  }

  async function getApplicationByClientId(clientId: string): Promise<Application | undefined> {
    const xsappname = await storage.get(`dir:client:${clientId}`);
    return xsappname === undefined ? undefined : getApplication(xsappname);
  }

  async function verifyClientSecret(clientId: string, secret: string): Promise<boolean> {
    const xsappname = await storage.get(`dir:client:${clientId}`);
    const stored = xsappname === undefined ? undefined : await storedApplication(xsappname);
    // Digest comparison is constant-time; an unknown client compares against a digest that cannot match.
    const matches = secretMatchesDigest(secret, stored?.secretDigest ?? digestSecret(generateClientSecret()));
    return stored !== undefined && matches;
  }

  async function clientAuthorities(application: Application): Promise<string[]> {
    const granted = new Set(application.authorities);
    const wanted = application.foreignAuthorities ?? [];
    const acceptAll = application.acceptGrantedAuthorities === true;
    if (!isAdminClient(application) && (wanted.length > 0 || acceptAll)) {
      // Both sides must agree, as in XSUAA: the granting application names this one in
      // grant-as-authority-to-apps, and this one asks for the scope (or accepts whatever is granted).
      for (const name of (await storage.listIndex('dir:apps')).sort()) {
        if (name === application.xsappname) continue;
        const granter = await getApplication(name);
        for (const grant of granter?.authorityGrants ?? []) {
          if (!grant.apps.includes(application.xsappname) || !grant.scope.startsWith(`${granter!.instanceName}.`)) continue;
          const local = grant.scope.slice(granter!.instanceName.length + 1);
          if (acceptAll || wanted.some((w) => w.xsappname === granter!.xsappname && w.scope === local)) granted.add(grant.scope);
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
    if (!(await getZone(zoneId))) throw new DirectoryError('ZONE_NOT_FOUND', `Zone ${zoneId} does not exist`);
    await storage.set(`dir:sub:${application.xsappname}:${zoneId}`, '1');
    await storage.addToIndex(`dir:subs:${application.xsappname}`, zoneId);
    await storage.addToIndex(`dir:zone-apps:${zoneId}`, application.xsappname);
  }

  async function unsubscribe(application: Application, zoneId: string): Promise<boolean> {
    const existed = await storage.delete(`dir:sub:${application.xsappname}:${zoneId}`);
    await storage.removeFromIndex(`dir:subs:${application.xsappname}`, zoneId);
    const current = await getApplication(application.xsappname);
    if (current?.providerZoneId !== zoneId) await storage.removeFromIndex(`dir:zone-apps:${zoneId}`, application.xsappname);
    return existed;
  }

  async function listSubscriptions(application: Application): Promise<string[]> {
    return (await storage.listIndex(`dir:subs:${application.xsappname}`)).sort();
  }

  /** Applications whose role collections apply in a zone: registered there, or subscribed. */
  async function applicationsOfZone(zoneId: string): Promise<Application[]> {
    const names = await storage.listIndex(`dir:zone-apps:${zoneId}`);
    const apps = await Promise.all(names.sort().map(getApplication));
    const result: Application[] = [];
    for (const app of apps) {
      if (app && (app.providerZoneId === zoneId || (app.tenantMode === 'shared' && (await isSubscribed(app.xsappname, zoneId))))) {
        result.push(app);
      }
    }
    return result;
  }

  // ---- zones --------------------------------------------------------------------------------------

  async function getZone(id: string): Promise<Zone | undefined> {
    return getJson<Zone>(`dir:zone:${id.toLowerCase()}`);
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

    const claim = `dir:subdomain:${subdomain}`;
    if (!(await storage.setIfAbsent(claim, id, { ttlMs: CLAIM_TTL_MS }))) {
      throw new DirectoryError('ZONE_SUBDOMAIN_TAKEN', `Subdomain "${subdomain}" is already taken by another zone`);
    }
    if (!(await storage.setIfAbsent(`dir:zone:${id}`, JSON.stringify(zone)))) {
      await storage.delete(claim);
      throw new DirectoryError('ZONE_EXISTS', `A zone with id ${id} already exists`);
    }
    await storage.addToIndex('dir:zones', id);
    await storage.set(claim, id);
    return zone;
  }

  async function getZoneBySubdomain(subdomain: string): Promise<Zone | undefined> {
    const id = await storage.get(`dir:subdomain:${subdomain.toLowerCase()}`);
    return id === undefined ? undefined : getZone(id);
  }

  async function listZones(): Promise<Zone[]> {
    const zones = await Promise.all((await storage.listIndex('dir:zones')).map(getZone));
    return zones.filter((z): z is Zone => z !== undefined).sort((a, b) => a.subdomain.localeCompare(b.subdomain));
  }

  async function deleteZone(idInput: string): Promise<boolean> {
    const id = idInput.toLowerCase();
    const zone = await getZone(id);
    if (!zone) return false;
    for (const app of await Promise.all((await storage.listIndex(`dir:zone-apps:${id}`)).map(getApplication))) {
      if (app?.providerZoneId === id) {
        throw new DirectoryError('ZONE_IN_USE', `Zone ${zone.subdomain} is the provider zone of application ${app.instanceName}`);
      }
    }
    // The zone record goes first, so lookups fail at once and no new user can be created into it.
    await storage.delete(`dir:zone:${id}`);
    for (const userId of await storage.listIndex(`dir:users:${id}`)) {
      const stored = await getJson<StoredUser>(`dir:user:${id}:${userId}`);
      if (stored) await storage.delete(`dir:username:${id}:${stored.user.userName.toLowerCase()}`);
      await storage.delete(`dir:user:${id}:${userId}`);
    }
    await storage.deleteIndex(`dir:users:${id}`);
    for (const name of await storage.listIndex(`dir:rcs:${id}`)) await storage.delete(`dir:rc:${id}:${name}`);
    await storage.deleteIndex(`dir:rcs:${id}`);
    for (const xsappname of await storage.listIndex(`dir:zone-apps:${id}`)) {
      await storage.delete(`dir:sub:${xsappname}:${id}`);
      await storage.removeFromIndex(`dir:subs:${xsappname}`, id);
    }
    await storage.deleteIndex(`dir:zone-apps:${id}`);
    // Free the subdomain only if it is still ours (it always should be; never release someone else's claim).
    if ((await storage.get(`dir:subdomain:${zone.subdomain}`)) === id) await storage.delete(`dir:subdomain:${zone.subdomain}`);
    await storage.removeFromIndex('dir:zones', id);
    return true;
  }

  async function requireZone(zoneId: string): Promise<Zone> {
    const zone = await getZone(zoneId);
    if (!zone) throw new DirectoryError('ZONE_NOT_FOUND', `Zone ${zoneId} does not exist`);
    return zone;
  }

  // ---- role collections ---------------------------------------------------------------------------

  async function zoneRoleCollections(zoneId: string): Promise<RoleCollection[]> {
    const names = (await storage.listIndex(`dir:rcs:${zoneId}`)).sort();
    const collections = await Promise.all(names.map((n) => getJson<RoleCollection>(`dir:rc:${zoneId}:${n}`)));
    return collections.filter((c): c is RoleCollection => c !== undefined);
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
    if (name === ZONE_ADMIN_ROLE_COLLECTION || apps.some((a) => a.roleCollections.some((c) => c.name === name))) {
      throw new DirectoryError('ROLE_COLLECTION_EXISTS', `Role collection "${name}" already exists in zone ${zone.subdomain}`);
    }
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
    const collection: RoleCollection = { name, roleTemplates: qualified };
    if (!(await storage.setIfAbsent(`dir:rc:${zone.id}:${name}`, JSON.stringify(collection)))) {
      throw new DirectoryError('ROLE_COLLECTION_EXISTS', `Role collection "${name}" already exists in zone ${zone.subdomain}`);
    }
    await storage.addToIndex(`dir:rcs:${zone.id}`, name);
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
    const userName = checkText(input.userName, 'userName');
    if (userName.trim() !== userName) throw invalid('userName must not start or end with spaces');
    const email = checkText(input.email, 'email', 254);
    if (!EMAIL.test(email)) throw invalid('email must be an e-mail address');
    const origin = input.origin ?? DEFAULT_ORIGIN;
    if (typeof origin !== 'string' || !ORIGIN.test(origin)) throw invalid('origin must be 1 to 64 of A-Z, a-z, 0-9, ".", "_" and "-"');
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
    const stored: StoredUser = { user };
    if (input.password !== undefined) stored.passwordHash = await hashPassword(input.password, scryptParams);

    // UAA treats user names case-insensitively within a zone (and origin); the claim is on lower case.
    const claim = `dir:username:${zone.id}:${userName.toLowerCase()}`;
    if (!(await storage.setIfAbsent(claim, user.id, { ttlMs: CLAIM_TTL_MS }))) {
      throw new DirectoryError('USER_EXISTS', `User "${userName}" already exists in zone ${zone.subdomain}`);
    }
    await setJson(`dir:user:${zone.id}:${user.id}`, stored);
    await storage.addToIndex(`dir:users:${zone.id}`, user.id);
    await storage.set(claim, user.id);
    return user;
  }

  async function storedUser(zoneId: string, userId: string): Promise<StoredUser | undefined> {
    return getJson<StoredUser>(`dir:user:${zoneId.toLowerCase()}:${userId}`);
  }

  async function getUser(zoneId: string, userId: string): Promise<User | undefined> {
    return (await storedUser(zoneId, userId))?.user;
  }

  async function getUserByName(zoneId: string, userName: string): Promise<User | undefined> {
    const id = await storage.get(`dir:username:${zoneId.toLowerCase()}:${userName.toLowerCase()}`);
    return id === undefined ? undefined : getUser(zoneId, id);
  }

  async function listUsers(zoneId: string): Promise<User[]> {
    const zone = await requireZone(zoneId);
    const users = await Promise.all((await storage.listIndex(`dir:users:${zone.id}`)).map((id) => getUser(zone.id, id)));
    return users.filter((u): u is User => u !== undefined).sort((a, b) => a.userName.localeCompare(b.userName));
  }

  async function deleteUser(zoneId: string, userId: string): Promise<boolean> {
    const zid = zoneId.toLowerCase();
    const stored = await storedUser(zid, userId);
    if (!stored) return false;
    await storage.delete(`dir:user:${zid}:${userId}`);
    await storage.removeFromIndex(`dir:users:${zid}`, userId);
    const claim = `dir:username:${zid}:${stored.user.userName.toLowerCase()}`;
    if ((await storage.get(claim)) === userId) await storage.delete(claim);
    return true;
  }

  /** The password policy's objection, in words a user can act on; undefined when it is acceptable. */
  function passwordProblem(password: unknown): string | undefined {
    if (typeof password !== 'string') return 'password must be a string';
    // Characters as the user counts them (code points), not UTF-16 units (NIST SP 800-63B §5.1.1.2).
    if ([...password].length < minPasswordLength) return `password must be at least ${minPasswordLength} characters`;
    if (password.length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
    return undefined;
  }

  async function setPassword(zoneId: string, userId: string, password: string): Promise<User> {
    const problem = passwordProblem(password);
    if (problem !== undefined) throw invalid(problem);
    const zid = zoneId.toLowerCase();
    const passwordHash = await hashPassword(password, scryptParams);
    return withLock(`user:${zid}:${userId}`, async () => {
      const stored = await storedUser(zid, userId);
      if (!stored) throw new DirectoryError('USER_NOT_FOUND', `User ${userId} does not exist in this zone`);
      await setJson(`dir:user:${zid}:${userId}`, { ...stored, passwordHash });
      return stored.user;
    });
  }

  async function hasPassword(zoneId: string, userId: string): Promise<boolean> {
    return (await storedUser(zoneId, userId))?.passwordHash !== undefined;
  }

  async function verifyPassword(zoneId: string, userName: string, password: string): Promise<User | undefined> {
    const id = typeof userName === 'string' ? await storage.get(`dir:username:${zoneId.toLowerCase()}:${userName.toLowerCase()}`) : undefined;
    const stored = id === undefined ? undefined : await storedUser(zoneId, id);
    if (typeof password !== 'string' || !stored?.passwordHash) {
      await burnPasswordCheck(typeof password === 'string' ? password : '', scryptParams);
      return undefined;
    }
    return (await verifyPasswordHash(password, stored.passwordHash)) ? stored.user : undefined;
  }

  async function updateRoleCollections(zoneId: string, userId: string, change: (current: string[]) => string[]): Promise<User> {
    const zid = zoneId.toLowerCase();
    return withLock(`user:${zid}:${userId}`, async () => {
      const stored = await storedUser(zid, userId);
      if (!stored) throw new DirectoryError('USER_NOT_FOUND', `User ${userId} does not exist in this zone`);
      stored.user.roleCollections = change(stored.user.roleCollections);
      await setJson(`dir:user:${zid}:${userId}`, stored);
      return stored.user;
    });
  }

  async function assignRoleCollection(zoneId: string, userId: string, roleCollection: string): Promise<User> {
    checkText(roleCollection, 'role collection name');
    if (!(await getUser(zoneId, userId))) throw new DirectoryError('USER_NOT_FOUND', `User ${userId} does not exist in this zone`);
    await requireRoleCollections(zoneId, [roleCollection]);
    return updateRoleCollections(zoneId, userId, (rcs) => (rcs.includes(roleCollection) ? rcs : [...rcs, roleCollection]));
  }

  async function unassignRoleCollection(zoneId: string, userId: string, roleCollection: string): Promise<User> {
    // No existence check: a collection removed from xs-security.json must still be removable from users.
    return updateRoleCollections(zoneId, userId, (rcs) => rcs.filter((rc) => rc !== roleCollection));
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
