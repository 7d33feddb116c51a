/** Bearer tokens in the Authorization header (RFC 6750 §2.1); the query and body forms are not accepted. */
import type { IncomingMessage } from 'node:http';
import type { ZoneContext } from './context.js';
import { InvalidToken } from './errors.js';
import { verifyZoneToken, type ZoneTokenClaims } from './tokens.js';

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const m = header ? /^bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header) : null;
  return m?.[1];
}

export async function authenticateBearer(ctx: ZoneContext, req: IncomingMessage): Promise<ZoneTokenClaims> {
  const token = bearerToken(req);
  if (!token) throw new InvalidToken('A bearer token is required', { headers: { 'www-authenticate': 'Bearer realm="zone"' } });
  return verifyZoneToken(ctx, token);
}
