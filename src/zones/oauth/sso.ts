/**
 * The zone's single sign-on session: after one login, further /oauth/authorize requests of any
 * client in the zone complete without the form (UAA's JSESSIONID at the zone). The cookie is host-only
 * on `<subdomain>.<uaadomain>`, so it is per zone, and holds only a random ticket; the session itself is
 * in storage under the ticket's hash.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ZoneContext } from './context.js';
import { cookie, readCookie } from './http.js';

export const SSO_COOKIE = 'zg_zone_session';

export interface SsoSession {
  zoneId: string;
  userId: string;
  /** Epoch seconds of the password login (OIDC `auth_time`). */
  authTime: number;
}

const key = (ticket: string) => `zsso:${createHash('sha256').update(ticket).digest('base64url')}`;

export async function readSso(ctx: ZoneContext, req: IncomingMessage): Promise<SsoSession | undefined> {
  const ticket = readCookie(req, SSO_COOKIE);
  if (!ticket) return undefined;
  const raw = await ctx.services.storage.get(key(ticket));
  if (!raw) return undefined;
  const session = JSON.parse(raw) as SsoSession;
  return session.zoneId === ctx.zone.id ? session : undefined;
}

/** Starts a session; returns the Set-Cookie value. */
export async function startSso(ctx: ZoneContext, session: SsoSession): Promise<string> {
  const ticket = randomBytes(32).toString('base64url');
  await ctx.services.storage.set(key(ticket), JSON.stringify(session), { ttlMs: ctx.services.ssoTtlMs });
  return cookie(SSO_COOKIE, ticket, { secure: ctx.secure, maxAgeSeconds: Math.floor(ctx.services.ssoTtlMs / 1000) });
}

/** Ends the session; returns the Set-Cookie value that clears the cookie. */
export async function endSso(ctx: ZoneContext, req: IncomingMessage): Promise<string> {
  const ticket = readCookie(req, SSO_COOKIE);
  if (ticket) await ctx.services.storage.delete(key(ticket));
  return cookie(SSO_COOKIE, '', { secure: ctx.secure, maxAgeSeconds: 0 });
}
