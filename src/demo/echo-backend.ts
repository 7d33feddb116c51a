import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small backend that answers with what it received: method, path, headers, body size. It lets a
 * new user (and the tests and the benchmark) see exactly what the gateway forwards.
 * `/status/<code>` answers that status, `/slow/<ms>` waits first, `/redirect?to=` redirects,
 * `/bytes/<n>` streams n bytes. A bearer JWT is shown decoded too (`jwt`: its header and claims,
 * scopes among them), so the demo's `/api/whoami` is readable without decoding a token by hand.
 */
export function createEchoBackend(): http.Server {
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend');
    const [, first, arg] = url.pathname.split('/');
    if (first === 'slow') {
      const timer = setTimeout(() => echo(req, res, 200), Number(arg) || 1000);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if (first === 'status') return echo(req, res, Number(arg) || 200);
    if (first === 'redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
      return void res.end();
    }
    if (first === 'bytes') return bytes(res, Number(arg) || 0);
    echo(req, res, 200);
  });
}

function echo(req: IncomingMessage, res: ServerResponse, status: number): void {
  let size = 0;
  req.on('data', (chunk: Buffer) => (size += chunk.length));
  req.on('end', () => {
    const jwt = decodeBearer(req.headers.authorization);
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      ...(jwt ? { jwt } : {}),
      headers: req.headers,
      bodyBytes: size,
    });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

/**
 * The header and claims of a bearer JWT, decoded and NOT verified: this backend only shows what it
 * was sent (a real backend verifies the signature, e.g. with @sap/xssec). Undefined for anything else.
 */
function decodeBearer(authorization: string | undefined): { header: unknown; claims: unknown } | undefined {
  const match = /^Bearer ([\w-]+)\.([\w-]+)\.[\w-]*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  try {
    const part = (text: string) => JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    return { header: part(match[1]!), claims: part(match[2]!) };
  } catch {
    return undefined;
  }
}

function bytes(res: ServerResponse, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let left = total;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  const pump = () => {
    while (left > 0) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      if (!res.write(piece)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

export async function listenEcho(server: http.Server, host = '127.0.0.1'): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}
