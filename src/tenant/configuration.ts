/**
 * Per-tenant configuration (issue 14, part 3; Maestrano's per-tenant "configuration scoping"): a
 * tenant may override properties of the application's destinations (tenant `acme`'s `backend` is
 * another service) and carry settings of its own. One JSON document per tenant subdomain, in the
 * records database (table `tenant_configurations`, migration 8):
 *
 *   { "destinations": { "backend": { "url": "https://acme-backend.example.com", "timeout": 5000 } },
 *     "settings": { "plan": "gold" } }
 *
 * Written by `zonegate tenants config set`, the admin API and the subscription callback's
 * `subscriptionParams`; every writer validates as the gateway's start validates the `destinations`
 * variable (an override URL is an absolute http(s) URL), and announces the change on the storage's
 * change notices so that every running gateway picks it up (./live-configurations.ts).
 */
import { ConfigError, type ConfigProblem } from '../errors.js';
import { parseDestinations } from '../config/destinations.js';
import { jsonType } from '../config/schema-problems.js';
import type { Destination } from '../config/types.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';

export interface TenantConfiguration {
  /** Per destination name, the properties that replace the application's (as the `destinations` variable spells them). */
  readonly destinations: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The tenant's own settings, as given (JSON values). */
  readonly settings: Readonly<Record<string, unknown>>;
}

/** What a tenant may change of a destination: everything but its name. */
export const OVERRIDABLE = ['url', 'forwardAuthToken', 'timeout', 'maxSockets', 'setXForwardedHeaders', 'strictSSL', 'proxyHost', 'proxyPort'] as const;

/** A document's bound: it is read into every gateway's memory. */
export const MAX_CONFIGURATION_BYTES = 16 * 1024;
const SETTING_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** The notice key of a tenant's configuration (Storage.announce). */
export const noticeKey = (subdomain: string) => `tenantcfg:${subdomain}`;
export const NOTICE_PREFIX = 'tenantcfg:';

export const EMPTY_CONFIGURATION: TenantConfiguration = Object.freeze({ destinations: Object.freeze({}), settings: Object.freeze({}) });

/**
 * A document checked, or ConfigError with every problem at once (paths like `/destinations/backend/url`).
 * With `base` (the application's destinations) an override must name one of them, and the destination
 * it makes is validated whole, as the `destinations` variable is.
 */
export function parseTenantConfiguration(doc: unknown, source: string, base?: readonly Destination[]): TenantConfiguration {
  const problems: ConfigProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ file: source, path, message });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError([{ file: source, path: '', message: `expected a JSON object with "destinations" and/or "settings", got ${jsonType(doc)}` }]);
  const d = doc as Record<string, unknown>;
  for (const key of Object.keys(d)) if (key !== 'destinations' && key !== 'settings') problem(`/${key}`, 'unknown property: a tenant configuration has "destinations" and "settings"');
  if (JSON.stringify(doc).length > MAX_CONFIGURATION_BYTES) problem('', `is larger than ${MAX_CONFIGURATION_BYTES} bytes`);

  const destinations: Record<string, Record<string, unknown>> = {};
  if (d.destinations !== undefined) {
    if (typeof d.destinations !== 'object' || d.destinations === null || Array.isArray(d.destinations)) {
      problem('/destinations', `expected an object of destination names, got ${jsonType(d.destinations)}`);
    } else {
      for (const [name, override] of Object.entries(d.destinations as Record<string, unknown>)) {
        const at = `/destinations/${name}`;
        const known = base?.find((b) => b.name === name);
        if (base !== undefined && known === undefined) {
          problem(at, `the application has no destination "${name}" (it has ${base.map((b) => `"${b.name}"`).join(', ') || 'none'})`);
          continue;
        }
        if (typeof override !== 'object' || override === null || Array.isArray(override)) {
          problem(at, `expected an object of destination properties, got ${jsonType(override)}`);
          continue;
        }
        const before = problems.length;
        for (const key of Object.keys(override)) {
          if (!(OVERRIDABLE as readonly string[]).includes(key)) problem(`${at}/${key}`, `cannot be overridden per tenant (these can: ${OVERRIDABLE.join(', ')})`);
        }
        if (problems.length > before) continue;
        // Validated whole, as the application's destinations are; a placeholder URL stands in for the
        // application's when the base is not known here (it is at every gateway's start).
        const merged = { ...(known ? rawOf(known) : { url: 'http://base.invalid' }), ...override, name };
        try {
          parseDestinations(JSON.stringify([merged]), source);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          for (const p of err.problems) problem(at + p.path.replace(/^\/0/, ''), p.message);
          continue;
        }
        destinations[name] = { ...(override as Record<string, unknown>) };
      }
    }
  }

  let settings: Record<string, unknown> = {};
  if (d.settings !== undefined) {
    if (typeof d.settings !== 'object' || d.settings === null || Array.isArray(d.settings)) problem('/settings', `expected an object, got ${jsonType(d.settings)}`);
    else {
      for (const key of Object.keys(d.settings)) if (!SETTING_NAME.test(key)) problem(`/settings/${key}`, 'a setting name is 1-64 letters, digits, ".", "_" or "-"');
      settings = { ...(d.settings as Record<string, unknown>) };
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({ destinations: Object.freeze(destinations), settings: Object.freeze(settings) });
}

/** A destination as the `destinations` variable spells it. */
function rawOf(d: Destination): Record<string, unknown> {
  return {
    name: d.name,
    url: d.url.href,
    forwardAuthToken: d.forwardAuthToken,
    timeout: d.timeout,
    maxSockets: d.maxSockets,
    setXForwardedHeaders: d.setXForwardedHeaders,
    strictSSL: d.strictSSL,
    ...(d.proxyHost !== undefined ? { proxyHost: d.proxyHost, proxyPort: d.proxyPort } : {}),
  };
}

/**
 * The destinations a tenant's overrides make of the application's: each the base with the tenant's
 * properties, marked with the tenant (the proxy keeps its connections apart). Overrides that no
 * longer fit (the application's destination was removed or changed by a reload) are reported through
 * `refused` and left out: the tenant is then served by the application's destination.
 */
export function tenantDestinations(
  tenant: string,
  config: TenantConfiguration,
  base: readonly Destination[],
  refused: (tenant: string, problems: string) => void,
): Map<string, Destination> {
  const made = new Map<string, Destination>();
  for (const [name, override] of Object.entries(config.destinations)) {
    const known = base.find((b) => b.name === name);
    if (known === undefined) {
      refused(tenant, `the application has no destination "${name}"`);
      continue;
    }
    try {
      const [destination] = parseDestinations(JSON.stringify([{ ...rawOf(known), ...override, name }]), `tenant ${tenant} configuration`);
      made.set(name, Object.freeze({ ...destination!, tenant }));
    } catch (err) {
      refused(tenant, err instanceof Error ? err.message : String(err));
    }
  }
  return made;
}

type ConfigurationRow = { subdomain: string; config: string; metadata_secret_digest: string | null; updated_at: string };

export interface StoredTenantConfiguration {
  subdomain: string;
  configuration: TenantConfiguration;
  updatedAt: string;
}

/**
 * The tenant configurations in the records database. Writes announce `tenantcfg:<subdomain>` on the
 * storage's change notices after they are committed, so running gateways reload that tenant.
 */
export interface TenantConfigurations {
  get(subdomain: string): Promise<StoredTenantConfiguration | undefined>;
  all(): Promise<StoredTenantConfiguration[]>;
  /** Replaces the tenant's document (validated by the caller, parseTenantConfiguration). */
  put(subdomain: string, configuration: TenantConfiguration): Promise<void>;
  /** Removes the document and the metadata credential (unsubscription, `config unset`). */
  delete(subdomain: string): Promise<boolean>;
  /** SHA-256 of the tenant's metadata credential (../provisioning/metadata.ts); undefined: none. */
  metadataCredentialDigest(subdomain: string): Promise<string | undefined>;
  setMetadataCredentialDigest(subdomain: string, digest: string): Promise<void>;
}

export function createTenantConfigurations(records: RecordsDatabase, notices?: Pick<Storage, 'announce'>, now: () => Date = () => new Date()): TenantConfigurations {
  // Other processes (the gateway, when the CLI wrote) hear of it by name: Redis publishes it,
  // SQLite writes it to its change log.
  const announce = async (subdomain: string) => {
    await notices?.announce(noticeKey(subdomain));
  };
  const stored = (row: ConfigurationRow): StoredTenantConfiguration => ({
    subdomain: row.subdomain,
    configuration: parseTenantConfiguration(JSON.parse(row.config), `records: tenant_configurations ${row.subdomain}`),
    updatedAt: row.updated_at,
  });
  return {
    async get(subdomain) {
      const row = await records.one<ConfigurationRow>('SELECT * FROM tenant_configurations WHERE subdomain = $1', [subdomain]);
      return row && stored(row);
    },
    async all() {
      return (await records.all<ConfigurationRow>('SELECT * FROM tenant_configurations ORDER BY subdomain')).map(stored);
    },
    async put(subdomain, configuration) {
      await records.run(
        `INSERT INTO tenant_configurations (subdomain, config, metadata_secret_digest, updated_at) VALUES ($1, $2, NULL, $3)
         ON CONFLICT (subdomain) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at`,
        [subdomain, JSON.stringify(configuration), now().toISOString()],
      );
      await announce(subdomain);
    },
    async delete(subdomain) {
      const removed = await records.run('DELETE FROM tenant_configurations WHERE subdomain = $1', [subdomain]);
      await announce(subdomain);
      return removed > 0;
    },
    async metadataCredentialDigest(subdomain) {
      const row = await records.one<{ metadata_secret_digest: string | null }>('SELECT metadata_secret_digest FROM tenant_configurations WHERE subdomain = $1', [subdomain]);
      return row?.metadata_secret_digest ?? undefined;
    },
    async setMetadataCredentialDigest(subdomain, digest) {
      await records.run(
        `INSERT INTO tenant_configurations (subdomain, config, metadata_secret_digest, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (subdomain) DO UPDATE SET metadata_secret_digest = excluded.metadata_secret_digest, updated_at = excluded.updated_at`,
        [subdomain, JSON.stringify(EMPTY_CONFIGURATION), digest, now().toISOString()],
      );
      await announce(subdomain);
    },
  };
}

/** A tenant subdomain as zones and path prefixes spell it (src/tenant/path.ts). */
const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function isTenantSubdomain(subdomain: string): boolean {
  return SUBDOMAIN.test(subdomain);
}

/**
 * Validates `doc` against the application's destinations and stores it as the tenant's configuration
 * (an empty document removes it). Throws ConfigError with every problem, or a RangeError for a
 * subdomain no tenant can have.
 */
export async function setTenantConfiguration(
  store: TenantConfigurations,
  subdomain: string,
  doc: unknown,
  base: readonly Destination[],
  source: string,
): Promise<TenantConfiguration> {
  if (!isTenantSubdomain(subdomain)) throw new RangeError(`"${subdomain}" is not a tenant subdomain (lower-case letters, digits and hyphens)`);
  const configuration = parseTenantConfiguration(doc, source, base);
  await store.put(subdomain, configuration);
  return configuration;
}
