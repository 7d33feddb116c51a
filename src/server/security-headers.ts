import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { RequestOrigin } from '../tenant/resolve.js';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

const noop = () => {};

/**
 * Security headers. The gateway's own pages (errors, login, health) get helmet's strict defaults;
 * static application files (localDir) get the same but no Content-Security-Policy, since UI5 and
 * other apps load code from CDNs that only the app's author can list. Clickjacking protection is
 * SAMEORIGIN (SAP's default), HSTS only when the client reached us over https.
 * `responseHeaders` of routes.json are applied last, so an operator can override any of them.
 */
export function createSecurityHeaders(responseHeaders: readonly { name: string; value: string }[]) {
  const common = {
    strictTransportSecurity: false,
    xFrameOptions: { action: 'sameorigin' as const },
    crossOriginEmbedderPolicy: false,
  };
  const ownPages = helmet({ ...common }) as unknown as Middleware;
  const staticFiles = helmet({ ...common, contentSecurityPolicy: false }) as unknown as Middleware;
  const overrides = responseHeaders.map(({ name, value }) => [name.toLowerCase(), value] as const);

  const finish = (res: ServerResponse, origin: RequestOrigin | undefined) => {
    if (origin?.protocol === 'https') res.setHeader('strict-transport-security', 'max-age=31536000; includeSubDomains');
    for (const [name, value] of overrides) res.setHeader(name, value);
  };

  return {
    /** For answers the gateway makes itself. */
    own(req: IncomingMessage, res: ServerResponse, origin: RequestOrigin | undefined): void {
      ownPages(req, res, noop);
      finish(res, origin);
    },
    static(req: IncomingMessage, res: ServerResponse, origin: RequestOrigin | undefined): void {
      staticFiles(req, res, noop);
      finish(res, origin);
    },
    /**
     * For a backend's response: the backend's own headers win over the defaults (it knows its
     * framing needs), responseHeaders win over both.
     */
    proxied(headers: OutgoingHttpHeaders, origin: RequestOrigin): void {
      headers['x-content-type-options'] ??= 'nosniff';
      headers['x-frame-options'] ??= 'SAMEORIGIN';
      if (origin.protocol === 'https') headers['strict-transport-security'] ??= 'max-age=31536000; includeSubDomains';
      for (const [name, value] of overrides) headers[name] = value;
    },
  };
}

export type SecurityHeaders = ReturnType<typeof createSecurityHeaders>;
