/**
 * A real, independent OpenID provider for the brokering tests: panva's `oidc-provider` (v9) on port
 * 0 of 127.0.0.1, with one static confidential client (the zone), accounts whose `groups` claim the
 * test changes, and oidc-provider's own development login and consent forms, driven over HTTP.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
  stop(): Promise<void>;
}

export async function startTestIdp(options: { clientId: string; clientSecret: string; redirectUris: string[]; accounts: Record<string, Account> }): Promise<TestIdp> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accounts = new Map(Object.entries(options.accounts));
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'given_name', 'family_name'], email: ['email'], groups: ['groups'] },
    // The claims of the granted scopes in the ID token itself, as corporate IdPs put `groups` there.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
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
  server.on('request', provider.callback());
  return {
    issuer,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    accounts,
    provider,
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
export async function signInAtIdp(browser: ScriptedBrowser, idp: TestIdp, toIdp: string, login: string, options: { abort?: boolean } = {}): Promise<URL> {
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
