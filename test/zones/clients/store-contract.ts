/** The further clients' store (migration 5), run against every records backend. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/records/migrate.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { createClientStore, type ClientStore } from '../../../src/zones/clients/store.js';
import type { ClientInput } from '../../../src/zones/clients/types.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import { DirectoryError } from '../../../src/zones/directory/errors.js';
import type { ZoneDirectory } from '../../../src/zones/directory/types.js';
import { FAST_HASHING, securityFor } from '../directory/fixtures.js';

export function clientInput(clientId: string, overrides: Partial<ClientInput> = {}): ClientInput {
  return {
    clientId,
    name: clientId,
    xsappname: 'myapp',
    public: false,
    pkceOnly: false,
    zones: 'subscribed',
    redirectUris: ['https://portal.example.com/callback'],
    redirectUriRegex: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    authorities: [],
    referrers: [],
    ...overrides,
  };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof DirectoryError) return err.code;
    throw err;
  }
}

export function describeClientStore(name: string, open: () => Promise<RecordsDatabase>): void {
  describe(`client store on ${name}`, () => {
    let records: RecordsDatabase;
    let directory: ZoneDirectory;
    let store: ClientStore;
    let clock = Date.now();
    const key = randomBytes(32);

    beforeAll(async () => {
      records = await open();
      await migrate(records);
      directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING, secretKey: key });
      const zone = await directory.createZone({ subdomain: `p-${randomBytes(3).toString('hex')}` });
      await directory.registerApplication(securityFor('myapp'), zone.id);
      await directory.registerApplication(securityFor('otherapp'), zone.id);
      store = createClientStore(records, { secretKey: key, now: () => clock });
    });
    afterAll(async () => {
      await records?.close();
    });

    it('creates a confidential client with a secret handed out once, stored only as digest and sealed', async () => {
      const { client, clientSecret } = await store.create(clientInput('portal'));
      expect(client).toMatchObject({ clientId: 'portal', xsappname: 'myapp', source: 'api', hasSecret: true, public: false });
      expect(clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await store.verifySecret('portal', clientSecret!)).toBe(true);
      expect(await store.verifySecret('portal', `${clientSecret}x`)).toBe(false);
      const rows = await records.all('SELECT * FROM oauth_clients');
      expect(JSON.stringify(rows)).not.toContain(clientSecret);
      expect(JSON.stringify(await store.get('portal'))).not.toContain(clientSecret);
    });

    it('creates a public client without any secret; nothing verifies for it', async () => {
      const { client, clientSecret } = await store.create(clientInput('spa', { public: true }));
      expect(clientSecret).toBeUndefined();
      expect(client.hasSecret).toBe(false);
      expect(await store.verifySecret('spa', '')).toBe(false);
      expect(await code(store.rotateSecret('spa'))).toBe('INVALID_INPUT');
    });

    it('refuses a taken id and an unknown application', async () => {
      expect(await code(store.create(clientInput('portal')))).toBe('CLIENT_EXISTS');
      expect(await code(store.create(clientInput('lost', { xsappname: 'nosuchapp' })))).toBe('APPLICATION_NOT_FOUND');
      expect(await code(store.create(clientInput('admins', { xsappname: 'zonegate-admin' })))).toBe('APPLICATION_NOT_FOUND');
    });

    it('lists by application and deletes', async () => {
      await store.create(clientInput('partner', { xsappname: 'otherapp' }));
      expect((await store.list('myapp')).map((c) => c.clientId)).toEqual(['portal', 'spa']);
      expect((await store.list()).map((c) => c.clientId)).toEqual(['partner', 'portal', 'spa']);
      expect((await store.remove('partner'))?.clientId).toBe('partner');
      expect(await store.remove('partner')).toBeUndefined();
      expect(await store.get('partner')).toBeUndefined();
    });

    it('rotation keeps the old secret for the grace period only, and DELETE ends it at once', async () => {
      const { clientSecret: first } = await store.create(clientInput('rotating'));
      const { clientSecret: second, client } = await store.rotateSecret('rotating', { graceSeconds: 60 });
      expect(second).not.toBe(first);
      expect(client.previousSecretExpiresAt).toBe(clock + 60_000);
      expect(await store.verifySecret('rotating', first!)).toBe(true);
      expect(await store.verifySecret('rotating', second!)).toBe(true);
      clock += 61_000;
      expect(await store.verifySecret('rotating', first!)).toBe(false);
      expect(await store.verifySecret('rotating', second!)).toBe(true);

      const { clientSecret: third } = await store.rotateSecret('rotating');
      expect(await store.verifySecret('rotating', second!)).toBe(true);
      await store.rotateSecret('rotating', { changeMode: 'DELETE' });
      expect(await store.verifySecret('rotating', second!)).toBe(false);
      expect(await store.verifySecret('rotating', third!)).toBe(true);
      // A second rotation replaces the secret rotated out before: never three valid at once.
      const { clientSecret: fourth } = await store.rotateSecret('rotating');
      const { clientSecret: fifth } = await store.rotateSecret('rotating');
      expect(await store.verifySecret('rotating', third!)).toBe(false);
      expect(await store.verifySecret('rotating', fourth!)).toBe(true);
      expect(await store.verifySecret('rotating', fifth!)).toBe(true);
      expect(await code(store.rotateSecret('rotating', { graceSeconds: -1 }))).toBe('INVALID_INPUT');
      expect(await code(store.rotateSecret('nobody'))).toBe('CLIENT_NOT_FOUND');
    });

    it('update replaces the settings and keeps the secret; made public, the client loses it; it never changes application', async () => {
      const { clientSecret } = await store.create(clientInput('updating'));
      const updated = await store.update(clientInput('updating', { name: 'Renamed', zones: ['acme'], scopes: ['$XSAPPNAME.Viewer'] }));
      expect(updated).toMatchObject({ name: 'Renamed', zones: ['acme'], scopes: ['$XSAPPNAME.Viewer'], hasSecret: true });
      expect(await store.verifySecret('updating', clientSecret!)).toBe(true);
      expect(await code(store.update(clientInput('updating', { xsappname: 'otherapp' })))).toBe('INVALID_INPUT');
      expect(await code(store.update(clientInput('nobody')))).toBe('CLIENT_NOT_FOUND');
      expect((await store.update(clientInput('updating', { public: true }))).hasSecret).toBe(false);
      expect(await store.verifySecret('updating', clientSecret!)).toBe(false);
      await store.remove('updating');
    });

    it('applies clients.json: creates without secrets, updates keeping secrets, removes what the file dropped, leaves API clients alone', async () => {
      const first = await store.applyDeclared('myapp', [clientInput('mobile', { public: true }), clientInput('server')]);
      expect(first).toEqual({ created: ['mobile', 'server'], updated: [], removed: [], withoutSecret: ['server'] });
      expect((await store.get('server'))).toMatchObject({ source: 'file', hasSecret: false });
      const { clientSecret } = await store.rotateSecret('server');
      const again = await store.applyDeclared('myapp', [clientInput('mobile', { public: true }), clientInput('server', { name: 'Partner server' })]);
      expect(again).toEqual({ created: [], updated: ['server'], removed: [], withoutSecret: [] });
      expect(await store.verifySecret('server', clientSecret!)).toBe(true);
      expect((await store.get('server'))?.name).toBe('Partner server');
      // Taking over an API client by naming it; dropping a file client removes it; the API's portal stays.
      const third = await store.applyDeclared('myapp', [clientInput('server', { name: 'Partner server' }), clientInput('rotating')]);
      expect(third).toEqual({ created: [], updated: ['rotating'], removed: ['mobile'], withoutSecret: [] });
      expect(await store.get('portal')).toMatchObject({ clientId: 'portal', source: 'api' });
      expect(await code(store.applyDeclared('otherapp', [clientInput('server')]))).toBe('CLIENT_EXISTS');
    });

    it('a client goes with its application', async () => {
      await store.create(clientInput('orphan', { xsappname: 'otherapp' }));
      await records.run('DELETE FROM applications WHERE xsappname = $1', ['otherapp']);
      expect(await store.get('orphan')).toBeUndefined();
    });
  });
}
