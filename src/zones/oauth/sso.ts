/**
 * The zone's single sign-on session: after one login, further /oauth/authorize requests of any
 * client in the zone complete without the form (UAA's JSESSIONID at the zone). The cookie is host-only
 * on `<subdomain>.<uaadomain>`, so it is per zone, and holds only a random ticket; the session itself is
 * in storage under the ticket's hash.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ZoneContext } from './context.js';
import { cookie, readCookie } from './http.js';

export const SSO_COOKIE = 'zg_zone_session';

export interface SsoSession {
  zoneId: string;
  userId: string;
  /** Epoch seconds of the password login (OIDC `auth_time`). */
  authTime: number;
  /** The IdP login behind the session, sealed (see sealUpstream); absent for the zone's own logins. */
  upstream?: string;
}

/**
 * What the zone needs to end the session at the IdP the user came from (issue 13): OpenID's ID
 * token (the `id_token_hint` of RP-initiated logout), SAML's NameID and SessionIndex (a LogoutRequest).
 */
export type UpstreamSession =
  | { protocol: 'oidc'; idpId: string; originKey: string; idToken: string }
  | { protocol: 'saml'; idpId: string; originKey: string; nameID: string; nameIDFormat?: string; sessionIndex?: string };

const key = (ticket: string) => `zsso:${createHash('sha256').update(ticket).digest('base64url')}`;

export async function readSso(ctx: ZoneContext, req: IncomingMessage): Promise<SsoSession | undefined> {
  const ticket = readCookie(req, SSO_COOKIE);
  if (!ticket) return undefined;
  const raw = await ctx.services.storage.get(key(ticket));
  if (!raw) return undefined;
  const session = JSON.parse(raw) as SsoSession;
  return session.zoneId === ctx.zone.id ? session : undefined;
}

/**
 * The upstream session is sealed (AES-256-GCM) under a key derived from the cookie's ticket, which
 * storage never sees (it keys the session by the ticket's hash): a storage dump yields no ID token,
 * as oauth2-proxy's per-session encryption does.
 */
const upstreamKey = (ticket: string) => createHash('sha256').update(`zone-sso-upstream\u0000${ticket}`).digest();

function sealUpstream(ticket: string, upstream: UpstreamSession): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', upstreamKey(ticket), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(upstream), 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url')).join('.');
}

function openUpstream(ticket: string, sealed: string): UpstreamSession | undefined {
  try {
    const [iv, tag, data] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', upstreamKey(ticket), iv!);
    decipher.setAuthTag(tag!);
    return JSON.parse(Buffer.concat([decipher.update(data!), decipher.final()]).toString('utf8')) as UpstreamSession;
  } catch {
    return undefined;
  }
}

/** Starts a session (with the IdP login behind it, if any); returns the Set-Cookie value. */
export async function startSso(ctx: ZoneContext, session: Omit<SsoSession, 'upstream'>, upstream?: UpstreamSession): Promise<string> {
  const ticket = randomBytes(32).toString('base64url');
  const stored: SsoSession = { ...session, ...(upstream ? { upstream: sealUpstream(ticket, upstream) } : {}) };
  await ctx.services.storage.set(key(ticket), JSON.stringify(stored), { ttlMs: ctx.services.ssoTtlMs });
  return cookie(SSO_COOKIE, ticket, { secure: ctx.secure, maxAgeSeconds: Math.floor(ctx.services.ssoTtlMs / 1000) });
}

/**
 * Ends the session; returns the Set-Cookie value that clears the cookie, and the IdP login behind
 * the session (this zone's only), for logout at the IdP.
 */
export async function endSso(ctx: ZoneContext, req: IncomingMessage): Promise<{ clear: string; upstream?: UpstreamSession }> {
  const ticket = readCookie(req, SSO_COOKIE);
  const raw = ticket ? await ctx.services.storage.take(key(ticket)) : undefined;
  const session = raw === undefined ? undefined : (JSON.parse(raw) as SsoSession);
  const upstream = session?.zoneId === ctx.zone.id && session.upstream ? openUpstream(ticket!, session.upstream) : undefined;
  return { clear: cookie(SSO_COOKIE, '', { secure: ctx.secure, maxAgeSeconds: 0 }), ...(upstream ? { upstream } : {}) };
}
