import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import session from 'express-session';
import type { SessionData } from 'express-session';
import type { StorageSessionStore } from '../../src/sessions/store.js';
import '../../src/sessions/types.js';

export function promiseGet(store: StorageSessionStore, sid: string): Promise<SessionData | null | undefined> {
  return new Promise((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))));
}

export function promiseSet(store: StorageSessionStore, sid: string, sess: SessionData): Promise<void> {
  return new Promise((resolve, reject) => store.set(sid, sess, (err) => (err ? reject(err) : resolve())));
}

export function promiseDestroy(store: StorageSessionStore, sid: string): Promise<void> {
  return new Promise((resolve, reject) => store.destroy(sid, (err) => (err ? reject(err) : resolve())));
}

export function promiseTouch(store: StorageSessionStore, sid: string, sess: SessionData): Promise<void> {
  return new Promise((resolve, reject) => store.touch(sid, sess, (err) => (err ? reject(err) : resolve())));
}

/** The error a callback-style call passes, or a failure if it passes none. */
export function callbackError(call: (cb: (err?: unknown) => void) => void): Promise<unknown> {
  return new Promise((resolve, reject) =>
    call((err) => (err ? resolve(err) : reject(new Error('expected the callback to get an error')))),
  );
}

export const sid = () => randomBytes(24).toString('base64url');

/** A JWT-shaped token with a recognisable random payload, as the zone would issue. */
export function fakeJwt(label: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part({ label, jti: randomBytes(16).toString('hex') })}.${randomBytes(64).toString('base64url')}`;
}

/** Session data as express-session hands it to the store: a real Cookie with `maxAge` running from now. */
export function sessionData(fields: Partial<SessionData>, maxAgeMs: number | null = 60_000): SessionData {
  const cookie = new session.Cookie();
  if (maxAgeMs !== null) cookie.maxAge = maxAgeMs;
  return { cookie, ...fields } as SessionData;
}

/** What express-session does on each request: the cookie's expiry moves to now + its original max age. */
export function renewCookie(sess: SessionData): SessionData {
  const cookie = new session.Cookie();
  if (sess.cookie.originalMaxAge !== null) cookie.maxAge = sess.cookie.originalMaxAge;
  return { ...sess, cookie };
}

export interface SessionApp {
  port: number;
  close(): Promise<void>;
}

/**
 * express-session in front of a tiny app on a plain node:http server (port 0), with an error
 * handler that answers a GatewayError's status the way the gateway's renderer does.
 */
export async function startSessionApp(store: StorageSessionStore, tokens: () => SessionData['tokens']): Promise<SessionApp> {
  const middleware = session({
    store,
    secret: 'test-cookie-signing-secret-0123456789abcdef',
    name: 'zg.sid',
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 60_000 },
  });
  const server = http.createServer((req, res) => {
    const fail = (err: unknown) => {
      // express-session reports a failed save or touch through next(err) after the response has
      // begun; like Express's final handler, there is nothing left to answer then.
      if (res.headersSent) return;
      const status = (err as { status?: number }).status ?? 500;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: (err as { code?: string }).code ?? 'unknown' }));
    };
    middleware(req as never, res as never, (err?: unknown) => {
      if (err) return fail(err);
      const r = req as unknown as { session: session.Session & Partial<SessionData>; sessionID: string };
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/login') {
        // A fresh id at login (no fixation), as the gateway's callback does.
        r.session.regenerate((regenErr) => {
          if (regenErr) return fail(regenErr);
          r.session.tenant = url.searchParams.get('tenant') ?? 'acme';
          r.session.tokens = tokens();
          res.end('logged in');
        });
        return;
      }
      if (url.pathname === '/logout') {
        r.session.destroy((destroyErr) => (destroyErr ? fail(destroyErr) : res.end('bye')));
        return;
      }
      if (url.pathname === '/public') {
        res.end('public');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ tenant: r.session.tenant ?? null, tokens: r.session.tokens ?? null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The `name=value` of the session cookie in a Set-Cookie header list. */
export function sessionCookie(setCookie: string[] | undefined): string | undefined {
  return setCookie?.find((c) => c.startsWith('zg.sid='))?.split(';')[0];
}
