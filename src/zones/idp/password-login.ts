/**
 * The zone's login form when a tenant's user backend checks the password (issue 13): /login.do
 * (../oauth/login.ts) hands the typed user name and password here, through ZoneServices. A valid
 * answer makes (or refreshes) the shadow user of the backend's origin, with its mapped role
 * collections, exactly as an external IdP's login does; the password is never stored.
 */
import { DirectoryError } from '../directory/errors.js';
import type { ZoneContext } from '../oauth/context.js';
import { profileOf, groupsOf } from './login.js';
import { askUserBackend } from './user-backend.js';

export type PasswordCheck =
  | { kind: 'valid'; userId: string }
  | { kind: 'invalid' }
  /** The backend cannot decide (down, slow, misconfigured): `name` of the provider, for the page. */
  | { kind: 'unavailable'; name: string };

export async function checkPasswordAtBackend(ctx: ZoneContext, originKey: string, userName: string, password: string): Promise<PasswordCheck> {
  const idps = ctx.services.identityProviders!;
  const idp = await idps.store.getByOrigin(ctx.zone.id, originKey);
  if (!idp || !idp.active || idp.type !== 'userbackend') return { kind: 'unavailable', name: originKey };
  let sharedSecret: string;
  try {
    sharedSecret = await idps.store.clientSecret(idp);
  } catch (err) {
    // Sealed with another ZONEGATE_SECRET_KEY: the operator's problem, the user's 503.
    if (!(err instanceof DirectoryError)) throw err;
    ctx.services.logger.error('user backend shared secret cannot be opened', { zoneId: ctx.zone.id, origin: originKey, error: err.message });
    return { kind: 'unavailable', name: idp.name };
  }
  const answer = await askUserBackend(idp.config, sharedSecret, {
    zoneId: ctx.zone.id,
    originKey,
    userName,
    password,
    now: Math.floor(ctx.services.now() / 1000),
  });
  if (answer.kind === 'unavailable') {
    ctx.services.logger.warn('user backend unavailable', { zoneId: ctx.zone.id, origin: originKey, error: answer.reason });
    return { kind: 'unavailable', name: idp.name };
  }
  if (answer.kind === 'invalid') return answer;
  // The backend's own name for the user wins; without one, the name typed (the backend accepted it).
  const claims = { ...answer.user };
  if (claims[idp.config.attributeMappings.user_name] === undefined) claims[idp.config.attributeMappings.user_name] = userName;
  const profile = profileOf(claims, idp);
  if (!profile) {
    ctx.services.logger.warn('user backend answer lacks a usable user name', { zoneId: ctx.zone.id, origin: originKey, field: idp.config.attributeMappings.user_name });
    return { kind: 'unavailable', name: idp.name };
  }
  const userId = await idps.store.recordLogin(ctx.zone.id, originKey, profile, groupsOf(claims, idp.config.attributeMappings.external_groups));
  return { kind: 'valid', userId };
}
