import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';

/**
 * Polling `GET /events` through the real gateway (port 0): a tenant's token sees only that tenant's
 * events, filtered and paginated; another tenant's token, on any host, sees nothing; polling faster
 * than EVENTS_POLL_RATE_LIMIT is 429 with Retry-After.
 */
const ADMIN = 'poll-admin-token-0123456789';
let gw: TestGateway;
let acmeToken: string;
let globexToken: string;

const admin = (method: string, path: string, body?: unknown) =>
  request(gw.port, { method, path, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
const poll = (tenant: string, query: string, token?: string) =>
  request(gw.port, { path: `/events${query}`, host: `${tenant}.localhost:${gw.port}`, headers: token ? { authorization: `Bearer ${token}` } : {} });

beforeAll(async () => {
  gw = await startTestGateway({
    routes: { routes: [{ source: '^/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] },
    env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$', EVENTS_ADMIN_TOKEN: ADMIN, EVENTS_POLL_RATE_LIMIT: '20' },
  });
  acmeToken = (await admin('POST', '/_zonegate/events/tokens', { tenant: 'acme' })).json().token;
  globexToken = (await admin('POST', '/_zonegate/events/tokens', { tenant: 'globex' })).json().token;
  // Five acme events a minute apart (their times are the publisher's: recorded now, so filtered by name and page here).
  for (let i = 1; i <= 5; i++) await admin('POST', '/_zonegate/events', { tenant: 'acme', name: i % 2 ? 'order.created' : 'order.paid', data: { i }, id: `acme-${i}` });
  await admin('POST', '/_zonegate/events', { tenant: 'globex', name: 'order.created', data: { secret: 'globex only' }, id: 'globex-1' });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

describe('polling GET /events', () => {
  it('returns the tenant\'s events, oldest first, filtered by name, a page at a time with a next link', async () => {
    const all = await poll('acme', '', acmeToken);
    expect(all.status).toBe(200);
    expect(all.json().data.map((e: { id: string }) => e.id)).toEqual(['acme-1', 'acme-2', 'acme-3', 'acme-4', 'acme-5']);
    expect(all.json().data[0]).toMatchObject({ name: 'order.created', data: { i: 1 } });
    const created = await poll('acme', '?filter[name]=order.created', acmeToken);
    expect(created.json().data.map((e: { id: string }) => e.id)).toEqual(['acme-1', 'acme-3', 'acme-5']);
    const page1 = await poll('acme', '?per=2', acmeToken);
    expect(page1.json()).toMatchObject({ page: 1, per: 2, more: true });
    expect(page1.headers.link).toBe('</events?per=2&page=2>; rel="next"');
    const page3 = await poll('acme', '?per=2&page=3', acmeToken);
    expect(page3.json().data.map((e: { id: string }) => e.id)).toEqual(['acme-5']);
    expect(page3.json().more).toBe(false);
    expect(page3.headers.link).toBeUndefined();
  });

  it('filters by time: from inclusive, to exclusive', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await poll('acme', `?filter[from]=${future}`, acmeToken)).json().data).toEqual([]);
    expect((await poll('acme', `?filter[to]=${future}`, acmeToken)).json().data).toHaveLength(5);
    expect((await poll('acme', '?filter[from]=2020-01-01T00:00:00Z&filter[to]=2020-01-02T00:00:00Z', acmeToken)).json().data).toEqual([]);
  });

  it('never shows one tenant\'s events to another tenant\'s token, on either host', async () => {
    const own = await poll('globex', '', globexToken);
    expect(own.json().data.map((e: { id: string }) => e.id)).toEqual(['globex-1']);
    // globex's token on acme's host: refused, as an unknown token is.
    const crossed = await poll('acme', '', globexToken);
    expect(crossed.status).toBe(401);
    expect(crossed.text).not.toContain('globex only');
    expect(crossed.text).not.toContain('acme-1');
    // acme's token on globex's host: refused too, never globex's events.
    const crossed2 = await poll('globex', '', acmeToken);
    expect(crossed2.status).toBe(401);
    expect(crossed2.text).not.toContain('globex only');
  });

  it('refuses a missing, unknown or revoked token, and malformed parameters', async () => {
    const none = await poll('acme', '');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
    expect((await poll('acme', '', 'zgev_not-a-token')).status).toBe(401);
    const made = (await admin('POST', '/_zonegate/events/tokens', { tenant: 'acme' })).json();
    expect((await poll('acme', '', made.token)).status).toBe(200);
    expect((await admin('DELETE', `/_zonegate/events/tokens/${made.id}`)).status).toBe(204);
    expect((await poll('acme', '', made.token)).status).toBe(401);
    expect((await poll('acme', '?per=1000', acmeToken)).status).toBe(400);
    expect((await poll('acme', '?filter[from]=yesterday', acmeToken)).status).toBe(400);
  });

  it('answers 429 with Retry-After beyond EVENTS_POLL_RATE_LIMIT per token, without touching another token\'s budget', async () => {
    const made = (await admin('POST', '/_zonegate/events/tokens', { tenant: 'acme' })).json();
    // Concurrent: the count is one atomic increment per poll, so a burst cannot slip past the limit.
    const answers = await Promise.all(Array.from({ length: 30 }, () => poll('acme', '', made.token)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    const limited = answers.find((a) => a.status === 429)!;
    expect(limited.headers['x-zonegate-error']).toBe('ZG_ERR_RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await poll('globex', '', globexToken)).status).toBe(200);
  });
});
