/**
 * Issue 15, part 1: a trusted platform's user gets a one-time login URL (RFC 7523 assertion), and
 * opening it ends in a gateway session on the tenant's host through the zone's ordinary code flow,
 * with no password. Real HTTP on port 0 throughout; each rule has its attack, refused and audited.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../support/browser.js';
import type { TestGateway } from '../support/gateway.js';
import { auditLines, createTestPlatform, organizationToken, postAutologin, postOrganization, register, startPlatformGateway, zoneAudience, type TestPlatform } from './support.js';

let gw: TestGateway;
let tix: TestPlatform;
let other: TestPlatform;
const base = (sub: string) => `http://${sub}.localhost:${gw.port}`;

beforeAll(async () => {
  gw = await startPlatformGateway();
  tix = await createTestPlatform('tix');
  other = await createTestPlatform('other', { pem: true });
  await register(gw, tix, { subdomainPattern: 'tix-*', roleCollections: ['Demo Viewer'] });
  await register(gw, other, { subdomainPattern: 'other-*', roleCollections: ['Demo Viewer', 'Demo Administrator'] });
  for (const [platform, org, sub] of [[tix, 'o1', 'tix-acme'], [tix, 'o2', 'tix-globex'], [other, 'o1', 'other-initech']] as const) {
    const res = await postOrganization(gw, await organizationToken(gw, platform), { organizationId: org, subdomain: sub });
    expect(res.status, res.text).toBe(201);
  }
});
afterAll(async () => {
  await tix?.close();
  await other?.close();
  await gw?.stop();
});

function userAssertion(platform: TestPlatform, subdomain: string, claims: Record<string, unknown> = {}, options?: Parameters<TestPlatform['sign']>[1]) {
  return platform.sign({ sub: 'jane', aud: zoneAudience(gw, subdomain), email: 'jane@tix.example', given_name: 'Jane', family_name: 'Doe', role_collections: ['Demo Viewer'], target: '/api/whoami', ...claims }, options);
}

/** Follows the link in a browser to the end: the page it lands on. */
async function open(browser: ScriptedBrowser, url: string) {
  const first = await browser.get(url);
  return { first, last: await browser.follow(first) };
}

describe('POST /platform/v1/autologin → one-time login URL → gateway session', () => {
  it('creates the user (origin = the platform, allowed role collections only) and the link logs them in on the tenant host', async () => {
    const from = gw.logs.length;
    const res = await postAutologin(gw, await userAssertion(tix, 'tix-acme'));
    expect(res.status, res.text).toBe(200);
    const { url, expires_in } = res.json();
    expect(expires_in).toBe(60);
    expect(url).toMatch(new RegExp(`^http://tix-acme\\.auth\\.localhost:${gw.port}/one-time-login\\?ref=[A-Za-z0-9_-]{43}$`));
    // Single-use reference, stored under its hash only, for at most 60 s.
    const ref = new URL(url).searchParams.get('ref')!;
    const ttl = await gw.running.storage.ttl(`plat:otl:${createHash('sha256').update(ref).digest('base64url')}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    const browser = new ScriptedBrowser();
    const { first, last } = await open(browser, url);
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe(`${base('tix-acme')}/api/whoami`);
    expect(last.status, last.text).toBe(200);
    expect(last.url.host).toBe(`tix-acme.localhost:${gw.port}`);
    const claims = last.json().jwt.claims;
    expect(claims).toMatchObject({ user_name: 'jane', origin: 'tix', email: 'jane@tix.example', given_name: 'Jane', family_name: 'Doe' });
    expect(claims.zid).toBe((await gw.running.directory!.getZoneBySubdomain('tix-acme'))!.id);
    expect(claims.scope).toContain(`${gw.running.credentials!.xsappname}.Viewer`);
    expect(claims.scope).not.toContain(`${gw.running.credentials!.xsappname}.Admin`);
    // A gateway session: the next request needs no zone.
    const again = await browser.get(`${base('tix-acme')}/api/whoami`, { accept: 'application/json' });
    expect(again.status).toBe(200);

    // The link is spent.
    const reused = await new ScriptedBrowser().get(url);
    expect(reused.status).toBe(404);
    expect(reused.headers['x-zonegate-error']).toBe('ZG_ERR_ONE_TIME_LOGIN_INVALID');
    expect(reused.text).toContain('invalid, has expired or was already used');

    const audit = auditLines(gw, from);
    expect(audit.map((l) => `${l.audit} ${l.outcome}`)).toEqual(['platform.autologin success', 'platform.one_time_login success', 'platform.one_time_login refused']);
    expect(gw.logs.slice(from).join('\n')).not.toContain(ref);
  });

  it('a second login updates the profile and replaces what the platform granted, leaving direct assignments alone', async () => {
    const zone = (await gw.running.directory!.getZoneBySubdomain('tix-acme'))!;
    const jane = (await gw.running.directory!.listUsers(zone.id)).find((u) => u.userName === 'jane')!;
    await gw.running.directory!.assignRoleCollection(zone.id, jane.id, 'Demo Administrator');
    const res = await postAutologin(gw, await userAssertion(tix, 'tix-acme', { email: 'jane.doe@tix.example', role_collections: [] }));
    expect(res.status).toBe(200);
    const after = (await gw.running.directory!.getUser(zone.id, jane.id))!;
    expect(after.email).toBe('jane.doe@tix.example');
    expect(after.roleCollections).toEqual(['Demo Administrator']);
  });

  it('a platform never takes over a zone\'s own user of the same name: its user is another one, of its origin', async () => {
    const directory = gw.running.directory!;
    const zone = (await directory.getZoneBySubdomain('tix-globex'))!;
    const local = await directory.createUser(zone.id, { userName: 'boss', email: 'boss@globex.example', password: 'a-long-local-password', roleCollections: ['Demo Administrator'] });
    const res = await postAutologin(gw, await userAssertion(tix, 'tix-globex', { sub: 'boss' }));
    expect(res.status).toBe(200);
    const browser = new ScriptedBrowser();
    const { last } = await open(browser, res.json().url);
    expect(last.status).toBe(200);
    const claims = last.json().jwt.claims;
    expect(claims).toMatchObject({ user_name: 'boss', origin: 'tix' });
    expect(claims.user_id).not.toBe(local.id);
    expect(claims.scope).not.toContain(`${gw.running.credentials!.xsappname}.Admin`);
    expect((await directory.getUser(zone.id, local.id))!.roleCollections).toEqual(['Demo Administrator']);
  });

  it('two opens of one link at once: exactly one logs in', async () => {
    const { url } = (await postAutologin(gw, await userAssertion(tix, 'tix-acme'))).json();
    const answers = await Promise.all([1, 2, 3].map(() => new ScriptedBrowser().get(url)));
    expect(answers.map((a) => a.status).sort()).toEqual([302, 404, 404]);
  });

  it('a link opened on another zone\'s host is refused, and spent', async () => {
    const { url } = (await postAutologin(gw, await userAssertion(tix, 'tix-acme'))).json();
    const elsewhere = new URL(url);
    elsewhere.host = `tix-globex.auth.localhost:${gw.port}`;
    const res = await new ScriptedBrowser().get(elsewhere.href);
    expect(res.status).toBe(404);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((await new ScriptedBrowser().get(url)).status).toBe(404);
  });

  describe('attacks: refused and audited', () => {
    const cases: [string, () => Promise<string>, number, string][] = [
      ['a replayed assertion (same jti)', async () => {
        const a = await userAssertion(tix, 'tix-acme');
        expect((await postAutologin(gw, a)).status).toBe(200);
        return a;
      }, 401, 'replayed'],
      ['an expired assertion', () => userAssertion(tix, 'tix-acme', { exp: Math.floor(Date.now() / 1000) - 120 }), 401, 'expired'],
      ['a long-lived assertion', () => userAssertion(tix, 'tix-acme', {}, { lifetimeS: 3600 }), 401, 'lifetime'],
      ['an assertion for an audience that is no zone', () => userAssertion(tix, 'tix-acme', { aud: `http://localhost:${gw.port}/platform/v1/autologin` }), 401, 'audience'],
      ['an assertion for the zone\'s host but not its token endpoint', () => userAssertion(tix, 'tix-acme', { aud: `http://tix-acme.auth.localhost:${gw.port}/` }), 401, 'audience'],
      ['an assertion without jti', () => userAssertion(tix, 'tix-acme', {}, { jti: null }), 401, 'missing_jti'],
      ['an assertion signed by another platform\'s key under this one\'s name', () => userAssertion(tix, 'tix-acme', {}, { key: other.privateKey, alg: 'RS256' }), 401, 'signature'],
      ['a platform acting on a tenant another platform created', () => userAssertion(other, 'tix-acme'), 403, 'not_owner'],
      ['a platform acting on the provider\'s zone', () => userAssertion(tix, 'provider'), 403, 'not_owner'],
      ['a role collection the platform may not grant', () => userAssertion(tix, 'tix-acme', { role_collections: ['Demo Administrator'] }), 403, 'role_collection'],
      ['a target that leaves the tenant\'s host', () => userAssertion(tix, 'tix-acme', { target: '//evil.example/' }), 400, 'invalid_request'],
    ];
    for (const [name, assertion, status, reason] of cases) {
      it(name, async () => {
        const a = await assertion();
        const from = gw.logs.length;
        const res = await postAutologin(gw, a);
        expect(res.status, res.text).toBe(status);
        const line = auditLines(gw, from).find((l) => l.audit === 'platform.autologin');
        expect(line).toMatchObject({ outcome: 'refused', reason });
        expect(gw.logs.slice(from).join('\n')).not.toContain(a.split('.')[2]!);
      });
    }

    it('one assertion at several instances at once: exactly one link', async () => {
      const a = await userAssertion(tix, 'tix-acme');
      const answers = await Promise.all([1, 2, 3, 4].map(() => postAutologin(gw, a)));
      expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    });

    it('a refused assertion creates no user', async () => {
      const zone = (await gw.running.directory!.getZoneBySubdomain('tix-acme'))!;
      await postAutologin(gw, await userAssertion(tix, 'tix-acme', { sub: 'mallory', role_collections: ['Demo Administrator'] }));
      expect((await gw.running.directory!.listUsers(zone.id)).some((u) => u.userName === 'mallory')).toBe(false);
    });
  });
});
