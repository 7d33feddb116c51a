/**
 * Removing an identity zone and everything it owns: the one way a zone goes, whether an administrator
 * deletes it (admin API `DELETE /identity-zones/{id}`, `zonegate zones delete`) or its tenant
 * unsubscribes (../provisioning/service.ts). Issue 9: re-creating the same zone id, which SaaS
 * tenant ids make routine, must never bring back an old session or key.
 *
 * What goes, in this order:
 *  1. The directory's zone: its record, users, role collections and subscriptions. First, because
 *     the zone's host then answers 404 and its x-zid is unknown at once, and every code, refresh
 *     token and SSO session of the zone names a user id that dies with it (user ids are random UUIDs
 *     and never reissued), so none of them can be redeemed, now or in a re-created zone.
 *  2. Its signing keys: every access and id token it issued stops verifying, and a re-created zone
 *     gets a fresh key set with new kids, under which the old tokens never verify again.
 *  3. The gateway sessions of its tenant, on every instance: they hold tokens of the zone and would
 *     otherwise keep a user logged in to a tenant that no longer exists (or exists anew).
 * Short-lived records keyed by the hash of a secret (authorization codes, login forms, refresh-token
 * families, throttle counters) cannot be listed per zone; they are unusable by (1) and expire by
 * their own TTL.
 */
import type { ZoneDirectory, Zone } from './directory/types.js';
import type { KeyStore } from './keys/keystore.js';

export interface ZoneRemovalParts {
  directory: ZoneDirectory;
  keys: Pick<KeyStore, 'deleteKeys'>;
  /** Ends the gateway sessions of a tenant (by subdomain) on every instance; absent where no gateway shares the storage. */
  revokeTenantSessions?: (subdomain: string) => Promise<void>;
}

/**
 * Removes the zone and what it owns; the removed zone, or undefined if there was none. `subdomain`
 * names the tenant whose sessions to end when the zone record is already gone (a subscription that
 * failed half-way); the keys are removed either way. The provider zone of an application is refused
 * (DirectoryError ZONE_IN_USE) before anything is removed.
 */
export async function removeZone(parts: ZoneRemovalParts, zoneId: string, subdomain?: string): Promise<Zone | undefined> {
  const id = zoneId.toLowerCase();
  const zone = await parts.directory.getZone(id);
  // False only if another request removed it meanwhile: then finish the removal all the same, since
  // that request may have stopped half-way.
  if (zone) await parts.directory.deleteZone(zone.id);
  await parts.keys.deleteKeys(id);
  const tenant = zone?.subdomain ?? subdomain;
  if (tenant !== undefined) await parts.revokeTenantSessions?.(tenant);
  return zone;
}
