/**
 * The single-use rules hold across instances, on both storage backends: two instances (each with
 * its own handle on the shared store, as two gateway processes have) given one platform assertion,
 * one one-time login reference or one relay state at the same moment accept it exactly once. And
 * with the clock moved on: an assertion, a link and a relay state expire when they say.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAssertionVerifier } from '../../src/platform/assertion.js';
import { createAudit } from '../../src/platform/audit.js';
import { PlatformError } from '../../src/platform/errors.js';
import { issueOneTimeLogin, takeOneTimeLogin } from '../../src/platform/one-time-login.js';
import { createRelay, createRelayInstallations } from '../../src/platform/relay.js';
import { createTrustedPlatforms } from '../../src/platform/trusted-platforms.js';
import { createMemoryLogger } from '../../src/log.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/types.js';
import { openTestRecords } from '../support/records.js';
import { createTestPlatform, type TestPlatform } from './support.js';

const AUD = 'https://acme.auth.example.com/oauth/token';
let records: RecordsDatabase;
let platform: TestPlatform;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-platform-storage-'));

beforeAll(async () => {
  records = await openTestRecords();
  platform = await createTestPlatform('tix', { pem: true });
  await createTrustedPlatforms(records).create({ id: 'tix', name: 'tix', publicKeyPem: platform.publicKeyPem!, algorithm: 'RS256', subdomainPattern: 'tix-*', roleCollections: [] });
});
afterAll(async () => {
  await records?.close();
  await platform?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const backends: [string, () => Promise<[Storage, Storage]>][] = [
  ['SQLite (embedded)', async () => {
    const file = path.join(dir, `${randomUUID()}.db`);
    return [await openStorage({ kind: 'sqlite', file }), await openStorage({ kind: 'sqlite', file })];
  }],
  ['Redis', async () => {
    const keyPrefix = `zg-test-platform-${randomUUID()}:`;
    const open = () => openStorage({ kind: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix });
    return [await open(), await open()];
  }],
];

for (const [name, open] of backends) {
  describe(`two instances on ${name}`, () => {
    let a: Storage;
    let b: Storage;
    beforeAll(async () => {
      [a, b] = await open();
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it('one assertion: exactly one instance accepts it', async () => {
      const platforms = createTrustedPlatforms(records);
      const instances = [createAssertionVerifier({ platforms, storage: a }), createAssertionVerifier({ platforms, storage: b })];
      const jwt = await platform.sign({ aud: AUD, sub: 'jane' });
      const outcomes = await Promise.allSettled([...instances, ...instances].map((v) => v.verify(jwt, AUD)));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
        expect(o.reason).toBeInstanceOf(PlatformError);
        expect((o.reason as PlatformError).reason).toBe('replayed');
      }
    });

    it('one login link: exactly one instance redeems it', async () => {
      const now = Date.now();
      const { reference } = await issueOneTimeLogin(a, { zoneId: 'z', userId: 'u', platformId: 'tix', returnUrl: 'https://acme.example.com/' }, now);
      const taken = await Promise.all([a, b, a, b].map((s) => takeOneTimeLogin(s, reference, now)));
      expect(taken.filter(Boolean)).toHaveLength(1);
    });

    it('one relay state: exactly one instance relays it', async () => {
      const installations = createRelayInstallations(records);
      const id = `i-${randomUUID().slice(0, 8)}`;
      const { secret } = await installations.create({ id, name: id, callbackUrls: ['https://shop.example.com/cb'] });
      const secretKey = new Uint8Array(32).fill(7);
      const audit = createAudit(createMemoryLogger('info'));
      const [ra, rb] = [a, b].map((storage) => createRelay({ installations, storage, secretKey, audit }));
      const req = { headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` } } as never;
      const { state } = await ra!.issueState(req, { redirectUri: 'https://shop.example.com/cb', state: 'mine' }, 'https://relay.example.com/cb');
      const query = () => new URLSearchParams({ code: 'c', state });
      const outcomes = await Promise.allSettled([ra!, rb!, ra!, rb!].map((r) => r.relayCallback(query())));
      const relayed = outcomes.filter((o): o is PromiseFulfilledResult<string> => o.status === 'fulfilled');
      expect(relayed.map((o) => o.value)).toEqual(['https://shop.example.com/cb?code=c&state=mine']);
    });
  });
}

describe('expiry, with the clock moved on', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await openStorage({ kind: 'sqlite', file: path.join(dir, 'clock.db') });
  });
  afterAll(() => storage?.close());

  it('an assertion is refused once its exp (plus 30 s of skew) has passed', async () => {
    const jwt = await platform.sign({ aud: AUD }, { lifetimeS: 60 });
    const later = createAssertionVerifier({ platforms: createTrustedPlatforms(records), storage, now: () => Date.now() + 91_000 });
    await expect(later.verify(jwt, AUD)).rejects.toMatchObject({ reason: 'expired' });
  });

  it('a login link is refused after 60 s, even if the store still had it', async () => {
    const issued = Date.now();
    const { reference } = await issueOneTimeLogin(storage, { zoneId: 'z', userId: 'u', platformId: 'tix', returnUrl: 'https://x.example/' }, issued);
    expect(await takeOneTimeLogin(storage, reference, issued + 60_001)).toBeUndefined();
  });

  it('a relay state is refused after 10 minutes', async () => {
    const installations = createRelayInstallations(records);
    const { secret } = await installations.create({ id: 'clock', name: 'clock', callbackUrls: ['https://c.example.com/cb'] });
    let now = Date.now();
    const relay = createRelay({ installations, storage, secretKey: new Uint8Array(32).fill(1), audit: createAudit(createMemoryLogger('info')), now: () => now });
    const req = { headers: { authorization: `Basic ${Buffer.from(`clock:${secret}`).toString('base64')}` } } as never;
    const { state } = await relay.issueState(req, { redirectUri: 'https://c.example.com/cb', state: undefined }, 'https://relay.example.com/cb');
    now += 601_000;
    await expect(relay.relayCallback(new URLSearchParams({ code: 'c', state }))).rejects.toMatchObject({ reason: 'expired' });
  });
});

describe("the zones' side of the relay", () => {
  const zones = { uaaDomain: 'auth.example.com', publicUrlFor: (sub?: string) => `https://${sub ? `${sub}.` : ''}auth.example.com` };

  it('relays only to a zone\'s brokering callback, never to anything else', async () => {
    const { isZoneCallback } = await import('../../src/platform/relay.js');
    expect(isZoneCallback(zones, 'https://acme.auth.example.com/login/callback/corp')).toBe(true);
    for (const url of [
      'https://acme.auth.example.com/login/callback/corp?next=x',
      'https://acme.auth.example.com/oauth/authorize',
      'https://acme.auth.example.com/login/callback/../../evil',
      'http://acme.auth.example.com/login/callback/corp',
      'https://acme.auth.example.com:8443/login/callback/corp',
      'https://auth.example.com/login/callback/corp',
      'https://evil.example/login/callback/corp',
      'https://acme.auth.example.com.evil.example/login/callback/corp',
      'https://u:p@acme.auth.example.com/login/callback/corp',
    ]) {
      expect(isZoneCallback(zones, url), url).toBe(false);
    }
    const storage = await openStorage({ kind: 'sqlite', file: path.join(dir, 'zones.db') });
    const relay = createRelay({ installations: createRelayInstallations(records), storage, secretKey: new Uint8Array(32).fill(3), audit: createAudit(createMemoryLogger('info')), zones });
    await expect(relay.stateForZone('https://evil.example/login/callback/corp', 's')).rejects.toThrow(RangeError);
    const state = await relay.stateForZone('https://acme.auth.example.com/login/callback/corp', 'zone-state');
    expect(await relay.relayCallback(new URLSearchParams({ code: 'c', state, iss: 'https://idp.example' }))).toBe(
      'https://acme.auth.example.com/login/callback/corp?code=c&iss=https%3A%2F%2Fidp.example&state=zone-state',
    );
    // Nobody can ask for a zones state over HTTP: "$zones" is no installation one can authenticate as.
    const req = { headers: { authorization: `Basic ${Buffer.from('$zones:anything').toString('base64')}` } } as never;
    await expect(relay.issueState(req, { redirectUri: 'https://acme.auth.example.com/login/callback/corp', state: 's' }, 'https://r')).rejects.toMatchObject({ reason: 'bad_credentials' });
    await storage.close();
  });
});
