/**
 * The demo's third tenant (issue 13): its zone has no password users of its own and one OpenID
 * provider, the demo's corporate IdP (./corporate-idp.ts), whose groups map to the application's role
 * collections. The zone then sends every login straight to the IdP (../zones/idp/choose.ts), and
 * `/api/whoami` shows the IdP's origin key and the mapped scopes.
 *
 * Set up through the same stores the admin API and `zonegate idps` write: the provider document read
 * by readIdentityProvider, the secret sealed with the gateway's key, the mappings checked against
 * the zone's role collections.
 */
import type { Environment, Settings } from '../config/environment.js';
import { resolveSecretKey } from '../config/environment.js';
import type { RunningGateway } from '../server/start.js';
import { readIdentityProvider } from '../zones/idp/config.js';
import { createIdentityProviderStore } from '../zones/idp/store.js';
import { CORPORATE_USERS, startCorporateIdp, type CorporateIdp } from './corporate-idp.js';
import { subscribeDemoTenant } from './subscribe.js';

export const IDP_TENANT = 'contoso';
/** The provider's origin key in the zone: the `origin` of its users and their tokens. */
export const IDP_ORIGIN = 'contoso-idp';

export type IdpTenant =
  | { offered: true; tenant: string; originKey: string; issuer: string; stop(): Promise<void> }
  | { offered: false; reason: string };

/**
 * Starts the corporate IdP and points the tenant's zone at it. On every start (the IdP's port is
 * new each time) the stored provider is updated; when the IdP is off or cannot be loaded, a provider
 * stored by an earlier start is made inactive, so the zone never sends a login to a dead address.
 */
export async function startIdpTenant(running: RunningGateway, settings: Settings, env: Environment): Promise<IdpTenant> {
  const { directory, credentials, identity } = running;
  if (!directory || !credentials || !identity) return { offered: false, reason: 'the built-in identity zones are not running' };
  // The gateway resolved (and warned about) the same key already: the generated one is read back.
  const secretKey = resolveSecretKey(settings, () => undefined);
  const store = createIdentityProviderStore(running.records, directory, { secretKey });
  const zoneUrl = credentials.url.replace(`//${credentials.identityzone}.`, `//${IDP_TENANT}.`).replace(/\/+$/, '');

  let idp: CorporateIdp | { absent: string };
  if (env.ZONEGATE_DEMO_IDP === 'off') idp = { absent: 'ZONEGATE_DEMO_IDP=off' };
  else {
    // A demo IdP that fails to start (another oidc-provider major, say) costs the demo this tenant, not the rest.
    idp = await startCorporateIdp({ redirectUri: `${zoneUrl}/login/callback/${IDP_ORIGIN}` }).catch((err: unknown) => ({
      absent: `the demo IdP did not start: ${err instanceof Error ? err.message : String(err)}`,
    }));
  }
  if ('absent' in idp) {
    // Not subscribed now; a provider an earlier start stored is made inactive.
    const zone = await directory.getZoneBySubdomain(IDP_TENANT);
    const previous = zone && (await store.getByOrigin(zone.id, IDP_ORIGIN));
    if (zone && previous?.active) await store.update(zone.id, previous.id, readIdentityProvider({ active: false, config: previous.config }, previous));
    return { offered: false, reason: idp.absent };
  }
  try {
    const zoneId = await subscribeDemoTenant(directory, credentials.clientid, IDP_TENANT, running.provisioning);
    const previous = await store.getByOrigin(zoneId, IDP_ORIGIN);
    const document = {
      type: 'oidc1.0',
      originKey: IDP_ORIGIN,
      name: 'Contoso corporate IdP (demo)',
      active: true,
      config: {
        discoveryUrl: `${idp.issuer}/.well-known/openid-configuration`,
        relyingPartyId: idp.clientId,
        relyingPartySecret: idp.clientSecret,
        scopes: ['openid', 'profile', 'email', 'groups'],
        attributeMappings: { user_name: 'preferred_username', external_groups: ['groups'] },
      },
    };
    if (previous) await store.update(zoneId, previous.id, readIdentityProvider(document, previous));
    else await store.create(zoneId, readIdentityProvider(document));
    await store.replaceMappings(zoneId, IDP_ORIGIN, CORPORATE_USERS.map((u) => ({ group: u.group, roleCollection: u.roleCollection })));
  } catch (err) {
    await idp.stop();
    throw err;
  }
  return { offered: true, tenant: IDP_TENANT, originKey: IDP_ORIGIN, issuer: idp.issuer, stop: idp.stop };
}
