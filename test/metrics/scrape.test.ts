import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { TenantLabels } from '../../src/metrics/tenant-labels.js';
import { request } from '../support/http.js';
import { parseExposition } from './exposition.js';

describe('TenantLabels', () => {
  it('names the first tenants up to the limit for good, and counts the rest as other', () => {
    const labels = new TenantLabels(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((t) => labels.label(t))).toEqual(['a', 'b', 'other', 'a', 'other', 'b']);
    expect(labels.label(undefined)).toBe('none');
  });
});

describe('the metrics listener with METRICS_TOKEN as well', () => {
  const token = 'x'.repeat(24);
  let metrics: Metrics;
  let port: number;
  let stalled: (() => void) | undefined;
  beforeAll(async () => {
    // A store that never answers: the scrape still answers, within the probe's bound, and says so.
    metrics = createMetrics(
      { port: 0, host: '127.0.0.1', token, tenantLabel: false, tenantLimit: 100 },
      {
        storage: { kind: 'redis', ping: () => new Promise<void>((resolve) => (stalled = resolve)) },
        records: { dialect: 'postgres', ping: () => Promise.reject(new Error('down')) },
      },
    );
    port = (await metrics.listen())!;
  });
  afterAll(async () => {
    stalled?.();
    await metrics.close();
  });

  it('asks for the token on its own port too', async () => {
    expect((await request(port, { path: '/metrics' })).status).toBe(401);
    expect((await request(port, { path: '/metrics', headers: { authorization: `Basic ${token}` } })).status).toBe(401);
    const started = performance.now();
    const res = await request(port, { path: '/metrics', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(2000);
    const m = parseExposition(res.text);
    expect(m.value('zonegate_storage_up', { kind: 'redis' })).toBe(0);
    expect(m.value('zonegate_storage_probe_duration_seconds', { kind: 'redis' })).toBeGreaterThanOrEqual(0.45);
    expect(m.value('zonegate_records_up', { kind: 'postgres' })).toBe(0);
  });

  it('has no /metrics on the main port: the gateway routes it', () => {
    expect(metrics.requests.scrape).toBeUndefined();
  });
});
