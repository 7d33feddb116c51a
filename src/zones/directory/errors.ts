/**
 * Errors of the zone directory. A closed union of codes so callers (admin API, CLI, provisioning)
 * can switch on them. They are not answers themselves: the admin API answers with the registry's
 * code each one maps to (src/errors.ts, which also gives the status), provisioning with its own.
 * Messages are written for the operator and never contain secrets or password material.
 */
import { ERRORS, type ErrorCode } from '../../errors.js';

export const DIRECTORY_ERRORS = {
  INVALID_INPUT: 'ZG_ERR_BAD_REQUEST',
  ZONE_NOT_FOUND: 'ZG_ERR_ADMIN_NOT_FOUND',
  ZONE_EXISTS: 'ZG_ERR_ADMIN_CONFLICT',
  ZONE_SUBDOMAIN_TAKEN: 'ZG_ERR_ADMIN_CONFLICT',
  ZONE_IN_USE: 'ZG_ERR_ADMIN_CONFLICT',
  USER_NOT_FOUND: 'ZG_ERR_ADMIN_NOT_FOUND',
  USER_EXISTS: 'ZG_ERR_ADMIN_CONFLICT',
  ROLE_COLLECTION_UNKNOWN: 'ZG_ERR_BAD_REQUEST',
  ROLE_COLLECTION_EXISTS: 'ZG_ERR_ADMIN_CONFLICT',
  APPLICATION_NOT_FOUND: 'ZG_ERR_ADMIN_NOT_FOUND',
  IDENTITY_PROVIDER_NOT_FOUND: 'ZG_ERR_ADMIN_NOT_FOUND',
  IDENTITY_PROVIDER_EXISTS: 'ZG_ERR_ADMIN_CONFLICT',
  CLIENT_NOT_FOUND: 'ZG_ERR_ADMIN_NOT_FOUND',
  CLIENT_EXISTS: 'ZG_ERR_ADMIN_CONFLICT',
  BUSY: 'ZG_ERR_TENANT_BUSY',
  SECRET_KEY_MISMATCH: 'ZG_ERR_INTERNAL',
} as const satisfies Record<string, ErrorCode>;

export type DirectoryErrorCode = keyof typeof DIRECTORY_ERRORS;

export class DirectoryError extends Error {
  readonly code: DirectoryErrorCode;
  readonly status: number;

  constructor(code: DirectoryErrorCode, message: string) {
    super(message);
    this.name = 'DirectoryError';
    this.code = code;
    this.status = ERRORS[DIRECTORY_ERRORS[code]].status;
  }
}
