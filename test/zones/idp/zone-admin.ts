/** A zone administrator's token as an admin tool gets it, and admin API calls with it (the identity provider tests). */
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { ADMIN_CLIENT_ID, ZONE_ADMIN_ROLE_COLLECTION } from '../../../src/zones/directory/admin-client.js';
import type { Zone } from '../../../src/zones/directory/types.js';
import { ScriptedBrowser, hiddenFields } from '../../support/browser.js';
import type { TestGateway } from '../../support/gateway.js';

const LOOPBACK = 'http://127.0.0.1:53682/callback';
export const ADMIN_PASSWORD = 'zone-admin-pass-1';

export const zoneUrl = (gw: TestGateway, sub: string) => `http://${sub}.auth.localhost:${gw.port}`;
export const appUrl = (gw: TestGateway, sub: string) => `http://${sub}.localhost:${gw.port}`;

/** Creates the zone's administrator `zone-admin` and logs in with the admin client (code flow, PKCE, the zone's form). */
export async function zoneAdminToken(gw: TestGateway, sub: string, zone: Zone): Promise<{ token: string; userId: string }> {
  const directory = gw.running.directory!;
  const user = await directory.createUser(zone.id, { userName: 'zone-admin', email: `admin@${sub}.example`, password: ADMIN_PASSWORD, roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const browser = new ScriptedBrowser();
  const query = new URLSearchParams({ response_type: 'code', client_id: ADMIN_CLIENT_ID, redirect_uri: LOOPBACK, code_challenge: challenge, code_challenge_method: 'S256', state: 's' });
  const page = await browser.get(`${zoneUrl(gw, sub)}/oauth/authorize?${query}`);
  expect(page.status, page.text.slice(0, 300)).toBe(200);
  const login = await browser.post(`${zoneUrl(gw, sub)}/login.do`, { ...hiddenFields(page.text), username: 'zone-admin', password: ADMIN_PASSWORD });
  const code = new URL(String(login.headers.location)).searchParams.get('code')!;
  const { clientSecret } = gw.running.identity!.adminClient;
  const res = await browser.post(
    `${zoneUrl(gw, sub)}/oauth/token`,
    { grant_type: 'authorization_code', code, redirect_uri: LOOPBACK, code_verifier: verifier },
    { accept: 'application/json', authorization: `Basic ${Buffer.from(`${ADMIN_CLIENT_ID}:${clientSecret}`).toString('base64')}` },
  );
  expect(res.status, res.text).toBe(200);
  return { token: res.json().access_token as string, userId: user.id };
}

export function adminCall(gw: TestGateway, sub: string, token: string, method: string, path: string, body?: unknown) {
  return new ScriptedBrowser().request(`${zoneUrl(gw, sub)}${path}`, {
    method,
    headers: { accept: 'application/json', authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

export function unescapeHtml(text: string): string {
  return text.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))).replace(/&amp;/g, '&');
}
