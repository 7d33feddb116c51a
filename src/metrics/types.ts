/**
 * What the parts of zonegate tell the metrics (issue 17). Each part receives only the observer it
 * needs, as an optional parameter: with metrics off there is none, and a request costs one
 * `undefined` test per hook.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../errors.js';
import type { RequestContext } from '../server/context.js';

/** The gateway's request handling (src/server/gateway.ts). */
export interface RequestMetrics {
  /** Once per request, when its response has closed (answered, failed or abandoned by the client). */
  requestClosed(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void;
  /**
   * A WebSocket upgrade's handshake ended: 101 (the tunnel is open), the status the client was sent
   * instead, or undefined when the client left first. Counted as a request.
   */
  upgradeEnded(req: IncomingMessage, ctx: RequestContext, status: number | undefined): void;
  /** An open WebSocket tunnel closed (it was counted by `upgradeEnded` with 101). */
  tunnelClosed(): void;
  /** A request that a destination failed (unreachable, timed out, all connections busy, an invalid answer). */
  backendFailed(destination: string, code: ErrorCode): void;
  /**
   * Answers `/metrics` on the gateway's own port, behind METRICS_TOKEN; undefined when metrics have
   * a listener of their own (METRICS_PORT), and then `/metrics` is routed like any other path.
   */
  readonly scrape: ((req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>) | undefined;
}

/** The gateway's login, the relying-party side (src/login/login.ts). */
export interface LoginMetrics {
  /** A browser was sent to the zone's login. */
  loginStarted(tenant: string): void;
  /** The callback opened a session. */
  loginSucceeded(tenant: string): void;
  /** The callback was refused (no binding cookie, expired, refused by the zone, a token not accepted). */
  loginFailed(tenant: string): void;
}

export type ZoneLoginOutcome = 'succeeded' | 'failed' | 'locked';

/** The built-in identity zones, the authorization-server side (src/zones/oauth/). */
export interface ZoneMetrics {
  /** A password was checked (or refused unchecked, `locked`): at the login form or by the password grant. */
  passwordLogin(via: 'form' | 'password_grant', outcome: ZoneLoginOutcome): void;
  /** The token endpoint answered with a token. */
  tokenIssued(grantType: string): void;
}

/** Reloads of the configuration (src/server/start.ts: SIGHUP, the file watch, `reload()`). */
export interface ConfigurationMetrics {
  /** A reload was applied, or refused (the running configuration keeps serving). */
  reloaded(applied: boolean): void;
}
