/**
 * Errors of the trusted-platform handover and the redirect relay (issue 15): coded errors of the
 * gateway's registry (src/errors.ts, docs/errors.md) that src/http/render-error.ts writes, as JSON
 * to the platform's server and as a page to a browser. A refusal names what was wrong in terms the
 * platform's developer can act on; it never echoes the assertion or a secret.
 */
import { ZonegateError, type GatewayErrorOptions } from '../errors.js';

export type PlatformErrorCode =
  | 'ZG_ERR_PLATFORM_ASSERTION_INVALID'
  | 'ZG_ERR_PLATFORM_NOT_ALLOWED'
  | 'ZG_ERR_ONE_TIME_LOGIN_INVALID'
  | 'ZG_ERR_RELAY_STATE_INVALID'
  | 'ZG_ERR_BAD_REQUEST'
  | 'ZG_ERR_UNAUTHENTICATED'
  | 'ZG_ERR_ADMIN_NOT_FOUND'
  | 'ZG_ERR_ADMIN_CONFLICT';

export class PlatformError extends ZonegateError {
  declare readonly code: PlatformErrorCode;
  /** Why, in a word, for the audit line (`replayed`, `expired`, `audience`, ...). */
  readonly reason: string;
  /** The wire name where an OAuth-shaped answer is written (the admin API's, RFC 6749 §5.2's). */
  readonly error: string;

  constructor(code: PlatformErrorCode, reason: string, message: string, options: GatewayErrorOptions = {}) {
    super(code, message, { expose: true, ...options });
    this.reason = reason;
    this.error = WIRE_NAMES[code];
  }
}

const WIRE_NAMES: Record<PlatformErrorCode, string> = {
  ZG_ERR_PLATFORM_ASSERTION_INVALID: 'invalid_grant',
  ZG_ERR_PLATFORM_NOT_ALLOWED: 'access_denied',
  ZG_ERR_ONE_TIME_LOGIN_INVALID: 'not_found',
  ZG_ERR_RELAY_STATE_INVALID: 'invalid_request',
  ZG_ERR_BAD_REQUEST: 'invalid_request',
  ZG_ERR_UNAUTHENTICATED: 'unauthorized',
  ZG_ERR_ADMIN_NOT_FOUND: 'not_found',
  ZG_ERR_ADMIN_CONFLICT: 'conflict',
};

export const assertionInvalid = (reason: string, message: string) =>
  new PlatformError('ZG_ERR_PLATFORM_ASSERTION_INVALID', reason, message, { headers: { 'www-authenticate': `Bearer realm="zonegate platforms", error="invalid_token"` } });

export const notAllowed = (reason: string, message: string) => new PlatformError('ZG_ERR_PLATFORM_NOT_ALLOWED', reason, message);

export const badRequest = (message: string) => new PlatformError('ZG_ERR_BAD_REQUEST', 'invalid_request', message);
