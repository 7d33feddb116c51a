/**
 * Errors of tenant provisioning: a closed union of codes (a discriminant for the callbacks and the
 * CLI), each with the HTTP status the callback answers with. Messages are written for the
 * subscriber and the operator: the SaaS registry shows them in the cockpit's subscription status.
 *
 * The codes follow the gateway's `ZG_ERR_*` naming; they belong in src/errors.ts and docs/errors.md
 * once provisioning is wired into the gateway (see the report of issue 5).
 */
export const PROVISIONING_ERRORS = {
  /** The body or a parameter is invalid (DNS label, GUID, userInfo). */
  ZG_ERR_TENANT_INVALID: 400,
  /** Another tenant holds the subdomain. */
  ZG_ERR_TENANT_SUBDOMAIN_TAKEN: 409,
  /** The tenant exists under another subdomain, or is the provider itself. */
  ZG_ERR_TENANT_CONFLICT: 409,
  /** Another request is changing the same tenant right now. */
  ZG_ERR_TENANT_BUSY: 503,
} as const satisfies Record<string, number>;

export type ProvisioningErrorCode = keyof typeof PROVISIONING_ERRORS;

export class ProvisioningError extends Error {
  readonly code: ProvisioningErrorCode;
  readonly status: number;

  constructor(code: ProvisioningErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ProvisioningError';
    this.code = code;
    this.status = PROVISIONING_ERRORS[code];
  }
}
