/**
 * One error class per OAuth error code (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1), each with its
 * HTTP status and an `expose` flag, after node-oidc-provider. The renderer shows `error_description`
 * only when `expose` is set; anything unexpected becomes `server_error` with a generic text, and the
 * details go to the log.
 */
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

export abstract class OAuthError extends Error {
  abstract readonly error: OAuthErrorCode;
  abstract readonly status: number;
  readonly expose: boolean = true;
  /** Extra response headers (`WWW-Authenticate`). */
  headers: Record<string, string> = {};

  constructor(description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.name = new.target.name;
  }

  /** The RFC 6749 §5.2 body. */
  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.expose ? this.message : 'An internal error occurred' };
  }
}

export class InvalidRequest extends OAuthError {
  readonly error = 'invalid_request';
  readonly status = 400;
}

/** RFC 6749 §5.2: 401, and `WWW-Authenticate` naming the scheme the client tried when it used the header. */
export class InvalidClient extends OAuthError {
  readonly error = 'invalid_client';
  readonly status = 401;
  constructor(description = 'Bad credentials', options?: { basic?: boolean; cause?: unknown }) {
    super(description, options);
    if (options?.basic) this.headers = { 'www-authenticate': 'Basic realm="oauth", error="invalid_client"' };
  }
}

export class InvalidGrant extends OAuthError {
  readonly error = 'invalid_grant';
  readonly status = 400;
}

export class UnauthorizedClient extends OAuthError {
  readonly error = 'unauthorized_client';
  readonly status = 400;
}

export class UnsupportedGrantType extends OAuthError {
  readonly error = 'unsupported_grant_type';
  readonly status = 400;
}

export class InvalidScope extends OAuthError {
  readonly error = 'invalid_scope';
  readonly status = 400;
}

export class AccessDenied extends OAuthError {
  readonly error = 'access_denied';
  readonly status = 403;
}

export class UnsupportedResponseType extends OAuthError {
  readonly error = 'unsupported_response_type';
  readonly status = 400;
}

export class LoginRequired extends OAuthError {
  readonly error = 'login_required';
  readonly status = 400;
}

export class ServerError extends OAuthError {
  readonly error = 'server_error';
  readonly status = 500;
  override readonly expose = false;
}

export class TemporarilyUnavailable extends OAuthError {
  readonly error = 'temporarily_unavailable';
  readonly status = 503;
}

/** RFC 6750 §3.1: a bad bearer token is a 401 with the reason in `WWW-Authenticate`. */
export class InvalidToken extends OAuthError {
  readonly error = 'invalid_token';
  readonly status = 401;
  constructor(description = 'The access token is invalid', options?: { cause?: unknown }) {
    super(description, options);
    this.headers = { 'www-authenticate': `Bearer error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"` };
  }
}

export class InsufficientScope extends OAuthError {
  readonly error = 'insufficient_scope';
  readonly status = 403;
}

/** Anything thrown, as an OAuthError; unknown failures become a non-exposed `server_error`. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  if (code === 'ZG_ERR_STORAGE_UNAVAILABLE' || code === 'ZG_ERR_DATABASE_UNAVAILABLE') {
    return new TemporarilyUnavailable('The authorization server storage is unavailable', { cause: err });
  }
  return new ServerError('Internal error', { cause: err });
}
