/**
 * Subscriptions when the gateway is bound to an external XSUAA (issue 12): there XSUAA creates and
 * removes the subscriber's zone itself, as part of the subscription the SaaS registry runs, so a
 * callback has nothing to create. What it still owes the registry is the tenant's URL (REFERENCE.md
 * §7), and on an unsubscription the gateway must end the tenant's sessions: the zone XSUAA deletes
 * can no longer refresh them, but sessions with a valid access token would otherwise live on until
 * it expires.
 *
 * An unsubscription names only the tenant id, while sessions are kept per subdomain, so the
 * subscription remembers the subdomain in the records database's `tenants` table (as the built-in
 * zones' provisioning does, ./service.ts), written on PUT and removed on DELETE.
 */
import type { Logger } from '../log.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import { createTenantConfigurations } from '../tenant/configuration.js';
import { ProvisioningError } from './errors.js';
import { checkSubscription, normaliseTenantId, type SubscriptionInput, type SubscriptionResult, type UnsubscribeResult } from './service.js';
import { createTenantRecords, type TenantRecord } from './tenant-records.js';

export interface BoundSubscriptionsOptions {
  records: RecordsDatabase;
  /** The storage's change notices: a removed tenant configuration is announced to running gateways. */
  notices?: Pick<Storage, 'announce'>;
  /** The binding's `xsappname` (the instance name, `<xsappname>!t<N>`) and its provider zone id (`tenantid`). */
  application: { xsappname: string; instanceName: string; providerZoneId: string };
  tenantUrlFor(subdomain: string): string;
  /** Ends the tenant's gateway sessions on every instance (src/sessions/store.ts). */
  revokeTenantSessions(subdomain: string): Promise<void>;
  logger: Logger;
  now?: () => Date;
}

export function createBoundSubscriptions(options: BoundSubscriptionsOptions) {
  const { application, logger } = options;
  const tenantRecords = createTenantRecords(options.records);
  const tenantConfigurations = createTenantConfigurations(options.records, options.notices);
  const now = options.now ?? (() => new Date());

  async function subscribe(input: SubscriptionInput): Promise<SubscriptionResult> {
    const { tenantId, subdomain, eventType } = checkSubscription(input);
    if (tenantId === application.providerZoneId) {
      throw new ProvisioningError('ZG_ERR_TENANT_CONFLICT', `Tenant ${tenantId} is the provider of ${application.xsappname}; it cannot subscribe to its own application`);
    }
    const previous = await tenantRecords.get(tenantId);
    if (previous && previous.subdomain !== subdomain) {
      // BTP does not let a subaccount with subscriptions change its subdomain; the stored one is what
      // an unsubscription must end the sessions of.
      throw new ProvisioningError(
        'ZG_ERR_TENANT_CONFLICT',
        `Tenant ${tenantId} is subscribed with subdomain "${previous.subdomain}", not "${subdomain}"; a subdomain cannot change while subscribed`,
      );
    }
    const stamp = now().toISOString();
    const record: TenantRecord = {
      tenantId,
      subdomain,
      subscribedAt: previous?.subscribedAt ?? stamp,
      updatedAt: previous && eventType === 'CREATE' ? previous.updatedAt : stamp,
      ...(input.globalAccountId !== undefined ? { globalAccountId: input.globalAccountId } : (previous?.globalAccountId !== undefined ? { globalAccountId: previous.globalAccountId } : {})),
    };
    await tenantRecords.put(record);
    logger.info(previous ? 'tenant subscription confirmed' : 'tenant subscribed', { tenantId, subdomain, eventType, identity: 'xsuaa binding' });
    return { url: options.tenantUrlFor(subdomain), tenantId, subdomain, created: !previous };
  }

  async function unsubscribe(tenantIdInput: string): Promise<UnsubscribeResult> {
    const tenantId = normaliseTenantId(tenantIdInput);
    const previous = await tenantRecords.get(tenantId);
    if (!previous) return { removed: false };
    const { subdomain } = previous;
    // Sessions first: should this fail, the record stays and the registry's retry finishes the job.
    await options.revokeTenantSessions(subdomain);
    // Its own configuration and metadata credential too (src/tenant/configuration.ts).
    await tenantConfigurations.delete(subdomain);
    await tenantRecords.delete(tenantId);
    logger.info('tenant unsubscribed', { tenantId, subdomain, identity: 'xsuaa binding' });
    return { removed: true, subdomain };
  }

  return { application, subscribe, unsubscribe };
}
