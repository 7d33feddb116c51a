/**
 * SAP's own token library accepts what the zones issue. @sap/xssec 4 fetches keys only from
 * `https://<uaadomain>/token_keys?zid=<zid>` on port 443 and ignores `jku`, so the zones are served over
 * TLS on 127.0.0.1:443 with uaadomain `localhost` and a throw-away CA, and xssec runs in a child Node
 * process started with NODE_EXTRA_CA_CERTS (read at process start only). Nothing in xssec is patched.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFor, type XsuaaCredentials } from '../../../src/zones/index.js';
import { makeTestTls, type TestTls } from '../../support/tls.js';
import { Browser, PASSWORD, REDIRECT, formFields, loginForCode, startZones, type Harness } from '../oauth/harness.js';

/** Runs in the child: each case builds an XsuaaService and reports what xssec made of the token. */
const CHILD = `
const { XsuaaService } = require('@sap/xssec');
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', async () => {
  const cases = JSON.parse(input);
  const out = [];
  for (const c of cases) {
    try {
      const service = new XsuaaService(c.credentials, c.serviceConfig || {});
      let token = c.token;
      if (c.fetch) token = (await service.fetchClientCredentialsToken(c.fetch)).access_token;
      const ctx = await service.createSecurityContext(token);
      out.push({
        ok: true,
        localAdmin: ctx.checkLocalScope('Admin'),
        localCallback: ctx.checkLocalScope('Callback'),
        subdomain: ctx.getSubdomain(),
        zoneId: ctx.getZoneId(),
        logonName: ctx.getLogonName(),
        grantType: ctx.getGrantType(),
        clientId: ctx.getClientId(),
        country: ctx.getAttribute('Country'),
      });
    } catch (err) {
      out.push({ ok: false, error: err && err.constructor && err.constructor.name, message: String(err && err.message) });
    }
  }
  process.stdout.write(JSON.stringify(out));
});
`;

interface Outcome {
  ok: boolean;
  localAdmin?: boolean;
  localCallback?: boolean;
  subdomain?: string;
  zoneId?: string;
  logonName?: string;
  grantType?: string;
  clientId?: string;
  /** xssec's getAttribute('Country'): the token's xs.user.attributes.Country, or null. */
  country?: string[] | null;
  error?: string;
  message?: string;
}

interface Case {
  credentials: XsuaaCredentials;
  token?: string;
  fetch?: Record<string, string>;
  serviceConfig?: object;
}

function runXssec(tls: TestTls, cases: Case[]): Promise<Outcome[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['-e', CHILD],
      { cwd: process.cwd(), env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caFile }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`xssec child failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as Outcome[]);
      },
    );
    child.stdin!.end(JSON.stringify(cases));
  });
}

let h: Harness;
let tls: TestTls;
let credentials: XsuaaCredentials;

beforeAll(async () => {
  tls = makeTestTls(['localhost', '*.localhost', 'provider.localhost', 'acme.localhost', 'globex.localhost']);
  h = await startZones({ tls: { key: tls.key, cert: tls.cert, port: 443 } });
  credentials = credentialsFor({ application: h.app, clientSecret: h.secret, zone: h.provider, uaaDomain: 'localhost', publicUrlFor: h.url });
}, 60_000);

afterAll(async () => {
  await h?.close();
  tls?.cleanup();
});

async function userToken(sub: string, userName: string): Promise<string> {
  const { code } = await loginForCode(h, new Browser(h), sub, { userName });
  return (await h.token(sub, { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json().access_token;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('@sap/xssec 4 against the zones', () => {
  it('hands out credentials in the xsuaa binding shape', () => {
    expect(credentials).toEqual({
      clientid: h.app.clientId,
      clientsecret: h.secret,
      url: 'https://provider.localhost',
      uaadomain: 'localhost',
      xsappname: 'myapp!t1',
      identityzone: 'provider',
      tenantid: h.provider.id,
      tenantmode: 'shared',
    });
  });

  it('accepts user tokens, rejects a zone-A token presented with zone B\'s keys, and fetches client-credentials tokens', async () => {
    const alice = await userToken('acme', 'alice');
    const bob = await userToken('acme', 'bob');
    const carol = await userToken('globex', 'carol');
    const cc = (await h.token('acme', { grant_type: 'client_credentials' })).json().access_token as string;
    const [head, body, sig] = alice.split('.');
    // The attacker rewrites zid so that xssec fetches zone B's keys for zone A's signature.
    const aliceAsGlobex = `${head}.${b64({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), zid: h.globex.id })}.${sig}`;
    const aliceAsUnknownZone = `${head}.${b64({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), zid: '00000000-0000-4000-8000-000000000000' })}.${sig}`;

    const [a, b, c, client, crossZone, unknownZone, fetched, fetchedStranger] = await runXssec(tls, [
      { credentials, token: alice },
      { credentials, token: bob },
      { credentials, token: carol },
      { credentials, token: cc },
      { credentials, token: aliceAsGlobex },
      { credentials, token: aliceAsUnknownZone },
      { credentials, fetch: { zid: h.acme.id } },
      { credentials, fetch: { zid: h.stranger.id } },
    ]);

    expect(a).toEqual({ ok: true, localAdmin: true, localCallback: false, subdomain: 'acme', zoneId: h.acme.id, logonName: 'alice', grantType: 'authorization_code', clientId: h.app.clientId, country: null });
    // Bob's role collection holds the Viewer role, whose Country attribute defaults to ["DE"].
    expect(b).toMatchObject({ ok: true, localAdmin: false, subdomain: 'acme', logonName: 'bob', country: ['DE'] });
    expect(c).toMatchObject({ ok: true, localAdmin: true, subdomain: 'globex', zoneId: h.globex.id, logonName: 'carol' });
    expect(client).toMatchObject({ ok: true, localAdmin: false, localCallback: true, subdomain: 'acme', zoneId: h.acme.id, grantType: 'client_credentials' });
    // Zone B does not publish zone A's kid: xssec finds no key to check the signature with.
    expect(crossZone).toMatchObject({ ok: false, error: 'MissingKidError' });
    expect(unknownZone).toMatchObject({ ok: false, error: 'WrongAudienceError' });
    // xssec's own token fetch: POST https://localhost/oauth/token with x-zid and client_secret_post.
    expect(fetched).toMatchObject({ ok: true, zoneId: h.acme.id, subdomain: 'acme', grantType: 'client_credentials', localCallback: true });
    // A zone the shared app is not subscribed in: refused as unauthorized_client (issue 9), not a token of another zone.
    expect(fetchedStranger).toMatchObject({ ok: false });
    expect(fetchedStranger!.message).toMatch(/400|unauthorized_client/);
  }, 60_000);

  it("accepts the tenant token @sap/xssec 3 asks the provider's host for with x-zid", async () => {
    const res = await h.token('provider', { grant_type: 'client_credentials', client_id: h.app.clientId, client_secret: h.secret }, 'none', { 'x-zid': h.globex.id });
    expect(res.status, res.text).toBe(200);
    const [tenant] = await runXssec(tls, [{ credentials, token: res.json().access_token }]);
    expect(tenant).toMatchObject({ ok: true, zoneId: h.globex.id, subdomain: 'globex', grantType: 'client_credentials', localCallback: true });
  }, 60_000);

  it('rejects tokens for another application and a tampered signature', async () => {
    const alice = await userToken('acme', 'alice');
    const [head, body] = alice.split('.');
    const foreign = { ...credentials, clientid: 'sb-otherapp!t9', xsappname: 'otherapp!t9' };
    const [wrongApp, badSig] = await runXssec(tls, [
      { credentials: foreign, token: alice },
      { credentials, token: `${head}.${body}.${Buffer.from('forged').toString('base64url')}` },
    ]);
    expect(wrongApp).toMatchObject({ ok: false, error: 'WrongAudienceError' });
    expect(badSig).toMatchObject({ ok: false, error: 'InvalidTokenSignatureError' });
  }, 60_000);

  it('accepts a further client\'s token as the application\'s (issue 14), and another application\'s credentials still refuse it', async () => {
    const { clientSecret } = await h.server.clients.create({
      clientId: 'xssec-portal',
      name: 'portal',
      xsappname: 'myapp',
      public: false,
      pkceOnly: false,
      zones: 'subscribed',
      redirectUris: [REDIRECT],
      redirectUriRegex: [],
      grantTypes: ['authorization_code', 'client_credentials'],
      scopes: ['$XSAPPNAME.Viewer'],
      authorities: ['$XSAPPNAME.Callback'],
      referrers: [],
    });
    const browser = new Browser(h);
    const page = await browser.get('acme', `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: 'xssec-portal', redirect_uri: REDIRECT })}`);
    const done = await browser.post('acme', '/login.do', { ...formFields(page.text), username: 'alice', password: PASSWORD });
    const code = new URL(done.headers.location!).searchParams.get('code')!;
    const token = (await h.token('acme', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }, { id: 'xssec-portal', secret: clientSecret! })).json().access_token;
    const machine = (await h.token('acme', { grant_type: 'client_credentials' }, { id: 'xssec-portal', secret: clientSecret! })).json().access_token;
    const foreign = { ...credentials, clientid: 'sb-otherapp!t9', xsappname: 'otherapp!t9' };
    const [user, client, wrongApp] = await runXssec(tls, [
      { credentials, token },
      { credentials, token: machine },
      { credentials: foreign, token },
    ]);
    // alice is an administrator, but this client's tokens carry Viewer only.
    expect(user).toMatchObject({ ok: true, clientId: 'xssec-portal', localAdmin: false, subdomain: 'acme', logonName: 'alice' });
    expect(client).toMatchObject({ ok: true, clientId: 'xssec-portal', localCallback: true, grantType: 'client_credentials' });
    expect(wrongApp).toMatchObject({ ok: false, error: 'WrongAudienceError' });
  }, 60_000);
});
