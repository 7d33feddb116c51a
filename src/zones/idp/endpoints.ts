/**
 * The zone endpoints of identity brokering (issue 13), in one place for ../server.ts:
 *   GET  /login/callback/<origin>          OpenID: the IdP's answer (./login.ts); SAML: `?saml=<handle>` (./saml.ts)
 *   POST /login/callback/<origin>          SAML assertion consumer service (HTTP-POST binding)
 *   GET  /saml/metadata/<origin>           the zone's SP metadata for a SAML IdP
 *   GET  /logout/callback/<origin>         OpenID: the IdP's return after RP-initiated logout (./logout.ts)
 *   POST /logout/callback/<origin>         SAML single logout service: the IdP's LogoutResponse (HTTP-POST binding)
 * and `startIdpLogin` / `startIdpLogout`, which /oauth/authorize and /logout.do reach through ZoneServices.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ZoneContext } from '../oauth/context.js';
import type { IdpServices } from './services.js';
import { CALLBACK_PREFIX, handleIdpCallback, startExternalLogin } from './login.js';
import { handlePostLogout, handleSamlLogoutResponse, LOGOUT_CALLBACK_PREFIX } from './logout.js';
import { finishSamlLogin, handleSamlResponse, handleSpMetadata, SAML_METADATA_PREFIX, startSamlLogin } from './saml.js';

export const startIdpLogin: IdpServices['startLogin'] = (ctx, res, idp, request) =>
  idp.type === 'saml' ? startSamlLogin(ctx, res, idp, request) : startExternalLogin(ctx, res, idp, request);

export { startIdpLogout } from './logout.js';

function originAfter(pathname: string, prefix: string): string | undefined {
  if (!pathname.startsWith(prefix)) return undefined;
  try {
    const origin = decodeURIComponent(pathname.slice(prefix.length));
    return origin === '' || origin.includes('/') ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** True when the request was one of these endpoints' (and answered). */
export async function handleIdpEndpoint(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const method = req.method ?? 'GET';
  const callbackOrigin = originAfter(url.pathname, CALLBACK_PREFIX);
  if (callbackOrigin !== undefined) {
    if (method === 'POST') await handleSamlResponse(ctx, req, res, callbackOrigin);
    else if (method !== 'GET') return false;
    else if (url.searchParams.has('saml')) await finishSamlLogin(ctx, req, res, url, callbackOrigin);
    else await handleIdpCallback(ctx, req, res, url, callbackOrigin);
    return true;
  }
  const logoutOrigin = originAfter(url.pathname, LOGOUT_CALLBACK_PREFIX);
  if (logoutOrigin !== undefined) {
    if (method === 'POST') await handleSamlLogoutResponse(ctx, req, res, logoutOrigin);
    else if (method === 'GET') await handlePostLogout(ctx, req, res, url, logoutOrigin);
    else return false;
    return true;
  }
  const metadataOrigin = originAfter(url.pathname, SAML_METADATA_PREFIX);
  if (metadataOrigin !== undefined && method === 'GET') return handleSpMetadata(ctx, res, metadataOrigin);
  return false;
}
