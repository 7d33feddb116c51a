import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A server bound to its port whose connections wait, unread, until `serve()`. */
export interface BoundServer {
  readonly server: http.Server;
  /** The port bound: the one asked for, or the one the system chose for port 0. */
  readonly port: number;
  /** The request handlers are attached: read the connections that waited, and the later ones at once. */
  serve(): void;
  /** The start-up failed after binding: the port is freed, the waiting connections end unanswered. */
  close(): Promise<void>;
}

/**
 * Binds before the application is assembled, because the assembly needs the port (the zones' and
 * the tenants' URLs carry it; port 0 in tests). Until `serve()` no request is answered, nor lost:
 * the kernel accepts connections, and Node leaves them paused (net.Server's `pauseOnConnect`), so
 * what a client sends stays unread until the handlers are there. A client that connects too early
 * waits for the start-up, as it would in the listen backlog.
 */
export async function bindServer(options: http.ServerOptions, port: number, host?: string): Promise<BoundServer> {
  const server = http.createServer(options);
  // A net.Server option that http.createServer does not pass on; read by each accepted connection.
  (server as { pauseOnConnect?: boolean }).pauseOnConnect = true;
  const waiting = new Set<Socket>();
  const hold = (socket: Socket) => {
    waiting.add(socket);
    socket.once('close', () => waiting.delete(socket));
  };
  server.on('connection', hold);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const release = () => {
    (server as { pauseOnConnect?: boolean }).pauseOnConnect = false;
    server.off('connection', hold);
  };
  return {
    server,
    port: bound,
    serve() {
      release();
      for (const socket of waiting) socket.resume();
      waiting.clear();
    },
    async close() {
      release();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of waiting) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}
