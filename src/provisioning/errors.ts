/**
 * Errors of tenant provisioning: a closed union of codes (a discriminant for the callbacks and the
 * CLI), coded errors of the gateway's registry (src/errors.ts, documented in docs/errors.md) that
 * src/http/render-error.ts writes. Messages are written for the subscriber and the operator: the
 * SaaS registry shows them in the cockpit's subscription status, so they are exposed, 503 included.
 */
import { ZonegateError } from '../errors.js';

export type ProvisioningErrorCode = 'ZG_ERR_TENANT_INVALID' | 'ZG_ERR_TENANT_SUBDOMAIN_TAKEN' | 'ZG_ERR_TENANT_CONFLICT' | 'ZG_ERR_TENANT_BUSY';

export class ProvisioningError extends ZonegateError {
  declare readonly code: ProvisioningErrorCode;

  constructor(code: ProvisioningErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, expose: true });
  }
}
