/**
 * Issue 9, "Trust boundaries": login throttling and who the zones believe the client is. Each test is
 * an attack over real HTTP against a real identity server (harness.ts), and each failed on the tree
 * before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, PASSWORD, authorizePath, formFields, startZones, type Harness } from './harness.js';

const LIMIT = 4;
const STEP_MS = 150;
const SLOW_AFTER = 2;
/** Slower than the harness's default: the hash of each guess takes tens of ms, so a burst stays in flight. */
const REAL_SCRYPT = { N: 2 ** 14, r: 8, p: 1 };

let t: Harness;
beforeAll(async () => {
  // The test client connects from 127.0.0.1 and plays the trusted proxy: X-Forwarded-For says which
  // client each attempt comes from.
  t = await startZones({
    trustedProxies: '127.0.0.1',
    passwordHashing: REAL_SCRYPT,
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
});
