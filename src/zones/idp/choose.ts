/**
 * Which way /oauth/authorize signs a user in (issue 13): straight to the zone's external IdP when
 * the request names one (`idp=<origin>`, or XSUAA's `login_hint={"origin":"<origin>"}` as SAP's
 * router sends a route's `identityProvider`), or when the zone has exactly one active IdP and no
 * user of its own who can sign in with a password; otherwise the zone's login page, which lists the
 * active IdPs as links. A tenant's user backend is "chosen" the same ways, but its login is the
 * zone's own form, whose password the backend then checks (`passwordOrigin`, ../oauth/login.ts).
 */
import type { ZoneContext } from '../oauth/context.js';
import { InvalidRequest } from '../oauth/errors.js';
import { RESERVED_ORIGINS } from './config.js';
import type { IdentityProvider, RedirectingIdentityProvider } from './types.js';

export type IdpChoice =
  | { kind: 'external'; idp: RedirectingIdentityProvider }
  /**
   * The login page; `providers` its links to the active IdPs; `userNameHint` a plain login_hint for
   * the form; `passwordOrigin`/`accountName` the user backend that checks the form's password.
   */
  | { kind: 'page'; providers: { name: string; href: string }[]; userNameHint?: string; passwordOrigin?: string; accountName?: string };

/** The origin a `login_hint` names in XSUAA's JSON form, or undefined for a plain hint (a user name). */
export function hintedOrigin(loginHint: string | null): string | undefined {
  if (loginHint === null || !loginHint.trimStart().startsWith('{')) return undefined;
  try {
    const origin = (JSON.parse(loginHint) as { origin?: unknown }).origin;
    return typeof origin === 'string' ? origin : undefined;
  } catch {
    return undefined;
  }
}

export async function chooseIdentityProvider(ctx: ZoneContext, url: URL): Promise<IdpChoice> {
  const q = url.searchParams;
  const loginHint = q.get('login_hint');
  const origin = q.get('idp') ?? hintedOrigin(loginHint);
  const plainHint = loginHint !== null && hintedOrigin(loginHint) === undefined && !loginHint.trimStart().startsWith('{') ? loginHint : undefined;
  const page = (providers: IdentityProvider[]): IdpChoice => ({
    kind: 'page',
    providers: providers.map((p) => ({ name: p.name, href: linkTo(url, p.originKey) })),
    ...(plainHint !== undefined ? { userNameHint: plainHint } : {}),
  });
  const store = ctx.services.identityProviders?.store;
  if (!store) return page([]);
  const active = (await store.list(ctx.zone.id)).filter((p) => p.active);
  if (origin !== undefined) {
    // The zone's own users: the form, without the other providers.
    if (RESERVED_ORIGINS.includes(origin.toLowerCase())) return page([]);
    const idp = active.find((p) => p.originKey === origin);
    if (!idp) throw new InvalidRequest(`The identity provider "${origin.slice(0, 64)}" is not active in this zone`);
    return chosen(idp);
  }
  if (active.length === 1 && !(await store.hasLocalPasswordUsers(ctx.zone.id))) return chosen(active[0]!);
  return page(active);

  function chosen(idp: IdentityProvider): IdpChoice {
    if (idp.type !== 'userbackend') return { kind: 'external', idp };
    return { ...(page([]) as Extract<IdpChoice, { kind: 'page' }>), passwordOrigin: idp.originKey, accountName: idp.name };
  }
}

/** The same authorization request, naming the IdP: what a provider's link on the login page opens. */
function linkTo(url: URL, originKey: string): string {
  const params = new URLSearchParams(url.search);
  params.delete('login_hint');
  params.set('idp', originKey);
  return `${url.pathname}?${params.toString()}`;
}
