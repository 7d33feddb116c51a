/**
 * Provisioning on top of the zone tests' real identity server (test/zones/oauth/harness.ts: SQLite in
 * a temp dir, HTTP on port 0, zones at `<sub>.localhost:<port>`), plus the callbacks on their own
 * real HTTP server and a token verifier that asks that identity server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { createMemoryLogger } from '../../src/log.js';
import { createCallbackHandler, type CallbackHandler, type CallbackHandlerOptions, type CallbackTokenInfo } from '../../src/provisioning/callbacks.js';
import { createProvisioning, type Provisioning, type ProvisioningOptions } from '../../src/provisioning/service.js';
import { compileTenantUrl } from '../../src/provisioning/tenant-url.js';
import type { Harness } from '../zones/oauth/harness.js';

export const tenantUrlFor = compileTenantUrl(/^(.*)\.app\.example\.com$/i, undefined, { protocol: 'https' }) as (s: string) => string;

export function provisioningFor(h: Harness, overrides: Partial<ProvisioningOptions> = {}): Provisioning & { logLines: string[] } {
  const logger = createMemoryLogger('debug');
  const provisioning = createProvisioning({
    directory: h.directory,
    records: h.records,
    storage: h.storage,
    application: h.app,
    adminRoleCollection: 'myapp_Administrator',
    tenantUrlFor,
    deleteZoneKeys: (zoneId) => h.server.keys.deleteKeys(zoneId),
    logger,
    ...overrides,
  });
  return Object.assign(provisioning, { logLines: logger.lines });
}

/** Verifies a token as @sap/xssec would: the zone named by its `zid`, that zone's keys (the real identity server). */
export function verifierFor(h: Harness): (token: string) => Promise<CallbackTokenInfo | undefined> {
  return async (token) => {
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(token);
    } catch {
      return undefined;
    }
    const zone = typeof claims.zid === 'string' ? await h.directory.getZone(claims.zid) : undefined;
    if (!zone) return undefined;
    const principal = await h.server.authenticateToken(zone, token);
    if (!principal) return undefined;
    return { zoneId: principal.zoneId, scopes: principal.scopes, grantType: String(claims.grant_type) };
  };
}

export interface CallbackServer {
  port: number;
  handler: CallbackHandler;
  logLines: string[];
  close(): Promise<void>;
}

/** The handler on a real server; requests it declines get 418, so a test sees the `false`. */
export async function startCallbacks(options: Omit<CallbackHandlerOptions, 'logger'>): Promise<CallbackServer> {
  const logger = createMemoryLogger('debug');
  const handler = createCallbackHandler({ ...options, logger });
  const server = http.createServer((req, res) => {
    handler(req, res).then((handled) => {
      if (!handled) {
        res.statusCode = 418;
        res.end('not a callback');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    handler,
    logLines: logger.lines,
    async close() {
      await handler.settled();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client-credentials token of a zone for the harness app (or another client). */
export async function clientToken(h: Harness, subdomain: string, client?: { id: string; secret: string }): Promise<string> {
  const res = await h.token(subdomain, { grant_type: 'client_credentials' }, client);
  if (res.status !== 200) throw new Error(`client_credentials at ${subdomain}: ${res.status} ${res.text}`);
  return res.json().access_token as string;
}

export function guid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
