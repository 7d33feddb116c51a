/**
 * Issue 15, part 2: the redirect relay over real HTTP. An installation registered with its exact
 * callback URLs asks for a relay state, the authorization server answers at the relay's one callback,
 * and the relay forwards code (or error) and the installation's own state to the registered URL.
 * Forged, replayed, expired states, unregistered installations and open-redirect attempts end on an
 * error page, never in a redirect.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../support/browser.js';
import type { TestGateway } from '../support/gateway.js';
import { admin, auditLines, startPlatformGateway } from './support.js';

let gw: TestGateway;
let secret: string;
const CALLBACK = 'https://shop-one.example.com/oauth/callback?tenant=a';
const relayBase = () => `http://localhost:${gw.port}/platform/v1/relay`;

beforeAll(async () => {
  gw = await startPlatformGateway();
  const res = await admin(gw, 'POST', '/relay-installations', { id: 'shop-one', callbackUrls: [CALLBACK, 'http://localhost:3000/callback'] });
  expect(res.status, res.text).toBe(201);
  secret = res.json().secret;
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
});
afterAll(() => gw?.stop());

function askState(body: Record<string, string>, credentials = `shop-one:${secret}`) {
  return new ScriptedBrowser().request(`${relayBase()}/states`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
    body: JSON.stringify(body),
  });
}

async function relayState(own = 'own-state-1', redirect = CALLBACK): Promise<string> {
  const res = await askState({ redirect_uri: redirect, state: own });
  expect(res.status, res.text).toBe(201);
  expect(res.json()).toMatchObject({ redirect_uri: `${relayBase()}/callback`, expires_in: 600 });
  return res.json().state;
}

/** The authorization server's redirect to the relay, as a browser follows it. */
function answer(query: Record<string, string>) {
  return new ScriptedBrowser().get(`${relayBase()}/callback?${new URLSearchParams(query)}`);
}

describe('registration (admin API)', () => {
  it('keeps the exact URLs, never shows the secret again, and refuses inexact or unsafe URLs', async () => {
    const got = await admin(gw, 'GET', '/relay-installations/shop-one');
    expect(got.json()).toEqual({ id: 'shop-one', name: 'shop-one', callbackUrls: [CALLBACK, 'http://localhost:3000/callback'], createdAt: expect.any(String) });
    const bad = await admin(gw, 'POST', '/relay-installations', { id: 'x', callbackUrls: ['http://shop.example.com/cb', 'https://*.example.com/cb', 'https://a.example.com/cb#f', 'https://u:p@a.example.com/cb', '/relative'] });
    expect(bad.status).toBe(400);
    const message = bad.json().error_description as string;
    for (const part of ['must be https', 'must be exact', 'must not have a fragment', 'must not carry user info', 'is not an absolute URL']) expect(message).toContain(part);
  });
});

describe('GET /platform/v1/relay/callback', () => {
  it('relays the code and the installation\'s own state to its registered URL, once', async () => {
    const from = gw.logs.length;
    const state = await relayState();
    const res = await answer({ code: 'the-code', state, iss: 'https://idp.example.com' });
    expect(res.status).toBe(302);
    const to = new URL(String(res.headers.location));
    expect(`${to.origin}${to.pathname}`).toBe('https://shop-one.example.com/oauth/callback');
    expect(Object.fromEntries(to.searchParams)).toEqual({ tenant: 'a', code: 'the-code', state: 'own-state-1', iss: 'https://idp.example.com' });
    expect(res.headers['referrer-policy']).toBe('no-referrer');

    const replay = await answer({ code: 'the-code', state });
    expect(replay.status).toBe(400);
    expect(replay.headers.location).toBeUndefined();
    expect(replay.headers['x-zonegate-error']).toBe('ZG_ERR_RELAY_STATE_INVALID');
    expect(replay.headers['content-type']).toContain('text/html');
    expect(auditLines(gw, from).map((l) => `${l.audit} ${l.outcome} ${l.reason ?? ''}`.trim())).toEqual([
      'relay.state success',
      'relay.callback success',
      'relay.callback refused used_or_unknown',
    ]);
    expect(gw.logs.slice(from).join('\n')).not.toContain('the-code');
    expect(gw.logs.slice(from).join('\n')).not.toContain(state.split('.')[2]);
  });

  it('relays an error answer too', async () => {
    const res = await answer({ error: 'access_denied', error_description: 'The user said no', state: await relayState('s2', 'http://localhost:3000/callback') });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('http://localhost:3000/callback?error=access_denied&error_description=The+user+said+no&state=s2');
  });

  it('two answers with one state at once: exactly one is relayed', async () => {
    const state = await relayState();
    const answers = await Promise.all([1, 2, 3].map(() => answer({ code: 'c', state })));
    expect(answers.map((a) => a.status).sort()).toEqual([302, 400, 400]);
  });

  describe('attacks: an error page, never a redirect', () => {
    const cases: [string, () => Promise<Record<string, string>>, string][] = [
      ['no state', async () => ({ code: 'c' }), 'no_state'],
      ['a state with its signature altered', async () => {
        const state = await relayState();
        return { code: 'c', state: `${state.slice(0, -4)}${state.endsWith('AAAA') ? 'BBBB' : 'AAAA'}` };
      }, 'forged'],
      ['a state signed with another key', async () => ({
        code: 'c',
        state: await new SignJWT({ ins: 'shop-one' }).setProtectedHeader({ alg: 'HS256', typ: 'zonegate-relay-state+jwt' }).setJti('x').setExpirationTime('5m').sign(new Uint8Array(32)),
      }), 'forged'],
      ['a state with the installation\'s name changed', async () => {
        const state = await relayState();
        const [h, p, s] = state.split('.');
        const payload = { ...JSON.parse(Buffer.from(p!, 'base64url').toString()), ins: 'evil' };
        return { code: 'c', state: `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}` };
      }, 'forged'],
      ['an unsigned state (alg none)', async () => ({ code: 'c', state: `${b64({ alg: 'none', typ: 'zonegate-relay-state+jwt' })}.${b64({ ins: 'shop-one', jti: 'j', exp: 9999999999 })}.` }), 'forged'],
      ['an answer without code or error', async () => ({ state: await relayState() }), 'no_answer'],
      ['a repeated code', async () => ({ state: await relayState(), code: 'a' }), 'repeated'],
    ];
    for (const [name, query, reason] of cases) {
      it(name, async () => {
        const q = await query();
        const from = gw.logs.length;
        const url = name === 'a repeated code' ? `${relayBase()}/callback?${new URLSearchParams(q)}&code=b` : `${relayBase()}/callback?${new URLSearchParams(q)}`;
        const res = await new ScriptedBrowser().get(url);
        expect(res.status).toBe(400);
        expect(res.headers.location).toBeUndefined();
        expect(res.text).toContain('ZG_ERR_RELAY_STATE_INVALID');
        expect(auditLines(gw, from)[0]).toMatchObject({ audit: 'relay.callback', outcome: 'refused', reason });
      });
    }

    it('redirect targets in the request are ignored: only the registered URL is ever used', async () => {
      const state = await relayState();
      const res = await answer({ code: 'c', state, redirect_uri: 'https://evil.example/', next: 'https://evil.example/', return_to: '//evil.example' });
      expect(res.status).toBe(302);
      expect(String(res.headers.location)).toMatch(/^https:\/\/shop-one\.example\.com\/oauth\/callback\?tenant=a&code=c&state=own-state-1$/);
    });

    it('a state for an installation removed since: refused', async () => {
      const created = await admin(gw, 'POST', '/relay-installations', { id: 'gone', callbackUrls: ['https://gone.example.com/cb'] });
      const goneSecret = created.json().secret;
      const asked = await askState({ redirect_uri: 'https://gone.example.com/cb' }, `gone:${goneSecret}`);
      expect(asked.status).toBe(201);
      expect((await admin(gw, 'DELETE', '/relay-installations/gone')).status).toBe(200);
      const from = gw.logs.length;
      const res = await answer({ code: 'c', state: asked.json().state });
      expect(res.status).toBe(400);
      expect(res.text).toContain('no longer registered');
      expect(auditLines(gw, from)[0]).toMatchObject({ reason: 'unregistered', installation: 'gone' });
    });
  });
});

describe('POST /platform/v1/relay/states', () => {
  it('refuses a redirect_uri that is not registered exactly (no prefix, no other query, no other host)', async () => {
    for (const uri of ['https://shop-one.example.com/oauth/callback', `${CALLBACK}&x=1`, 'https://evil.example/cb', 'http://localhost:3000/callback/../evil']) {
      const res = await askState({ redirect_uri: uri, state: 's' });
      expect(res.status, uri).toBe(400);
    }
  });

  it('refuses wrong, missing or another installation\'s credentials', async () => {
    expect((await askState({ redirect_uri: CALLBACK }, `shop-one:${'x'.repeat(43)}`)).status).toBe(401);
    expect((await askState({ redirect_uri: CALLBACK }, `nobody:${secret}`)).status).toBe(401);
    expect((await askState({ redirect_uri: CALLBACK }, 'shop-one:%E0%A4%A')).status).toBe(401);
    const none = await new ScriptedBrowser().request(`${relayBase()}/states`, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Basic');
  });
});

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
