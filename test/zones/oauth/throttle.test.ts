/**
 * Issue 9, "Trust boundaries": login throttling, who the zones believe the client is, and the login
 * form's browser binding. Attacks over real HTTP against a real identity server (harness.ts); each
 * failed on the tree before its fix. Three tests guard what the fixes must keep: the address a trusted
 * proxy appended, unknown users answered like real ones, and a binding the server issued itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ARGON2 } from '../../../src/zones/directory/password.js';
import { LOGIN_COOKIE } from '../../../src/zones/oauth/authorize.js';
import { Browser, PASSWORD, authorizePath, formFields, startZones, type Harness } from './harness.js';

const LIMIT = 4;
const STEP_MS = 150;
const SLOW_AFTER = 2;
/** The production cost, not the harness's near-free one: each guess's hash takes milliseconds, so a burst stays in flight. */
const REAL_HASHING = DEFAULT_ARGON2;

let t: Harness;
beforeAll(async () => {
  // The test client connects from 127.0.0.1 and plays the trusted proxy: X-Forwarded-For says which
  // client each attempt comes from.
  t = await startZones({
    trustedProxies: '127.0.0.1',
    passwordHashing: REAL_HASHING,
    throttle: { slowAfter: SLOW_AFTER, lockAfter: LIMIT, delayStepMs: STEP_MS, lockMs: 60_000 },
  });
});
afterAll(async () => {
  await t?.close();
});

interface Answer {
  status: number;
  ms: number;
  message: string | undefined;
}

async function loginForm(h: Harness, browser: Browser): Promise<Record<string, string>> {
  const page = await browser.get('acme', authorizePath(h.app.clientId));
  expect(page.status).toBe(200);
  return formFields(page.text);
}

async function submit(h: Harness, browser: Browser, fields: Record<string, string>, userName: string, password: string, ip?: string): Promise<Answer> {
  const started = performance.now();
  const res = await browser.post('acme', '/login.do', { ...fields, username: userName, password }, ip ? { 'x-forwarded-for': ip } : {});
  return { status: res.status, ms: performance.now() - started, message: /role="alert">([^<]*)</.exec(res.text)?.[1] };
}

/** One attempt with its own fresh login form. */
async function attempt(h: Harness, userName: string, password: string, ip?: string): Promise<Answer> {
  const browser = new Browser(h);
  return submit(h, browser, await loginForm(h, browser), userName, password, ip);
}

/** Password guesses the server actually checked from this address (each failure is logged once). */
const evaluatedFrom = (h: Harness, ip: string) => h.logLines.filter((l) => l.includes('zone login failed') && l.includes(`"${ip}"`)).length;

describe('the lockout is atomic: attempts are counted before the password is checked', () => {
  it('a burst of 30 parallel guesses at the login form gets at most the limit checked; the right password inside the burst is refused', async () => {
    const ip = '10.9.1.1';
    const browser = new Browser(t);
    const fields = await loginForm(t, browser);
    const burst = Array.from({ length: 30 }, () => submit(t, browser, fields, 'bob', 'wrong-password', ip));
    // The right password once the burst is under way (its first answer is back), while guesses are
    // still being hashed: before the fix, the limit was only looked at before each slow hash.
    await Promise.race(burst);
    const right = await submit(t, browser, fields, 'bob', PASSWORD, ip);
    const answers = await Promise.all(burst);

    expect(evaluatedFrom(t, ip)).toBeLessThanOrEqual(LIMIT);
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(LIMIT);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(30 - LIMIT);
    expect(right.status).toBe(429);
    expect(right.message).toMatch(/locked/);
  });

  it('the same for the password grant', async () => {
    const form = { grant_type: 'password', username: 'padmin', password: 'wrong-password' };
    const auth = { id: t.pwdApp.clientId, secret: t.pwdSecret };
    const headers = { 'x-forwarded-for': '10.9.1.2' };
    const burst = Array.from({ length: 30 }, () => t.token('provider', form, auth, headers));
    await Promise.race(burst);
    const right = await t.token('provider', { ...form, password: PASSWORD }, auth, headers);
    const answers = await Promise.all(burst);

    expect(answers.every((a) => a.status === 400 && a.json().error === 'invalid_grant')).toBe(true);
    // Guesses that were checked answer "Bad credentials" (the one that reaches the limit answers as locked).
    expect(answers.filter((a) => a.json().error_description === 'Bad credentials').length).toBeLessThanOrEqual(LIMIT);
    expect(right.status).toBe(400);
    expect(right.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/Too many/) });
  });
});

describe('the client address comes only from trusted proxies', () => {
  it('an untrusted peer rotating X-Forwarded-For cannot escape the lock of its own address', async () => {
    // TRUSTED_PROXIES names a proxy, but the attacker (127.0.0.1) is not it.
    const z = await startZones({ trustedProxies: '192.0.2.10', throttle: { slowAfter: 100, lockAfter: LIMIT, lockMs: 60_000 } });
    try {
      const answers: Answer[] = [];
      // Another user name and another claimed address each time: no (user, address) pair repeats.
      for (let i = 0; i < LIMIT + 2; i++) answers.push(await attempt(z, `victim-${i}`, 'wrong-password', `203.0.113.${i}`));
      expect(answers.map((a) => a.status)).toEqual([...Array<number>(LIMIT - 1).fill(401), 429, 429, 429]);
      await z.directory.createUser(z.acme.id, { userName: 'erin', email: 'erin@acme.example', password: PASSWORD });
      expect((await attempt(z, 'erin', PASSWORD, '198.51.100.77')).status).toBe(429);
      // Nothing in the log says the attacker came from the addresses it claimed.
      expect(z.logLines.some((l) => l.includes('203.0.113.'))).toBe(false);
    } finally {
      await z.close();
    }
  });

  it('behind a trusted proxy, addresses the client prepends do not count: the one the proxy appended does', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < LIMIT + 1; i++) answers.push(await attempt(t, `nobody-${i}`, 'wrong-password', `198.51.100.${i}, 10.9.2.1`));
    expect(answers.map((a) => a.status)).toEqual([...Array<number>(LIMIT - 1).fill(401), 429, 429]);
  });

  it('an IPv6 client is counted by its /64: rotating the interface identifier does not escape the lock', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < LIMIT + 1; i++) answers.push(await attempt(t, `someone-${i}`, 'wrong-password', `2001:db8:7:1:${i.toString(16)}:0:0:${i + 1}`));
    expect(answers.map((a) => a.status)).toEqual([...Array<number>(LIMIT - 1).fill(401), 429, 429]);
    // Another /64 is another client.
    expect((await attempt(t, 'someone-0', 'wrong-password', '2001:db8:7:2::1')).status).toBe(401);
  });
});

describe('nobody can lock a user out everywhere', () => {
  it('an attacker locks only (user, attacker address): refused there even with the right password, while the user signs in from elsewhere after a delay', async () => {
    await t.directory.createUser(t.acme.id, { userName: 'frank', email: 'frank@acme.example', password: PASSWORD });
    const attacker = '10.9.3.66';
    const guesses: Answer[] = [];
    for (let i = 0; i < LIMIT; i++) guesses.push(await attempt(t, 'frank', 'wrong-password', attacker));
    expect(guesses.map((a) => a.status)).toEqual([...Array<number>(LIMIT - 1).fill(401), 429]);
    const atAttacker = await attempt(t, 'frank', PASSWORD, attacker);
    expect(atAttacker.status).toBe(429);
    expect(atAttacker.message).toMatch(/locked/);

    const own = await attempt(t, 'frank', PASSWORD, '10.9.3.1');
    expect(own.status).toBe(302);
    // The user name is slowed: LIMIT guesses before, this is attempt LIMIT + 1.
    expect(own.ms).toBeGreaterThanOrEqual((LIMIT + 1 - SLOW_AFTER) * STEP_MS - 20);
  });

  it('guesses at one user from many addresses are slowed, never locked, and the delay is capped at 5 s', async () => {
    const z = await startZones({ trustedProxies: '127.0.0.1', throttle: { slowAfter: 0, lockAfter: LIMIT, delayStepMs: 4000 } });
    try {
      // In parallel, from three addresses: delays of 4 s, then 8 s and 12 s capped to 5 s.
      const answers = await Promise.all(['10.9.4.1', '10.9.4.2', '10.9.4.3'].map((ip) => attempt(z, 'bob', 'wrong-password', ip)));
      expect(answers.map((a) => a.status)).toEqual([401, 401, 401]);
      const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
      expect(ms[0]).toBeGreaterThanOrEqual(3980);
      expect(ms[2]).toBeGreaterThanOrEqual(4980);
      expect(ms[2]).toBeLessThan(6500);
    } finally {
      await z.close();
    }
  }, 20_000);

  it('answers an unknown user name exactly as a real one, locks included', async () => {
    const real: Answer[] = [];
    const ghost: Answer[] = [];
    for (let i = 0; i < LIMIT + 1; i++) real.push(await attempt(t, 'alice', 'wrong-password', '10.9.5.1'));
    for (let i = 0; i < LIMIT + 1; i++) ghost.push(await attempt(t, 'ghost-user', 'wrong-password', '10.9.5.2'));
    expect(real.map((a) => a.status)).toEqual([...Array<number>(LIMIT - 1).fill(401), 429, 429]);
    expect(ghost.map((a) => [a.status, a.message])).toEqual(real.map((a) => [a.status, a.message]));
  });
});

describe('the browser-binding cookie of the login form is made by the server, one per form', () => {
  const PLANTED = 'planted-by-the-attacker-0123456789abcdef';
  /** The form's own binding cookie, `zg_zone_login_<form id>`, from the page's answer. */
  const formCookie = (page: { headers: Record<string, unknown> }) => {
    const line = ((page.headers['set-cookie'] ?? []) as string[]).find((c) => c.startsWith(LOGIN_COOKIE) && !/Max-Age=0/i.test(c));
    const [name, value] = line!.split(';')[0]!.split('=') as [string, string];
    return { name, value };
  };

  it('a planted value is never adopted, and a form does not work with it (login CSRF)', async () => {
    // The attacker plants a value in the victim's browser (a sibling host, a plain-http answer) and
    // has the victim's browser post a form with the attacker's credentials: the victim would be
    // signed in as the attacker.
    const page = await t.call('acme', { path: authorizePath(t.app.clientId), headers: { accept: 'text/html', cookie: `${LOGIN_COOKIE}x=${PLANTED}` } });
    expect(page.status).toBe(200);
    const issued = formCookie(page);
    expect(issued.name).toBe(`${LOGIN_COOKIE}${formFields(page.text).auth_request}`);
    expect(issued.value).toMatch(/^\d+\.[\w-]{32,}$/);
    expect(issued.value).not.toContain(PLANTED);

    const form = new URLSearchParams({ ...formFields(page.text), username: 'bob', password: PASSWORD }).toString();
    const post = (value: string) =>
      t.call('acme', { method: 'POST', path: '/login.do', headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: `${issued.name}=${value}` }, body: form });
    const victim = await post(PLANTED);
    expect(victim.status).toBe(403);
    expect(victim.headers.location).toBeUndefined();
    // Control: the value the server set is the one the form is bound to; using the form ends it.
    const own = await post(issued.value);
    expect(own.status).toBe(302);
    expect(own.headers['set-cookie']).toContainEqual(expect.stringMatching(new RegExp(`^${issued.name}=; .*Max-Age=0`)));
  });

  it('forms opened in five tabs at the same moment can all be sent (a shared cookie kept only the last)', async () => {
    const browser = new Browser(t);
    const pages = await Promise.all([1, 2, 3, 4, 5].map((n) => browser.get('acme', authorizePath(t.app.clientId, { state: `tab-${n}` }))));
    for (const page of pages.reverse()) {
      const res = await browser.post('acme', '/login.do', { ...formFields(page.text), username: 'bob', password: PASSWORD }, { 'x-forwarded-for': '10.9.6.1' });
      expect(res.status).toBe(302);
    }
  });

  it('a browser keeps at most 8 form cookies: opening more drops the oldest', async () => {
    const browser = new Browser(t);
    const pages: Awaited<ReturnType<Browser['get']>>[] = [];
    for (let n = 0; n < 12; n++) pages.push(await browser.get('acme', authorizePath(t.app.clientId, { state: `f-${n}` })));
    const held = browser.cookieHeader('acme').split('; ').filter((c) => c.startsWith(LOGIN_COOKIE));
    expect(held).toHaveLength(8);
    // The newest forms still work, the oldest no longer in this browser.
    const send = (page: (typeof pages)[number]) => browser.post('acme', '/login.do', { ...formFields(page.text), username: 'bob', password: PASSWORD }, { 'x-forwarded-for': '10.9.6.2' });
    expect((await send(pages[11]!)).status).toBe(302);
    expect((await send(pages[0]!)).status).toBe(403);
  });
});
