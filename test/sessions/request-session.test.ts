import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/sessions/crypto.js';
import { createSessionOpener, type SessionOpener } from '../../src/sessions/request-session.js';
import { StorageSessionStore } from '../../src/sessions/store.js';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/types.js';
import { request } from '../support/http.js';
import { fakeJwt, promiseSet, sessionData, sid } from './helpers.js';

/** A real server on port 0 whose only work is to open the session: `/login` stores a user in it. */
let storage: Storage;
let opener: SessionOpener;
let server: http.Server;
let port: number;
beforeAll(async () => {
  storage = openSqliteStorage({ file: ':memory:' });
  const keyring = createKeyring([{ id: 'k1', secret: 'a-session-sealing-secret-of-32-chars!!' }]);
  opener = createSessionOpener({
    store: new StorageSessionStore({ storage, keyring }),
    secrets: ['a-cookie-signing-secret-of-32-chars!!!'],
    cookieNames: { plain: 'sid', secure: '__Host-sid', secureDomain: '__Secure-sid' },
  });
  server = http.createServer((req, res) => {
    void (async () => {
      const opened = await opener.open(req, res, false);
      if (req.url === '/login') {
        await opened.regenerate();
        opened.data.tenant = 'acme';
        opened.data.user = { name: 'alice', zoneId: 'z1', scopes: ['app.Read'], attributes: {} };
      }
      // Opened twice, the same session: express-session runs once per request.
      const again = await opener.open(req, res, false);
      const same = again.id === opened.id && again.data === opened.data && opener.openedFor(req)?.data === opened.data;
      res.end(JSON.stringify({ id: opened.id, same, user: opened.data.user?.name ?? null }));
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await storage.close();
});

const cookieOf = (setCookie: string[] | undefined) => setCookie?.[0]?.split(';')[0]?.replace(/^sid=/, '');

describe('createSessionOpener', () => {
  it('opens a typed session once per request; only a load makes it a recent read', async () => {
    const login = await request(port, { path: '/login' });
    const cookie = cookieOf(login.headers['set-cookie'] as string[] | undefined)!;
    expect(cookie).toMatch(/^s%3A/);
    const { id } = login.json() as { id: string };
    // Not yet verified here: the shortcut says "load it".
    expect(opener.recent(cookie)).toBeUndefined();
    const read = await request(port, { path: '/read', headers: { cookie: `sid=${cookie}` } });
    expect(read.json()).toEqual({ id, same: true, user: 'alice' });
    // express-session's read is that request's: nothing of it is kept.
    expect(opener.recent(cookie)).toBeUndefined();
    expect((await opener.load(cookie))?.id).toBe(id);
    const recent = opener.recent(cookie)!;
    expect(recent.id).toBe(id);
    expect(recent.data.user?.name).toBe('alice');
    expect(Object.isFrozen(recent.data)).toBe(true);
    expect((await opener.read(id))?.tenant).toBe('acme');
  });

  it('never takes a cookie with a broken signature for the session it names, not even one read moments ago', async () => {
    const login = await request(port, { path: '/login' });
    const cookie = cookieOf(login.headers['set-cookie'] as string[] | undefined)!;
    const { id } = login.json() as { id: string };
    const forged = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const read = await request(port, { path: '/read', headers: { cookie: `sid=${forged}` } });
    const answer = read.json() as { id: string; user: string | null };
    expect(answer.user).toBeNull();
    expect(answer.id).not.toBe(id);
    // The session is in memory now: whoever knows its id still needs its signature.
    expect((await opener.load(cookie))?.id).toBe(id);
    const signatureOf = (value: string) => value.slice(value.lastIndexOf('.') + 1);
    const bare = `s%3A${id}`;
    for (const attempt of [forged, `${bare}.`, bare, `s:${id}.${signatureOf(forged)}`, `${cookie}A`, `${bare}.${signatureOf(cookie).slice(0, -1)}`]) {
      expect(opener.recent(attempt)).toBeUndefined();
      expect(await opener.load(attempt)).toBeUndefined();
    }
    // ... and the forgeries cost its owner nothing.
    expect(opener.recent(cookie)?.id).toBe(id);
  });
});

describe('load: a session read without express-session', () => {
  it('reads the session a cookie names straight from the store, the cookie as browsers send it (percent-encoded)', async () => {
    const login = await request(port, { path: '/login' });
    const cookie = cookieOf(login.headers['set-cookie'] as string[] | undefined)!;
    const { id } = login.json() as { id: string };
    // Never seen by express-session in a request: a fresh process after a restart, or another instance's session.
    const loaded = (await opener.load(cookie))!;
    expect(loaded.id).toBe(id);
    expect(loaded.data.user?.name).toBe('alice');
    expect(Object.isFrozen(loaded.data)).toBe(true);
    // ... and from now on the read is at hand without the store.
    expect(opener.recent(cookie)?.id).toBe(id);
    // The same value decoded by hand names the same session; the copy then answers the cookie as
    // last loaded (a browser sends back the value it was given, byte for byte).
    const decoded = decodeURIComponent(cookie);
    expect(decoded).not.toBe(cookie);
    expect((await opener.load(decoded))?.id).toBe(id);
    expect(opener.recent(decoded)?.id).toBe(id);
  });

  it('refuses what one of its secrets did not sign, and what is not a signed cookie at all', async () => {
    const login = await request(port, { path: '/login' });
    const cookie = cookieOf(login.headers['set-cookie'] as string[] | undefined)!;
    const { id } = login.json() as { id: string };
    const forged = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(await opener.load(forged)).toBeUndefined();
    // The bare id (express-session would make a new session for it) and a malformed encoding.
    expect(await opener.load(id)).toBeUndefined();
    expect(await opener.load(`s:${id}`)).toBeUndefined();
    expect(await opener.load('s%3A%E0%A4%A')).toBeUndefined();
    // Signed with another secret: the same id, but not this gateway's signature.
    const other = `s:${id}.${createHmac('sha256', 'another-cookie-signing-secret-32-chars').update(id).digest('base64').replace(/=+$/, '')}`;
    expect(await opener.load(encodeURIComponent(other))).toBeUndefined();
  });

  it('keeps nothing of the Cookie header but the session it names (issue 18: memory per session)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const used = () => {
      gc();
      gc();
      return v8.getHeapStatistics().used_heap_size;
    };
    const secret = 'a-cookie-signing-secret-of-32-chars!!!';
    const keyring = createKeyring([{ id: 'k1', secret: 'a-session-sealing-secret-of-32-chars!!' }]);
    const count = 300;
    // Over half full: where a cache reorders its entries on a hit.
    const store = new StorageSessionStore({ storage, keyring, cacheSize: 400 });
    const fresh = createSessionOpener({ store, secrets: [secret], cookieNames: { plain: 'sid', secure: '__Host-sid', secureDomain: '__Secure-sid' } });
    const ids = Array.from({ length: count }, () => sid());
    await Promise.all(
      ids.map((id) => promiseSet(store, id, sessionData({ tenant: 'acme', user: { name: 'alice', zoneId: 'z1', scopes: ['app.Read'], attributes: {} }, tokens: { accessToken: fakeJwt('a') } }, 900_000))),
    );
    const before = used();
    // A browser sends every cookie of the site: here 8 KB of others before the session's.
    const cookieOf = (signed: string) =>
      fresh.cookieOf({ headers: { cookie: `tracking=${randomBytes(6_000).toString('base64url')}; sid=${encodeURIComponent(signed)}` } } as http.IncomingMessage, false)!;
    for (const id of ids) {
      const signed = `s:${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}`;
      expect((await fresh.load(cookieOf(signed)))?.id).toBe(id);
      // Later requests, each with a Cookie header of its own.
      for (let i = 0; i < 2; i++) expect(fresh.recent(cookieOf(signed))?.id).toBe(id);
    }
    expect(store.recentReads).toBe(count);
    // Each kept session (about 0.6 KiB with this small token) and its proof, not the 8 KB header.
    expect((used() - before) / count).toBeLessThan(2048);
  });
});
