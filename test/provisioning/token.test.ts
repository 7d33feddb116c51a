/**
 * The callbacks with the production verifier: the provider zone's keys fetched over HTTP from the
 * real identity server, and the token attacks of REFERENCE.md §7 and issue 3 against it.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localhostAwareFetch } from '../../src/net/localhost.js';
import { audienceMatches, createProviderTokenVerifier } from '../../src/provisioning/token.js';
import { request } from '../support/http.js';
import { startZones, type Harness } from '../zones/oauth/harness.js';
import { clientToken, guid, provisioningFor, startCallbacks, type CallbackServer } from './support.js';

let h: Harness;
let cb: CallbackServer;
let verify: ReturnType<typeof createProviderTokenVerifier>;

beforeAll(async () => {
  h = await startZones();
  verify = createProviderTokenVerifier({ providerZoneId: h.provider.id, tokenKeysUrl: `${h.url('provider')}/token_keys`, fetch: localhostAwareFetch });
  cb = await startCallbacks({ provisioning: provisioningFor(h), verifyToken: verify });
});
afterAll(async () => {
  await cb?.close();
  await h?.close();
});

const subscribe = (token: string, n: number, subdomain: string) =>
  request(cb.port, {
    method: 'PUT',
    path: `/callback/v1.0/tenants/${guid(n)}`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subscribedTenantId: guid(n), subscribedSubdomain: subdomain }),
  });

describe('createProviderTokenVerifier', () => {
  it("accepts the registry's client-credentials token of the provider zone", async () => {
    const token = await clientToken(h, 'provider');
    expect(await verify(token)).toEqual({ zoneId: h.provider.id, scopes: ['myapp!t1.Callback'], grantType: 'client_credentials' });
    const res = await subscribe(token, 1, 'verified');
    expect(res.status).toBe(200);
    expect(res.text).toBe('https://verified.app.example.com');
  });

  it("answers a tenant zone's token as not the provider's (403) without fetching that zone's keys", async () => {
    const token = await clientToken(h, 'acme');
    expect(await verify(token)).toEqual({ zoneId: h.acme.id, scopes: [], grantType: '' });
    expect((await subscribe(token, 2, 'from-tenant')).status).toBe(403);
  });

  it('refuses forged tokens: tampered claims, alg none, HS256 with the public key, a foreign key with the right kid, no kid, expired, no exp', async () => {
    const good = await clientToken(h, 'provider');
    const [header, payload, signature] = good.split('.');
    const claims = decodeJwt(good);
    const kid = decodeProtectedHeader(good).kid!;
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

    const tampered = `${header}.${b64({ ...claims, scope: [...(claims.scope as string[]), 'myapp!t1.Admin'] })}.${signature}`;
    const none = `${b64({ alg: 'none', typ: 'JWT', kid })}.${payload}.`;
    const keys = (await h.call('provider', { path: '/token_keys' })).json().keys as { value: string }[];
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(Buffer.from(keys[0]!.value));
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })));
    // Signed with the zone's real key: refused for what they lack, not for the signature.
    const real = await h.server.keys.signingKey(h.provider.id);
    expect(real.kid).toBe(kid);
    const noKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(real.privateKey);
    const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 120 }).setProtectedHeader({ alg: 'RS256', kid }).sign(real.privateKey);
    const noExp = await new SignJWT({ ...claims, exp: undefined }).setProtectedHeader({ alg: 'RS256', kid }).sign(real.privateKey);
    const resigned = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(real.privateKey);
    expect(await verify(resigned)).toBeDefined(); // the control: the same claims, properly signed, pass

    for (const [name, token] of Object.entries({ tampered, none, hs256, foreign, noKid, expired, noExp, garbage: 'a.b.c' })) {
      expect(await verify(token), name).toBeUndefined();
      const res = await subscribe(token, 3, 'forged');
      expect(res.status, name).toBe(401);
      expect(res.headers['www-authenticate'], name).toContain('invalid_token');
    }
    expect(await h.directory.getZoneBySubdomain('forged')).toBeUndefined();
  });

  it("refuses a provider token of another client (no Callback scope) with 403", async () => {
    const token = await clientToken(h, 'provider', { id: h.pwdApp.clientId, secret: h.pwdSecret });
    expect((await verify(token))?.scopes).toEqual(['pwdapp!t2.Callback']);
    expect((await subscribe(token, 4, 'other-client')).status).toBe(403);
  });
});

describe("the audience rule for a binding (@sap/xssec 4's)", () => {
  const audience = { clientId: 'sb-app!t7', xsappname: 'app!t7' };
  it('accepts aud entries equal to, or prefixed `<value>.` by, the client id or xsappname; else the scopes; plus cid', () => {
    expect(audienceMatches({ aud: ['app!t7'] }, audience)).toBe(true);
    expect(audienceMatches({ aud: ['app!t7.Callback'] }, audience)).toBe(true);
    expect(audienceMatches({ aud: ['other!t1'], cid: 'sb-app!t7' }, audience)).toBe(true);
    expect(audienceMatches({ aud: [], scope: ['app!t7.Callback'] }, audience)).toBe(true);
    expect(audienceMatches({ aud: ['other!t1', 'app!t77'], scope: ['app!t7.Callback'] }, audience)).toBe(false);
    expect(audienceMatches({ aud: ['app!t7x.Callback'] }, audience)).toBe(false);
    expect(audienceMatches({}, audience)).toBe(false);
  });
});
