/**
 * A further client as written on the wire (the admin API's body, an entry of clients.json), checked
 * and converted once to ClientInput. Wire names are UAA's `/oauth/clients` where UAA has the field
 * (`client_id`, `name`, `authorized_grant_types`, `redirect_uri`, `scope`, `authorities`), Uitsmijter's
 * where it has not (`referrers`, `pkceOnly`), and zonegate's own for the rest (`public`, `zones`,
 * `redirect_uri_regex`). Every problem is reported at once, each with its JSON path, as for the
 * configuration files.
 */
import { analyseRegexes, checkRegexSafety, describeUnsafe, type RegexToCheck } from '../../config/regex-safety.js';
import { OWN_PREFIX, UAA_RESOURCE } from '../../config/xs-references.js';
import { ADMIN_CLIENT_ID } from '../directory/admin-client.js';
import { isSubdomain, isZoneId } from '../directory/validation.js';
import { compileRedirectPattern, redirectPatternBacktracks, redirectRegexProblem } from '../oauth/redirect-uri.js';
import type { ClientInput } from './types.js';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Issue 14: a client that lists no grants gets these (Uitsmijter's default too); `password` only when listed. */
export const DEFAULT_CLIENT_GRANTS = ['authorization_code', 'refresh_token'] as const;
const CLIENT_GRANTS = ['authorization_code', 'refresh_token', 'client_credentials', 'password', JWT_BEARER_GRANT, 'jwt-bearer'];
/** A public client cannot authenticate, so it may only take part in grants a user started with PKCE. */
const PUBLIC_GRANTS = ['authorization_code', 'refresh_token'];
const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$/;
const MAX_LIST = 100;

export const CLIENT_FIELDS = [
  'client_id',
  'name',
  'xsappname',
  'public',
  'pkceOnly',
  'zones',
  'redirect_uri',
  'redirect_uri_regex',
  'authorized_grant_types',
  'scope',
  'authorities',
  'referrers',
] as const;

export interface ClientProblem {
  path: string;
  message: string;
}

/** What a client may name of its application: the scopes and authorities its xs-security.json declares. */
export interface ClientContext {
  xsappname: string;
  /** The application's scope names as xs-security.json writes them (`$XSAPPNAME.Read`, `uaa.user`). */
  scopes: readonly string[];
  /** Its own authorities as written (`$XSAPPNAME.Callback`, `uaa.resource`). */
  authorities: readonly string[];
  /** `myapp!t7` once registered: then the expanded spelling `myapp!t7.Read` is accepted too. */
  instanceName?: string;
}

type Raw = Record<string, unknown>;

/**
 * Reads one client. `requireId`: clients.json must name each (a start compares by id); the admin API
 * makes a UUID when none is given, as Uitsmijter does. `base` is the JSON path of the entry.
 */
export function readClient(raw: unknown, context: ClientContext, options: { base?: string; requireId?: boolean; newId?: () => string } = {}): { input?: ClientInput; problems: ClientProblem[] } {
  const base = options.base ?? '';
  const problems: ClientProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ path: `${base}${path}`, message });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problem('', 'expected an object');
    return { problems };
  }
  const b = raw as Raw;
  for (const key of Object.keys(b)) {
    if (key === 'client_secret') problem('/client_secret', 'is never given: a confidential client\'s secret is generated (the admin API\'s answer to its creation, or `zonegate clients rotate-secret`)');
    else if (key === 'xsappname' && options.requireId) problem('/xsappname', 'is not set here: the clients of clients.json belong to the application of the xs-security.json beside it');
    else if (!(CLIENT_FIELDS as readonly string[]).includes(key)) problem(`/${key}`, `unknown property "${key}" (expected one of: ${CLIENT_FIELDS.join(', ')})`);
  }

  let clientId = b.client_id;
  if (clientId === undefined) {
    if (options.requireId || !options.newId) problem('/client_id', 'is required');
    else clientId = options.newId();
  }
  if (typeof clientId === 'string') {
    if (!CLIENT_ID.test(clientId)) problem('/client_id', `expected 1 to 100 of letters, digits, ".", "_", "~" and "-", starting with a letter or digit, got ${JSON.stringify(clientId)}`);
    else if (clientId.startsWith('sb-')) problem('/client_id', `"${clientId}" starts with "sb-", which names the applications' own clients`);
    else if (clientId === ADMIN_CLIENT_ID) problem('/client_id', `"${clientId}" is the built-in administration client`);
  } else if (clientId !== undefined) problem('/client_id', 'expected a string');

  const name = b.name === undefined ? clientId : b.name;
  if (b.name !== undefined && (typeof b.name !== 'string' || b.name.trim() === '' || b.name.length > 255)) problem('/name', 'expected a non-empty string of at most 255 characters');

  const isPublic = flag(b, 'public', problem);
  const pkceOnly = flag(b, 'pkceOnly', problem);

  let zones: ClientInput['zones'] = 'subscribed';
  if (typeof b.zones === 'string' && b.zones !== 'subscribed') {
    problem('/zones', `expected "subscribed" or a list of zones (subdomains or ids), got ${JSON.stringify(b.zones)}`);
  } else if (b.zones !== undefined && b.zones !== 'subscribed') {
    const list = strings(b, 'zones', problem, { nonEmpty: true });
    list?.forEach((z, i) => {
      if (!isSubdomain(z.toLowerCase()) && !isZoneId(z)) problem(`/zones/${i}`, `expected a zone's subdomain or id, got ${JSON.stringify(z)}`);
    });
    if (list) zones = [...new Set(list.map((z) => z.toLowerCase()))];
  }

  const redirectUris = strings(b, 'redirect_uri', problem) ?? [];
  redirectUris.forEach((uri, i) => {
    try {
      compileRedirectPattern(uri);
      const backtracks = redirectPatternBacktracks(uri);
      if (backtracks !== undefined) problem(`/redirect_uri/${i}`, backtracks);
    } catch (err) {
      problem(`/redirect_uri/${i}`, `${err instanceof Error ? err.message : String(err)}; expected e.g. https://portal.example.com/callback or https://*.example.com/**`);
    }
  });
  const redirectUriRegex = strings(b, 'redirect_uri_regex', problem) ?? [];
  const safeToAnalyse: { source: string; i: number }[] = [];
  redirectUriRegex.forEach((source, i) => {
    const defect = redirectRegexProblem(source);
    if (defect !== undefined) problem(`/redirect_uri_regex/${i}`, defect);
    else safeToAnalyse.push({ source: `^(?:${source})$`, i });
  });
  // One analyser process for all of them (src/config/regex-safety.ts).
  analyseRegexes(safeToAnalyse.map((r) => ({ source: r.source })));
  for (const { source, i } of safeToAnalyse) {
    const safety = checkRegexSafety(source);
    if (safety.verdict === 'unsafe') problem(`/redirect_uri_regex/${i}`, describeUnsafe(redirectUriRegex[i]!, safety, 'redirect_uri'));
  }

  const listedGrants = strings(b, 'authorized_grant_types', problem);
  const grantTypes = [...new Set((listedGrants ?? [...DEFAULT_CLIENT_GRANTS]).map((g) => (g === 'jwt-bearer' ? JWT_BEARER_GRANT : g)))];
  listedGrants?.forEach((g, i) => {
    if (!CLIENT_GRANTS.includes(g)) problem(`/authorized_grant_types/${i}`, `unknown grant type "${g}"; expected one of: ${CLIENT_GRANTS.slice(0, 5).join(', ')}`);
    else if (isPublic && !PUBLIC_GRANTS.includes(g)) {
      problem(`/authorized_grant_types/${i}`, `a public client has no secret to prove itself with: expected only ${PUBLIC_GRANTS.join(' and ')} (with PKCE)`);
    }
  });
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0 && redirectUriRegex.length === 0) {
    problem('/redirect_uri', 'the authorization_code grant needs at least one redirect pattern (redirect_uri or redirect_uri_regex)');
  }

  const expandedPrefix = context.instanceName ? `${context.instanceName}.` : undefined;
  const asWritten = (s: string) => (expandedPrefix && s.startsWith(expandedPrefix) ? `${OWN_PREFIX}${s.slice(expandedPrefix.length)}` : s);
  const listedScopes = strings(b, 'scope', problem);
  const scopes = listedScopes?.map(asWritten);
  scopes?.forEach((s, i) => {
    if (s !== 'openid' && !context.scopes.includes(s)) {
      problem(`/scope/${i}`, `"${listedScopes![i]}" is not a scope of ${context.xsappname}; expected one of: ${['openid', ...context.scopes].join(', ')}`);
    }
  });
  const listedAuthorities = strings(b, 'authorities', problem) ?? [];
  const authorities = listedAuthorities.map(asWritten);
  authorities.forEach((a, i) => {
    if (isPublic) problem(`/authorities/${i}`, 'a public client cannot use the client-credentials grant, so it has no authorities');
    else if (a !== UAA_RESOURCE && !context.authorities.includes(a)) {
      problem(`/authorities/${i}`, `"${listedAuthorities[i]}" is not an authority of ${context.xsappname}; expected one of: ${[...context.authorities].join(', ') || 'none declared'}`);
    }
  });

  const referrers = strings(b, 'referrers', problem) ?? [];
  referrers.forEach((r, i) => {
    try {
      compileRedirectPattern(r);
      const backtracks = redirectPatternBacktracks(r);
      if (backtracks !== undefined) problem(`/referrers/${i}`, backtracks);
    } catch (err) {
      problem(`/referrers/${i}`, `${err instanceof Error ? err.message : String(err)}; expected a URL pattern such as https://portal.example.com/**`);
    }
  });

  if (problems.length > 0) return { problems };
  return {
    problems,
    input: {
      clientId: clientId as string,
      name: (name as string).trim(),
      xsappname: context.xsappname,
      public: isPublic,
      pkceOnly,
      zones,
      redirectUris,
      redirectUriRegex,
      grantTypes,
      ...(scopes !== undefined ? { scopes: [...new Set(scopes)] } : {}),
      authorities: [...new Set(authorities)],
      referrers,
    },
  };
}

function flag(b: Raw, key: string, problem: (path: string, message: string) => void): boolean {
  const v = b[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') {
    problem(`/${key}`, `expected true or false, got ${JSON.stringify(v)}`);
    return false;
  }
  return v;
}

function strings(b: Raw, key: string, problem: (path: string, message: string) => void, options: { nonEmpty?: boolean } = {}): string[] | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    problem(`/${key}`, 'expected an array of strings');
    return undefined;
  }
  if (options.nonEmpty && v.length === 0) problem(`/${key}`, 'expected at least one entry');
  if (v.length > MAX_LIST) problem(`/${key}`, `has ${v.length} entries; expected at most ${MAX_LIST}`);
  const out: string[] = [];
  v.forEach((item, i) => {
    if (typeof item !== 'string' || item === '' || item.length > 2048) problem(`/${key}/${i}`, 'expected a non-empty string of at most 2048 characters');
    else out.push(item);
  });
  return out;
}

/** What a registered application lets its clients name (its scopes and authorities, as xs-security.json writes them). */
export function clientContextOf(application: { xsappname: string; instanceName: string; scopes: readonly string[]; authorities: readonly string[] }): ClientContext {
  const prefix = `${application.instanceName}.`;
  const asWritten = (s: string) => (s.startsWith(prefix) ? `${OWN_PREFIX}${s.slice(prefix.length)}` : s);
  return {
    xsappname: application.xsappname,
    instanceName: application.instanceName,
    scopes: application.scopes.map(asWritten),
    authorities: application.authorities.map(asWritten),
  };
}

/**
 * The expressions readClient will ask the analyser about, for a caller that analyses them first
 * without blocking (regex-safety.ts, analyseRegexesInBackground): then readClient answers from memory.
 */
export function clientRegexes(raw: unknown): RegexToCheck[] {
  const list = typeof raw === 'object' && raw !== null ? (raw as Raw).redirect_uri_regex : undefined;
  if (!Array.isArray(list)) return [];
  return list.filter((r): r is string => typeof r === 'string' && r !== '' && r.length <= 2048 && redirectRegexProblem(r) === undefined).map((r) => ({ source: `^(?:${r})$` }));
}
