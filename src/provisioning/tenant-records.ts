/**
 * What a subscription recorded about its tenant, in the records database (table `tenants`, migration
 * 2 in src/records/schema.ts). Both kinds of subscription keep it: over the built-in zones
 * (./service.ts) and with an external XSUAA bound (./bound.ts), where it is all the gateway knows of
 * the tenant's subdomain when the unsubscription, which names only the tenant id, comes.
 */
import type { RecordsDatabase } from '../records/types.js';

export interface TenantRecord {
  tenantId: string;
  subdomain: string;
  /** ISO 8601. */
  subscribedAt: string;
  updatedAt: string;
  globalAccountId?: string;
  subscriptionAppName?: string;
  /** The subscribing user's name, as the first subscription named it. */
  admin?: string;
}

type TenantRow = {
  tenant_id: string;
  subdomain: string;
  subscribed_at: string;
  updated_at: string;
  global_account_id: string | null;
  subscription_app_name: string | null;
  admin: string | null;
};

function recordOf(row: TenantRow): TenantRecord {
  return {
    tenantId: row.tenant_id,
    subdomain: row.subdomain,
    subscribedAt: row.subscribed_at,
    updatedAt: row.updated_at,
    ...(row.global_account_id !== null ? { globalAccountId: row.global_account_id } : {}),
    ...(row.subscription_app_name !== null ? { subscriptionAppName: row.subscription_app_name } : {}),
    ...(row.admin !== null ? { admin: row.admin } : {}),
  };
}

export interface TenantRecords {
  get(tenantId: string): Promise<TenantRecord | undefined>;
  all(): Promise<TenantRecord[]>;
  /** Writes the record whole, created or replaced. */
  put(record: TenantRecord): Promise<void>;
  delete(tenantId: string): Promise<void>;
}

export function createTenantRecords(records: RecordsDatabase): TenantRecords {
  return {
    async get(tenantId) {
      const row = await records.one<TenantRow>('SELECT * FROM tenants WHERE tenant_id = $1', [tenantId]);
      return row && recordOf(row);
    },
    async all() {
      return (await records.all<TenantRow>('SELECT * FROM tenants ORDER BY tenant_id')).map(recordOf);
    },
    async put(r) {
      // One statement whether the row is there or not: the bound callbacks (./bound.ts) take no lock.
      await records.run(
        `INSERT INTO tenants (tenant_id, subdomain, subscribed_at, updated_at, global_account_id, subscription_app_name, admin)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id) DO UPDATE SET subdomain = excluded.subdomain, subscribed_at = excluded.subscribed_at,
           updated_at = excluded.updated_at, global_account_id = excluded.global_account_id,
           subscription_app_name = excluded.subscription_app_name, admin = excluded.admin`,
        [r.tenantId, r.subdomain, r.subscribedAt, r.updatedAt, r.globalAccountId ?? null, r.subscriptionAppName ?? null, r.admin ?? null],
      );
    },
    async delete(tenantId) {
      await records.run('DELETE FROM tenants WHERE tenant_id = $1', [tenantId]);
    },
  };
}
