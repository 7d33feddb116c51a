/**
 * Whether an access token was issued for this application, by the rule of SAP's token library
 * (`@sap/xssec` 4, JwtAudienceValidator; REFERENCE.md §3): the token's audiences are its `aud` if
 * non-empty, else its `scope` array, plus its `cid`; one of them must be the binding's `clientid`
 * or `xsappname`, or start with one of them followed by `.` (a scope of the application).
 *
 * A zone signs tokens for every client it knows: the built-in admin client, every other application
 * registered or subscribed there. Keys, issuer and zone alone say "a token of this tenant's zone",
 * not "a token for this application"; without this check any of them passes as a user here.
 * Foreign scopes stay possible the way xssec allows them: an application granted `myapp!t7.Read`
 * has `myapp!t7` in its token's `aud` (UAA derives `aud` from the scopes).
 */
export function isIssuedFor(
  claims: { aud?: string | string[]; scope?: unknown; cid?: unknown },
  application: { clientid: string; xsappname?: string },
): boolean {
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  const audiences: unknown[] = aud.length > 0 ? [...aud] : Array.isArray(claims.scope) ? [...(claims.scope as unknown[])] : [];
  if (claims.cid !== undefined) audiences.push(claims.cid);
  const accepted = [application.clientid, application.xsappname].filter((v): v is string => typeof v === 'string' && v !== '');
  return audiences.some((entry) => typeof entry === 'string' && accepted.some((value) => entry === value || entry.startsWith(`${value}.`)));
}
