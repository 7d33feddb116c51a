/**
 * Child process: the backend every target ends at. A small fixed JSON answer on every path, with
 * keep-alive, so that what is measured is the hop in front of it, not the backend's own work.
 * Prints `{"msg":"listening","port":N}` (the gateway CLI's convention) once it listens.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BACKEND_BODY } from './backend-body.js';

const body = Buffer.from(BACKEND_BODY);
const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
