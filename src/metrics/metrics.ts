/**
 * Prometheus metrics (issue 17), with prom-client: what the gateway, its login and the built-in zones
 * count, the storage probed at each scrape, and prom-client's process metrics. Off unless
 * METRICS_PORT or METRICS_TOKEN is set; then `createMetrics` makes one registry per gateway (not
 * prom-client's global one, so that several gateways in one process, as in tests, stay apart).
 *
 * Names follow Prometheus' conventions (base units, `_total` for counters) under `zonegate_`;
 * every label has a bounded set of values: routes.json's routes, a method class, a status class,
 * destinations, the gateway's codes, and tenants only when asked for and capped (tenant-labels.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsSettings } from '../config/environment.js';
import { ConfigError, type ErrorCode } from '../errors.js';
import type { RecordsDatabase } from '../records/types.js';
import type { RequestContext } from '../server/context.js';
import type { Storage } from '../storage/types.js';
import { serveMetrics, startMetricsListener, type MetricsListener } from './scrape.js';
import { TenantLabels } from './tenant-labels.js';
import type { ConfigurationMetrics, LoginMetrics, RequestMetrics, ZoneLoginOutcome, ZoneMetrics } from './types.js';

export interface Metrics {
  readonly registry: Registry;
  readonly requests: RequestMetrics;
  readonly login: LoginMetrics;
  readonly zones: ZoneMetrics;
  readonly configuration: ConfigurationMetrics;
  /**
   * Binds the metrics' own listener (METRICS_PORT; 0 picks a free port) and resolves with its port;
   * undefined when metrics are served on the main port instead (METRICS_TOKEN alone).
   */
  listen(): Promise<number | undefined>;
  close(): Promise<void>;
}

/** What the storage probes ask, and how long they wait: as /readyz does (src/server/readiness.ts), within a 1 s scrape budget. */
export interface ProbedStores {
  storage: Pick<Storage, 'kind' | 'ping'>;
  records: Pick<RecordsDatabase, 'dialect' | 'ping'>;
}
export const PROBE_TIMEOUT_MS = 500;

/** Up to a few seconds (a slow backend's answer) and down to the gateway's own sub-millisecond answers. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'other'] as const;
const OTHER_METHOD = METHODS.length - 1;
/** `aborted`: the client left before any answer was sent (nginx logs such a request as 499). */
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'aborted'] as const;
const ABORTED = STATUS_CLASSES.length - 1;

/**
 * One (route, method, status class[, tenant]): its label objects, made once and reused for every
 * request, and its request count, kept here and handed to prom-client at scrape time. prom-client's
 * `inc` builds a key string from the labels and checks them on every call (~0.5 µs, measured with
 * bench/metrics-cost.ts); the count here is an addition.
 */
interface Series {
  requestLabels: Record<string, string>;
  durationLabels: Record<string, string>;
  requests: number;
}

/**
 * `sharedWithPrimary`: in a worker of `zonegate start --workers` (src/server/workers.ts), the
 * registry answers the primary's aggregation requests (prom-client's AggregatorRegistry), and the
 * worker neither binds METRICS_PORT (the primary does) nor answers /metrics on its own port.
 */
export function createMetrics(settings: MetricsSettings, stores: ProbedStores, options: { sharedWithPrimary?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.sharedWithPrimary) {
    AggregatorRegistry.setRegistries([registry]);
    // Constructing one adds the worker's listener for the primary's requests (prom-client's API).
    new AggregatorRegistry();
  }
  // The process metrics every Node dashboard reads (CPU, memory, event-loop lag, GC, handles), under
  // their usual unprefixed names.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const tenants = settings.tenantLabel ? new TenantLabels(settings.tenantLimit) : undefined;
  const tenantLabel = tenants ? ['tenant'] : [];

  // route -> [method * status class] (or tenant -> route -> ...): the labels of a request are found
  // by two lookups, without building a key string for them.
  const byRoute = new Map<string, (Series | undefined)[]>();
  const byTenant = new Map<string, Map<string, (Series | undefined)[]>>();

  new Counter({
    name: 'zonegate_http_requests_total',
    help: 'Requests answered, by routes.json route (its source; none: no route matched; health, metrics, callbacks, zones, login: answered by the gateway itself), method and status class',
    labelNames: ['route', 'method', 'status_class', ...tenantLabel],
    registers,
    collect() {
      this.reset();
      for (const routes of [byRoute, ...byTenant.values()]) {
        for (const slots of routes.values()) for (const series of slots) if (series !== undefined) this.inc(series.requestLabels, series.requests);
      }
    },
  });
  const duration = new Histogram({
    name: 'zonegate_http_request_duration_seconds',
    help: 'Time from a request\'s arrival until its response closed, by route, method and status class',
    labelNames: ['route', 'method', 'status_class'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const backendErrors = new Counter({
    name: 'zonegate_backend_errors_total',
    help: 'Requests a destination failed, by destination and the gateway\'s error code (ZG_ERR_BACKEND_UNREACHABLE: refused, reset or an invalid answer; ZG_ERR_BACKEND_TIMEOUT; ZG_ERR_BACKEND_BUSY: no free connection)',
    labelNames: ['destination', 'code'],
    registers,
  });
  const logins = new Counter({
    name: 'zonegate_logins_total',
    help: 'The gateway\'s logins (OpenID Connect code flow) by outcome: started (sent to the zone), succeeded, failed (at the callback)',
    labelNames: ['outcome', ...tenantLabel],
    registers,
  });
  const zoneLogins = new Counter({
    name: 'zonegate_zone_logins_total',
    help: 'Password checks of the built-in zones, by where (form: the login page; password_grant: the token endpoint) and outcome (succeeded, failed, locked: refused unchecked by the throttle)',
    labelNames: ['via', 'outcome'],
    registers,
  });
  const tokensIssued = new Counter({
    name: 'zonegate_tokens_issued_total',
    help: 'Tokens the built-in zones\' token endpoint issued, by grant type',
    labelNames: ['grant_type'],
    registers,
  });
  const tunnels = new Gauge({
    name: 'zonegate_websockets_open',
    help: 'WebSocket tunnels open now (upgrades the backend accepted, not yet closed)',
    registers,
  });
  // As Prometheus itself reports its own reloads: a count by outcome, and when the last good one was.
  const reloads = new Counter({
    name: 'zonegate_config_reloads_total',
    help: 'Reloads of routes.json and the destinations (SIGHUP, the file watch), by outcome: applied, or refused (the running configuration keeps serving)',
    labelNames: ['outcome'],
    registers,
    // Several workers (--workers) each reload on one SIGHUP: a reload counts once, not once per worker.
    aggregator: 'max',
  });
  for (const outcome of ['applied', 'refused']) reloads.inc({ outcome }, 0);
  const lastApplied = new Gauge({
    name: 'zonegate_config_last_applied_timestamp_seconds',
    help: 'When the configuration served now was applied: the start, or the last applied reload (Unix time)',
    registers,
    // Across workers: the oldest configuration still served.
    aggregator: 'min',
  });
  lastApplied.setToCurrentTime();
  registerStoreProbes(registry, stores);

  function seriesOf(route: string, tenant: string | undefined, method: number, status: number): Series {
    let routes = byRoute;
    if (tenant !== undefined) {
      const ofTenant = byTenant.get(tenant);
      if (ofTenant === undefined) byTenant.set(tenant, (routes = new Map()));
      else routes = ofTenant;
    }
    let slots = routes.get(route);
    if (slots === undefined) routes.set(route, (slots = new Array(METHODS.length * STATUS_CLASSES.length)));
    const slot = method * STATUS_CLASSES.length + status;
    let series = slots[slot];
    if (series === undefined) {
      const durationLabels = { route, method: METHODS[method]!, status_class: STATUS_CLASSES[status]! };
      series = slots[slot] = { durationLabels, requestLabels: tenant === undefined ? durationLabels : { ...durationLabels, tenant }, requests: 0 };
    }
    return series;
  }

  let listener: MetricsListener | undefined;
  const scrape = (req: IncomingMessage, res: ServerResponse, requestId?: string) => serveMetrics(registry, settings.token, req, res, requestId);

  return {
    registry,
    requests: {
      requestClosed(req, res, ctx) {
        const route = ctx.route !== undefined ? ctx.route.sourceText : ctx.answeredBy ?? 'none';
        const status = res.headersSent ? statusClass(res.statusCode) : ABORTED;
        const series = seriesOf(route, tenants && tenants.label(tenantOf(ctx)), methodClass(req.method), status);
        series.requests++;
        duration.observe(series.durationLabels, (performance.now() - ctx.startedAt) / 1000);
      },
      upgradeEnded(req, ctx, status) {
        const route = ctx.route !== undefined ? ctx.route.sourceText : ctx.answeredBy ?? 'none';
        const series = seriesOf(route, tenants && tenants.label(tenantOf(ctx)), methodClass(req.method), status === undefined ? ABORTED : statusClass(status));
        series.requests++;
        duration.observe(series.durationLabels, (performance.now() - ctx.startedAt) / 1000);
        if (status === 101) tunnels.inc();
      },
      tunnelClosed() {
        tunnels.dec();
      },
      backendFailed(destination: string, code: ErrorCode) {
        backendErrors.inc({ destination, code });
      },
      // With a listener of its own (or the primary's), /metrics is not the gateway's on the tenants' port.
      scrape: settings.port === undefined && !options.sharedWithPrimary
        ? async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => {
            ctx.answeredBy = 'metrics';
            await scrape(req, res, ctx.id);
          }
        : undefined,
    },
    login: {
      loginStarted: (tenant) => logins.inc(tenants ? { outcome: 'started', tenant: tenants.label(tenant) } : { outcome: 'started' }),
      loginSucceeded: (tenant) => logins.inc(tenants ? { outcome: 'succeeded', tenant: tenants.label(tenant) } : { outcome: 'succeeded' }),
      loginFailed: (tenant) => logins.inc(tenants ? { outcome: 'failed', tenant: tenants.label(tenant) } : { outcome: 'failed' }),
    },
    zones: {
      passwordLogin(via: 'form' | 'password_grant', outcome: ZoneLoginOutcome) {
        zoneLogins.inc({ via, outcome });
      },
      tokenIssued(grantType: string) {
        tokensIssued.inc({ grant_type: grantType });
      },
    },
    configuration: {
      reloaded(applied: boolean) {
        reloads.inc({ outcome: applied ? 'applied' : 'refused' });
        if (applied) lastApplied.setToCurrentTime();
      },
    },
    async listen() {
      const { port } = settings;
      if (port === undefined || options.sharedWithPrimary) return undefined;
      try {
        listener = await startMetricsListener(port, settings.host, (req, res) => scrape(req, res));
      } catch (err) {
        // Said by name: the start-up's generic "port in use" points at PORT.
        const e = err as NodeJS.ErrnoException;
        if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES' && e.code !== 'EADDRNOTAVAIL') throw err;
        throw new ConfigError([{ file: 'environment variable METRICS_PORT', path: '', message: `cannot listen on ${settings.host ?? 'all interfaces'} port ${port}: ${e.code}` }]);
      }
      return listener.port;
    },
    async close() {
      await listener?.close();
    },
  };
}

/**
 * The tenant a request was served for: only once its subscription was checked (a route matched, or
 * the login answered). A Host header names any tenant the client likes; those refused as unknown
 * must not use up METRICS_TENANT_LIMIT.
 */
function tenantOf(ctx: RequestContext): string | undefined {
  return ctx.route !== undefined || ctx.answeredBy === 'login' ? ctx.tenant : undefined;
}

function methodClass(method: string | undefined): number {
  const i = METHODS.indexOf(method as (typeof METHODS)[number]);
  return i === -1 ? OTHER_METHOD : i;
}

function statusClass(status: number): number {
  const i = Math.floor(status / 100) - 1;
  return i >= 0 && i < ABORTED ? i : ABORTED;
}

/**
 * `zonegate_storage_up` and `zonegate_records_up` (1 reachable, 0 not), and how long the probe took:
 * asked at each scrape, as /readyz asks, and never longer than PROBE_TIMEOUT_MS. Both gauges of a
 * store share one probe per scrape.
 */
function registerStoreProbes(registry: Registry, stores: ProbedStores): void {
  const probes: { prefix: string; what: string; kind: string; ping: () => Promise<void> }[] = [
    { prefix: 'zonegate_storage', what: 'the key/TTL store (sessions, login state, codes, locks)', kind: stores.storage.kind, ping: () => stores.storage.ping() },
    { prefix: 'zonegate_records', what: 'the records database (zones, users, applications)', kind: stores.records.dialect, ping: () => stores.records.ping() },
  ];
  for (const { prefix, what, kind, ping } of probes) {
    let current: Promise<{ up: boolean; seconds: number }> | undefined;
    // Both gauges are collected concurrently within one scrape: the first starts the probe, the other joins it.
    const probe = () => {
      current ??= timedProbe(ping).finally(() => setImmediate(() => (current = undefined)));
      return current;
    };
    new Gauge({
      name: `${prefix}_up`,
      help: `Whether ${what} answered a probe within ${PROBE_TIMEOUT_MS} ms at this scrape (1) or not (0)`,
      labelNames: ['kind'],
      registers: [registry],
      // Across workers (--workers): up only while every worker reaches it.
      aggregator: 'min',
      async collect() {
        this.set({ kind }, (await probe()).up ? 1 : 0);
      },
    });
    new Gauge({
      name: `${prefix}_probe_duration_seconds`,
      help: `How long the probe of ${what} took at this scrape (at most ${PROBE_TIMEOUT_MS / 1000} s: it gives up then)`,
      labelNames: ['kind'],
      registers: [registry],
      aggregator: 'max',
      async collect() {
        this.set({ kind }, (await probe()).seconds);
      },
    });
  }
}

async function timedProbe(ping: () => Promise<void>): Promise<{ up: boolean; seconds: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS)));
  const asked = ping().then(() => true, () => false);
  const up = await Promise.race([asked, late]);
  clearTimeout(timer);
  return { up, seconds: (performance.now() - started) / 1000 };
}
