/**
 * Refresh-token rotation against a client that retries (issue 12): SAP's application router repeats a
 * refresh up to three times with the same refresh token. Within the grace window the immediately
 * previous token gets the family's current refresh token again; anything else that reuses a token
 * revokes the family. Real HTTP against a real identity server; the clock is the server's `now`.
 */
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, REDIRECT, loginForCode, security, startZones, type Harness } from './harness.js';

let h: Harness;
/** Added to the real time the server sees: moves past the grace window without waiting for it. */
let skewMs = 0;

beforeAll(async () => {
  h = await startZones({ now: () => Date.now() + skewMs, refreshTokenReuseSeconds: 10 });
});
afterAll(async () => {
  await h?.close();
});

interface Tokens {
  access_token: string;
  refresh_token: string;
}

async function login(userName = 'alice'): Promise<Tokens> {
  const { code } = await loginForCode(h, new Browser(h), 'acme', { userName });
  const res = await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT });
  expect(res.status, res.text).toBe(200);
  return res.json() as Tokens;
}

const refresh = (refreshToken: string, auth?: { id: string; secret: string }) => h.token('acme', { grant_type: 'refresh_token', refresh_token: refreshToken }, auth);

async function works(accessToken: string): Promise<boolean> {
  const res = await h.call('acme', { path: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } });
  return res.status === 200;
}

describe('refresh-token retries within the grace window', () => {
  it("answers the router's three quick retries with the same current refresh token and working access tokens", async () => {
    const first = await login();
    const attempts = [];
    for (let i = 0; i < 3; i++) attempts.push(await refresh(first.refresh_token));
    for (const a of attempts) expect(a.status, a.text).toBe(200);
    const answers = attempts.map((a) => a.json() as Tokens);
    // One rotation, repeated: whichever answer reached the client, it holds the family's live token.
    expect(new Set(answers.map((a) => a.refresh_token)).size).toBe(1);
    expect(answers[0]!.refresh_token).not.toBe(first.refresh_token);
    expect(new Set(answers.map((a) => decodeJwt(a.access_token).jti)).size).toBe(3);
    for (const a of answers) {
      expect(await works(a.access_token)).toBe(true);
      expect(decodeJwt(a.access_token)).toMatchObject({ grant_type: 'refresh_token', user_name: 'alice' });
    }

    // The family goes on from the repeated token, and the first token is now two generations old.
    const next = await refresh(answers[0]!.refresh_token);
    expect(next.status, next.text).toBe(200);
    expect((await refresh(first.refresh_token)).json().error).toBe('invalid_grant');
    expect(await works((next.json() as Tokens).access_token)).toBe(false);
    // The access tokens the retries answered with belong to the family and went with it.
    for (const a of answers) expect(await works(a.access_token)).toBe(false);
  });

  it('never forks the family when refreshes with one token run in parallel', async () => {
    const first = await login();
    const attempts = await Promise.all(Array.from({ length: 5 }, () => refresh(first.refresh_token)));
    for (const a of attempts) expect(a.status, a.text).toBe(200);
    const tokens = new Set(attempts.map((a) => (a.json() as Tokens).refresh_token));
    expect(tokens.size).toBe(1);
    const [current] = [...tokens];
    for (const a of attempts) expect(await works((a.json() as Tokens).access_token)).toBe(true);
    const next = await refresh(current!);
    expect(next.status, next.text).toBe(200);
    expect(await works((next.json() as Tokens).access_token)).toBe(true);
  });

  it('keeps the successor in storage only sealed under the token it replaced', async () => {
    const first = await login();
    const rotated = (await refresh(first.refresh_token)).json() as Tokens;
    const key = `zrt-retry:${createHash('sha256').update(first.refresh_token).digest('base64url')}`;
    const stored = await h.storage.get(key);
    expect(stored).toBeDefined();
    expect(stored).not.toContain(rotated.refresh_token);
  });
});

describe('refresh-token reuse outside the grace', () => {
  it('revokes the family when the previous token comes back after the window, the newest token too', async () => {
    const first = await login();
    const rotated = (await refresh(first.refresh_token)).json() as Tokens;
    skewMs = 11_000;
    try {
      const late = await refresh(first.refresh_token);
      expect(late.status).toBe(400);
      expect(late.json().error).toBe('invalid_grant');
      expect((await refresh(rotated.refresh_token)).json().error).toBe('invalid_grant');
      expect(await works(rotated.access_token)).toBe(false);
      expect(await works(first.access_token)).toBe(false);
    } finally {
      skewMs = 0;
    }
  });

  it('revokes the family when a token older than the previous one comes back, even within the window', async () => {
    const first = await login();
    const second = (await refresh(first.refresh_token)).json() as Tokens;
    const third = (await refresh(second.refresh_token)).json() as Tokens;
    expect((await refresh(first.refresh_token)).json().error).toBe('invalid_grant');
    expect((await refresh(third.refresh_token)).json().error).toBe('invalid_grant');
    expect(await works(third.access_token)).toBe(false);
  });

  it('refuses a retry by another client and revokes the family (the grace is bound to the client)', async () => {
    const other = await h.directory.registerApplication(security('retryother'), h.provider.id);
    await h.directory.subscribe(other.application, h.acme.id);
    const first = await login();
    const rotated = (await refresh(first.refresh_token)).json() as Tokens;
    const stolen = await refresh(first.refresh_token, { id: other.application.clientId, secret: other.clientSecret });
    expect(stolen.json()).toEqual({ error: 'invalid_grant', error_description: 'The refresh token was issued to another client' });
    expect((await refresh(rotated.refresh_token)).json().error).toBe('invalid_grant');
    expect(await works(rotated.access_token)).toBe(false);
  });
});

describe('refresh-token grace disabled', () => {
  it('treats an immediate retry as reuse when refreshTokenReuseSeconds is 0', async () => {
    const strict = await startZones({ refreshTokenReuseSeconds: 0 });
    try {
      const { code } = await loginForCode(strict, new Browser(strict), 'acme', { userName: 'alice' });
      const first = (await strict.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json() as Tokens;
      const rotated = await strict.token('acme', { grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(rotated.status).toBe(200);
      expect((await strict.token('acme', { grant_type: 'refresh_token', refresh_token: first.refresh_token })).json().error).toBe('invalid_grant');
      expect((await strict.token('acme', { grant_type: 'refresh_token', refresh_token: rotated.json().refresh_token })).json().error).toBe('invalid_grant');
    } finally {
      await strict.close();
    }
  });
});
