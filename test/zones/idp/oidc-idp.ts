/**
 * A real, independent OpenID provider for the brokering tests: panva's `oidc-provider` (v9) on port
 * 0 of 127.0.0.1, with one static confidential client (the zone), accounts whose `groups` claim the
 * test changes, and oidc-provider's own development login and consent forms, driven over HTTP.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { expect } from 'vitest';
import type { ScriptedBrowser } from '../../support/browser.js';

export interface Account {
  email: string;
  givenName?: string;
  familyName?: string;
  groups: string[];
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, Account>;
  provider: Provider;
  /** The `kid` the IdP signs ID tokens with now. */
  readonly signingKid: string;
  /**
   * Key rotation as an IdP does it: a new signing key, published first in the JWKS with the old one
   * after it, and ID tokens signed with the new one from now on. (Same issuer and port; the IdP's
   * own sessions are gone, as after a restart.)
   */
  rotateKeys(): Promise<void>;
  stop(): Promise<void>;
}

/** A new RS256 signing key as a private JWK with a fresh `kid`. */
async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

export async function startTestIdp(options: { clientId: string; clientSecret: string; redirectUris: string[]; postLogoutRedirectUris?: string[]; rpInitiatedLogout?: boolean; accounts: Record<string, Account> }): Promise<TestIdp> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accounts = new Map(Object.entries(options.accounts));
  let keys = [await signingKey()];
  const providerWith = (jwks: JWK[]) => new Provider(issuer, {
    jwks: { keys: jwks as never },
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        ...(options.postLogoutRedirectUris ? { post_logout_redirect_uris: options.postLogoutRedirectUris } : {}),
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'given_name', 'family_name'], email: ['email'], groups: ['groups'] },
    // The claims of the granted scopes in the ID token itself, as corporate IdPs put `groups` there.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true }, ...(options.rpInitiatedLogout === false ? { rpInitiatedLogout: { enabled: false } } : {}) },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    async findAccount(_ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, preferred_username: id, email: account.email, given_name: account.givenName, family_name: account.familyName, groups: [...account.groups] };
        },
      };
    },
  });
  let provider = providerWith(keys);
  let handler = provider.callback();
  server.on('request', (req, res) => handler(req, res));
  return {
    issuer,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    accounts,
    get provider() {
      return provider;
    },
    get signingKid() {
      return keys[0]!.kid!;
    },
    async rotateKeys() {
      // oidc-provider signs with the first key of its JWKS that fits the algorithm.
      keys = [await signingKey(), keys[0]!];
      provider = providerWith(keys);
      handler = provider.callback();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Follows the browser from a redirect to the IdP through oidc-provider's login and consent forms
 * until the IdP redirects back out of itself; returns that redirect's URL, not followed.
 */
export async function signInAtIdp(browser: ScriptedBrowser, idp: Pick<TestIdp, 'issuer'>, toIdp: string, login: string, options: { abort?: boolean } = {}): Promise<URL> {
  let url = new URL(toIdp);
  for (let hops = 0; hops < 20; hops++) {
    if (url.origin !== idp.issuer) return url;
    const res = await browser.get(url.href);
    if (res.status === 302 || res.status === 303) {
      url = new URL(String(res.headers.location), url);
      continue;
    }
    expect(res.status, res.text.slice(0, 500)).toBe(200);
    const action = /<form[^>]*action="([^"]+)"/.exec(res.text)?.[1];
    expect(action, res.text.slice(0, 500)).toBeDefined();
    const prompt = /name="prompt" value="(\w+)"/.exec(res.text)?.[1];
    if (options.abort) {
      const uid = url.pathname.split('/')[2];
      url = new URL(`/interaction/${uid}/abort`, url);
      continue;
    }
    const submitted = await browser.post(new URL(action!, url).href, prompt === 'login' ? { prompt, login, password: 'any' } : { prompt: prompt ?? 'consent' });
    expect([302, 303], submitted.text.slice(0, 500)).toContain(submitted.status);
    url = new URL(String(submitted.headers.location), url);
  }
  throw new Error('the IdP never sent the browser back');
}

/**
 * Follows the browser from a redirect to the IdP's end_session endpoint (RP-initiated logout) through
 * oidc-provider's "Do you want to sign-out" form, answering yes, until the IdP redirects back out of
 * itself; returns that redirect's URL, not followed.
 */
export async function signOutAtIdp(browser: ScriptedBrowser, idp: TestIdp, toIdp: string): Promise<URL> {
  let url = new URL(toIdp);
  for (let hops = 0; hops < 10; hops++) {
    if (url.origin !== idp.issuer) return url;
    const res = await browser.get(url.href);
    if (res.status === 302 || res.status === 303) {
      url = new URL(String(res.headers.location), url);
      continue;
    }
    expect(res.status, res.text.slice(0, 500)).toBe(200);
    const action = /<form[^>]*action="([^"]+)"/.exec(res.text)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(res.text)?.[1];
    expect(action, res.text.slice(0, 500)).toMatch(/\S/);
    expect(xsrf, res.text.slice(0, 500)).toMatch(/^\S{8,}$/);
    const submitted = await browser.post(new URL(action!, url).href, { xsrf: xsrf!, logout: 'yes' });
    expect([302, 303], submitted.text.slice(0, 500)).toContain(submitted.status);
    url = new URL(String(submitted.headers.location), url);
  }
  throw new Error('the IdP never sent the browser back after logout');
}
