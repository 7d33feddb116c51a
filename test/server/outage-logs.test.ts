import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/**
 * A backend that is down must not turn every request into an error line (issue 10): the log of an
 * outage says what failed, once, then how often, while each request keeps its access line.
 */

let gw: TestGateway;

beforeAll(async () => {
  // A port that was just free: connections to it are refused, as to a backend that is down.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  gw = await startTestGateway({
    routes: { routes: [{ source: '^/down/(.*)$', target: '/$1', destination: 'down', authenticationType: 'none' }] },
    destinations: [{ name: 'down', url: `http://127.0.0.1:${port}` }],
  });
});
afterAll(() => gw.stop());

describe('logs during a backend outage', () => {
  it('50 refused requests: 50 access lines, one error line with its code and destination', async () => {
    const statuses = [];
    for (let i = 0; i < 50; i++) statuses.push((await request(gw.port, { path: `/down/${i}` })).status);
    expect(new Set(statuses)).toEqual(new Set([502]));
    const lines = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'request' && l.status === 502)).toHaveLength(50);
    const errors = lines.filter((l) => l.level === 'error');
    // One in full; on a machine so loaded that the run outlasted the 10 s interval, a count line too.
    expect(errors.filter((l) => l.repeated === undefined)).toHaveLength(1);
    expect(errors.length).toBeLessThanOrEqual(2);
    expect(errors[0]).toMatchObject({ msg: 'request failed', code: 'ZG_ERR_BACKEND_UNREACHABLE', destination: 'down' });
  });
});
