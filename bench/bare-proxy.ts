/**
 * Child process: the floor. A bare `http-proxy` pass-through to the backend (argv[2]) with a
 * keep-alive agent and nothing else: no routing, no tenant, no logging, no header policy. Whatever
 * any Node.js proxy built on http-proxy does per request, this does too.
 * Prints `{"msg":"listening","port":N}` once it listens.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';

const target = process.argv[2];
if (!target) throw new Error('usage: bare-proxy.js <backend url>');

// The same agent settings as zonegate's per-destination agent (src/proxy/proxy.ts), so the two
// differ in what they do per request, not in how they reuse backend connections.
const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' });
const proxy = httpProxy.createProxyServer({ target, agent });
const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  proxy.web(req, res, {}, () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  agent.destroy();
});
