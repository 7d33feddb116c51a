/**
 * The admin API's identity provider documents (UAA's `/identity-providers` shape) read into an
 * IdentityProvider and written back. Every problem is reported at once, each naming its field
 * (`config.discoveryUrl`, `originKey`, ...), as configuration errors are elsewhere.
 */
import { X509Certificate } from 'node:crypto';
import { DirectoryError } from '../directory/errors.js';
import { DEFAULT_ORIGIN } from '../directory/directory.js';
import { isAllowedIdpUrl } from './config-urls.js';
import { isMetadataXml, parseIdpMetadata, SamlMetadataError } from './saml-metadata.js';
import {
  DEFAULT_ATTRIBUTE_MAPPINGS,
  DEFAULT_SAML_ATTRIBUTE_MAPPINGS,
  SAML_NAME_ID_UNSPECIFIED,
  type AttributeMappings,
  type IdentityProvider,
  type OidcConfig,
  type RoleCollectionMapping,
  type SamlConfig,
  type UserBackendConfig,
  DEFAULT_USER_BACKEND_TIMEOUT_MS,
} from './types.js';

export { isAllowedIdpUrl, isLoopback } from './config-urls.js';

/** Origins a zone's own users (`sap.default`, XSUAA) and UAA's internal users (`uaa`) have: never an external IdP's. */
export const RESERVED_ORIGINS: readonly string[] = [DEFAULT_ORIGIN, 'uaa'];
/** Also what the callback path `/login/callback/<origin>` carries: no `/`, no escapes needed. */
const ORIGIN_KEY = /^[A-Za-z0-9._-]{1,64}$/;
const CLAIM = /^[A-Za-z0-9_.:/-]{1,128}$/;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** What a POST or PUT asks for; `secret` undefined keeps the stored one (PUT) or stores none. */
export type IdentityProviderInput = {
  originKey: string;
  name: string;
  active: boolean;
  secret: string | undefined;
} & ({ type: 'oidc1.0'; config: OidcConfig } | { type: 'saml'; config: SamlConfig } | { type: 'userbackend'; config: UserBackendConfig });

const TYPES = ['oidc1.0', 'saml', 'userbackend'] as const;
const USER_BACKEND_MAPPINGS: AttributeMappings = { ...DEFAULT_ATTRIBUTE_MAPPINGS, user_name: 'user_name' };
/** A shared secret short enough to guess would let anyone sign calls to the backend. */
const MIN_SHARED_SECRET = 32;

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function problemsError(problems: string[]): DirectoryError {
  return new DirectoryError('INVALID_INPUT', problems.length === 1 ? problems[0]! : `The identity provider is invalid:\n  ${problems.join('\n  ')}`);
}

/**
 * Reads a POST (no `previous`) or PUT body. On PUT the origin key and type cannot change (the
 * origin is in every shadow user and token), and an absent `config.relyingPartySecret` keeps the
 * stored secret, as UAA does.
 */
export function readIdentityProvider(body: unknown, previous?: IdentityProvider): IdentityProviderInput {
  const problems: string[] = [];
  const b = record(body);
  if (!b) throw problemsError(['The body must be a JSON object']);

  const originKey = b.originKey ?? previous?.originKey;
  if (typeof originKey !== 'string' || !ORIGIN_KEY.test(originKey)) {
    problems.push('originKey must be 1 to 64 of A-Z, a-z, 0-9, ".", "_" and "-"');
  } else if (RESERVED_ORIGINS.includes(originKey.toLowerCase())) {
    problems.push(`originKey "${originKey}" is reserved for the zone's own users`);
  } else if (previous && originKey !== previous.originKey) {
    problems.push(`originKey cannot change (it is the origin of the provider's users); delete the provider and add a new one`);
  }
  const type = b.type ?? previous?.type;
  if (!TYPES.includes(type as (typeof TYPES)[number])) problems.push(`type must be one of ${TYPES.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(type)}`);
  else if (previous && type !== previous.type) problems.push('type cannot change; delete the provider and add a new one');
  const name = b.name ?? previous?.name ?? originKey;
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || CONTROL.test(name)) problems.push('name must be a non-empty string of at most 255 characters');
  const active = b.active ?? previous?.active ?? true;
  if (typeof active !== 'boolean') problems.push('active must be true or false');

  const c = record(b.config);
  const base = { originKey: originKey as string, name: name as string, active: active as boolean };
  if (type === 'saml') {
    if (!c) problems.push('config must be an object (metaDataLocation, nameID, attributeMappings)');
    const config = c ? readSamlConfig(c, problems) : undefined;
    if (problems.length > 0 || !config) throw problemsError(problems);
    return { ...base, type, config, secret: undefined };
  }
  if (type === 'userbackend') {
    if (!c) problems.push('config must be an object (url, sharedSecret, caCertificate, timeoutMs, attributeMappings)');
    const config = c ? readUserBackendConfig(c, problems) : undefined;
    let secret: string | undefined;
    if (c?.sharedSecret !== undefined) {
      if (typeof c.sharedSecret !== 'string' || c.sharedSecret.length < MIN_SHARED_SECRET || c.sharedSecret.length > 1024 || CONTROL.test(c.sharedSecret)) {
        problems.push(`config.sharedSecret must be a string of at least ${MIN_SHARED_SECRET} characters (e.g. openssl rand -hex 32)`);
      } else {
        secret = c.sharedSecret;
      }
    } else if (!previous?.hasSecret) {
      problems.push('config.sharedSecret is required (the zone signs its calls to the backend with it)');
    }
    if (problems.length > 0 || !config) throw problemsError(problems);
    return { ...base, type, config, secret };
  }
  let config: OidcConfig | undefined;
  let secret: string | undefined;
  if (!c) {
    problems.push('config must be an object (discoveryUrl, relyingPartyId, relyingPartySecret, scopes, attributeMappings)');
  } else {
    config = readOidcConfig(c, problems);
    if (c.relyingPartySecret !== undefined) {
      if (typeof c.relyingPartySecret !== 'string' || c.relyingPartySecret.length === 0 || c.relyingPartySecret.length > 1024) {
        problems.push('config.relyingPartySecret must be a non-empty string');
      } else {
        secret = c.relyingPartySecret;
      }
    } else if (!previous?.hasSecret) {
      problems.push('config.relyingPartySecret is required (the zone is a confidential client of the IdP)');
    }
  }
  if (problems.length > 0 || !config) throw problemsError(problems);
  return { ...base, type: 'oidc1.0', config, secret };
}

function readOidcConfig(c: Record<string, unknown>, problems: string[]): OidcConfig | undefined {
  const before = problems.length;
  const discoveryUrl = c.discoveryUrl ?? c.issuer;
  let url: URL | undefined;
  try {
    url = typeof discoveryUrl === 'string' ? new URL(discoveryUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (!url) problems.push('config.discoveryUrl must be the URL of the IdP\'s discovery document (or its issuer)');
  else if (!isAllowedIdpUrl(url)) problems.push(`config.discoveryUrl must be https (http only on a loopback host), got ${url.href}`);
  else if (url.username || url.password || url.hash) problems.push('config.discoveryUrl must not carry credentials or a fragment');
  const relyingPartyId = c.relyingPartyId;
  if (typeof relyingPartyId !== 'string' || relyingPartyId.length === 0 || relyingPartyId.length > 255 || CONTROL.test(relyingPartyId)) {
    problems.push('config.relyingPartyId must be the zone\'s client id at the IdP');
  }
  const scopes = c.scopes ?? ['openid', 'profile', 'email'];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && SCOPE.test(s))) {
    problems.push('config.scopes must be an array of scope names');
  }
  const pkce = c.pkce ?? true;
  if (typeof pkce !== 'boolean') problems.push('config.pkce must be true or false');
  const clientAuthInBody = c.clientAuthInBody ?? false;
  if (typeof clientAuthInBody !== 'boolean') problems.push('config.clientAuthInBody must be true or false');
  const attributeMappings = readAttributeMappings(c.attributeMappings, problems, DEFAULT_ATTRIBUTE_MAPPINGS);
  const useRelay = c.useRelay ?? false;
  if (typeof useRelay !== 'boolean') problems.push('config.useRelay must be true or false');
  const logout = c.logout ?? true;
  if (typeof logout !== 'boolean') problems.push('config.logout must be true or false');
  if (problems.length > before) return undefined;
  return {
    discoveryUrl: url!.href,
    relyingPartyId: relyingPartyId as string,
    scopes: [...new Set(['openid', ...(scopes as string[])])],
    pkce: pkce as boolean,
    clientAuthInBody: clientAuthInBody as boolean,
    attributeMappings,
    ...(useRelay ? { useRelay: true } : {}),
    ...(logout === false ? { logout: false } : {}),
  };
}

function readUserBackendConfig(c: Record<string, unknown>, problems: string[]): UserBackendConfig | undefined {
  const before = problems.length;
  const known = ['url', 'sharedSecret', 'caCertificate', 'timeoutMs', 'attributeMappings'];
  for (const key of Object.keys(c)) if (!known.includes(key)) problems.push(`config.${key} is not known for a user backend (use ${known.join(', ')})`);
  let url: URL | undefined;
  try {
    url = typeof c.url === 'string' ? new URL(c.url) : undefined;
  } catch {
    url = undefined;
  }
  if (!url) problems.push('config.url must be the URL of the backend\'s check endpoint');
  else if (!isAllowedIdpUrl(url)) problems.push(`config.url must be https (http only on a loopback host), got ${url.href}`);
  else if (url.username || url.password || url.hash) problems.push('config.url must not carry credentials or a fragment');
  const ca = c.caCertificate;
  if (ca !== undefined) {
    if (typeof ca !== 'string' || !/-----BEGIN CERTIFICATE-----/.test(ca)) {
      problems.push('config.caCertificate must be PEM (-----BEGIN CERTIFICATE-----)');
    } else {
      try {
        for (const pem of ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) new X509Certificate(pem);
      } catch {
        problems.push('config.caCertificate holds a certificate that cannot be read');
      }
    }
  }
  const timeoutMs = c.timeoutMs ?? DEFAULT_USER_BACKEND_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 30_000) problems.push('config.timeoutMs must be an integer from 100 to 30000');
  const attributeMappings = readAttributeMappings(c.attributeMappings, problems, USER_BACKEND_MAPPINGS);
  if (problems.length > before) return undefined;
  return { url: url!.href, ...(typeof ca === 'string' ? { caCertificate: ca } : {}), timeoutMs: timeoutMs as number, attributeMappings };
}

/** UAA's SAML config; XML metadata is read now (a URL is fetched by the admin API before the provider is stored). */
function readSamlConfig(c: Record<string, unknown>, problems: string[]): SamlConfig | undefined {
  const before = problems.length;
  const known = ['metaDataLocation', 'nameID', 'attributeMappings'];
  for (const key of Object.keys(c)) if (!known.includes(key)) problems.push(`config.${key} is not known for a SAML provider (use ${known.join(', ')})`);
  const location = c.metaDataLocation;
  let metaDataLocation = '';
  if (typeof location !== 'string' || location.trim() === '') {
    problems.push('config.metaDataLocation must be the IdP\'s metadata: its URL or the EntityDescriptor XML');
  } else if (isMetadataXml(location)) {
    try {
      parseIdpMetadata(location);
      metaDataLocation = location;
    } catch (err) {
      if (!(err instanceof SamlMetadataError)) throw err;
      problems.push(err.message);
    }
  } else {
    let url: URL | undefined;
    try {
      url = new URL(location);
    } catch {
      url = undefined;
    }
    if (!url) problems.push('config.metaDataLocation must be an https URL or the EntityDescriptor XML');
    else if (!isAllowedIdpUrl(url)) problems.push(`config.metaDataLocation must be https (http only on a loopback host), got ${url.href}`);
    else if (url.username || url.password || url.hash) problems.push('config.metaDataLocation must not carry credentials or a fragment');
    else metaDataLocation = url.href;
  }
  const nameID = c.nameID ?? SAML_NAME_ID_UNSPECIFIED;
  if (typeof nameID !== 'string' || !/^urn:[\x21-\x7e]{1,250}$/.test(nameID)) problems.push('config.nameID must be a NameID format URN, e.g. urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
  const attributeMappings = readAttributeMappings(c.attributeMappings, problems, DEFAULT_SAML_ATTRIBUTE_MAPPINGS);
  if (problems.length > before) return undefined;
  return { metaDataLocation, nameID: nameID as string, attributeMappings };
}

function readAttributeMappings(value: unknown, problems: string[], defaults: AttributeMappings): AttributeMappings {
  if (value === undefined) return structuredClone(defaults);
  const m = record(value);
  if (!m) {
    problems.push('config.attributeMappings must be an object');
    return structuredClone(defaults);
  }
  const known = ['user_name', 'email', 'given_name', 'family_name', 'external_groups'];
  for (const key of Object.keys(m)) if (!known.includes(key)) problems.push(`config.attributeMappings.${key} is not known (use ${known.join(', ')})`);
  const claim = (key: 'user_name' | 'email' | 'given_name' | 'family_name'): string => {
    const v = m[key] ?? defaults[key];
    if (typeof v !== 'string' || !CLAIM.test(v)) problems.push(`config.attributeMappings.${key} must be a claim name (SAML: an attribute name)`);
    return String(v);
  };
  // UAA writes external_groups as a list of claims; one claim as a string is read the same.
  const groupsValue = m.external_groups ?? defaults.external_groups;
  const groups = typeof groupsValue === 'string' ? [groupsValue] : groupsValue;
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string' && CLAIM.test(g))) {
    problems.push('config.attributeMappings.external_groups must be a claim name or a list of them');
  }
  return {
    user_name: claim('user_name'),
    email: claim('email'),
    given_name: claim('given_name'),
    family_name: claim('family_name'),
    external_groups: Array.isArray(groups) ? (groups as string[]) : [],
  };
}

/** UAA's representation; the client secret is never part of it. */
export function identityProviderView(idp: IdentityProvider) {
  return {
    id: idp.id,
    identityZoneId: idp.zoneId,
    originKey: idp.originKey,
    type: idp.type,
    name: idp.name,
    active: idp.active,
    created: idp.createdAt,
    last_modified: idp.updatedAt,
    config: { ...idp.config, attributeMappings: { ...idp.config.attributeMappings } },
  };
}

/** The mappings a PUT .../role-collection-mappings body holds: `[{group, roleCollection}]` (duplicates dropped). */
export function readMappings(body: unknown): RoleCollectionMapping[] {
  const problems: string[] = [];
  if (!Array.isArray(body)) throw problemsError(['The body must be a JSON array of {"group": ..., "roleCollection": ...}']);
  const seen = new Set<string>();
  const result: RoleCollectionMapping[] = [];
  body.forEach((item, i) => {
    const m = record(item);
    const group = m?.group;
    const roleCollection = m?.roleCollection;
    if (typeof group !== 'string' || group.length === 0 || group.length > 255 || CONTROL.test(group)) problems.push(`[${i}].group must be a non-empty string`);
    if (typeof roleCollection !== 'string' || roleCollection.length === 0 || roleCollection.length > 255 || CONTROL.test(roleCollection)) {
      problems.push(`[${i}].roleCollection must be a non-empty string`);
    }
    if (problems.length > 0) return;
    const key = JSON.stringify([group, roleCollection]);
    if (!seen.has(key)) result.push({ group: group as string, roleCollection: roleCollection as string });
    seen.add(key);
  });
  if (problems.length > 0) throw problemsError(problems);
  return result;
}
