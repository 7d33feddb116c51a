/**
 * The `tenant` label's values, bounded (METRICS_TENANT_LIMIT). Every label value is a time series
 * Prometheus keeps, for every route, method and status it is combined with; an unbounded label is
 * how a metrics endpoint takes its Prometheus down. The first `limit` tenants seen keep their own
 * name for the life of the process, every later one is counted as `other`. Not an LRU: a series
 * evicted and made again would restart its counters, and a tenant counted under its name and then
 * under `other` would split its history; a fixed set keeps every series monotonic.
 */
export const OTHER_TENANTS = 'other';
/** Requests served for no tenant: the zones' hosts, single-tenant gateways, refused hosts. */
export const NO_TENANT = 'none';

export class TenantLabels {
  readonly #named = new Set<string>();
  readonly #limit: number;

  constructor(limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError('limit must be a positive integer');
    this.#limit = limit;
  }

  label(tenant: string | undefined): string {
    if (tenant === undefined) return NO_TENANT;
    if (this.#named.has(tenant)) return tenant;
    if (this.#named.size >= this.#limit) return OTHER_TENANTS;
    this.#named.add(tenant);
    return tenant;
  }
}
