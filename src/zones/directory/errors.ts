/**
 * Errors of the zone directory. A closed union of codes so callers (admin API, CLI, provisioning)
 * can switch on them; each code carries the HTTP status the admin API answers with. Messages are
 * written for the operator and never contain secrets or password material.
 */
export const DIRECTORY_ERRORS = {
  INVALID_INPUT: 400,
  ZONE_NOT_FOUND: 404,
  ZONE_EXISTS: 409,
  ZONE_SUBDOMAIN_TAKEN: 409,
  ZONE_IN_USE: 409,
  USER_NOT_FOUND: 404,
  USER_EXISTS: 409,
  ROLE_COLLECTION_UNKNOWN: 400,
  ROLE_COLLECTION_EXISTS: 409,
  APPLICATION_NOT_FOUND: 404,
  BUSY: 503,
  SECRET_KEY_MISMATCH: 500,
} as const satisfies Record<string, number>;

export type DirectoryErrorCode = keyof typeof DIRECTORY_ERRORS;

export class DirectoryError extends Error {
  readonly code: DirectoryErrorCode;
  readonly status: number;

  constructor(code: DirectoryErrorCode, message: string) {
    super(message);
    this.name = 'DirectoryError';
    this.code = code;
    this.status = DIRECTORY_ERRORS[code];
  }
}
