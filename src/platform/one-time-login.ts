/**
 * One-time login links (issue 15, part 1; REFERENCE.md §11): what `/platform/v1/autologin` hands a
 * trusted platform to open in its user's browser. The link carries an unguessable reference, never
 * a token or password:
 *  - 32 random bytes, base64url; stored under its SHA-256 only (`plat:otl:<hash>`), so a store dump
 *    yields no usable link;
 *  - single use: opening it is one atomic `take` in the shared Storage (two instances cannot both
 *    honour it);
 *  - it expires within ONE_TIME_LOGIN_TTL_MS (60 s);
 *  - it is bound to one zone (tenant) and works only on that zone's host.
 *
 * Opened (GET /one-time-login on the zone's host), it starts the zone's SSO session for the user
 * (../zones/oauth/sso.ts, as a password login at /login.do does) and redirects to the tenant's
 * application URL; the gateway there logs in through its usual authorization-code flow, which the
 * SSO session completes without a form. One login code path: the gateway never learns that the
 * user came by a link.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Storage } from '../storage/types.js';
import type { ZoneContext } from '../zones/oauth/context.js';
import { redirect, sendErrorPage, zoneErrorPage } from '../zones/oauth/http.js';
import { startSso } from '../zones/oauth/sso.js';
import { createAudit } from './audit.js';
import { PlatformError } from './errors.js';

export const ONE_TIME_LOGIN_PATH = '/one-time-login';
export const ONE_TIME_LOGIN_TTL_MS = 60_000;

export interface OneTimeLogin {
  zoneId: string;
  userId: string;
  platformId: string;
  /** Where the browser goes once the zone's session is started: the tenant's URL (never from the request). */
  returnUrl: string;
  /** Epoch ms. */
  expiresAt: number;
}

const REFERENCE = /^[A-Za-z0-9_-]{43}$/;
const key = (reference: string) => `plat:otl:${createHash('sha256').update(reference, 'utf8').digest('base64url')}`;

export async function issueOneTimeLogin(storage: Storage, login: Omit<OneTimeLogin, 'expiresAt'>, now: number): Promise<{ reference: string; expiresAt: number }> {
  const reference = randomBytes(32).toString('base64url');
  const expiresAt = now + ONE_TIME_LOGIN_TTL_MS;
  await storage.set(key(reference), JSON.stringify({ ...login, expiresAt }), { ttlMs: ONE_TIME_LOGIN_TTL_MS });
  return { reference, expiresAt };
}

/** Redeems a reference: of concurrent callers on any instance, at most one gets the login. */
export async function takeOneTimeLogin(storage: Storage, reference: string, now: number): Promise<OneTimeLogin | undefined> {
  if (!REFERENCE.test(reference)) return undefined;
  const raw = await storage.take(key(reference));
  if (raw === undefined) return undefined;
  const login = JSON.parse(raw) as OneTimeLogin;
  return login.expiresAt > now ? login : undefined;
}

const INVALID = 'This login link is invalid, has expired or was already used. Go back to where you came from and open the application again.';

/** GET /one-time-login?ref=… on a zone's host. */
export async function handleOneTimeLogin(ctx: ZoneContext, res: ServerResponse, url: URL): Promise<void> {
  const { storage, directory, logger } = ctx.services;
  const audit = createAudit(logger);
  const refuse = (reason: string, fields: Record<string, unknown> = {}) => {
    audit.refused('platform.one_time_login', reason, { zoneId: ctx.zone.id, clientIp: ctx.clientIp, ...fields });
    sendErrorPage(res, new PlatformError('ZG_ERR_ONE_TIME_LOGIN_INVALID', reason, INVALID), zoneErrorPage(ctx.zone, 'Login link not valid'));
  };
  const reference = url.searchParams.get('ref') ?? '';
  // Taken before anything is checked: a link opened on the wrong host is spent, not left for a second try.
  const login = await takeOneTimeLogin(storage, reference, ctx.services.now());
  if (!login) return refuse('unknown_used_or_expired');
  if (login.zoneId !== ctx.zone.id) return refuse('other_zone', { platform: login.platformId, linkZoneId: login.zoneId });
  const user = await directory.getUser(ctx.zone.id, login.userId);
  if (!user) return refuse('user_gone', { platform: login.platformId });
  const authTime = Math.floor(ctx.services.now() / 1000);
  const setCookie = await startSso(ctx, { zoneId: ctx.zone.id, userId: user.id, authTime });
  audit.success('platform.one_time_login', { zoneId: ctx.zone.id, userId: user.id, platform: login.platformId, clientIp: ctx.clientIp });
  // Referrer-Policy: the link's reference must not travel on to the tenant in a Referer.
  redirect(res, login.returnUrl, { 'set-cookie': setCookie, 'referrer-policy': 'no-referrer' });
}
