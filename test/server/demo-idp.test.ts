/**
 * `npm start`'s third tenant (issue 13): the real compiled `zonegate demo`, its own process, whose
 * tenant contoso signs in at the corporate IdP the demo starts itself (oidc-provider on a port of
 * its own). The login is driven over HTTP as the banner tells a person to do it: open the printed
 * URL, type a printed user at the IdP's form; /api/whoami then shows the IdP's origin and the scopes
 * of the role collection the user's group maps to. With ZONEGATE_DEMO_IDP=off the demo still starts
 * and says in one line why the tenant is not offered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../support/browser.js';
import { CLI } from '../support/cli.js';

const ROOT = path.resolve(path.dirname(CLI), '../..');
import { signInAtIdp } from '../zones/idp/oidc-idp.js';

interface Demo {
  child: ChildProcess;
  out: () => string;
  port: number;
}

let dir: string;

async function startDemo(data: string, env: Record<string, string> = {}, cli = CLI): Promise<Demo> {
  const child = spawn(process.execPath, [cli, 'demo'], { cwd: dir, env: { PATH: process.env.PATH ?? '', PORT: '0', ZONEGATE_DATA_DIR: data, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no banner: ${out}`));
    }, 30_000);
    child.stdout!.on('data', () => {
      if (!out.includes('Stop with Ctrl+C')) return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${out}`));
    });
  });
  return { child, out: () => out, port: Number(/http:\/\/localhost:(\d+)\/healthz/.exec(out)![1]) };
}

/** SIGTERM, as Ctrl+C; resolves with the exit code (0: a clean shutdown, the IdP's server closed too). */
async function stopDemo(demo: Demo): Promise<number | null> {
  if (demo.child.exitCode !== null) return demo.child.exitCode;
  const exited = once(demo.child, 'exit');
  demo.child.kill('SIGTERM');
  return (await exited)[0] as number | null;
}

/** What the banner says to open and whom to sign in as: the test uses only what it printed. */
function printed(out: string) {
  const tenantUrl = /tenant contoso\s+(http:\/\/\S+)/.exec(out)?.[1];
  const issuer = /corporate IdP \(origin "contoso-idp"\),\s+(http:\/\/127\.0\.0\.1:\d+)\/\.well-known\/openid-configuration,/.exec(out)?.[1];
  const users = [...out.matchAll(/^\s+(\w+)\s+group (\w+)\s+role collection "([^"]+)"$/gm)].map((m) => ({ user: m[1]!, group: m[2]!, roleCollection: m[3]! }));
  return { tenantUrl, issuer, users };
}

/** Opens the tenant's /api/whoami, signs in as `user` at the IdP, and returns what the backend received. */
async function logInAtContoso(tenantUrl: string, issuer: string, user: string) {
  const browser = new ScriptedBrowser();
  const start = await browser.get(new URL('api/whoami', tenantUrl).href);
  expect(start.status).toBe(302);
  // The zone has no users of its own and one IdP: straight on to the IdP, no login page of the zone.
  const zone = await browser.get(String(start.headers.location));
  expect(zone.status, zone.text.slice(0, 300)).toBe(302);
  const toIdp = new URL(String(zone.headers.location));
  expect(toIdp.origin).toBe(issuer);
  const callback = await signInAtIdp(browser, { issuer }, toIdp.href, user);
  expect(callback.pathname).toBe('/login/callback/contoso-idp');
  const page = await browser.follow(await browser.get(callback.href));
  expect(page.url.href).toBe(new URL('api/whoami', tenantUrl).href);
  const whoami = await browser.get(page.url.href, { accept: 'application/json' });
  expect(whoami.status, whoami.text.slice(0, 300)).toBe(200);
  return JSON.parse(whoami.text) as { jwt: { claims: { origin: string; user_name: string; scope: string[]; email: string } } };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-demo-idp-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('npm start: the tenant that signs in at its own IdP', () => {
  it('prints contoso, its IdP and its users, and a login as printed ends in /api/whoami with the IdP\'s origin and the mapped scopes', async () => {
    const demo = await startDemo(path.join(dir, 'data'));
    try {
      const out = demo.out();
      const { tenantUrl, issuer, users } = printed(out);
      expect(tenantUrl).toBe(`http://contoso.localhost:${demo.port}/`);
      expect(issuer).toBeDefined();
      expect(users).toEqual([
        { user: 'carol', group: 'admins', roleCollection: 'Demo Administrator' },
        { user: 'dave', group: 'staff', roleCollection: 'Demo Viewer' },
      ]);
      expect(out).toContain("oidc-provider's development form");
      // The printed IdP address answers: its discovery document, naming itself.
      const discovery = await new ScriptedBrowser().get(`${issuer}/.well-known/openid-configuration`, { accept: 'application/json' });
      expect(discovery.status).toBe(200);
      expect(discovery.json().issuer).toBe(issuer);
      // oidc-provider's development notices are summed up by the banner, not printed one by one.
      expect(out).not.toContain('oidc-provider WARNING');
      expect(out).not.toContain('oidc-provider NOTICE');

      const carol = await logInAtContoso(tenantUrl!, issuer!, 'carol');
      expect(carol.jwt.claims).toMatchObject({ origin: 'contoso-idp', user_name: 'carol', email: 'carol@corp.example.com' });
      expect(carol.jwt.claims.scope).toEqual(expect.arrayContaining([expect.stringMatching(/^zonegate-demo!t\d+\.Admin$/), expect.stringMatching(/^zonegate-demo!t\d+\.Viewer$/)]));

      const dave = await logInAtContoso(tenantUrl!, issuer!, 'dave');
      expect(dave.jwt.claims).toMatchObject({ origin: 'contoso-idp', user_name: 'dave' });
      expect(dave.jwt.claims.scope).toEqual(expect.arrayContaining([expect.stringMatching(/^zonegate-demo!t\d+\.Viewer$/)]));
      expect(dave.jwt.claims.scope.some((s) => s.endsWith('.Admin'))).toBe(false);
      // A name the IdP does not know: its own error page says whom it knows; the zone never gets a code.
      const stranger = new ScriptedBrowser();
      const zone = await stranger.get(String((await stranger.get(new URL('api/whoami', tenantUrl!).href)).headers.location));
      let res = await stranger.get(String(zone.headers.location));
      let url = res.url;
      for (let hops = 0; hops < 10 && [200, 302, 303].includes(res.status); hops++) {
        if (res.status !== 200) {
          url = new URL(String(res.headers.location), url);
          expect(url.origin).toBe(issuer);
          res = await stranger.get(url.href);
          continue;
        }
        const action = /<form[^>]*action="([^"]+)"/.exec(res.text)?.[1];
        expect(action, res.text.slice(0, 300)).toBeDefined();
        res = await stranger.post(new URL(action!, url).href, { prompt: 'login', login: 'mallory', password: 'any' });
      }
      expect(res.text).toContain('This demo IdP knows the users <code>carol</code>, <code>dave</code> (any password).');
      expect(demo.out()).not.toContain('oidc-provider NOTICE');

      // Ctrl+C ends the demo cleanly, its IdP included.
      expect(await stopDemo(demo)).toBe(0);
    } finally {
      await stopDemo(demo);
    }
  });

  it('two demos at once each start their own IdP; a restart points the zone at the new one', async () => {
    const data = path.join(dir, 'twice');
    const [a, b] = await Promise.all([startDemo(path.join(dir, 'other')), startDemo(data)]);
    try {
      expect(printed(a.out()).issuer).not.toBe(printed(b.out()).issuer);
    } finally {
      await Promise.all([stopDemo(a), stopDemo(b)]);
    }
    const again = await startDemo(data);
    try {
      // The first start's IdP is gone: the login works only if the zone follows the new one.
      const { tenantUrl, issuer } = printed(again.out());
      expect(issuer).toBeDefined();
      const who = await logInAtContoso(tenantUrl!, issuer!, 'dave');
      expect(who.jwt.claims.origin).toBe('contoso-idp');
    } finally {
      await stopDemo(again);
    }
  });

  it('with ZONEGATE_DEMO_IDP=off starts without it, says so in one line, and a stored provider is made inactive', async () => {
    const data = path.join(dir, 'off');
    // Off from the start: no tenant contoso at all.
    const never = await startDemo(data, { ZONEGATE_DEMO_IDP: 'off' });
    try {
      expect((await new ScriptedBrowser().get(`http://contoso.localhost:${never.port}/api/whoami`)).status).toBe(404);
    } finally {
      await stopDemo(never);
    }
    // A start with the IdP stores contoso's provider; the next, without the IdP, must not send logins to a dead address.
    expect(await stopDemo(await startDemo(data))).toBe(0);
    const demo = await startDemo(data, { ZONEGATE_DEMO_IDP: 'off' });
    try {
      const out = demo.out();
      expect(out.match(/no tenant that signs in at its own IdP in this demo: ZONEGATE_DEMO_IDP=off/g)).toHaveLength(1);
      expect(out).not.toContain('tenant contoso');
      expect(out).toMatch(/admin\s+password demo-admin-pass/);
      // The other tenants work as before.
      const browser = new ScriptedBrowser();
      const start = await browser.get(`http://acme.localhost:${demo.port}/api/whoami`);
      expect(start.status).toBe(302);
      // contoso's zone has no active provider and no users: its login page, no redirect to the old IdP.
      const contoso = await browser.get(`http://contoso.localhost:${demo.port}/api/whoami`);
      expect(contoso.status).toBe(302);
      const zone = await browser.get(String(contoso.headers.location));
      expect(zone.status).toBe(200);
      expect(zone.text).not.toContain('127.0.0.1');
    } finally {
      await stopDemo(demo);
    }
  });

  it('in an install without devDependencies (no oidc-provider) starts the other tenants and says why contoso is not offered', async () => {
    // The package as `npm install --omit=dev` lays it out: this build, and every installed package but oidc-provider.
    const install = path.join(dir, 'omit-dev');
    fs.mkdirSync(path.join(install, 'node_modules'), { recursive: true });
    for (const entry of ['dist', 'package.json', 'routes.json', 'xs-security.json', 'public']) fs.cpSync(path.join(ROOT, entry), path.join(install, entry), { recursive: true });
    const modules = fs.realpathSync(path.join(ROOT, 'node_modules'));
    for (const name of fs.readdirSync(modules)) {
      if (name !== 'oidc-provider') fs.symlinkSync(path.join(modules, name), path.join(install, 'node_modules', name));
    }
    const demo = await startDemo(path.join(dir, 'omit-dev-data'), {}, path.join(install, 'dist/src/cli.js'));
    try {
      const out = demo.out();
      expect(out.match(/no tenant that signs in at its own IdP in this demo: oidc-provider \(a devDependency\) is not installed; npm install in a checkout adds it/g)).toHaveLength(1);
      expect(out).not.toContain('tenant contoso');
      expect(out).toContain(`tenant acme     http://acme.localhost:${demo.port}/`);
      expect((await new ScriptedBrowser().get(`http://contoso.localhost:${demo.port}/api/whoami`)).status).toBe(404);
      expect(await stopDemo(demo)).toBe(0);
    } finally {
      await stopDemo(demo);
    }
  });
});
