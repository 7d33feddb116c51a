/**
 * Audit lines of the trusted-platform handover and the relay: one structured line per decision,
 * `{"audit":"platform.autologin","outcome":"refused","reason":"replayed","platform":"tix",...}`,
 * through the gateway's pino logger (src/log.ts), so a SIEM can select them by `audit`. Successes are
 * `info`, refusals `warn`. Never an assertion, a reference, a code or a state: only who, what and why
 * (a `jti` appears as its SHA-256 prefix, enough to correlate with the platform's own log).
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';

export type AuditEvent =
  | 'platform.organization'
  | 'platform.autologin'
  | 'platform.one_time_login'
  | 'platform.registration'
  | 'relay.state'
  | 'relay.callback'
  | 'relay.registration';

export interface Audit {
  success(event: AuditEvent, fields: Record<string, unknown>): void;
  refused(event: AuditEvent, reason: string, fields: Record<string, unknown>): void;
}

export function createAudit(logger: Logger): Audit {
  return {
    success(event, fields) {
      logger.info(`audit: ${event} succeeded`, { audit: event, outcome: 'success', ...fields });
    },
    refused(event, reason, fields) {
      logger.warn(`audit: ${event} refused`, { audit: event, outcome: 'refused', reason, ...fields });
    },
  };
}

/** A value to correlate by, not to replay with. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url').slice(0, 16);
}
