import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadFailure, measure, measureInterleaved } from '../../bench/load.js';

const BODY = '{"ok":true}';
const settings = { connections: 4, seconds: 1, warmupSeconds: 0 };

/** Answers the first request (the probe) as the backend would, every later one with `later`. */
async function server(later: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<http.Server> {
  let first = true;
  const s = http.createServer((req, res) => {
    req.resume();
    if (first) {
      first = false;
      res.end(BODY);
      return;
    }
    later(req, res);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}

let running: http.Server | undefined;
afterEach(async () => {
  if (!running) return;
  running.closeAllConnections();
  await new Promise((r) => running!.close(r));
  running = undefined;
});

const target = (s: http.Server, headers?: Record<string, string>) => ({
  name: 'target',
  url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/x`,
  host: 'acme.app.example.com',
  expectBody: BODY,
  processes: [],
  ...(headers ? { headers } : {}),
});

describe('a load run counts only the backend’s own 200s', () => {
  it('fails loudly when the session stops working and the gateway redirects to a login page', async () => {
    running = await server((_req, res) => {
      res.writeHead(302, { location: 'http://acme.auth.localhost/oauth/authorize' });
      res.end();
    });
    await expect(measure(target(running), settings)).rejects.toThrow(/non-2xx responses \(\d+x 302\)/);
  });

  it('fails on a 200 whose body is not the backend’s (a login page served with 200)', async () => {
    running = await server((_req, res) => res.end('<html>login</html>'));
    const failure = await measure(target(running), settings).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(LoadFailure);
    expect((failure as Error).message).toMatch(/\d+ responses with a body other than the backend's/);
  });

  it('fails at the probe when the target answers wrongly from the start, quoting the answer', async () => {
    running = http.createServer((req, res) => {
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Bearer' });
      res.end('{"error":"no session"}');
    });
    await new Promise<void>((r) => running!.listen(0, '127.0.0.1', r));
    await expect(measure(target(running), settings)).rejects.toThrow(/probe .* answered 401 \{"error":"no session"\}/);
  });

  it('sends the target’s headers (the session cookie) with every request and reports the figures', async () => {
    const cookies = new Set<string | undefined>();
    running = await server((req, res) => {
      cookies.add(req.headers.cookie);
      res.end(BODY);
    });
    const figures = await measure(target(running, { cookie: 'zonegate.sid=abc' }), settings);
    expect(figures.requests).toBeGreaterThan(0);
    expect(figures.rps).toBeGreaterThan(0);
    expect([...cookies]).toEqual(['zonegate.sid=abc']);
  });

  it('with firstPass, sends one request per cookie before the warm-up and reports that pass on its own', async () => {
    const seen: (string | undefined)[] = [];
    running = await server((req, res) => {
      seen.push(req.headers.cookie);
      res.end(BODY);
    });
    const cookies = Array.from({ length: 40 }, (_, i) => `zonegate.sid=s${i}`);
    const figures = await measure({ ...target(running), cookies, firstPass: true }, settings);
    expect(figures.firstPass).toMatchObject({ requests: 40 });
    expect(figures.firstPass!.rps).toBeGreaterThan(0);
    // Each session once, then the measurement goes round them again.
    expect(new Set(seen.slice(0, 40)).size).toBe(40);
    expect(seen.length).toBeGreaterThan(40);
    expect(figures.handled).toBe(1 + 40 + figures.requests);
    // Every session is used in the measurement too, about evenly (each connection goes round its own share).
    const counts = new Map<string | undefined, number>();
    for (const cookie of seen.slice(40)) counts.set(cookie, (counts.get(cookie) ?? 0) + 1);
    expect(counts.size).toBe(40);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2 * Math.min(...counts.values()) + 2);
  });

  it('with fewer cookies than connections, every connection sends one of them', async () => {
    const seen = new Set<string | undefined>();
    running = await server((req, res) => {
      seen.add(req.headers.cookie);
      res.end(BODY);
    });
    const figures = await measure({ ...target(running), cookies: ['zonegate.sid=a', 'zonegate.sid=b'] }, settings);
    expect(figures.requests).toBeGreaterThan(0);
    expect([...seen].sort()).toEqual(['zonegate.sid=a', 'zonegate.sid=b']);
  });

  it('with many cookies, still fails on an answer other than the backend’s for any one of them', async () => {
    running = await server((req, res) => res.end(req.headers.cookie === 'zonegate.sid=s7' ? '<html>login</html>' : BODY));
    const cookies = Array.from({ length: 40 }, (_, i) => `zonegate.sid=s${i}`);
    await expect(measure({ ...target(running), cookies }, settings)).rejects.toThrow(/\d+ responses with a body other than the backend's/);
  });
});

describe('targets measured in turns (issue 18: ratios a machine whose speed moves within minutes cannot skew)', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  const inTurns = { connections: 4, seconds: 1, warmupSeconds: 0, sliceSeconds: 1 };

  it('loads each target for a slice per cycle, in reversed order every other cycle, and reports each cycle’s rates', async () => {
    const arrivals: string[] = [];
    const named = async (name: string) => {
      const s = await server((_req, res) => {
        arrivals.push(name);
        res.end(BODY);
      });
      servers.push(s);
      return { ...target(s), name };
    };
    const a = await named('a');
    const b = await named('b');
    const { figures, cycles } = await measureInterleaved([a, b], { ...inTurns, cycles: 3 });
    // Slices a b | b a | a b: four runs of one target's requests, where a fixed order would give six.
    const runs = arrivals.filter((name, i) => name !== arrivals[i - 1]);
    expect(runs).toEqual(['a', 'b', 'a', 'b']);
    expect(cycles).toHaveLength(3);
    for (const rates of cycles) expect(rates.every((r) => r > 0)).toBe(true);
    expect(figures.map((f) => f.name)).toEqual(['a', 'b']);
    // Each target's figures are over its three slices (what was still in flight when a slice ended
    // reached the server without being counted: at most one per connection and slice).
    const arrived = arrivals.filter((n) => n === 'a').length;
    expect(figures[0]!.requests).toBeLessThanOrEqual(arrived);
    expect(figures[0]!.requests).toBeGreaterThanOrEqual(arrived - 3 * inTurns.connections);
    expect(figures[1]!.handled).toBe(1 + figures[1]!.requests);
  });

  it('goes on through each connection’s share of the cookies from slice to slice, so every session is used', async () => {
    const seen: string[] = [];
    const s = await server((req, res) => {
      seen.push(req.headers.cookie ?? '');
      setTimeout(() => res.end(BODY), 50);
    });
    servers.push(s);
    // 4 connections, 100 cookies each, about 20 requests per connection in a slice.
    const cookies = Array.from({ length: 400 }, (_, i) => `zonegate.sid=s${i}`);
    const { figures } = await measureInterleaved([{ ...target(s), cookies }], { ...inTurns, cycles: 3 });
    const perSlice = figures[0]!.requests / 3;
    const distinct = new Set(seen).size;
    // Starting every slice from the top of its share would reuse the first slice's cookies.
    expect(distinct).toBeGreaterThan(2 * perSlice);
    expect(distinct).toBeLessThanOrEqual(cookies.length);
  });

  it('fails the whole measurement on an answer other than the backend’s in any slice', async () => {
    let n = 0;
    const s = await server((_req, res) => res.end(++n > 50 ? '<html>login</html>' : BODY));
    servers.push(s);
    await expect(measureInterleaved([target(s)], { ...inTurns, cycles: 2 })).rejects.toThrow(/\(measurement\): \d+ responses with a body other than the backend's/);
  });
});
