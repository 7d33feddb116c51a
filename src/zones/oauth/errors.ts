/**
 * One error class per OAuth error code (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1), each with its
 * HTTP status and an `expose` flag, after node-oidc-provider. They are coded errors like the
 * gateway's (src/errors.ts): the code (`ZG_ERR_OAUTH_<ERROR>`) goes into `x-zonegate-error`, the
 * status comes from the registry, and src/http/render-error.ts writes them in RFC 6749 §5.2's shape.
 * `error_description` is shown only when `expose` is set; anything unexpected becomes `server_error`
 * with a generic text, and the details go to the log.
 */
import { ERRORS, ZonegateError, type ErrorCode } from '../../errors.js';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'login_required';

/** The registry's code of each RFC error: what `x-zonegate-error` says about an OAuth answer. */
export const OAUTH_ERROR_CODES = {
  invalid_request: 'ZG_ERR_OAUTH_INVALID_REQUEST',
  invalid_client: 'ZG_ERR_OAUTH_INVALID_CLIENT',
  invalid_grant: 'ZG_ERR_OAUTH_INVALID_GRANT',
  unauthorized_client: 'ZG_ERR_OAUTH_UNAUTHORIZED_CLIENT',
  unsupported_grant_type: 'ZG_ERR_OAUTH_UNSUPPORTED_GRANT_TYPE',
  invalid_scope: 'ZG_ERR_OAUTH_INVALID_SCOPE',
  access_denied: 'ZG_ERR_OAUTH_ACCESS_DENIED',
  unsupported_response_type: 'ZG_ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE',
  server_error: 'ZG_ERR_OAUTH_SERVER_ERROR',
  temporarily_unavailable: 'ZG_ERR_OAUTH_TEMPORARILY_UNAVAILABLE',
  invalid_token: 'ZG_ERR_OAUTH_INVALID_TOKEN',
  insufficient_scope: 'ZG_ERR_OAUTH_INSUFFICIENT_SCOPE',
  login_required: 'ZG_ERR_OAUTH_LOGIN_REQUIRED',
} as const satisfies Record<OAuthErrorCode, ErrorCode>;

export abstract class OAuthError extends ZonegateError {
  abstract readonly error: OAuthErrorCode;

  /** The RFC 6749 §5.2 body. */
  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.publicMessage };
  }
}

interface OAuthErrorOptions {
  cause?: unknown;
  headers?: Record<string, string>;
}

/** What may be down behind a `temporarily_unavailable`: the records database or the session store. */
export type OutageCode = 'ZG_ERR_DATABASE_UNAVAILABLE' | 'ZG_ERR_STORAGE_UNAVAILABLE';

/** The class of one RFC error: its code and status from the registry; only server_error (500) hides its description. */
function oauthError<E extends OAuthErrorCode>(error: E) {
  const code = OAUTH_ERROR_CODES[error];
  return class extends OAuthError {
    readonly error: E = error;
    constructor(description: string = ERRORS[code].title, options: OAuthErrorOptions = {}) {
      super(code, description, { ...options, expose: error !== 'server_error' });
    }
  };
}

export class InvalidRequest extends oauthError('invalid_request') {}

/** RFC 6749 §5.2: 401, and `WWW-Authenticate` naming the scheme the client tried when it used the header. */
export class InvalidClient extends oauthError('invalid_client') {
  constructor(description = 'Bad credentials', options: { basic?: boolean; cause?: unknown } = {}) {
    super(description, { cause: options.cause, ...(options.basic ? { headers: { 'www-authenticate': 'Basic realm="oauth", error="invalid_client"' } } : {}) });
  }
}

export class InvalidGrant extends oauthError('invalid_grant') {}
export class UnauthorizedClient extends oauthError('unauthorized_client') {}
export class UnsupportedGrantType extends oauthError('unsupported_grant_type') {}
export class InvalidScope extends oauthError('invalid_scope') {}
export class AccessDenied extends oauthError('access_denied') {}
export class UnsupportedResponseType extends oauthError('unsupported_response_type') {}
export class LoginRequired extends oauthError('login_required') {}
export class ServerError extends oauthError('server_error') {}
/**
 * 503, `temporarily_unavailable` in the body. When what is down is known (toOAuthError), the header
 * names it, ZG_ERR_DATABASE_UNAVAILABLE or ZG_ERR_STORAGE_UNAVAILABLE, as the gateway's and the admin
 * API's answers do: an operator tells a records outage from a session-store outage by the header alone.
 */
export class TemporarilyUnavailable extends oauthError('temporarily_unavailable') {
  constructor(description?: string, options: OAuthErrorOptions & { outage?: OutageCode } = {}) {
    const { outage, ...rest } = options;
    super(description, rest);
    if (outage) (this as { code: ErrorCode }).code = outage;
  }
}

/** RFC 6750 §3.1: a bad bearer token is a 401 with the reason in `WWW-Authenticate`. */
export class InvalidToken extends oauthError('invalid_token') {
  constructor(description = 'The access token is invalid', options: OAuthErrorOptions = {}) {
    super(description, { headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"` }, ...options });
  }
}

export class InsufficientScope extends oauthError('insufficient_scope') {}

/** Anything thrown, as an OAuthError; unknown failures become a non-exposed `server_error`. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  if (code === 'ZG_ERR_STORAGE_UNAVAILABLE' || code === 'ZG_ERR_DATABASE_UNAVAILABLE') {
    return new TemporarilyUnavailable('The authorization server storage is unavailable', { cause: err, outage: code });
  }
  return new ServerError('Internal error', { cause: err });
}
