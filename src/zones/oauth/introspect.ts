/**
 * POST /introspect (RFC 7662): an authenticated client of the zone asks about a token. Anything that
 * does not verify here (other zone, expired, revoked, forged) is simply `{active:false}` (§2.2).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticateClient } from './client-auth.js';
import type { ZoneContext } from './context.js';
import { InvalidRequest, OAuthError } from './errors.js';
import { readForm, sendJson, single } from './http.js';
import { verifyZoneToken } from './tokens.js';

export async function handleIntrospect(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') throw new InvalidRequest('The introspection endpoint accepts POST only');
  const form = await readForm(req);
  await authenticateClient(ctx, req, form);
  const token = single(form, 'token');
  if (!token) throw new InvalidRequest('token is required');
  try {
    const claims = await verifyZoneToken(ctx, token);
    sendJson(res, 200, { active: true, ...claims, token_type: 'bearer' });
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    sendJson(res, 200, { active: false });
  }
}
