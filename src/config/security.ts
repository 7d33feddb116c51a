/**
 * Loads and validates xs-security.json (REFERENCE.md §5) as XSUAA reads it at service creation, and
 * converts it once into the camelCase XsSecurity the zones use. Rules follow SAP's "Application
 * Security Descriptor Configuration Syntax" (SAP BTP documentation): names, references between
 * scopes, attributes, role templates and role collections, and the oauth2-configuration limits.
 * Files saved as UTF-16 by Windows editors load too (json-text.ts).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { readJsonFile } from './json-text.js';
import { schemaProblems } from './schema-problems.js';
import { redirectPatternBacktracks } from '../zones/oauth/redirect-uri.js';
import type { XsAttribute, XsOAuth2Configuration, XsRoleCollection, XsRoleTemplate, XsScope, XsSecurity } from './types.js';
import { ACCEPT_GRANTED_AUTHORITIES, ACCEPT_GRANTED_SCOPES, namesForeignInstance, OWN_PREFIX, parseForeignScope, UAA_RESOURCE, UAA_USER } from './xs-references.js';

/** XSUAA's defaults: 12 hours for access tokens; 30 days for refresh tokens (zonegate's choice, see REFERENCE.md §5). */
export const DEFAULT_TOKEN_VALIDITY_S = 43_200;
export const DEFAULT_REFRESH_TOKEN_VALIDITY_S = 2_592_000;
/** SAP documents 300 s to 99,999,999 s for access tokens and 600 s to 99,999,999 s for refresh tokens. */
const TOKEN_VALIDITY_RANGE = [300, 99_999_999] as const;
const REFRESH_TOKEN_VALIDITY_RANGE = [600, 99_999_999] as const;

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

const XSAPPNAME_MAX = 100;

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
        'system-attributes': { type: 'array', items: { type: 'string', enum: ['groups', 'rolecollections'] } },
        allowedproviders: nonEmptyStrings,
        'credential-types': { type: 'array', items: { type: 'string', enum: ['binding-secret', 'instance-secret', 'x509'] } },
      },
    },
  },
} as const;

let compiled: ValidateFunction | undefined;

/** Reads (UTF-8 or UTF-16), parses and validates an xs-security.json; throws ConfigError listing every problem. */
export function loadXsSecurity(file: string): XsSecurity {
  const parsed = readJsonFile(file);
  if (!parsed.ok) throw new ConfigError([parsed.problem]);
  return validateXsSecurityDocument(parsed.value, file);
}

/** Validates a parsed xs-security document and converts it; throws ConfigError listing every problem. */
export function validateXsSecurityDocument(doc: unknown, file: string): XsSecurity {
  compiled ??= new Ajv({ allErrors: true, allowUnionTypes: true, strict: true, verbose: true }).compile(xsSecuritySchema);
  const problems: ConfigProblem[] = compiled(doc) ? [] : schemaProblems(compiled.errors ?? [], doc, file);
  if (!isObject(doc)) throw new ConfigError(problems);
  const problem = (path: string, message: string) => problems.push({ file, path, message });

  const xsappname = doc['xsappname'];
  if (xsappname === undefined) {
    problem(
      '/xsappname',
      'is required (MTA projects often set it in mta.yaml; zonegate reads it from this file): expected letters, digits, "_", "-", ".", "/" or "\\"',
    );
  } else if (typeof xsappname === 'string' && xsappname !== '') checkXsappname(xsappname, problem);

  if (doc['tenant-mode'] === 'external') {
    problem('/tenant-mode', 'tenant-mode "external" is not supported by zonegate; expected "dedicated" or "shared"');
  }

  const scopes = objects(doc['scopes']);
  const attributes = objects(doc['attributes']);
  const templates = objects(doc['role-templates']);
  const collections = objects(doc['role-collections']);
  const foreign = stringList(doc['foreign-scope-references']);

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
      if (!ref.startsWith(OWN_PREFIX)) {
        problem(path, `expected "$XSAPPNAME.<role template name>" (zonegate resolves role templates of this application only), got "${ref}"`);
      } else if (!templateNames.has(ref.slice(OWN_PREFIX.length))) {
        problem(path, `role template "${ref.slice(OWN_PREFIX.length)}" is not declared in role-templates; expected one of: ${[...templateNames].join(', ') || 'none declared'}`);
      }
    });
  }

  checkOnlyOwnGrants(doc, scopes, problem);

  const oauth = isObject(doc['oauth2-configuration']) ? doc['oauth2-configuration'] : {};
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
    tenantMode: doc['tenant-mode'] === 'shared' ? 'shared' : 'dedicated',
    scopes: scopes.map(([, s]) => toScope(s)),
    attributes: attributes.map(([, a]) => toAttribute(a)),
    roleTemplates: templates.map(([, t]) => toRoleTemplate(t)),
    roleCollections: collections.map(([, c]) => toRoleCollection(c)),
    authorities: stringList(doc['authorities']),
    foreignScopeReferences: foreign,
    oauth2Configuration,
  };
  if (typeof doc['description'] === 'string') result.description = doc['description'];
  return result;
}

type Report = (path: string, message: string) => void;

/** XSUAA's naming rule for xsappname; `!` is reserved for the `!t<N>` suffix the server appends. */
function checkXsappname(name: string, problem: Report): void {
  const placeholder = /\$\{[^}]*\}/.exec(name);
  if (placeholder) {
    problem('/xsappname', `contains the unresolved MTA placeholder "${placeholder[0]}"; expected a literal name (letters, digits, "_", "-", ".", "/", "\\")`);
    return;
  }
  if (name.includes('!')) {
    problem('/xsappname', 'may not contain "!" (the server appends "!t<N>" itself); expected letters, digits, "_", "-", ".", "/" or "\\"');
    return;
  }
  const bad = [...new Set(name.replace(/[A-Za-z0-9_\-./\\]/g, ''))];
  if (bad.length > 0) {
    problem('/xsappname', `contains ${bad.map((c) => JSON.stringify(c)).join(', ')}; expected letters, digits, "_", "-", ".", "/" or "\\"`);
  }
  if (name.length > XSAPPNAME_MAX) problem('/xsappname', `is ${name.length} characters long; expected at most ${XSAPPNAME_MAX}`);
}

/**
 * An application declares only what is its own, and receives another application's scopes only
 * through that application's grants (XSUAA: `granted-apps`, `grant-as-authority-to-apps`). Without
 * this, one xs-security.json could declare `otherapp!t7.Callback` as its scope or authority and its
 * client would be issued a scope that the other application's backends and callbacks trust.
 */
function checkOnlyOwnGrants(doc: Record<string, unknown>, scopes: [number, Record<string, unknown>][], problem: Report): void {
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
    problem(
      `/authorities/${j}`,
      `authority "${authority}" is not this application's to claim; expected "$XSAPPNAME.<scope>", "$XSAPPNAME(<service plan>,<xsappname>).<scope>" (granted by that application's grant-as-authority-to-apps), "${ACCEPT_GRANTED_AUTHORITIES}" or "${UAA_RESOURCE}"`,
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
