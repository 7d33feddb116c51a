/**
 * The JSON Schema of routes.json: the shape of SAP's xs-app.json as @sap/approuter 21.x accepts it
 * (REFERENCE.md §6), written for zonegate. Structure only: what needs more than a schema (regexes,
 * route targets, destinations, features zonegate lacks) is checked in routes.ts, and formats are
 * checked there too so that every message can say what was expected.
 *
 * Unknown properties are rejected everywhere, as SAP's router does ("Additional properties not allowed").
 */
import { Ajv, type ValidateFunction } from 'ajv';
import type { ConfigProblem } from '../errors.js';
import { schemaProblems } from './schema-problems.js';

/** SAP's enum: its router never lets CONNECT through a route (xs-app-schema.json). */
export const ROUTE_HTTP_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'TRACE', 'PATCH'] as const;
const SCOPE_METHODS = [...ROUTE_HTTP_METHODS, 'CONNECT'] as const;

const nonEmptyString = { type: 'string', minLength: 1 } as const;
const nonEmptyStrings = { type: 'array', minItems: 1, items: nonEmptyString } as const;
const scopeValue = { type: ['string', 'array'], minLength: 1, minItems: 1, items: nonEmptyString } as const;
const source = {
  type: ['string', 'object'],
  minLength: 1,
  additionalProperties: false,
  properties: { path: nonEmptyString, matchCase: { type: 'boolean' } },
  required: ['path'],
} as const;

const route = {
  type: 'object',
  additionalProperties: false,
  required: ['source'],
  properties: {
    source,
    httpMethods: { type: 'array', minItems: 1, items: { type: 'string', enum: ROUTE_HTTP_METHODS } },
    target: nonEmptyString,
    destination: nonEmptyString,
    localDir: nonEmptyString,
    service: nonEmptyString,
    endpoint: nonEmptyString,
    authenticationType: { type: 'string', enum: ['xsuaa', 'ias', 'basic', 'none'] },
    scope: {
      type: ['string', 'array', 'object'],
      minLength: 1,
      minItems: 1,
      items: nonEmptyString,
      minProperties: 1,
      additionalProperties: false,
      properties: Object.fromEntries([...SCOPE_METHODS, 'default'].map((m) => [m, scopeValue])),
    },
    csrfProtection: { type: 'boolean' },
    cacheControl: nonEmptyString,
    identityProvider: nonEmptyString,
    dynamicIdentityProvider: { type: 'boolean' },
    setBackendSessionCookies: { type: 'boolean' },
    preferLocal: { type: 'boolean' },
    replace: {
      type: 'object',
      additionalProperties: false,
      required: ['pathSuffixes'],
      properties: {
        pathSuffixes: { type: 'array', items: nonEmptyString },
        vars: { type: 'array', items: nonEmptyString },
        services: { type: 'object' },
      },
    },
    // Not in SAP's schema; zonegate accepts it so that routes can be documented in place.
    description: { type: 'string' },
  },
} as const;

const logoutTarget = {
  type: 'object',
  additionalProperties: false,
  properties: {
    logoutPath: nonEmptyString,
    logoutMethod: { type: 'string', enum: ['PUT', 'POST', 'GET'] },
  },
} as const;

export const routesSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    welcomeFile: nonEmptyString,
    authenticationMethod: { type: 'string', enum: ['none', 'route'] },
    stateProtection: { type: 'boolean' },
    sessionTimeout: { type: 'integer', minimum: 1 },
    pluginMetadataEndpoint: nonEmptyString,
    routes: { type: 'array', items: route },
    responseHeaders: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'value'],
        properties: { name: nonEmptyString, value: nonEmptyString },
      },
    },
    destinations: { type: 'object', additionalProperties: logoutTarget },
    services: {
      type: 'object',
      additionalProperties: { ...logoutTarget, properties: { ...logoutTarget.properties, endpoint: nonEmptyString } },
    },
    logout: {
      type: 'object',
      additionalProperties: false,
      properties: {
        logoutEndpoint: nonEmptyString,
        logoutPage: nonEmptyString,
        // SAP's 21.x schema has the single `logoutMethod`; its documentation also shows the list form.
        logoutMethod: { type: 'string', enum: ['POST', 'GET'] },
        logoutMethods: { type: 'array', minItems: 1, items: { type: 'string', enum: ['POST', 'GET'] } },
        csrfProtection: { type: 'boolean' },
        backChannelLogoutEndpoint: nonEmptyString,
      },
    },
    login: {
      type: 'object',
      additionalProperties: false,
      required: ['callbackEndpoint'],
      properties: { callbackEndpoint: nonEmptyString },
    },
    whitelistService: {
      type: 'object',
      additionalProperties: false,
      required: ['endpoint'],
      properties: { endpoint: nonEmptyString },
    },
    compression: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        minSize: { type: 'integer', minimum: 1 },
        compressResponseMixedTypeContent: { type: 'boolean' },
      },
    },
    websockets: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled'],
      properties: { enabled: { type: 'boolean' } },
    },
    errorPage: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['status'],
        properties: {
          status: {
            type: ['integer', 'array'],
            minItems: 1,
            uniqueItems: true,
            items: { type: 'integer' },
          },
          file: nonEmptyString,
          path: nonEmptyString,
        },
      },
    },
    cors: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['allowedOrigin', 'uriPattern'],
        properties: {
          uriPattern: source,
          hostPattern: { type: ['string', 'array', 'object'], minLength: 1, minItems: 1, items: nonEmptyString },
          allowedOrigin: {
            type: 'array',
            minItems: 1,
            items: {
              type: ['string', 'object'],
              minLength: 1,
              additionalProperties: false,
              properties: { protocol: nonEmptyString, host: nonEmptyString, port: { type: ['integer', 'string'] } },
              required: ['host'],
            },
          },
          allowedMethods: { type: 'array', minItems: 1, items: { type: 'string', enum: ROUTE_HTTP_METHODS } },
          allowedHeaders: nonEmptyStrings,
          allowedCredentials: { type: 'boolean' },
          exposeHeaders: nonEmptyStrings,
          maxAge: { type: 'integer', minimum: 1 },
        },
      },
    },
  },
} as const;

let compiled: ValidateFunction | undefined;

/** Structural problems of a routes document, one per schema violation, each with its JSON path. */
export function checkRoutesSchema(doc: unknown, file: string): ConfigProblem[] {
  compiled ??= new Ajv({ allErrors: true, allowUnionTypes: true, strict: true, verbose: true }).compile(routesSchema);
  if (compiled(doc)) return [];
  return schemaProblems(compiled.errors ?? [], doc, file);
}
