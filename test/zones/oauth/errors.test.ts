import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import * as errors from '../../../src/zones/oauth/errors.js';
import { PASSWORD, startZones } from './harness.js';

describe('OAuth error classes', () => {
  const cases: [errors.OAuthError, string, number][] = [
    [new errors.InvalidRequest('x'), 'invalid_request', 400],
    [new errors.InvalidClient('x'), 'invalid_client', 401],
    [new errors.InvalidGrant('x'), 'invalid_grant', 400],
    [new errors.UnauthorizedClient('x'), 'unauthorized_client', 400],
    [new errors.UnsupportedGrantType('x'), 'unsupported_grant_type', 400],
    [new errors.InvalidScope('x'), 'invalid_scope', 400],
    [new errors.AccessDenied('x'), 'access_denied', 403],
    [new errors.UnsupportedResponseType('x'), 'unsupported_response_type', 400],
    [new errors.LoginRequired('x'), 'login_required', 400],
    [new errors.ServerError('x'), 'server_error', 500],
    [new errors.TemporarilyUnavailable('x'), 'temporarily_unavailable', 503],
    [new errors.InvalidToken('x'), 'invalid_token', 401],
    [new errors.InsufficientScope('x'), 'insufficient_scope', 403],
  ];
  for (const [err, code, status] of cases) {
    it(`${code} answers ${status}`, () => {
      expect(err.error).toBe(code);
      expect(err.status).toBe(status);
      expect(err.name).toBe(err.constructor.name);
    });
  }

  it('never exposes the message of a server error', () => {
    expect(new errors.ServerError('SQLITE_CORRUPT at /var/lib/x').toJSON()).toEqual({ error: 'server_error', error_description: 'An internal error occurred' });
    expect(errors.toOAuthError(new Error('secret detail')).toJSON().error_description).not.toContain('secret');
  });

  it('maps an unavailable store or records database to temporarily_unavailable, the header naming which', () => {
    for (const outage of ['ZG_ERR_STORAGE_UNAVAILABLE', 'ZG_ERR_DATABASE_UNAVAILABLE'] as const) {
      const err = errors.toOAuthError(new GatewayError(outage, 'down'));
      expect(err).toBeInstanceOf(errors.TemporarilyUnavailable);
      expect(err.status).toBe(503);
      expect(err.code).toBe(outage);
      expect(err.toJSON().error).toBe('temporarily_unavailable');
    }
    // Without an outage behind it (a refresh token in use), the code of the RFC's error.
    expect(new errors.TemporarilyUnavailable('busy').code).toBe('ZG_ERR_OAUTH_TEMPORARILY_UNAVAILABLE');
  });

  it('names the Basic scheme in WWW-Authenticate only when the client used it (RFC 6749 §5.2)', () => {
    expect(new errors.InvalidClient('x', { basic: true }).headers['www-authenticate']).toMatch(/^Basic /);
    expect(new errors.InvalidClient('x').headers['www-authenticate']).toBeUndefined();
  });
});

describe('internal failures over HTTP', () => {
  it('answers a failing store without leaking its message', async () => {
    const h = await startZones();
    try {
      await h.storage.close();
      // The password grant counts the attempt in the store first (login throttling); client
      // credentials would not reach it any more, as the signing keys are in the records database.
      const res = await h.token('provider', { grant_type: 'password', username: 'padmin', password: PASSWORD }, { id: h.pwdApp.clientId, secret: h.pwdSecret });
      expect([500, 503]).toContain(res.status);
      const body = res.json();
      expect(['server_error', 'temporarily_unavailable']).toContain(body.error);
      expect(body.error_description).not.toMatch(/sqlite|database|SQLITE/i);
      // The header carries a documented code (docs/errors.md): the one of the body's RFC 6749 error,
      // or, for an outage, the code of what is down.
      const expected = body.error === 'temporarily_unavailable' ? ['ZG_ERR_STORAGE_UNAVAILABLE', 'ZG_ERR_DATABASE_UNAVAILABLE'] : [errors.OAUTH_ERROR_CODES[body.error as errors.OAuthErrorCode]];
      expect(expected).toContain(res.headers['x-zonegate-error']);
    } finally {
      await h.close().catch(() => undefined);
    }
  });
});
