/**
 * The credentials the gateway receives for the application's client, in the shape of an `xsuaa`
 * service binding in VCAP_SERVICES (REFERENCE.md §3), so the gateway can equally be bound to an
 * external XSUAA-compatible server.
 */
import type { XsuaaCredentials } from '../../config/environment.js';
import type { Application, Zone } from '../directory/types.js';

export type { XsuaaCredentials } from '../../config/environment.js';

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
