/**
 * Child process: the backend every target ends at. A small fixed JSON answer on every path, with
 * keep-alive, so that what is measured is the hop in front of it, not the backend's own work.
 * Paths under `/bearer/` (where the authenticated routes lead) answer it only to a request that
 * carries `Authorization: Bearer <JWT>`, and 401 otherwise: a gateway that stopped attaching the
 * token (forwardAuthToken) fails the run instead of being measured.
 * Prints `{"msg":"listening","port":N}` (the gateway CLI's convention) once it listens.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BACKEND_BODY, BEARER_PATH } from './backend-body.js';

const body = Buffer.from(BACKEND_BODY);
const refused = Buffer.from(JSON.stringify({ error: 'no bearer token reached the backend' }));
// Three base64url segments: the shape of the JWT the gateway attaches, checked without verifying it.
const BEARER = /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/;
const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.resume();
  const ok = !req.url!.startsWith(BEARER_PATH) || BEARER.test(req.headers.authorization ?? '');
  res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json; charset=utf-8', 'content-length': (ok ? body : refused).length });
  res.end(ok ? body : refused);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
