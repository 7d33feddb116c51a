/**
 * Issue 15, part 1: trusted platforms are registered through the admin API, and a registered
 * platform creates its organization's tenant over real HTTP, idempotently, through the provisioning
 * service (the zone, its role collections and its administrator, as a subscription makes them). Each
 * rule of the platform's signed JWT has an attack that it refuses, with an audit line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../support/browser.js';
import type { TestGateway } from '../support/gateway.js';
import { admin, auditLines, createTestPlatform, organizationToken, postOrganization, register, startPlatformGateway, type TestPlatform } from './support.js';

let gw: TestGateway;
let tix: TestPlatform;
let pem: TestPlatform;
let stranger: TestPlatform;

beforeAll(async () => {
  gw = await startPlatformGateway();
  tix = await createTestPlatform('tix');
  pem = await createTestPlatform('pem-platform', { pem: true });
  stranger = await createTestPlatform('tix'); // same iss, another key: a forger
  await register(gw, tix, { subdomainPattern: 'tix-*', roleCollections: ['Demo Viewer', 'Demo Administrator'] });
  await register(gw, pem, { subdomainPattern: 'pem-*', roleCollections: ['Demo Viewer'] });
});
afterAll(async () => {
  await tix?.close();
  await pem?.close();
  await stranger?.close();
  await gw?.stop();
});

describe('trusted platform registration (admin API on the bare uaadomain)', () => {
  it('lists, reads and refuses duplicates, bad input (every problem at once) and callers without the admin credential', async () => {
    const list = await admin(gw, 'GET', '/trusted-platforms');
    expect(list.status).toBe(200);
    expect(list.json().map((p: { id: string }) => p.id)).toEqual(['pem-platform', 'tix']);
    const one = await admin(gw, 'GET', '/trusted-platforms/tix');
    expect(one.json()).toMatchObject({ id: 'tix', jwksUri: tix.jwksUri, subdomainPattern: 'tix-*', roleCollections: ['Demo Viewer', 'Demo Administrator'] });

    const dup = await admin(gw, 'POST', '/trusted-platforms', { id: 'tix', jwksUri: tix.jwksUri, subdomainPattern: 'tix-*' });
    expect(dup.status).toBe(409);
    const bad = await admin(gw, 'POST', '/trusted-platforms', { id: 'Bad Id', jwksUri: 'ftp://x', publicKeyPem: 'nope', subdomainPattern: '*', extra: 1 });
    expect(bad.status).toBe(400);
    const message = bad.json().error_description as string;
    for (const part of ['unknown properties: extra', 'id must be', 'exactly one of jwksUri', 'jwksUri must be an https URL', 'subdomainPattern']) expect(message).toContain(part);
    const badPem = await admin(gw, 'POST', '/trusted-platforms', { id: 'x', publicKeyPem: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', subdomainPattern: 'x-*' });
    expect(badPem.status).toBe(400);
    expect(badPem.json().error_description).toContain('publicKeyPem is not a RS256 public key');

    const anonymous = await new ScriptedBrowser().request(`http://auth.localhost:${gw.port}/trusted-platforms`, { headers: { accept: 'application/json' } });
    expect(anonymous.status).toBe(401);
    // Not on a zone's host: only the bare uaadomain manages platforms.
    const onZone = await new ScriptedBrowser().request(`http://provider.auth.localhost:${gw.port}/trusted-platforms`, { headers: { accept: 'application/json' } });
    expect(onZone.status).toBe(404);
  });
});

describe('POST /platform/v1/organizations', () => {
  it('creates the tenant once (201), answers the same tenant afterwards (200), as a subscription does', async () => {
    const body = { organizationId: 'org-1', subdomain: 'tix-acme', admin: { userName: 'boss@acme.example', email: 'boss@acme.example', givenName: 'Bo', familyName: 'Ss' } };
    const first = await postOrganization(gw, await organizationToken(gw, tix), body);
    expect(first.status, first.text).toBe(201);
    const created = first.json();
    expect(created).toEqual({ tenantId: expect.stringMatching(/^[0-9a-f-]{36}$/), subdomain: 'tix-acme', url: `http://tix-acme.localhost:${gw.port}`, organizationId: 'org-1' });
    const again = await postOrganization(gw, await organizationToken(gw, tix), body);
    expect(again.status).toBe(200);
    expect(again.json()).toEqual(created);

    // The same effect as a subscription: a subscribed tenant with the application, the admin with its collection.
    const tenant = await gw.running.provisioning!.findTenant('tix-acme');
    expect(tenant?.tenantId).toBe(created.tenantId);
    const bossUser = (await gw.running.directory!.listUsers(created.tenantId)).find((u) => u.userName === 'boss@acme.example');
    expect(bossUser).toMatchObject({ origin: 'tix', roleCollections: ['Demo Administrator'] });
    // The tenant's host is served (a login redirect, not 404 "not subscribed").
    const home = await new ScriptedBrowser().get(`http://tix-acme.localhost:${gw.port}/api/whoami`);
    expect(home.status).toBe(302);
  });

  it('works the same with a platform registered by its PEM public key', async () => {
    const res = await postOrganization(gw, await organizationToken(gw, pem), { organizationId: 'o', subdomain: 'pem-one' });
    expect(res.status, res.text).toBe(201);
  });

  it('a registration changed over the admin API (PUT) takes effect at once', async () => {
    const body = { organizationId: 'o3', subdomain: 'pem-three', admin: { userName: 'c@d.example', email: 'c@d.example' } };
    expect((await postOrganization(gw, await organizationToken(gw, pem), body)).status).toBe(403);
    const put = await admin(gw, 'PUT', '/trusted-platforms/pem-platform', { publicKeyPem: pem.publicKeyPem, algorithm: 'RS256', subdomainPattern: 'pem-*', roleCollections: ['Demo Viewer', 'Demo Administrator'] });
    expect(put.status, put.text).toBe(200);
    expect((await postOrganization(gw, await organizationToken(gw, pem), body)).status).toBe(201);
    await admin(gw, 'PUT', '/trusted-platforms/pem-platform', { publicKeyPem: pem.publicKeyPem, algorithm: 'RS256', subdomainPattern: 'pem-*', roleCollections: ['Demo Viewer'] });
  });

  it('two concurrent first calls for one organization make one tenant', async () => {
    const body = { organizationId: 'org-race', subdomain: 'tix-race' };
    const answers = await Promise.all([1, 2, 3].map(async () => postOrganization(gw, await organizationToken(gw, tix), body)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(answers.map((a) => a.json().tenantId)).size).toBe(1);
  });

  describe('attacks: refused and audited', () => {
    const body = { organizationId: 'org-x', subdomain: 'tix-x' };
    const cases: [string, () => Promise<string | undefined>, number, string][] = [
      ['no token', async () => undefined, 401, 'no_token'],
      ['a JWT signed by another key under the platform\'s name', () => organizationToken(gw, stranger), 401, 'signature'],
      ['an unregistered issuer', () => organizationToken(gw, tix, {}, { iss: 'nobody' }), 401, 'unknown_issuer'],
      ['an expired JWT', () => organizationToken(gw, tix, {}, { exp: Math.floor(Date.now() / 1000) - 120 }), 401, 'expired'],
      ['a JWT living longer than 5 minutes', () => organizationToken(gw, tix, { lifetimeS: 3600 }), 401, 'lifetime'],
      ['a JWT for another audience (a zone\'s token endpoint)', () => tix.sign({ aud: `http://tix-acme.auth.localhost:${gw.port}/oauth/token` }), 401, 'audience'],
      ['a JWT without jti', () => organizationToken(gw, tix, { jti: null }), 401, 'missing_jti'],
      ['an HMAC JWT keyed with the platform\'s public key (algorithm confusion)', async () => {
        const { SignJWT } = await import('jose');
        return new SignJWT({ aud: `http://localhost:${gw.port}/platform/v1/organizations` })
          .setProtectedHeader({ alg: 'HS256' }).setIssuer('pem-platform').setExpirationTime('60s').setJti('hmac-confusion-1')
          .sign(new TextEncoder().encode(pem.publicKeyPem!));
      }, 401, 'algorithm'],
      ['an unsigned JWT (alg none)', async () => `${b64({ alg: 'none' })}.${b64({ iss: 'tix', aud: `http://localhost:${gw.port}/platform/v1/organizations`, exp: Math.floor(Date.now() / 1000) + 60, jti: 'none-jti-1' })}.`, 401, 'algorithm'],
    ];
    for (const [name, token, status, reason] of cases) {
      it(name, async () => {
        const from = gw.logs.length;
        const t = await token();
        const res = await postOrganization(gw, t, body);
        expect(res.status, res.text).toBe(status);
        const line = auditLines(gw, from).find((l) => l.audit === 'platform.organization');
        expect(line).toMatchObject({ outcome: 'refused', reason, level: 'warn' });
        // Nothing secret in the log: not the JWT, nor any part of it.
        if (t) expect(gw.logs.slice(from).join('\n')).not.toContain(t.split('.')[1]!.slice(0, 20));
      });
    }

    it('a replayed JWT (same jti): the second use is refused', async () => {
      const token = await organizationToken(gw, tix);
      expect((await postOrganization(gw, token, { organizationId: 'org-replay', subdomain: 'tix-replay' })).status).toBe(201);
      const from = gw.logs.length;
      const replay = await postOrganization(gw, token, { organizationId: 'org-replay', subdomain: 'tix-replay' });
      expect(replay.status).toBe(401);
      expect(replay.headers['x-zonegate-error']).toBe('ZG_ERR_PLATFORM_ASSERTION_INVALID');
      expect(auditLines(gw, from)[0]).toMatchObject({ audit: 'platform.organization', outcome: 'refused', reason: 'replayed', claimedPlatform: 'tix' });
    });

    it('two instances given one JWT at once: exactly one accepts (atomic jti claim in the shared storage)', async () => {
      const token = await organizationToken(gw, tix);
      const answers = await Promise.all([1, 2, 3, 4].map(() => postOrganization(gw, token, { organizationId: 'org-once', subdomain: 'tix-once' })));
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 401)).toHaveLength(3);
    });

    it('a subdomain outside the platform\'s pattern: 403', async () => {
      const res = await postOrganization(gw, await organizationToken(gw, tix), { organizationId: 'org-y', subdomain: 'acme' });
      expect(res.status).toBe(403);
      expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_PLATFORM_NOT_ALLOWED');
      expect(await gw.running.directory!.getZoneBySubdomain('acme')).toBeUndefined();
    });

    it('an administrator from a platform that may not grant the administrator role collection: 403', async () => {
      const res = await postOrganization(gw, await organizationToken(gw, pem), { organizationId: 'o2', subdomain: 'pem-two', admin: { userName: 'a@b.example', email: 'a@b.example' } });
      expect(res.status).toBe(403);
      expect(res.json().error.message).toContain('Demo Administrator');
    });

    it('another tenant\'s subdomain: 409, nothing adopted', async () => {
      const res = await postOrganization(gw, await organizationToken(gw, tix), { organizationId: 'org-thief', subdomain: 'tix-acme' });
      expect(res.status).toBe(409);
      expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_SUBDOMAIN_TAKEN');
    });
  });

  it('every success and refusal left an audit line; none carries a JWT', () => {
    const lines = auditLines(gw);
    expect(lines.filter((l) => l.outcome === 'success' && l.audit === 'platform.organization').length).toBeGreaterThanOrEqual(3);
    expect(gw.logs.join('\n')).not.toMatch(/eyJ[\w-]{10,}\.eyJ/);
  });
});

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
