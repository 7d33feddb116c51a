/**
 * Redirect-URI checks for /oauth/authorize and /logout.do.
 *
 * RFC 6749 §3.1.2 and §10.6/§10.15: a redirect URI must be compared exactly against what the client
 * registered, or an attacker who gets the code sent to a host they control owns the account. XSUAA
 * lets `redirect-uris` carry wildcards (REFERENCE.md §4): `*` is exactly one host label (or part of
 * one path segment), `**` any path, `http*` the scheme http or https. Everything else is literal.
 *
 * Before a candidate is compared it must already be in canonical form: WHATWG URL parsing repairs
 * backslashes, dot segments, tabs and case, so a URL whose canonical spelling differs from what was
 * sent is an attempt to make two parsers disagree and is refused outright (OWASP "open redirect",
 * the `https://good.example\@evil.example` and `https://good.example/..;/` families).
 */

import type { Application } from '../directory/types.js';

export interface RedirectPattern {
  readonly source: string;
  matches(candidate: string): boolean;
}

const PATTERN = /^(https?|http\*):\/\/([^/?#]+)(\/[^?#]*)?(\?[^#]*)?$/;
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** Why a candidate is not acceptable at all, independent of any pattern; undefined when it is. */
export function redirectUriDefect(candidate: string): string | undefined {
  if (candidate.length === 0 || candidate.length > 2048) return 'empty or too long';
  // Only printable ASCII: controls, spaces and non-ASCII are silently dropped or re-encoded by parsers.
  if (!/^[\x21-\x7e]+$/.test(candidate)) return 'contains whitespace, control or non-ASCII characters';
  if (candidate.includes('\\')) return 'contains a backslash';
  if (candidate.includes('#')) return 'contains a fragment'; // RFC 6749 §3.1.2
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return 'not an absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'scheme is not http or https';
  if (url.username !== '' || url.password !== '' || authorityOf(candidate).includes('@')) return 'contains userinfo';
  // Encoded dots, slashes, backslashes, percent signs and NULs are how "/..%2f" style tricks pass one parser.
  if (/%(2e|2f|5c|25|00|40)/i.test(candidate)) return 'contains an encoded separator';
  const canonical = url.href;
  const acceptable = canonical === candidate || (url.pathname === '/' && canonical === `${candidate}/` && !url.search);
  if (!acceptable) return 'not in canonical form';
  return undefined;
}

function authorityOf(uri: string): string {
  const rest = uri.slice(uri.indexOf('://') + 3);
  const end = rest.search(/[/?#]/);
  return end === -1 ? rest : rest.slice(0, end);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles one registered pattern; throws on a pattern that cannot be a redirect URI. */
export function compileRedirectPattern(source: string): RedirectPattern {
  const m = PATTERN.exec(source);
  if (!m) throw new Error(`redirect URI pattern ${JSON.stringify(source)} is not an http(s) URL pattern`);
  const [, scheme, authority, rawPath, rawQuery] = m as unknown as [string, string, string, string | undefined, string | undefined];
  if (authority.includes('@')) throw new Error(`redirect URI pattern ${JSON.stringify(source)} contains userinfo`);
  const portAt = authority.lastIndexOf(':');
  const hostPart = (portAt === -1 ? authority : authority.slice(0, portAt)).toLowerCase();
  const portPart = portAt === -1 ? undefined : authority.slice(portAt + 1);
  if (portPart !== undefined && portPart !== '*' && !/^\d{1,5}$/.test(portPart)) {
    throw new Error(`redirect URI pattern ${JSON.stringify(source)} has an invalid port`);
  }
  const hostLabels = hostPart.split('.');
  for (const label of hostLabels) {
    if (label !== '*' && !HOST_LABEL.test(label)) {
      throw new Error(`redirect URI pattern ${JSON.stringify(source)} has an invalid host label ${JSON.stringify(label)}`);
    }
  }
  const path = rawPath ?? '/';
  const backtracks = pathBacktracks(path);
  if (backtracks !== undefined) throw new Error(`redirect URI pattern ${JSON.stringify(source)}: ${backtracks}`);
  const pathRegex = new RegExp(pathRegexSource(path));
  const anyQuery = path.endsWith('**');
  const schemes = scheme === 'http*' ? ['http:', 'https:'] : [`${scheme}:`];

  return {
    source,
    matches(candidate: string): boolean {
      if (redirectUriDefect(candidate) !== undefined) return false;
      const url = new URL(candidate);
      if (!schemes.includes(url.protocol)) return false;
      const labels = url.hostname.split('.');
      if (labels.length !== hostLabels.length) return false;
      for (let i = 0; i < labels.length; i++) {
        const want = hostLabels[i]!;
        if (want === '*' ? !HOST_LABEL.test(labels[i]!) : want !== labels[i]) return false;
      }
      if (portPart === undefined ? url.port !== '' : portPart !== '*' && Number(portPart) !== Number(url.port || defaultPort(url.protocol))) {
        return false;
      }
      if (!pathRegex.test(url.pathname)) return false;
      if (rawQuery !== undefined) return url.search === rawQuery;
      return anyQuery || url.search === '';
    },
  };
}

/** The path part of a pattern as a regex: `**` any characters, `*` any within one segment. */
function pathRegexSource(path: string): string {
  return `^${path
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : escapeRegExp(part)))
    .join('')}$`;
}

/**
 * The degree of the polynomial a failing match of the path regex can take in the candidate's length.
 * The path regex knows only literals, `.*` (`**`) and `[^/]*` (`*`): `.*` can take any part of the
 * candidate, `[^/]*` only within a segment, so wildcards multiply where they can share characters:
 * every `**`, plus the most `*` of any one segment. Three or more (`/**` three times) take minutes on
 * a 2 KB redirect_uri; a bound this simple is checked on every authorize request without an analyser.
 */
function wildcardDegree(path: string): number {
  const anywhere = path.split('**').length - 1;
  const inSegment = Math.max(0, ...path.replaceAll('**', '/').split('/').map((segment) => segment.split('*').length - 1));
  return anywhere + inSegment;
}

const MAX_WILDCARD_DEGREE = 2;

function pathBacktracks(path: string): string | undefined {
  const degree = wildcardDegree(path);
  if (degree <= MAX_WILDCARD_DEGREE) return undefined;
  return (
    `its wildcards may backtrack catastrophically (polynomial time of degree ${degree} in the length of a hostile redirect_uri); ` +
    `expected at most ${MAX_WILDCARD_DEGREE} wildcards that can match the same characters (each "**", plus the "*" of any one path segment)`
  );
}

/**
 * Why a registered pattern's wildcards could stall /oauth/authorize on a hostile redirect_uri
 * (several `**` wildcards in one path), or undefined. xs-security.json is checked with this at load.
 */
export function redirectPatternBacktracks(source: string): string | undefined {
  const m = PATTERN.exec(source);
  return m ? pathBacktracks(m[3] ?? '/') : undefined;
}

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/** Compiles a client's list once; invalid entries are skipped (the directory validated them on registration). */
export function compileRedirectPatterns(sources: readonly string[]): RedirectPattern[] {
  const compiled: RedirectPattern[] = [];
  for (const source of sources) {
    try {
      compiled.push(compileRedirectPattern(source));
    } catch {
      // An unusable pattern can only fail to match; it must never widen what is allowed.
    }
  }
  return compiled;
}

export function isAllowedRedirectUri(patterns: readonly RedirectPattern[], candidate: string): boolean {
  return patterns.some((p) => p.matches(candidate));
}

/**
 * A redirect pattern written as a regular expression (a further client's `redirect_uri_regex`,
 * issue 14, as Uitsmijter's `redirect_urls`): matched against the whole candidate (anchored), and only
 * a candidate that passes redirectUriDefect (canonical, no userinfo, no fragment, http(s), at most
 * 2048 characters) reaches it, so `.` in a host cannot be abused through parser differences and the
 * regex never runs on unbounded input.
 */
export function compileRedirectRegex(source: string): RedirectPattern {
  const regex = new RegExp(`^(?:${source})$`);
  return { source, matches: (candidate) => redirectUriDefect(candidate) === undefined && regex.test(candidate) };
}

/** URLs on hosts nobody can own (RFC 2606 `.invalid`): a pattern matching one allows any host. */
const FOREIGN_HOST_PROBES = ['https://attacker.invalid/', 'http://attacker.invalid/', 'https://attacker.invalid/callback', 'https://attacker.invalid/login/callback'];

/**
 * Why a regular expression cannot be a redirect pattern, undefined when it can: it must compile, start
 * with its scheme written out, and not match a URL on a host nobody owns. Catastrophic backtracking is
 * checked by the caller (src/config/regex-safety.ts needs its analyser process).
 */
export function redirectRegexProblem(source: string): string | undefined {
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${source})$`);
  } catch (err) {
    return `is not a regular expression (${err instanceof Error ? err.message : String(err)})`;
  }
  if (!/^\^?(https|http|https\?|http\(s\)\?):\/\//.test(source)) {
    return 'expected the scheme written out at the start: "https://", "http://" or "https?://"';
  }
  const foreign = FOREIGN_HOST_PROBES.find((probe) => regex.test(probe));
  if (foreign !== undefined) return `matches ${foreign}, a host nobody owns: expected a pattern that names the hosts it allows, e.g. https://portal\\.example\\.com/callback`;
  return undefined;
}

/** The redirect patterns of a client: its wildcard ones, and a further client's regular expressions. */
export function clientRedirectPatterns(application: Pick<Application, 'redirectUris' | 'client'>): RedirectPattern[] {
  const compiled = compileRedirectPatterns(application.redirectUris);
  for (const source of application.client?.redirectUriRegex ?? []) {
    // Validated on creation; an unusable one can only fail to match (as above).
    if (redirectRegexProblem(source) === undefined) compiled.push(compileRedirectRegex(source));
  }
  return compiled;
}
