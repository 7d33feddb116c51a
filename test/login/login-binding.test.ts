import { describe, expect, it } from 'vitest';
import { bindLoginCookie, LOGIN_COOKIE_PREFIX, MAX_PENDING_LOGINS, settleLoginCookies } from '../../src/login/login-binding.js';

const options = { path: '/login/callback', maxAgeSeconds: 600, secure: false };
const stateOf = (i: number) => `state${String(i).padStart(3, '0')}-${'x'.repeat(35)}`;
/** The Cookie header a browser sends to the callback after these Set-Cookie lines. */
const cookieHeader = (lines: string[]) => lines.map((l) => l.split(';')[0]).join('; ');

describe('login binding cookies', () => {
  it('one cookie per login, only for the callback path, HttpOnly and SameSite=Lax; Secure over https', () => {
    const line = bindLoginCookie(stateOf(1), 1_000, options);
    expect(line).toMatch(new RegExp(`^${LOGIN_COOKIE_PREFIX.replace('.', '\\.')}state001-xxx=`));
    expect(line).toContain(`.${stateOf(1)}; Path=/login/callback; Max-Age=600; HttpOnly; SameSite=Lax`);
    expect(line).not.toContain('Secure');
    expect(bindLoginCookie(stateOf(1), 1_000, { ...options, secure: true })).toMatch(/; Secure$/);
    expect(bindLoginCookie(stateOf(1), 1_000, options).split('=')[0]).not.toBe(bindLoginCookie(stateOf(2), 1_000, options).split('=')[0]);
  });

  it('binds each state on its own and clears only the cookie of the state it settles', () => {
    const header = cookieHeader([1, 2, 3].map((i) => bindLoginCookie(stateOf(i), i, options)));
    const settled = settleLoginCookies(header, stateOf(2), options);
    expect(settled.bound).toBe(true);
    expect(settled.setCookies).toEqual([`${LOGIN_COOKIE_PREFIX}state002-xxx=; Path=/login/callback; Max-Age=0; HttpOnly; SameSite=Lax`]);
  });

  it('refuses a state this browser did not start, clearing nothing of its own', () => {
    const header = cookieHeader([bindLoginCookie(stateOf(1), 1, options)]);
    expect(settleLoginCookies(header, stateOf(9), options)).toEqual({ bound: false, setCookies: [] });
    expect(settleLoginCookies(header, null, options)).toEqual({ bound: false, setCookies: [] });
    expect(settleLoginCookies(undefined, stateOf(1), options)).toEqual({ bound: false, setCookies: [] });
    // A cookie of the right name (the state's first characters) but another state does not bind it.
    const forged = `${LOGIN_COOKIE_PREFIX}state001-xxx=1.state001-xxxxxxxxxxxxxxxx-other`;
    expect(settleLoginCookies(forged, stateOf(1), options).bound).toBe(false);
    // Malformed values bind nothing.
    for (const value of ['', 'no-dot', `.${stateOf(1)}x`]) {
      expect(settleLoginCookies(`${LOGIN_COOKIE_PREFIX}state001-xxx=${value}`, stateOf(1), options).bound).toBe(false);
    }
  });

  it(`keeps the newest ${MAX_PENDING_LOGINS - 1} others when more are pending, dropping the oldest`, () => {
    const count = MAX_PENDING_LOGINS + 3;
    // Sent in no particular order: the issue time decides which are oldest.
    const lines = Array.from({ length: count }, (_, i) => bindLoginCookie(stateOf(i), 1_000 + i, options)).reverse();
    const settled = settleLoginCookies(cookieHeader(lines), stateOf(count - 1), options);
    expect(settled.bound).toBe(true);
    const cleared = settled.setCookies.map((l) => l.split('=')[0]);
    // Its own, and the oldest beyond the bound.
    expect(cleared).toHaveLength(1 + count - MAX_PENDING_LOGINS);
    expect(cleared).toContain(`${LOGIN_COOKIE_PREFIX}state${String(count - 1).padStart(3, '0')}-xxx`);
    for (let i = 0; i <= count - 1 - MAX_PENDING_LOGINS; i++) expect(cleared).toContain(`${LOGIN_COOKIE_PREFIX}state${String(i).padStart(3, '0')}-xxx`);
    expect(cleared).not.toContain(`${LOGIN_COOKIE_PREFIX}state${String(count - MAX_PENDING_LOGINS).padStart(3, '0')}-xxx`);
  });
});
