/**
 * OpenID Provider metadata (OIDC Discovery §3). UAA's issuer is `<zone>/oauth/token`, so the document
 * is served both at the root and under the issuer path, where RFC 8414 §3 clients look for it.
 */
import type { ServerResponse } from 'node:http';
import type { ZoneContext } from './context.js';
import { sendJson } from './http.js';
import { JWT_BEARER } from './grants/allowed.js';

export function handleDiscovery(ctx: ZoneContext, res: ServerResponse): void {
  const base = ctx.baseUrl;
  sendJson(
    res,
    200,
    {
      issuer: ctx.issuer,
      authorization_endpoint: `${base}/oauth/authorize`,
      token_endpoint: `${base}/oauth/token`,
      userinfo_endpoint: `${base}/userinfo`,
      jwks_uri: `${base}/token_keys`,
      end_session_endpoint: `${base}/logout.do`,
      introspection_endpoint: `${base}/introspect`,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials', 'password', JWT_BEARER],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      // `none`: public clients (issue 14) name themselves with client_id and prove the code with PKCE.
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: ['openid'],
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'azp', 'zid', 'user_id', 'user_name', 'email', 'given_name', 'family_name', 'origin'],
      prompt_values_supported: ['none', 'login'],
    },
    { 'cache-control': 'public, max-age=300' },
  );
}
