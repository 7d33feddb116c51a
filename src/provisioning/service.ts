/**
 * Tenant provisioning: what a SaaS subscription does to the identity zones (REFERENCE.md §7, issue 5).
 * The callbacks (./callbacks.ts) and the CLI (./cli.ts) both go through this one service.
 *
 * A subscription of tenant T with subdomain S:
 *   - creates zone T at S (zone id = subscribedTenantId, as XSUAA names a subscriber's zone by its
 *     tenant id), or adopts it when it already exists with that subdomain;
 *   - subscribes the application in it, which makes its scopes, role templates and role collections
 *     available there (REFERENCE.md §5);
 *   - gives the subscribing user (`userInfo`) the administrator role collection, and, as the registry
 *     sends no password, a one-time set-password link (`invite`, src/zones/invitations.ts).
 * An unsubscription deletes the zone with its users, revokes the tenant's gateway sessions and its
 * signing keys, and leaves nothing of the tenant usable (see `unsubscribe`).
 *
 * What it keeps:
 *   the `tenants` table of the records database (./tenant-records.ts; dates, global account,
 *     subscriber): a record, it must survive what the key/TTL store may lose (issue 19);
 *   lock:prov:<tenantId> in Storage: a per-tenant lock (a registry retry racing its own first attempt;
 *     storage/lock.ts). Short-lived, so it stays there: a database transaction could not hold it, as a
 *     subscription is many directory transactions (and an invitation) long, not one.
 * The record is written before the zone and deleted after everything else, so a subscription or an
 * unsubscription that failed half-way is finished by the registry's retry of the same call.
 */
import { createTenantConfigurations, type TenantConfiguration } from '../tenant/configuration.js';
import type { Logger } from '../log.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import { LockTimeoutError, withLock } from '../storage/lock.js';
import { DEFAULT_ORIGIN } from '../zones/directory/directory.js';
import { checkEmail, checkOrigin, checkUserName, isEmail, isZoneId, normaliseSubdomain, normaliseZoneId, optionalText } from '../zones/directory/validation.js';
import { DirectoryError } from '../zones/directory/errors.js';
import type { Application, User, Zone, ZoneDirectory } from '../zones/directory/types.js';
import { removeZone } from '../zones/removal.js';
import { ProvisioningError } from './errors.js';
import { createTenantRecords, type TenantRecord } from './tenant-records.js';

/** The subscribing user as the SaaS registry describes it (`userInfo`). */
export interface SubscriberInfo {
  userName: string;
  email?: string;
  givenName?: string;
  familyName?: string;
  /** The identity provider the user comes from (XSUAA's `origin`); default `sap.default`. */
  origin?: string;
}

export interface SubscriptionInput {
  /** `subscribedTenantId`; becomes the zone id. */
  tenantId: string;
  /** `subscribedSubdomain`; the zone's and the tenant host's subdomain. */
  subdomain: string;
  /** `CREATE` (default) or `UPDATE`. */
  eventType?: 'CREATE' | 'UPDATE';
  userInfo?: SubscriberInfo;
  /**
   * Initial password of the subscribing user. The SaaS registry never sends one (the subscriber
   * authenticates at their identity provider); the CLI passes a generated one for self-hosted use.
   */
  adminPassword?: string;
  globalAccountId?: string;
  subscriptionAppName?: string;
  /** The tenant's configuration from the registry's `subscriptionParams` (./callbacks.ts), stored by the callback once subscribed. */
  configuration?: TenantConfiguration;
}

export interface SubscriptionResult {
  /** The tenant's application URL (what the callback answers). */
  url: string;
  tenantId: string;
  subdomain: string;
  /** True if this call created the zone (false: it existed, the call was a repeat or an update). */
  created: boolean;
  /**
   * The subscribing user, if `userInfo` named one with an e-mail address. `invitation`: the one-time
   * link where they set their password, when they have none yet (see ProvisioningOptions.invite).
   */
  admin?: { userName: string; created: boolean; invitation?: { url: string; expiresAt: string } };
}

export interface Tenant {
  tenantId: string;
  subdomain: string;
  url: string;
  /** When provisioning first subscribed it; absent for zones subscribed by other means. */
  subscribedAt?: string;
  updatedAt?: string;
  globalAccountId?: string;
  admin?: string;
}

export interface UnsubscribeResult {
  /** False when there was nothing to remove (an unknown tenant: a no-op). */
  removed: boolean;
  subdomain?: string;
}

export interface Provisioning {
  readonly application: Application;
  /** The role collection a tenant's administrator gets (trusted platforms may grant it only when allowed, src/platform/). */
  readonly adminRoleCollection: string;
  subscribe(input: SubscriptionInput): Promise<SubscriptionResult>;
  unsubscribe(tenantId: string): Promise<UnsubscribeResult>;
  listTenants(): Promise<Tenant[]>;
  /** A subscribed tenant by id or subdomain. */
  findTenant(idOrSubdomain: string): Promise<Tenant | undefined>;
  tenantUrlFor(subdomain: string): string;
}

export interface ProvisioningOptions {
  directory: ZoneDirectory;
  /** Where the tenants' records are (table `tenants`). */
  records: RecordsDatabase;
  /** Where the per-tenant lock is. */
  storage: Storage;
  /** The registered `shared` application tenants subscribe to. */
  application: Application;
  /** One of the application's role collections, given to the subscribing user. */
  adminRoleCollection: string;
  tenantUrlFor(subdomain: string): string;
  /** Destroys the tenant's gateway sessions on every instance (src/sessions/store.ts). */
  revokeTenantSessions?: (subdomain: string) => Promise<void>;
  /** Removes the zone's signing keys (the identity server's `keys.deleteKeys`); without it a re-subscribed tenant's old tokens would verify again. */
  deleteZoneKeys: (zoneId: string) => Promise<void>;
  /**
   * Issues a one-time set-password link for a user without a password (src/zones/invitations.ts).
   * With the built-in zones the subscriber has no identity provider and the registry sends no
   * password: without a link the administrator could never sign in. Absent: no invitations.
   */
  invite?: (input: { zoneId: string; subdomain: string; userId: string; returnUrl: string }) => Promise<{ url: string; expiresAt: string }>;
  logger: Logger;
  now?: () => Date;
}

const LOCK_TTL_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

function invalid(message: string): ProvisioningError {
  return new ProvisioningError('ZG_ERR_TENANT_INVALID', message);
}

/** The directory's rule checked here, to answer a 400 before anything is created. */
function asked<T>(check: () => T, message?: string): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof DirectoryError) throw invalid(message ?? err.message);
    throw err;
  }
}

/** The tenant id (zone ids are SaaS tenant ids, GUIDs) as the directory keys it, or a 400. */
export function normaliseTenantId(value: unknown): string {
  return asked(() => normaliseZoneId(value), 'The tenant id must be a GUID (1 to 64 of a-z, 0-9 and "-", starting with a letter or digit)');
}

/**
 * The input with tenant id and subdomain normalised, or a 400 (ZG_ERR_TENANT_INVALID). The callbacks
 * call it before answering 202, so a malformed request is refused at once, not reported later.
 */
export function checkSubscription(input: SubscriptionInput): SubscriptionInput & { eventType: 'CREATE' | 'UPDATE' } {
  if (typeof input !== 'object' || input === null) throw invalid('The subscription must be an object');
  const tenantId = normaliseTenantId(input.tenantId);
  const subdomain = asked(() => normaliseSubdomain(input.subdomain));
  const eventType = input.eventType ?? 'CREATE';
  if (eventType !== 'CREATE' && eventType !== 'UPDATE') throw invalid('eventType must be CREATE or UPDATE');
  const info = input.userInfo;
  if (info !== undefined) {
    if (typeof info !== 'object' || info === null) throw invalid('userInfo must be an object');
    // The directory's own rules (createUser), checked before the zone is created rather than half-way through.
    asked(() => {
      checkUserName(info.userName, 'userInfo.userName');
      optionalText(info.givenName, 'userInfo.givenName');
      optionalText(info.familyName, 'userInfo.familyName');
      if (info.email !== undefined) checkEmail(info.email, 'userInfo.email');
      if (info.origin !== undefined) checkOrigin(info.origin, 'userInfo.origin');
    });
  }
  return { ...input, tenantId, subdomain, eventType };
}

/** Directory refusals of the caller's input become 400s; the rest propagates (storage outages: 503). */
function translate(err: unknown): unknown {
  if (err instanceof DirectoryError) {
    if (err.code === 'INVALID_INPUT' || err.code === 'ROLE_COLLECTION_UNKNOWN') return invalid(err.message);
    if (err.code === 'ZONE_IN_USE') return new ProvisioningError('ZG_ERR_TENANT_CONFLICT', err.message, { cause: err });
    if (err.code === 'BUSY') return new ProvisioningError('ZG_ERR_TENANT_BUSY', err.message, { cause: err });
  }
  return err;
}

export function createProvisioning(options: ProvisioningOptions): Provisioning {
  const { directory, storage, application, adminRoleCollection, logger } = options;
  const now = options.now ?? (() => new Date());
  // Validated at construction, so a misconfiguration stops the start rather than the first subscriber.
  if (application.tenantMode !== 'shared') {
    throw new RangeError(`${application.xsappname} has tenant-mode "${application.tenantMode}"; tenants can only subscribe to a "shared" application`);
  }
  if (!application.roleCollections.some((c) => c.name === adminRoleCollection)) {
    throw new RangeError(
      `The administrator role collection "${adminRoleCollection}" is not one of ${application.xsappname}'s: ${application.roleCollections.map((c) => c.name).join(', ') || '(none)'}`,
    );
  }

  const tenantRecords = createTenantRecords(options.records);
  const tenantConfigurations = createTenantConfigurations(options.records, options.storage);
  const readRecord = (tenantId: string) => tenantRecords.get(tenantId);

  /**
   * Serialises the calls for one tenant across instances: the SaaS registry retries a callback that
   * timed out while the first attempt may still be running.
   */
  async function withTenantLock<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withLock(storage, `prov:${tenantId}`, { ttlMs: LOCK_TTL_MS, waitMs: LOCK_WAIT_MS }, fn);
    } catch (err) {
      if (err instanceof LockTimeoutError) throw new ProvisioningError('ZG_ERR_TENANT_BUSY', `Tenant ${tenantId} is being changed by another request; try again`);
      throw err;
    }
  }

  async function ensureAdmin(zone: Zone, info: SubscriberInfo, input: SubscriptionInput): Promise<SubscriptionResult['admin']> {
    // The zone needs an e-mail address for every user; XSUAA's subscriber userName usually is one.
    const email = info.email ?? (isEmail(info.userName) ? info.userName : undefined);
    if (email === undefined) {
      logger.warn('subscribing user has no e-mail address; no administrator created', { tenantId: zone.id });
      return undefined;
    }
    const existing: User | undefined = await directory.getUserByName(zone.id, info.userName);
    // Only the zone's own users have a password here; one of another origin signs in at their IdP.
    // A new user without a password, or one still without (the registry repeats a call whose answer
    // it lost, and the link with it), gets a link; issuing one withdraws the previous.
    const invitation = async (user: User) =>
      options.invite && input.adminPassword === undefined && user.origin === DEFAULT_ORIGIN && !(await directory.hasPassword(zone.id, user.id))
        ? { invitation: await options.invite({ zoneId: zone.id, subdomain: zone.subdomain, userId: user.id, returnUrl: options.tenantUrlFor(zone.subdomain) }) }
        : {};
    if (!existing) {
      const created = await directory.createUser(zone.id, {
        userName: info.userName,
        email,
        ...(info.givenName !== undefined ? { givenName: info.givenName } : {}),
        ...(info.familyName !== undefined ? { familyName: info.familyName } : {}),
        ...(info.origin !== undefined ? { origin: info.origin } : {}),
        ...(input.adminPassword !== undefined ? { password: input.adminPassword } : {}),
        roleCollections: [adminRoleCollection],
      });
      return { userName: info.userName, created: true, ...(await invitation(created)) };
    }
    // UPDATE restores the administrator's role collection; a repeated CREATE changes nothing.
    if (input.eventType === 'UPDATE' && !existing.roleCollections.includes(adminRoleCollection)) {
      await directory.assignRoleCollection(zone.id, existing.id, adminRoleCollection);
    }
    return { userName: existing.userName, created: false, ...(await invitation(existing)) };
  }

  async function subscribe(input: SubscriptionInput): Promise<SubscriptionResult> {
    const { tenantId, subdomain, eventType, userInfo: info } = checkSubscription(input);
    if (tenantId === application.providerZoneId) {
      throw new ProvisioningError('ZG_ERR_TENANT_CONFLICT', `Tenant ${tenantId} is the provider of ${application.xsappname}; it cannot subscribe to its own application`);
    }

    try {
      return await withTenantLock(tenantId, async () => {
        const existing = await directory.getZone(tenantId);
        if (existing && existing.subdomain !== subdomain) {
          // BTP does not let a subaccount with subscriptions change its subdomain; neither do we.
          throw new ProvisioningError(
            'ZG_ERR_TENANT_CONFLICT',
            `Tenant ${tenantId} is subscribed with subdomain "${existing.subdomain}", not "${subdomain}"; a subdomain cannot change while subscribed`,
          );
        }
        if (!existing) {
          const holder = await directory.getZoneBySubdomain(subdomain);
          if (holder) throw subdomainTaken(subdomain);
        }

        const stamp = now().toISOString();
        const previous = await readRecord(tenantId);
        const record: TenantRecord = {
          ...previous,
          tenantId,
          subdomain,
          subscribedAt: previous?.subscribedAt ?? stamp,
          updatedAt: previous && eventType === 'CREATE' ? previous.updatedAt : stamp,
          ...(input.globalAccountId !== undefined ? { globalAccountId: input.globalAccountId } : {}),
          ...(input.subscriptionAppName !== undefined ? { subscriptionAppName: input.subscriptionAppName } : {}),
          ...(info ? { admin: previous?.admin ?? info.userName } : {}),
        };
        // Written first: it marks the zone as provisioning's, so a DELETE can clean up a failed CREATE.
        if (!previous || JSON.stringify(previous) !== JSON.stringify(record)) {
          await tenantRecords.put(record);
        }

        let zone = existing;
        if (!zone) {
          try {
            zone = await directory.createZone({ id: tenantId, subdomain });
          } catch (err) {
            if (err instanceof DirectoryError && err.code === 'ZONE_SUBDOMAIN_TAKEN') {
              // Lost a race for the subdomain against another tenant: leave no record behind.
              if (!previous) await tenantRecords.delete(tenantId);
              throw subdomainTaken(subdomain);
            }
            throw err;
          }
        }
        await directory.subscribe(application, zone.id);
        const admin = info ? await ensureAdmin(zone, info, { ...input, eventType }) : undefined;
        logger.info(existing ? 'tenant subscription confirmed' : 'tenant subscribed', { tenantId, subdomain, eventType });
        return { url: options.tenantUrlFor(subdomain), tenantId, subdomain, created: !existing, ...(admin ? { admin } : {}) };
      });
    } catch (err) {
      throw translate(err);
    }
  }

  function subdomainTaken(subdomain: string): ProvisioningError {
    return new ProvisioningError(
      'ZG_ERR_TENANT_SUBDOMAIN_TAKEN',
      `The subdomain "${subdomain}" is already used by another tenant of this application; choose another subdomain`,
    );
  }

  async function unsubscribe(tenantIdInput: string): Promise<UnsubscribeResult> {
    const tenantId = normaliseTenantId(tenantIdInput);
    if (tenantId === application.providerZoneId) {
      throw new ProvisioningError('ZG_ERR_TENANT_CONFLICT', `Tenant ${tenantId} is the provider of ${application.xsappname}; it cannot be unsubscribed`);
    }
    try {
      return await withTenantLock(tenantId, async () => {
        const record = await readRecord(tenantId);
        const zone = await directory.getZone(tenantId);
        const subscribed = zone !== undefined && (await directory.isClientAllowedInZone(application, zone.id));
        // A zone that is neither subscribed nor created by provisioning is someone else's: not ours to delete.
        if (!record && !subscribed) return { removed: false };
        const subdomain = zone?.subdomain ?? record!.subdomain;

        // The zone, its users, keys and gateway sessions, as an administrator's deletion removes them
        // (../zones/removal.ts); a later subscription of the same tenant starts from nothing.
        await removeZone(
          { directory, keys: { deleteKeys: options.deleteZoneKeys }, ...(options.revokeTenantSessions ? { revokeTenantSessions: options.revokeTenantSessions } : {}) },
          tenantId,
          subdomain,
        );
        // Its own configuration and metadata credential too (src/tenant/configuration.ts).
        await tenantConfigurations.delete(subdomain);
        await tenantRecords.delete(tenantId);
        logger.info('tenant unsubscribed', { tenantId, subdomain });
        return { removed: true, subdomain };
      });
    } catch (err) {
      throw translate(err);
    }
  }

  function toTenant(zone: Zone, record: TenantRecord | undefined): Tenant {
    return {
      tenantId: zone.id,
      subdomain: zone.subdomain,
      url: options.tenantUrlFor(zone.subdomain),
      ...(record ? { subscribedAt: record.subscribedAt, updatedAt: record.updatedAt } : {}),
      ...(record?.globalAccountId !== undefined ? { globalAccountId: record.globalAccountId } : {}),
      ...(record?.admin !== undefined ? { admin: record.admin } : {}),
    };
  }

  async function listTenants(): Promise<Tenant[]> {
    const [ids, records] = await Promise.all([directory.listSubscriptions(application), tenantRecords.all()]);
    const byId = new Map(records.map((r) => [r.tenantId, r]));
    const tenants = await Promise.all(
      ids.map(async (id) => {
        const zone = await directory.getZone(id);
        return zone ? toTenant(zone, byId.get(id)) : undefined;
      }),
    );
    return tenants.filter((t): t is Tenant => t !== undefined).sort((a, b) => a.subdomain.localeCompare(b.subdomain));
  }

  async function findTenant(idOrSubdomain: string): Promise<Tenant | undefined> {
    const key = idOrSubdomain.toLowerCase();
    const zone = (await directory.getZoneBySubdomain(key)) ?? (isZoneId(key) ? await directory.getZone(key) : undefined);
    if (!zone || zone.id === application.providerZoneId || !(await directory.isClientAllowedInZone(application, zone.id))) return undefined;
    return toTenant(zone, await readRecord(zone.id));
  }

  return { application, adminRoleCollection, subscribe, unsubscribe, listTenants, findTenant, tenantUrlFor: options.tenantUrlFor };
}

/**
 * The role collection a subscribing user gets when configuration names none: of the application's
 * role collections, the first whose role templates together carry the most scopes. That is the
 * administrator's in every xs-security.json we have seen (SAP's samples name it "<App> Administrator"
 * and give it the widest templates); ties go to the first declared, so the choice is stable.
 */
export function defaultAdminRoleCollection(application: Application): string | undefined {
  let best: { name: string; scopes: number } | undefined;
  for (const collection of application.roleCollections) {
    const scopes = new Set(
      collection.roleTemplates.flatMap((name) => application.roleTemplates.find((t) => t.name === name)?.scopes ?? []),
    );
    if (!best || scopes.size > best.scopes) best = { name: collection.name, scopes: scopes.size };
  }
  return best?.name;
}
