/**
 * openid-client 6, a certified relying party, against a zone: discovery, code flow with PKCE, nonce
 * and state, refresh, userinfo. It reaches `acme.localhost` through localhostAwareFetch (RFC 6761).
 */
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localhostAwareFetch } from '../../../src/net/localhost.js';
import { Browser, PASSWORD, REDIRECT, formFields, startZones, type Harness } from '../oauth/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startZones();
});
afterAll(async () => {
  await h?.close();
});

async function discover(secret = h.secret): Promise<client.Configuration> {
  return client.discovery(new URL(`${h.url('acme')}/oauth/token`), h.app.clientId, secret, client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
    [client.customFetch]: localhostAwareFetch as never,
  });
}

describe('openid-client against a zone', () => {
  it('discovers the zone', async () => {
    const config = await discover();
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(`${h.url('acme')}/oauth/token`);
    expect(meta.supportsPKCE()).toBe(true);
  });

  it('completes the code flow with PKCE, then refresh and userinfo', async () => {
    const config = await discover();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid myapp!t1.Admin',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    expect(url.host).toBe(`acme.localhost:${h.port}`);

    const browser = new Browser(h);
    const page = await browser.get('acme', url.pathname + url.search);
    expect(page.status).toBe(200);
    const login = await browser.post('acme', '/login.do', { ...formFields(page.text), username: 'alice', password: PASSWORD });
    expect(login.status).toBe(302);

    const tokens = await client.authorizationCodeGrant(config, new URL(login.headers.location!), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(h.alice.id);
    expect(claims.nonce).toBe(nonce);
    expect(tokens.scope).toBe('openid myapp!t1.Admin');

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

    const info = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    expect(info).toMatchObject({ sub: h.alice.id, user_name: 'alice', email: 'alice@acme.example', zid: h.acme.id });
  });

  it('fails the code exchange when the verifier is wrong', async () => {
    const config = await discover();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st',
    });
    const browser = new Browser(h);
    const page = await browser.get('acme', url.pathname + url.search);
    const login = await browser.post('acme', '/login.do', { ...formFields(page.text), username: 'alice', password: PASSWORD });
    await expect(
      client.authorizationCodeGrant(config, new URL(login.headers.location!), { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: 'st' }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('fails client authentication with a wrong secret', async () => {
    const config = await discover('not-the-secret');
    // RFC 6749 §5.2: 401 with a Basic challenge naming the error, which openid-client surfaces as such.
    await expect(client.clientCredentialsGrant(config)).rejects.toMatchObject({
      status: 401,
      cause: [{ scheme: 'basic', parameters: { error: 'invalid_client' } }],
    });
  });

  it('signs a public client in (issue 14): PKCE, no secret (token_endpoint_auth_method none), refresh and userinfo', async () => {
    await h.server.clients.create({
      clientId: 'public-spa',
      name: 'SPA',
      xsappname: 'myapp',
      public: true,
      pkceOnly: true,
      zones: 'subscribed',
      redirectUris: [REDIRECT],
      redirectUriRegex: [],
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['$XSAPPNAME.Viewer'],
      authorities: [],
      referrers: [],
    });
    const config = await client.discovery(new URL(`${h.url('acme')}/oauth/token`), 'public-spa', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
      [client.customFetch]: localhostAwareFetch as never,
    });
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
    });
    const browser = new Browser(h);
    const page = await browser.get('acme', url.pathname + url.search);
    const login = await browser.post('acme', '/login.do', { ...formFields(page.text), username: 'alice', password: PASSWORD });
    const tokens = await client.authorizationCodeGrant(config, new URL(login.headers.location!), { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
    expect(tokens.claims()!.aud).toEqual(['public-spa']);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    const info = await client.fetchUserInfo(config, refreshed.access_token, tokens.claims()!.sub);
    expect(info).toMatchObject({ sub: h.alice.id, user_name: 'alice' });
  });
});
