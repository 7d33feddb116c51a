/** grant_type=client_credentials (RFC 6749 §4.4): the client acts for itself; no refresh token (§4.4.3). */
import type { Application } from '../../directory/types.js';
import type { ZoneContext } from '../context.js';
import { issueClientToken } from '../tokens.js';
import { tokenResponse, type TokenResponse } from './issue.js';
import { narrowScopes } from './scope.js';

export async function clientCredentialsGrant(ctx: ZoneContext, application: Application, form: URLSearchParams): Promise<TokenResponse> {
  // The directory decides, with the other applications' grants in view (XSUAA's authority rules).
  const scopes = narrowScopes(await ctx.services.directory.clientAuthorities(application), form);
  return tokenResponse(ctx, await issueClientToken(ctx, application, scopes));
}
