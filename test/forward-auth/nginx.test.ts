/**
 * Forward auth behind a real nginx (issue 14, part 2): nginx's auth_request asks the gateway, the
 * gateway's 401 becomes the login through error_page, and the backend behind nginx gets the user's
 * token and identity headers. nginx reaches the gateway from 127.0.0.2 (proxy_bind), the only
 * trusted proxy; the test's own requests come from 127.0.0.1, an untrusted peer.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { startDemoGateway, type TestGateway } from '../support/gateway.js';
import { startNginx, type NginxHandle } from '../support/nginx.js';

const PROXY_ADDRESS = '127.0.0.2';

/** The README's nginx configuration, with the test's addresses. */
function nginxServer(gateway: string, backend: string): string {
  return `
    location = /_zonegate/auth {
      internal;
      proxy_pass http://${gateway};
      proxy_bind ${PROXY_ADDRESS};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Method $request_method;
    }
    location /_zonegate/ {
      proxy_pass http://${gateway};
      proxy_bind ${PROXY_ADDRESS};
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Uri $request_uri;
    }
    location = /login/callback {
      proxy_pass http://${gateway};
      proxy_bind ${PROXY_ADDRESS};
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    location / {
      auth_request /_zonegate/auth;
      auth_request_set $zg_authorization $upstream_http_authorization;
      auth_request_set $zg_user $upstream_http_x_forwarded_user;
      auth_request_set $zg_email $upstream_http_x_forwarded_email;
      auth_request_set $zg_groups $upstream_http_x_forwarded_groups;
      proxy_set_header Authorization $zg_authorization;
      proxy_set_header X-Forwarded-User $zg_user;
      proxy_set_header X-Forwarded-Email $zg_email;
      proxy_set_header X-Forwarded-Groups $zg_groups;
      error_page 401 = /_zonegate/start;
      proxy_pass http://${backend};
    }`;
}

let gw: TestGateway;
let nginx: NginxHandle;
let app: string;

beforeAll(async () => {
  gw = await startDemoGateway({ FORWARD_AUTH: 'on', TRUSTED_PROXIES: PROXY_ADDRESS, SESSION_COOKIE_DOMAIN: '{subdomain}.localhost' });
  nginx = await startNginx(nginxServer(`127.0.0.1:${gw.port}`, new URL(gw.echoUrl).host));
  app = `http://acme.localhost:${nginx.port}`;
}, 30_000);

afterAll(async () => {
  await nginx?.stop();
  await gw?.stop();
});

/** From the page through nginx to the zone's login form, signed in, and back: the final answer. */
async function logInThroughNginx(browser: ScriptedBrowser, url: string, user: string, password: string) {
  const first = await browser.get(url);
  expect(first.status, nginx.errors()).toBe(302);
  const authorize = new URL(String(first.headers.location));
  expect(authorize.host).toBe(`acme.auth.localhost:${gw.port}`);
  expect(authorize.searchParams.get('redirect_uri')).toBe(`${app}/login/callback`);
  const form = await browser.get(authorize.href);
  expect(form.status).toBe(200);
  const posted = await browser.post(new URL('/login.do', form.url).href, { ...hiddenFields(form.text), username: user, password });
  expect(posted.status).toBe(302);
  const callback = await browser.get(String(posted.headers.location));
  expect(callback.status).toBe(302);
  return { callback, page: await browser.follow(callback) };
}

describe('forward auth behind nginx', () => {
  let viewer: ScriptedBrowser;
  let sessionCookie: string | undefined;

  it('sends an unauthenticated browser to the login and back to the page it asked for', async () => {
    viewer = new ScriptedBrowser();
    const { callback, page } = await logInThroughNginx(viewer, `${app}/api/page?x=1&y=2`, 'viewer', 'demo-viewer-pass');
    expect(callback.headers.location).toBe('/api/page?x=1&y=2');
    sessionCookie = (callback.headers['set-cookie'] ?? []).find((c) => c.startsWith('zonegate.sid='));
    expect(page.status).toBe(200);
    expect(page.json().url).toBe('/api/page?x=1&y=2');
  });

  it('passes the token and the identity headers to the backend, not what the client sent', async () => {
    const page = await viewer.get(`${app}/api/whoami`, { 'x-forwarded-user': 'admin', authorization: 'Bearer forged' });
    expect(page.status).toBe(200);
    const seen = page.json();
    expect(seen.headers['x-forwarded-user']).toBe('viewer');
    expect(seen.headers['x-forwarded-email']).toBe('viewer@acme.example.com');
    expect(seen.headers['x-forwarded-groups'].split(',')).toContain(`${gw.running.credentials!.xsappname}.Viewer`);
    expect(seen.jwt.claims.user_name).toBe('viewer');
    expect(seen.jwt.claims.ext_attr.zdn).toBe('acme');
  });

  it('sets the session cookie for the tenant\'s domain when SESSION_COOKIE_DOMAIN says so', () => {
    // ScriptedBrowser keeps cookies per host; the attribute is what a browser acts on.
    expect(sessionCookie).toMatch(/; Domain=acme\.localhost(;|$)/i);
    expect(sessionCookie).toMatch(/; HttpOnly/i);
  });

  it('answers 403 when the route needs a scope the user lacks (the method decides)', async () => {
    expect((await viewer.get(`${app}/admin/report`)).status).toBe(200);
    const post = await viewer.request(`${app}/admin/report`, { method: 'POST', headers: { accept: 'application/json' }, body: '{}' });
    expect(post.status).toBe(403);
    expect(post.headers.location).toBeUndefined();
  });

  it('answers 401 to an API client without a session, no login redirect', async () => {
    const api = await new ScriptedBrowser().get(`${app}/api/page`, { accept: 'application/json' });
    expect(api.status).toBe(401);
    expect(api.headers.location).toBeUndefined();
    const post = await new ScriptedBrowser().request(`${app}/api/page`, { method: 'POST', headers: { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' }, body: '{}' });
    expect(post.status).toBe(401);
  });

  it('lets public routes through without a login', async () => {
    const page = await new ScriptedBrowser().get(`${app}/index.html`);
    expect(page.status).toBe(200);
    expect(page.json().headers['x-forwarded-user']).toBeUndefined();
  });

  it('does not let a session of one tenant pass at another tenant\'s host', async () => {
    const other = `http://globex.localhost:${nginx.port}`;
    const cookie = [...viewer.cookies(`acme.localhost:${nginx.port}`)].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await new ScriptedBrowser().get(`${other}/api/page`, { cookie, accept: 'application/json' });
    expect(res.status).toBe(401);
  });

  it('gives no decision (and no token) to a peer that is not a trusted proxy, whatever X-Forwarded-Host it sends', async () => {
    const cookie = [...viewer.cookies(`acme.localhost:${nginx.port}`)].map(([k, v]) => `${k}=${v}`).join('; ');
    const headers = {
      cookie,
      host: `acme.localhost:${gw.port}`,
      'x-forwarded-host': `acme.localhost:${nginx.port}`,
      'x-forwarded-proto': 'http',
      'x-forwarded-uri': '/api/page',
      'x-forwarded-method': 'GET',
    };
    const direct = await send(gw.port, '/_zonegate/auth', headers);
    expect(direct.status).toBe(403);
    expect(direct.headers['x-zonegate-error'] ?? direct.text).toContain('ZG_ERR_FORWARD_AUTH_UNTRUSTED');
    expect(direct.headers.authorization).toBeUndefined();
    // The same request from the proxy's address is decided: the refusal above is the peer's.
    const trusted = await send(gw.port, '/_zonegate/auth', headers, PROXY_ADDRESS);
    expect(trusted.status).toBe(200);
    expect(trusted.headers.authorization).toMatch(/^Bearer /);
  });

  it('redirects a browser itself when asked to (Traefik), and returns only to this site after login', async () => {
    const headers = {
      host: `zonegate.internal:${gw.port}`,
      accept: 'text/html',
      'x-forwarded-host': `acme.localhost:${nginx.port}`,
      'x-forwarded-proto': 'http',
      'x-forwarded-uri': '/api/page?q=1',
      'x-forwarded-method': 'GET',
    };
    const traefik = await send(gw.port, '/_zonegate/auth?redirect=1', headers, PROXY_ADDRESS);
    expect(traefik.status).toBe(302);
    expect(traefik.headers.location).toBe(`${app}/_zonegate/start?rd=${encodeURIComponent('/api/page?q=1')}`);
    // nginx's 401 for the same browser (no ?redirect=1): nginx makes the redirect.
    expect((await send(gw.port, '/_zonegate/auth', headers, PROXY_ADDRESS)).status).toBe(401);

    for (const [rd, back] of [
      [`${app}/api/page?q=1`, '/api/page?q=1'],
      ['https://evil.example/phish', '/'],
      ['//evil.example/phish', '/'],
      [`http://globex.localhost:${nginx.port}/api/page`, '/'],
    ] as const) {
      const browser = new ScriptedBrowser();
      await browser.get(`${app}/index.html`);
      const start = await browser.get(`${app}/_zonegate/start?rd=${encodeURIComponent(rd)}`);
      expect(start.status).toBe(302);
      const form = await browser.get(String(start.headers.location));
      const posted = await browser.post(new URL('/login.do', form.url).href, { ...hiddenFields(form.text), username: 'viewer', password: 'demo-viewer-pass' });
      const callback = await browser.get(String(posted.headers.location));
      expect(callback.status).toBe(302);
      expect(callback.headers.location, rd).toBe(back);
    }
  });
});

function send(port: number, path: string, headers: Record<string, string>, localAddress?: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, localAddress, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}
