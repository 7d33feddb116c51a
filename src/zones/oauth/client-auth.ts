/**
 * Client authentication at the token and introspection endpoints: HTTP Basic (RFC 6749 §2.3.1) and
 * form fields (`client_secret_post`, which @sap/xssec uses). Exactly one method per request (§2.3).
 * A client must also be usable in the zone: its own zone, or a subscribed zone in shared tenant mode
 * (REFERENCE.md §5); elsewhere it is as unknown as a wrong secret, except in a zone named by x-zid
 * (unauthorized_client, 400).
 */
import type { IncomingMessage } from 'node:http';
import type { Application } from '../directory/types.js';
import type { ZoneContext } from './context.js';
import { InvalidClient, InvalidRequest, UnauthorizedClient } from './errors.js';
import { single } from './http.js';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string | undefined;
  method: 'basic' | 'post' | 'none';
}

/** §2.3.1: id and secret are form-urlencoded before they are joined with `:` and base64-encoded. */
function formDecode(text: string): string {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}

export function readClientCredentials(req: IncomingMessage, form: URLSearchParams): ClientCredentials | undefined {
  const header = req.headers.authorization;
  const formId = single(form, 'client_id');
  const formSecret = single(form, 'client_secret');
  if (header !== undefined && /^basic /i.test(header)) {
    if (formSecret !== undefined) throw new InvalidRequest('Use one client authentication method only');
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) throw new InvalidClient('Malformed Basic credentials', { basic: true });
    let clientId: string;
    let clientSecret: string;
    try {
      clientId = formDecode(decoded.slice(0, colon));
      clientSecret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw new InvalidClient('Malformed Basic credentials', { basic: true });
    }
    if (formId !== undefined && formId !== clientId) throw new InvalidRequest('client_id does not match the authenticated client');
    return { clientId, clientSecret, method: 'basic' };
  }
  if (formId === undefined) return undefined;
  return { clientId: formId, clientSecret: formSecret, method: formSecret === undefined ? 'none' : 'post' };
}

export async function authenticateClient(ctx: ZoneContext, req: IncomingMessage, form: URLSearchParams): Promise<Application> {
  const credentials = readClientCredentials(req, form);
  if (!credentials) throw new InvalidClient('Client authentication is required');
  const basic = credentials.method === 'basic';
  const { directory } = ctx.services;
  let application: Application | undefined;
  if (credentials.clientSecret === undefined || credentials.clientSecret === '') {
    // RFC 6749 §3.2.1: a public client (issue 14) names itself with client_id alone; it cannot
    // authenticate, so what it may do rests on PKCE (authorize.ts) and its grants (public ones only).
    application = credentials.method === 'none' ? await directory.getApplicationByClientId(credentials.clientId) : undefined;
    if (!application?.client?.public) throw new InvalidClient('Client authentication is required', { basic });
  } else {
    application = await directory.getApplicationByClientId(credentials.clientId);
    // A public client has no secret: whatever it sends does not verify.
    const secretOk = application !== undefined && (await directory.verifyClientSecret(credentials.clientId, credentials.clientSecret));
    if (!application || !secretOk) throw new InvalidClient('Bad credentials', { basic });
  }
  if (!(await directory.isClientAllowedInZone(application, ctx.zone.id))) {
    // Named by x-zid, the zone is the caller's explicit request and the client has proven who it is:
    // RFC 6749 §5.2 unauthorized_client (400), "the authenticated client is not authorized" for this
    // request. On a zone's own host the client is as unknown there as with a wrong secret.
    if (ctx.zoneFromHeader) throw new UnauthorizedClient(`The client may not be used in the zone named by x-zid`);
    throw new InvalidClient('Bad credentials', { basic });
  }
  return application;
}

/** For /oauth/authorize and /logout.do, where the client only names itself. */
export async function clientForZone(ctx: ZoneContext, clientId: string | undefined): Promise<Application | undefined> {
  if (!clientId) return undefined;
  const application = await ctx.services.directory.getApplicationByClientId(clientId);
  if (!application) return undefined;
  return (await ctx.services.directory.isClientAllowedInZone(application, ctx.zone.id)) ? application : undefined;
}
