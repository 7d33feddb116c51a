import type { Settings, XsuaaCredentials } from '../config/environment.js';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { Logger } from '../log.js';
import { localhostAwareFetch } from '../net/localhost.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import { INVITATION_PATH } from '../zones/invitations.js';
import type { Zones } from '../zones/start.js';
import { createBoundSubscriptions } from './bound.js';
import { createCallbackHandler, type CallbackHandler } from './callbacks.js';
import { createTenantConfigurations } from '../tenant/configuration.js';
import { createClientTokenGetter } from './client-token.js';
import { createTenantRegistry, type CachedTenantRegistry } from './registry.js';
import { createProvisioning, defaultAdminRoleCollection, type Provisioning } from './service.js';
import { compileTenantUrl, type TenantUrlFor } from './tenant-url.js';
import { createProviderTokenVerifier } from './token.js';

/** What provisioning is set up from. */
export interface ProvisioningSetUp {
  settings: Settings;
  /** Short-lived shared state (the per-tenant lock). */
  storage: Storage;
  /** The records database (the tenants' records). */
  records: RecordsDatabase;
  zones: Zones;
  logger: Logger;
  /** The port the gateway listens on, for tenant URLs without TENANT_URL_TEMPLATE. */
  port: number;
  /** Ends the gateway sessions of an unsubscribed tenant. */
  revokeTenantSessions: (subdomain: string) => Promise<void>;
}

/** The gateway's side of provisioning over the built-in zones. */
export interface ZoneTenants {
  provisioning: Provisioning;
  /** Which tenants are subscribed: a host of an unsubscribed tenant answers 404. */
  tenants: CachedTenantRegistry;
  /** The SaaS registry's callbacks; undefined when xs-security.json declares no callback scope. */
  callbacks: CallbackHandler | undefined;
}

/**
 * The service, the registry of subscribed tenants and the SaaS registry's callbacks over the
 * built-in zones. Undefined when the zones have no application tenants can subscribe to (the
 * reason is logged).
 */
export function setUpZoneTenants(input: ProvisioningSetUp): ZoneTenants | undefined {
  const { settings, zones, logger } = input;
  const set = setUpProvisioning(input);
  if (typeof set === 'string') {
    logger.info('subscription callbacks not mounted', { reason: set });
    return undefined;
  }
  const { provisioning } = set;
  const { application } = provisioning;
  const tenants = createTenantRegistry({ directory: zones.directory, application });

  const scope = `${application.instanceName}.${settings.provisioning.callbackScope}`;
  if (!application.scopes.includes(scope)) {
    // Only a scope of xs-security.json can be granted to the registry (grant-as-authority-to-apps).
    logger.warn('subscription callbacks not mounted: xs-security.json declares no callback scope; set CALLBACK_SCOPE or add the scope', {
      scope: `$XSAPPNAME.${settings.provisioning.callbackScope}`,
    });
    return { provisioning, tenants, callbacks: undefined };
  }
  const { registryUrl } = settings.provisioning;
  const callbacks = createCallbackHandler({
    provisioning,
    // subscriptionParams become the tenant's configuration (src/tenant/configuration.ts).
    tenantConfigurations: { store: createTenantConfigurations(input.records, input.storage), destinations: settings.destinations },
    verifyToken: createProviderTokenVerifier({
      providerZoneId: zones.provider.id,
      tokenKeysUrl: `${zones.publicUrlFor(zones.provider.subdomain)}/token_keys`,
      fetch: localhostAwareFetch,
    }),
    scopeName: settings.provisioning.callbackScope,
    dependencies: settings.provisioning.dependencies,
    logger,
    ...statusReports(settings, zones.registration!.credentials),
  });
  logger.info('subscription callbacks mounted', { path: '/callback/v1.0/', scope, asynchronous: registryUrl !== undefined });
  return { provisioning, tenants, callbacks };
}

/**
 * Where asynchronous subscriptions report (SAAS_REGISTRY_URL) and the client whose token they carry:
 * the registry's own client when configured (SAAS_REGISTRY_CLIENT_*; in BTP the `saas-registry`
 * binding's, the only one the registry accepts), else the application's. Nothing without a URL.
 */
function statusReports(settings: Settings, application: XsuaaCredentials): { registryUrl: string; getClientToken: () => Promise<string> } | Record<string, never> {
  const { registryUrl, registryClient } = settings.provisioning;
  if (registryUrl === undefined) return {};
  return {
    registryUrl,
    getClientToken: createClientTokenGetter(() => {
      if (registryClient) {
        return { url: registryClient.tokenUrl ?? application.url, clientId: registryClient.clientId, clientSecret: registryClient.clientSecret, fetch: localhostAwareFetch };
      }
      return { url: application.url, clientId: application.clientid, clientSecret: application.clientsecret, fetch: localhostAwareFetch };
    }),
  };
}

/**
 * The callbacks when an external XSUAA is bound (issue 12): XSUAA creates the subscriber's zone
 * itself, so a subscription only remembers the tenant and answers its URL (./bound.ts).
 * The caller's token is checked as @sap/xssec checks it against the binding: signed with a key of
 * the binding's `url` + `/token_keys`, issued in the binding's zone (`tenantid`), its audience the
 * binding's client or xsappname, and carrying `<xsappname>.<CALLBACK_SCOPE>` (the registry gets it as
 * an authority through grant-as-authority-to-apps). Undefined, with the reason logged, when the
 * gateway has no tenant hosts or the binding names no zone id.
 */
export function setUpBoundCallbacks(input: Omit<ProvisioningSetUp, 'zones'> & { xsuaa: XsuaaCredentials }): CallbackHandler | undefined {
  const { settings, xsuaa, logger } = input;
  if (settings.tenantHostPattern === undefined && settings.tenantPathPattern === undefined && settings.provisioning.tenantUrlTemplate === undefined) {
    logger.info('subscription callbacks not mounted', { reason: 'no TENANT_HOST_PATTERN: the gateway serves a single tenant' });
    return undefined;
  }
  if (xsuaa.tenantid === undefined) {
    // Without it any zone of the landscape (XSUAA signs them all with the same keys) could call.
    logger.warn('subscription callbacks not mounted: the xsuaa binding has no tenantid (the provider zone id), so the registry\'s tokens cannot be told from other zones\'');
    return undefined;
  }
  // As setUpProvisioning does: a template that does not fit the host pattern stops the start, not the first subscriber.
  const tenantUrlFor = tenantUrls(settings, input.port);
  if (typeof tenantUrlFor === 'string') throw new ConfigError([{ file: 'environment variable TENANT_URL_TEMPLATE', path: '', message: tenantUrlFor }]);
  const scopeName = settings.provisioning.callbackScope;
  const provisioning = createBoundSubscriptions({
    records: input.records,
    notices: input.storage,
    application: { xsappname: xsuaa.xsappname, instanceName: xsuaa.xsappname, providerZoneId: xsuaa.tenantid },
    tenantUrlFor,
    revokeTenantSessions: input.revokeTenantSessions,
    logger,
  });
  const verify = createProviderTokenVerifier({
    providerZoneId: xsuaa.tenantid,
    tokenKeysUrl: `${xsuaa.url.replace(/\/+$/, '')}/token_keys`,
    fetch: localhostAwareFetch,
    audience: { clientId: xsuaa.clientid, xsappname: xsuaa.xsappname },
  });
  const callbacks = createCallbackHandler({
    provisioning,
    // subscriptionParams become the tenant's configuration (src/tenant/configuration.ts).
    tenantConfigurations: { store: createTenantConfigurations(input.records, input.storage), destinations: settings.destinations },
    verifyToken: verify,
    scopeName,
    dependencies: settings.provisioning.dependencies,
    logger,
    ...statusReports(settings, xsuaa),
  });
  logger.info('subscription callbacks mounted', {
    path: '/callback/v1.0/',
    scope: `${xsuaa.xsappname}.${scopeName}`,
    identity: 'xsuaa binding',
    asynchronous: settings.provisioning.registryUrl !== undefined,
  });
  return callbacks;
}

/**
 * Tenant provisioning over the built-in zones (issue 5), shared by the gateway and `zonegate tenants`;
 * or, as a string, why there is none (no shared application, no tenant hosts). A setting that names
 * something xs-security.json lacks is a ConfigError, every such problem at once.
 */
export function setUpProvisioning(input: ProvisioningSetUp): { provisioning: Provisioning } | string {
  const { settings, zones } = input;
  const configured = settings.provisioning;
  const registration = zones.registration;
  if (!registration) return 'no xs-security.json: no application for tenants to subscribe to';
  const { application } = registration;
  if (application.tenantMode !== 'shared') return `${application.xsappname} has tenant-mode "${application.tenantMode}"; only a "shared" application has tenants`;
  const problems: ConfigProblem[] = [];
  const problem = (variable: string, message: string) => problems.push({ file: `environment variable ${variable}`, path: '', message });

  const adminRoleCollection = configured.adminRoleCollection ?? defaultAdminRoleCollection(application);
  if (configured.adminRoleCollection !== undefined && !application.roleCollections.some((c) => c.name === adminRoleCollection)) {
    problem(
      'TENANT_ADMIN_ROLE_COLLECTION',
      `"${adminRoleCollection}" is not a role collection of ${application.xsappname}; xs-security.json declares ${application.roleCollections.map((c) => `"${c.name}"`).join(', ') || 'none'}`,
    );
  }
  if (configured.callbackScopeExplicit && !application.scopes.includes(`${application.instanceName}.${configured.callbackScope}`)) {
    problem('CALLBACK_SCOPE', `xs-security.json of ${application.xsappname} declares no scope "$XSAPPNAME.${configured.callbackScope}"`);
  }
  if (settings.tenantHostPattern === undefined && settings.tenantPathPattern === undefined && configured.tenantUrlTemplate === undefined) {
    if (problems.length) throw new ConfigError(problems);
    return 'no TENANT_HOST_PATTERN: the gateway serves a single tenant';
  }
  const tenantUrlFor = tenantUrls(settings, input.port);
  if (typeof tenantUrlFor === 'string') problem('TENANT_URL_TEMPLATE', tenantUrlFor);
  if (problems.length || typeof tenantUrlFor === 'string') throw new ConfigError(problems);
  if (adminRoleCollection === undefined) return `xs-security.json of ${application.xsappname} declares no role collection to give a subscribing administrator`;

  const provisioning = createProvisioning({
    directory: zones.directory,
    records: input.records,
    storage: input.storage,
    application,
    adminRoleCollection,
    tenantUrlFor,
    revokeTenantSessions: input.revokeTenantSessions,
    deleteZoneKeys: (zoneId) => zones.server.keys.deleteKeys(zoneId),
    // On the tenant zone's own host: the page refuses a link of another zone.
    invite: async ({ zoneId, subdomain, userId, returnUrl }) => {
      const { reference, expiresAt } = await zones.server.invitations.issue({ zoneId, userId, returnUrl });
      return { url: `${zones.publicUrlFor(subdomain)}${INVITATION_PATH}?code=${reference}`, expiresAt: new Date(expiresAt).toISOString() };
    },
    logger: input.logger,
  });
  return { provisioning };
}

/**
 * The tenant's URL: TENANT_URL_TEMPLATE in production (behind TLS and a load balancer the gateway
 * cannot know its public scheme and port); by default plain http on the port listened on, which is
 * what a developer's browser reaches. A string: why the template does not fit the host pattern.
 */
function tenantUrls(settings: Settings, port: number): TenantUrlFor | string {
  return compileTenantUrl(settings.tenantHostPattern, settings.provisioning.tenantUrlTemplate, { protocol: 'http', ...(port > 0 ? { port } : {}) }, settings.tenantPathPattern !== undefined);
}
