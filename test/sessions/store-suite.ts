import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionData } from 'express-session';
import { createMemoryLogger } from '../../src/log.js';
import { createKeyring } from '../../src/sessions/crypto.js';
import { StorageSessionStore } from '../../src/sessions/store.js';
import type { SessionStoreOptions } from '../../src/sessions/store.js';
import type { Storage } from '../../src/storage/types.js';
import { request } from '../support/http.js';
import {
  fakeJwt,
  promiseDestroy,
  promiseGet,
  promiseSet,
  promiseTouch,
  renewCookie,
  sessionCookie,
  sessionData,
  sid,
  startSessionApp,
} from './helpers.js';

export interface SessionSuiteBackend {
  /** A NEW handle (own connection) to the SAME store on every call: stores on two handles act as two gateway instances. */
  open(): Promise<Storage>;
  /** Every value this run stored, as raw text (the database file's bytes, or every Redis key and member): what an attacker's dump sees. */
  dump(): Promise<string>;
}

const KEY_1 = { id: 'k1', secret: 'first-session-key-secret-0123456789' };
const KEY_2 = { id: 'k2', secret: 'second-session-key-secret-9876543210' };

/**
 * The session store against one storage backend (oauth2-proxy runs one session-store suite against
 * each store). Timings use real clocks: the backends' TTLs are real.
 */
export function describeSessionStore(name: string, backend: SessionSuiteBackend): void {
  describe(`StorageSessionStore on ${name}`, () => {
    let storage: Storage;
    let other: Storage;
    const run = randomUUID().slice(0, 8);
    let n = 0;
    const tenant = (label: string) => `${label}-${run}-${++n}`;
    const ring1 = createKeyring([KEY_1]);
    /** What the gateway passes as the proof of a loaded session (the session cookie's signature, ../../src/sessions/request-session.ts). */
    const PROOF = 'the-cookie-signature-checked-at-load';
    const store = (options: Partial<SessionStoreOptions> = {}, on: Storage = storage) =>
      new StorageSessionStore({ storage: on, keyring: ring1, ...options });

    beforeAll(async () => {
      storage = await backend.open();
      other = await backend.open();
      // A Redis handle subscribes to change notices once something listens (a session store does),
      // and no process-local read is served until it is subscribed: safe, and what the peek tests
      // below would race on a loaded machine. So listen now and wait for it.
      for (const h of [storage, other]) h.onForeignChange(() => undefined);
      const deadline = Date.now() + 15_000;
      while (!(storage.changesTracked() && other.changesTracked())) {
        if (Date.now() > deadline) throw new Error('the storage handles never started tracking changes');
        await sleep(10);
      }
    });
    afterAll(async () => {
      await Promise.all([storage.close(), other.close()]);
    });

    describe('round trip', () => {
      it('stores and returns the session, to another instance on another connection as well', async () => {
        const s = store();
        const id = sid();
        const tokens = { accessToken: fakeJwt('at'), refreshToken: 'rt-' + sid(), idToken: fakeJwt('id'), expiresAt: Date.now() + 600_000 };
        const before = Date.now();
        await promiseSet(s, id, sessionData({ tenant: 'acme', tokens, csrfToken: 'csrf-1', returnTo: '/a?b=ü' } as Partial<SessionData>));
        for (const reader of [s, store({}, other)]) {
          const got = await promiseGet(reader, id);
          expect(got).toMatchObject({ tenant: 'acme', tokens, csrfToken: 'csrf-1', returnTo: '/a?b=ü' });
          expect(got!.createdAt).toBeGreaterThanOrEqual(before);
          expect(got!.storedUntil).toBeGreaterThan(Date.now() + 50_000);
          expect(typeof got!.cookie.expires).toBe('string');
          expect(got!.cookie.originalMaxAge).toBeGreaterThan(59_000);
        }
      });

      it('answers null for unknown ids and after destroy; destroying an unknown id is no error', async () => {
        const s = store();
        const id = sid();
        expect(await promiseGet(s, id)).toBeNull();
        await promiseSet(s, id, sessionData({ tenant: 'acme' }));
        expect(await promiseGet(s, id)).not.toBeNull();
        await promiseDestroy(store({}, other), id);
        expect(await promiseGet(s, id)).toBeNull();
        await promiseDestroy(s, id);
        await promiseDestroy(s, sid());
      });

      it('keeps the creation time across writes and stamps it on the live session object', async () => {
        const s = store();
        const id = sid();
        const fresh = sessionData({ tenant: 'acme' });
        await promiseSet(s, id, fresh);
        expect(typeof fresh.createdAt).toBe('number');
        const loaded = (await promiseGet(s, id))!;
        await sleep(20);
        await promiseSet(s, id, { ...renewCookie(loaded), tenant: 'acme' });
        expect((await promiseGet(s, id))!.createdAt).toBe(fresh.createdAt);
      });

      it('a request that loaded the session before logout or unsubscription cannot write it back', async () => {
        const s = store();
        const t = tenant('revived');
        const [loggedOut, unsubscribed] = [sid(), sid()];
        await promiseSet(s, loggedOut, sessionData({ tenant: t, tokens: { accessToken: 'a' } }));
        await promiseSet(s, unsubscribed, sessionData({ tenant: t, tokens: { accessToken: 'b' } }));
        const inFlight = [(await promiseGet(s, loggedOut))!, (await promiseGet(s, unsubscribed))!];
        await promiseDestroy(store({}, other), loggedOut);
        expect(await store({}, other).destroyTenantSessions(t)).toBe(1);
        // The in-flight requests end having changed their sessions (e.g. a new CSRF token).
        await promiseSet(s, loggedOut, { ...inFlight[0]!, csrfToken: 'x' } as SessionData);
        await promiseSet(s, unsubscribed, { ...inFlight[1]!, csrfToken: 'y' } as SessionData);
        expect(await promiseGet(s, loggedOut)).toBeNull();
        expect(await promiseGet(s, unsubscribed)).toBeNull();
        expect(await s.sessionsOfTenant(t)).toEqual([]);
      });

      it('treats a record that is not a session as absent', async () => {
        const s = store();
        for (const raw of ['not json', '{"v":2}', 'null', '{"v":1,"createdAt":1,"expiresAt":"x","data":{},"sealed":{}}']) {
          const id = sid();
          await storage.set(`sess:${id}`, raw, { ttlMs: 60_000 });
          expect(await promiseGet(s, id), raw).toBeNull();
        }
      });

      it('refuses a secret field the store manages itself, and bad timings', () => {
        expect(() => store({ secretFields: ['cookie'] })).toThrow(RangeError);
        expect(() => store({ secretFields: ['createdAt'] })).toThrow(RangeError);
        expect(() => store({ absoluteLifetimeMs: 0 })).toThrow(RangeError);
        expect(() => store({ idleTimeoutMs: Number.NaN })).toThrow(RangeError);
        expect(() => store({ touchAfterMs: -1 })).toThrow(RangeError);
      });
    });

    describe('secrets at rest', () => {
      it('a dump of the store holds no token, while the rest of the session is there', async () => {
        const s = store({ secretFields: ['tokens', 'codeVerifier'] });
        const id = sid();
        const marker = `visible-marker-${randomUUID()}`;
        const tokens = { accessToken: fakeJwt('access'), refreshToken: `refresh-${randomUUID()}`, idToken: fakeJwt('id') };
        const verifier = `pkce-${randomUUID()}`;
        await promiseSet(s, id, sessionData({ tenant: 'acme', tokens, marker, codeVerifier: verifier } as Partial<SessionData>));

        const raw = (await storage.get(`sess:${id}`))!;
        expect(raw).toContain(marker);
        const dump = await backend.dump();
        // The dump must be able to show what the store holds, or the checks below prove nothing.
        expect(dump).toContain(marker);
        expect(dump).toContain(id);
        for (const secret of [tokens.accessToken, tokens.refreshToken, tokens.idToken, verifier]) {
          for (const part of secret.split('.')) {
            expect(raw).not.toContain(part);
            expect(dump).not.toContain(part);
          }
        }
        expect(JSON.parse(raw).sealed).toMatch(/^v1\.k1\./);
        expect(await promiseGet(s, id)).toMatchObject({ tokens, codeVerifier: verifier });
      });

      it('a sealed value that was altered, or moved from another session, makes the session absent', async () => {
        const logger = createMemoryLogger();
        const s = store({ logger });
        const [a, b, c] = [sid(), sid(), sid()];
        await promiseSet(s, a, sessionData({ tenant: 'acme', tokens: { accessToken: fakeJwt('victim') } }));
        await promiseSet(s, b, sessionData({ tenant: 'acme', tokens: { accessToken: fakeJwt('attacker') } }));
        const recordA = JSON.parse((await storage.get(`sess:${a}`))!);
        const recordB = JSON.parse((await storage.get(`sess:${b}`))!);

        // The attacker's session record with the victim's sealed tokens pasted in.
        await storage.set(`sess:${b}`, JSON.stringify({ ...recordB, sealed: recordA.sealed }), { ttlMs: 60_000 });
        expect(await promiseGet(s, b)).toBeNull();
        // The victim's whole record under another id.
        await storage.set(`sess:${c}`, JSON.stringify(recordA), { ttlMs: 60_000 });
        expect(await promiseGet(s, c)).toBeNull();
        // One character of the ciphertext changed in place.
        const sealed: string = recordA.sealed;
        const flipped = sealed.slice(0, -3) + (sealed.at(-3) === 'A' ? 'B' : 'A') + sealed.slice(-2);
        await storage.set(`sess:${a}`, JSON.stringify({ ...recordA, sealed: flipped }), { ttlMs: 60_000 });
        expect(await promiseGet(s, a)).toBeNull();
        // Restored, it opens again: the refusals above were about the changes alone.
        await storage.set(`sess:${a}`, JSON.stringify(recordA), { ttlMs: 60_000 });
        expect((await promiseGet(s, a))?.tokens?.accessToken).toContain('.');
        expect(logger.lines.some((l) => l.includes('could not be opened'))).toBe(true);
        expect(logger.lines.join('\n')).not.toContain(a);
      });

      it('reads a session an earlier release stored (each secret field sealed on its own, version 1)', async () => {
        const s = store({ secretFields: ['tokens', 'user'] });
        const [id, moved] = [sid(), sid()];
        const ring = createKeyring([KEY_1]);
        const tokens = { accessToken: fakeJwt('earlier-release') };
        const user = { name: 'ada', zoneId: 'z', scopes: ['app.Admin'], attributes: {} };
        // The record as releases before issue 18 wrote it: the field name in the additional data.
        const v1 = (forId: string) => ({
          v: 1,
          createdAt: Date.now(),
          expiresAt: Date.now() + 60_000,
          tenant: 'acme',
          data: { tenant: 'acme', cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' } },
          sealed: {
            tokens: ring.seal(JSON.stringify(tokens), JSON.stringify(['zonegate-session', forId, 'tokens'])),
            user: ring.seal(JSON.stringify(user), JSON.stringify(['zonegate-session', forId, 'user'])),
          },
        });
        await storage.set(`sess:${id}`, JSON.stringify(v1(id)), { ttlMs: 60_000 });
        expect(await promiseGet(s, id)).toMatchObject({ tenant: 'acme', tokens, user });
        expect(await s.loadReadOnly(id, PROOF)).toMatchObject({ tenant: 'acme', tokens, user });
        // Bound to its id as before: the same record under another id does not open.
        await storage.set(`sess:${moved}`, JSON.stringify(v1(id)), { ttlMs: 60_000 });
        expect(await promiseGet(s, moved)).toBeNull();
        // Rewritten in the current form at its next write.
        await promiseSet(s, id, { ...(await promiseGet(s, id))!, csrfToken: 'c' } as SessionData);
        const rewritten = JSON.parse((await storage.get(`sess:${id}`))!);
        expect(rewritten.v).toBe(2);
        expect(await promiseGet(s, id)).toMatchObject({ tokens, user, csrfToken: 'c' });
      });

      it('key rotation: old sessions open under a ring with a new key in front; without the old key they are absent', async () => {
        const id = sid();
        const tokens = { accessToken: fakeJwt('before-rotation') };
        await promiseSet(store(), id, sessionData({ tenant: 'acme', tokens }));

        const rotated = new StorageSessionStore({ storage: other, keyring: createKeyring([KEY_2, KEY_1]) });
        const loaded = await promiseGet(rotated, id);
        expect(loaded?.tokens).toEqual(tokens);
        const onlyNew = new StorageSessionStore({ storage, keyring: createKeyring([KEY_2]) });
        expect(await promiseGet(onlyNew, id)).toBeNull();

        // The next write seals with the new key; then the new-only ring reads it and the old-only one does not.
        await promiseSet(rotated, id, { ...loaded!, tokens: { accessToken: fakeJwt('after-rotation') } });
        expect(JSON.parse((await storage.get(`sess:${id}`))!).sealed).toMatch(/^v1\.k2\./);
        expect((await promiseGet(onlyNew, id))?.tokens?.accessToken).toBeDefined();
        expect(await promiseGet(store(), id)).toBeNull();
      });
    });

    describe('lifetime', () => {
      it('ends a session when its cookie expires (idle timeout), in storage too', async () => {
        const s = store();
        const id = sid();
        await promiseSet(s, id, sessionData({ tenant: 'acme' }, 300));
        const ttl = await storage.ttl(`sess:${id}`);
        expect(ttl).toBeGreaterThan(200);
        expect(ttl).toBeLessThanOrEqual(300);
        expect(await promiseGet(s, id)).not.toBeNull();
        await sleep(450);
        expect(await promiseGet(s, id)).toBeNull();
        expect(await storage.get(`sess:${id}`)).toBeUndefined();
      });

      it('uses the idle timeout for a cookie without expiry, and caps every TTL at the absolute lifetime', async () => {
        const id = sid();
        await promiseSet(store({ idleTimeoutMs: 5_000 }), id, sessionData({}, null));
        expect(await storage.ttl(`sess:${id}`)).toBeLessThanOrEqual(5_000);
        expect(await storage.ttl(`sess:${id}`)).toBeGreaterThan(4_000);
        const capped = sid();
        await promiseSet(store({ absoluteLifetimeMs: 3_000 }), capped, sessionData({}, 3_600_000));
        expect(await storage.ttl(`sess:${capped}`)).toBeLessThanOrEqual(3_000);
        expect(await storage.ttl(`sess:${capped}`)).toBeGreaterThan(2_000);
      });

      it('touch extends the idle deadline but never beyond the absolute lifetime', async () => {
        const s = store({ absoluteLifetimeMs: 2_000, touchAfterMs: 0 });
        const id = sid();
        const started = Date.now();
        const at = (ms: number) => sleep(Math.max(0, started + ms - Date.now()));
        await promiseSet(s, id, sessionData({ tenant: 'acme', tokens: { accessToken: 't' } }, 800));
        for (const t of [500, 1000, 1500]) {
          await at(t);
          const loaded = await promiseGet(s, id);
          // Without the touches the session would have ended at 800 ms.
          expect(loaded, `at ${t} ms`).not.toBeNull();
          await promiseTouch(s, id, renewCookie(loaded!));
        }
        // After the touch at 1500 ms the idle deadline is 2300 ms; the absolute one (2000 ms from the
        // session's creation, which the store stamped a little after `started`) wins.
        const { createdAt } = JSON.parse((await storage.get(`sess:${id}`))!) as { createdAt: number };
        expect(createdAt).toBeGreaterThanOrEqual(started);
        const before = Date.now();
        const ttl = (await storage.ttl(`sess:${id}`))!;
        expect(ttl).toBeLessThanOrEqual(createdAt + 2_000 - before + 5);
        expect(ttl).toBeLessThan(800);
        await at(2_150);
        expect(await promiseGet(s, id)).toBeNull();
        // A touch after the end does not bring it back.
        await promiseTouch(s, id, sessionData({ tenant: 'acme', createdAt: started }, 800));
        expect(await storage.get(`sess:${id}`)).toBeUndefined();
      });

      it('a write does not restart the absolute lifetime either', async () => {
        const s = store({ absoluteLifetimeMs: 600 });
        const id = sid();
        await promiseSet(s, id, sessionData({ tenant: 'acme' }, 60_000));
        await sleep(300);
        const loaded = (await promiseGet(s, id))!;
        await promiseSet(s, id, { ...renewCookie(loaded), tenant: 'acme' });
        expect(await storage.ttl(`sess:${id}`)).toBeLessThanOrEqual(310);
        await sleep(400);
        expect(await promiseGet(s, id)).toBeNull();
      });

      it('touch skips the write while the stored copy is recent enough, and writes once it is not', async () => {
        const s = store({ touchAfterMs: 10_000 });
        const id = sid();
        await promiseSet(s, id, sessionData({ tenant: 'acme' }, 30_000));
        const loaded = (await promiseGet(s, id))!;
        const marker = await storage.get(`sess:${id}`);
        await storage.set(`sess:${id}`, marker!, { ttlMs: 20_000 });
        // The stored copy claims to live until 30 s; a renewed 30 s cookie adds less than 10 s: no write.
        await promiseTouch(s, id, renewCookie(loaded));
        expect(await storage.ttl(`sess:${id}`)).toBeLessThanOrEqual(20_000);
        // A 60 s cookie adds 30 s: written, with the new TTL.
        const longer = renewCookie({ ...loaded, cookie: { ...loaded.cookie, originalMaxAge: 60_000 } } as SessionData);
        await promiseTouch(s, id, longer);
        expect(await storage.ttl(`sess:${id}`)).toBeGreaterThan(50_000);
        expect(longer.storedUntil).toBeGreaterThan(Date.now() + 50_000);
      });

      it('touch with a stale copy keeps what a concurrent request wrote (e.g. refreshed tokens)', async () => {
        const s = store({ touchAfterMs: 0 });
        const id = sid();
        await promiseSet(s, id, sessionData({ tenant: 'acme', tokens: { accessToken: 'old', refreshToken: 'old-rt' } }, 10_000));
        const staleCopy = (await promiseGet(s, id))!;
        // Another instance refreshes the tokens meanwhile.
        const instance2 = store({}, other);
        const fresh = (await promiseGet(instance2, id))!;
        await promiseSet(instance2, id, { ...fresh, tokens: { accessToken: 'new', refreshToken: 'new-rt' } });
        await sleep(20);
        await promiseTouch(s, id, { ...staleCopy, cookie: sessionData({}, 20_000).cookie });
        expect((await promiseGet(s, id))?.tokens).toEqual({ accessToken: 'new', refreshToken: 'new-rt' });
        expect(await storage.ttl(`sess:${id}`)).toBeGreaterThan(15_000);
      });

      it('a refresh that lands between the touch’s own read and its write is not undone (compare and set)', async () => {
        const id = sid();
        const instance2 = store({}, other);
        // The touch reads the stored copy; before its write goes out, another instance stores the
        // rotated tokens. A plain rewrite of what the touch read would bring back the spent refresh
        // token, and the next refresh would make the zone revoke the whole family.
        let refreshMeanwhile = false;
        const racing: Storage = {
          ...storage,
          get: async (key) => {
            const read = await storage.get(key);
            if (refreshMeanwhile && key === `sess:${id}`) {
              refreshMeanwhile = false;
              const fresh = (await promiseGet(instance2, id))!;
              await promiseSet(instance2, id, { ...fresh, tokens: { accessToken: 'new', refreshToken: 'new-rt' } });
            }
            return read;
          },
        };
        const s = store({ touchAfterMs: 0 }, racing);
        await promiseSet(s, id, sessionData({ tenant: 'acme', tokens: { accessToken: 'old', refreshToken: 'old-rt' } }, 10_000));
        const loaded = (await promiseGet(s, id))!;
        refreshMeanwhile = true;
        await promiseTouch(s, id, { ...loaded, cookie: sessionData({}, 20_000).cookie });
        expect(refreshMeanwhile).toBe(false);
        expect((await promiseGet(store({}, other), id))?.tokens).toEqual({ accessToken: 'new', refreshToken: 'new-rt' });
      });
    });

    describe('recent reads (peek)', () => {
      /** Stored as the gateway stores them: a cookie without expiry, so the idle timeout applies. */
      const stored = async (s: StorageSessionStore, fields: Partial<SessionData> = {}) => {
        const id = sid();
        await promiseSet(s, id, sessionData({ tenant: 'acme', tokens: { accessToken: fakeJwt('at'), expiresAt: Date.now() + 600_000 }, ...fields }, null));
        return id;
      };
      const eventually = async (check: () => boolean, what: string) => {
        const deadline = Date.now() + 2000;
        while (!check()) {
          if (Date.now() > deadline) throw new Error(`${what}: not within 2 s`);
          await sleep(5);
        }
      };

      it('hands out a session this process has just loaded, as a frozen copy, and nothing it has not loaded', async () => {
        const s = store({ recentReadMs: 60_000 });
        const id = await stored(s, { csrfToken: 'c1' });
        expect(s.peek(id, PROOF)).toBeUndefined();
        // express-session's read is the request's own object to change: nothing is kept of it.
        const loaded = (await promiseGet(s, id))!;
        expect(s.peek(id, PROOF)).toBeUndefined();
        await s.loadReadOnly(id, PROOF);
        const peeked = s.peek(id, PROOF)!;
        expect(peeked).toMatchObject({ tenant: 'acme', csrfToken: 'c1', tokens: loaded.tokens });
        expect(Object.isFrozen(peeked) && Object.isFrozen(peeked.tokens)).toBe(true);
        // The request's own object can change without changing what others are handed.
        loaded.csrfToken = 'changed';
        loaded.tokens!.accessToken = 'changed';
        expect(s.peek(id, PROOF)).toMatchObject({ csrfToken: 'c1', tokens: { accessToken: peeked.tokens!.accessToken } });
        expect(peeked.tokens!.accessToken).not.toBe('changed');
      });

      it('hands it only to the proof it was loaded for, and a wrong one leaves it for its owner', async () => {
        const s = store({ recentReadMs: 60_000 });
        const id = await stored(s);
        await s.loadReadOnly(id, PROOF);
        // Another signature, one character off, longer, shorter, empty: a cookie forged for a known id.
        for (const wrong of [PROOF.replace(/.$/, 'X'), `${PROOF}X`, PROOF.slice(0, -1), '']) expect(s.peek(id, wrong)).toBeUndefined();
        expect(s.peek(id, PROOF)?.tenant).toBe('acme');
      });

      it('forgets it on every change made here: save, touch that writes, destroy', async () => {
        const s = store({ recentReadMs: 60_000 });
        const id = await stored(s);
        let loaded = (await promiseGet(s, id))!;
        await promiseSet(s, id, { ...loaded, csrfToken: 'new' });
        expect(s.peek(id, PROOF)).toBeUndefined();
        loaded = (await promiseGet(s, id))!;
        await s.loadReadOnly(id, PROOF);
        expect(s.peek(id, PROOF)?.csrfToken).toBe('new');
        // A cookie that now lives for an hour extends the stored copy by far more than touchAfterMs: written.
        const ttlBefore = (await storage.ttl(`sess:${id}`))!;
        await promiseTouch(s, id, { ...loaded, cookie: sessionData({}, 3_600_000).cookie });
        expect(await storage.ttl(`sess:${id}`)).toBeGreaterThan(ttlBefore + 60_000);
        expect(s.peek(id, PROOF)).toBeUndefined();
        await s.loadReadOnly(id, PROOF);
        await promiseDestroy(s, id);
        expect(s.peek(id, PROOF)).toBeUndefined();
        expect(await promiseGet(s, id)).toBeNull();
      });

      it('forgets it when another instance changes or destroys it (change notices), long before it would expire', async () => {
        const s = store({ recentReadMs: 60_000 });
        const instance2 = store({}, other);
        const id = await stored(s);
        await s.loadReadOnly(id, PROOF);
        const elsewhere = (await promiseGet(instance2, id))!;
        await promiseSet(instance2, id, { ...elsewhere, tokens: { accessToken: 'refreshed-elsewhere' } });
        await eventually(() => s.peek(id, PROOF) === undefined, 'forgotten after a save elsewhere');
        expect((await s.loadReadOnly(id, PROOF))?.tokens?.accessToken).toBe('refreshed-elsewhere');
        expect(s.peek(id, PROOF)?.tokens?.accessToken).toBe('refreshed-elsewhere');
        await promiseDestroy(instance2, id);
        await eventually(() => s.peek(id, PROOF) === undefined, 'forgotten after a logout elsewhere');
        expect(await promiseGet(s, id)).toBeNull();
        // Unsubscription elsewhere ends it here too.
        const t = tenant('gone');
        const id2 = await stored(s, { tenant: t });
        await s.loadReadOnly(id2, PROOF);
        expect(s.peek(id2, PROOF)).toBeDefined();
        await instance2.destroyTenantSessions(t);
        await eventually(() => s.peek(id2, PROOF) === undefined, 'forgotten after an unsubscription elsewhere');
      });

      it('keeps what another instance did not change: a login, a code or a change of another session elsewhere forgets only that session', async () => {
        const s = store({ recentReadMs: 60_000 });
        const instance2 = store({}, other);
        const kept = await stored(s);
        const changed = await stored(s);
        await s.loadReadOnly(kept, PROOF);
        await s.loadReadOnly(changed, PROOF);
        // Another instance (another worker on the same SQLite file) logs a user in, stores a code, and
        // changes one of the two sessions.
        await stored(instance2);
        await other.set(`code:${randomUUID()}`, 'x', { ttlMs: 60_000 });
        const elsewhere = (await promiseGet(instance2, changed))!;
        await promiseSet(instance2, changed, { ...elsewhere, csrfToken: 'changed-elsewhere' });
        await eventually(() => s.peek(changed, PROOF) === undefined, 'forgotten after a save elsewhere');
        // Read from memory still: the rest of the kept sessions are not re-read after every write elsewhere.
        expect(s.peek(kept, PROOF)).toBeDefined();
      });

      it('forgets it at once when another store on the same connection ends it (provisioning beside the login)', async () => {
        const s = store({ recentReadMs: 60_000 });
        const beside = store();
        const t = tenant('beside');
        const id = await stored(s, { tenant: t });
        await s.loadReadOnly(id, PROOF);
        expect(s.peek(id, PROOF)).toBeDefined();
        expect(await beside.destroyTenantSessions(t)).toBe(1);
        expect(s.peek(id, PROOF)).toBeUndefined();
      });

      it('does not keep a read that a change overtook', async () => {
        const s = store({ recentReadMs: 60_000 });
        const id = await stored(s);
        const reading = s.loadReadOnly(id, PROOF);
        const writing = promiseSet(s, id, sessionData({ tenant: 'acme', csrfToken: 'written-meanwhile' }, null));
        await Promise.all([reading, writing]);
        expect(s.peek(id, PROOF)).toBeUndefined();
      });

      it('keeps a read that only a change of another session overtook', async () => {
        const s = store({ recentReadMs: 60_000 });
        const id = await stored(s);
        const another = await stored(s);
        await s.loadReadOnly(another, PROOF);
        const reading = s.loadReadOnly(id, PROOF);
        const writing = promiseSet(s, another, sessionData({ tenant: 'acme', csrfToken: 'written-meanwhile' }, null));
        await Promise.all([reading, writing]);
        expect(s.peek(id, PROOF)).toMatchObject({ tenant: 'acme' });
        expect(s.peek(another, PROOF)).toBeUndefined();
      });

      it('does not keep a read that a forget-everything overtook (the stored data was replaced)', async () => {
        let tell: ((key: string | undefined) => void) | undefined;
        const telling: Storage = {
          ...storage,
          onForeignChange: (listener) => {
            tell = listener;
            storage.onForeignChange(listener);
          },
        };
        const s = store({ recentReadMs: 60_000 }, telling);
        const id = await stored(s);
        const reading = s.loadReadOnly(id, PROOF);
        tell!(undefined);
        await reading;
        expect(s.peek(id, PROOF)).toBeUndefined();
        await s.loadReadOnly(id, PROOF);
        expect(s.peek(id, PROOF)).toMatchObject({ tenant: 'acme' });
      });

      it('for recentReadMs after the read where the storage cannot vouch for its notices, for as long as it can where it can', async () => {
        // A storage whose notices are tracked, but that cannot say until when it has heard of every
        // change (a Redis Cluster): a copy serves for recentReadMs after its read, no longer.
        const unvouched: Storage = { ...storage, changesHeardUntil: () => -Infinity };
        const brief = store({ recentReadMs: 100 }, unvouched);
        const id = await stored(brief);
        await brief.loadReadOnly(id, PROOF);
        expect(brief.peek(id, PROOF)).toBeDefined();
        await sleep(150);
        expect(brief.peek(id, PROOF)).toBeUndefined();

        // This backend: as long as it vouches (a Cluster never does), the copy outlives recentReadMs.
        const vouched = store({ recentReadMs: 600 });
        const id0 = await stored(vouched);
        await vouched.loadReadOnly(id0, PROOF);
        await sleep(800);
        const vouches = storage.changesTracked() && storage.changesHeardUntil() > -Infinity;
        // Redis vouches by a heartbeat every 200 ms: wait for a recent one (a loaded machine may
        // answer late), then peek in the same tick.
        if (vouches) await eventually(() => storage.changesTracked() && performance.now() - storage.changesHeardUntil() < 300, 'a recent heartbeat');
        expect(vouched.peek(id0, PROOF) !== undefined).toBe(vouches);
      });

      it('only while live and while no touch is due, and never with recentReadMs 0', async () => {

        // A touch would write at once (touchAfterMs 0), which a peeking request would skip: not handed out.
        const touchy = store({ recentReadMs: 60_000, touchAfterMs: 0 });
        const id2 = await stored(touchy);
        await touchy.loadReadOnly(id2, PROOF);
        await sleep(5);
        expect(touchy.peek(id2, PROOF)).toBeUndefined();

        const short = store({ recentReadMs: 60_000, idleTimeoutMs: 200, touchAfterMs: 60_000 });
        const id3 = await stored(short);
        await short.loadReadOnly(id3, PROOF);
        expect(short.peek(id3, PROOF)).toBeDefined();
        await sleep(250);
        expect(short.peek(id3, PROOF)).toBeUndefined();

        const off = store({ recentReadMs: 0 });
        const id4 = await stored(off);
        await off.loadReadOnly(id4, PROOF);
        expect(off.peek(id4, PROOF)).toBeUndefined();
        expect(() => store({ recentReadMs: -1 })).toThrow(/recentReadMs/);
      });
    });

    describe('reads for requests that leave the session as it is (load)', () => {
      const stored = async (s: StorageSessionStore, fields: Partial<SessionData> = {}) => {
        const id = sid();
        await promiseSet(s, id, sessionData({ tenant: 'acme', tokens: { accessToken: fakeJwt('at'), expiresAt: Date.now() + 600_000 }, ...fields }, null));
        return id;
      };

      it('reads the stored session without express-session, frozen, keeps it for peek, and keeps no refresh or ID token', async () => {
        const s = store({ recentReadMs: 60_000 });
        const refreshToken = `rt-${sid()}`;
        const idToken = fakeJwt('id');
        const id = await stored(s, { csrfToken: 'c1', tokens: { accessToken: fakeJwt('at'), refreshToken, idToken, expiresAt: Date.now() + 600_000 } });
        const loaded = (await s.loadReadOnly(id, PROOF))!;
        expect(loaded).toMatchObject({ tenant: 'acme', csrfToken: 'c1', tokens: { accessToken: expect.stringContaining('.') } });
        expect(Object.isFrozen(loaded) && Object.isFrozen(loaded.tokens)).toBe(true);
        expect(s.peek(id, PROOF)).toBe(loaded);
        // What a request that leaves the session as it is uses: the refresh and ID tokens stay in storage.
        expect(JSON.stringify(loaded)).not.toContain(refreshToken);
        expect(JSON.stringify(loaded)).not.toContain(idToken);
        expect((await promiseGet(s, id))?.tokens).toMatchObject({ refreshToken, idToken });
        expect(JSON.stringify(s.peek(id, PROOF))).not.toContain(refreshToken);
        expect(await s.loadReadOnly(sid(), PROOF)).toBeUndefined();
        await promiseDestroy(store({}, other), id);
        expect(await s.loadReadOnly(id, PROOF)).toBeUndefined();
      });

      it('makes the touch that is due itself, extending only a session still stored, and keeps the copy it extended', async () => {
        const s = store({ recentReadMs: 60_000, idleTimeoutMs: 600_000, touchAfterMs: 50 });
        const id = await stored(s);
        const storedUntil = async () => JSON.parse((await storage.get(`sess:${id}`))!).expiresAt as number;
        const before = await storedUntil();
        await sleep(120);
        const loaded = (await s.loadReadOnly(id, PROOF))!;
        expect(loaded.tenant).toBe('acme');
        // Written: the stored copy now ends later than it did, by about the time that passed.
        expect(await storedUntil()).toBeGreaterThanOrEqual(before + 100);
        expect(await storage.ttl(`sess:${id}`)).toBeGreaterThan(590_000);
        expect(loaded.storedUntil).toBeGreaterThan(Date.now() + 590_000);
        // The touch extended the very record this load read: kept, as it is now stored.
        expect(s.peek(id, PROOF)).toBe(loaded);
        expect(s.peek(id, PROOF)!.storedUntil).toBe(await storedUntil());

        // Destroyed by another instance between the read and the touch: nothing is revived.
        const gone = await stored(s);
        await sleep(120);
        const elsewhere = store({}, other);
        const reading = s.loadReadOnly(gone, PROOF);
        await promiseDestroy(elsewhere, gone);
        await reading;
        expect(await storage.get(`sess:${gone}`)).toBeUndefined();
      });

      it('lets go of what nobody uses, and keeps at most cacheSize: memory follows the sessions in use, not those stored', async () => {
        const s = store({ recentReadMs: 60_000, cacheIdleMs: 200 });
        const ids = await Promise.all([1, 2, 3, 4, 5].map(() => stored(s)));
        for (const id of ids) await s.loadReadOnly(id, PROOF);
        expect(ids.every((id) => s.peek(id, PROOF) !== undefined)).toBe(true);
        expect(s.recentReads).toBe(5);
        // One keeps being used; the others go.
        const deadline = Date.now() + 600;
        while (Date.now() < deadline) {
          expect(s.peek(ids[0]!, PROOF)).toBeDefined();
          await sleep(20);
        }
        expect(s.recentReads).toBe(1);
        await sleep(700);
        expect(s.recentReads).toBe(0);

        const small = store({ recentReadMs: 60_000, cacheSize: 3 });
        for (const id of ids.slice(0, 3)) await small.loadReadOnly(id, PROOF);
        // Used, but read before the others: a session in use is read again at its touch.
        expect(small.peek(ids[0]!, PROOF)).toBeDefined();
        for (const id of ids.slice(3)) await small.loadReadOnly(id, PROOF);
        expect(small.recentReads).toBe(3);
        // The oldest reads went first.
        expect(ids.map((id) => small.peek(id, PROOF) !== undefined)).toEqual([false, false, true, true, true]);
        expect(() => store({ cacheIdleMs: 0 })).toThrow(/cacheIdleMs/);
      });
    });

    describe('tenant index', () => {
      it('lists the live sessions of a tenant and destroys them on unsubscription, leaving other tenants alone', async () => {
        const s = store();
        const [acme, beta] = [tenant('acme'), tenant('beta')];
        const [a1, a2, a3, b1, none, short] = [sid(), sid(), sid(), sid(), sid(), sid()];
        await promiseSet(s, a1, sessionData({ tenant: acme }));
        await promiseSet(store({}, other), a2, sessionData({ tenant: acme }));
        await promiseSet(s, a3, sessionData({ tenant: acme }));
        await promiseSet(s, b1, sessionData({ tenant: beta }));
        await promiseSet(s, none, sessionData({}));
        await promiseSet(s, short, sessionData({ tenant: acme }, 100));
        await sleep(200);
        expect((await s.sessionsOfTenant(acme)).sort()).toEqual([a1, a2, a3].sort());
        await promiseDestroy(s, a3);
        expect((await s.sessionsOfTenant(acme)).sort()).toEqual([a1, a2].sort());
        expect(await s.sessionsOfTenant(tenant('unknown'))).toEqual([]);

        expect(await store({}, other).destroyTenantSessions(acme)).toBe(2);
        expect(await promiseGet(s, a1)).toBeNull();
        expect(await promiseGet(s, a2)).toBeNull();
        expect(await s.sessionsOfTenant(acme)).toEqual([]);
        expect(await s.sessionsOfTenant(beta)).toEqual([b1]);
        expect(await promiseGet(s, b1)).not.toBeNull();
        expect(await promiseGet(s, none)).not.toBeNull();
        expect(await s.destroyTenantSessions(acme)).toBe(0);
      });

      it('a session that moved to another tenant belongs to that tenant only', async () => {
        const s = store();
        const [from, to] = [tenant('from'), tenant('to')];
        const id = sid();
        await promiseSet(s, id, sessionData({ tenant: from }));
        const loaded = (await promiseGet(s, id))!;
        await promiseSet(s, id, { ...loaded, tenant: to });
        expect(await s.sessionsOfTenant(from)).toEqual([]);
        expect(await s.sessionsOfTenant(to)).toEqual([id]);
        expect(await s.destroyTenantSessions(from)).toBe(0);
        expect(await promiseGet(s, id)).not.toBeNull();
      });

      it('stays bounded: buckets older than two lifetimes are dropped when new sessions arrive', async () => {
        const lifetime = 150;
        const s = store({ absoluteLifetimeMs: lifetime });
        const t = tenant('churn');
        const buckets = new Set<number>();
        // When each session was made: between these two instants.
        const made = new Map<string, { before: number; after: number }>();
        const started = Date.now();
        while (Date.now() - started < lifetime * 6) {
          buckets.add(Math.floor(Date.now() / lifetime));
          const id = sid();
          const before = Date.now();
          await promiseSet(s, id, sessionData({ tenant: t }));
          made.set(id, { before, after: Date.now() });
          await sleep(40);
        }
        expect(buckets.size).toBeGreaterThanOrEqual(5);
        const registry = (await storage.listIndex(`sess-tenant-buckets:${t}`)).map(Number);
        expect(registry.length).toBeLessThanOrEqual(3);
        const newest = Math.max(...buckets);
        for (const b of buckets) {
          const members = await storage.listIndex(`sess-tenant:${t}:${b}`);
          if (b < newest - 2) expect(members, `bucket ${b}`).toEqual([]);
        }
        // What is listed lived when it was listed, and lives until its lifetime ends (the lifetime is
        // short: a loaded machine may take that long between the listing and a read).
        const listedAt = Date.now();
        const live = await s.sessionsOfTenant(t);
        for (const id of live) {
          expect(made.get(id)!.after + lifetime).toBeGreaterThan(listedAt);
          const read = await promiseGet(s, id);
          if (read === null) expect(Date.now()).toBeGreaterThanOrEqual(made.get(id)!.before + lifetime);
        }
        expect(live.length).toBeLessThanOrEqual(5);
      });
    });

    describe('behind express-session over HTTP', () => {
      it('the cookie carries only the signed id; the session follows it to a second instance; logout ends it', async () => {
        const tokens = { accessToken: fakeJwt('http'), refreshToken: `rt-${randomUUID()}` };
        const app1 = await startSessionApp(store({ touchAfterMs: 0 }), () => tokens);
        const app2 = await startSessionApp(store({}, other), () => tokens);
        try {
          const login = await request(app1.port, { path: '/login?tenant=acme' });
          const cookie = sessionCookie(login.headers['set-cookie'] as string[] | undefined)!;
          expect(cookie).toMatch(/^zg\.sid=s%3A[A-Za-z0-9_-]+\.[A-Za-z0-9%/+]+$/);
          for (const part of [...tokens.accessToken.split('.'), tokens.refreshToken]) expect(cookie).not.toContain(part);

          const viaOther = await request(app2.port, { path: '/me', headers: { cookie } });
          expect(viaOther.json()).toEqual({ tenant: 'acme', tokens });
          // A cookie whose signature does not match is no session.
          const forged = cookie.replace(/\.[^.]+$/, '.AAAA');
          expect((await request(app1.port, { path: '/me', headers: { cookie: forged } })).json()).toEqual({ tenant: null, tokens: null });

          expect((await request(app1.port, { path: '/logout', headers: { cookie } })).status).toBe(200);
          expect((await request(app2.port, { path: '/me', headers: { cookie } })).json()).toEqual({ tenant: null, tokens: null });
        } finally {
          await Promise.all([app1.close(), app2.close()]);
        }
      });
    });
  });
}
