import { hkdfSync } from 'node:crypto';
import type { XsuaaCredentials } from '../config/environment.js';
import type { RoutesFile, XsSecurity } from '../config/types.js';
import type { Logger } from '../log.js';
import { localhostAwareFetch } from '../net/localhost.js';
import { createKeyring, type SessionKey } from '../sessions/crypto.js';
import { StorageSessionStore } from '../sessions/store.js';
import type { Storage } from '../storage/types.js';
import type { CookieDomains } from '../sessions/cookie-domain.js';
import type { ForwardAuthLogin, LoginFeature } from './contract.js';
import type { LoginMetrics } from '../metrics/types.js';
import { createLogin } from './login.js';
import { createRelyingParty, type FetchLike } from './relying-party.js';

export interface LoginSetup {
  credentials: XsuaaCredentials;
  storage: Storage;
  routesFile: RoutesFile;
  /** Seal session tokens and sign the session cookie; the first key is current (rotation). */
  sessionKeys: readonly SessionKey[];
  /** Idle timeout, minutes. */
  sessionTimeoutMinutes: number;
  absoluteLifetimeMs?: number;
  refreshAheadMs?: number;
  /** SESSION_COOKIE_DOMAIN; host-only cookies without it. */
  cookieDomains?: CookieDomains;
  logger: Logger;
  fetch?: FetchLike;
  metrics?: LoginMetrics;
  /** The application's xs-security.json, when one was loaded: a 403 page names the role collections to ask for. */
  security?: XsSecurity;
}

/** Assembles the login feature from the binding's credentials: relying party, session store, login. */
export function setUpLogin(setup: LoginSetup): LoginFeature & ForwardAuthLogin {
  const { routesFile, credentials } = setup;
  const keyring = createKeyring(setup.sessionKeys);
  const sessionStore = new StorageSessionStore({
    storage: setup.storage,
    keyring,
    // The user's profile and scopes are sealed like the tokens: a dump of the store must not say who
    // is logged in, with which e-mail and which authorisations (the scopes are the tokens' content).
    // Backend cookies are backend sessions: as good as a login to that backend.
    secretFields: ['tokens', 'user', 'backendCookies'],
    idleTimeoutMs: setup.sessionTimeoutMinutes * 60_000,
    absoluteLifetimeMs: setup.absoluteLifetimeMs,
    logger: setup.logger,
  });
  const relyingParty = createRelyingParty({ credentials, fetch: setup.fetch ?? localhostAwareFetch });
  const bindingHost = new URL(credentials.url).hostname;
  const providerTenant = credentials.identityzone ?? bindingHost.slice(0, bindingHost.length - credentials.uaadomain.length - 1);
  const logout = routesFile.logout ?? {};
  return createLogin({
    relyingParty,
    storage: setup.storage,
    sessionStore,
    keyring,
    // The cookie is signed with secrets derived from the same keys (never the raw key material).
    sessionSecrets: setup.sessionKeys.map(cookieSecret),
    refreshAheadMs: setup.refreshAheadMs,
    logout: {
      endpoint: logout.logoutEndpoint,
      page: logout.logoutPage,
      methods: (logout.logoutMethods as ('GET' | 'POST')[] | undefined) ?? ['GET'],
      csrfProtection: (logout as { csrfProtection?: boolean }).csrfProtection,
    },
    providerTenant,
    cookieDomains: setup.cookieDomains,
    clientId: credentials.clientid,
    roleCollections: roleCollectionsByScope(setup.security, credentials.xsappname),
    logger: setup.logger,
    metrics: setup.metrics,
  });
}

/**
 * Which role collections grant each scope, as xs-security.json defines them: collection -> role
 * templates -> scopes, with `$XSAPPNAME` expanded as the route table expands it (the binding's xsappname).
 */
export function roleCollectionsByScope(security: XsSecurity | undefined, xsappname: string): Map<string, string[]> {
  const byScope = new Map<string, string[]>();
  if (!security) return byScope;
  const expand = (name: string) => name.replaceAll('$XSAPPNAME', xsappname);
  for (const collection of security.roleCollections) {
    for (const reference of collection.roleTemplateReferences) {
      const template = security.roleTemplates.find((t) => expand(`$XSAPPNAME.${t.name}`) === expand(reference));
      for (const scope of template?.scopeReferences ?? []) {
        const names = byScope.get(expand(scope)) ?? [];
        if (!names.includes(expand(collection.name))) names.push(expand(collection.name));
        byScope.set(expand(scope), names);
      }
    }
  }
  return byScope;
}

/** A separate secret for cookie signatures, so the sealing key itself is used for one purpose only. */
function cookieSecret(key: SessionKey): string {
  return Buffer.from(hkdfSync('sha256', key.secret, 'zonegate', `session cookie ${key.id}`, 32)).toString('base64url');
}

/** Session keys derived from the secret key, for deployments that set no SESSION_KEYS. */
export function sessionKeysFromSecret(secretKey: Uint8Array): SessionKey[] {
  return [{ id: 'k0', secret: Buffer.from(hkdfSync('sha256', secretKey, 'zonegate', 'session sealing', 32)).toString('base64url') }];
}
