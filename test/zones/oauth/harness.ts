/**
 * A real identity server for the zone tests: SQLite storage in a temp dir, the real directory, an HTTP
 * server on port 0 with uaadomain `localhost` (zones at `<sub>.localhost:<port>`), and a tiny browser
 * (cookie jar, form parsing) to walk the login flow.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { XsSecurity } from '../../../src/config/types.js';
import { createMemoryLogger } from '../../../src/log.js';
import { openSqliteStorage } from '../../../src/storage/sqlite.js';
import type { Storage } from '../../../src/storage/types.js';
import { parseTrustedProxies } from '../../../src/tenant/trusted-proxies.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { openTestRecords } from '../../support/records.js';
import type { Argon2Params } from '../../../src/zones/directory/password.js';
import { FAST_HASHING } from '../directory/fixtures.js';
import type { Application, User, Zone, ZoneDirectory } from '../../../src/zones/directory/types.js';
import { createIdentityServer, type IdentityServer, type IdentityServerOptions } from '../../../src/zones/server.js';
import { request, type TestResponse } from '../../support/http.js';

export { FAST_HASHING } from '../directory/fixtures.js';
export const PASSWORD = 'correct-horse-1';

export function security(
  xsappname: string,
  overrides: { tenantMode?: 'shared' | 'dedicated'; grantTypes?: string[]; redirectUris?: string[]; tokenValidity?: number; authorities?: string[] } = {},
): XsSecurity {
  return {
    file: 'xs-security.json',
    xsappname,
    tenantMode: overrides.tenantMode ?? 'shared',
    scopes: [
      { name: '$XSAPPNAME.Admin', grantedApps: [], grantAsAuthorityToApps: [] },
      { name: '$XSAPPNAME.Viewer', grantedApps: [], grantAsAuthorityToApps: [] },
      { name: '$XSAPPNAME.Callback', grantedApps: [], grantAsAuthorityToApps: [] },
    ],
    attributes: [{ name: 'Country', valueType: 'string', valueRequired: false }],
    roleTemplates: [
      { name: 'Administrator', scopeReferences: ['$XSAPPNAME.Admin', '$XSAPPNAME.Viewer'], attributeReferences: [] },
      // `"attribute-references": [{ "name": "Country", "default-values": ["DE"] }]`
      { name: 'Viewer', scopeReferences: ['$XSAPPNAME.Viewer'], attributeReferences: ['Country'], attributeDefaultValues: { Country: ['DE'] } },
    ],
    roleCollections: [
      { name: `${xsappname}_Administrator`, roleTemplateReferences: ['$XSAPPNAME.Administrator'] },
      { name: `${xsappname}_Viewer`, roleTemplateReferences: ['$XSAPPNAME.Viewer'] },
    ],
    authorities: overrides.authorities ?? ['$XSAPPNAME.Callback'],
    foreignScopeReferences: [],
    oauth2Configuration: {
      tokenValidity: overrides.tokenValidity ?? 3600,
      refreshTokenValidity: 86400,
      redirectUris: overrides.redirectUris ?? ['https://*.app.example.com/**', 'http://localhost:*/callback'],
      grantTypes: overrides.grantTypes ?? ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
    },
  };
}

export interface Harness {
  port: number;
  server: IdentityServer;
  directory: ZoneDirectory;
  storage: Storage;
  records: RecordsDatabase;
  logLines: string[];
  provider: Zone;
  acme: Zone;
  globex: Zone;
  /** Exists, but never subscribed to the application. */
  stranger: Zone;
  app: Application;
  secret: string;
  /** Dedicated application in the provider zone that may use the password grant. */
  pwdApp: Application;
  pwdSecret: string;
  /** A resource server's client (authority `uaa.resource`, as UAA requires for /introspect), usable in acme and globex. */
  resource: { app: Application; secret: string };
  alice: User; // acme, administrator
  bob: User; // acme, viewer
  carol: User; // globex, administrator
  url(subdomain?: string): string;
  call(subdomain: string | undefined, options?: { method?: string; path?: string; headers?: Record<string, string | string[]>; body?: string }): Promise<TestResponse>;
  token(subdomain: string | undefined, form: Record<string, string>, auth?: { id: string; secret: string } | 'none', headers?: Record<string, string>): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<Pick<IdentityServerOptions, 'throttle' | 'now' | 'maxTokenValiditySeconds' | 'codeTtlSeconds' | 'bootstrapSecret' | 'refreshTokenReuseSeconds'>> {
  /**
   * TRUSTED_PROXIES as the operator writes it. The test client connects from 127.0.0.1: with
   * '127.0.0.1' it plays the proxy in front and says each simulated client's address in X-Forwarded-For.
   */
  trustedProxies?: string;
  /** argon2id cost of the users' passwords (default FAST_HASHING): a slower one keeps a burst in flight. */
  passwordHashing?: Argon2Params;
  /**
   * Also serve the zones over TLS on this port (127.0.0.1); the zones' public URLs become
   * `https://<sub>.localhost[:port]`. The plain HTTP listener stays for the test's own calls.
   */
  tls?: { key: string; cert: string; port: number };
}

/** Listens, retrying while another test process holds a fixed port (the TLS port 443 is shared). */
async function listen(server: http.Server, port: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 100) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function startZones(options: HarnessOptions = {}): Promise<Harness> {
  const { tls, trustedProxies: proxiesSpec, passwordHashing, ...serverOptions } = options;
  const trustedProxies = parseTrustedProxies(proxiesSpec);
  if (typeof trustedProxies === 'string') throw new Error(trustedProxies);
  const dir = mkdtempSync(join(tmpdir(), 'zonegate-zones-'));
  const storage = openSqliteStorage({ file: join(dir, 'zones.db') });
  const records = await openTestRecords();
  const directory = createZoneDirectory(records, { passwordHashing: passwordHashing ?? FAST_HASHING });
  const logger = createMemoryLogger('debug');
  let port = 0;
  const host = (sub?: string) => `${sub ? `${sub}.` : ''}localhost`;
  const url = tls
    ? (sub?: string) => `https://${host(sub)}${tls.port === 443 ? '' : `:${tls.port}`}`
    : (sub?: string) => `http://${host(sub)}:${port}`;
  const server = await createIdentityServer({ storage, records, directory, uaaDomain: 'localhost', publicUrlFor: url, logger, trustedProxies, ...serverOptions });
  const httpServer = http.createServer((req, res) => server.handle(req, res));
  await listen(httpServer, 0);
  port = (httpServer.address() as AddressInfo).port;
  const tlsServer = tls ? https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => server.handle(req, res)) : undefined;
  if (tlsServer) await listen(tlsServer, tls!.port);

  const provider = await directory.createZone({ subdomain: 'provider', name: 'Provider' });
  const acme = await directory.createZone({ subdomain: 'acme', name: 'ACME Corp', branding: { color: '#ff0000' } });
  const globex = await directory.createZone({ subdomain: 'globex', name: 'Globex' });
  const stranger = await directory.createZone({ subdomain: 'stranger', name: 'Stranger' });
  const { application: app, clientSecret: secret } = await directory.registerApplication(security('myapp'), provider.id);
  await directory.subscribe(app, acme.id);
  await directory.subscribe(app, globex.id);
  const { application: pwdApp, clientSecret: pwdSecret } = await directory.registerApplication(
    security('pwdapp', { tenantMode: 'dedicated', grantTypes: ['password', 'refresh_token', 'client_credentials'] }),
    provider.id,
  );
  const resource = await directory.registerApplication(security('resapp', { authorities: ['uaa.resource'] }), provider.id);
  await directory.subscribe(resource.application, acme.id);
  await directory.subscribe(resource.application, globex.id);
  const alice = await directory.createUser(acme.id, { userName: 'alice', email: 'alice@acme.example', givenName: 'Alice', familyName: 'Able', password: PASSWORD, roleCollections: ['myapp_Administrator'] });
  const bob = await directory.createUser(acme.id, { userName: 'bob', email: 'bob@acme.example', password: PASSWORD, roleCollections: ['myapp_Viewer'] });
  const carol = await directory.createUser(globex.id, { userName: 'carol', email: 'carol@globex.example', password: PASSWORD, roleCollections: ['myapp_Administrator'] });
  await directory.createUser(provider.id, { userName: 'padmin', email: 'padmin@provider.example', password: PASSWORD, roleCollections: ['pwdapp_Administrator'] });

  const call: Harness['call'] = (sub, o = {}) =>
    request(port, { host: `${sub ? `${sub}.` : ''}localhost:${port}`, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers ?? {}, ...(o.body !== undefined ? { body: o.body } : {}) });

  const token: Harness['token'] = (sub, form, auth = { id: app.clientId, secret }, headers = {}) => {
    const h: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...headers };
    if (auth !== 'none') h.authorization = `Basic ${Buffer.from(`${encodeURIComponent(auth.id)}:${encodeURIComponent(auth.secret)}`).toString('base64')}`;
    return call(sub, { method: 'POST', path: '/oauth/token', headers: h, body: new URLSearchParams(form).toString() });
  };

  return {
    get port() {
      return port;
    },
    server,
    directory,
    storage,
    records,
    logLines: logger.lines,
    provider,
    acme,
    globex,
    stranger,
    app,
    secret,
    pwdApp,
    pwdSecret,
    resource: { app: resource.application, secret: resource.clientSecret },
    alice,
    bob,
    carol,
    url,
    call,
    token,
    async close() {
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      if (tlsServer) {
        tlsServer.closeAllConnections();
        await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
      }
      await server.close();
      try {
        await storage.close();
        await records.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A browser: one cookie jar per host, as host-only cookies behave. */
export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  constructor(private readonly h: Pick<Harness, 'call'>) {}

  cookieHeader(sub: string): string {
    return [...(this.jars.get(sub) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private remember(sub: string, res: TestResponse): void {
    const jar = this.jars.get(sub) ?? new Map<string, string>();
    this.jars.set(sub, jar);
    for (const line of (res.headers['set-cookie'] ?? []) as string[]) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }

  async get(sub: string, path: string, headers: Record<string, string> = {}): Promise<TestResponse> {
    const res = await this.h.call(sub, { path, headers: { accept: 'text/html', cookie: this.cookieHeader(sub), ...headers } });
    this.remember(sub, res);
    return res;
  }

  async post(sub: string, path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<TestResponse> {
    const res = await this.h.call(sub, {
      method: 'POST',
      path,
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookieHeader(sub), ...headers },
      body: new URLSearchParams(form).toString(),
    });
    this.remember(sub, res);
    return res;
  }
}

export function formFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = m[2]!.replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c)));
  return fields;
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const REDIRECT = 'https://acme.app.example.com/login/callback';

export function authorizePath(clientId: string, params: Record<string, string> = {}): string {
  return `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, state: 's-1', ...params }).toString()}`;
}

/** Opens the authorize URL, submits the login form, returns the redirect's query (code, state or error). */
export async function loginForCode(
  h: Harness,
  browser: Browser,
  sub: string,
  input: { userName: string; password?: string; params?: Record<string, string> },
): Promise<{ location: URL; code: string | null }> {
  const page = await browser.get(sub, authorizePath(h.app.clientId, input.params));
  if (page.status === 302) {
    const location = new URL(page.headers.location!);
    return { location, code: location.searchParams.get('code') };
  }
  if (page.status !== 200) throw new Error(`authorize answered ${page.status}: ${page.text}`);
  const res = await browser.post(sub, '/login.do', { ...formFields(page.text), username: input.userName, password: input.password ?? PASSWORD });
  if (res.status !== 302) throw new Error(`login answered ${res.status}: ${res.text.slice(0, 300)}`);
  const location = new URL(res.headers.location!);
  return { location, code: location.searchParams.get('code') };
}
