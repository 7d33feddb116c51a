import { hkdfSync } from 'node:crypto';
import type { XsuaaCredentials } from '../config/environment.js';
import type { RoutesFile } from '../config/types.js';
import type { Logger } from '../log.js';
import { localhostAwareFetch } from '../net/localhost.js';
import { createKeyring, type SessionKey } from '../sessions/crypto.js';
import { StorageSessionStore } from '../sessions/store.js';
import type { Storage } from '../storage/types.js';
import { SECURE_SESSION_COOKIE, SESSION_COOKIE, type LoginFeature } from './contract.js';
import { LOGIN_COOKIE_PREFIX } from './login-binding.js';
import { createLogin, ownPathsOf } from './login.js';
import { createRelyingParty, type FetchLike } from './relying-party.js';

export interface LoginSetup {
  /** A function: the built-in zones know their URL (with the port listened on) only once listening. */
  credentials: XsuaaCredentials | (() => XsuaaCredentials);
  storage: Storage;
  routesFile: RoutesFile;
  /** Seal session tokens and sign the session cookie; the first key is current (rotation). */
  sessionKeys: readonly SessionKey[];
  /** Idle timeout, minutes. */
  sessionTimeoutMinutes: number;
  absoluteLifetimeMs?: number;
  refreshAheadMs?: number;
  logger: Logger;
  fetch?: FetchLike;
}

/**
 * Assembles the login feature from the binding's credentials: relying party, session store, login.
 * Built on first use, so that start-up costs nothing and the credentials may come later.
 */
export function setUpLogin(setup: LoginSetup): LoginFeature {
  let login: LoginFeature | undefined;
  const get = () => (login ??= build(setup, typeof setup.credentials === 'function' ? setup.credentials() : setup.credentials));
  return {
    ownCookies: new Set([SESSION_COOKIE, SECURE_SESSION_COOKIE, `${LOGIN_COOKIE_PREFIX}*`]),
    // Known from routes.json alone: asking must not build the login (credentials may come later).
    ownPaths: ownPathsOf(setup.routesFile.logout?.logoutEndpoint),
    handleOwnPath: (req, res, ctx, pathname) => get().handleOwnPath(req, res, ctx, pathname),
    check: (req, res, ctx) => get().check(req, res, ctx),
    checkUpgrade: (req, ctx) => get().checkUpgrade(req, ctx),
    sessionOnPublicRoute: (req, res, ctx) => get().sessionOnPublicRoute(req, res, ctx),
    keepBackendCookies: (req, sessionId, destination, changes) => get().keepBackendCookies(req, sessionId, destination, changes),
    serveUserApi: (req, res, ctx, path, verdict) => get().serveUserApi(req, res, ctx, path, verdict),
    forgetTenant: (tenant) => get().forgetTenant(tenant),
  };
}

function build(setup: LoginSetup, credentials: XsuaaCredentials): LoginFeature {
  const { routesFile } = setup;
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
    clientId: credentials.clientid,
    logger: setup.logger,
  });
}

/** A separate secret for cookie signatures, so the sealing key itself is used for one purpose only. */
function cookieSecret(key: SessionKey): string {
  return Buffer.from(hkdfSync('sha256', key.secret, 'zonegate', `session cookie ${key.id}`, 32)).toString('base64url');
}

/** Session keys derived from the secret key, for deployments that set no SESSION_KEYS. */
export function sessionKeysFromSecret(secretKey: Uint8Array): SessionKey[] {
  return [{ id: 'k0', secret: Buffer.from(hkdfSync('sha256', secretKey, 'zonegate', 'session sealing', 32)).toString('base64url') }];
}
