/**
 * Binds each pending login's `state` to the browser that started it (login CSRF, RFC 6749 §10.12;
 * RFC 9700 §4.7.1): a callback is accepted only from a browser holding a cookie with its state.
 *
 * One cookie per pending login, `zonegate.login.<id>`, not one cookie for all: a browser that opens
 * several tabs at once (a restored window, links opened in tabs) starts several logins whose
 * responses race, and a single cookie would keep only the state of the last one, so every other
 * tab's callback would be refused (issue 10). oauth2-proxy's `--cookie-csrf-per-request` makes the
 * same choice for the same reason. Each cookie is cleared by its own callback only.
 *
 * Path=/login/callback: the cookies travel to the callback and nowhere else (no backend sees them,
 * no other request carries them). That also means a login start cannot see the ones already pending,
 * so the number per browser is bounded where they are visible: each lives LOGIN_TTL at most, and
 * every callback drops all but the newest MAX_PENDING_LOGINS - 1 others (their tabs then start
 * again).
 */
import { LOGIN_COOKIE_PREFIX } from './contract.js';
import { sameSecret } from '../constant-time.js';

export { LOGIN_COOKIE_PREFIX };
/** Pending logins kept per browser; beyond it the oldest are dropped at the next callback. */
export const MAX_PENDING_LOGINS = 8;
// The state is openid-client's 32 random bytes in base64url; 12 characters (72 bits) of it name the
// cookie, so a callback finds its own cookie from the state alone.
const ID_LENGTH = 12;
const STATE = /^[\w-]{16,128}$/;

export interface LoginCookieOptions {
  /** The callback's path: the only path the browser sends these cookies to. */
  path: string;
  maxAgeSeconds: number;
  secure: boolean;
}

interface PendingBinding {
  name: string;
  state: string;
  issuedAt: number;
}

const nameOf = (state: string) => `${LOGIN_COOKIE_PREFIX}${state.slice(0, ID_LENGTH)}`;

function attributes(options: LoginCookieOptions, maxAge: number): string {
  return `Path=${options.path}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`;
}

/** The Set-Cookie line that binds `state` to this browser (issued at `issuedAt`, epoch ms). */
export function bindLoginCookie(state: string, issuedAt: number, options: LoginCookieOptions): string {
  if (!STATE.test(state)) throw new RangeError('a login state must be 16 to 128 base64url characters');
  return `${nameOf(state)}=${issuedAt.toString(36)}.${state}; ${attributes(options, options.maxAgeSeconds)}`;
}

/**
 * At the callback of `state`: whether this browser started that login, and the Set-Cookie lines
 * that clear its cookie (whatever the outcome: a state is tried once) and the pending logins beyond
 * the bound. Other pending logins are left alone, so a refused callback (a forged one, another
 * browser's) does not break this browser's own logins.
 */
export function settleLoginCookies(
  cookieHeader: string | undefined,
  state: string | null,
  options: LoginCookieOptions,
): { bound: boolean; setCookies: string[] } {
  const pending = pendingBindings(cookieHeader);
  const own = state && STATE.test(state) ? pending.find((p) => p.name === nameOf(state)) : undefined;
  const clear = new Set<string>();
  if (own) clear.add(own.name);
  const others = pending.filter((p) => p !== own).sort((a, b) => b.issuedAt - a.issuedAt);
  for (const dropped of others.slice(MAX_PENDING_LOGINS - 1)) clear.add(dropped.name);
  return {
    bound: own !== undefined && state !== null && sameSecret(own.state, state),
    setCookies: [...clear].map((name) => `${name}=; ${attributes(options, 0)}`),
  };
}

/** The login cookies of a Cookie header; malformed ones count as pending (so they are bounded too) but match no state. */
function pendingBindings(cookieHeader: string | undefined): PendingBinding[] {
  if (!cookieHeader) return [];
  const found: PendingBinding[] = [];
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (!name.startsWith(LOGIN_COOKIE_PREFIX) || found.some((p) => p.name === name)) continue;
    const value = part.slice(eq + 1).trim();
    const dot = value.indexOf('.');
    const issuedAt = dot === -1 ? Number.NaN : parseInt(value.slice(0, dot), 36);
    found.push({ name, state: dot === -1 ? '' : value.slice(dot + 1), issuedAt: Number.isFinite(issuedAt) ? issuedAt : 0 });
  }
  return found;
}

