/**
 * `npm run bench`: a backend, a bare http-proxy pass-through to it, and zonegate on an
 * unauthenticated route, each in its own process (own event loop), loaded in turns by the same client
 * at the same concurrency (bench/load.ts measureInterleaved: in each round every target gets its
 * warm-up, then cycles of one short slice per target, so that the ratios compare slices seconds apart
 * on a host whose speed moves within minutes). Prints requests/s, p50/p99 and CPU per request for
 * each, zonegate's ratio to the bare proxy (issue 2's goal: at least 0.70) and the gateway's memory;
 * then the identity zones' figures (bench/zones.ts).
 *
 * In the same run, the authenticated GET (issue 4) and provisioning (issue 5): three more gateways,
 * each `zonegate start` with bench/gateway/xs-security.json, so the built-in zones run in the gateway
 * and the login goes over HTTP to them:
 *   login, SQLite      embedded store, 2 subscribed tenants
 *   login, Redis + PostgreSQL   the production layout: REDIS_URL = BENCH_REDIS_URL (a database the
 *                      benchmark owns) for sessions, DATABASE_URL a fresh PostgreSQL database on
 *                      BENCH_POSTGRES_URL's server for records, 2 tenants
 *   login, 10k tenants embedded store, 9,800 tenants seeded through the provisioning service before
 *                      it starts (bench/tenants.ts), then 200 subscribed through the SaaS registry's
 *                      HTTP callback (the subscriptions-per-second figure): 10,000
 * Each logs the tenant's administrator in once (browser flow), then is loaded with that session
 * cookie on a route with a scope the user has and forwardAuthToken; the backend answers 401 to a
 * request without a bearer token, so every counted answer had the session AND the token.
 * The SQLite one also runs forward auth (issue 14): after the rounds, `/_zonegate/auth` is loaded
 * with the same session and the same route as nginx's auth_request would ask, and its decisions/s
 * are printed after the table (each a 200 with the token; no backend involved).
 *
 *   npm run bench                  print the figures
 *   npm run bench -- --write       also write bench/RESULTS.md
 *   npm run bench -- --profile     run the proxies and the login gateways under --cpu-prof and print
 *                                  where the time of the bare proxy, zonegate and the SQLite and Redis
 *                                  login gateways goes (figures are then slower than real and are not written)
 * Environment: BENCH_SECONDS (10: the runs not made in turns: backend direct, forward auth, the
 * identity zones and the event relay), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (50), BENCH_ROUNDS (5),
 * BENCH_CYCLES (4) and BENCH_SLICE_SECONDS (2): in each round, the proxy rows and then the
 * many-sessions rows are measured in turns, that many cycles of one slice each,
 * BENCH_SESSIONS (10,000: the distinct sessions of the many-sessions rows, issue 18),
 * BENCH_REDIS_URL (redis://127.0.0.1:6379/7: its `zonegate:` keys are deleted before and after; the
 * many-sessions gateway uses the next database, 8, the same way),
 * BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/postgres: the database zonegate_bench is
 * created on that server for the run and dropped after).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BACKEND_BODY, BEARER_PATH } from './backend-body.js';
import { LoadFailure, measure, measureInterleaved, type LoadFigures, type LoadSettings, type LoadTarget } from './load.js';
import { ChildProcesses, type RunningChild } from './processes.js';
import { formatSummary, summariseProfile, type CpuProfile } from './profile.js';
import { formatTable, forwardAuthLine, resultsMarkdown, type CollectedMemory, type SessionsReport, type BenchReport, type LoginReport, type Round, type ZoneFigures } from './report.js';
import { createBenchDatabase, DEFAULT_BENCH_POSTGRES_URL, type BenchDatabase } from './postgres.js';
import { benchEvents, eventRelayLines, type EventRelayRow } from './events.js';
import { ADMIN, clearRedisDb, logIn, logInSessions, seedTenants, subscribeOverHttp, type SeedResult } from './tenants.js';

const GOAL = 0.7;
const LOGIN_GOALS = { embedded: 0.6, redis: 0.5 };
const MANY_TENANTS = 10_000;
/** Issue 18: the authenticated GET spread over this many distinct sessions. */
const SESSION_GOALS = { embedded: 0.6, redis: 0.5 };
/** Of MANY_TENANTS, subscribed through the HTTP callback (the subscriptions-per-second figure). */
const SUBSCRIBED_OVER_HTTP = 200;
const SUBSCRIPTION_CONCURRENCY = 8;
const UAA_DOMAIN = 'auth.localhost';
const TENANT_HOST_PATTERN = '^(.*)\\.app\\.example\\.com$';
const TENANT_HOST = 'acme.app.example.com';
/** The authenticated route (`^/api/(.*)$`, scope `$XSAPPNAME.Admin`) to the backend's bearer-only path. */
const LOGIN_PATH = `/api${BEARER_PATH}items`;

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/bench/run.js -> the repository root. */
const root = path.resolve(here, '..', '..');

function number(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}: expected a number >= ${min}, got "${raw}"`);
  return n;
}

interface Target {
  name: string;
  child: RunningChild;
  path: string;
  /** What its CPU per request is reported for. */
  processes: RunningChild[];
  headers?: Record<string, string>;
  /** The only body accepted; default the backend's. */
  expectBody?: string;
  /** Sessions' Cookie headers used in turn (many users); instead of one in `headers`. */
  cookies?: readonly string[];
  /** One request per cookie before the warm-up, measured on its own (LoadTarget.firstPass). */
  firstPass?: boolean;
}

/** A gateway of the authenticated figures: its process, what seeded it, and a logged-in session. */
interface LoginGateway {
  child: RunningChild;
  seed: SeedResult;
  cookie: string;
  log: string;
  memoryAfterSetup: ReturnType<RunningChild['memory']>;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { write: { type: 'boolean' }, profile: { type: 'boolean' } }, strict: true });
  const settings: LoadSettings = {
    seconds: number('BENCH_SECONDS', 10, 1),
    warmupSeconds: number('BENCH_WARMUP_SECONDS', 2, 0),
    connections: Math.round(number('BENCH_CONNECTIONS', 50, 1)),
  };
  const rounds = Math.round(number('BENCH_ROUNDS', 5, 1));
  const sessionCount = Math.round(number('BENCH_SESSIONS', 10_000, 1));
  const turns = {
    ...settings,
    cycles: Math.round(number('BENCH_CYCLES', 4, 1)),
    sliceSeconds: number('BENCH_SLICE_SECONDS', 2, 1),
  };
  const redisUrl = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379/7';
  const postgresUrl = process.env.BENCH_POSTGRES_URL || DEFAULT_BENCH_POSTGRES_URL;
  if (values.write && values.profile) throw new Error('--profile slows the proxies down; its figures are not written (drop --write)');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-bench-'));
  const gatewayLog = path.join(work, 'gateway.log');
  const profileDir = (name: string) => path.join(work, `profile-${name}`);
  // --trace-gc writes to stdout, so under --profile the bare proxy's stdout goes to a file too.
  const profiled = (name: string) => (values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir(name)}`, '--trace-gc'] : []);
  const bareLog = path.join(work, 'bare-proxy.log');
  const children = new ChildProcesses();
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the benchmark's processes\n`);
    void children.stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  let direct: LoadFigures;
  const measured: Round[] = [];
  let memory: BenchReport['memory'];
  let login: LoginReport;
  let sessions: SessionsReport;
  let forwardAuth: LoadFigures;
  let logLines = 0;
  const handled = new Map<string, number>();
  const logs: string[] = [gatewayLog];
  let redisUsed = false;
  let database: BenchDatabase | undefined;
  let sessionsDatabase: BenchDatabase | undefined;
  let redisSessionsUrl: string | undefined;
  try {
    const backend = await children.start({ name: 'backend', args: [path.join(here, 'backend.js')] });
    const backendUrl = `http://127.0.0.1:${backend.port}`;
    const bare = await children.start({
      name: 'bare proxy',
      args: [...profiled('bare'), path.join(here, 'bare-proxy.js'), backendUrl],
      ...(values.profile ? { stdoutFile: bareLog } : {}),
    });
    const routesFile = path.join(root, 'bench', 'gateway', 'routes.json');
    // Only what a deployment would set: no REDIS_URL, VCAP_SERVICES or default-env.json leaking in.
    const baseEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      TENANT_HOST_PATTERN,
      LOG_LEVEL: 'info',
    };
    const gateway = await children.start({
      name: 'zonegate',
      args: [...profiled('gateway'), path.join(root, 'dist', 'src', 'cli.js'), 'start', '--routes', routesFile],
      // Its storage (.zonegate/) goes to the scratch directory, not into the repository.
      cwd: work,
      env: { ...baseEnv, destinations: JSON.stringify([{ name: 'backend', url: backendUrl }]) },
      stdoutFile: gatewayLog,
    });

    // Issue 18, all cores: the same gateway as two workers (node:cluster), in a directory of its own.
    const workersDir = path.join(work, 'workers');
    fs.mkdirSync(workersDir);
    const workersLog = path.join(work, 'workers.log');
    logs.push(workersLog);
    const workersGateway = await children.start({
      name: 'zonegate, 2 workers',
      args: [path.join(root, 'dist', 'src', 'cli.js'), 'start', '--routes', routesFile, '--workers', '2'],
      cwd: workersDir,
      env: { ...baseEnv, destinations: JSON.stringify([{ name: 'backend', url: backendUrl }]) },
      stdoutFile: workersLog,
    });
    // The first worker's "listening" line made it ready; the second starts once the first serves.
    for (let waited = 0; !fs.readFileSync(workersLog, 'utf8').includes('"msg":"workers started"'); waited += 100) {
      if (waited > 30_000) throw new Error(`zonegate --workers 2: no "workers started" line in ${workersLog} within 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }

    /**
     * A gateway with the built-in zones (xs-security.json in its working directory), its storage
     * seeded with `tenants` tenants before it starts, and the tenant's administrator logged in.
     */
    const startLoginGateway = async (
      name: string,
      key: string,
      tenants: number,
      extraEnv: NodeJS.ProcessEnv,
      collectable = false,
    ): Promise<Omit<LoginGateway, 'cookie' | 'memoryAfterSetup'>> => {
      const cwd = path.join(work, key);
      fs.mkdirSync(cwd);
      fs.copyFileSync(path.join(root, 'bench', 'gateway', 'xs-security.json'), path.join(cwd, 'xs-security.json'));
      const env: NodeJS.ProcessEnv = {
        ...baseEnv,
        UAA_DOMAIN,
        // One key per run, shared by the seeding step and the gateway (it seals the client secret).
        ZONEGATE_SECRET_KEY: randomBytes(32).toString('base64'),
        destinations: JSON.stringify([{ name: 'backend', url: backendUrl, forwardAuthToken: true }]),
        ...extraEnv,
      };
      process.stderr.write(`${name}: seeding ${tenants} tenants...\n`);
      const seed = await seedTenants({ cwd, env, routes: routesFile, first: 'acme', tenants });
      const log = path.join(work, `${key}.log`);
      logs.push(log);
      const child = await children.start({
        name,
        args: [...profiled(key), path.join(root, 'dist', 'src', 'cli.js'), 'start', '--routes', routesFile],
        cwd,
        env,
        stdoutFile: log,
        collectable,
      });
      return { child, seed, log };
    };
    const withSession = async (g: Omit<LoginGateway, 'cookie' | 'memoryAfterSetup'>): Promise<LoginGateway> => {
      const cookie = await logIn(new URL(`http://${TENANT_HOST}:${g.child.port}${LOGIN_PATH}`), { userName: ADMIN.userName, password: ADMIN.password });
      return { ...g, cookie, memoryAfterSetup: g.child.memory() };
    };

    redisUsed = true;
    const stale = await clearRedisDb(redisUrl).catch((err: Error) => {
      throw new Error(`BENCH_REDIS_URL ${redisUrl}: ${err.message} (the Redis figure needs a Redis; set BENCH_REDIS_URL to a database the benchmark may own)`);
    });
    if (stale) process.stderr.write(`removed ${stale} zonegate: keys a previous run left in ${redisUrl}\n`);
    // The bench's client stands in for the proxy that asks for forward-auth decisions.
    const embedded = await withSession(await startLoginGateway('zonegate login, SQLite', 'login-sqlite', 2, { FORWARD_AUTH: 'on', TRUSTED_PROXIES: '127.0.0.1' }));
    database = await createBenchDatabase(postgresUrl);
    const redis = await withSession(await startLoginGateway('zonegate login, Redis + PostgreSQL', 'login-redis', 2, { REDIS_URL: redisUrl, DATABASE_URL: database.url }));
    const manyStarted = await startLoginGateway(`zonegate login, SQLite, ${MANY_TENANTS} tenants`, 'login-many', MANY_TENANTS - SUBSCRIBED_OVER_HTTP, {});
    process.stderr.write(`subscriptions: ${SUBSCRIBED_OVER_HTTP} through PUT /callback/v1.0/tenants/{id}, ${SUBSCRIPTION_CONCURRENCY} at a time...\n`);
    const subscribe = (g: Omit<LoginGateway, 'cookie' | 'memoryAfterSetup'>, group: number) =>
      subscribeOverHttp({
        port: g.child.port,
        uaaDomain: UAA_DOMAIN,
        providerSubdomain: 'provider',
        clientId: g.seed.clientId,
        clientSecret: g.seed.clientSecret,
        group,
        count: SUBSCRIBED_OVER_HTTP,
        concurrency: SUBSCRIPTION_CONCURRENCY,
      });
    const subscriptionsEmbedded = await subscribe(manyStarted, 2);
    const many = await withSession(manyStarted);

    const loadTarget = (t: Target): LoadTarget => ({
      name: t.name,
      url: `http://127.0.0.1:${t.child.port}${t.path}`,
      host: TENANT_HOST,
      expectBody: t.expectBody ?? BACKEND_BODY,
      processes: t.processes,
      ...(t.headers ? { headers: t.headers } : {}),
      ...(t.cookies ? { cookies: t.cookies } : {}),
      ...(t.firstPass ? { firstPass: true } : {}),
    });
    const count = (f: LoadFigures) => {
      handled.set(f.name, (handled.get(f.name) ?? 0) + f.handled);
      return f;
    };
    const load = (t: Target) => {
      process.stderr.write(`${t.name}: ${settings.warmupSeconds} s warm-up, ${settings.seconds} s at ${settings.connections} connections...\n`);
      return measure(loadTarget(t), settings).then(count);
    };
    /** Targets loaded in turns: figures over their slices, and each cycle's rates (in the order given). */
    const loadInTurns = async (ts: Target[]) => {
      const s = turns;
      process.stderr.write(`${ts.map((t) => t.name).join(' | ')}: in turns, ${s.warmupSeconds} s warm-up each, then ${s.cycles} cycles of ${s.sliceSeconds} s each at ${s.connections} connections...\n`);
      const { figures, cycles } = await measureInterleaved(ts.map(loadTarget), s);
      figures.forEach(count);
      return { figures, cycles };
    };
    direct = await load({ name: 'backend direct', child: backend, path: '/items', processes: [backend] });

    // Issue 18: the same user on `sessionCount` browsers, each its own gateway session (single sign-on
    // at the zone after one password login), used in turn: a first pass reads each once (measured on
    // its own), then the gateway answers from what it keeps of each session.
    // Gateways of their own (the 10,000 sessions would otherwise weigh on the one-session rows): an
    // embedded one, and one in the production layout on the next Redis database and its own PostgreSQL database.
    redisSessionsUrl = nextRedisDb(redisUrl);
    await clearRedisDb(redisSessionsUrl);
    sessionsDatabase = await createBenchDatabase(postgresUrl, 'zonegate_bench_sessions');
    const embeddedForSessions = await withSession(await startLoginGateway('zonegate login, SQLite', 'sessions-sqlite', 2, {}, true));
    const redisForSessions = await withSession(
      await startLoginGateway('zonegate login, Redis + PostgreSQL', 'sessions-redis', 2, { REDIS_URL: redisSessionsUrl, DATABASE_URL: sessionsDatabase.url }, true),
    );
    const beforeSessions = { embedded: embeddedForSessions.child.memory(), redis: redisForSessions.child.memory() };
    const sessionsOf = async (g: LoginGateway) => {
      process.stderr.write(`${g.child.name}: ${sessionCount} distinct sessions (single sign-on at the zone)...\n`);
      return logInSessions(new URL(`http://${TENANT_HOST}:${g.child.port}${LOGIN_PATH}`), ADMIN, sessionCount);
    };
    const embeddedSessions = await sessionsOf(embeddedForSessions);
    const redisSessions = await sessionsOf(redisForSessions);
    // What reading them costs is measured from here: the logins' own garbage is the logins'.
    const sessionsMade = { embedded: embeddedForSessions.child.memory(), redis: redisForSessions.child.memory() };
    // What the gateway holds, without what the collector has yet to free (V8 frees lazily, and the
    // old generation is let grow to several times what is live before a full collection).
    const collected = async (child: RunningChild): Promise<CollectedMemory> => {
      const heapMiB = await child.collectGarbage();
      const memory = child.memory();
      return memory && { ...memory, heapMiB };
    };
    const sessionsCollected = { embedded: await collected(embeddedForSessions.child), redis: await collected(redisForSessions.child) };
    /** Each sessions gateway right after its load in the last round, while it keeps every session it read. */
    const lastLoad: Partial<Record<'embeddedSessions' | 'redisSessions', { afterLoad: ReturnType<RunningChild['memory']>; collected: CollectedMemory }>> = {};
    const loginTarget = (g: LoginGateway): Target => ({
      name: g.child.name,
      child: g.child,
      path: LOGIN_PATH,
      processes: [g.child, backend],
      headers: { cookie: g.cookie },
    });
    const targets = {
      bare: { name: 'bare http-proxy', child: bare, path: '/items', processes: [bare, backend] } as Target,
      gateway: { name: 'zonegate', child: gateway, path: '/public/items', processes: [gateway, backend] } as Target,
      workers: { name: 'zonegate, 2 workers', child: workersGateway, path: '/public/items', processes: [workersGateway, backend] } as Target,
      embedded: loginTarget(embedded),
      redis: loginTarget(redis),
      many: loginTarget(many),
    };
    // Issue 18's rows, loaded in turns: the floor under their client (the same cookies cycled the
    // same way) sits between the two gateways, so that each cycle runs it next to both. This host's
    // speed moves within minutes (bench/RESULTS.md of 2026-12-03 shows a round at 1.06 of the floor),
    // and the sessions rows' goals are the ones short of margin.
    const sessionTargets: Target[] = [
      { ...loginTarget(embeddedForSessions), name: `zonegate login, SQLite, ${sessionCount} sessions`, headers: {}, cookies: embeddedSessions.cookies, firstPass: true },
      { name: `bare http-proxy, ${sessionCount} cookies`, child: bare, path: '/items', processes: [bare, backend], cookies: embeddedSessions.cookies },
      { ...loginTarget(redisForSessions), name: `zonegate login, Redis + PostgreSQL, ${sessionCount} sessions`, headers: {}, cookies: redisSessions.cookies, firstPass: true },
    ];
    type Key = keyof typeof targets;
    const keys = Object.keys(targets) as Key[];
    // In turns (slices seconds apart, the order reversed every other cycle and every other round),
    // so that a ratio compares the two targets at the same machine speed.
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? keys : [...keys].reverse();
      const main = await loadInTurns(order.map((k) => targets[k]));
      const byKey = <T,>(xs: readonly T[]) => Object.fromEntries(order.map((k, j) => [k, xs[j]!])) as Record<Key, T>;
      const figures = byKey(main.figures);
      // Last in every round, whatever the order: the first pass then comes more than a minute after
      // the last round's (and after the logins), so that every session's touch is due in it and none
      // in the cycles that follow (they take about 40 s).
      const inTurns = await loadInTurns(i % 2 === 0 ? sessionTargets : [...sessionTargets].reverse());
      const inOrder = <T,>(xs: T[]) => (i % 2 === 0 ? xs : [...xs].reverse());
      const [embeddedRun, bareRun, redisRun] = inOrder(inTurns.figures);
      const sessions: Round['sessions'] = {
        embedded: embeddedRun!,
        bare: bareRun!,
        redis: redisRun!,
        cycles: inTurns.cycles.map((c) => {
          const [e, b, r] = inOrder(c);
          return { embedded: e!, bare: b!, redis: r! };
        }),
      };
      if (i === rounds - 1) {
        for (const [key, g] of [['embeddedSessions', embeddedForSessions], ['redisSessions', redisForSessions]] as const) {
          lastLoad[key] = { afterLoad: g.child.memory(), collected: await collected(g.child) };
        }
      }
      measured.push({
        bare: figures.bare,
        gateway: figures.gateway,
        login: { embedded: figures.embedded, redis: figures.redis, many: figures.many },
        sessions,
        workers: figures.workers,
        cycles: main.cycles.map((c) => byKey(c)),
      });
    }
    forwardAuth = await load({
      name: 'forward auth decisions, SQLite',
      child: embedded.child,
      path: '/_zonegate/auth',
      processes: [embedded.child],
      headers: { cookie: embedded.cookie, 'x-forwarded-host': TENANT_HOST, 'x-forwarded-proto': 'http', 'x-forwarded-uri': LOGIN_PATH, 'x-forwarded-method': 'GET' },
      expectBody: '',
    });
    memory = { gateway: gateway.memory(), bareProxy: bare.memory() };
    const memoryOf = (g: LoginGateway) => ({ afterSetup: g.memoryAfterSetup, afterRun: g.child.memory() });
    const loginMemory = { embedded: memoryOf(embedded), redis: memoryOf(redis), many: memoryOf(many) };
    sessions = {
      count: sessionCount,
      goals: SESSION_GOALS,
      created: { embedded: embeddedSessions.seconds, redis: redisSessions.seconds },
      sliceSeconds: turns.sliceSeconds,
      memory: {
        embedded: { beforeLogins: beforeSessions.embedded, afterSetup: sessionsMade.embedded, afterSetupCollected: sessionsCollected.embedded, ...lastLoad.embeddedSessions },
        redis: { beforeLogins: beforeSessions.redis, afterSetup: sessionsMade.redis, afterSetupCollected: sessionsCollected.redis, ...lastLoad.redisSessions },
      },
    };
    process.stderr.write(`subscriptions (PostgreSQL + Redis): ${SUBSCRIBED_OVER_HTTP} through the callback...\n`);
    const subscriptionsRedis = await subscribe(redis, 3);
    logLines = countRequestLines(gatewayLog);
    login = {
      settings,
      goals: LOGIN_GOALS,
      tenants: { few: 2, many: MANY_TENANTS },
      seeded: { tenants: many.seed.tenants, seconds: many.seed.seconds },
      subscriptions: { embedded: subscriptionsEmbedded, redis: subscriptionsRedis },
      memory: loginMemory,
      redisUrl,
    };
  } catch (err) {
    if (err instanceof Error) err.message += `\n(the gateways' logs are kept: ${logs.join(', ')})`;
    throw err;
  } finally {
    await children.stopAll();
    if (redisUsed) await clearRedisDb(redisUrl).catch((err: Error) => process.stderr.write(`could not delete the benchmark's keys from ${redisUrl}: ${err.message}\n`));
    for (const db of [database, sessionsDatabase]) await db?.drop().catch((err: Error) => process.stderr.write(`could not drop the benchmark's PostgreSQL database: ${err.message}\n`));
    if (redisSessionsUrl) await clearRedisDb(redisSessionsUrl).catch((err: Error) => process.stderr.write(`could not delete the benchmark's keys from ${redisSessionsUrl}: ${err.message}\n`));
  }

  const zones = await zoneFigures(settings.seconds, { redisUrl, postgresUrl });
  // The event relay (issue 15 part 3): in this process, after every child has stopped.
  process.stderr.write(`event relay: ${settings.seconds} s per figure...\n`);
  const relay: EventRelayRow[] = await benchEvents({ seconds: settings.seconds, redisUrl });
  const report: BenchReport = {
    date: new Date(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    settings,
    turns: { cycles: turns.cycles, sliceSeconds: turns.sliceSeconds },
    direct,
    rounds: measured,
    goal: GOAL,
    memory,
    gatewayLogLines: logLines,
    zones,
    login,
    sessions,
    forwardAuth,
  };
  process.stdout.write(formatTable(report) + '\n');
  process.stdout.write(`${forwardAuthLine(report)}\n`);
  process.stdout.write(`${eventRelayLines(relay).join('\n')}\n`);

  if (values.profile) {
    const embeddedName = measured[0]!.login!.embedded.name;
    const redisName = measured[0]!.login!.redis.name;
    printProfile('bare http-proxy', profileDir('bare'), handled.get('bare http-proxy') ?? 0);
    printProfile('zonegate', profileDir('gateway'), handled.get('zonegate') ?? 0);
    printProfile(embeddedName, profileDir('login-sqlite'), handled.get(embeddedName) ?? 0);
    printProfile(redisName, profileDir('login-redis'), handled.get(redisName) ?? 0);
    process.stdout.write(
      `\ngarbage collection (--trace-gc, whole life):\n${gcLine('bare http-proxy', bareLog, handled.get('bare http-proxy') ?? 0)}\n` +
        `${gcLine('zonegate', gatewayLog, handled.get('zonegate') ?? 0)}\n${gcLine(embeddedName, path.join(work, 'login-sqlite.log'), handled.get(embeddedName) ?? 0)}\n` +
        `${gcLine(redisName, path.join(work, 'login-redis.log'), handled.get(redisName) ?? 0)}\n`,
    );
  }
  if (values.write) {
    const file = path.join(root, 'bench', 'RESULTS.md');
    fs.writeFileSync(file, `${resultsMarkdown(report)}\n## Event relay (issue 15)\n\n${eventRelayLines(relay).map((l) => `- ${l}.`).join('\n')}\n`);
    process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  }
  fs.rmSync(work, { recursive: true, force: true });
  return zones.kind === 'failed' ? 1 : 0;
}

/** The Redis database after the one `url` names (the many-sessions gateway's own, also owned by the benchmark). */
function nextRedisDb(url: string): string {
  const u = new URL(url);
  u.pathname = `/${Number(u.pathname.slice(1) || 0) + 1}`;
  return u.href;
}

/** The gateway must really have logged every request (info level), or the figure flatters it. */
function countRequestLines(file: string): number {
  let n = 0;
  const text = fs.readFileSync(file, 'utf8');
  for (let i = text.indexOf('"msg":"request"'); i !== -1; i = text.indexOf('"msg":"request"', i + 1)) n++;
  return n;
}

/**
 * bench/zones.ts belongs to the identity-zones work; a failure there must not cost the gateway's
 * figures, so it runs last, after every child has been stopped.
 */
async function zoneFigures(seconds: number, production: { redisUrl: string; postgresUrl: string }): Promise<ZoneFigures> {
  const file = path.join(here, 'zones.js');
  if (!fs.existsSync(file)) return { kind: 'absent' };
  try {
    // A computed specifier: the module is optional, so the compiler must not insist on it.
    const specifier = new URL('./zones.js', import.meta.url).href;
    const mod = (await import(specifier)) as {
      benchZones?: (o: { seconds: number; production?: { redisUrl: string; postgresUrl: string } }) => Promise<{ name: string; rps: number; p50: number; p99: number }[]>;
    };
    if (typeof mod.benchZones !== 'function') return { kind: 'failed', error: 'bench/zones.ts does not export benchZones' };
    process.stderr.write(`identity zones: ${seconds} s per figure...\n`);
    return { kind: 'measured', rows: await mod.benchZones({ seconds, production }) };
  } catch (err) {
    return { kind: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
}

/**
 * Scavenges that promote per-request objects (something keeps them past two young collections)
 * make every scavenge slower and add mark-compacts; the pause totals show it at once.
 */
function gcLine(name: string, file: string, requests: number): string {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const pauses = (kind: string) => {
    let count = 0;
    let ms = 0;
    for (const m of text.matchAll(new RegExp(`${kind} [\\d.]+ \\([\\d.]+\\) -> [\\d.]+ \\([\\d.]+\\) MB, ([\\d.]+)`, 'g'))) {
      count++;
      ms += Number(m[1]);
    }
    return { count, ms };
  };
  const s = pauses('Scavenge');
  const mc = pauses('Mark-Compact');
  const us = (ms: number) => ((ms * 1000) / Math.max(1, requests)).toFixed(1);
  return `  ${name}: ${s.count} scavenges, ${s.ms.toFixed(0)} ms (${us(s.ms)} µs/req); ${mc.count} mark-compacts, ${mc.ms.toFixed(0)} ms (${us(mc.ms)} µs/req)`;
}

function printProfile(name: string, dir: string, requests: number): void {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (!files.length) {
    process.stdout.write(`\n${name}: no CPU profile was written to ${dir}\n`);
    return;
  }
  const kept = path.join(os.tmpdir(), `zonegate-bench-${name.replace(/\W+/g, '-')}-${Date.now()}.cpuprofile`);
  fs.copyFileSync(path.join(dir, files[0]!), kept);
  const profile = JSON.parse(fs.readFileSync(kept, 'utf8')) as CpuProfile;
  process.stdout.write(`\n${name} CPU profile (whole life: start-up, every load phase; ${requests} requests; kept at ${kept}):\n`);
  process.stdout.write(formatSummary(summariseProfile(profile, root), { requests }) + '\n');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof LoadFailure ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
