/**
 * The per-tenant metadata endpoint (issue 14, part 3; Maestrano's `GET /<tenant>/metadata`): an
 * integrating platform asks the gateway how to reach one tenant (its application URL, login callback,
 * logout, identity zone and discovery document, its settings), authenticated with that tenant's own
 * metadata credential. Served at TENANT_METADATA_PATH inside the tenant's scope: on the tenant's host
 * (`https://acme.app.example.com/metadata`) or under its path prefix (`https://app.example.com/t/acme/metadata`).
 *
 * The credential is 256 random bits made by `zonegate tenants config credential <subdomain>`, shown
 * once; the records database keeps only its SHA-256 (a dump yields nothing to present, and for a
 * random secret of that size a slow hash would add nothing). The presented value is hashed and the
 * digests compared in constant time. It is presented as HTTP Basic `<subdomain>:<credential>`
 * (Maestrano's API key and secret) or as `Bearer <credential>`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RequestContext } from '../server/context.js';
import { withinPrefix } from './path.js';
import type { TenantConfigurations } from './configuration.js';
import type { LiveTenantConfigurations } from './live-configurations.js';

const CREDENTIAL_PREFIX = 'zgm_';

const digestOf = (credential: string) => createHash('sha256').update(credential, 'utf8').digest('hex');

/** Makes the tenant's new metadata credential (replacing any earlier one) and answers it; only its digest is stored. */
export async function issueMetadataCredential(store: TenantConfigurations, subdomain: string): Promise<string> {
  const credential = CREDENTIAL_PREFIX + randomBytes(32).toString('base64url');
  await store.setMetadataCredentialDigest(subdomain, digestOf(credential));
  return credential;
}

/** Whether `presented` is the credential whose digest is `stored`, in time independent of where they differ. */
export function matchesCredential(presented: string, stored: string | undefined): boolean {
  // Compared even without a stored digest, against a digest nothing hashes to: the same work either way.
  const expected = Buffer.from(stored ?? '0'.repeat(64), 'hex');
  const actual = Buffer.from(digestOf(presented), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual) && stored !== undefined;
}

export interface TenantMetadataOptions {
  /** TENANT_METADATA_PATH, e.g. `/metadata`. */
  path: string;
  store: TenantConfigurations;
  /** The tenant's settings without I/O (the gateway's live configurations). */
  configurations?: LiveTenantConfigurations;
  /** The tenant's identity zone, `https://<subdomain>.<uaadomain>` (REFERENCE.md §1); undefined without a login. */
  zoneUrlFor?: (tenant: string) => string;
  /** routes.json `logout.logoutEndpoint`, when there is one. */
  logoutEndpoint?: string;
  logger: Logger;
}

export interface TenantMetadata {
  readonly path: string;
  handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void>;
}

export function createTenantMetadata(options: TenantMetadataOptions): TenantMetadata {
  const { store, logger } = options;

  function unauthenticated(tenant: string, message: string): GatewayError {
    return new GatewayError('ZG_ERR_UNAUTHENTICATED', message, { headers: { 'www-authenticate': `Basic realm="zonegate metadata ${tenant}", Bearer realm="zonegate metadata ${tenant}"` } });
  }

  /** The credential the request presents for `tenant`, or undefined. */
  function presented(req: IncomingMessage, tenant: string): string | undefined {
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer +(\S+)$/i.exec(header);
    if (bearer) return bearer[1];
    const basic = /^Basic +([A-Za-z0-9+/]+=*)$/i.exec(header);
    if (!basic) return undefined;
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // Another tenant's name with this tenant's credential is no credential of this tenant.
    if (colon === -1 || decoded.slice(0, colon) !== tenant) return undefined;
    return decoded.slice(colon + 1);
  }

  return {
    path: options.path,
    async handle(req, res, ctx) {
      ctx.answeredBy = 'metadata';
      const tenant = ctx.tenant;
      if (tenant === undefined) throw new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', 'A single-tenant gateway has no tenant metadata');
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', 'The tenant metadata is read with GET', { headers: { allow: 'GET, HEAD' } });
      const credential = presented(req, tenant);
      if (credential === undefined) throw unauthenticated(tenant, `The tenant metadata needs the credential of tenant ${tenant} (HTTP Basic ${tenant}:<credential>, or Bearer)`);
      const stored = await store.metadataCredentialDigest(tenant);
      if (!matchesCredential(credential, stored)) {
        logger.warn('tenant metadata refused', { requestId: ctx.id, tenant, reason: stored === undefined ? 'the tenant has no metadata credential' : 'wrong credential' });
        throw unauthenticated(tenant, `The credential is not tenant ${tenant}'s metadata credential`);
      }
      const origin = ctx.origin!;
      const base = `${origin.protocol}://${origin.host}`;
      const url = (path: string) => base + withinPrefix(ctx.tenantPrefix, path);
      const zone = options.zoneUrlFor?.(tenant);
      const body = {
        tenant,
        application: { url: url('/') },
        ...(zone !== undefined
          ? {
              sso: {
                protocol: 'openid-connect',
                issuer: `${zone}/oauth/token`,
                discovery: `${zone}/.well-known/openid-configuration`,
                jwks_uri: `${zone}/token_keys`,
                callback_url: url('/login/callback'),
                ...(options.logoutEndpoint !== undefined ? { logout_url: url(options.logoutEndpoint) } : {}),
              },
            }
          : {}),
        metadata_url: url(options.path),
        settings: options.configurations?.current().get(tenant)?.settings ?? (await store.get(tenant))?.configuration.settings ?? {},
      };
      const text = JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
  };
}

/** `https://<tenant>.<uaadomain>[:port]`, scheme and port from the binding's url (REFERENCE.md §1; as the login's relying party). */
export function zoneUrlOf(credentials: { url: string; uaadomain: string }): (tenant: string) => string {
  const binding = new URL(credentials.url);
  const port = binding.port ? `:${binding.port}` : '';
  return (tenant) => `${binding.protocol}//${tenant}.${credentials.uaadomain}${port}`;
}
