/**
 * Rotation as the identity server serves it. The key store itself (first key, races, overlap,
 * sealing) is tested on every records backend by test/zones/keys/keystore-contract.ts.
 */
import { createPublicKey } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { Browser, REDIRECT, loginForCode, startZones } from './harness.js';

describe('rotation through the identity server', () => {
  it('tokens signed before a rotation still verify; new tokens carry the new kid; token_keys lists both', async () => {
    const h = await startZones();
    try {
      const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'alice' });
      const before = (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json().access_token;
      const [kid] = await h.server.rotateKeys(h.acme.id);
      const after = (await h.token('acme', { grant_type: 'client_credentials' })).json().access_token;
      expect(decodeProtectedHeader(after).kid).toBe(kid);
      expect(decodeProtectedHeader(before).kid).not.toBe(kid);
      const published = (await h.call('acme', { path: '/token_keys' })).json().keys as { kid: string; value: string }[];
      expect(published.map((k) => k.kid)).toEqual([kid, decodeProtectedHeader(before).kid]);
      for (const token of [before, after]) {
        const key = published.find((k) => k.kid === decodeProtectedHeader(token).kid)!;
        await expect(jwtVerify(token, createPublicKey(key.value))).resolves.toBeDefined();
      }
      expect((await h.call('acme', { path: '/userinfo', headers: { authorization: `Bearer ${before}` } })).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
