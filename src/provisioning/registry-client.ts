/**
 * The SaaS registry's client in the built-in zones: what SAP's `saas-registry` service holds in BTP,
 * made here so that a self-hosted registry (or a test, or an operator's script) can call the
 * subscription callbacks with a token the gateway accepts.
 *
 * It is an ordinary client of the provider's zone, registered like any application and given the
 * callback scope only through the application's own grant, exactly as XSUAA decides it
 * (REFERENCE.md §7; ZoneDirectory.clientAuthorities):
 *  - its xsappname is the one the application's xs-security.json names in the callback scope's
 *    `grant-as-authority-to-apps` (SAP's samples: `$XSAPPNAME(application,sap-provisioning,tenant-onboarding)`,
 *    read as its last argument, src/config/xs-references.ts);
 *  - it asks for that scope as an authority (`$XSAPPNAME(application,<app>).Callback`), so both
 *    sides agree, as XSUAA requires;
 *  - it has the client-credentials grant only: the registry never acts for a user.
 * An application that grants the scope to nobody gets no registry client: nothing here widens what
 * xs-security.json grants. Registering again keeps the client's secret (like the application's).
 */
import type { XsuaaCredentials } from '../config/environment.js';
import type { XsSecurity } from '../config/types.js';
import type { Application, Zone, ZoneDirectory } from '../zones/directory/types.js';
import { credentialsFor } from '../zones/oauth/credentials.js';

/** An hour, as XSUAA gives a client-credentials token by default when the descriptor says nothing shorter. */
const TOKEN_VALIDITY_SECONDS = 3600;

export class RegistryClientError extends Error {}

export interface RegistryClient {
  application: Application;
  /** xsuaa-shaped: `clientid`, `clientsecret`, `url` (the provider zone), `uaadomain`, `xsappname`, ... */
  credentials: XsuaaCredentials;
  /** The scope its tokens carry, `<instanceName>.<scope>`. */
  scope: string;
}

/** The xsappname the application grants `<instanceName>.<scopeName>` to as an authority; undefined if none. */
export function registryXsappname(application: Application, scopeName: string): string | undefined {
  const scope = `${application.instanceName}.${scopeName}`;
  const grant = application.authorityGrants?.find((g) => g.scope === scope);
  // The first named application is the registry in every SAP descriptor (there is exactly one).
  return grant?.apps.find((app) => app !== application.xsappname);
}

export async function ensureRegistryClient(input: {
  directory: ZoneDirectory;
  application: Application;
  provider: Zone;
  scopeName: string;
  uaaDomain: string;
  publicUrlFor(subdomain?: string): string;
}): Promise<RegistryClient> {
  const { application, scopeName } = input;
  const scope = `${application.instanceName}.${scopeName}`;
  if (!application.scopes.includes(scope)) {
    throw new RegistryClientError(`xs-security.json of ${application.xsappname} declares no scope "$XSAPPNAME.${scopeName}" (CALLBACK_SCOPE)`);
  }
  const xsappname = registryXsappname(application, scopeName);
  if (xsappname === undefined) {
    throw new RegistryClientError(
      `xs-security.json of ${application.xsappname} grants "$XSAPPNAME.${scopeName}" to no application; add "grant-as-authority-to-apps": ["$XSAPPNAME(application,sap-provisioning,tenant-onboarding)"] to that scope`,
    );
  }
  const descriptor: XsSecurity = {
    file: `(SaaS registry client of ${application.xsappname})`,
    xsappname,
    tenantMode: 'dedicated',
    description: `SaaS registry client for ${application.xsappname}`,
    scopes: [],
    attributes: [],
    roleTemplates: [],
    roleCollections: [],
    authorities: [`$XSAPPNAME(application,${application.xsappname}).${scopeName}`],
    foreignScopeReferences: [],
    oauth2Configuration: { tokenValidity: TOKEN_VALIDITY_SECONDS, refreshTokenValidity: TOKEN_VALIDITY_SECONDS, redirectUris: [], grantTypes: ['client_credentials'] },
  };
  const registered = await input.directory.registerApplication(descriptor, input.provider.id);
  return {
    application: registered.application,
    scope,
    credentials: credentialsFor({
      application: registered.application,
      clientSecret: registered.clientSecret,
      zone: input.provider,
      uaaDomain: input.uaaDomain,
      publicUrlFor: input.publicUrlFor,
    }),
  };
}
