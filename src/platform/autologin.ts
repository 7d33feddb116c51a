/**
 * POST /platform/v1/autologin (issue 15, part 1): a trusted platform whose user is logged in there
 * gets a one-time login URL for that user at one of its tenants. The platform presents a signed JWT
 * assertion (RFC 7523 §3, checked by ./assertion.ts) in `assertion` (a form field, as RFC 7523 §2.1
 * sends it, or a JSON property):
 *   iss  the platform's id            sub  the user's name at the platform (the zone's user name)
 *   aud  the zone's token endpoint, `https://<subdomain>.<uaadomain>/oauth/token` (its `iss`)
 *   exp  at most 5 minutes ahead      jti  unique; a second use is refused
 *   email (required), given_name, family_name: the user's profile, written on each login
 *   role_collections: what the user should hold from this platform; each must be one the platform's
 *     registration allows (else 403, nothing granted); they replace what this platform granted before
 *   target: a path on the tenant's host to land on (default "/"), a protected route for a session
 * The zone must be a tenant this platform created (/platform/v1/organizations): a platform acting on
 * a tenant it does not own is refused. The user is created or updated with origin = the platform's
 * id, so they never merge with a zone's own users, and have no password.
 *
 * Answer: `{"url": "<zone host>/one-time-login?ref=…", "expires_in": 60}`: the platform redirects its
 * user's browser there (./one-time-login.ts).
 */
import type { Queries, RecordsDatabase } from '../records/types.js';
import { UniqueViolation } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import type { Zone, ZoneDirectory } from '../zones/directory/types.js';
import { checkEmail, isSubdomain, optionalText } from '../zones/directory/validation.js';
import { DirectoryError } from '../zones/directory/errors.js';
import { upsertShadowUser } from '../zones/idp/store.js';
import type { AssertionVerifier } from './assertion.js';
import type { Audit } from './audit.js';
import { assertionInvalid, badRequest, notAllowed, PlatformError } from './errors.js';
import { issueOneTimeLogin, ONE_TIME_LOGIN_PATH, ONE_TIME_LOGIN_TTL_MS } from './one-time-login.js';
import type { TrustedPlatforms } from './trusted-platforms.js';

export interface AutologinOptions {
  platforms: TrustedPlatforms;
  verifier: AssertionVerifier;
  directory: ZoneDirectory;
  records: RecordsDatabase;
  storage: Storage;
  uaaDomain: string;
  /** A zone's public base URL (the zones' publicUrlFor). */
  zoneUrlFor(subdomain: string): string;
  /** The tenant's application URL (provisioning's tenantUrlFor). */
  tenantUrlFor(subdomain: string): string;
  audit: Audit;
  now: () => number;
}

export interface AutologinResult {
  url: string;
  expires_in: number;
}

/** The zone an `aud` names: its token endpoint on `<subdomain>.<uaadomain>`; undefined for anything else. */
async function zoneOfAudience(options: AutologinOptions, aud: unknown): Promise<Zone | undefined> {
  const candidates = Array.isArray(aud) ? aud : [aud];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    let url: URL;
    try {
      url = new URL(candidate);
    } catch {
      continue;
    }
    const suffix = `.${options.uaaDomain}`;
    if (!url.hostname.endsWith(suffix)) continue;
    const subdomain = url.hostname.slice(0, -suffix.length);
    if (!isSubdomain(subdomain)) continue;
    const zone = await options.directory.getZoneBySubdomain(subdomain);
    if (zone) return zone;
  }
  return undefined;
}

/** A path on the tenant's host: absolute-path only, so the link can never lead elsewhere. */
function targetPath(value: unknown): string {
  if (value === undefined) return '/';
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || /[\\\u0000-\u001f\s]/.test(value) || value.length > 2048) {
    throw badRequest('target must be a path on the tenant\'s host, starting with a single "/"');
  }
  return value;
}

export async function autologin(options: AutologinOptions, assertion: string, fields: Record<string, unknown>): Promise<AutologinResult> {
  const { verifier, audit } = options;
  const peeked = verifier.peek(assertion);
  const claimedPlatform = typeof peeked?.iss === 'string' ? peeked.iss.slice(0, 64) : undefined;
  try {
    if (!peeked) throw assertionInvalid('malformed', 'The assertion is not a JWT');
    const zone = await zoneOfAudience(options, peeked.aud);
    // Without a zone there is no audience it could be right for: refused as a wrong audience.
    if (!zone) throw assertionInvalid('audience', `The assertion's aud must be a zone's token endpoint, https://<subdomain>.${options.uaaDomain}/oauth/token`);
    const audience = `${options.zoneUrlFor(zone.subdomain)}/oauth/token`;
    const { platform, claims, jti } = await verifier.verify(assertion, audience);
    Object.assign(fields, { platform: platform.id, jti, zoneId: zone.id });

    const owner = await options.platforms.ownerOf(zone.id);
    if (owner?.platformId !== platform.id) throw notAllowed('not_owner', 'This tenant was not created by this platform');
    const userName = claims.sub;
    if (typeof userName !== 'string' || userName.length < 1 || userName.length > 255) throw assertionInvalid('missing_sub', 'The assertion needs sub, the user\'s name');
    const profile = readProfile(claims);
    const requested = claims.role_collections ?? [];
    if (!Array.isArray(requested) || requested.some((c) => typeof c !== 'string')) throw badRequest('role_collections must be an array of role collection names');
    const forbidden = (requested as string[]).filter((c) => !platform.roleCollections.includes(c));
    if (forbidden.length) throw notAllowed('role_collection', `This platform may not grant ${forbidden.map((c) => `"${c}"`).join(', ')}`);
    const known = new Set((await options.directory.listRoleCollections(zone.id)).map((c) => c.name));
    const missing = (requested as string[]).filter((c) => !known.has(c));
    if (missing.length) throw badRequest(`${missing.map((c) => `"${c}"`).join(', ')} ${missing.length > 1 ? 'are no role collections' : 'is no role collection'} of this tenant`);
    const target = targetPath(claims.target);

    const userId = await recordPlatformUser(options.records, zone.id, platform.id, { userName, ...profile }, [...new Set(requested as string[])]);
    const returnUrl = `${options.tenantUrlFor(zone.subdomain).replace(/\/+$/, '')}${target}`;
    const { reference } = await issueOneTimeLogin(options.storage, { zoneId: zone.id, userId, platformId: platform.id, returnUrl }, options.now());
    audit.success('platform.autologin', { ...fields, userId, roleCollections: requested });
    return { url: `${options.zoneUrlFor(zone.subdomain)}${ONE_TIME_LOGIN_PATH}?ref=${reference}`, expires_in: ONE_TIME_LOGIN_TTL_MS / 1000 };
  } catch (err) {
    if (err instanceof PlatformError) audit.refused('platform.autologin', err.reason, { claimedPlatform, ...fields, message: err.message });
    throw err;
  }
}

interface Profile {
  email: string;
  givenName?: string;
  familyName?: string;
}

function readProfile(claims: Record<string, unknown>): Profile {
  try {
    const email = checkEmail(claims.email, 'email');
    const givenName = optionalText(claims.given_name, 'given_name');
    const familyName = optionalText(claims.family_name, 'family_name');
    return { email, ...(givenName !== undefined ? { givenName } : {}), ...(familyName !== undefined ? { familyName } : {}) };
  } catch (err) {
    if (err instanceof DirectoryError) throw badRequest(`The assertion's user profile: ${err.message}`);
    throw err;
  }
}

/**
 * Creates or updates the platform's user (unique per zone, origin and user name, as the zones'
 * shadow users of an identity provider are, src/zones/idp/store.ts) and makes the role collections
 * this platform granted exactly `roleCollections`: rows it granted before and grants no more go
 * (`mapped_from` = the platform), direct assignments by the zone's administrators are never touched.
 */
export async function recordPlatformUser(records: RecordsDatabase, zoneId: string, origin: string, profile: Profile & { userName: string }, roleCollections: string[]): Promise<string> {
  const work = (tx: Queries) => recordIn(tx, zoneId, origin, profile, roleCollections);
  try {
    return await records.transaction(work);
  } catch (err) {
    // Two first logins of one user at once: the second finds the row the first created.
    if (!(err instanceof UniqueViolation)) throw err;
    return records.transaction(work);
  }
}

async function recordIn(tx: Queries, zoneId: string, origin: string, profile: Profile & { userName: string }, wanted: string[]): Promise<string> {
  let userId: string;
  try {
    userId = await upsertShadowUser(tx, zoneId, origin, profile);
  } catch (err) {
    if (err instanceof DirectoryError && err.code === 'ZONE_NOT_FOUND') throw new PlatformError('ZG_ERR_PLATFORM_NOT_ALLOWED', 'zone_gone', 'The tenant no longer exists');
    throw err;
  }
  const held = await tx.all<{ role_collection: string; mapped_from: string | null }>('SELECT role_collection, mapped_from FROM user_role_collections WHERE zone_id = $1 AND user_id = $2', [
    zoneId,
    userId,
  ]);
  const want = new Set(wanted);
  for (const row of held) {
    if (row.mapped_from === origin && !want.has(row.role_collection)) {
      await tx.run('DELETE FROM user_role_collections WHERE zone_id = $1 AND user_id = $2 AND role_collection = $3', [zoneId, userId, row.role_collection]);
    }
  }
  const heldNames = new Set(held.map((r) => r.role_collection));
  for (const name of want) {
    if (heldNames.has(name)) continue;
    await tx.run(
      `INSERT INTO user_role_collections (zone_id, user_id, role_collection, position, mapped_from)
       SELECT $1, $2, $3, COALESCE(MAX(position), 0) + 1, $4 FROM user_role_collections WHERE zone_id = $1 AND user_id = $2
       ON CONFLICT (zone_id, user_id, role_collection) DO NOTHING`,
      [zoneId, userId, name, origin],
    );
  }
  return userId;
}
