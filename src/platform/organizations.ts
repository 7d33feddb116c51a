/**
 * POST /platform/v1/organizations (issue 15, part 1): a trusted platform makes sure its
 * organization's tenant exists. Idempotent by the platform's organization id: the first call creates
 * the tenant, every later one answers the same tenant (and repairs a half-done creation).
 *
 * Authenticated by a signed JWT of the platform in `Authorization: Bearer` (./assertion.ts; `aud`
 * is this endpoint's URL as the platform calls it, `exp` near, `jti` once). Body:
 *   {"organizationId": "<the platform's id for it>", "subdomain": "<within its subdomainPattern>",
 *    "admin": {"userName", "email", "givenName", "familyName"}}       (admin optional)
 * The tenant is made by the provisioning service (src/provisioning/service.ts), exactly as a SaaS
 * subscription makes it: the zone, the application's role collections there, the administrator with
 * the administrator role collection (here with origin = the platform: they sign in through it, by
 * /platform/v1/autologin, and have no password). Naming an admin requires that the platform may
 * grant the administrator role collection.
 *
 * Answer: 201 when created, 200 when it existed: `{"tenantId", "subdomain", "url", "organizationId"}`.
 */
import { randomUUID } from 'node:crypto';
import type { Provisioning } from '../provisioning/service.js';
import type { AssertionVerifier } from './assertion.js';
import type { Audit } from './audit.js';
import { badRequest, notAllowed, PlatformError } from './errors.js';
import { subdomainAllowed, type TrustedPlatforms } from './trusted-platforms.js';

export interface OrganizationsOptions {
  platforms: TrustedPlatforms;
  verifier: AssertionVerifier;
  provisioning: Provisioning;
  adminRoleCollection: string;
  audit: Audit;
}

export interface OrganizationResult {
  status: 200 | 201;
  body: { tenantId: string; subdomain: string; url: string; organizationId: string };
}

const ORGANIZATION_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

interface OrganizationInput {
  organizationId: string;
  subdomain: string;
  admin?: { userName: string; email?: string; givenName?: string; familyName?: string };
}

function readInput(body: unknown): OrganizationInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.organizationId !== 'string' || !ORGANIZATION_ID.test(b.organizationId)) throw badRequest('organizationId must be 1 to 128 of A-Z, a-z, 0-9, ".", "_", ":", "@" and "-"');
  if (typeof b.subdomain !== 'string') throw badRequest('subdomain is required');
  let admin: OrganizationInput['admin'];
  if (b.admin !== undefined) {
    if (typeof b.admin !== 'object' || b.admin === null || Array.isArray(b.admin)) throw badRequest('admin must be an object');
    const a = b.admin as Record<string, unknown>;
    for (const name of ['userName', 'email', 'givenName', 'familyName']) {
      if (a[name] !== undefined && typeof a[name] !== 'string') throw badRequest(`admin.${name} must be a string`);
    }
    if (typeof a.userName !== 'string') throw badRequest('admin.userName is required');
    admin = a as OrganizationInput['admin'];
  }
  return { organizationId: b.organizationId, subdomain: b.subdomain.toLowerCase(), ...(admin ? { admin } : {}) };
}

export async function ensureOrganization(options: OrganizationsOptions, token: string | undefined, audience: string, body: () => Promise<unknown>): Promise<OrganizationResult> {
  const { audit } = options;
  const fields: Record<string, unknown> = {};
  try {
    if (!token) {
      throw new PlatformError('ZG_ERR_UNAUTHENTICATED', 'no_token', 'A signed JWT of the trusted platform is required (Authorization: Bearer)', {
        headers: { 'www-authenticate': 'Bearer realm="zonegate platforms"' },
      });
    }
    const claimed = options.verifier.peek(token)?.iss;
    if (typeof claimed === 'string') fields.claimedPlatform = claimed.slice(0, 64);
    // Checked before the body is read: an unauthenticated caller gets nothing parsed.
    const { platform, jti } = await options.verifier.verify(token, audience);
    Object.assign(fields, { platform: platform.id, jti });
    const input = readInput(await body());
    Object.assign(fields, { organizationId: input.organizationId, subdomain: input.subdomain });
    if (!subdomainAllowed(platform.subdomainPattern, input.subdomain)) {
      throw notAllowed('subdomain', `This platform may create tenants only with subdomains matching "${platform.subdomainPattern}"`);
    }
    if (input.admin && !platform.roleCollections.includes(options.adminRoleCollection)) {
      throw notAllowed('role_collection', `This platform may not grant the administrator role collection "${options.adminRoleCollection}"; leave out admin`);
    }
    const { tenantId } = await options.platforms.claimOrganization(platform.id, input.organizationId, randomUUID());
    fields.tenantId = tenantId;
    const result = await options.provisioning.subscribe({
      tenantId,
      subdomain: input.subdomain,
      eventType: 'CREATE',
      ...(input.admin ? { userInfo: { ...input.admin, origin: platform.id } } : {}),
      subscriptionAppName: `platform:${platform.id}`,
    });
    audit.success('platform.organization', { ...fields, created: result.created });
    return {
      status: result.created ? 201 : 200,
      body: { tenantId: result.tenantId, subdomain: result.subdomain, url: result.url, organizationId: input.organizationId },
    };
  } catch (err) {
    if (err instanceof PlatformError) audit.refused('platform.organization', err.reason, { ...fields, message: err.message });
    else if (err instanceof Error && 'code' in err) audit.refused('platform.organization', String((err as { code: unknown }).code), { ...fields, message: err.message });
    throw err;
  }
}
