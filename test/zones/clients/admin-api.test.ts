/**
 * Issue 14: /oauth/clients on the bare uaadomain (UAA's paths), over HTTP against the real identity
 * server: creation shows the secret once, every problem of a client is named at once, rotation keeps
 * the old secret for the grace period, and only the zones administrators may use it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, PASSWORD, formFields, pkce, startZones, type Harness } from '../oauth/harness.js';

const BOOTSTRAP = 'bootstrap-secret-for-tests';
let h: Harness;
beforeAll(async () => {
  h = await startZones({ bootstrapSecret: BOOTSTRAP });
});
afterAll(async () => {
  await h?.close();
});

const admin = `Basic ${Buffer.from(`admin:${BOOTSTRAP}`).toString('base64')}`;
const api = (method: string, path: string, body?: unknown, authorization = admin) =>
  h.call(undefined, {
    method,
    path,
    headers: { authorization, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

describe('/oauth/clients', () => {
  it('creates a confidential client; the secret is in the creation answer only', async () => {
    const res = await api('POST', '/oauth/clients', {
      xsappname: 'myapp',
      client_id: 'partner',
      name: 'Partner server',
      authorized_grant_types: ['client_credentials'],
      authorities: ['$XSAPPNAME.Callback'],
    });
    expect(res.status).toBe(201);
    const created = res.json();
    expect(created).toMatchObject({ client_id: 'partner', name: 'Partner server', xsappname: 'myapp', public: false, authorized_grant_types: ['client_credentials'], has_secret: true, source: 'api' });
    expect(created.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = await h.token('acme', { grant_type: 'client_credentials' }, { id: 'partner', secret: created.client_secret });
    expect(token.status).toBe(200);

    const listed = await api('GET', '/oauth/clients?xsappname=myapp');
    expect(listed.json().map((c: { client_id: string }) => c.client_id)).toEqual(['partner']);
    const got = await api('GET', '/oauth/clients/partner');
    expect(got.status).toBe(200);
    expect(got.text).not.toContain(created.client_secret);
    expect(got.json().client_secret).toBeUndefined();
    expect(h.logLines.join('\n')).not.toContain(created.client_secret);
  });

  it('creates a public client with a generated id and no secret', async () => {
    const res = await api('POST', '/oauth/clients', { xsappname: 'myapp', name: 'Mobile app', public: true, redirect_uri: ['http://127.0.0.1:*/callback'] });
    expect(res.status).toBe(201);
    const created = res.json();
    expect(created.client_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created).toMatchObject({ public: true, pkceOnly: true, has_secret: false, authorized_grant_types: ['authorization_code', 'refresh_token'] });
    expect(created.client_secret).toBeUndefined();
    // It works at once: PKCE, no secret.
    const { verifier, challenge } = pkce();
    const redirect = 'http://127.0.0.1:8765/callback';
    const browser = new Browser(h);
    const page = await browser.get('acme', `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: created.client_id, redirect_uri: redirect, code_challenge: challenge, code_challenge_method: 'S256' })}`);
    const done = await browser.post('acme', '/login.do', { ...formFields(page.text), username: 'bob', password: PASSWORD });
    const code = new URL(done.headers.location!).searchParams.get('code')!;
    const token = await h.token('acme', { grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier, client_id: created.client_id }, 'none');
    expect(token.status).toBe(200);
    // Rotating a public client's secret is refused: it has none.
    const rotate = await api('PUT', `/oauth/clients/${created.client_id}/secret`, {});
    expect(rotate.status).toBe(400);
  });

  it('names every problem of a client at once, with its field', async () => {
    const res = await api('POST', '/oauth/clients', {
      xsappname: 'myapp',
      client_id: 'sb-myapp',
      public: true,
      authorized_grant_types: ['password', 'implicit'],
      redirect_uri: ['https://*.*.example.com/**/**/**'],
      redirect_uri_regex: ['.*', 'https://(a+)+\\.example\\.com/cb', 'https://[bad'],
      scope: ['$XSAPPNAME.Nope'],
      referrers: ['not a url'],
      client_secret: 'mine',
      colour: 'blue',
    });
    expect(res.status).toBe(400);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_BAD_REQUEST');
    const text: string = res.json().error_description;
    for (const expected of [
      'client_secret: is never given',
      'colour: unknown property',
      'client_id: "sb-myapp" starts with "sb-"',
      'authorized_grant_types/0: a public client',
      'authorized_grant_types/1: unknown grant type "implicit"',
      'redirect_uri/0: ',
      'redirect_uri_regex/0: expected the scheme',
      'redirect_uri_regex/1: regular expression',
      'redirect_uri_regex/2: is not a regular expression',
      'scope/0: "$XSAPPNAME.Nope" is not a scope of myapp',
      'referrers/0: ',
    ]) {
      expect(text).toContain(expected);
    }
  });

  it('refuses a regex that matches any host, an unknown application and a taken id', async () => {
    const wide = await api('POST', '/oauth/clients', { xsappname: 'myapp', client_id: 'wide', redirect_uri_regex: ['https://.*'] });
    expect(wide.json().error_description).toContain('attacker.invalid');
    const unknown = await api('POST', '/oauth/clients', { xsappname: 'nosuchapp', client_id: 'x', redirect_uri: ['https://a.example.com/cb'] });
    expect(unknown.status).toBe(404);
    const taken = await api('POST', '/oauth/clients', { xsappname: 'myapp', client_id: 'partner', authorized_grant_types: ['client_credentials'] });
    expect(taken.status).toBe(409);
  });

  it('rotates with a grace period (UAA changeMode ADD), then ends the old secret (DELETE)', async () => {
    const created = (await api('POST', '/oauth/clients', { xsappname: 'myapp', client_id: 'rotor', authorized_grant_types: ['client_credentials'] })).json();
    const rotated = await api('PUT', '/oauth/clients/rotor/secret', { changeMode: 'ADD', graceSeconds: 600 });
    expect(rotated.status).toBe(200);
    const fresh = rotated.json().client_secret as string;
    expect(fresh).not.toBe(created.client_secret);
    expect(rotated.json().previous_secret_valid_until).toMatch(/^\d{4}-/);
    for (const secret of [created.client_secret, fresh]) {
      expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'rotor', secret })).status).toBe(200);
    }
    const ended = await api('PUT', '/oauth/clients/rotor/secret', { changeMode: 'DELETE' });
    expect(ended.json().client_secret).toBeUndefined();
    expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'rotor', secret: created.client_secret })).status).toBe(401);
    expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'rotor', secret: fresh })).status).toBe(200);
    expect((await api('PUT', '/oauth/clients/rotor/secret', { changeMode: 'UPDATE' })).status).toBe(400);
  });

  it('PUT replaces the settings and keeps the secret: narrowed to acme, the client stops working at globex', async () => {
    const created = (await api('POST', '/oauth/clients', { xsappname: 'myapp', client_id: 'narrowed', authorized_grant_types: ['client_credentials'] })).json();
    expect((await h.token('globex', { grant_type: 'client_credentials' }, { id: 'narrowed', secret: created.client_secret })).status).toBe(200);
    const put = await api('PUT', '/oauth/clients/narrowed', { name: 'Narrowed', zones: ['acme'], authorized_grant_types: ['client_credentials'] });
    expect(put.status).toBe(200);
    expect(put.json()).toMatchObject({ client_id: 'narrowed', name: 'Narrowed', zones: ['acme'], has_secret: true });
    expect(put.json().client_secret).toBeUndefined();
    expect((await h.token('globex', { grant_type: 'client_credentials' }, { id: 'narrowed', secret: created.client_secret })).status).toBe(401);
    expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'narrowed', secret: created.client_secret })).status).toBe(200);
    expect((await api('PUT', '/oauth/clients/narrowed', { xsappname: 'resapp', authorized_grant_types: ['client_credentials'] })).status).toBe(400);
    expect((await api('PUT', '/oauth/clients/narrowed', { client_id: 'other', authorized_grant_types: ['client_credentials'] })).status).toBe(400);
    expect((await api('PUT', '/oauth/clients/nobody', { authorized_grant_types: ['client_credentials'] })).status).toBe(404);
  });

  it('deletes: the client stops working at once', async () => {
    const created = (await api('POST', '/oauth/clients', { xsappname: 'myapp', client_id: 'gone', authorized_grant_types: ['client_credentials'] })).json();
    expect((await api('DELETE', '/oauth/clients/gone')).status).toBe(200);
    expect((await api('DELETE', '/oauth/clients/gone')).status).toBe(404);
    expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'gone', secret: created.client_secret })).status).toBe(401);
  });

  it('attack: without the zones administrators\' credentials nothing is listed, made or rotated', async () => {
    expect((await api('GET', '/oauth/clients', undefined, 'Basic ' + Buffer.from('admin:wrong-wrong-wrong').toString('base64'))).status).toBe(401);
    expect((await api('POST', '/oauth/clients', { xsappname: 'myapp', client_id: 'mine' }, '')).status).toBe(401);
    // A genuine user token of a zone (not the admin client's) is a known caller without rights: 403.
    const userToken = (await h.token('provider', { grant_type: 'password', username: 'padmin', password: PASSWORD }, { id: h.pwdApp.clientId, secret: h.pwdSecret })).json().access_token;
    expect((await api('PUT', '/oauth/clients/partner/secret', {}, `Bearer ${userToken}`)).status).toBe(403);
    expect((await api('PATCH', '/oauth/clients/partner')).status).toBe(405);
  });
});
