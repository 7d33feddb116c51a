/**
 * The zones' admin API: JSON over HTTP on UAA's paths, so UAA-minded tooling finds its way.
 *   bare uaadomain:  POST/GET /identity-zones, GET/DELETE /identity-zones/{id},
 *                    GET/PUT/DELETE /identity-zones/{id}/tenant-config (src/tenant/configuration.ts),
 *                    and what `domainRoutes` adds (/oauth/clients, /trusted-platforms,
 *                    /relay-installations, /html5-applications)
 *   zone host:       GET/POST /Users, GET/DELETE /Users/{id},
 *                    PUT/DELETE /Users/{id}/role-collections/{name}, GET/POST /role-collections,
 *                    and what `zoneRoutes` adds (/identity-providers, src/zones/idp/admin.ts)
 * Users are written in SCIM's shape (RFC 7643 §4.1: userName, name.givenName, emails[].value), as
 * UAA's /Users endpoint reads and writes them.
 *
 * Authorization, checked before any body is read:
 *  - HTTP Basic `admin:<bootstrapSecret>` (the credential that creates the first zones and admins);
 *  - otherwise the principal `authenticate` derives from a bearer token. It must be a token of the
 *    built-in admin client `zonegate-admin` (../directory/admin-client.ts: zone administrators log in
 *    with it), come from the zone it acts on (for /identity-zones: from `zonesAdminZoneId`, UAA's "uaa"
 *    zone role) and carry `zones.write` (`zones.read` suffices to read), `scim.write` (`scim.read`
 *    suffices to read). A genuine token of another client or zone is 403, not 401: the caller is known,
 *    it just may not do this here.
 *  - the token's user must still exist (401) and still hold the scope through today's role
 *    collections (403): removing an administrator takes effect on their next request.
 */
import { isJsonMediaType, mediaType, readLimitedBody } from '../../http/read-body.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, GatewayError, ZonegateError, type ErrorCode, type GatewayErrorOptions } from '../../errors.js';
import type { Destination } from '../../config/types.js';
import { EMPTY_CONFIGURATION, setTenantConfiguration, type TenantConfigurations } from '../../tenant/configuration.js';
import { sendError } from '../../http/render-error.js';
import type { Logger } from '../../log.js';
import { ADMIN_CLIENT_ID, isAdminScope } from '../directory/admin-client.js';
import { DIRECTORY_ERRORS, DirectoryError } from '../directory/errors.js';
import type { NewUser, User, Zone, ZoneDirectory } from '../directory/types.js';

export interface AdminPrincipal {
  zoneId: string;
  scopes: string[];
  /** The token's `cid`. */
  clientId: string;
  /** Absent for client-credentials tokens. */
  userId?: string;
}

export interface AdminApiOptions {
  directory: ZoneDirectory;
  /**
   * Removes a zone and everything it owns (../removal.ts: keys, gateway sessions, users): deleting
   * only the directory's record would let a zone re-created with the same id verify the old tokens.
   */
  removeZone: (zoneId: string) => Promise<Zone | undefined>;
  /** Password of the built-in `admin` user for HTTP Basic; at least 16 characters. Unset: Basic is refused. */
  bootstrapSecret?: string;
  /** The principal of a request's bearer token (verified for the zone of the request's host), if any. */
  authenticate: (req: IncomingMessage) => Promise<AdminPrincipal | undefined>;
  /** Zone whose tokens may manage zones on the bare uaadomain. Unset: only the bootstrap credential can. */
  zonesAdminZoneId?: string;
  /** Further resources on zone hosts, authorized as the rest (src/zones/idp/admin.ts: /identity-providers). */
  zoneRoutes?: AdminRoutes;
  /**
   * Further resources on the bare uaadomain, authorized as /identity-zones (src/platform/admin.ts:
   * trusted platforms, relay installations; src/html5-apps/admin.ts: /html5-applications;
   * src/zones/clients/admin.ts: /oauth/clients).
   */
  domainRoutes?: readonly DomainAdminRoutes[];
  /**
   * `/identity-zones/{id}/tenant-config` (issue 14, part 3): the configuration of the tenant whose zone
   * this is, for the provider's zone administrators (resource `zones`): a tenant's own administrators
   * cannot point the gateway at other services.
   */
  tenantConfigurations?: { store: TenantConfigurations; destinations: readonly Destination[] };
  /** Largest accepted request body; default 64 KiB. */
  maxBodyBytes?: number;
  logger?: Logger;
}

export type AdminApiHandler = (req: IncomingMessage, res: ServerResponse, zone: Zone | undefined) => Promise<boolean>;

const BOOTSTRAP_USER = 'admin';
const DEFAULT_MAX_BODY = 64 * 1024;
const CHALLENGE = 'Basic realm="zonegate admin", Bearer realm="zonegate admin"';

/** An answer the API gives on purpose: its code, the wire error (snake case, as UAA's) and message. */
class AdminError extends ZonegateError {
  constructor(
    code: ErrorCode,
    readonly error: string,
    message: string,
    options: GatewayErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** The answer to a failure: the API's own, a directory refusal (UAA's snake-case name), or nothing internal. */
function toAdminError(err: unknown): ZonegateError | undefined {
  if (err instanceof AdminError) return err;
  if (err instanceof DirectoryError && (err.status < 500 || err.code === 'BUSY')) {
    return new AdminError(DIRECTORY_ERRORS[err.code], err.code.toLowerCase(), err.message, { expose: true });
  }
  // e.g. ZG_ERR_STORAGE_UNAVAILABLE: 503, and RFC 6749's code for "try again later" (render-error.ts).
  if (err instanceof ZonegateError && err.expose) return err;
  return undefined;
}

type Access = 'read' | 'write';
type Resource = 'zones' | 'scim';

interface Operation {
  resource: Resource;
  access: Access;
  /** The operation reads a JSON body (POST always does). */
  readsBody?: boolean;
  /** The operation reads its body as bytes of these media types instead (a zip), up to `maxBytes`. */
  rawBody?: { mediaTypes: readonly string[]; maxBytes: number };
  run: (body: unknown) => Promise<{ status: number; body: unknown }>;
}

export type AdminOperation = Operation;

/** Resources another module adds on zone hosts: the first path segments it owns, its routes and their Allow header. */
export interface AdminRoutes {
  roots: readonly string[];
  route(method: string, segments: string[], zone: Zone): Operation | 'method' | undefined;
  allowed(segments: string[]): string;
}

/** Resources another module adds on the bare uaadomain (`zones.read`/`zones.write`, as /identity-zones): the first path segments it owns, its routes (with the query) and their Allow header. */
export interface DomainAdminRoutes {
  roots: readonly string[];
  route(method: string, segments: string[], query: URLSearchParams): Operation | 'method' | undefined;
  allowed(segments: string[]): string;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** UAA's SCIM user representation (RFC 7643 §4.1), plus XSUAA's role collections and attributes. */
function scimUser(user: User) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    id: user.id,
    userName: user.userName,
    name: { givenName: user.givenName, familyName: user.familyName },
    emails: [{ value: user.email, primary: true }],
    origin: user.origin,
    zoneId: user.zoneId,
    active: true,
    roleCollections: user.roleCollections,
    attributes: user.attributes,
  };
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AdminError('ZG_ERR_BAD_REQUEST', 'invalid_request', 'The body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Accepts SCIM's shape and the flat one (`email`, `givenName`, `familyName`). */
function newUserFrom(body: unknown): NewUser {
  const b = asObject(body);
  const name = (typeof b.name === 'object' && b.name !== null ? b.name : {}) as Record<string, unknown>;
  const emails = Array.isArray(b.emails) ? (b.emails as unknown[]) : [];
  const primary = (emails.find((e) => (e as { primary?: unknown } | null)?.primary === true) ?? emails[0]) as { value?: unknown } | undefined;
  return {
    userName: b.userName as string,
    email: (b.email ?? primary?.value) as string,
    givenName: (b.givenName ?? name.givenName) as string | undefined,
    familyName: (b.familyName ?? name.familyName) as string | undefined,
    origin: b.origin as string | undefined,
    password: b.password as string | undefined,
    attributes: b.attributes as Record<string, string[]> | undefined,
    roleCollections: b.roleCollections as string[] | undefined,
  };
}

export function createAdminApi(options: AdminApiOptions): AdminApiHandler {
  const { directory, authenticate, logger } = options;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  if (options.bootstrapSecret !== undefined && options.bootstrapSecret.length < 16) {
    throw new RangeError('The admin bootstrap secret must be at least 16 characters');
  }
  const bootstrapDigest = options.bootstrapSecret === undefined ? undefined : digest(`${BOOTSTRAP_USER}:${options.bootstrapSecret}`);

  /** GET, PUT (the whole document) and DELETE of a zone's tenant configuration. */
  function tenantConfigOperation(method: string, zoneId: string, configurations: NonNullable<AdminApiOptions['tenantConfigurations']>): Operation | 'method' {
    const subdomainOf = async () => {
      const zone = await directory.getZone(zoneId);
      if (!zone) throw notFound('Zone');
      return zone.subdomain;
    };
    if (method === 'GET') {
      return { resource: 'zones', access: 'read', run: async () => ({ status: 200, body: (await configurations.store.get(await subdomainOf()))?.configuration ?? EMPTY_CONFIGURATION }) };
    }
    if (method === 'PUT') {
      return {
        resource: 'zones',
        access: 'write',
        readsBody: true,
        run: async (body) => {
          const subdomain = await subdomainOf();
          try {
            return { status: 200, body: await setTenantConfiguration(configurations.store, subdomain, body, configurations.destinations, 'request body') };
          } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            throw new AdminError('ZG_ERR_BAD_REQUEST', 'invalid_tenant_config', err.problems.map((p) => `${p.path || '/'}: ${p.message}`).join('; '), { expose: true });
          }
        },
      };
    }
    if (method === 'DELETE') {
      return { resource: 'zones', access: 'write', run: async () => ({ status: 200, body: { removed: await configurations.store.delete(await subdomainOf()) } }) };
    }
    return 'method';
  }

  /** The operation a request names, or undefined when the path is not the admin API's (on this host). */
  /** The module's routes that serve `root` on the bare uaadomain, if one does. */
  function domainRoutesOf(root: string): DomainAdminRoutes | undefined {
    return options.domainRoutes?.find((routes) => routes.roots.includes(root));
  }

  function route(method: string, segments: string[], zone: Zone | undefined, query: URLSearchParams): Operation | 'method' | undefined {
    const [root, id, sub, name, ...rest] = segments;
    if (zone === undefined) {
      const domain = root === undefined ? undefined : domainRoutesOf(root);
      if (domain) return domain.route(method, segments, query);
      if (root === 'identity-zones' && id !== undefined && sub === 'tenant-config' && name === undefined && options.tenantConfigurations) {
        return tenantConfigOperation(method, id, options.tenantConfigurations);
      }
      if (root !== 'identity-zones' || sub !== undefined) return undefined;
      if (id === undefined) {
        if (method === 'GET') return { resource: 'zones', access: 'read', run: async () => ({ status: 200, body: await directory.listZones() }) };
        if (method === 'POST') {
          return {
            resource: 'zones',
            access: 'write',
            run: async (body) => {
              const b = asObject(body);
              const zone = await directory.createZone({
                id: b.id as string | undefined,
                subdomain: b.subdomain as string,
                name: b.name as string | undefined,
                branding: b.branding as Zone['branding'],
              });
              return { status: 201, body: zone };
            },
          };
        }
        return 'method';
      }
      if (method === 'GET') {
        return { resource: 'zones', access: 'read', run: async () => found(await directory.getZone(id), 'Zone') };
      }
      if (method === 'DELETE') {
        return {
          resource: 'zones',
          access: 'write',
          run: async () => {
            const removed = await options.removeZone(id);
            if (!removed) throw notFound('Zone');
            return { status: 200, body: removed };
          },
        };
      }
      return 'method';
    }

    const zoneId = zone.id;
    if (root !== undefined && options.zoneRoutes?.roots.includes(root)) return options.zoneRoutes.route(method, segments, zone);
    if (root === 'role-collections' && id === undefined) {
      if (method === 'GET') {
        return { resource: 'scim', access: 'read', run: async () => ({ status: 200, body: await directory.listRoleCollections(zoneId, { includeBuiltIn: true }) }) };
      }
      if (method === 'POST') {
        return {
          resource: 'scim',
          access: 'write',
          run: async (body) => {
            const b = asObject(body);
            const input = { name: b.name as string, roleTemplates: (b.roleTemplates ?? []) as string[] };
            await directory.createRoleCollection(zoneId, input);
            const created = (await directory.listRoleCollections(zoneId)).find((c) => c.name === input.name);
            return { status: 201, body: created };
          },
        };
      }
      return 'method';
    }
    if (root !== 'Users') return undefined;
    if (id === undefined) {
      if (method === 'GET') {
        return {
          resource: 'scim',
          access: 'read',
          run: async () => {
            const users = (await directory.listUsers(zoneId)).map(scimUser);
            return {
              status: 200,
              body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], resources: users, startIndex: 1, itemsPerPage: users.length, totalResults: users.length },
            };
          },
        };
      }
      if (method === 'POST') {
        return { resource: 'scim', access: 'write', run: async (body) => ({ status: 201, body: scimUser(await directory.createUser(zoneId, newUserFrom(body))) }) };
      }
      return 'method';
    }
    if (sub === undefined) {
      if (method === 'GET') {
        return { resource: 'scim', access: 'read', run: async () => found(await directory.getUser(zoneId, id), 'User', scimUser) };
      }
      if (method === 'DELETE') {
        return {
          resource: 'scim',
          access: 'write',
          run: async () => {
            const user = await directory.getUser(zoneId, id);
            if (!user || !(await directory.deleteUser(zoneId, id))) throw notFound('User');
            return { status: 200, body: scimUser(user) };
          },
        };
      }
      return 'method';
    }
    if (sub !== 'role-collections' || name === undefined || rest.length > 0) return undefined;
    if (method === 'PUT') {
      return { resource: 'scim', access: 'write', run: async () => ({ status: 200, body: scimUser(await directory.assignRoleCollection(zoneId, id, name)) }) };
    }
    if (method === 'DELETE') {
      return { resource: 'scim', access: 'write', run: async () => ({ status: 200, body: scimUser(await directory.unassignRoleCollection(zoneId, id, name)) }) };
    }
    return 'method';
  }

  function allowed(segments: string[], zone: Zone | undefined): string {
    const [root, id, sub] = segments;
    const domain = zone === undefined && root !== undefined ? domainRoutesOf(root) : undefined;
    if (domain) return domain.allowed(segments);
    if (zone === undefined) return id === undefined ? 'GET, POST' : sub === 'tenant-config' ? 'GET, PUT, DELETE' : 'GET, DELETE';
    if (root !== undefined && options.zoneRoutes?.roots.includes(root)) return options.zoneRoutes.allowed(segments);
    if (root === 'role-collections') return 'GET, POST';
    if (id === undefined) return 'GET, POST';
    return sub === undefined ? 'GET, DELETE' : 'PUT, DELETE';
  }

  /**
   * A token the authenticator chokes on is a bad token (401), not a server fault; only an
   * unavailable store (a GatewayError) is passed on, so an outage is not reported as "log in again".
   */
  async function authenticateSafely(req: IncomingMessage): Promise<AdminPrincipal | undefined> {
    try {
      return await authenticate(req);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      logger?.warn('zones admin: token rejected by an error', { error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  }

  /**
   * The token's scopes that its user still holds. A token is a snapshot taken at login and lives up to
   * an hour; the admin API must not honour it once the administrator is deleted or loses the role
   * collection. UAA revokes a deleted user's revocable tokens; checking the directory per request
   * covers that and a removed role collection alike, on every instance, with no revocation list to
   * keep: the user must still exist (else 401: the token names nobody), and of its scopes only those
   * today's role collections grant count (else 403).
   * Client-credentials tokens of the admin client cannot be issued (grants/allowed.ts), and one
   * without a user carries no admin scope anyway.
   */
  async function currentScopes(principal: AdminPrincipal, unauthenticated: (msg: string) => AdminError): Promise<string[]> {
    if (principal.userId === undefined) return principal.scopes.filter((s) => !isAdminScope(s));
    const [user, admin] = await Promise.all([directory.getUser(principal.zoneId, principal.userId), directory.getApplicationByClientId(ADMIN_CLIENT_ID)]);
    if (!user) throw unauthenticated('The user of this token no longer exists');
    if (!admin) return [];
    const held = new Set(await directory.userScopes(admin, user));
    return principal.scopes.filter((s) => held.has(s));
  }

  /** Who is calling, as a label for the log; throws 401/403 when they may not. */
  async function authorize(req: IncomingMessage, zone: Zone | undefined, op: Operation): Promise<string> {
    const header = req.headers.authorization ?? '';
    const unauthenticated = (msg: string) => new AdminError('ZG_ERR_UNAUTHENTICATED', 'unauthorized', msg, { headers: { 'www-authenticate': CHALLENGE } });
    if (/^basic /i.test(header)) {
      const presented = digest(Buffer.from(header.slice(6).trim(), 'base64').toString('utf8'));
      // Compared as digests: constant time, whatever the lengths.
      if (bootstrapDigest && timingSafeEqual(presented, bootstrapDigest)) return 'bootstrap admin';
      throw unauthenticated('Bad credentials');
    }
    const principal = header ? await authenticateSafely(req) : undefined;
    if (!principal) throw unauthenticated(header ? 'The access token is not valid here' : 'Authentication is required');
    if (principal.clientId !== ADMIN_CLIENT_ID) {
      throw new AdminError('ZG_ERR_FORBIDDEN', 'access_denied', `Only tokens of the ${ADMIN_CLIENT_ID} client may use the admin API`);
    }
    const ownZone = zone ? zone.id : options.zonesAdminZoneId;
    if (ownZone === undefined || principal.zoneId !== ownZone) {
      throw new AdminError('ZG_ERR_FORBIDDEN', 'access_denied', zone ? 'The token belongs to another zone' : 'Tokens of this zone cannot manage zones');
    }
    const scopes = await currentScopes(principal, unauthenticated);
    const accepted = op.access === 'read' ? [`${op.resource}.read`, `${op.resource}.write`] : [`${op.resource}.write`];
    if (!scopes.some((s) => accepted.includes(s))) {
      // RFC 6750 §3.1: insufficient_scope, naming the scope that would do.
      throw new AdminError('ZG_ERR_FORBIDDEN', 'insufficient_scope', `This requires the scope ${accepted.at(-1)}`, {
        headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${accepted.at(-1)}"` },
      });
    }
    return principal.userId ? `user ${principal.userId} of zone ${principal.zoneId}` : `client ${principal.clientId} of zone ${principal.zoneId}`;
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    if (!isJsonMediaType(mediaType(req))) {
      throw new AdminError('ZG_ERR_UNSUPPORTED_MEDIA_TYPE', 'invalid_request', 'The body must be JSON (Content-Type: application/json)');
    }
    const raw = await readLimitedBody(req, maxBody);
    if (raw === 'too-large') throw new AdminError('ZG_ERR_PAYLOAD_TOO_LARGE', 'invalid_request', `The body exceeds ${maxBody} bytes`, { headers: { connection: 'close' } });
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch {
      // Not the parser's message: newer engines quote the input, and the input may hold a password.
      throw new AdminError('ZG_ERR_BAD_REQUEST', 'invalid_request', 'The body is not valid JSON');
    }
  }

  async function readRaw(req: IncomingMessage, accepted: NonNullable<Operation['rawBody']>): Promise<Buffer> {
    if (!accepted.mediaTypes.includes(mediaType(req))) {
      throw new AdminError('ZG_ERR_UNSUPPORTED_MEDIA_TYPE', 'invalid_request', `The body must be ${accepted.mediaTypes.join(' or ')}`);
    }
    const raw = await readLimitedBody(req, accepted.maxBytes);
    if (raw === 'too-large') throw new AdminError('ZG_ERR_PAYLOAD_TOO_LARGE', 'invalid_request', `The body exceeds ${accepted.maxBytes} bytes`, { headers: { connection: 'close' } });
    return raw;
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.end(payload);
  }

  return async function handleAdmin(req, res, zone) {
    const pathname = (req.url ?? '/').split('?')[0]!;
    let segments: string[];
    try {
      segments = pathname.split('/').slice(1).map(decodeURIComponent);
    } catch {
      return false;
    }
    const first = segments[0];
    const zoneRoot = first === 'Users' || first === 'role-collections' || (first !== undefined && options.zoneRoutes?.roots.includes(first) === true);
    const domainRoot = first === 'identity-zones' || (first !== undefined && domainRoutesOf(first) !== undefined);
    if (zone === undefined ? !domainRoot : !zoneRoot) return false;
    if (segments.some((s) => s === '')) return false;

    const method = (req.method ?? 'GET').toUpperCase();
    const op = route(method === 'HEAD' ? 'GET' : method, segments, zone, new URLSearchParams((req.url ?? '').split('?')[1] ?? ''));
    if (op === undefined) return false;
    try {
      if (op === 'method') throw new AdminError('ZG_ERR_METHOD_NOT_ALLOWED', 'method_not_allowed', `${method} is not allowed here`, { headers: { allow: allowed(segments, zone) } });
      const who = await authorize(req, zone, op);
      const body = op.rawBody ? await readRaw(req, op.rawBody) : method === 'POST' || op.readsBody ? await readJson(req) : undefined;
      const result = await op.run(body);
      if (op.access === 'write') {
        logger?.info('zones admin change', { method, path: pathname, zone: zone?.subdomain, by: who, status: result.status });
      }
      send(res, result.status, result.body);
    } catch (err) {
      const answer = toAdminError(err);
      if (!answer) logger?.error('zones admin request failed', { method, path: pathname, error: err instanceof Error ? err.message : String(err) });
      sendError(req, res, answer ?? new GatewayError('ZG_ERR_INTERNAL', undefined, { expose: false }), { oauth: true, html: 'never' });
      // An oversized body is not drained: close the connection once the answer is out.
      if (answer?.code === 'ZG_ERR_PAYLOAD_TOO_LARGE') res.once('finish', () => req.destroy());
    }
    return true;
  };
}

function notFound(what: 'Zone' | 'User'): AdminError {
  return new AdminError('ZG_ERR_ADMIN_NOT_FOUND', `${what.toLowerCase()}_not_found`, `${what} not found`);
}

function found<T>(value: T | undefined, what: 'Zone' | 'User', view: (v: T) => unknown = (v) => v): { status: number; body: unknown } {
  if (value === undefined) throw notFound(what);
  return { status: 200, body: view(value) };
}
