/**
 * POST /introspect (RFC 7662): a resource server asks about a token of this zone. Anything that does
 * not verify here (another zone's, expired, revoked, forged) is simply `{active:false}` (§2.2).
 *
 * §2.1 requires the endpoint to be protected so that it cannot be used to scan for tokens. As in
 * UAA, an authenticated client is not enough: it must hold the `uaa.resource` authority (UAA's
 * resource-server authority; an XSUAA client gets it by listing it in xs-security.json `authorities`,
 * or by default when it lists none). Otherwise any application client could read every claim of
 * every token it sees, user attributes included. UAA answers such a client 403 `access_denied`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UAA_RESOURCE } from '../../config/xs-references.js';
import { authenticateClient } from './client-auth.js';
import type { ZoneContext } from './context.js';
import { AccessDenied, InvalidRequest, OAuthError } from './errors.js';
import { readForm, sendJson, single } from './http.js';
import { verifyZoneToken } from './tokens.js';

export async function handleIntrospect(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') throw new InvalidRequest('The introspection endpoint accepts POST only');
  const form = await readForm(req);
  const client = await authenticateClient(ctx, req, form);
  if (!(await ctx.services.directory.clientAuthorities(client)).includes(UAA_RESOURCE)) {
    throw new AccessDenied(`The client needs the ${UAA_RESOURCE} authority to introspect tokens`);
  }
  const token = single(form, 'token');
  if (!token) throw new InvalidRequest('token is required');
  try {
    // Verified against this zone only: a token of another zone is not active here.
    const claims = await verifyZoneToken(ctx, token);
    sendJson(res, 200, { active: true, ...claims, token_type: 'bearer' });
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    sendJson(res, 200, { active: false });
  }
}
