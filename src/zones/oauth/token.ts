/** POST /oauth/token (RFC 6749 §3.2): client authentication, then the grant's own checks. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticateClient } from './client-auth.js';
import type { ZoneContext } from './context.js';
import { InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from './errors.js';
import { grantAllowed, JWT_BEARER } from './grants/allowed.js';
import { authorizationCodeGrant } from './grants/authorization-code.js';
import { clientCredentialsGrant } from './grants/client-credentials.js';
import type { TokenResponse } from './grants/issue.js';
import { jwtBearerGrant } from './grants/jwt-bearer.js';
import { passwordGrant } from './grants/password.js';
import { refreshTokenGrant } from './grants/refresh-token.js';
import { readForm, sendJson, single } from './http.js';
import type { GrantType } from './tokens.js';

const GRANTS: readonly string[] = ['authorization_code', 'refresh_token', 'client_credentials', 'password', JWT_BEARER];

export async function handleToken(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') throw new InvalidRequest('The token endpoint accepts POST only');
  const form = await readForm(req);
  const grantType = single(form, 'grant_type');
  if (!grantType) throw new InvalidRequest('grant_type is required');
  const application = await authenticateClient(ctx, req, form);
  if (!GRANTS.includes(grantType)) throw new UnsupportedGrantType(`Unsupported grant type: ${grantType}`);
  const grant = grantType as GrantType;
  if (!grantAllowed(application, grant)) throw new UnauthorizedClient(`The client may not use the ${grant} grant`);

  let answer: TokenResponse;
  switch (grant) {
    case 'authorization_code':
      answer = await authorizationCodeGrant(ctx, application, form);
      break;
    case 'refresh_token':
      answer = await refreshTokenGrant(ctx, application, form);
      break;
    case 'client_credentials':
      answer = await clientCredentialsGrant(ctx, application, form);
      break;
    case 'password':
      answer = await passwordGrant(ctx, application, form);
      break;
    case JWT_BEARER:
      answer = await jwtBearerGrant(ctx, application, form);
      break;
  }
  ctx.services.metrics?.tokenIssued(grant);
  sendJson(res, 200, answer);
}
