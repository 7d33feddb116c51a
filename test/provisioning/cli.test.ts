import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { runTenantsCli } from '../../src/provisioning/cli.js';
import { createTenantRegistry } from '../../src/provisioning/registry.js';
import { Browser, REDIRECT, loginForCode, startZones, type Harness } from '../zones/oauth/harness.js';
import { guid, provisioningFor } from './support.js';

let h: Harness;
beforeAll(async () => {
  h = await startZones();
});
afterAll(async () => {
  await h?.close();
});

async function run(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runTenantsCli(argv, { provisioning: provisioningFor(h), out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('zonegate tenants', () => {
  it('subscribe creates the tenant and an administrator whose printed initial password logs in', async () => {
    const res = await run('tenants', 'subscribe', 'pied-piper', '--id', guid(1), '--admin-user', 'richard', '--admin-email', 'richard@piedpiper.example');
    expect(res.code).toBe(0);
    expect(res.out[0]).toBe(`Subscribed tenant pied-piper (id ${guid(1)}): https://pied-piper.app.example.com`);
    const password = /initial password: (\S+)$/.exec(res.out[1]!)![1]!;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);

    const { code } = await loginForCode(h, new Browser(h), 'pied-piper', { userName: 'richard', password });
    const tokens = (await h.token('pied-piper', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json();
    expect(decodeJwt(tokens.access_token)).toMatchObject({ zid: guid(1), user_name: 'richard', scope: ['openid', 'myapp!t1.Admin', 'myapp!t1.Viewer'] });
  });

  it('subscribe again without --id finds the tenant: idempotent, password unchanged', async () => {
    const res = await run('tenants', 'subscribe', 'pied-piper', '--admin-user', 'richard', '--admin-email', 'richard@piedpiper.example');
    expect(res.code).toBe(0);
    expect(res.out).toEqual([`Already subscribed: tenant pied-piper (id ${guid(1)}): https://pied-piper.app.example.com`, 'Administrator richard already exists; password unchanged.']);
  });

  it('subscribe without an administrator, with a generated tenant id', async () => {
    const res = await run('tenants', 'subscribe', 'aviato');
    expect(res.code).toBe(0);
    expect(res.out).toHaveLength(1);
    const id = /\(id ([0-9a-f-]{36})\)/.exec(res.out[0]!)![1]!;
    expect((await h.directory.getZone(id))?.subdomain).toBe('aviato');
  });

  it('list shows tenants as a table and as JSON', async () => {
    const table = await run('tenants', 'list');
    expect(table.code).toBe(0);
    expect(table.out[0]).toMatch(/^SUBDOMAIN\s+ID\s+URL\s+SUBSCRIBED$/);
    expect(table.out.some((l) => l.startsWith('pied-piper') && l.includes('https://pied-piper.app.example.com'))).toBe(true);
    const json = await run('tenants', 'list', '--json');
    const tenants = JSON.parse(json.out.join('\n'));
    expect(tenants.find((t: { subdomain: string }) => t.subdomain === 'pied-piper')).toMatchObject({ tenantId: guid(1), admin: 'richard' });
  });

  it('unsubscribe by subdomain or id removes the tenant; an unknown one is nothing to do', async () => {
    const registry = createTenantRegistry({ directory: h.directory, application: h.app, ttlMs: 0 });
    expect(await registry.isSubscribed('pied-piper')).toBe(true);
    const res = await run('tenants', 'unsubscribe', 'pied-piper');
    expect(res.code).toBe(0);
    expect(res.out[0]).toContain(`Unsubscribed tenant pied-piper (id ${guid(1)})`);
    expect(await registry.isSubscribed('pied-piper')).toBe(false);
    const aviato = (await h.directory.getZoneBySubdomain('aviato'))!;
    expect((await run('tenants', 'unsubscribe', aviato.id.toUpperCase())).code).toBe(0);
    expect(await h.directory.getZone(aviato.id)).toBeUndefined();
    const unknown = await run('tenants', 'unsubscribe', 'hooli-xyz');
    expect(unknown).toMatchObject({ code: 0, out: ['No tenant "hooli-xyz"; nothing to do'] });
    // A zone that is not a tenant is not the CLI's to delete.
    expect((await run('tenants', 'unsubscribe', 'stranger')).out).toEqual(['No tenant "stranger"; nothing to do']);
    expect(await h.directory.getZone(h.stranger.id)).toBeDefined();
  });

  it('exits 1 with the reason when the service refuses', async () => {
    const res = await run('tenants', 'subscribe', 'acme', '--id', guid(2));
    expect(res.code).toBe(1);
    expect(res.err[0]).toContain('"acme" is already used by another tenant');
    const bad = await run('tenants', 'subscribe', 'no_underscores');
    expect(bad.code).toBe(1);
    expect(bad.err[0]).toContain('not a DNS label');
  });

  it('exits 2 with the usage on usage errors', async () => {
    for (const argv of [
      ['tenants'],
      ['tenants', 'frobnicate'],
      ['tenants', 'subscribe'],
      ['tenants', 'subscribe', 'a', 'b'],
      ['tenants', 'subscribe', 'x', '--bogus'],
      ['tenants', 'subscribe', 'x', '--admin-user', 'plainname'],
      ['tenants', 'list', 'extra'],
    ]) {
      const res = await run(...argv);
      expect(res.code, argv.join(' ')).toBe(2);
      expect(res.err.join('\n')).toContain('Usage:');
    }
    expect(await h.directory.getZoneBySubdomain('x')).toBeUndefined();
    const help = await run('tenants', 'help');
    expect(help.code).toBe(0);
    expect(help.out[0]).toContain('zonegate tenants subscribe');
  });
});
