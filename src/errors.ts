/**
 * The gateway's coded errors. Every error the gateway itself answers with has a stable code from
 * this registry, an HTTP status and an `expose` flag: an exposed message is safe to show to the
 * client; otherwise the client sees only the registry's generic title (the message goes to the log).
 * docs/errors.md lists the same codes; test/errors.test.ts keeps the two in step.
 */
export const ERRORS = {
  ZG_ERR_HOST_UNMATCHED: { status: 404, title: 'This host is not served by the gateway' },
  ZG_ERR_TENANT_UNKNOWN: { status: 404, title: 'This tenant is not subscribed' },
  ZG_ERR_TENANT_INVALID: { status: 400, title: 'The subscription request is invalid' },
  ZG_ERR_TENANT_SUBDOMAIN_TAKEN: { status: 409, title: 'Another tenant uses this subdomain' },
  ZG_ERR_TENANT_CONFLICT: { status: 409, title: 'The subscription conflicts with an existing tenant' },
  ZG_ERR_TENANT_BUSY: { status: 503, title: 'The tenant is being changed by another request' },
  ZG_ERR_ROUTE_NOT_FOUND: { status: 404, title: 'No route matches this path' },
  ZG_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'The method is not allowed on this path' },
  ZG_ERR_FILE_NOT_FOUND: { status: 404, title: 'File not found' },
  ZG_ERR_BAD_REQUEST: { status: 400, title: 'The request is malformed' },
  ZG_ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  ZG_ERR_URI_TOO_LONG: { status: 414, title: 'The request target is too long' },
  ZG_ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  ZG_ERR_FORBIDDEN: { status: 403, title: 'Access is forbidden' },
  ZG_ERR_CSRF_REQUIRED: { status: 403, title: 'A valid CSRF token is required' },
  ZG_ERR_SESSION_TENANT: { status: 403, title: 'This session belongs to another tenant' },
  ZG_ERR_LOGIN_FAILED: { status: 401, title: 'The login did not complete' },
  ZG_ERR_IDP_UNAVAILABLE: { status: 503, title: 'The identity provider is unavailable' },
  ZG_ERR_NOT_SUPPORTED: { status: 501, title: 'This feature is not supported by zonegate' },
  ZG_ERR_BACKEND_UNREACHABLE: { status: 502, title: 'The backend could not be reached' },
  ZG_ERR_BACKEND_TIMEOUT: { status: 504, title: 'The backend did not answer in time' },
  ZG_ERR_BACKEND_BUSY: { status: 503, title: 'All connections to the backend are busy' },
  ZG_ERR_STORAGE_UNAVAILABLE: { status: 503, title: 'The session storage is unavailable' },
  ZG_ERR_STORAGE_LOST: { status: 503, title: 'The store has lost its data' },
  ZG_ERR_DATABASE_UNAVAILABLE: { status: 503, title: 'The records database is unavailable' },
  ZG_ERR_SHUTTING_DOWN: { status: 503, title: 'The gateway is shutting down' },
  ZG_ERR_INTERNAL: { status: 500, title: 'Internal error' },
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
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message?: string, options: GatewayErrorOptions = {}) {
    super(message ?? ERRORS[code].title, { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? ERRORS[code].status;
    this.expose = options.expose ?? this.status < 500;
    this.headers = options.headers ?? {};
  }
}

/** Any thrown value as a GatewayError; unknown failures become ZG_ERR_INTERNAL and are not exposed. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
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
