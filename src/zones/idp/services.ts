/**
 * What a zone's endpoints need of its identity providers (issue 13), built once by ../server.ts and
 * handed to them in ZoneServices. /oauth/authorize reaches the login through `startLogin`, so the
 * OAuth endpoints do not import the brokering code that itself completes their requests.
 */
import type { ServerResponse } from 'node:http';
import type { PendingAuthorization } from '../oauth/authorize.js';
import type { ZoneContext } from '../oauth/context.js';
import type { UpstreamSession } from '../oauth/sso.js';
import type { PasswordCheck } from './password-login.js';
import type { RelyingParties } from './relying-party.js';
import type { SamlMetadataCache } from './saml-metadata.js';
import type { IdentityProviderStore } from './store.js';
import type { RedirectingIdentityProvider } from './types.js';

/**
 * The gateway's redirect relay as the zones use it (src/platform/relay.ts): its one callback URL,
 * and a relay state that forwards the IdP's answer to a zone's own callback with the zone's state.
 */
export interface ZoneRelay {
  readonly callbackUrl: string;
  stateFor(zoneCallbackUrl: string, zoneState: string): Promise<string>;
}

export interface IdpServices {
  store: IdentityProviderStore;
  relyingParties: RelyingParties;
  /** Absent where no relay runs (`zonegate zones start` alone): a provider with useRelay then cannot start a login. */
  relay?: ZoneRelay;
  /** SAML IdPs' metadata (entity id, SSO endpoint, signing certificates), cached per provider version. */
  samlMetadata: SamlMetadataCache;
  /** Sends the browser to the IdP for this authorization request (./login.ts). */
  /** The zone's form with a user backend's origin: the backend checks the password (./password-login.ts). */
  checkPassword(ctx: ZoneContext, originKey: string, userName: string, password: string): Promise<PasswordCheck>;
  startLogin(ctx: ZoneContext, res: ServerResponse, idp: RedirectingIdentityProvider, request: Omit<PendingAuthorization, 'csrf' | 'browser' | 'zoneId'>): Promise<void>;
  /**
   * After /logout.do ended the zone's session: sends the browser to log out at the IdP the session
   * came from, to come back and end at `target` (./logout.ts). False when that IdP offers no logout
   * (or is gone): the zone's logout then ends as before.
   */
  startLogout(ctx: ZoneContext, res: ServerResponse, upstream: UpstreamSession, target: string | undefined, headers: Record<string, string | string[]>): Promise<boolean>;
}
