/**
 * Errors of tenant provisioning: a closed union of codes (a discriminant for the callbacks and the
 * CLI), each with the HTTP status the callback answers with, taken from the gateway's registry
 * (src/errors.ts, documented in docs/errors.md). Messages are written for the subscriber and the
 * operator: the SaaS registry shows them in the cockpit's subscription status.
 */
import { ERRORS } from '../errors.js';

export type ProvisioningErrorCode = 'ZG_ERR_TENANT_INVALID' | 'ZG_ERR_TENANT_SUBDOMAIN_TAKEN' | 'ZG_ERR_TENANT_CONFLICT' | 'ZG_ERR_TENANT_BUSY';

export class ProvisioningError extends Error {
  readonly code: ProvisioningErrorCode;
  readonly status: number;

  constructor(code: ProvisioningErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ProvisioningError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}
