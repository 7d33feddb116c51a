/**
 * Trusted platforms (issue 15, part 1): partner platforms, e.g. a ticketing system, whose users are
 * logged in there already and open this application without a second login. Where seatmap.pro's
 * original passes a shared private key and a default password in JSON bodies, a platform here is
 * known by its public key only, and signs what it asks (./assertion.ts):
 *  - `jwksUri` (its JSON Web Key Set, fetched and cached with jose's createRemoteJWKSet) or
 *    `publicKeyPem` (SPKI) with its `algorithm`;
 *  - `subdomainPattern`: which tenants it may create, a subdomain pattern with `*` (e.g. `tix-*`);
 *  - `roleCollections`: which role collections it may grant its users (and a tenant's administrator).
 * The platform's id is its JWT `iss`, and the `origin` of the users it brings (XSUAA's name for the
 * identity provider a user comes from), so its users never mix with a zone's own.
 *
 * Records (migration 6, src/records/schema.ts): `trusted_platforms`, and `platform_organizations`,
 * which tenant the platform created for which of its organizations: a platform acts only on those.
 */
import { importSPKI } from 'jose';
import type { RecordsDatabase } from '../records/types.js';
import { UniqueViolation } from '../records/types.js';
import { PlatformError } from './errors.js';

export interface TrustedPlatform {
  id: string;
  name: string;
  jwksUri?: string;
  publicKeyPem?: string;
  /** The JWS algorithm of `publicKeyPem` (RS256, PS256, ES256, EdDSA, ...). */
  algorithm?: string;
  subdomainPattern: string;
  roleCollections: string[];
  createdAt: string;
  updatedAt: string;
}

export type TrustedPlatformInput = Omit<TrustedPlatform, 'createdAt' | 'updatedAt'>;

/** Asymmetric JWS algorithms only: a platform never shares a secret with us (RFC 7518 §3.1). */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** Also a valid `origin` of the directory (1 to 64 of A-Z, a-z, 0-9, ".", "_", "-"), lower case. */
const PLATFORM_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Subdomain characters and `*`; the directory checks the subdomain itself when the tenant is made. */
const SUBDOMAIN_PATTERN = /^[a-z0-9*-]{1,63}$/;
const ROLE_COLLECTION = /^[^\u0000-\u001f]{1,128}$/;

const invalid = (message: string) => new PlatformError('ZG_ERR_BAD_REQUEST', 'invalid_request', message);

/** Whether `subdomain` matches a registration's pattern (`*`: any run of subdomain characters). */
export function subdomainAllowed(pattern: string, subdomain: string): boolean {
  const source = pattern.split('*').map((part) => part.replace(/[-]/g, '\\-')).join('[a-z0-9-]*');
  return new RegExp(`^${source}$`).test(subdomain);
}

/**
 * A registration as the admin API and the CLI pass it, checked whole: every problem at once, in
 * one 400 (the PEM is parsed now, so a typo is found at registration, not at the first login).
 */
export async function readPlatformInput(body: unknown): Promise<TrustedPlatformInput> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The body must be a JSON object');
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  const known = new Set(['id', 'name', 'jwksUri', 'publicKeyPem', 'algorithm', 'subdomainPattern', 'roleCollections']);
  const unknown = Object.keys(b).filter((k) => !known.has(k));
  if (unknown.length) problems.push(`unknown properties: ${unknown.join(', ')}`);
  const id = b.id;
  if (typeof id !== 'string' || !PLATFORM_ID.test(id)) problems.push('id must be 1 to 64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit');
  const name = b.name ?? id;
  if (typeof name !== 'string' || name.length < 1 || name.length > 128) problems.push('name must be a string of 1 to 128 characters');
  const { jwksUri, publicKeyPem } = b;
  let algorithm = b.algorithm;
  if ((jwksUri === undefined) === (publicKeyPem === undefined)) problems.push('give exactly one of jwksUri (the platform\'s JWKS URL) and publicKeyPem');
  if (jwksUri !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof jwksUri === 'string' ? new URL(jwksUri) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))) {
      problems.push('jwksUri must be an https URL (http only for localhost)');
    }
    if (algorithm !== undefined) problems.push('algorithm goes with publicKeyPem; a JWKS names each key\'s algorithm');
  }
  if (publicKeyPem !== undefined) {
    algorithm ??= 'RS256';
    if (typeof algorithm !== 'string' || !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm)) {
      problems.push(`algorithm must be one of ${ASYMMETRIC_ALGORITHMS.join(', ')}`);
    } else if (typeof publicKeyPem !== 'string') {
      problems.push('publicKeyPem must be a PEM string (-----BEGIN PUBLIC KEY-----)');
    } else {
      try {
        await importSPKI(publicKeyPem, algorithm);
      } catch (err) {
        problems.push(`publicKeyPem is not a ${algorithm} public key in PEM (SPKI): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  const pattern = b.subdomainPattern;
  if (typeof pattern !== 'string' || !SUBDOMAIN_PATTERN.test(pattern) || pattern === '*') {
    problems.push('subdomainPattern must be a subdomain pattern with "*" that is not "*" alone, e.g. "tix-*" (a platform may create only tenants it names)');
  }
  const collections = b.roleCollections ?? [];
  if (!Array.isArray(collections) || collections.some((c) => typeof c !== 'string' || !ROLE_COLLECTION.test(c))) {
    problems.push('roleCollections must be an array of role collection names');
  }
  if (problems.length) throw invalid(`Invalid trusted platform: ${problems.join('; ')}`);
  return {
    id: id as string,
    name: name as string,
    ...(jwksUri !== undefined ? { jwksUri: jwksUri as string } : {}),
    ...(publicKeyPem !== undefined ? { publicKeyPem: publicKeyPem as string, algorithm: algorithm as string } : {}),
    subdomainPattern: pattern as string,
    roleCollections: [...new Set(collections as string[])],
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '127.0.0.1' || host === '[::1]';
}

type PlatformRow = {
  id: string;
  name: string;
  jwks_uri: string | null;
  public_key_pem: string | null;
  algorithm: string | null;
  subdomain_pattern: string;
  role_collections: string;
  created_at: string;
  updated_at: string;
};

function platformOf(row: PlatformRow): TrustedPlatform {
  return {
    id: row.id,
    name: row.name,
    ...(row.jwks_uri !== null ? { jwksUri: row.jwks_uri } : {}),
    ...(row.public_key_pem !== null ? { publicKeyPem: row.public_key_pem } : {}),
    ...(row.algorithm !== null ? { algorithm: row.algorithm } : {}),
    subdomainPattern: row.subdomain_pattern,
    roleCollections: JSON.parse(row.role_collections) as string[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface TrustedPlatforms {
  get(id: string): Promise<TrustedPlatform | undefined>;
  list(): Promise<TrustedPlatform[]>;
  /** ZG_ERR_ADMIN_CONFLICT when the id is registered already. */
  create(input: TrustedPlatformInput): Promise<TrustedPlatform>;
  /** Replaces a registration (a new key, other allowances); ZG_ERR_ADMIN_NOT_FOUND when there is none. */
  update(input: TrustedPlatformInput): Promise<TrustedPlatform>;
  /** Removes the registration and its organization records (its tenants stay, and no platform may act on them). */
  remove(id: string): Promise<TrustedPlatform | undefined>;
  /**
   * The tenant of the platform's organization: the one recorded, or `proposed`, recorded now. One
   * statement decides, so two concurrent first calls for one organization get the same tenant.
   */
  claimOrganization(platformId: string, organizationId: string, proposed: string): Promise<{ tenantId: string; claimed: boolean }>;
  /** The platform that created the tenant, if one did. */
  ownerOf(tenantId: string): Promise<{ platformId: string; organizationId: string } | undefined>;
}

export function createTrustedPlatforms(records: RecordsDatabase, options: { now?: () => Date } = {}): TrustedPlatforms {
  const now = options.now ?? (() => new Date());
  const get = async (id: string) => {
    const row = await records.one<PlatformRow>('SELECT * FROM trusted_platforms WHERE id = $1', [id]);
    return row && platformOf(row);
  };
  const values = (p: TrustedPlatformInput) => [p.name, p.jwksUri ?? null, p.publicKeyPem ?? null, p.algorithm ?? null, p.subdomainPattern, JSON.stringify(p.roleCollections)];
  return {
    get,
    async list() {
      return (await records.all<PlatformRow>('SELECT * FROM trusted_platforms ORDER BY id')).map(platformOf);
    },
    async create(input) {
      const at = now().toISOString();
      try {
        await records.run(
          `INSERT INTO trusted_platforms (id, name, jwks_uri, public_key_pem, algorithm, subdomain_pattern, role_collections, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
          [input.id, ...values(input), at],
        );
      } catch (err) {
        if (err instanceof UniqueViolation) throw new PlatformError('ZG_ERR_ADMIN_CONFLICT', 'exists', `A trusted platform "${input.id}" is registered already`);
        throw err;
      }
      return (await get(input.id))!;
    },
    async update(input) {
      const changed = await records.run(
        `UPDATE trusted_platforms SET name = $2, jwks_uri = $3, public_key_pem = $4, algorithm = $5, subdomain_pattern = $6, role_collections = $7, updated_at = $8 WHERE id = $1`,
        [input.id, ...values(input), now().toISOString()],
      );
      if (changed === 0) throw new PlatformError('ZG_ERR_ADMIN_NOT_FOUND', 'not_found', `No trusted platform "${input.id}"`);
      return (await get(input.id))!;
    },
    async remove(id) {
      const existing = await get(id);
      if (!existing) return undefined;
      await records.transaction(async (tx) => {
        await tx.run('DELETE FROM platform_organizations WHERE platform_id = $1', [id]);
        await tx.run('DELETE FROM trusted_platforms WHERE id = $1', [id]);
      });
      return existing;
    },
    async claimOrganization(platformId, organizationId, proposed) {
      const inserted = await records.run(
        `INSERT INTO platform_organizations (platform_id, organization_id, tenant_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (platform_id, organization_id) DO NOTHING`,
        [platformId, organizationId, proposed, now().toISOString()],
      );
      const row = await records.one<{ tenant_id: string }>('SELECT tenant_id FROM platform_organizations WHERE platform_id = $1 AND organization_id = $2', [platformId, organizationId]);
      return { tenantId: row!.tenant_id, claimed: inserted > 0 };
    },
    async ownerOf(tenantId) {
      const row = await records.one<{ platform_id: string; organization_id: string }>('SELECT platform_id, organization_id FROM platform_organizations WHERE tenant_id = $1', [tenantId]);
      return row && { platformId: row.platform_id, organizationId: row.organization_id };
    },
  };
}
