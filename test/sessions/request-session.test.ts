import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/sessions/crypto.js';
import { createSessionOpener, type SessionOpener } from '../../src/sessions/request-session.js';
import { StorageSessionStore } from '../../src/sessions/store.js';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/types.js';
import { request } from '../support/http.js';

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
  it('opens a typed session once per request, and serves a verified cookie from the recent read', async () => {
    const login = await request(port, { path: '/login' });
    const cookie = cookieOf(login.headers['set-cookie'] as string[] | undefined)!;
    expect(cookie).toMatch(/^s%3A/);
    const { id } = login.json() as { id: string };
    // Not yet verified here: the shortcut says "ask express-session".
    expect(opener.recent(cookie)).toBeUndefined();
    const read = await request(port, { path: '/read', headers: { cookie: `sid=${cookie}` } });
    expect(read.json()).toEqual({ id, same: true, user: 'alice' });
    const recent = opener.recent(cookie)!;
    expect(recent.id).toBe(id);
    expect(recent.data.user?.name).toBe('alice');
    expect(Object.isFrozen(recent.data)).toBe(true);
    expect((await opener.read(id))?.tenant).toBe('acme');
  });

  it('never takes a cookie with a broken signature for the session it names', async () => {
    const login = await request(port, { path: '/login' });
    const cookie = cookieOf(login.headers['set-cookie'] as string[] | undefined)!;
    const forged = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const read = await request(port, { path: '/read', headers: { cookie: `sid=${forged}` } });
    const answer = read.json() as { id: string; user: string | null };
    expect(answer.user).toBeNull();
    expect(answer.id).not.toBe((login.json() as { id: string }).id);
    expect(opener.recent(forged)).toBeUndefined();
  });
});
