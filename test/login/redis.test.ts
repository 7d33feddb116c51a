import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../support/browser.js';
import { loginCookies, startLoginStack, type LoginStack } from '../support/login-stack.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const xhr = { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' };

describe('sessions in Redis shared by two gateway instances', () => {
  let shared: LoginStack;
  beforeAll(async () => {
    shared = await startLoginStack({ instances: 2, redisUrl: 'redis://127.0.0.1:6379' });
  });
  afterAll(() => shared.close());

  it('logs in through one instance and uses the session through the other (no sticky routing)', async () => {
    const browser = new ScriptedBrowser();
    await shared.login(browser, 'acme', 'alice', '/api/x', 0);
    const sid = browser.cookies(new URL(shared.base('acme', 0)).host).get('zonegate.sid')!;
    const other = new ScriptedBrowser();
    const res = await other.get(shared.base('acme', 1) + '/api/x', { ...xhr, cookie: `zonegate.sid=${sid}` });
    expect(res.status).toBe(200);
    expect(String(res.json().headers.authorization)).toMatch(/^Bearer ey/);
  });

  it('a logout through one instance ends the session on the other at once, though the other has just used it', async () => {
    const browser = new ScriptedBrowser();
    await shared.login(browser, 'acme', 'alice', '/api/x', 0);
    const cookie = browser.cookies(new URL(shared.base('acme', 0)).host).get('zonegate.sid')!;
    const other = new ScriptedBrowser();
    other.cookies(new URL(shared.base('acme', 1)).host).set('zonegate.sid', cookie);
    // Read twice on instance 1: the second is served from its recent read.
    for (let i = 0; i < 2; i++) expect((await other.get(shared.base('acme', 1) + '/api/x', xhr)).status).toBe(200);
    expect((await browser.get(shared.base('acme', 0) + '/logout')).status).toBe(302);
    expect((await other.get(shared.base('acme', 1) + '/api/x', xhr)).status).toBe(401);
  });

  it('finishes on one instance a login that the other started (state in storage)', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(shared.base('acme', 0) + '/api/x');
    const page = await browser.get(String(start.headers.location));
    const { hiddenFields } = await import('../support/browser.js');
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: 'correct-horse-1' });
    const callback = new URL(String(form.headers.location));
    const [loginCookie] = loginCookies(browser, callback.host);
    const elsewhere = new ScriptedBrowser();
    const host1 = new URL(shared.base('acme', 1)).host;
    elsewhere.cookies(host1).set(...loginCookie!);
    const res = await elsewhere.get(`${shared.base('acme', 1)}${callback.pathname}${callback.search}`);
    expect(res.status).toBe(302);
    expect((await elsewhere.get(shared.base('acme', 1) + '/api/x', xhr)).status).toBe(200);
  });

  it('keeps no usable token in Redis (sealed at rest)', async () => {
    const browser = new ScriptedBrowser();
    await shared.login(browser, 'acme', 'alice');
    const token = String((await browser.get(shared.base('acme') + '/api/x')).json().headers.authorization).replace('Bearer ', '');
    const { Redis } = await import('ioredis');
    const client = new Redis('redis://127.0.0.1:6379');
    try {
      const keys = await client.keys('zonegate-test:login:*sess:*');
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const value = (await client.get(key)) ?? '';
        expect(value).not.toContain(token);
        expect(value).not.toContain(token.split('.')[1]!);
      }
    } finally {
      client.disconnect();
    }
  });
});

describe('Redis outage', () => {
  let redis: RedisServerHandle;
  let stack: LoginStack;
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startLoginStack({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await stack.close();
    await redis.stop();
  });

  it('answers 503 on routes that need a session while Redis is down, serves public routes, and recovers', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(200);
    await redis.stop();
    // A session read moments before the outage may be served until the gateway sees its link to
    // Redis drop (a matter of one event-loop turn); from then on nothing is served from memory.
    await new Promise((r) => setTimeout(r, 50));
    const down = await browser.get(stack.base('acme') + '/api/x', xhr);
    expect(down.status).toBe(503);
    expect(down.json().error.code).toBe('ZG_ERR_STORAGE_UNAVAILABLE');
    const page = await browser.get(stack.base('acme') + '/api/x');
    expect(page.status).toBe(503);
    expect(page.headers['content-type']).toMatch(/html/);
    expect((await browser.get(stack.base('acme') + '/public/x')).status).toBe(200);
    await redis.start();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await browser.get(stack.base('acme') + '/api/x', xhr)).status;
    }
    // The throw-away Redis keeps nothing on disk: the session is gone, so the answer is a clean 401.
    expect(status === 200 || status === 401).toBe(true);
    await stack.login(browser, 'acme', 'alice');
    expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(200);
  });
});
