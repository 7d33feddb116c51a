/**
 * Slow clients against one destination (issue 10): TRICKLERS raw connections each send a POST's
 * headers and then its body at one byte per second, while one normal client makes sequential GETs
 * and small POSTs to the same destination. Prints the normal client's latencies (p50, p99, max) and
 * how many of its requests failed or took longer than REQUEST_LIMIT_MS.
 *
 *   npm run build && node dist/bench/slow-clients.js
 *
 * Environment: TRICKLERS (300), DURATION_SECONDS (20: the normal client's run), MAX_SOCKETS (32: the
 * destination's `maxSockets`), BODY_BYTES (1000: each trickler's Content-Length), REQUEST_LIMIT_MS
 * (10000: a normal request still unanswered then counts as failed).
 * The gateway, the backend and the clients share this process (loopback only): the figures are an
 * upper bound of what a gateway of its own would show.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../src/log.js';
import { loadConfiguration } from '../src/server/configuration.js';
import { startGateway } from '../src/server/start.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const TRICKLERS = env('TRICKLERS', 300);
const SECONDS = env('DURATION_SECONDS', 20);
const MAX_SOCKETS = env('MAX_SOCKETS', 32);
const BODY_BYTES = env('BODY_BYTES', 1000);
const REQUEST_LIMIT_MS = env('REQUEST_LIMIT_MS', 10_000);

const backend = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('ok'));
});
await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-slow-clients-'));
fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ routes: [{ source: '^/app/(.*)$', target: '/$1', destination: 'app', authenticationType: 'none' }] }));
const config = loadConfiguration(
  { ZONEGATE_DATA_DIR: path.join(dir, 'data'), destinations: JSON.stringify([{ name: 'app', url: backendUrl, maxSockets: MAX_SOCKETS }]) },
  { cwd: dir },
);
const running = await startGateway(config, { logger: createLogger({ level: 'warn', sink: { write: () => undefined } }), port: 0 });
const port = running.port;

const tricklers: net.Socket[] = [];
const drip = setInterval(() => {
  for (const socket of tricklers) if (socket.writable) socket.write('a');
}, 1000);
for (let i = 0; i < TRICKLERS; i++) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(`POST /app/upload/${i} HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\ncontent-length: ${BODY_BYTES}\r\n\r\n`);
  tricklers.push(socket);
}
// Let every trickler reach the gateway (and, without request buffering, the backend) first.
await new Promise((r) => setTimeout(r, 2000));

function timed(method: string, body?: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: '/app/normal', agent: false, headers: { host: 'localhost', ...(body ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - started : Number.POSITIVE_INFINITY));
      },
    );
    req.setTimeout(REQUEST_LIMIT_MS, () => req.destroy());
    req.on('error', () => resolve(Number.POSITIVE_INFINITY));
    req.end(body);
  });
}

const latencies: number[] = [];
const until = Date.now() + SECONDS * 1000;
let n = 0;
while (Date.now() < until) {
  latencies.push(await timed(n % 2 === 0 ? 'GET' : 'POST', n % 2 === 0 ? undefined : JSON.stringify({ n, text: 'x'.repeat(2000) })));
  n++;
}

clearInterval(drip);
for (const socket of tricklers) socket.destroy();
await running.stop();
backend.closeAllConnections();
await new Promise((r) => backend.close(r));
fs.rmSync(dir, { recursive: true, force: true });

const sorted = [...latencies].sort((a, b) => a - b);
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : `failed/over ${REQUEST_LIMIT_MS} ms`);
const failed = latencies.filter((v) => !Number.isFinite(v)).length;
console.log(
  `${TRICKLERS} tricklers (1 B/s, Content-Length ${BODY_BYTES}), maxSockets ${MAX_SOCKETS}: normal client ${latencies.length} requests in ${SECONDS} s, ` +
    `p50 ${ms(at(0.5))}, p99 ${ms(at(0.99))}, max ${ms(sorted.at(-1)!)}, failed ${failed}`,
);
