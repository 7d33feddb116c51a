/**
 * The authenticated figures' setup (issues 4 and 5), done by the benchmark process over plain HTTP
 * where a user or the SaaS registry would act, and directly through the gateway's own provisioning
 * code only for bulk seeding:
 *
 *   seedTenants     before a gateway starts, opens its storage exactly as `zonegate start` would
 *                   (same environment, same working directory), registers the application and
 *                   subscribes tenants through the provisioning service (src/provisioning/service.ts,
 *                   what the callbacks and `zonegate tenants subscribe` call). The first tenant gets
 *                   an administrator with a password, who logs in. Then the gateway under test starts
 *                   on that storage as usual and finds them.
 *   logIn           the browser's login: protected URL -> zone's authorize -> login page -> POST
 *                   /login.do -> callback; returns the session cookie.
 *   subscribeOverHttp   the SaaS registry's PUT /callback/v1.0/tenants/{id} with a client-credentials
 *                   token of the provider zone carrying `<instance>.Callback`: subscriptions per second.
 *   clearRedisDb    deletes the gateway's keys (prefix `zonegate:`) from the benchmark's own Redis DB.
 */
import http from 'node:http';
import { Redis } from 'ioredis';
import { loadConfiguration } from '../src/server/configuration.js';
import { setUpProvisioning } from '../src/provisioning/set-up.js';
import { startZones } from '../src/zones/start.js';
import { openRecords } from '../src/records/index.js';
import { createLogger, type Logger } from '../src/log.js';
import { DEFAULT_REDIS_KEY_PREFIX, openStorage } from '../src/storage/index.js';

export const ADMIN = { userName: 'bench-admin', email: 'bench-admin@acme.example', password: 'bench-admin-password-1' };

/** Zone ids are GUIDs (`subscribedTenantId`); the benchmark's are readable and distinct per purpose. */
export function tenantGuid(group: number, n: number): string {
  return `00000000-0000-4${group.toString(16).padStart(3, '0')}-8000-${n.toString(16).padStart(12, '0')}`;
}

/** Warnings of the seeding step go to stderr; stdout is the benchmark's table. */
function stderrLogger(): Logger {
  return createLogger({ level: 'warn', sink: { write: (line: string) => process.stderr.write(`seeding: ${line}`) } });
}

export interface SeedResult {
  /** The application client, which also plays the SaaS registry (xs-security.json `authorities`). */
  clientId: string;
  clientSecret: string;
  tenants: number;
  seconds: number;
}

/**
 * Subscribes `tenants` tenants: `first` (with the administrator who logs in), then `t00001`, ...
 * `concurrency` subscriptions at a time.
 */
export async function seedTenants(options: {
  cwd: string;
  env: NodeJS.ProcessEnv;
  routes: string;
  first: string;
  tenants: number;
  concurrency?: number;
}): Promise<SeedResult> {
  const logger = stderrLogger();
  const config = loadConfiguration(options.env, { cwd: options.cwd, files: { routes: options.routes } });
  const storage = await openStorage(config.settings.storage, logger);
  // Where the gateway started with the same settings looks for them.
  const records = await openRecords(config.settings.records, logger);
  try {
    const zones = await startZones({ settings: config.settings, storage, records, security: config.security, logger, port: 0 });
    try {
      const set = setUpProvisioning({ settings: config.settings, storage, records, zones, logger, port: 0, revokeTenantSessions: async () => {} });
      if (typeof set === 'string') throw new Error(`no provisioning for the benchmark's gateway: ${set}`);
      const { provisioning } = set;
      const started = performance.now();
      await provisioning.subscribe({
        tenantId: tenantGuid(1, 0),
        subdomain: options.first,
        userInfo: { userName: ADMIN.userName, email: ADMIN.email },
        adminPassword: ADMIN.password,
      });
      let next = 1;
      await Promise.all(
        Array.from({ length: options.concurrency ?? 16 }, async () => {
          for (let i = next++; i < options.tenants; i = next++) {
            await provisioning.subscribe({ tenantId: tenantGuid(1, i), subdomain: `t${String(i).padStart(5, '0')}` });
          }
        }),
      );
      const { credentials } = zones.registration!;
      return { clientId: credentials.clientid, clientSecret: credentials.clientsecret, tenants: options.tenants, seconds: (performance.now() - started) / 1000 };
    } finally {
      await zones.server.close();
    }
  } finally {
    await storage.close();
    await records.close();
  }
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Every host (gateway and zones) is served on one port of 127.0.0.1; the URL's host goes in `Host`. */
function send(url: URL, options: { method?: string; headers?: Record<string, string>; body?: string; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: Number(url.port || 80),
        method: options.method ?? 'GET',
        path: url.pathname + url.search,
        headers: { host: url.host, ...options.headers },
        agent: options.agent ?? false,
        timeout: 30_000,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.href} within 30 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** name=value of every Set-Cookie, for a jar of one host. */
function keepCookies(jar: Map<string, string>, reply: Reply): void {
  for (const line of reply.headers['set-cookie'] ?? []) {
    const pair = line.split(';', 1)[0]!;
    const eq = pair.indexOf('=');
    const value = pair.slice(eq + 1).trim();
    if (value === '' || /max-age=0/i.test(line)) jar.delete(pair.slice(0, eq).trim());
    else jar.set(pair.slice(0, eq).trim(), value);
  }
}

export class LoginFailed extends Error {}

/**
 * Logs the administrator in as a browser does and returns the gateway's `Cookie` header for the
 * tenant's host, checked by one request with it. `gatewayUrl` is `http://<tenant host>:<gateway
 * port><protected path>`; the zones run in the same process (`<sub>.<UAA_DOMAIN>` on the same port).
 */
export async function logIn(gatewayUrl: URL, user: { userName: string; password: string }): Promise<string> {
  const [cookie] = (await logInSessions(gatewayUrl, user, 1)).cookies;
  const check = await send(gatewayUrl, { headers: { cookie: cookie!, accept: 'application/json' } });
  if (check.status !== 200) throw new LoginFailed(`login: with the new session ${gatewayUrl.pathname} answered ${check.status}: ${check.body.slice(0, 300)}`);
  return cookie!;
}

/**
 * `count` distinct gateway sessions of one user, as that many browsers of one person would have:
 * one password login at the zone, then each further gateway login is answered by the zone's single
 * sign-on (authorize redirects straight back, no form), `concurrency` at a time. Returns each
 * session's `Cookie` header for the tenant's host, and how long it took.
 */
export async function logInSessions(
  gatewayUrl: URL,
  user: { userName: string; password: string },
  count: number,
  concurrency = 16,
): Promise<{ cookies: string[]; seconds: number }> {
  const started = performance.now();
  const zoneJar = new Map<string, string>();
  const once = async (withPassword: boolean): Promise<string> => {
    const gatewayJar = new Map<string, string>();
    const jarFor = (url: URL) => (url.host === gatewayUrl.host ? gatewayJar : zoneJar);
    const browse = async (url: URL, method = 'GET', form?: Record<string, string>) => {
      const jar = jarFor(url);
      const cookies = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const reply = await send(url, {
        method,
        headers: {
          accept: 'text/html',
          ...(cookies ? { cookie: cookies } : {}),
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(form ? { body: new URLSearchParams(form).toString() } : {}),
      });
      keepCookies(jar, reply);
      return reply;
    };
    const start = await browse(gatewayUrl);
    if (start.status !== 302) throw new LoginFailed(`sessions: the protected URL answered ${start.status}`);
    const authorize = new URL(String(start.headers.location));
    let back = await browse(authorize);
    if (withPassword) {
      if (back.status !== 200) throw new LoginFailed(`sessions: the zone's authorize answered ${back.status}, expected its form`);
      const hidden: Record<string, string> = {};
      for (const m of back.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
        hidden[m[1]!] = m[2]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))).replace(/&amp;/g, '&');
      }
      back = await browse(new URL('/login.do', authorize), 'POST', { ...hidden, username: user.userName, password: user.password });
    }
    if (back.status !== 302) throw new LoginFailed(`sessions: the zone answered ${back.status}, expected a redirect back (single sign-on)`);
    const callback = await browse(new URL(String(back.headers.location)));
    if (callback.status !== 302 || !gatewayJar.has('zonegate.sid')) throw new LoginFailed(`sessions: the gateway callback answered ${callback.status} without a session`);
    return [...gatewayJar].map(([k, v]) => `${k}=${v}`).join('; ');
  };
  const cookies = [await once(true)];
  let next = 1;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        cookies.push(await once(false));
      }
    }),
  );
  return { cookies, seconds: (performance.now() - started) / 1000 };
}

export interface SubscriptionFigures {
  subscriptions: number;
  perSecond: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  concurrency: number;
}

/**
 * `count` subscriptions of distinct new tenants through the SaaS registry's callback, `concurrency`
 * at a time, each with `userInfo` (the subscriber becomes the tenant's administrator). Every answer
 * must be 200 with the tenant's URL, or the figure is worthless and the run fails.
 */
export async function subscribeOverHttp(options: {
  port: number;
  uaaDomain: string;
  providerSubdomain: string;
  clientId: string;
  clientSecret: string;
  group: number;
  count: number;
  concurrency: number;
}): Promise<SubscriptionFigures> {
  const tokenUrl = new URL(`http://${options.providerSubdomain}.${options.uaaDomain}:${options.port}/oauth/token`);
  const tokenReply = await send(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: options.clientId, client_secret: options.clientSecret }).toString(),
  });
  if (tokenReply.status !== 200) throw new Error(`registry token: ${tokenReply.status} ${tokenReply.body.slice(0, 300)}`);
  const token = (JSON.parse(tokenReply.body) as { access_token: string }).access_token;

  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = next++; i < options.count; i = next++) {
          const tenantId = tenantGuid(options.group, i);
          const subdomain = `s${options.group}-${String(i).padStart(5, '0')}`;
          const body = JSON.stringify({
            subscribedTenantId: tenantId,
            subscribedSubdomain: subdomain,
            subscribedZoneId: tenantId,
            subscriptionAppName: 'benchapp',
            globalAccountGUID: tenantGuid(999, 0),
            eventType: 'CREATE',
            userInfo: { userName: `owner@${subdomain}.example`, email: `owner@${subdomain}.example` },
          });
          const t0 = performance.now();
          const reply = await send(new URL(`http://localhost:${options.port}/callback/v1.0/tenants/${tenantId}`), {
            method: 'PUT',
            agent,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
            body,
          });
          latencies.push(performance.now() - t0);
          if (reply.status !== 200 || !reply.body.includes(subdomain)) {
            throw new Error(`subscription of ${subdomain} answered ${reply.status}: ${reply.body.slice(0, 300)}`);
          }
        }
      } finally {
        agent.destroy();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { subscriptions: latencies.length, perSecond: latencies.length / seconds, p50: at(0.5), p99: at(0.99), concurrency: options.concurrency };
}

/**
 * Deletes the gateway's keys from `url`'s database, which the benchmark owns (BENCH_REDIS_URL names
 * one nobody else uses). Never FLUSHDB: only keys under the gateway's fixed prefix go. Returns how
 * many keys went.
 */
export async function clearRedisDb(url: string, prefix = DEFAULT_REDIS_KEY_PREFIX): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  await client.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}
