import { randomUUID } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../src/log.js';
import { openSqliteStorage } from '../../../src/storage/sqlite.js';
import type { Storage } from '../../../src/storage/types.js';
import { createAdminApi } from '../../../src/zones/admin/api.js';
import type { AdminPrincipal } from '../../../src/zones/admin/api.js';
import { ADMIN_CLIENT_ID, ZONE_ADMIN_ROLE_COLLECTION } from '../../../src/zones/directory/admin-client.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { openTestRecords } from '../../support/records.js';
import type { Zone, ZoneDirectory } from '../../../src/zones/directory/types.js';
import { createKeyStore } from '../../../src/zones/keys/keystore.js';
import { removeZone } from '../../../src/zones/removal.js';
import { FAST_HASHING, securityFor } from '../directory/fixtures.js';

const UAA_DOMAIN = 'zones.test';
const BOOTSTRAP = `bootstrap-${randomUUID()}`;

let storage: Storage;
let records: RecordsDatabase;
let directory: ZoneDirectory;
let server: Server;
let port: number;
const logger = createMemoryLogger();
/**
 * Bearer tokens the test hands out. `authenticate` is the OAuth side's job (it verifies a JWT of the
 * host's zone); here a table stands in for it, so these tests are about what the admin API does
 * with the principal it is given, including one from another zone.
 */
const tokens = new Map<string, AdminPrincipal>();
let adminZone: Zone;
let acme: Zone;
let globex: Zone;

/** Per zone, a user holding the Zone Administrator role collection: admin tokens are always a user's. */
const zoneAdmins = new Map<string, string>();

/**
 * A token of the admin client unless the principal names another client; of the zone's administrator
 * unless it names a user. The API re-checks the user's role collections per request, so the scopes
 * only count while that user still holds them.
 */
function token(principal: Omit<AdminPrincipal, 'clientId'> & { clientId?: string }): string {
  const t = randomUUID();
  tokens.set(t, { clientId: ADMIN_CLIENT_ID, userId: zoneAdmins.get(principal.zoneId)!, ...principal });
  return t;
}

beforeAll(async () => {
  storage = openSqliteStorage({ file: ':memory:' });
  records = await openTestRecords();
  directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
  adminZone = await directory.createZone({ subdomain: 'provider' });
  acme = await directory.createZone({ subdomain: 'acme' });
  globex = await directory.createZone({ subdomain: 'globex' });
  const { application } = await directory.registerApplication(securityFor('myapp'), adminZone.id);
  await directory.subscribe(application, acme.id);
  await directory.subscribe(application, globex.id);
  await directory.ensureAdminClient({ zonesAdminZoneId: adminZone.id });
  for (const zone of [adminZone, acme, globex]) {
    const user = await directory.createUser(zone.id, { userName: 'zone-admin', email: 'zone-admin@example.com', roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
    zoneAdmins.set(zone.id, user.id);
  }

  const admin = createAdminApi({
    directory,
    removeZone: removerFor(directory, records),
    bootstrapSecret: BOOTSTRAP,
    zonesAdminZoneId: adminZone.id,
    maxBodyBytes: 4096,
    logger,
    authenticate: async (req: IncomingMessage) => {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      return m ? tokens.get(m[1]!) : undefined;
    },
  });
  server = createServer((req, res) => {
    void (async () => {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      let zone: Zone | undefined;
      if (host !== UAA_DOMAIN) {
        zone = await directory.getZoneBySubdomain(host.slice(0, -(UAA_DOMAIN.length + 1)));
        if (!zone) {
          res.writeHead(404).end('no such zone');
          return;
        }
      }
      if (!(await admin(req, res, zone))) res.writeHead(404, { 'content-type': 'text/plain' }).end('not an admin path');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await storage.close();
  await records.close();
});

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
  json: any;
}

interface CallOptions {
  host?: string;
  auth?: string;
  body?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Sends the body in chunks without a content-length. */
  chunked?: boolean;
}

/** The removal the identity server wires: directory and keys of the same records database. */
const removerFor = (dir: ZoneDirectory, db: RecordsDatabase) => (zoneId: string) =>
  removeZone({ directory: dir, keys: createKeyStore({ records: db, logger, maxTokenValiditySeconds: 3600 }) }, zoneId);

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const BOOT = basic('admin', BOOTSTRAP);
const bearer = (t: string) => `Bearer ${t}`;
const at = (zone: Zone) => `${zone.subdomain}.${UAA_DOMAIN}`;

function call(method: string, path: string, o: CallOptions = {}): Promise<Reply> {
  const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  const headers: Record<string, string> = { host: o.host ?? UAA_DOMAIN, ...o.headers };
  if (o.auth) headers.authorization = o.auth;
  if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  if (payload !== undefined && !o.chunked) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    // The server may answer (413) and close before the whole body is sent; the answer still counts.
    req.on('error', reject);
    if (payload !== undefined && o.chunked) {
      const buf = Buffer.from(payload);
      for (let i = 0; i < buf.length; i += 1024) req.write(buf.subarray(i, i + 1024));
    } else if (payload !== undefined) req.write(payload);
    req.end();
  });
}

describe('admin API routing', () => {
  it('claims only its own paths, per kind of host', async () => {
    expect((await call('GET', '/oauth/token', { auth: BOOT })).text).toBe('not an admin path');
    expect((await call('GET', '/Users', { auth: BOOT })).text).toBe('not an admin path');
    expect((await call('GET', '/identity-zones', { host: at(acme), auth: BOOT })).text).toBe('not an admin path');
    expect((await call('GET', '/Users/x/other', { host: at(acme), auth: BOOT })).text).toBe('not an admin path');
    expect((await call('GET', '/users', { host: at(acme), auth: BOOT })).text).toBe('not an admin path');
  });

  it('answers 405 with Allow for other methods', async () => {
    const r = await call('PATCH', '/identity-zones', { auth: BOOT });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, POST');
    expect((await call('POST', `/Users/${randomUUID()}/role-collections/x`, { host: at(acme), auth: BOOT })).headers.allow).toBe('PUT, DELETE');
  });
});

describe('admin API authentication (attacks)', () => {
  it('answers 401 with a challenge when there are no credentials', async () => {
    for (const [method, path, host] of [
      ['GET', '/identity-zones', UAA_DOMAIN],
      ['POST', '/identity-zones', UAA_DOMAIN],
      ['DELETE', `/identity-zones/${acme.id}`, UAA_DOMAIN],
      ['GET', '/Users', at(acme)],
      ['POST', '/role-collections', at(acme)],
    ] as const) {
      const r = await call(method, path, { host, body: method === 'POST' ? { subdomain: 'sneaky' } : undefined });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Basic realm=.*Bearer/);
      expect(r.json).toMatchObject({ error: 'unauthorized' });
    }
    expect(await directory.getZoneBySubdomain('sneaky')).toBeUndefined();
  });

  it('refuses a wrong bootstrap secret, another user name, and garbage Basic credentials', async () => {
    for (const auth of [
      basic('admin', `${BOOTSTRAP}x`),
      basic('admin', BOOTSTRAP.slice(0, -1)),
      basic('root', BOOTSTRAP),
      basic('ADMIN', BOOTSTRAP),
      basic('admin', ''),
      'Basic !!!notbase64',
      'Basic',
    ]) {
      const r = await call('GET', '/identity-zones', { auth });
      expect(r.status, auth).toBe(401);
      expect(r.text).not.toContain(BOOTSTRAP);
    }
  });

  it('refuses Basic altogether when no bootstrap secret is configured, and rejects a short one', async () => {
    const api = createAdminApi({ directory, removeZone: removerFor(directory, records), authenticate: async () => undefined });
    const s = createServer((req, res) => void api(req, res, undefined));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    try {
      const r = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/identity-zones`, { headers: { authorization: basic('admin', '') } });
      expect(r.status).toBe(401);
    } finally {
      await new Promise((resolve) => s.close(resolve));
    }
    expect(() => createAdminApi({ directory, removeZone: removerFor(directory, records), bootstrapSecret: 'short', authenticate: async () => undefined })).toThrow(/16 characters/);
  });

  it('answers 401 when the authenticator throws on a token, and 503 when the records database is down', async () => {
    const broken = await openTestRecords();
    const brokenDir = createZoneDirectory(broken);
    await broken.close();
    const api = createAdminApi({
      directory: brokenDir,
      removeZone: removerFor(brokenDir, broken),
      bootstrapSecret: BOOTSTRAP,
      authenticate: async (req) => {
        if (req.headers.authorization === 'Bearer crash') throw new TypeError('Invalid Compact JWS');
        return brokenDir.getZone('x').then(() => undefined);
      },
    });
    const s = createServer((req, res) => void api(req, res, undefined));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/identity-zones`;
    try {
      expect((await fetch(url, { headers: { authorization: 'Bearer crash' } })).status).toBe(401);
      const viaToken = await fetch(url, { headers: { authorization: 'Bearer any' } });
      expect(viaToken.status).toBe(503);
      const viaBasic = await fetch(url, { headers: { authorization: BOOT } });
      expect(viaBasic.status).toBe(503);
      expect(await viaBasic.json()).toEqual({ error: 'temporarily_unavailable', error_description: 'The records database is unavailable' });
    } finally {
      await new Promise((resolve) => s.close(resolve));
    }
  });

  it('answers 401 for a token the authenticator does not accept', async () => {
    const r = await call('GET', '/Users', { host: at(acme), auth: bearer('forged') });
    expect(r.status).toBe(401);
  });

  it('refuses a token of zone A on zone B, even with every scope', async () => {
    const t = token({ zoneId: acme.id, scopes: ['scim.write', 'scim.read', 'zones.write'] });
    expect((await call('GET', '/Users', { host: at(acme), auth: bearer(t) })).status).toBe(200);
    const r = await call('POST', '/Users', { host: at(globex), auth: bearer(t), body: { userName: 'mole', email: 'mole@example.com' } });
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ error: 'access_denied' });
    expect(await directory.getUserByName(globex.id, 'mole')).toBeUndefined();
    expect((await call('GET', '/role-collections', { host: at(globex), auth: bearer(t) })).status).toBe(403);
    // And it cannot manage zones: only the admin zone's tokens can.
    expect((await call('POST', '/identity-zones', { auth: bearer(t), body: { subdomain: 'takeover' } })).status).toBe(403);
    expect((await call('DELETE', `/identity-zones/${globex.id}`, { auth: bearer(t) })).status).toBe(403);
    expect(await directory.getZone(globex.id)).toBeDefined();
  });

  it('refuses a token of any other client, even of the right zone with every admin scope', async () => {
    const t = token({ zoneId: adminZone.id, clientId: 'sb-myapp!t1', userId: randomUUID(), scopes: ['scim.read', 'scim.write', 'zones.read', 'zones.write'] });
    const r = await call('POST', '/Users', { host: at(adminZone), auth: bearer(t), body: { userName: 'app-made', email: 'a@example.com' } });
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ error: 'access_denied', error_description: `Only tokens of the ${ADMIN_CLIENT_ID} client may use the admin API` });
    expect((await call('POST', '/identity-zones', { auth: bearer(t), body: { subdomain: 'appzone' } })).status).toBe(403);
    expect(await directory.getZoneBySubdomain('appzone')).toBeUndefined();
    expect(await directory.getUserByName(adminZone.id, 'app-made')).toBeUndefined();
  });

  it('refuses a token of the right zone without the needed scope (insufficient_scope)', async () => {
    const reader = token({ zoneId: acme.id, scopes: ['openid', 'scim.read'] });
    expect((await call('GET', '/Users', { host: at(acme), auth: bearer(reader) })).status).toBe(200);
    const r = await call('POST', '/Users', { host: at(acme), auth: bearer(reader), body: { userName: 'x', email: 'x@example.com' } });
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ error: 'insufficient_scope' });
    expect(r.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="scim.write"');
    const nobody = token({ zoneId: acme.id, scopes: ['openid', 'myapp!t1.Admin'] });
    expect((await call('GET', '/Users', { host: at(acme), auth: bearer(nobody) })).status).toBe(403);
    const zoneReader = token({ zoneId: adminZone.id, scopes: ['zones.read'] });
    expect((await call('GET', '/identity-zones', { auth: bearer(zoneReader) })).status).toBe(200);
    expect((await call('POST', '/identity-zones', { auth: bearer(zoneReader), body: { subdomain: 'nope' } })).status).toBe(403);
  });

  it('lets a token of the admin zone with zones.write manage zones', async () => {
    const t = token({ zoneId: adminZone.id, scopes: ['zones.write'] });
    const r = await call('POST', '/identity-zones', { auth: bearer(t), body: { subdomain: 'initech', name: 'Initech' } });
    expect(r.status).toBe(201);
    expect((await call('DELETE', `/identity-zones/${r.json.id}`, { auth: bearer(t) })).status).toBe(200);
  });
});

describe('admin API bodies (attacks)', () => {
  it('refuses oversized bodies, declared or streamed, with 413', async () => {
    const big = { subdomain: 'big', name: 'x'.repeat(10_000) };
    const declared = await call('POST', '/identity-zones', { auth: BOOT, body: big });
    expect(declared.status).toBe(413);
    expect(declared.headers.connection).toBe('close');
    const streamed = await call('POST', '/identity-zones', { auth: BOOT, body: big, chunked: true });
    expect(streamed.status).toBe(413);
    expect(await directory.getZoneBySubdomain('big')).toBeUndefined();
  });

  it('refuses malformed JSON without echoing it, and non-JSON content types', async () => {
    const password = `pw-${randomUUID()}`;
    const r = await call('POST', '/Users', { host: at(acme), auth: BOOT, raw: `{"userName":"eve","password":"${password}",` });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: 'invalid_request', error_description: 'The body is not valid JSON' });
    expect(r.text).not.toContain(password);
    const form = await call('POST', '/Users', { host: at(acme), auth: BOOT, raw: 'userName=eve', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    for (const raw of ['[]', '"zone"', 'null', '42']) {
      expect((await call('POST', '/identity-zones', { auth: BOOT, raw })).status, raw).toBe(400);
    }
  });

  it('maps invalid input to 400 with a clear message', async () => {
    const r = await call('POST', '/identity-zones', { auth: BOOT, body: { subdomain: 'Not_A_Label' } });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_input');
    expect(r.json.error_description).toMatch(/DNS label/);
  });
});

describe('admin API with the bootstrap credential', () => {
  it('creates, lists, reads and deletes zones; 409 for a taken subdomain, 404 for unknown ids', async () => {
    const created = await call('POST', '/identity-zones', { auth: BOOT, body: { subdomain: 'Umbrella', name: 'Umbrella Corp', branding: { color: '#123456' } } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ subdomain: 'umbrella', name: 'Umbrella Corp', branding: { color: '#123456' } });
    expect(created.headers['cache-control']).toBe('no-store');
    const id = created.json.id as string;
    expect((await call('GET', '/identity-zones', { auth: BOOT })).json.map((z: Zone) => z.subdomain)).toContain('umbrella');
    expect((await call('GET', `/identity-zones/${id}`, { auth: BOOT })).json.id).toBe(id);
    const taken = await call('POST', '/identity-zones', { auth: BOOT, body: { subdomain: 'umbrella' } });
    expect(taken.status).toBe(409);
    expect(taken.json.error).toBe('zone_subdomain_taken');
    expect((await call('GET', `/identity-zones/${randomUUID()}`, { auth: BOOT })).status).toBe(404);
    expect((await call('DELETE', `/identity-zones/${id}`, { auth: BOOT })).status).toBe(200);
    expect((await call('DELETE', `/identity-zones/${id}`, { auth: BOOT })).status).toBe(404);
    expect((await call('DELETE', `/identity-zones/${adminZone.id}`, { auth: BOOT })).status).toBe(409);
  });

  it('manages users and their role collections in SCIM shape, never echoing the password', async () => {
    const password = `Pw-${randomUUID()}`;
    const created = await call('POST', '/Users', {
      host: at(acme),
      auth: BOOT,
      body: { userName: 'wile', name: { givenName: 'Wile E.', familyName: 'Coyote' }, emails: [{ value: 'wile@acme.example', primary: true }], password },
    });
    expect(created.status).toBe(201);
    expect(created.text).not.toContain(password);
    expect(created.text).not.toMatch(/argon2|scrypt|passwordHash/);
    expect(created.json).toMatchObject({ userName: 'wile', name: { givenName: 'Wile E.', familyName: 'Coyote' }, emails: [{ value: 'wile@acme.example' }], origin: 'sap.default', zoneId: acme.id });
    const id = created.json.id as string;
    expect(await directory.verifyPassword(acme.id, 'wile', password)).toBeDefined();

    const dup = await call('POST', '/Users', { host: at(acme), auth: BOOT, body: { userName: 'WILE', email: 'w@acme.example', password } });
    expect(dup.status).toBe(409);
    expect(dup.text).not.toContain(password);
    const bad = await call('POST', '/Users', { host: at(acme), auth: BOOT, body: { userName: 'roadrunner', email: 'nope', password } });
    expect(bad.status).toBe(400);
    expect(bad.text).not.toContain(password);

    const list = await call('GET', '/Users', { host: at(acme), auth: BOOT });
    expect(list.json.totalResults).toBe(list.json.resources.length);
    expect(list.json.resources.map((u: { userName: string }) => u.userName)).toContain('wile');
    expect((await call('GET', `/Users/${id}`, { host: at(acme), auth: BOOT })).json.userName).toBe('wile');
    // A user id of zone A does not exist on zone B's host.
    expect((await call('GET', `/Users/${id}`, { host: at(globex), auth: BOOT })).status).toBe(404);

    const assigned = await call('PUT', `/Users/${id}/role-collections/${encodeURIComponent('myapp_Administrator')}`, { host: at(acme), auth: BOOT });
    expect(assigned.status).toBe(200);
    expect(assigned.json.roleCollections).toEqual(['myapp_Administrator']);
    const unknown = await call('PUT', `/Users/${id}/role-collections/Ghosts`, { host: at(acme), auth: BOOT });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toBe('role_collection_unknown');
    expect((await call('PUT', `/Users/${randomUUID()}/role-collections/myapp_Viewer`, { host: at(acme), auth: BOOT })).status).toBe(404);
    expect((await call('DELETE', `/Users/${id}/role-collections/myapp_Administrator`, { host: at(acme), auth: BOOT })).json.roleCollections).toEqual([]);

    expect((await call('DELETE', `/Users/${id}`, { host: at(acme), auth: BOOT })).status).toBe(200);
    expect((await call('GET', `/Users/${id}`, { host: at(acme), auth: BOOT })).status).toBe(404);
    expect((await call('DELETE', `/Users/${id}`, { host: at(acme), auth: BOOT })).status).toBe(404);
    expect(logger.lines.join('\n')).not.toContain(password);
    expect(logger.lines.some((l) => l.includes('zones admin change') && l.includes('bootstrap admin'))).toBe(true);
  });

  it('creates role collections from the application\'s role templates', async () => {
    const created = await call('POST', '/role-collections', { host: at(acme), auth: BOOT, body: { name: 'Read Only', roleTemplates: ['Viewer'] } });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ name: 'Read Only', roleTemplates: [expect.stringMatching(/^myapp!t\d+\.Viewer$/)] });
    expect((await call('POST', '/role-collections', { host: at(acme), auth: BOOT, body: { name: 'Read Only', roleTemplates: ['Viewer'] } })).status).toBe(409);
    expect((await call('POST', '/role-collections', { host: at(acme), auth: BOOT, body: { name: 'Bogus', roleTemplates: ['Nope'] } })).status).toBe(400);
    const list = await call('GET', '/role-collections', { host: at(acme), auth: BOOT });
    expect(list.json.map((c: { name: string }) => c.name)).toEqual(['Zone Administrator', 'myapp_Administrator', 'myapp_Viewer', 'Read Only']);
    // The built-in name cannot be taken by a zone's own collection.
    expect((await call('POST', '/role-collections', { host: at(acme), auth: BOOT, body: { name: 'Zone Administrator', roleTemplates: ['Viewer'] } })).status).toBe(409);
    const userWithIt = await call('POST', '/Users', { host: at(acme), auth: BOOT, body: { userName: 'reader', email: 'r@acme.example', roleCollections: ['Read Only'] } });
    expect(userWithIt.status).toBe(201);
    expect((await call('PUT', `/Users/${userWithIt.json.id}/role-collections/${encodeURIComponent('Read Only')}`, { host: at(acme), auth: BOOT })).status).toBe(200);
  });
});
