/**
 * Issue 10, faults: a Redis that stalls (SIGSTOP: connections stay open, nothing answers, then it
 * resumes and runs what it was sent) must never end a session. Real logins over HTTP against the
 * login stack, a redis-server of this test's own that is frozen and thawed, and the session records
 * read straight from that Redis afterwards.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FetchLike } from '../../src/login/relying-party.js';
import { localhostAwareFetch } from '../../src/net/localhost.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const xhr = { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' };
// Shorter than the stall, so requests during it fail (as they do in production with the 2 s default
// against a longer stall) instead of merely waiting for Redis to resume.
const COMMAND_TIMEOUT_MS = 300;
// Longer than a copy of a session serves after its read where the storage cannot vouch for its
// notices (1 s): what follows does not rest on a read made moments before.
const RECENT_READ_EXPIRY_MS = 1_100;
/** Longer than the session store serves copies once Redis answers nothing (1 s after the last heartbeat). */
const NOTHING_HEARD_MS = 1_300;

/** The session id inside express-session's signed cookie value (`s:<sid>.<signature>`, URI-encoded). */
function sessionIdOf(cookieValue: string): string {
  const text = decodeURIComponent(cookieValue);
  return text.slice(2, text.lastIndexOf('.'));
}

async function waitForRedis(stack: LoginStack): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await stack.gateways[0]!.storage.ping().then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error('Redis did not come back');
    await sleep(50);
  }
}

describe.each([
  ['sessions that only read', undefined],
  // Every request renews the token: the lock, reload and save of ensureFresh run during the stall.
  ['sessions due for a token refresh on every request', 24 * 60 * 60_000],
])('a Redis stall (%s)', (_name, refreshAheadMs) => {
  let redis: RedisServerHandle;
  let stack: LoginStack;
  let raw: Redis;
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startLoginStack({ redisUrl: redis.url, redisCommandTimeoutMs: COMMAND_TIMEOUT_MS, refreshAheadMs });
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    redis.resume();
    raw.disconnect();
    await stack.close();
    await redis.stop();
  });

  it('answers 503 during the stall, destroys no session, and every same cookie works again after it', async () => {
    const host = new URL(stack.base('acme')).host;
    const browsers: ScriptedBrowser[] = [];
    for (const user of ['alice', 'bob', 'alice', 'bob', 'alice']) {
      const browser = new ScriptedBrowser();
      await stack.login(browser, 'acme', user);
      expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(200);
      browsers.push(browser);
    }
    const cookies = browsers.map((b) => b.cookies(host).get('zonegate.sid')!);
    await sleep(RECENT_READ_EXPIRY_MS);

    redis.pause();
    let during: { status: number; code: unknown; type: string }[];
    try {
      // Copies kept in memory serve until nothing has been heard from Redis for a second (the
      // heartbeat, src/storage/redis.ts); from then on every request needs Redis.
      await sleep(NOTHING_HEARD_MS);
      // API clients and browsers alike, the logout among them: a storage error, not a missing session.
      during = await Promise.all(
        browsers.flatMap((b) => [
          b.get(stack.base('acme') + '/api/x', xhr),
          b.get(stack.base('acme') + '/api/x'),
          b.request(stack.base('acme') + '/api/x', { method: 'POST', headers: xhr, body: '{}' }),
        ]).map(async (p) => {
          const res = await p;
          return { status: res.status, code: res.headers['x-zonegate-error'], type: String(res.headers['content-type']) };
        }),
      );
      // Let the stall outlast the requests' own timeouts, so whatever they sent is queued in Redis.
      await sleep(600);
    } finally {
      redis.resume();
    }
    for (const [i, res] of during.entries()) {
      expect(res, `request ${i}`).toMatchObject({ status: 503, code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
      expect(res.type, `request ${i}`).toMatch(i % 3 === 1 ? /html/ : /json/);
    }
    await waitForRedis(stack);
    // Whatever was sent during the stall has run by now (Redis answers in order).
    await raw.ping();

    for (const [i, browser] of browsers.entries()) {
      // The cookie the browser had, unchanged: nothing during the stall replaced or cleared it.
      expect(browser.cookies(host).get('zonegate.sid'), `browser ${i}`).toBe(cookies[i]);
      const res = await browser.get(stack.base('acme') + '/api/x', xhr);
      expect(res.status, `browser ${i}`).toBe(200);
    }
    const prefix = (await raw.keys('*sess:*')).map((k) => k.slice(0, k.indexOf('sess:')))[0]!;
    for (const cookie of cookies) expect(await raw.exists(`${prefix}sess:${sessionIdOf(cookie)}`)).toBe(1);
  });

  it('a logout during the stall answers 503 and leaves the session in place; retried after it, it ends the session', async () => {
    const host = new URL(stack.base('acme')).host;
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    await sleep(RECENT_READ_EXPIRY_MS);
    redis.pause();
    let logout;
    try {
      logout = await browser.get(stack.base('acme') + '/logout');
    } finally {
      redis.resume();
    }
    expect(logout.status).toBe(503);
    expect(logout.headers['x-zonegate-error']).toBe('ZG_ERR_STORAGE_UNAVAILABLE');
    await waitForRedis(stack);
    expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(200);
    expect(browser.cookies(host).get('zonegate.sid')).toBeDefined();
    expect((await browser.get(stack.base('acme') + '/logout')).status).toBe(302);
    expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(401);
  });
});

describe('a Redis stall right after the zone has renewed the tokens', () => {
  let redis: RedisServerHandle;
  let stack: LoginStack;
  let raw: Redis;
  // Set by the test: freeze Redis the moment the zone has answered the next refresh, i.e. after the
  // zone rotated the refresh token and before the gateway could store the new one.
  let stallAfterNextRefresh: number | undefined;
  let stalled: Promise<void> | undefined;
  const fetchThatStalls: FetchLike = async (url, init) => {
    const res = await localhostAwareFetch(url, init);
    if (stallAfterNextRefresh !== undefined && String(url).endsWith('/oauth/token') && String(init?.body).includes('grant_type=refresh_token')) {
      const ms = stallAfterNextRefresh;
      stallAfterNextRefresh = undefined;
      redis.pause();
      stalled = sleep(ms).then(() => redis.resume());
    }
    return res;
  };
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startLoginStack({
      redisUrl: redis.url,
      redisCommandTimeoutMs: COMMAND_TIMEOUT_MS,
      // Every request renews the token.
      refreshAheadMs: 24 * 60 * 60_000,
      fetch: fetchThatStalls,
    });
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    redis.resume();
    raw.disconnect();
    await stack.close();
    await redis.stop();
  });

  it('keeps the renewed tokens (the spent refresh token is never presented again) and the session lives on', async () => {
    const host = new URL(stack.base('acme')).host;
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(200);
    const cookie = browser.cookies(host).get('zonegate.sid')!;

    stallAfterNextRefresh = 1_500;
    const during = await browser.get(stack.base('acme') + '/api/x', xhr);
    await stalled;
    await waitForRedis(stack);
    // The request that renewed waited for Redis to store what it got (it holds the refresh lock).
    expect(during.status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(200);
    expect(browser.cookies(host).get('zonegate.sid')).toBe(cookie);
    expect(stack.gateways[0]!.logs.some((l) => l.includes('refresh refused'))).toBe(false);
    const prefix = (await raw.keys('*sess:*')).map((k) => k.slice(0, k.indexOf('sess:')))[0]!;
    expect(await raw.exists(`${prefix}sess:${sessionIdOf(cookie)}`)).toBe(1);
  });
});

describe('a Redis stall seen by two gateway instances', () => {
  let redis: RedisServerHandle;
  let stack: LoginStack;
  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startLoginStack({ instances: 2, redisUrl: redis.url, redisCommandTimeoutMs: COMMAND_TIMEOUT_MS });
  });
  afterAll(async () => {
    redis.resume();
    await stack.close();
    await redis.stop();
  });

  it('neither instance serves a session from memory that a logout ended after the stall, and a logout during it ends nothing', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice', '/api/x', 0);
    const host0 = new URL(stack.base('acme', 0)).host;
    const other = new ScriptedBrowser();
    other.cookies(new URL(stack.base('acme', 1)).host).set('zonegate.sid', browser.cookies(host0).get('zonegate.sid')!);
    expect((await other.get(stack.base('acme', 1) + '/api/x', xhr)).status).toBe(200);
    await sleep(RECENT_READ_EXPIRY_MS);

    redis.pause();
    try {
      expect((await browser.get(stack.base('acme', 0) + '/logout')).status).toBe(503);
    } finally {
      redis.resume();
    }
    await waitForRedis(stack);
    // The failed logout ended nothing: instance 1 reads the session (and keeps it as a recent read).
    for (let i = 0; i < 2; i++) expect((await other.get(stack.base('acme', 1) + '/api/x', xhr)).status).toBe(200);
    // The change notices survived the stall: a logout on instance 0 ends instance 1's recent read at once.
    expect((await browser.get(stack.base('acme', 0) + '/logout')).status).toBe(302);
    expect((await other.get(stack.base('acme', 1) + '/api/x', xhr)).status).toBe(401);
  });
});
