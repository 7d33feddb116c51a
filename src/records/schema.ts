/**
 * The records schema, as versioned migrations (src/records/migrate.ts applies them at start and with
 * `zonegate db migrate`). A released migration is never edited: a change is a new version. Portable
 * SQL only (see ./types.ts).
 */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/**
 * Version 1: the zone directory (src/zones/directory/directory.ts). Uniqueness that XSUAA promises is
 * a constraint here, so two instances can never both win: a subdomain, a user name per zone and origin
 * (UAA's rule: the same name may come from two identity providers), a client id, an instance number N.
 * Constraint names carry the column they guard, so a UniqueViolation names it in both backends
 * (PostgreSQL reports the constraint, SQLite the columns). A zone takes its users, their role
 * assignments, its role collections and subscriptions with it (ON DELETE CASCADE).
 */
const ZONE_DIRECTORY: Migration = {
  version: 1,
  name: 'zone directory',
  statements: [
    `CREATE TABLE zones (
      id TEXT NOT NULL,
      subdomain TEXT NOT NULL,
      name TEXT NOT NULL,
      branding TEXT,
      created_at TEXT NOT NULL,
      CONSTRAINT zones_pkey PRIMARY KEY (id),
      CONSTRAINT zones_subdomain_unique UNIQUE (subdomain)
    )`,
    // The running number N of `<xsappname>!t<N>`: one row, bumped by an upsert, so concurrent
    // registrations queue on it and a number is never handed out twice, even after a deletion.
    `CREATE TABLE directory_counters (
      name TEXT NOT NULL,
      value BIGINT NOT NULL,
      CONSTRAINT directory_counters_pkey PRIMARY KEY (name)
    )`,
    // `application` is the Application as JSON (it is read whole); the columns beside it are what is
    // looked up or must be unique. The admin client (`zonegate-admin`) has no instance number.
    `CREATE TABLE applications (
      xsappname TEXT NOT NULL,
      instance_number BIGINT,
      client_id TEXT NOT NULL,
      provider_zone_id TEXT NOT NULL,
      tenant_mode TEXT NOT NULL,
      application TEXT NOT NULL,
      secret_digest TEXT NOT NULL,
      sealed_secret TEXT NOT NULL,
      CONSTRAINT applications_pkey PRIMARY KEY (xsappname),
      CONSTRAINT applications_instance_number_unique UNIQUE (instance_number),
      CONSTRAINT applications_client_id_unique UNIQUE (client_id)
    )`,
    'CREATE INDEX applications_provider_zone ON applications (provider_zone_id)',
    `CREATE TABLE subscriptions (
      xsappname TEXT NOT NULL,
      zone_id TEXT NOT NULL,
      CONSTRAINT subscriptions_pkey PRIMARY KEY (xsappname, zone_id),
      CONSTRAINT subscriptions_application_fk FOREIGN KEY (xsappname) REFERENCES applications (xsappname) ON DELETE CASCADE,
      CONSTRAINT subscriptions_zone_fk FOREIGN KEY (zone_id) REFERENCES zones (id) ON DELETE CASCADE
    )`,
    'CREATE INDEX subscriptions_zone ON subscriptions (zone_id)',
    // user_name_lower: UAA compares user names case-insensitively; lower-cased by the application
    // (JavaScript's full Unicode toLowerCase), as SQLite's lower() knows only ASCII.
    `CREATE TABLE users (
      zone_id TEXT NOT NULL,
      id TEXT NOT NULL,
      user_name TEXT NOT NULL,
      user_name_lower TEXT NOT NULL,
      origin TEXT NOT NULL,
      email TEXT NOT NULL,
      given_name TEXT,
      family_name TEXT,
      attributes TEXT NOT NULL,
      password_hash TEXT,
      CONSTRAINT users_pkey PRIMARY KEY (zone_id, id),
      CONSTRAINT users_user_name_unique UNIQUE (zone_id, origin, user_name_lower),
      CONSTRAINT users_zone_fk FOREIGN KEY (zone_id) REFERENCES zones (id) ON DELETE CASCADE
    )`,
    // Logins and provisioning look a user up by name alone (any origin).
    'CREATE INDEX users_by_name ON users (zone_id, user_name_lower)',
    // Collections a zone's administrators made; `role_templates` a JSON array of `<instance>.<template>`.
    `CREATE TABLE role_collections (
      zone_id TEXT NOT NULL,
      name TEXT NOT NULL,
      role_templates TEXT NOT NULL,
      CONSTRAINT role_collections_pkey PRIMARY KEY (zone_id, name),
      CONSTRAINT role_collections_zone_fk FOREIGN KEY (zone_id) REFERENCES zones (id) ON DELETE CASCADE
    )`,
    // No foreign key to role_collections: a user also holds the applications' collections and the
    // built-in one, and keeps a collection removed from xs-security.json until it is unassigned.
    // `position` keeps the order of assignment, which User.roleCollections shows.
    `CREATE TABLE user_role_collections (
      zone_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      role_collection TEXT NOT NULL,
      position INTEGER NOT NULL,
      CONSTRAINT user_role_collections_pkey PRIMARY KEY (zone_id, user_id, role_collection),
      CONSTRAINT user_role_collections_user_fk FOREIGN KEY (zone_id, user_id) REFERENCES users (zone_id, id) ON DELETE CASCADE
    )`,
  ],
};

/**
 * Version 2: signing keys, tenants and the installation row.
 * - signing_keys: each zone's RSA keys (src/zones/keys/keystore.ts). `sealed_pem` is the PKCS#8 PEM
 *   sealed with ZONEGATE_SECRET_KEY (a StoredSecret as JSON, associated data `zkeys:<zone>:<kid>`),
 *   never in clear. At most one active key per zone is a constraint (a partial unique index), so two
 *   instances generating a zone's first key at once cannot both make theirs the signing key.
 *   `publish_until` (epoch ms) is set when a key is rotated out. No foreign key to zones: the keystore
 *   serves any zone id it is asked for, and a zone's removal deletes its keys (src/zones/removal.ts).
 * - tenants: what a SaaS subscription recorded (src/provisioning/service.ts), written before the zone
 *   and deleted after it, so a registry retry finishes a half-done call.
 * - installation: one row (id 'installation'), written at the first start against the database. It
 *   tells "this database was initialised by zonegate" from "empty", and `secret_key_check` (an HMAC of
 *   a fixed text under ZONEGATE_SECRET_KEY, never the key) lets an instance started with another secret
 *   key refuse to start instead of failing on the first sealed key it opens.
 */
const KEYS_AND_TENANTS: Migration = {
  version: 2,
  name: 'signing keys, tenants, installation',
  statements: [
    `CREATE TABLE signing_keys (
      zone_id TEXT NOT NULL,
      kid TEXT NOT NULL,
      sealed_pem TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      publish_until BIGINT,
      active INTEGER NOT NULL,
      CONSTRAINT signing_keys_pkey PRIMARY KEY (zone_id, kid)
    )`,
    'CREATE UNIQUE INDEX signing_keys_active_unique ON signing_keys (zone_id) WHERE active = 1',
    `CREATE TABLE tenants (
      tenant_id TEXT NOT NULL,
      subdomain TEXT NOT NULL,
      subscribed_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      global_account_id TEXT,
      subscription_app_name TEXT,
      admin TEXT,
      CONSTRAINT tenants_pkey PRIMARY KEY (tenant_id)
    )`,
    'CREATE INDEX tenants_subdomain ON tenants (subdomain)',
    `CREATE TABLE installation (
      id TEXT NOT NULL,
      installation_id TEXT NOT NULL,
      created_at TEXT NOT NULL,
      secret_key_check TEXT,
      CONSTRAINT installation_pkey PRIMARY KEY (id)
    )`,
  ],
};

/**
 * Version 3: identity brokering (issue 13, src/zones/idp/).
 * - identity_providers: a zone's external identity providers (UAA's model: `origin_key` unique per
 *   zone, the `origin` its users' tokens carry). `config` is the IdP's configuration as JSON without
 *   its client secret; `sealed_secret` the secret sealed with ZONEGATE_SECRET_KEY (a StoredSecret as
 *   JSON, associated data `idp:<zone>:<origin>`), never in clear. A zone takes its IdPs with it.
 * - role_collection_mappings: XSUAA's "role collection mappings": a group value the IdP asserts
 *   grants a role collection of the zone, at each login. They go with their IdP.
 * - user_role_collections.mapped_from: the origin whose mapping assigned the row, NULL for a direct
 *   assignment. A login replaces the rows its origin mapped and never touches direct ones.
 */
const IDENTITY_PROVIDERS: Migration = {
  version: 3,
  name: 'identity providers, role collection mappings',
  statements: [
    `CREATE TABLE identity_providers (
      zone_id TEXT NOT NULL,
      id TEXT NOT NULL,
      origin_key TEXT NOT NULL,
      type TEXT NOT NULL,
      name TEXT NOT NULL,
      config TEXT NOT NULL,
      sealed_secret TEXT,
      active INTEGER NOT NULL,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      CONSTRAINT identity_providers_pkey PRIMARY KEY (zone_id, id),
      CONSTRAINT identity_providers_origin_key_unique UNIQUE (zone_id, origin_key),
      CONSTRAINT identity_providers_zone_fk FOREIGN KEY (zone_id) REFERENCES zones (id) ON DELETE CASCADE
    )`,
    `CREATE TABLE role_collection_mappings (
      zone_id TEXT NOT NULL,
      origin_key TEXT NOT NULL,
      group_value TEXT NOT NULL,
      role_collection TEXT NOT NULL,
      CONSTRAINT role_collection_mappings_pkey PRIMARY KEY (zone_id, origin_key, group_value, role_collection),
      CONSTRAINT role_collection_mappings_idp_fk FOREIGN KEY (zone_id, origin_key) REFERENCES identity_providers (zone_id, origin_key) ON DELETE CASCADE
    )`,
    'ALTER TABLE user_role_collections ADD COLUMN mapped_from TEXT',
  ],
};

/**
 * Version 8: per-tenant configuration (issue 14, part 3; src/tenant/configuration.ts). Keyed by the
 * tenant's subdomain, which is what the gateway knows a request's tenant by (host or path). `config`
 * is the tenant's document as JSON (destination overrides, settings); `metadata_secret_digest` the
 * SHA-256 of the tenant's metadata credential (src/tenant/metadata.ts), never the credential itself.
 */
const TENANT_CONFIGURATIONS: Migration = {
  version: 8,
  name: 'tenant configurations',
  statements: [
    `CREATE TABLE tenant_configurations (
      subdomain TEXT NOT NULL,
      config TEXT NOT NULL,
      metadata_secret_digest TEXT,
      updated_at TEXT NOT NULL,
      CONSTRAINT tenant_configurations_pkey PRIMARY KEY (subdomain)
    )`,
  ],
};

export const MIGRATIONS: readonly Migration[] = [ZONE_DIRECTORY, KEYS_AND_TENANTS, IDENTITY_PROVIDERS, TENANT_CONFIGURATIONS];
