/**
 * What counting one request costs (issue 17): `requestClosed` as the gateway calls it when a
 * response closes, for a mix of routes, methods and statuses, with and without the tenant label.
 * A microbenchmark on one core, not the load test: `node dist/bench/metrics-cost.js`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMetrics } from '../src/metrics/metrics.js';
import type { RequestContext } from '../src/server/context.js';
import type { CompiledRoute } from '../src/routing/route-table.js';

const stores = {
  storage: { kind: 'sqlite' as const, ping: () => Promise.resolve() },
  records: { dialect: 'sqlite' as const, ping: () => Promise.resolve() },
};
const routes = ['^/api/(.*)$', '^/echo/(.*)$', '^/(.*)$'].map((sourceText, index) => ({ index, sourceText }) as CompiledRoute);
const methods = ['GET', 'GET', 'GET', 'POST'];
const statuses = [200, 200, 304, 404];
const tenants = ['acme', 'globex', 'initech'];

function run(label: string, tenantLabel: boolean): void {
  const metrics = createMetrics({ port: 0, host: undefined, token: undefined, tenantLabel, tenantLimit: 100 }, stores);
  const requests = Array.from({ length: 64 }, (_, i) => ({
    req: { method: methods[i % methods.length] } as IncomingMessage,
    res: { headersSent: true, statusCode: statuses[i % statuses.length] } as ServerResponse,
    ctx: { route: routes[i % routes.length], tenant: tenants[i % tenants.length], startedAt: performance.now(), answeredBy: undefined } as unknown as RequestContext,
  }));
  const count = (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = requests[i & 63]!;
      metrics.requests.requestClosed(r.req, r.res, r.ctx);
    }
  };
  count(200_000);
  const n = 2_000_000;
  const started = process.hrtime.bigint();
  count(n);
  const ns = Number(process.hrtime.bigint() - started) / n;
  process.stdout.write(`${label}: ${ns.toFixed(0)} ns per request\n`);
}

run('metrics on', false);
run('metrics on, tenant label', true);
