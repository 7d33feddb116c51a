import { randomUUID } from 'node:crypto';
import type { Provisioning } from '../provisioning/service.js';
import type { ZoneDirectory } from '../zones/directory/types.js';
import { ensureZone } from '../zones/start.js';

/**
 * Subscribes a demo tenant to the application (idempotent: a tenant already there keeps its zone);
 * returns its zone id. Through provisioning when there is one, else directly in the directory.
 */
export async function subscribeDemoTenant(directory: ZoneDirectory, clientId: string, tenant: string, provisioning?: Provisioning): Promise<string> {
  if (provisioning) {
    const existing = await directory.getZoneBySubdomain(tenant);
    return (await provisioning.subscribe({ tenantId: existing?.id ?? randomUUID(), subdomain: tenant })).tenantId;
  }
  const application = await directory.getApplicationByClientId(clientId);
  if (!application) throw new Error(`The application ${clientId} is not registered`);
  const zone = await ensureZone(directory, tenant, `${tenant[0]!.toUpperCase()}${tenant.slice(1)} (demo)`);
  await directory.subscribe(application, zone.id);
  return zone.id;
}
