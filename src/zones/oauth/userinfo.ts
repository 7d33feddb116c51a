/** GET|POST /userinfo (OIDC Core §5.3) in UAA's shape; needs a user token with `openid`. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticateBearer } from './bearer.js';
import type { ZoneContext } from './context.js';
import { InsufficientScope, InvalidToken } from './errors.js';
import { sendJson } from './http.js';

export async function handleUserinfo(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const claims = await authenticateBearer(ctx, req);
  if (!claims.user_id) throw new InvalidToken('The token is not a user token');
  if (!claims.scope.includes('openid')) {
    throw new InsufficientScope('The token lacks the openid scope', { headers: { 'www-authenticate': 'Bearer error="insufficient_scope", scope="openid"' } });
  }
  const user = await ctx.services.directory.getUser(ctx.zone.id, claims.user_id);
  if (!user) throw new InvalidToken('The user no longer exists');
  const application = await ctx.services.directory.getApplicationByClientId(claims.cid);
  if (!application) throw new InvalidToken('The client no longer exists');
  const name = [user.givenName, user.familyName].filter(Boolean).join(' ') || user.userName;
  sendJson(res, 200, {
    user_id: user.id,
    user_name: user.userName,
    given_name: user.givenName ?? '',
    family_name: user.familyName ?? '',
    email: user.email,
    // Users here are created by administrators, who vouch for the address (UAA's `verified` flag).
    email_verified: true,
    sub: user.id,
    name,
    zid: ctx.zone.id,
    origin: user.origin,
    // UAA's UserInfoResponse field (a map of attribute name to values); SAP's application router reads
    // the user's attributes from it. Computed as for the token's `xs.user.attributes`, for the
    // token's client and from the directory's current state, like every other field here.
    user_attributes: await ctx.services.directory.userAttributes(application, user),
  });
}
