import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OrdersBackend {
  url: string;
  /** What each request carried: its path and whether it had a bearer token. */
  seen: { path: string; bearer: boolean }[];
  close(): Promise<void>;
}

/** The data service the Orders application calls through its destination (`orders-backend`). */
export async function startOrdersBackend(): Promise<OrdersBackend> {
  const seen: OrdersBackend['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? '', bearer: /^Bearer ey/.test(req.headers.authorization ?? '') });
    const body = JSON.stringify({ path: req.url, items: [{ id: 'O-1', product: 'Bicycle' }, { id: 'O-2', product: 'Helmet' }] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
