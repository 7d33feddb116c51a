/**
 * The credentials the gateway receives for the application's client, in the shape of an `xsuaa`
 * service binding in VCAP_SERVICES (REFERENCE.md §3), so the gateway can equally be bound to an
 * external XSUAA-compatible server.
 */
import type { Application, Zone } from '../directory/types.js';

export interface XsuaaCredentials {
  clientid: string;
  clientsecret: string;
  /** The provider zone's URL, e.g. `https://provider.auth.example.com`. */
  url: string;
  /** Host name only, never with a port (REFERENCE.md §1). */
  uaadomain: string;
  xsappname: string;
  identityzone: string;
  tenantid: string;
  tenantmode: 'dedicated' | 'shared';
}

export function credentialsFor(input: {
  application: Application;
  clientSecret: string;
  /** The provider zone (where the application was registered). */
  zone: Zone;
  uaaDomain: string;
  publicUrlFor(subdomain?: string): string;
}): XsuaaCredentials {
  const { application, zone } = input;
  return {
    clientid: application.clientId,
    clientsecret: input.clientSecret,
    url: input.publicUrlFor(zone.subdomain).replace(/\/+$/, ''),
    uaadomain: input.uaaDomain,
    xsappname: application.instanceName,
    identityzone: zone.subdomain,
    tenantid: zone.id,
    tenantmode: application.tenantMode,
  };
}
