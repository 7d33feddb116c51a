/**
 * The coded errors of the gateway and of its identity zones. Every error answer either of them makes
 * has a stable code from this registry, an HTTP status and an `expose` flag: an exposed message is
 * safe to show to the client; otherwise the client sees only the registry's generic title (the
 * message goes to the log). docs/errors.md lists the same codes; test/errors.test.ts keeps the two,
 * and the codes the source uses, in step.
 */
export const ERRORS = {
  ZG_ERR_HOST_UNMATCHED: { status: 404, title: 'This host is not served by the gateway' },
  ZG_ERR_TENANT_PATH_UNMATCHED: { status: 404, title: 'This path does not name a tenant served by the gateway' },
  ZG_ERR_TENANT_AMBIGUOUS: { status: 400, title: 'The host and the path name a tenant each' },
  ZG_ERR_TENANT_UNKNOWN: { status: 404, title: 'This tenant is not subscribed' },
  ZG_ERR_TENANT_INVALID: { status: 400, title: 'The subscription request is invalid' },
  ZG_ERR_TENANT_SUBDOMAIN_TAKEN: { status: 409, title: 'Another tenant uses this subdomain' },
  ZG_ERR_TENANT_CONFLICT: { status: 409, title: 'The subscription conflicts with an existing tenant' },
  ZG_ERR_TENANT_BUSY: { status: 503, title: 'The tenant is being changed by another request' },
  ZG_ERR_ROUTE_NOT_FOUND: { status: 404, title: 'No route matches this path' },
  ZG_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'The method is not allowed on this path' },
  ZG_ERR_FILE_NOT_FOUND: { status: 404, title: 'File not found' },
  ZG_ERR_RANGE_NOT_SATISFIABLE: { status: 416, title: 'The requested range is outside the file' },
  ZG_ERR_BAD_REQUEST: { status: 400, title: 'The request is malformed' },
  ZG_ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  ZG_ERR_URI_TOO_LONG: { status: 414, title: 'The request target is too long' },
  ZG_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The body has the wrong content type' },
  ZG_ERR_REQUEST_TIMEOUT: { status: 408, title: 'The request was not received in time' },
  ZG_ERR_HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  ZG_ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  ZG_ERR_FORBIDDEN: { status: 403, title: 'Access is forbidden' },
  ZG_ERR_FORWARD_AUTH_UNTRUSTED: { status: 403, title: 'Forward auth answers only trusted proxies' },
  ZG_ERR_CSRF_REQUIRED: { status: 403, title: 'A valid CSRF token is required' },
  ZG_ERR_LOGIN_FAILED: { status: 401, title: 'The login did not complete' },
  ZG_ERR_IDP_UNAVAILABLE: { status: 503, title: 'The identity provider is unavailable' },
  ZG_ERR_IDP_REFUSED: { status: 403, title: 'The identity provider did not sign the user in' },
  ZG_ERR_NOT_SUPPORTED: { status: 501, title: 'This feature is not supported by zonegate' },
  ZG_ERR_BACKEND_UNREACHABLE: { status: 502, title: 'The backend could not be reached' },
  ZG_ERR_BACKEND_TIMEOUT: { status: 504, title: 'The backend did not answer in time' },
  ZG_ERR_BACKEND_BUSY: { status: 503, title: 'All connections to the backend are busy' },
  ZG_ERR_STORAGE_UNAVAILABLE: { status: 503, title: 'The session storage is unavailable' },
  ZG_ERR_DATABASE_UNAVAILABLE: { status: 503, title: 'The records database is unavailable' },
  ZG_ERR_RECORDS_LOST: { status: 503, title: 'The records database has lost its data' },
  ZG_ERR_SHUTTING_DOWN: { status: 503, title: 'The gateway is shutting down' },
  ZG_ERR_INTERNAL: { status: 500, title: 'Internal error' },
  // Webhooks and the event relay (issue 15 part 3, src/webhooks/, src/events/).
  ZG_ERR_WEBHOOK_UNKNOWN: { status: 404, title: 'No such webhook for this tenant' },
  ZG_ERR_SIGNATURE_INVALID: { status: 401, title: 'The request signature is missing, stale or wrong' },
  ZG_ERR_RATE_LIMITED: { status: 429, title: 'Too many requests; try again later' },
  ZG_ERR_EVENTS_NOT_FOUND: { status: 404, title: 'No such subscription, token, webhook or dead letter' },
  // The identity zones. Their OAuth answers keep RFC 6749's `error` in the body; the header carries
  // the code of that `error` (one code per RFC 6749 §4.1.2.1/§5.2 and RFC 6750 §3.1 error).
  ZG_ERR_OAUTH_INVALID_REQUEST: { status: 400, title: 'The request is invalid' },
  ZG_ERR_OAUTH_INVALID_CLIENT: { status: 401, title: 'The client could not be authenticated' },
  ZG_ERR_OAUTH_INVALID_GRANT: { status: 400, title: 'The grant is invalid, expired or revoked' },
  ZG_ERR_OAUTH_UNAUTHORIZED_CLIENT: { status: 400, title: 'The client may not do this' },
  ZG_ERR_OAUTH_UNSUPPORTED_GRANT_TYPE: { status: 400, title: 'The grant type is not supported' },
  ZG_ERR_OAUTH_INVALID_SCOPE: { status: 400, title: 'The requested scope is invalid' },
  ZG_ERR_OAUTH_ACCESS_DENIED: { status: 403, title: 'Access was denied' },
  ZG_ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE: { status: 400, title: 'The response type is not supported' },
  ZG_ERR_OAUTH_LOGIN_REQUIRED: { status: 400, title: 'A login is required' },
  ZG_ERR_OAUTH_SERVER_ERROR: { status: 500, title: 'An internal error occurred' },
  ZG_ERR_OAUTH_TEMPORARILY_UNAVAILABLE: { status: 503, title: 'The authorization server is temporarily unavailable' },
  ZG_ERR_OAUTH_INVALID_TOKEN: { status: 401, title: 'The access token is invalid' },
  ZG_ERR_OAUTH_INSUFFICIENT_SCOPE: { status: 403, title: 'The access token lacks a required scope' },
  ZG_ERR_FORM_EXPIRED: { status: 403, title: 'The form has expired or was not opened in this browser' },
  ZG_ERR_INVITATION_INVALID: { status: 404, title: 'The invitation is invalid, used or expired' },
  ZG_ERR_TOO_MANY_ATTEMPTS: { status: 429, title: 'Too many failed attempts; try again later' },
  ZG_ERR_ADMIN_NOT_FOUND: { status: 404, title: 'No such zone, user or application' },
  ZG_ERR_ADMIN_CONFLICT: { status: 409, title: 'The zone, user or role collection exists already or is in use' },
  // Trusted platforms and the redirect relay (issue 15, src/platform/).
  ZG_ERR_PLATFORM_ASSERTION_INVALID: { status: 401, title: 'The platform assertion is invalid, expired or replayed' },
  ZG_ERR_PLATFORM_NOT_ALLOWED: { status: 403, title: 'The platform may not do this' },
  ZG_ERR_ONE_TIME_LOGIN_INVALID: { status: 404, title: 'The login link is invalid, used or expired' },
  ZG_ERR_RELAY_STATE_INVALID: { status: 400, title: 'The relayed answer is invalid, expired or already used' },
  // The HTML5 application repository (src/html5-apps/).
  ZG_ERR_APP_INVALID: { status: 400, title: 'The HTML5 application package is invalid' },
  ZG_ERR_APP_VERSION_EXISTS: { status: 409, title: 'This version of the HTML5 application is deployed already, with other content' },
  ZG_ERR_APP_NOT_FOUND: { status: 404, title: 'No such HTML5 application or version' },
  ZG_ERR_APP_DESTINATION_UNKNOWN: { status: 502, title: 'The application names a destination this gateway does not have' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface GatewayErrorOptions {
  /** Overrides the registry's status (rarely needed). */
  status?: number;
  /** Whether `message` may be shown to the client. Defaults to true for 4xx, false for 5xx. */
  expose?: boolean;
  /** Extra response headers, e.g. `Allow` for 405 or `WWW-Authenticate` for 401. */
  headers?: Record<string, string>;
  cause?: unknown;
  /**
   * What the person in front of an error page should do, when the thrower knows better than the
   * code's general advice (src/http/error-advice.ts), e.g. which role collection to ask for. Shown on
   * pages only, so it must be written for that reader and hold nothing internal.
   */
  advice?: string;
}

/**
 * The one base of every error that becomes an HTTP answer (the gateway's, the zones' OAuth errors,
 * provisioning, the zones' admin API); src/http/render-error.ts writes all of them. A subclass only
 * adds what its protocol puts on the wire (RFC 6749's `error`).
 */
export class ZonegateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly advice: string | undefined;

  constructor(code: ErrorCode, message?: string, options: GatewayErrorOptions = {}) {
    super(message ?? ERRORS[code].title, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? ERRORS[code].status;
    this.expose = options.expose ?? this.status < 500;
    this.headers = options.headers ?? {};
    this.advice = options.advice;
  }

  /** What the client may read: the message when exposed, else the registry's title (never internals). */
  get publicMessage(): string {
    return this.expose ? this.message : ERRORS[this.code].title;
  }
}

/** An error of the gateway itself (tenant, routing, login, proxy, storage). */
export class GatewayError extends ZonegateError {}

/** Any thrown value as a coded error; unknown failures become ZG_ERR_INTERNAL and are not exposed. */
export function toGatewayError(err: unknown): ZonegateError {
  if (err instanceof ZonegateError) return err;
  return new GatewayError('ZG_ERR_INTERNAL', undefined, { cause: err, expose: false });
}

/** One problem found in a configuration file: where (file and JSON path) and what was expected. */
export interface ConfigProblem {
  file: string;
  /** JSON Pointer-like path, e.g. `/routes/3/source`; empty for the whole document. */
  path: string;
  message: string;
}

/**
 * Invalid configuration. Carries every problem found, so an operator fixes them all in one pass
 * (oauth2-proxy and fastify report all at once rather than the first only).
 */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map(formatProblem).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `  ${p.file}${p.path ? ` at ${p.path}` : ''}: ${p.message}`;
}
