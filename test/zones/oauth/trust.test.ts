/**
 * Issue 9, trust boundaries of the zones' tokens and clients, against the real identity server:
 *  - /introspect answers only clients with the `uaa.resource` authority (UAA's rule), and only about
 *    tokens of its own zone;
 *  - `x-zid` on a zone host (where @sap/xssec 3 sends it: the provider's URL) issues the token of the
 *    zone it names, or refuses; it is never silently ignored.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, REDIRECT, loginForCode, security, startZones, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startZones();
});
afterAll(async () => {
  await h?.close();
});

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function introspect(sub: string, token: string, client: { id: string; secret: string }) {
  return h.call(sub, { method: 'POST', path: '/introspect', headers: FORM, body: new URLSearchParams({ token, client_id: client.id, client_secret: client.secret }).toString() });
}

async function userToken(sub: string, userName: string): Promise<string> {
  const { code } = await loginForCode(h, new Browser(h), sub, { userName });
  return (await h.token(sub, { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json().access_token;
}

describe('/introspect (RFC 7662 §2.1: the endpoint must be protected; UAA requires uaa.resource)', () => {
  it('refuses a client without uaa.resource with 403, whatever the token', async () => {
    const alice = await userToken('acme', 'alice');
    // myapp's authorities are its Callback scope only: an application client, not a resource server.
    const res = await introspect('acme', alice, { id: h.app.clientId, secret: h.secret });
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ error: 'access_denied' });
    expect(res.text).not.toContain('alice');
  });

  it('answers a client whose xs-security authorities list uaa.resource, and one that has it by default (no authorities)', async () => {
    const alice = await userToken('acme', 'alice');
    const listed = await introspect('acme', alice, { id: h.resource.app.clientId, secret: h.resource.secret });
    expect(listed.status).toBe(200);
    expect(listed.json()).toMatchObject({ active: true, user_name: 'alice', zid: h.acme.id });

    const { application, clientSecret } = await h.directory.registerApplication(security('plainres', { authorities: [] }), h.provider.id);
    await h.directory.subscribe(application, h.acme.id);
    const cc = await h.token('acme', { grant_type: 'client_credentials' }, { id: application.clientId, secret: clientSecret });
    expect(cc.json().scope).toBe('uaa.resource');
    const byDefault = await introspect('acme', alice, { id: application.clientId, secret: clientSecret });
    expect(byDefault.json()).toMatchObject({ active: true, user_name: 'alice' });
  });

  it('answers {active:false} for a token of another zone, even one the resource client may use', async () => {
    const carol = await userToken('globex', 'carol');
    const res = await introspect('acme', carol, { id: h.resource.app.clientId, secret: h.resource.secret });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ active: false });
  });
});

describe('x-zid on a zone host (where @sap/xssec 3 sends it)', () => {
  const cc = { grant_type: 'client_credentials' };

  it("issues the named zone's token at the provider's host: zid, ext_attr.zdn and iss of that zone", async () => {
    const res = await h.token('provider', cc, undefined, { 'x-zid': h.acme.id });
    expect(res.status, res.text).toBe(200);
    const claims = decodeJwt(res.json().access_token);
    expect(claims).toMatchObject({ zid: h.acme.id, ext_attr: { zdn: 'acme' }, iss: `${h.url('acme')}/oauth/token`, cid: h.app.clientId });
    // The token is the acme zone's: its own endpoints accept it, the provider's do not.
    const atAcme = await introspect('acme', res.json().access_token, { id: h.resource.app.clientId, secret: h.resource.secret });
    expect(atAcme.json()).toMatchObject({ active: true, zid: h.acme.id });
    // The header naming the host's own zone changes nothing.
    const same = await h.token('provider', cc, undefined, { 'x-zid': h.provider.id });
    expect(decodeJwt(same.json().access_token).zid).toBe(h.provider.id);
  });

  it('refuses a zone the client may not use (400 unauthorized_client): an unsubscribed zone, a dedicated app elsewhere', async () => {
    const unsubscribed = await h.token('provider', cc, undefined, { 'x-zid': h.stranger.id });
    expect(unsubscribed.status).toBe(400);
    expect(unsubscribed.json().error).toBe('unauthorized_client');
    expect(unsubscribed.json().access_token).toBeUndefined();

    const dedicated = await h.token('provider', cc, { id: h.pwdApp.clientId, secret: h.pwdSecret }, { 'x-zid': h.acme.id });
    expect(dedicated.status).toBe(400);
    expect(dedicated.json().error).toBe('unauthorized_client');

    // Same answer on the bare uaadomain, where @sap/xssec 4 sends x-zid.
    const bare = await h.token(undefined, cc, undefined, { 'x-zid': h.stranger.id });
    expect(bare.status).toBe(400);
    expect(bare.json().error).toBe('unauthorized_client');
    // And when x-zid names the zone of the host it was sent to.
    const sameHost = await h.token('stranger', cc, undefined, { 'x-zid': h.stranger.id });
    expect(sameHost.status).toBe(400);
    expect(sameHost.json().error).toBe('unauthorized_client');
  });

  it('refuses an unknown or malformed zone id (400 invalid_request), and still wants the client authenticated', async () => {
    for (const zid of ['00000000-0000-4000-8000-00000000dead', 'not a zone', '']) {
      const res = await h.token('acme', cc, undefined, { 'x-zid': zid });
      expect(res.status, zid).toBe(400);
      expect(res.json().error).toBe('invalid_request');
    }
    const wrongSecret = await h.token('provider', cc, { id: h.app.clientId, secret: 'guess' }, { 'x-zid': h.acme.id });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.json().error).toBe('invalid_client');
  });

  it('is not silently ignored by the endpoints that do not switch zones: naming another zone there is a 400', async () => {
    const alice = await userToken('acme', 'alice');
    const info = await h.call('acme', { path: '/userinfo', headers: { authorization: `Bearer ${alice}`, 'x-zid': h.globex.id } });
    expect(info.status).toBe(400);
    expect(info.json().error).toBe('invalid_request');
    const res = await h.call('acme', {
      method: 'POST',
      path: '/introspect',
      headers: { ...FORM, 'x-zid': h.globex.id },
      body: new URLSearchParams({ token: alice, client_id: h.resource.app.clientId, client_secret: h.resource.secret }).toString(),
    });
    expect(res.status).toBe(400);
    // Naming the host's own zone is harmless.
    const own = await h.call('acme', { path: '/userinfo', headers: { authorization: `Bearer ${alice}`, 'x-zid': h.acme.id } });
    expect(own.status).toBe(200);
  });

  it('serves /token_keys?zid= on zone hosts as on the uaadomain: the named zone, or 400', async () => {
    const bare = await h.call(undefined, { path: `/token_keys?zid=${h.globex.id}` });
    const atProvider = await h.call('provider', { path: `/token_keys?zid=${h.globex.id}` });
    expect(atProvider.status).toBe(200);
    expect(atProvider.json()).toEqual(bare.json());
    expect(atProvider.json()).not.toEqual((await h.call('provider', { path: '/token_keys' })).json());
    expect((await h.call('provider', { path: '/token_keys?zid=00000000-0000-4000-8000-00000000dead' })).status).toBe(400);
  });
});
