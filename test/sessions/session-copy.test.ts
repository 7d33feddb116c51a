/**
 * Issue 18, memory per session: what a process keeps of a session it read is compact and frozen,
 * and gives back exactly what it was given.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { SignJWT, importPKCS8 } from 'jose';
import type { SessionData } from 'express-session';
import { describe, expect, it } from 'vitest';
import { expiresOf, SharedValues, sessionCopy } from '../../src/sessions/session-copy.js';
import { fakeJwt, sessionData } from './helpers.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');

/** An access token as a zone issues it: RS256, a header with kid and jku, about 1.5 KB. */
function zoneToken(user: string): Promise<string> {
  return new SignJWT({
    zid: '00000000-0000-4001-8000-000000000000',
    ext_attr: { enhancer: 'XSUAA', subaccountid: '00000000-0000-4001-8000-000000000000', zdn: 'acme' },
    cid: 'sb-myapp!t7',
    client_id: 'sb-myapp!t7',
    azp: 'sb-myapp!t7',
    aud: ['sb-myapp!t7', 'openid', 'myapp!t7'],
    scope: ['openid', 'myapp!t7.Admin', 'myapp!t7.Viewer'],
    grant_type: 'authorization_code',
    user_name: user,
    origin: 'sap.default',
    email: `${user}@acme.example`,
    given_name: 'Alice',
    family_name: 'Example',
    auth_time: Math.floor(Date.now() / 1000),
    rev_sig: randomBytes(4).toString('hex'),
    user_id: randomBytes(16).toString('hex'),
    jti: randomBytes(16).toString('hex'),
    'xs.user.attributes': {},
    'xs.system.attributes': { 'xs.rolecollections': ['Admins'] },
  })
    .setProtectedHeader({ alg: 'RS256', kid: 'key-1', typ: 'JWT', jku: 'https://acme.authentication.example.com/token_keys' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .setIssuer('https://acme.authentication.example.com/oauth/token')
    .setSubject(randomBytes(16).toString('hex'))
    .sign(signingKey);
}

function loggedIn(accessToken: string, name = 'alice', scopes = ['openid', 'myapp!t7.Admin']) {
  return sessionData({
    tenant: 'acme',
    user: { name, email: `${name}@acme.example`, origin: 'sap.default', zoneId: 'zone-acme', scopes, attributes: {} },
    tokens: { accessToken, refreshToken: 'refresh-'.repeat(100), idToken: 'id-'.repeat(300), expiresAt: Date.now() + 3_600_000 },
    csrfToken: 'csrf-token',
    createdAt: Date.now(),
    storedUntil: Date.now() + 60_000,
  });
}

describe('sessionCopy', () => {
  it('gives back every access token exactly as it came, JWT or not', async () => {
    const shared = new SharedValues();
    const jwt = await zoneToken('alice');
    const [h, p, s] = jwt.split('.');
    // 256 signature bytes take 342 characters; the last one's 4 low bits are zero. Set, they decode the same.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const trailingBitSet = `${s!.slice(0, -1)}${alphabet[alphabet.indexOf(s!.at(-1)!) | 1]}`;
    expect(Buffer.from(trailingBitSet, 'base64url')).toEqual(Buffer.from(s!, 'base64url'));
    const tokens = [
      jwt,
      fakeJwt('small'),
      // Base64url that decodes but would not come back the same: trailing bits set, padding, a stray character.
      `${h}.${p}.${trailingBitSet}`,
      `${h}.${p}=.${s}`,
      `${h}.${p}.${s}*`,
      'opaque-token-without-dots',
      'a.b',
      'a.b.c.d',
      '..',
    ];
    for (const token of tokens) expect(sessionCopy(loggedIn(token), undefined, shared).tokens!.accessToken).toBe(token);
  });

  it('keeps what a read-only request uses, deep-frozen, and never the refresh or ID token', async () => {
    const data = loggedIn(await zoneToken('alice'));
    data.backendCookies = { backend: [{ name: 'JSESSIONID', value: 'j1', path: '/' }] } as never;
    data.user!.attributes = { cost_center: ['4711'] };
    const expires = Date.now() + 900_000;
    const copy = sessionCopy(data, expires, new SharedValues());
    expect(copy).toMatchObject({
      tenant: 'acme',
      user: { name: 'alice', email: 'alice@acme.example', origin: 'sap.default', zoneId: 'zone-acme', scopes: ['openid', 'myapp!t7.Admin'], attributes: { cost_center: ['4711'] } },
      tokens: { accessToken: data.tokens!.accessToken, expiresAt: data.tokens!.expiresAt },
      csrfToken: 'csrf-token',
      backendCookies: data.backendCookies,
      createdAt: data.createdAt,
      storedUntil: data.storedUntil,
    });
    // The cookie's deadline, for the store's checks, as a number: no express-session cookie, no Date.
    expect(expiresOf(copy)).toBe(expires);
    expect(copy.cookie).toBeUndefined();
    expect(expiresOf(data)).toBe(new Date(data.cookie.expires!).getTime());
    expect(JSON.stringify(copy)).not.toContain('refresh-');
    expect(JSON.stringify(copy)).not.toContain('id-id-');
    for (const value of [copy, copy.user, copy.user!.scopes, copy.user!.attributes, copy.user!.attributes['cost_center'], copy.tokens, copy.backendCookies]) {
      expect(Object.isFrozen(value)).toBe(true);
    }
    expect(() => ((copy.user as { name: string }).name = 'mallory')).toThrow(TypeError);
    // The session it was made from stays the request's to change.
    expect(Object.isFrozen(data.backendCookies)).toBe(false);
    expect(Object.isFrozen(data.user!.attributes)).toBe(false);
    expect(Object.isFrozen(data.user!.scopes)).toBe(false);
  });

  it('holds one list of scopes for every session with the same scopes', async () => {
    const shared = new SharedValues();
    const token = fakeJwt('t');
    const a = sessionCopy(loggedIn(token, 'alice'), undefined, shared);
    const b = sessionCopy(loggedIn(token, 'bob'), undefined, shared);
    const c = sessionCopy(loggedIn(token, 'carol', ['openid']), undefined, shared);
    expect(a.user!.scopes).toBe(b.user!.scopes);
    expect(c.user!.scopes).not.toBe(a.user!.scopes);
    expect(c.user!.scopes).toEqual(['openid']);
  });

  // The goal is 2 KiB per session in all; the caches' entries and keys take about 0.3 KiB more.
  it('takes less than 1.5 KiB of heap per session with a 1.5 KB access token', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const count = 2_000;
    const shared = new SharedValues();
    // Different tokens for different users, as sessions hold them (a token is never shared).
    const sessions = await Promise.all(Array.from({ length: count }, (_, i) => zoneToken(`user-${i}`).then((t) => loggedIn(t, `user-${i}`))));
    expect(sessions[0]!.tokens!.accessToken.length).toBeGreaterThan(1_500);
    const used = () => {
      gc();
      gc();
      return v8.getHeapStatistics().used_heap_size;
    };
    const stored = sessions.map((s) => JSON.stringify(s));
    sessionCopy(sessions[0]!, undefined, shared);
    const before = used();
    // Opened from storage as the store does: strings of their own, the parsed session garbage afterwards.
    const copies = stored.map((json) => sessionCopy(JSON.parse(json) as SessionData, Date.now() + 900_000, shared));
    const perCopy = (used() - before) / count;
    expect(copies).toHaveLength(count);
    expect(perCopy).toBeLessThan(1536);
  });
});
