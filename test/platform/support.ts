/**
 * A partner platform as the tests play it: its own key pair, its JWKS served over real HTTP on port 0
 * (or its public key as PEM), and the JWTs it signs. Plus a gateway with the built-in zones, tenants
 * on `<subdomain>.localhost` and the admin API's bootstrap secret, to register platforms with.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { BASE_ENV, ROUTES } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import fs from 'node:fs';
import path from 'node:path';

export const ADMIN_SECRET = 'platform-test-admin-secret-0123';

export async function startPlatformGateway(): Promise<TestGateway> {
  const root = path.resolve(import.meta.dirname, '../..');
  return startTestGateway({
    routes: ROUTES,
    files: { 'xs-security.json': fs.readFileSync(path.join(root, 'xs-security.json'), 'utf8'), 'public/index.html': '<!doctype html><title>t</title>' },
    destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
    env: { ...BASE_ENV, ZONEGATE_ADMIN_SECRET: ADMIN_SECRET },
  });
}

export interface TestPlatform {
  id: string;
  privateKey: CryptoKey;
  alg: string;
  /** The JWKS URL (served on 127.0.0.1), when the platform publishes one. */
  jwksUri?: string;
  publicKeyPem?: string;
  sign(claims: JWTPayload, options?: { lifetimeS?: number; jti?: string | null; alg?: string; key?: CryptoKey }): Promise<string>;
  close(): Promise<void>;
}

export async function createTestPlatform(id: string, options: { pem?: boolean } = {}): Promise<TestPlatform> {
  const alg = options.pem ? 'RS256' : 'ES256';
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  let server: http.Server | undefined;
  let jwksUri: string | undefined;
  let publicKeyPem: string | undefined;
  if (options.pem) {
    publicKeyPem = await exportSPKI(publicKey);
  } else {
    const jwk = { ...(await exportJWK(publicKey)), kid: `${id}-1`, alg, use: 'sig' };
    server = http.createServer((_req, res) => {
      const body = JSON.stringify({ keys: [jwk] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  }
  return {
    id,
    privateKey,
    alg,
    ...(jwksUri ? { jwksUri } : {}),
    ...(publicKeyPem ? { publicKeyPem } : {}),
    async sign(claims, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ ...claims })
        .setProtectedHeader({ alg: o.alg ?? alg, ...(jwksUri ? { kid: `${id}-1` } : {}) })
        .setIssuer(claims.iss ?? id)
        .setIssuedAt(now)
        .setExpirationTime(claims.exp ?? now + (o.lifetimeS ?? 60));
      if (o.jti !== null) jwt.setJti(o.jti ?? randomUUID());
      return jwt.sign(o.key ?? privateKey);
    },
    async close() {
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    },
  };
}

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** A call to the admin API on the bare uaadomain, as the bootstrap admin. */
export function admin(gw: TestGateway, method: string, path: string, body?: unknown) {
  return new ScriptedBrowser().request(`http://auth.localhost:${gw.port}${path}`, {
    method,
    headers: { accept: 'application/json', authorization: basic('admin', ADMIN_SECRET), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

export async function register(gw: TestGateway, platform: TestPlatform, allow: { subdomainPattern: string; roleCollections: string[] }) {
  const res = await admin(gw, 'POST', '/trusted-platforms', {
    id: platform.id,
    ...(platform.jwksUri ? { jwksUri: platform.jwksUri } : { publicKeyPem: platform.publicKeyPem, algorithm: platform.alg }),
    ...allow,
  });
  if (res.status !== 201) throw new Error(`registration of ${platform.id}: ${res.status} ${res.text}`);
  return res.json();
}

export function organizationsUrl(gw: TestGateway): string {
  return `http://localhost:${gw.port}/platform/v1/organizations`;
}

export function zoneAudience(gw: TestGateway, subdomain: string): string {
  return `http://${subdomain}.auth.localhost:${gw.port}/oauth/token`;
}

export function postOrganization(gw: TestGateway, token: string | undefined, body: unknown) {
  return new ScriptedBrowser().request(organizationsUrl(gw), {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

export function postAutologin(gw: TestGateway, assertion: string) {
  return new ScriptedBrowser().request(`http://localhost:${gw.port}/platform/v1/autologin`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ assertion }).toString(),
  });
}

/** The platform's JWT for the organizations endpoint. */
export function organizationToken(gw: TestGateway, platform: TestPlatform, options?: Parameters<TestPlatform['sign']>[1], claims: JWTPayload = {}) {
  return platform.sign({ aud: organizationsUrl(gw), ...claims }, options);
}

/** The audit lines of the gateway's log since `from`, parsed. */
export function auditLines(gw: TestGateway, from = 0): Record<string, unknown>[] {
  return gw.logs.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => typeof l.audit === 'string');
}
