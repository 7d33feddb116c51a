/**
 * The gateway's `/platform/v1/` endpoints (issue 15), answered on any host before tenant routing, as
 * the SaaS registry's callbacks are:
 *   POST /platform/v1/organizations   a trusted platform ensures its organization's tenant (./organizations.ts)
 *   POST /platform/v1/autologin       a one-time login URL for a platform's user (./autologin.ts)
 *   POST /platform/v1/relay/states    a relay state for an installation (./relay.ts)
 *   GET  /platform/v1/relay/callback  the relay's one redirect URI (./relay.ts)
 * Errors are coded (./errors.ts): JSON to servers, a page to a browser (the relay's callback).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, ZonegateError } from '../errors.js';
import { isJsonMediaType, mediaType, readLimitedBody } from '../http/read-body.js';
import { sendError } from '../http/render-error.js';
import type { Logger } from '../log.js';
import { requestOrigin } from '../tenant/resolve.js';
import type { TrustedProxies } from '../tenant/trusted-proxies.js';
import { autologin, type AutologinOptions } from './autologin.js';
import { badRequest } from './errors.js';
import { ensureOrganization, type OrganizationsOptions } from './organizations.js';
import { RELAY_CALLBACK_PATH, RELAY_STATES_PATH, type Relay } from './relay.js';

export const PLATFORM_PREFIX = '/platform/v1/';
export const ORGANIZATIONS_PATH = '/platform/v1/organizations';
export const AUTOLOGIN_PATH = '/platform/v1/autologin';
const MAX_BODY = 64 * 1024;

export interface PlatformHandlerOptions {
  /** Absent when the gateway has no provisioning (no tenants to create, no zones to log in at). */
  organizations?: OrganizationsOptions;
  autologin?: AutologinOptions;
  relay?: Relay;
  trustedProxies: TrustedProxies;
  logger: Logger;
}

export type PlatformHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

async function readBody(req: IncomingMessage): Promise<{ json?: unknown; form?: URLSearchParams }> {
  const type = mediaType(req);
  const raw = await readLimitedBody(req, MAX_BODY);
  if (raw === 'too-large') throw new GatewayError('ZG_ERR_PAYLOAD_TOO_LARGE', `The body exceeds ${MAX_BODY} bytes`, { headers: { connection: 'close' } });
  if (type === 'application/x-www-form-urlencoded') return { form: new URLSearchParams(raw.toString('utf8')) };
  if (!isJsonMediaType(type)) throw new GatewayError('ZG_ERR_UNSUPPORTED_MEDIA_TYPE', 'The body must be JSON (or, for assertions, a form)');
  try {
    return { json: JSON.parse(raw.toString('utf8')) };
  } catch {
    throw badRequest('The body is not valid JSON');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(text);
}

function bearer(req: IncomingMessage): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

export function createPlatformHandler(options: PlatformHandlerOptions): PlatformHandler {
  const { logger } = options;
  const base = (req: IncomingMessage) => {
    const origin = requestOrigin(req, options.trustedProxies);
    return `${origin.protocol}://${origin.host}`;
  };

  async function route(req: IncomingMessage, res: ServerResponse, pathname: string, url: URL): Promise<boolean> {
    const method = req.method ?? 'GET';
    const only = (allowed: string) => {
      if (method !== allowed) throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}`, { headers: { allow: allowed } });
    };
    switch (pathname) {
      case ORGANIZATIONS_PATH: {
        if (!options.organizations) return false;
        only('POST');
        const result = await ensureOrganization(options.organizations, bearer(req), `${base(req)}${ORGANIZATIONS_PATH}`, async () => (await readBody(req)).json ?? badRequestBody());
        sendJson(res, result.status, result.body);
        return true;
      }
      case AUTOLOGIN_PATH: {
        if (!options.autologin) return false;
        only('POST');
        const body = await readBody(req);
        const assertion = body.form ? body.form.get('assertion') : (body.json as { assertion?: unknown } | null)?.assertion;
        if (typeof assertion !== 'string' || assertion === '') throw badRequest('assertion is required: the platform\'s signed JWT (RFC 7523)');
        sendJson(res, 200, await autologin(options.autologin, assertion, {}));
        return true;
      }
      case RELAY_STATES_PATH: {
        if (!options.relay) return false;
        only('POST');
        const body = await readBody(req);
        const get = (name: string) => (body.form ? (body.form.get(name) ?? undefined) : (body.json as Record<string, unknown> | null)?.[name]);
        sendJson(res, 201, await options.relay.issueState(req, { redirectUri: get('redirect_uri'), state: get('state') }, `${base(req)}${RELAY_CALLBACK_PATH}`));
        return true;
      }
      case RELAY_CALLBACK_PATH: {
        if (!options.relay) return false;
        only('GET');
        const location = await options.relay.relayCallback(url.searchParams);
        res.writeHead(302, { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'content-length': 0 });
        res.end();
        return true;
      }
      default:
        return false;
    }
  }

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    if (!url.pathname.startsWith(PLATFORM_PREFIX)) return false;
    try {
      return await route(req, res, url.pathname, url);
    } catch (err) {
      const error = err instanceof ZonegateError ? err : new GatewayError('ZG_ERR_INTERNAL', undefined, { cause: err, expose: false });
      if (error.status >= 500) logger.error('platform request failed', { path: url.pathname, code: error.code, error: String(error.cause ?? error.message) });
      sendError(req, res, error, { html: url.pathname === RELAY_CALLBACK_PATH ? 'always' : 'browsers' });
      if (error.code === 'ZG_ERR_PAYLOAD_TOO_LARGE') res.once('finish', () => req.destroy());
      return true;
    }
  };
}

function badRequestBody(): never {
  throw badRequest('The body must be JSON');
}
