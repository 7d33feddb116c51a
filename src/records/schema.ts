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
 * Version 4: the HTML5 application repository (issue 16, src/html5-apps/).
 * - html5_apps: one row per deployed version of an application. `name` is `sap.app.id` without its
 *   dots (the URL's application name, as SAP's repository names it); `app_id` the id itself, so two ids
 *   that lose their dots to the same name cannot both be deployed. `current` marks the version served
 *   when a URL names none: at most one per application, a constraint (a partial unique index), so two
 *   deployments racing cannot both make theirs current. `digest` (SHA-256 over the files' paths and
 *   digests) tells a repeated deployment of the same content (accepted) from other content under a
 *   version number already taken (refused: versions are immutable). `xs_app` is the application's own
 *   xs-app.json as deployed (NULL: none).
 * - html5_app_files: the files, base64 in TEXT (portable SQL, see ./types.ts; UI assets are small,
 *   and each instance caches what it serves), with their SHA-256 (the strong ETag). They go with
 *   their version.
 */
const HTML5_APPS: Migration = {
  version: 4,
  name: 'html5 application repository',
  statements: [
    `CREATE TABLE html5_apps (
      name TEXT NOT NULL,
      version TEXT NOT NULL,
      app_id TEXT NOT NULL,
      service TEXT,
      public INTEGER NOT NULL,
      xs_app TEXT,
      current INTEGER NOT NULL,
      digest TEXT NOT NULL,
      file_count INTEGER NOT NULL,
      total_bytes BIGINT NOT NULL,
      deployed_at TEXT NOT NULL,
      CONSTRAINT html5_apps_pkey PRIMARY KEY (name, version)
    )`,
    'CREATE UNIQUE INDEX html5_apps_current_unique ON html5_apps (name) WHERE current = 1',
    `CREATE TABLE html5_app_files (
      name TEXT NOT NULL,
      version TEXT NOT NULL,
      path TEXT NOT NULL,
      content TEXT NOT NULL,
      size BIGINT NOT NULL,
      sha256 TEXT NOT NULL,
      CONSTRAINT html5_app_files_pkey PRIMARY KEY (name, version, path),
      CONSTRAINT html5_app_files_app_fk FOREIGN KEY (name, version) REFERENCES html5_apps (name, version) ON DELETE CASCADE
    )`,
  ],
};

/**
 * Version 6: trusted platforms and the redirect relay (issue 15, src/platform/).
 * - trusted_platforms: partner platforms that may create tenants and log their users in without a
 *   second login. A platform is known by its key (a JWKS URL, or a public key in PEM with its JWS
 *   algorithm), never by a shared secret; `subdomain_pattern` says which tenants it may create,
 *   `role_collections` (JSON array) which role collections it may grant.
 * - platform_organizations: which tenant a platform created for which of its organizations; the
 *   primary key makes the creation idempotent per (platform, organization), and a tenant belongs to
 *   one platform at most (a platform acts only on its own tenants).
 * - relay_installations: installations the redirect relay forwards OAuth answers to, with their exact
 *   callback URLs (JSON array) and the SHA-256 of the secret they ask for a relay state with.
 */
const PLATFORMS_AND_RELAY: Migration = {
  version: 6,
  name: 'trusted platforms, platform organizations, relay installations',
  statements: [
    `CREATE TABLE trusted_platforms (
      id TEXT NOT NULL,
      name TEXT NOT NULL,
      jwks_uri TEXT,
      public_key_pem TEXT,
      algorithm TEXT,
      subdomain_pattern TEXT NOT NULL,
      role_collections TEXT NOT NULL,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      CONSTRAINT trusted_platforms_pkey PRIMARY KEY (id)
    )`,
    `CREATE TABLE platform_organizations (
      platform_id TEXT NOT NULL,
      organization_id TEXT NOT NULL,
      tenant_id TEXT NOT NULL,
      created_at TEXT NOT NULL,
      CONSTRAINT platform_organizations_pkey PRIMARY KEY (platform_id, organization_id),
      CONSTRAINT platform_organizations_tenant_unique UNIQUE (tenant_id),
      CONSTRAINT platform_organizations_platform_fk FOREIGN KEY (platform_id) REFERENCES trusted_platforms (id) ON DELETE CASCADE
    )`,
    `CREATE TABLE relay_installations (
      id TEXT NOT NULL,
      name TEXT NOT NULL,
      callback_urls TEXT NOT NULL,
      secret_hash TEXT NOT NULL,
      created_at TEXT NOT NULL,
      CONSTRAINT relay_installations_pkey PRIMARY KEY (id)
    )`,
  ],
};

/**
 * Version 7: tenant-routed webhooks and the event relay (issue 15 part 3, src/webhooks/, src/events/).
 * - webhooks: a tenant's inbound webhook `<name>`: how callers authenticate (`hmac`: a signature
 *   with the secret; `basic`: `username` and the secret as password), the secret sealed with
 *   ZONEGATE_SECRET_KEY (a StoredSecret as JSON, associated data `webhook:<tenant>:<name>`), and what
 *   a verified call does (`action`, JSON: forward to a destination, or publish an event).
 * - event_subscriptions: an endpoint of a tenant (an installation) that events are delivered to,
 *   signed with its own secret (sealed, associated data `event-subscription:<id>`); `events` a JSON
 *   array of event names, NULL for all.
 * - event_tokens: bearer tokens with which a tenant's installations poll `GET /events`, kept only as
 *   their SHA-256 (the token is 32 random bytes: a slow hash adds nothing).
 * - events: what was published for a tenant, for polling and for idempotent publishing: the
 *   publisher's id is unique per tenant. `fanned_out` is set once its deliveries are queued, so a
 *   publisher's retry after a crash between the two queues them (again: deliveries have stable ids).
 */
const EVENTS_AND_WEBHOOKS: Migration = {
  version: 7,
  name: 'webhooks, event subscriptions, event tokens, events',
  statements: [
    `CREATE TABLE webhooks (
      tenant TEXT NOT NULL,
      name TEXT NOT NULL,
      auth TEXT NOT NULL,
      username TEXT,
      sealed_secret TEXT NOT NULL,
      action TEXT NOT NULL,
      max_bytes INTEGER NOT NULL,
      created_at BIGINT NOT NULL,
      CONSTRAINT webhooks_pkey PRIMARY KEY (tenant, name)
    )`,
    `CREATE TABLE event_subscriptions (
      id TEXT NOT NULL,
      tenant TEXT NOT NULL,
      url TEXT NOT NULL,
      events TEXT,
      sealed_secret TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      CONSTRAINT event_subscriptions_pkey PRIMARY KEY (id)
    )`,
    'CREATE INDEX event_subscriptions_tenant ON event_subscriptions (tenant)',
    `CREATE TABLE event_tokens (
      id TEXT NOT NULL,
      tenant TEXT NOT NULL,
      digest TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      CONSTRAINT event_tokens_pkey PRIMARY KEY (id),
      CONSTRAINT event_tokens_digest_unique UNIQUE (digest)
    )`,
    `CREATE TABLE events (
      tenant TEXT NOT NULL,
      id TEXT NOT NULL,
      name TEXT NOT NULL,
      data TEXT NOT NULL,
      occurred_at BIGINT NOT NULL,
      fanned_out INTEGER NOT NULL,
      CONSTRAINT events_pkey PRIMARY KEY (tenant, id)
    )`,
    'CREATE INDEX events_by_time ON events (tenant, occurred_at, id)',
  ],
};

/**
 * Version 5: further OAuth clients of an application (issue 14), beside its own `sb-<xsappname>!t<N>`:
 * a web portal, a mobile app, a partner's server (src/zones/clients/). `client` is the client's
 * profile as JSON (redirect patterns, grant types, scopes, zones, referrers; no secret). A confidential
 * client's secret is kept as a SHA-256 digest (verification) and sealed with ZONEGATE_SECRET_KEY
 * (a StoredSecret as JSON, associated data `client:<client id>`), never in clear; a public client has
 * neither. A rotation keeps the previous secret's digest until `previous_secret_expires_at` (epoch ms).
 * `source` is `api` or `file` (clients.json: a start removes the file's clients it no longer lists).
 * A client goes with its application.
 */
const OAUTH_CLIENTS: Migration = {
  version: 5,
  name: 'oauth clients',
  statements: [
    `CREATE TABLE oauth_clients (
      client_id TEXT NOT NULL,
      xsappname TEXT NOT NULL,
      client TEXT NOT NULL,
      source TEXT NOT NULL,
      secret_digest TEXT,
      sealed_secret TEXT,
      previous_secret_digest TEXT,
      previous_secret_expires_at BIGINT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      CONSTRAINT oauth_clients_pkey PRIMARY KEY (client_id),
      CONSTRAINT oauth_clients_application_fk FOREIGN KEY (xsappname) REFERENCES applications (xsappname) ON DELETE CASCADE
    )`,
    'CREATE INDEX oauth_clients_application ON oauth_clients (xsappname)',
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

export const MIGRATIONS: readonly Migration[] = [ZONE_DIRECTORY, KEYS_AND_TENANTS, IDENTITY_PROVIDERS, HTML5_APPS, OAUTH_CLIENTS, PLATFORMS_AND_RELAY, EVENTS_AND_WEBHOOKS, TENANT_CONFIGURATIONS];
