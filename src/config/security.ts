/**
 * Loads and validates xs-security.json (REFERENCE.md §5) as XSUAA reads it at service creation, and
 * converts it once into the camelCase XsSecurity the zones use. Rules follow SAP's documentation
 * (repository SAP-docs/btp-cloud-platform, the source of SAP Help's pages), cited below as:
 *  [syntax] docs/30-development/application-security-descriptor-configuration-syntax-517895a.md,
 *           "Application Security Descriptor Configuration Syntax": names, references, oauth2-configuration;
 *  [limits] docs/60-security/limits-for-technical-artifacts-of-the-sap-authorization-and-trust-management-service-6d3ef52.md,
 *           "Limits for the Application Security Descriptor": how many of each;
 *  [ias]    docs/30-development/include-tokens-from-corporate-identity-providers-or-sap-cloud-identity-services-in-tokens-8dc480a.md.
 * Older versions of [syntax] gave other limits (300 s to 99,999,999 s for token-validity, 128
 * characters for xsappname); the current page's are used. What XSUAA accepts but zonegate's zones
 * cannot serve loads with a warning, never a refusal. Files saved as UTF-16 by Windows editors load
 * too (json-text.ts).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { readJsonFile } from './json-text.js';
import { schemaProblems } from './schema-problems.js';
import { redirectPatternBacktracks } from '../zones/oauth/redirect-uri.js';
import type { XsAttribute, XsOAuth2Configuration, XsRoleCollection, XsRoleTemplate, XsScope, XsSecurity } from './types.js';
import {
  ACCEPT_GRANTED_AUTHORITIES,
  ACCEPT_GRANTED_SCOPES,
  grantedAppName,
  namesForeignInstance,
  OWN_PREFIX,
  parseForeignScope,
  parseServiceInstanceReference,
  UAA_RESOURCE,
  UAA_USER,
} from './xs-references.js';

/**
 * 12 hours for access tokens is XSUAA's default ([syntax]); 30 days for refresh tokens is zonegate's
 * choice (REFERENCE.md §5; [syntax] now says 7 days), inside XSUAA's range.
 */
export const DEFAULT_TOKEN_VALIDITY_S = 43_200;
export const DEFAULT_REFRESH_TOKEN_VALIDITY_S = 2_592_000;
/** [syntax], oauth2-configuration: "from 60 seconds to 86400 seconds" and "from 60 seconds to 31536000 seconds". */
const TOKEN_VALIDITY_RANGE = [60, 86_400] as const;
const REFRESH_TOKEN_VALIDITY_RANGE = [60, 31_536_000] as const;

export const DEFAULT_GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
] as const;
/** The grant types XSUAA knows; zones answer `unsupported_grant_type` for those they do not implement. */
export const KNOWN_GRANT_TYPES = [
  ...DEFAULT_GRANT_TYPES,
  'password',
  'implicit',
  'user_token',
  'urn:ietf:params:oauth:grant-type:saml2-bearer',
  'urn:ietf:params:oauth:grant-type:token-exchange',
] as const;

/** [syntax], xsappname: "The maximum length of an application name is 100 characters." */
const XSAPPNAME_MAX = 100;
/** [syntax], xsappname: `aA`–`zZ`, `0`–`9`, `-`, `_`, `/` and `\`. No `.`, which would also blur `<xsappname>.<scope>`. */
const XSAPPNAME_CHARACTERS = 'letters, digits, "_", "-", "/" or "\\"';
/**
 * [syntax], scopes: `aA`–`zZ`, `0`–`9`, `-`, `_`, `/`, `\`, `:` and `.`; no leading `.`; "The maximum
 * length of a scope name, including the fully qualified application name, is 193 characters."
 */
const SCOPE_NAME_MAX = 193;
/**
 * [limits], "Limits for Properties". The page sets no limit for authorities, foreign-scope-references,
 * redirect-uris or grant-types, so none is enforced for them.
 */
const MAX_ITEMS = { scopes: 500, attributes: 50, 'role-templates': 500, 'role-collections': 250 } as const;
/** [limits]: scopes "that refer to applications ... using granted-apps or grant-as-authority-to-apps". */
const MAX_GRANTED_SCOPES = 250;
/**
 * [ias]: XSUAA embeds a token of SAP Cloud Identity Services (or of the corporate identity provider
 * behind it) in its own tokens. zonegate's zones log users in themselves; there is no such token.
 */
const IAS_SYSTEM_ATTRIBUTES = ['ias-token', 'ias-corporate-idp-token'];

const str = { type: 'string' } as const;
const nonEmpty = { type: 'string', minLength: 1 } as const;
const strings = { type: 'array', items: str } as const;
const nonEmptyStrings = { type: 'array', items: nonEmpty } as const;
/** XSUAA's JSON reader takes "true"/"false" for booleans (xs-security files in the wild rely on it). */
const lenientBoolean = { type: ['boolean', 'string'], enum: [true, false, 'true', 'false'] } as const;

const xsSecuritySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    xsappname: nonEmpty,
    'tenant-mode': { type: 'string', enum: ['dedicated', 'shared', 'external'] },
    description: str,
    scopes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: nonEmpty,
          description: str,
          'granted-apps': nonEmptyStrings,
          'grant-as-authority-to-apps': nonEmptyStrings,
        },
      },
    },
    attributes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'valueType'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$', description: 'letters, digits and "_", at most 64 characters' },
          description: str,
          valueType: { type: 'string', enum: ['string', 's', 'int', 'date', 's4hana'] },
          valueRequired: lenientBoolean,
        },
      },
    },
    'role-templates': {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'letters, digits, ".", "-" and "_", at most 64 characters' },
          description: str,
          'default-role-name': { type: 'string', maxLength: 255 },
          'scope-references': nonEmptyStrings,
          'attribute-references': {
            type: 'array',
            items: {
              type: ['string', 'object'],
              minLength: 1,
              additionalProperties: false,
              required: ['name'],
              properties: { name: nonEmpty, 'default-values': strings },
            },
          },
        },
      },
    },
    'role-collections': {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'role-template-references'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 64 },
          description: { type: 'string', maxLength: 1000 },
          'role-template-references': nonEmptyStrings,
        },
      },
    },
    authorities: nonEmptyStrings,
    'authorities-inheritance': lenientBoolean,
    'foreign-scope-references': nonEmptyStrings,
    xsenableasyncservice: lenientBoolean,
    'oauth2-configuration': {
      type: 'object',
      additionalProperties: false,
      properties: {
        'token-validity': { type: 'integer' },
        'refresh-token-validity': { type: 'integer' },
        'redirect-uris': nonEmptyStrings,
        'grant-types': { type: 'array', items: str },
        autoapprove: { type: ['boolean', 'string', 'array'], items: str },
        // [syntax], oauth2-configuration, system-attributes.
        'system-attributes': { type: 'array', items: { type: 'string', enum: ['groups', 'rolecollections', ...IAS_SYSTEM_ATTRIBUTES] } },
        allowedproviders: nonEmptyStrings,
        'credential-types': { type: 'array', items: { type: 'string', enum: ['binding-secret', 'instance-secret', 'x509'] } },
      },
    },
  },
} as const;

let compiled: ValidateFunction | undefined;

/** A loaded descriptor and what in it XSUAA accepts but zonegate's zones cannot serve. */
export interface LoadedXsSecurity {
  security: XsSecurity;
  warnings: ConfigProblem[];
}

/** Reads (UTF-8 or UTF-16), parses and validates an xs-security.json; throws ConfigError listing every problem. */
export function readXsSecurity(file: string): LoadedXsSecurity {
  const parsed = readJsonFile(file);
  if (!parsed.ok) throw new ConfigError([parsed.problem]);
  return checkXsSecurityDocument(parsed.value, file);
}

/** readXsSecurity without the warnings (for commands that only need the application). */
export function loadXsSecurity(file: string): XsSecurity {
  return readXsSecurity(file).security;
}

/** checkXsSecurityDocument without the warnings. */
export function validateXsSecurityDocument(doc: unknown, file: string): XsSecurity {
  return checkXsSecurityDocument(doc, file).security;
}

/** Validates a parsed xs-security document and converts it; throws ConfigError listing every problem. */
export function checkXsSecurityDocument(doc: unknown, file: string): LoadedXsSecurity {
  compiled ??= new Ajv({ allErrors: true, allowUnionTypes: true, strict: true, verbose: true }).compile(xsSecuritySchema);
  const problems: ConfigProblem[] = compiled(doc) ? [] : schemaProblems(compiled.errors ?? [], doc, file);
  if (!isObject(doc)) throw new ConfigError(problems);
  const problem = (path: string, message: string) => problems.push({ file, path, message });
  const warnings: ConfigProblem[] = [];
  const warn = (path: string, message: string) => warnings.push({ file, path, message });

  const xsappname = doc['xsappname'];
  if (xsappname === undefined) {
    problem(
      '/xsappname',
      `is required (MTA projects often set it in mta.yaml; zonegate reads it from this file): expected ${XSAPPNAME_CHARACTERS}`,
    );
  } else if (typeof xsappname === 'string' && xsappname !== '') checkXsappname(xsappname, problem);

  if (doc['tenant-mode'] === 'external') {
    // [syntax], tenant-mode: "For each subscription to an application, the tenant gets an OAuth
    // client with a client secret." The zones keep one client per application, so they serve it as
    // "dedicated": the client works in the provider's zone, and no tenant can subscribe.
    warn(
      '/tenant-mode',
      'tenant-mode "external" (an OAuth client per subscription) is not served by zonegate\'s zones: the application runs as "dedicated" (its client works in the provider zone only, and tenants cannot subscribe)',
    );
  }

  const scopes = objects(doc['scopes']);
  const attributes = objects(doc['attributes']);
  const templates = objects(doc['role-templates']);
  const collections = objects(doc['role-collections']);
  const foreign = stringList(doc['foreign-scope-references']);

  checkCounts(doc, scopes, problem);
  for (const [i, s] of scopes) {
    // Names outside $XSAPPNAME are refused by checkOnlyOwnGrants (uaa.user is UAA's own).
    if (typeof s['name'] === 'string' && s['name'].startsWith(OWN_PREFIX)) {
      checkScopeName(s['name'], typeof xsappname === 'string' ? xsappname : '', `/scopes/${i}/name`, problem);
    }
    for (const key of ['granted-apps', 'grant-as-authority-to-apps']) {
      eachString(s[key], (app, j) => {
        if (grantedAppName(app) !== undefined) return;
        warn(`/scopes/${i}/${key}/${j}`, `"${app}" names a service instance, which only the platform resolves: zonegate grants this scope to no application for it`);
      });
    }
  }
  const scopeNames = uniqueNames(scopes, '/scopes', 'scope', problem);
  const attributeNames = uniqueNames(attributes, '/attributes', 'attribute', problem);
  const templateNames = uniqueNames(templates, '/role-templates', 'role template', problem);
  uniqueNames(collections, '/role-collections', 'role collection', problem);

  for (const [i, t] of templates) {
    stringList(t['scope-references']).forEach((ref, j) => {
      if (!scopeReferenceResolves(ref, scopeNames, foreign)) {
        problem(
          `/role-templates/${i}/scope-references/${j}`,
          ref.startsWith(OWN_PREFIX)
            ? `scope "${ref}" is not declared in scopes; expected one of: ${[...scopeNames].join(', ') || 'none declared'}`
            : `foreign scope "${ref}" is not listed in foreign-scope-references; expected a declared scope, "uaa.user", or a foreign scope listed there (or "$ACCEPT_GRANTED_SCOPES")`,
        );
      } else if (parseServiceInstanceReference(ref)) {
        warn(`/role-templates/${i}/scope-references/${j}`, `"${ref}" names a service instance, which only the platform resolves: the role template grants nothing from it in zonegate's zones`);
      }
    });
    attributeRefNames(t['attribute-references']).forEach((ref, j) => {
      if (ref !== undefined && !attributeNames.has(ref)) {
        problem(`/role-templates/${i}/attribute-references/${j}`, `attribute "${ref}" is not declared in attributes`);
      }
    });
  }

  for (const [i, c] of collections) {
    stringList(c['role-template-references']).forEach((ref, j) => {
      const path = `/role-collections/${i}/role-template-references/${j}`;
      if (parseForeignScope(ref) || parseServiceInstanceReference(ref)) {
        // [syntax], role-collections: references "to role template definitions from the Cloud Foundry
        // application or from other Cloud Foundry applications". Another application's role
        // templates live in its own registration; the zones cannot resolve them from this file.
        warn(path, `"${ref}" is a role template of another application, which zonegate cannot resolve: the role collection grants nothing from it`);
      } else if (!ref.startsWith(OWN_PREFIX)) {
        problem(
          path,
          `expected "$XSAPPNAME.<role template name>" or another application's "$XSAPPNAME(<service plan>,<xsappname>).<role template name>", got "${ref}"`,
        );
      } else if (!templateNames.has(ref.slice(OWN_PREFIX.length))) {
        problem(path, `role template "${ref.slice(OWN_PREFIX.length)}" is not declared in role-templates; expected one of: ${[...templateNames].join(', ') || 'none declared'}`);
      }
    });
  }

  checkOnlyOwnGrants(doc, scopes, problem, warn);

  const oauth = isObject(doc['oauth2-configuration']) ? doc['oauth2-configuration'] : {};
  eachString(oauth['system-attributes'], (attribute, j) => {
    if (!IAS_SYSTEM_ATTRIBUTES.includes(attribute)) return;
    warn(
      `/oauth2-configuration/system-attributes/${j}`,
      `"${attribute}" embeds a token of SAP Cloud Identity Services in XSUAA's tokens; zonegate's zones log users in themselves, so their tokens carry no such token`,
    );
  });
  const tokenValidity = checkRange(oauth['token-validity'], TOKEN_VALIDITY_RANGE, '/oauth2-configuration/token-validity', problem);
  const refreshValidity = checkRange(oauth['refresh-token-validity'], REFRESH_TOKEN_VALIDITY_RANGE, '/oauth2-configuration/refresh-token-validity', problem);
  stringList(oauth['redirect-uris']).forEach((uri, j) => {
    // Matched against the redirect_uri a client sends to /oauth/authorize.
    const backtracks = redirectPatternBacktracks(uri);
    if (backtracks !== undefined) problem(`/oauth2-configuration/redirect-uris/${j}`, backtracks);
  });
  const grantTypes = oauth['grant-types'] === undefined ? [...DEFAULT_GRANT_TYPES] : stringList(oauth['grant-types']);
  grantTypes.forEach((g, j) => {
    if (!(KNOWN_GRANT_TYPES as readonly string[]).includes(g)) {
      problem(`/oauth2-configuration/grant-types/${j}`, `unknown grant type "${g}"; expected one of: ${KNOWN_GRANT_TYPES.join(', ')}`);
    }
  });

  if (problems.length > 0) throw new ConfigError(problems);

  const oauth2Configuration: XsOAuth2Configuration = {
    tokenValidity: tokenValidity ?? DEFAULT_TOKEN_VALIDITY_S,
    refreshTokenValidity: refreshValidity ?? DEFAULT_REFRESH_TOKEN_VALIDITY_S,
    redirectUris: stringList(oauth['redirect-uris']),
    grantTypes,
  };
  const result: XsSecurity = {
    file,
    xsappname: xsappname as string,
    // "external" is served as "dedicated" (warned about above).
    tenantMode: doc['tenant-mode'] === 'shared' ? 'shared' : 'dedicated',
    scopes: scopes.map(([, s]) => toScope(s)),
    attributes: attributes.map(([, a]) => toAttribute(a)),
    roleTemplates: templates.map(([, t]) => toRoleTemplate(t)),
    roleCollections: collections.map(([, c]) => toRoleCollection(c)),
    // A service instance's scope cannot be resolved (warned about in checkOnlyOwnGrants): it grants nothing.
    authorities: stringList(doc['authorities']).filter((a) => !parseServiceInstanceReference(a)),
    foreignScopeReferences: foreign,
    oauth2Configuration,
  };
  if (typeof doc['description'] === 'string') result.description = doc['description'];
  return { security: result, warnings };
}

type Report = (path: string, message: string) => void;

/** [syntax], xsappname; `!` is also reserved for the `!t<N>` suffix the server appends. */
function checkXsappname(name: string, problem: Report): void {
  const placeholder = /\$\{[^}]*\}/.exec(name);
  if (placeholder) {
    problem('/xsappname', `contains the unresolved MTA placeholder "${placeholder[0]}"; expected a literal name (${XSAPPNAME_CHARACTERS})`);
    return;
  }
  if (name.includes('!')) {
    problem('/xsappname', `may not contain "!" (the server appends "!t<N>" itself); expected ${XSAPPNAME_CHARACTERS}`);
    return;
  }
  const bad = [...new Set(name.replace(/[A-Za-z0-9_\-/\\]/g, ''))];
  if (bad.length > 0) {
    problem('/xsappname', `contains ${bad.map((c) => JSON.stringify(c)).join(', ')}; expected ${XSAPPNAME_CHARACTERS}`);
  }
  if (name.length > XSAPPNAME_MAX) problem('/xsappname', `is ${name.length} characters long; expected at most ${XSAPPNAME_MAX}`);
}

/**
 * [syntax], scopes, "Naming Conventions", for `$XSAPPNAME.<name>`: the rules apply to `<name>`; the
 * length counts the name as registered, `<xsappname>!t<N>.<name>`. N is only known once the zones
 * register the application, so the shortest suffix (`!t` and one digit) is counted: a name refused
 * here is too long whatever N becomes.
 */
function checkScopeName(name: string, xsappname: string, path: string, problem: Report): void {
  const local = name.slice(OWN_PREFIX.length);
  if (local.startsWith('.')) {
    problem(path, `scope "${name}" starts with "."; expected a name that starts with a letter, digit, "_", "-", "/", "\\" or ":"`);
  }
  const bad = [...new Set(local.replace(/[A-Za-z0-9_\-/\\:.]/g, ''))];
  if (bad.length > 0) {
    problem(path, `scope "${name}" contains ${bad.map((c) => JSON.stringify(c)).join(', ')}; expected letters, digits, "_", "-", "/", "\\", ":" or "."`);
  }
  const registered = `${xsappname}!t1.${local}`;
  if (registered.length > SCOPE_NAME_MAX) {
    problem(path, `scope "${name}" is ${registered.length} characters long once registered (at least, as "${registered}"); expected at most ${SCOPE_NAME_MAX}, the application name included`);
  }
}

/** [limits]: how many scopes, attributes, role templates, role collections and granted scopes. */
function checkCounts(doc: Record<string, unknown>, scopes: [number, Record<string, unknown>][], problem: Report): void {
  for (const [key, max] of Object.entries(MAX_ITEMS)) {
    const items = doc[key];
    if (Array.isArray(items) && items.length > max) problem(`/${key}`, `has ${items.length} entries; expected at most ${max} (XSUAA's limit)`);
  }
  const granted = scopes.filter(([, s]) => stringList(s['granted-apps']).length > 0 || stringList(s['grant-as-authority-to-apps']).length > 0);
  if (granted.length > MAX_GRANTED_SCOPES) {
    problem('/scopes', `${granted.length} scopes are granted to other applications (granted-apps or grant-as-authority-to-apps); expected at most ${MAX_GRANTED_SCOPES} (XSUAA's limit)`);
  }
}

/**
 * An application declares only what is its own, and receives another application's scopes only
 * through that application's grants (XSUAA: `granted-apps`, `grant-as-authority-to-apps`). Without
 * this, one xs-security.json could declare `otherapp!t7.Callback` as its scope or authority and its
 * client would be issued a scope that the other application's backends and callbacks trust.
 */
function checkOnlyOwnGrants(doc: Record<string, unknown>, scopes: [number, Record<string, unknown>][], problem: Report, warn: Report): void {
  for (const [i, s] of scopes) {
    const name = s['name'];
    if (typeof name !== 'string' || name === '' || name.startsWith(OWN_PREFIX) || name === UAA_USER) continue;
    problem(
      `/scopes/${i}/name`,
      `scope "${name}" is not this application's; expected "$XSAPPNAME.<name>" (or "uaa.user"): another application's scope reaches this one only through that application's granted-apps`,
    );
  }
  eachString(doc['authorities'], (authority, j) => {
    if (authority.startsWith(OWN_PREFIX) || authority === UAA_RESOURCE || authority === ACCEPT_GRANTED_AUTHORITIES || parseForeignScope(authority)) return;
    if (parseServiceInstanceReference(authority)) {
      // [syntax], "Referencing the Application": `$XSSERVICENAME(<service instance>)` may be used in
      // authorities. Its application is unknown here, so no grant can be checked: nothing is granted.
      warn(`/authorities/${j}`, `"${authority}" names a service instance, which only the platform resolves: zonegate's zones grant no authority for it`);
      return;
    }
    problem(
      `/authorities/${j}`,
      `authority "${authority}" is not this application's to claim; expected "$XSAPPNAME.<scope>", "$XSAPPNAME(<service plan>,<xsappname>).<scope>" or "$XSSERVICENAME(<service instance>).<scope>" (granted by that application's grant-as-authority-to-apps), "${ACCEPT_GRANTED_AUTHORITIES}" or "${UAA_RESOURCE}"`,
    );
  });
  eachString(doc['foreign-scope-references'], (reference, k) => {
    if (!namesForeignInstance(reference)) return;
    problem(
      `/foreign-scope-references/${k}`,
      `"${reference}" names another application's registered instance; expected "$XSAPPNAME(<service plan>,<xsappname>).<scope>" (granted by that application's granted-apps) or "${ACCEPT_GRANTED_SCOPES}"`,
    );
  });
}

/** The string entries of an array with their indices (the schema reports the others). */
function eachString(v: unknown, fn: (value: string, index: number) => void): void {
  if (Array.isArray(v)) v.forEach((item, i) => typeof item === 'string' && item !== '' && fn(item, i));
}

function scopeReferenceResolves(ref: string, declared: ReadonlySet<string>, foreign: readonly string[]): boolean {
  // Role templates may always reference UAA's own user scope (token exchange).
  if (declared.has(ref) || ref === UAA_USER || foreign.includes(ref)) return true;
  // Own scopes must be declared; anything else is another application's scope.
  return !ref.startsWith(OWN_PREFIX) && foreign.includes(ACCEPT_GRANTED_SCOPES);
}

function uniqueNames(items: [number, Record<string, unknown>][], base: string, what: string, problem: Report): Set<string> {
  const first = new Map<string, number>();
  for (const [i, item] of items) {
    const name = item['name'];
    if (typeof name !== 'string') continue;
    if (first.has(name)) problem(`${base}/${i}/name`, `duplicate ${what} name "${name}" (first declared at ${base}/${first.get(name)})`);
    else first.set(name, i);
  }
  return new Set(first.keys());
}

function checkRange(value: unknown, [min, max]: readonly [number, number], path: string, problem: Report): number | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return undefined; // the schema reported it
  if (value < min || value > max) problem(path, `expected whole seconds from ${min} to ${max} (XSUAA's limits), got ${value}`);
  return value;
}

function toScope(s: Record<string, unknown>): XsScope {
  const scope: XsScope = {
    name: s['name'] as string,
    grantedApps: stringList(s['granted-apps']),
    grantAsAuthorityToApps: stringList(s['grant-as-authority-to-apps']),
  };
  if (typeof s['description'] === 'string') scope.description = s['description'];
  return scope;
}

function toAttribute(a: Record<string, unknown>): XsAttribute {
  const type = a['valueType'];
  const attribute: XsAttribute = {
    name: a['name'] as string,
    // SAP documents "s" as shorthand for "string".
    valueType: type === 's' ? 'string' : (type as XsAttribute['valueType']),
    valueRequired: a['valueRequired'] === undefined ? true : a['valueRequired'] === true || a['valueRequired'] === 'true',
  };
  if (typeof a['description'] === 'string') attribute.description = a['description'];
  return attribute;
}

function toRoleTemplate(t: Record<string, unknown>): XsRoleTemplate {
  const template: XsRoleTemplate = {
    name: t['name'] as string,
    scopeReferences: stringList(t['scope-references']),
    attributeReferences: attributeRefNames(t['attribute-references']).filter((n): n is string => n !== undefined),
  };
  if (typeof t['description'] === 'string') template.description = t['description'];
  if (typeof t['default-role-name'] === 'string') template.defaultRoleName = t['default-role-name'];
  const defaults = attributeDefaultValues(t['attribute-references']);
  if (Object.keys(defaults).length > 0) template.attributeDefaultValues = defaults;
  return template;
}

/** The `default-values` of object-form attribute references, by attribute name (the zones put them into tokens). */
function attributeDefaultValues(v: unknown): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  if (!Array.isArray(v)) return result;
  for (const r of v) {
    if (isObject(r) && typeof r['name'] === 'string' && Array.isArray(r['default-values'])) result[r['name']] = stringList(r['default-values']);
  }
  return result;
}

function toRoleCollection(c: Record<string, unknown>): XsRoleCollection {
  const collection: XsRoleCollection = { name: c['name'] as string, roleTemplateReferences: stringList(c['role-template-references']) };
  if (typeof c['description'] === 'string') collection.description = c['description'];
  return collection;
}

/** attribute-references are names or `{name, default-values}` objects (SAP documents both). */
function attributeRefNames(v: unknown): (string | undefined)[] {
  if (!Array.isArray(v)) return [];
  return v.map((r) => (typeof r === 'string' ? r : isObject(r) && typeof r['name'] === 'string' ? r['name'] : undefined));
}

function objects(v: unknown): [number, Record<string, unknown>][] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((item, i): [number, Record<string, unknown>][] => (isObject(item) ? [[i, item]] : []));
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
