/**
 * Opens the session of a request: the one place that runs express-session and reads what it hangs
 * on `req` (issue 11, item 5). Callers get a typed session and never see the library; the
 * recent-read shortcut (a session the store read moments ago, for the cookie signature checked
 * then) lives here too, next to the cookie check it stands in for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import signature from 'cookie-signature';
import session from 'express-session';
import { toGatewayError } from '../errors.js';
import { cookieValue } from '../http/cookies.js';
import { ownCopy } from './session-copy.js';
import type { StorageSessionStore } from './store.js';
import type { GatewaySessionData } from './types.js';

export interface SessionOpenerOptions {
  store: StorageSessionStore;
  /** Cookie signing secrets; the first signs, all verify (rotation). */
  secrets: string[];
  /**
   * The cookie's name for plain http, for https origins (a `__Host-` name), and for https origins
   * whose tenant sets a cookie Domain or Path (a `__Secure-` name: `__Host-` forbids a Domain and
   * demands `Path=/`).
   */
  cookieNames: { plain: string; secure: string; secureDomain: string };
}

/** A request's session as express-session opened it. */
export interface OpenedSession {
  readonly id: string;
  /** What it holds, to read and change; regenerate and reload replace it (read it again after them). */
  readonly data: GatewaySessionData;
  /** A fresh id for the same request (login: an id planted before is worthless, session fixation). */
  regenerate(): Promise<void>;
  save(): Promise<void>;
  reload(): Promise<void>;
  destroy(): Promise<void>;
}

/** A session this process read moments ago (StorageSessionStore.peek), frozen: shared by requests. */
export interface RecentSession {
  readonly id: string;
  readonly data: Readonly<GatewaySessionData>;
}

/**
 * Where a tenant's session cookie applies beyond its host: a Domain (SESSION_COOKIE_DOMAIN) and a
 * Path (a path tenant's prefix, TENANT_PATH_PATTERN); both undefined: host-only, `Path=/`.
 */
export interface CookieScope {
  domain?: string;
  path?: string;
}

export type SessionOpener = ReturnType<typeof createSessionOpener>;

type WithSession = IncomingMessage & { session?: session.Session & GatewaySessionData; sessionID?: string; secure?: boolean };

export function createSessionOpener(options: SessionOpenerOptions) {
  const { store } = options;
  // express-session takes one cookie name per middleware: one for https origins (`__Host-`), one for
  // plain http. They share the store, and express-session keeps only the last middleware's
  // `store.generate` (used by regenerate at login), so both must make the same cookie for a request:
  // the options are a function of `req.secure`, express's flag that express-session reads when
  // `proxy` is unset, and that open() sets from the trusted origin. (With `proxy: true` it would
  // read the first X-Forwarded-Proto itself, which may be the client's, not the trusted proxy's.)
  const middlewareFor = (name: string) =>
    session({
      name,
      store,
      secret: options.secrets,
      resave: false,
      saveUninitialized: false,
      rolling: false,
      // Never 'destroy': when the store cannot be read (Redis stalled or down), express-session passes
      // the error to next() and leaves `req.session` unset, and with 'destroy' it then deletes the
      // session at the end of that very 503 response; a stalled Redis runs the delete when it resumes,
      // and the user is logged out for good (issue 10). Sessions end only through an explicit destroy
      // (logout, a refused refresh, unsubscription).
      unset: 'keep',
      cookie: (req) => ({ httpOnly: true, sameSite: 'lax', path: scopes.get(req)?.path ?? '/', secure: req.secure === true, domain: scopes.get(req)?.domain }),
    });
  // The Domain and Path of the cookie a request's session gets (SESSION_COOKIE_DOMAIN, a path
  // tenant's prefix), kept beside the request for the cookie options above, as `req.secure` is.
  const scopes = new WeakMap<object, CookieScope>();
  const plainMiddleware = middlewareFor(options.cookieNames.plain);
  const secureMiddleware = middlewareFor(options.cookieNames.secure);
  const secureDomainMiddleware = middlewareFor(options.cookieNames.secureDomain);

  /**
   * The session id a cookie value names, if one of the secrets signed it (express-session's format
   * `s:<id>.<signature>`, checked with its own cookie-signature), and the proof a request must show
   * to be answered from the store's copy later (`recent`): the signature as the cookie carries it.
   * Strings of their own: the cookie is a slice of the whole Cookie header (kept, it would keep all of it).
   */
  function verified(cookie: string): { id: string; proof: string } | undefined {
    // As the header carries it (`s%3A…`); express-session reads it through `cookie`, which decodes.
    const value = decoded(cookie);
    if (!value?.startsWith('s:')) return undefined;
    for (const secret of options.secrets) {
      const id = signature.unsign(value.slice(2), secret);
      if (id !== false) return { id: ownCopy(id), proof: ownCopy(cookie.slice(cookie.lastIndexOf('.') + 1)) };
    }
    return undefined;
  }

  const cookieName = (secure: boolean, scope?: CookieScope) =>
    secure ? (scope?.domain === undefined && scope?.path === undefined ? options.cookieNames.secure : options.cookieNames.secureDomain) : options.cookieNames.plain;

  function typed(req: WithSession): OpenedSession {
    const call = (method: 'regenerate' | 'save' | 'reload' | 'destroy') =>
      new Promise<void>((resolve, reject) => req.session![method]((err?: unknown) => (err ? reject(toGatewayError(err)) : resolve())));
    return {
      get id() {
        return req.sessionID!;
      },
      get data() {
        return req.session!;
      },
      regenerate: () => call('regenerate'),
      save: () => call('save'),
      reload: () => call('reload'),
      destroy: () => call('destroy'),
    };
  }

  return {
    /** The session cookie's name for a trusted origin's scheme and the tenant's cookie scope. */
    cookieName,

    /**
     * The request's session cookie, as it came: over https only the `__Host-` one counts, or the
     * `__Secure-` one where the tenant's cookie has a Domain or Path.
     */
    cookieOf(req: IncomingMessage, secure: boolean, scope?: CookieScope): string | undefined {
      return cookieValue(req.headers.cookie, cookieName(secure, scope));
    },

    /**
     * The session of a cookie `load` verified before, as this process read it moments ago; undefined
     * when it has to be loaded (an unknown cookie, no recent read). No HMAC: the store hands out its
     * copy only for the signature that was checked when it was loaded, as this cookie carries it
     * (a browser sends back the value it was given, byte for byte).
     */
    recent(cookie: string): RecentSession | undefined {
      const start = cookie.startsWith('s%3A') ? 4 : cookie.startsWith('s:') ? 2 : -1;
      const dot = cookie.lastIndexOf('.');
      if (start === -1 || dot < start) return undefined;
      // Slices of the Cookie header, used for this request only: the store keeps its own strings.
      const id = cookie.slice(start, dot);
      const data = store.peek(id, cookie.slice(dot + 1));
      return data === undefined ? undefined : { id, data };
    },

    /**
     * The session a signed cookie names, read from the store for a request that will only read it
     * (what `recent` returns from now on, for a moment): no express-session, whose per-request work
     * (a Session object, a hash of the whole session before and after) would cost more than the
     * read. Undefined when express-session has to look: a cookie not signed here, no stored session,
     * or one that needs a write (a touch due).
     */
    async load(cookie: string): Promise<RecentSession | undefined> {
      const signed = verified(cookie);
      if (signed === undefined) return undefined;
      const data = await store.loadReadOnly(signed.id, signed.proof);
      return data === undefined ? undefined : { id: signed.id, data };
    },

    /**
     * Opens the request's session through express-session (once per request): the stored one its
     * cookie names, or a new empty one. Rejects with a GatewayError when the store cannot be read.
     */
    async open(req: IncomingMessage, res: ServerResponse, secure: boolean, scope?: CookieScope): Promise<OpenedSession> {
      // What express-session hangs on req says whether it ran: no table keyed by request (see the
      // proxy's request state for what such a table costs under load).
      const r = req as WithSession;
      if (r.session) return typed(r);
      r.secure = secure;
      if (scope?.domain !== undefined || scope?.path !== undefined) scopes.set(req, scope);
      const middleware = !secure ? plainMiddleware : cookieName(true, scope) === options.cookieNames.secure ? secureMiddleware : secureDomainMiddleware;
      await new Promise<void>((resolve, reject) =>
        middleware(req as never, res as never, (err?: unknown) => (err ? reject(toGatewayError(err)) : resolve())),
      );
      return typed(r);
    },

    /** The session open() opened for this request, if it did. */
    openedFor(req: IncomingMessage): OpenedSession | undefined {
      const r = req as WithSession;
      return r.session ? typed(r) : undefined;
    },

    /** The session as stored now (not as a request holds it); undefined when it has ended. */
    read(id: string): Promise<GatewaySessionData | undefined> {
      return new Promise((resolve, reject) => store.get(id, (err, data) => (err ? reject(err) : resolve(data ?? undefined))));
    },

    /** Stores a session read with read(), as it is. */
    write(id: string, data: GatewaySessionData): Promise<void> {
      return new Promise((resolve, reject) => store.set(id, data as session.SessionData, (err) => (err ? reject(err) : resolve())));
    },

    /** Ends every session of a tenant (unsubscription); how many ended. */
    endTenant(tenant: string): Promise<number> {
      return store.destroyTenantSessions(tenant);
    },
  };
}

/** A cookie value percent-decoded as the `cookie` package decodes it for express-session; undefined when malformed. */
function decoded(value: string): string | undefined {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
