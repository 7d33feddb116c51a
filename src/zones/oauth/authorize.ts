/**
 * GET /oauth/authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2, RFC 7636). The checks run in the RFC's
 * order: first the client and its redirect URI, because until both are known to be good no error may
 * be sent to the redirect URI (§4.1.2.1: an error page instead, or the endpoint becomes an open
 * redirector). After that, errors go back to the client with `error=`.
 */
import { isAdminClient } from '../directory/admin-client.js';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Application } from '../directory/types.js';
import { clientForZone } from './client-auth.js';
import { issueCode } from './codes.js';
import type { ZoneContext } from './context.js';
import { InvalidRequest, InvalidScope, LoginRequired, OAuthError, UnauthorizedClient, UnsupportedResponseType, toOAuthError } from './errors.js';
import { grantAllowed } from './grants/allowed.js';
import { cookie, readCookie, redirect, sendHtml } from './http.js';
import { errorPage, loginPage } from './login-page.js';
import { compileRedirectPatterns, isAllowedRedirectUri } from './redirect-uri.js';
import { readSso } from './sso.js';

/** An authorization request waiting for the user to sign in. */
export interface PendingAuthorization {
  zoneId: string;
  clientId: string;
  redirectUri: string;
  /** Whether redirect_uri was in the request (then the token request must repeat it, §4.1.3). */
  redirectUriSent: boolean;
  state?: string;
  scopes?: string[];
  nonce?: string;
  codeChallenge?: string;
  csrf: string;
  /** SHA-256 of the browser-binding cookie: the form only works in the browser that opened it (login CSRF). */
  browser: string;
}

export const LOGIN_COOKIE = 'zg_zone_login';
const PKCE_VALUE = /^[A-Za-z0-9._~-]{43,128}$/;
const pendingKey = (id: string) => `zauth:${id}`;
const sha = (v: string) => createHash('sha256').update(v).digest('base64url');
/** Browser-binding values this server issued, by hash (a store dump does not yield cookie values). */
const bindingKey = (value: string) => `zbrowser:${sha(value)}`;

/** Redirects to the client with the parameters in the query (response_mode=query). */
export function redirectToClient(res: ServerResponse, redirectUri: string, params: Record<string, string | undefined>, headers: Record<string, string | string[]> = {}): void {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  redirect(res, url.href, headers);
}

function errorToClient(res: ServerResponse, redirectUri: string, err: OAuthError, state: string | undefined): void {
  redirectToClient(res, redirectUri, { error: err.error, error_description: err.expose ? err.message : 'An internal error occurred', state });
}

/** Requested scopes the client may have; `openid` is always allowed. */
function requestedScopes(application: Application, scope: string | null): string[] | undefined {
  if (scope === null || scope.trim() === '') return undefined;
  const requested = [...new Set(scope.trim().split(/\s+/))];
  const unknown = requested.filter((s) => s !== 'openid' && !application.scopes.includes(s));
  if (unknown.length > 0) throw new InvalidScope(`Invalid scope: ${unknown.join(' ')}`);
  return requested;
}

/** The scopes a code carries: what the user has for this client, narrowed to the request's. */
export async function grantedScopes(ctx: ZoneContext, application: Application, userId: string, requested: string[] | undefined): Promise<string[]> {
  const user = await ctx.services.directory.getUser(ctx.zone.id, userId);
  if (!user) throw new InvalidRequest('The user no longer exists');
  const allowed = await ctx.services.directory.userScopes(application, user);
  if (!requested) return allowed;
  const granted = allowed.filter((s) => requested.includes(s));
  if (granted.length === 0) throw new InvalidScope('None of the requested scopes is granted to the user');
  return granted;
}

/** Issues the code for a signed-in user and sends the browser back to the client. */
export async function completeAuthorization(
  ctx: ZoneContext,
  res: ServerResponse,
  pending: Omit<PendingAuthorization, 'csrf' | 'browser' | 'zoneId'>,
  login: { userId: string; authTime: number },
  headers: Record<string, string | string[]> = {},
): Promise<void> {
  const application = await clientForZone(ctx, pending.clientId);
  if (!application) {
    sendHtml(res, 400, errorPage(ctx.zone, 'Sign-in failed', 'The application is not available in this zone.'), headers);
    return;
  }
  let scopes: string[];
  try {
    scopes = await grantedScopes(ctx, application, login.userId, pending.scopes);
  } catch (err) {
    errorToClient(res, pending.redirectUri, toOAuthError(err), pending.state);
    return;
  }
  const code = await issueCode(ctx, {
    zoneId: ctx.zone.id,
    clientId: application.clientId,
    ...(pending.redirectUriSent ? { redirectUri: pending.redirectUri } : {}),
    userId: login.userId,
    scopes,
    authTime: login.authTime,
    ...(pending.nonce !== undefined ? { nonce: pending.nonce } : {}),
    ...(pending.codeChallenge !== undefined ? { codeChallenge: pending.codeChallenge } : {}),
  });
  redirectToClient(res, pending.redirectUri, { code, state: pending.state }, headers);
}

export async function handleAuthorize(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const q = url.searchParams;
  const zone = ctx.zone;
  const repeated = ['client_id', 'redirect_uri', 'response_type', 'state', 'scope', 'nonce', 'code_challenge', 'code_challenge_method'].find(
    (name) => q.getAll(name).length > 1,
  );
  if (repeated) {
    sendHtml(res, 400, errorPage(zone, 'Invalid request', `The parameter ${repeated} is repeated.`));
    return;
  }

  // 1. Client and redirect URI: failures here never redirect.
  const application = await clientForZone(ctx, q.get('client_id') ?? undefined);
  if (!application) {
    sendHtml(res, 400, errorPage(zone, 'Invalid request', 'The application is unknown or not available in this zone.'));
    return;
  }
  const patterns = compileRedirectPatterns(application.redirectUris);
  const sent = q.get('redirect_uri');
  let redirectUri: string;
  if (sent !== null) {
    if (!isAllowedRedirectUri(patterns, sent)) {
      ctx.services.logger.warn('authorize: redirect_uri not allowed', { zoneId: zone.id, clientId: application.clientId });
      sendHtml(res, 400, errorPage(zone, 'Invalid request', 'The redirect URI is not registered for this application.'));
      return;
    }
    redirectUri = sent;
  } else {
    // §3.1.2.3: without redirect_uri only a single, fully specified registration can be used.
    const only = application.redirectUris.length === 1 && !application.redirectUris[0]!.includes('*') ? application.redirectUris[0]! : undefined;
    if (!only || !isAllowedRedirectUri(patterns, only)) {
      sendHtml(res, 400, errorPage(zone, 'Invalid request', 'A redirect_uri parameter is required.'));
      return;
    }
    redirectUri = only;
  }
  const state = q.get('state') ?? undefined;

  // 2. From here on, errors go to the client.
  try {
    if (q.get('response_type') !== 'code') throw new UnsupportedResponseType('Only response_type=code is supported');
    if (!grantAllowed(application, 'authorization_code')) throw new UnauthorizedClient('The client may not use the authorization code grant');
    const challenge = q.get('code_challenge') ?? undefined;
    const method = q.get('code_challenge_method') ?? undefined;
    if (challenge !== undefined) {
      // RFC 7636 §4.2; `plain` offers no protection against a leaked authorization request (RFC 9700 §2.1.1).
      if ((method ?? 'plain') !== 'S256') throw new InvalidRequest('code_challenge_method must be S256');
      if (!PKCE_VALUE.test(challenge)) throw new InvalidRequest('code_challenge is malformed');
    } else if (method !== undefined) {
      throw new InvalidRequest('code_challenge_method without code_challenge');
    } else if (isAdminClient(application)) {
      // Its secret ships with every admin tool, so it is as good as public: PKCE is its protection (RFC 9700 §2.1.1).
      throw new InvalidRequest('The administration client must use PKCE (code_challenge with S256)');
    }
    const scopes = requestedScopes(application, q.get('scope'));
    const nonce = q.get('nonce') ?? undefined;
    const prompt = (q.get('prompt') ?? '').split(' ');
    const base = {
      clientId: application.clientId,
      redirectUri,
      redirectUriSent: sent !== null,
      ...(state !== undefined ? { state } : {}),
      ...(scopes !== undefined ? { scopes } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
      ...(challenge !== undefined ? { codeChallenge: challenge } : {}),
    };

    const sso = prompt.includes('login') ? undefined : await readSso(ctx, req);
    if (sso && (await ctx.services.directory.getUser(zone.id, sso.userId))) {
      await completeAuthorization(ctx, res, base, sso);
      return;
    }
    if (prompt.includes('none')) throw new LoginRequired('The user is not signed in');

    const id = randomBytes(24).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const browser = await browserBinding(ctx, req);
    const pending: PendingAuthorization = { ...base, zoneId: zone.id, csrf, browser: sha(browser) };
    await ctx.services.storage.set(pendingKey(id), JSON.stringify(pending), { ttlMs: ctx.services.loginTtlMs });
    const loginHint = q.get('login_hint') ?? undefined;
    sendHtml(res, 200, loginPage(zone, { authRequestId: id, csrf, clientId: application.clientId, ...(loginHint ? { userName: loginHint } : {}) }), {
      'set-cookie': cookie(LOGIN_COOKIE, browser, { secure: ctx.secure, path: '/' }),
    });
  } catch (err) {
    const oauthErr = toOAuthError(err);
    if (!oauthErr.expose) ctx.services.logger.error('authorize failed', { zoneId: zone.id, err: String(err) });
    errorToClient(res, redirectUri, oauthErr, state);
  }
}

/**
 * The browser-binding value for a new login form. Only a value this server issued (and that is still
 * live) is kept, so two tabs' pending logins both work; anything else in the cookie is replaced by a
 * fresh random value. Adopting a client's value would let an attacker who can plant cookies (a
 * sibling subdomain, a plain-http response) know the binding in advance, and then a form the
 * attacker opened with it goes through in the victim's browser: the victim is signed in to the
 * attacker's account (login CSRF, RFC 6749 §10.12; OWASP Session Management Cheat Sheet, "Session
 * Fixation": identifiers are generated by the server, never accepted from the client).
 */
async function browserBinding(ctx: ZoneContext, req: IncomingMessage): Promise<string> {
  const { storage, loginTtlMs } = ctx.services;
  const presented = readCookie(req, LOGIN_COOKIE);
  if (presented && (await storage.get(bindingKey(presented))) === ctx.zone.id) {
    // Lives as long as the newest form bound to it.
    await storage.set(bindingKey(presented), ctx.zone.id, { ttlMs: loginTtlMs });
    return presented;
  }
  const fresh = randomBytes(24).toString('base64url');
  await storage.set(bindingKey(fresh), ctx.zone.id, { ttlMs: loginTtlMs });
  return fresh;
}

/** Reads a pending authorization for the login form, checking browser binding and CSRF token. */
export async function readPendingAuthorization(ctx: ZoneContext, req: IncomingMessage, id: string, csrf: string): Promise<PendingAuthorization | undefined> {
  if (!id || !csrf) return undefined;
  const raw = await ctx.services.storage.get(pendingKey(id));
  if (!raw) return undefined;
  const pending = JSON.parse(raw) as PendingAuthorization;
  const browser = readCookie(req, LOGIN_COOKIE);
  if (pending.zoneId !== ctx.zone.id || !browser || !equal(sha(browser), pending.browser) || !equal(csrf, pending.csrf)) return undefined;
  return pending;
}

/** Single use: a pending authorization completes once. */
export async function takePendingAuthorization(ctx: ZoneContext, id: string): Promise<boolean> {
  return (await ctx.services.storage.take(pendingKey(id))) !== undefined;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
