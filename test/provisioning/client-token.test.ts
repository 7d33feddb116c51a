import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientTokenGetter } from '../../src/provisioning/client-token.js';

/** A token endpoint on a real server: records the forms it gets, answers what the test sets. */
let server: http.Server;
let base: string;
const forms: URLSearchParams[] = [];
let answer: { status: number; body: object } = { status: 200, body: {} };
let issued = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      forms.push(new URLSearchParams(body));
      const payload = answer.status === 200 ? { access_token: `t${++issued}`, token_type: 'bearer', ...answer.body } : answer.body;
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe('createClientTokenGetter', () => {
  it('asks <url>/oauth/token with client_secret_post, shares concurrent requests, and reuses the token until a minute before expiry', async () => {
    let now = 1_000_000;
    answer = { status: 200, body: { expires_in: 3600 } };
    const get = createClientTokenGetter(() => ({ url: base, clientId: 'sb-app!t1', clientSecret: 'sec', now: () => now }));
    forms.length = 0;
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(b);
    expect(forms).toHaveLength(1);
    expect(Object.fromEntries(forms[0]!)).toEqual({ grant_type: 'client_credentials', client_id: 'sb-app!t1', client_secret: 'sec' });
    now += 3540_000 - 1;
    expect(await get()).toBe(a);
    now += 1;
    expect(await get()).not.toBe(a);
    expect(forms).toHaveLength(2);
  });

  it('fails with the endpoint status and OAuth error, and tries again on the next call', async () => {
    answer = { status: 401, body: { error: 'invalid_client' } };
    const get = createClientTokenGetter(() => ({ url: base, clientId: 'x', clientSecret: 'wrong' }));
    await expect(get()).rejects.toThrow('the token endpoint answered 401 (invalid_client)');
    answer = { status: 200, body: { expires_in: 60 } };
    await expect(get()).resolves.toMatch(/^t\d+$/);
  });
});
