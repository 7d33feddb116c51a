/**
 * The SaaS registry's subscription callbacks (REFERENCE.md §7) as one request handler:
 *   PUT    /callback/v1.0/tenants/{tenantId}   subscribe (200 text/plain tenant URL)
 *   DELETE /callback/v1.0/tenants/{tenantId}   unsubscribe (200; unknown tenant: a no-op)
 *   GET    /callback/v1.0/dependencies         the configured `[{xsappname}]`
 * With a `STATUS_CALLBACK` header, PUT and DELETE answer 202 at once and report the outcome to the
 * registry later (./status-report.ts).
 *
 * Only the SaaS registry may call: a client-credentials token of the provider's zone carrying
 * `<instanceName>.Callback` (the scope xs-security.json grants as an authority to the registry).
 * The token is checked before the body is read. A user token, a token of a tenant's zone (a tenant
 * admin could otherwise unsubscribe other tenants) or one without the scope is a 403.
 *
 * The scope in a verified client-credentials token is the proof of the grant: the built-in zones put
 * `<instanceName>.Callback` only into tokens of a client the application granted it to
 * (`grant-as-authority-to-apps`, or its own `authorities`), never of a client that merely names it
 * (src/zones/directory: clientAuthorities; src/config/security.ts refuses such a descriptor). With an
 * external XSUAA bound the same holds of XSUAA, and the verifier also checks the audience (./token.ts).
 */
import { isJsonMediaType, mediaType, readLimitedBody } from '../http/read-body.js';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, GatewayError, toGatewayError, ZonegateError } from '../errors.js';
import type { Destination } from '../config/types.js';
import { parseTenantConfiguration, type TenantConfiguration, type TenantConfigurations } from '../tenant/configuration.js';
import { sendError } from '../http/render-error.js';
import type { Logger } from '../log.js';
import { ProvisioningError } from './errors.js';
import { checkSubscription, normaliseTenantId, type Provisioning, type SubscriberInfo, type SubscriptionInput } from './service.js';
import { createStatusReporter, type StatusReporter } from './status-report.js';
import type { Application } from '../zones/directory/types.js';

export { compileTenantUrl, type TenantUrlFor } from './tenant-url.js';

/** What `verifyToken` extracts from a valid token; undefined for an invalid one. */
export interface CallbackTokenInfo {
  zoneId: string;
  scopes: string[];
  grantType: string;
}

/**
 * What the callbacks need of a provisioning: the built-in zones' (./service.ts) or, with an external
 * XSUAA bound, the one that only remembers tenants (./bound.ts).
 */
export interface SubscriptionService {
  readonly application: Pick<Application, 'xsappname' | 'instanceName' | 'providerZoneId'>;
  subscribe: Provisioning['subscribe'];
  unsubscribe: Provisioning['unsubscribe'];
}

export interface CallbackHandlerOptions {
  provisioning: SubscriptionService;
  /** Verifies signature and expiry (e.g. @sap/xssec against the zone's keys); undefined if invalid. */
  verifyToken(token: string): Promise<CallbackTokenInfo | undefined>;
  /** Local name of the callback scope; the required scope is `<instanceName>.<scopeName>`. Default `Callback`. */
  scopeName?: string;
  /** The answer of GET /callback/v1.0/dependencies (the reuse services' xsappnames). */
  dependencies?: readonly { xsappname: string }[];
  /** The SaaS registry's base URL; with `getClientToken`, enables the asynchronous mode. */
  registryUrl?: string;
  getClientToken?: () => Promise<string>;
  logger: Logger;
  /** Largest accepted body; default 64 KiB (a subscription payload is about 1 KiB). */
  maxBodyBytes?: number;
  statusRetry?: { attempts?: number; baseDelayMs?: number; timeoutMs?: number };
  /**
   * Where `subscriptionParams` go (issue 14, part 3): the tenant's configuration, checked against the
   * application's destinations. Without it the parameters are ignored, as before.
   */
  tenantConfigurations?: { store: TenantConfigurations; destinations: readonly Destination[] };
}

export interface CallbackHandler {
  /** False when the path is not a callback path (the caller handles the request). */
  (req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Resolves when every asynchronous subscription started so far has reported (graceful shutdown). */
  settled(): Promise<void>;
}

const PREFIX = '/callback/v1.0/';
const TENANT_PATH = /^\/callback\/v1\.0\/tenants\/([^/]+)$/;
const DEPENDENCIES_PATH = '/callback/v1.0/dependencies';
const DEFAULT_MAX_BODY = 64 * 1024;
const CHALLENGE = 'Bearer realm="zonegate callbacks"';
const USER_TEXT_MAX = 255;

type Operation = { kind: 'subscribe'; tenantId: string } | { kind: 'unsubscribe'; tenantId: string } | { kind: 'dependencies' };

function badRequest(message: string): GatewayError {
  return new GatewayError('ZG_ERR_BAD_REQUEST', message);
}

function forbidden(message: string, scope?: string): GatewayError {
  // RFC 6750 §3.1: insufficient_scope names the scope that would do.
  const challenge = scope ? `${CHALLENGE}, error="insufficient_scope", scope="${scope}"` : `${CHALLENGE}, error="insufficient_scope"`;
  return new GatewayError('ZG_ERR_FORBIDDEN', message, { headers: { 'www-authenticate': challenge } });
}

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return match?.[1];
}

function optionalString(body: Record<string, unknown>, name: string, path = name): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest(`${path} must be a string`);
  if (value.length > USER_TEXT_MAX) throw badRequest(`${path} must be at most ${USER_TEXT_MAX} characters`);
  return value;
}

/** The registry's payload as the service's input; every problem is a 400 naming the field. */
export function parseSubscriptionBody(body: unknown, pathTenantId: string): SubscriptionInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object');
  const b = body as Record<string, unknown>;
  const tenantId = optionalString(b, 'subscribedTenantId');
  if (tenantId !== undefined && tenantId.toLowerCase() !== pathTenantId.toLowerCase()) {
    throw badRequest(`subscribedTenantId "${tenantId.slice(0, 64)}" does not match the tenant id of the path`);
  }
  const subdomain = optionalString(b, 'subscribedSubdomain');
  if (subdomain === undefined) throw badRequest('subscribedSubdomain is required');
  const eventType = optionalString(b, 'eventType');
  if (eventType !== undefined && eventType !== 'CREATE' && eventType !== 'UPDATE') throw badRequest('eventType must be CREATE or UPDATE');
  const globalAccountId = optionalString(b, 'globalAccountGUID');
  const subscriptionAppName = optionalString(b, 'subscriptionAppName');
  for (const name of ['subscribedZoneId', 'subscribedSubaccountId', 'subscriptionAppId']) optionalString(b, name);

  let userInfo: SubscriberInfo | undefined;
  if (b.userInfo !== undefined && b.userInfo !== null) {
    if (typeof b.userInfo !== 'object' || Array.isArray(b.userInfo)) throw badRequest('userInfo must be an object');
    const u = b.userInfo as Record<string, unknown>;
    const field = (name: string) => optionalString(u, name, `userInfo.${name}`);
    const userName = field('userName');
    const email = field('email');
    const givenName = field('givenName');
    const familyName = field('familyName');
    const origin = field('origin');
    if (userName !== undefined && userName.trim() !== '') {
      userInfo = {
        userName,
        ...(email !== undefined ? { email } : {}),
        ...(givenName !== undefined ? { givenName } : {}),
        ...(familyName !== undefined ? { familyName } : {}),
        ...(origin !== undefined ? { origin } : {}),
      };
    }
  }
  return {
    tenantId: pathTenantId,
    subdomain,
    ...(eventType !== undefined ? { eventType } : {}),
    ...(userInfo ? { userInfo } : {}),
    ...(globalAccountId !== undefined ? { globalAccountId } : {}),
    ...(subscriptionAppName !== undefined ? { subscriptionAppName } : {}),
  };
}

export function createCallbackHandler(options: CallbackHandlerOptions): CallbackHandler {
  const { provisioning, logger } = options;
  const application = provisioning.application;
  const requiredScope = `${application.instanceName}.${options.scopeName ?? 'Callback'}`;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const dependencies = JSON.stringify((options.dependencies ?? []).map((d) => ({ xsappname: d.xsappname })));
  if (options.registryUrl !== undefined && options.getClientToken === undefined) {
    throw new RangeError('registryUrl needs getClientToken: status reports are sent with a client-credentials token');
  }
  const reporter: StatusReporter | undefined =
    options.registryUrl !== undefined && options.getClientToken !== undefined
      ? createStatusReporter({ registryUrl: options.registryUrl, getClientToken: options.getClientToken, logger, ...options.statusRetry })
      : undefined;
  const running = new Set<Promise<unknown>>();

  function operationOf(method: string, pathname: string): Operation | GatewayError {
    const tenant = TENANT_PATH.exec(pathname);
    if (tenant) {
      if (method !== 'PUT' && method !== 'DELETE') {
        return new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed here`, { headers: { allow: 'PUT, DELETE' } });
      }
      let tenantId: string;
      try {
        tenantId = decodeURIComponent(tenant[1]!);
      } catch {
        return badRequest('The tenant id in the path is not valid percent-encoding');
      }
      return { kind: method === 'PUT' ? 'subscribe' : 'unsubscribe', tenantId };
    }
    if (pathname === DEPENDENCIES_PATH) {
      if (method !== 'GET' && method !== 'HEAD') return new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed here`, { headers: { allow: 'GET, HEAD' } });
      return { kind: 'dependencies' };
    }
    return new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', 'No such callback');
  }

  /**
   * `subscriptionParams` (the registry passes what the subscriber entered, per the application's
   * paramsSchema) as the tenant's configuration: `destinations` as in `zonegate tenants config`, every
   * other parameter a setting. Checked before anything is done: a 400 naming each problem.
   */
  function configurationOf(body: Record<string, unknown>): TenantConfiguration | undefined {
    const params = body.subscriptionParams;
    if (options.tenantConfigurations === undefined || params === undefined || params === null) return undefined;
    if (typeof params !== 'object' || Array.isArray(params)) throw badRequest('subscriptionParams must be an object');
    const { destinations, ...settings } = params as Record<string, unknown>;
    try {
      return parseTenantConfiguration({ ...(destinations !== undefined ? { destinations } : {}), settings }, 'subscriptionParams', options.tenantConfigurations.destinations);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new GatewayError('ZG_ERR_TENANT_INVALID', `subscriptionParams: ${err.problems.map((p) => `${p.path || '/'} ${p.message}`).join('; ')}`, { expose: true });
    }
  }

  async function authorize(req: IncomingMessage): Promise<void> {
    const token = bearerToken(req);
    if (!token) {
      throw new GatewayError('ZG_ERR_UNAUTHENTICATED', 'A bearer token of the SaaS registry is required', { headers: { 'www-authenticate': CHALLENGE } });
    }
    const info = await options.verifyToken(token);
    if (!info) {
      throw new GatewayError('ZG_ERR_UNAUTHENTICATED', 'The bearer token is invalid or expired', {
        headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` },
      });
    }
    if (info.zoneId !== application.providerZoneId) throw forbidden("The token was not issued by the provider's identity zone");
    if (info.grantType !== 'client_credentials') throw forbidden('Only the SaaS registry (a client-credentials token) may call this');
    if (!Array.isArray(info.scopes) || !info.scopes.includes(requiredScope)) throw forbidden(`The token lacks the scope ${requiredScope}`, requiredScope);
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    if (!isJsonMediaType(mediaType(req))) throw badRequest('The body must be JSON (Content-Type: application/json)');
    const raw = await readLimitedBody(req, maxBody);
    if (raw === 'too-large') {
      throw new GatewayError('ZG_ERR_PAYLOAD_TOO_LARGE', `The body exceeds ${maxBody} bytes`, { headers: { connection: 'close' } });
    }
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch {
      // Not the parser's message: it may quote the input back.
      throw badRequest('The body is not valid JSON');
    }
  }

  function sendText(req: IncomingMessage, res: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  function fail(req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string): void {
    const error = toGatewayError(err);
    if (error.status >= 500 && !(err instanceof ProvisioningError)) logger.error('subscription callback failed', { requestId, code: error.code, error: String(error.cause ?? error.message) });
    sendError(req, res, error, { requestId });
    // An oversized body is not drained: close the connection once the answer is out.
    if (error.code === 'ZG_ERR_PAYLOAD_TOO_LARGE') res.once('finish', () => req.destroy());
  }

  /**
   * The work of one PUT/DELETE; resolves with the answer's text (the tenant URL for a PUT) and, for a
   * subscription whose administrator was invited, the line that hands over the set-password link.
   */
  async function perform(op: Exclude<Operation, { kind: 'dependencies' }>, input: SubscriptionInput | undefined): Promise<{ text: string; url?: string; invitation?: string }> {
    if (op.kind === 'subscribe') {
      const result = await provisioning.subscribe(input!);
      // The parameters the subscriber gave replace the tenant's configuration; a subscription without
      // any (an UPDATE that only renews) leaves what the operator set alone.
      if (input!.configuration !== undefined) await options.tenantConfigurations!.store.put(result.subdomain, input!.configuration);
      const invited = result.admin?.invitation;
      return {
        text: result.url,
        url: result.url,
        ...(invited ? { invitation: `${result.admin!.userName} sets a password at ${invited.url} (one use, until ${invited.expiresAt})` } : {}),
      };
    }
    const result = await provisioning.unsubscribe(op.tenantId);
    return { text: result.removed ? `Tenant ${op.tenantId} unsubscribed` : `Tenant ${op.tenantId} was not subscribed` };
  }

  function runAsynchronously(op: Exclude<Operation, { kind: 'dependencies' }>, input: SubscriptionInput | undefined, target: URL, requestId: string): void {
    const job = (async () => {
      let report: { status: 'SUCCEEDED' | 'FAILED'; message: string; subscriptionUrl?: string };
      try {
        const outcome = await perform(op, input);
        // The status message is what the registry shows the subscriber (the BTP cockpit's
        // subscription status): the one channel that reaches the invited administrator directly.
        const message = outcome.invitation ? `${outcome.text}. ${outcome.invitation}` : outcome.text;
        if (outcome.invitation) logger.info('tenant administrator invited; the link is in the status report', { requestId, tenantId: op.tenantId });
        report = { status: 'SUCCEEDED', message, ...(outcome.url !== undefined ? { subscriptionUrl: outcome.url } : {}) };
      } catch (err) {
        // Provisioning errors are exposed: their messages are written for the subscriber.
        const known = err instanceof ZonegateError && err.expose;
        if (!known) logger.error('asynchronous subscription failed', { requestId, tenantId: op.tenantId, error: err instanceof Error ? err.message : String(err) });
        report = { status: 'FAILED', message: known ? err.message : `The ${op.kind === 'subscribe' ? 'subscription' : 'unsubscription'} failed (request ${requestId})` };
      }
      await reporter!.report(target, report);
    })();
    running.add(job);
    void job.finally(() => running.delete(job));
  }

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const pathname = (req.url ?? '/').split('?')[0]!;
    if (!pathname.startsWith(PREFIX)) return false;
    const requestId = randomUUID();
    try {
      const op = operationOf(req.method ?? 'GET', pathname);
      if (op instanceof GatewayError) throw op;
      await authorize(req);
      if (op.kind === 'dependencies') {
        sendText(req, res, 200, dependencies, 'application/json; charset=utf-8');
        return true;
      }
      // Checked before any 202: a malformed request is refused now, not reported as FAILED later.
      const tenantId = normaliseTenantId(op.tenantId);
      const body = op.kind === 'subscribe' ? await readJson(req) : undefined;
      const input = op.kind === 'subscribe' ? checkSubscription(parseSubscriptionBody(body, tenantId)) : undefined;
      if (input !== undefined) input.configuration = configurationOf(body as Record<string, unknown>);
      const statusCallback = req.headers.status_callback;
      if (typeof statusCallback === 'string' && statusCallback !== '') {
        if (!reporter) {
          logger.warn('STATUS_CALLBACK ignored: no registry URL configured; answering synchronously', { requestId });
        } else {
          const target = reporter.targetFor(statusCallback);
          if (!target) throw badRequest('STATUS_CALLBACK must be a path on the SaaS registry');
          runAsynchronously(op, input, target, requestId);
          sendText(req, res, 202, 'Accepted');
          return true;
        }
      }
      const outcome = await perform(op, input);
      if (outcome.invitation) {
        // The synchronous answer is the tenant URL as plain text (REFERENCE.md §7; the registry shows
        // it as the application's URL), so it cannot carry the link. The operator's log can; the link
        // is single-use and expires, and a new one is issued when the registry repeats the call.
        logger.info('tenant administrator invited', { requestId, tenantId: op.tenantId, invitation: outcome.invitation });
      }
      sendText(req, res, 200, outcome.text);
    } catch (err) {
      fail(req, res, err, requestId);
    }
    return true;
  };

  return Object.assign(handler, {
    async settled() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  });
}
