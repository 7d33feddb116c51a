/**
 * The `destinations` environment variable, read as SAP's approuter reads it (REFERENCE.md §6): a JSON
 * array of `{name, url, forwardAuthToken, timeout, setXForwardedHeaders, strictSSL, proxyHost,
 * proxyPort}`, and zonegate's own `maxSockets`. Properties zonegate does not know (SAP's destination service adds many, e.g.
 * `proxyType`, `authentication`) are accepted and ignored, as the approuter tolerates them.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';
import { parseJsonText } from './json-text.js';
import { jsonType } from './schema-problems.js';
import type { Destination } from './types.js';

/** SAP's default backend timeout (destination-normalization.js in @sap/approuter). */
export const DEFAULT_DESTINATION_TIMEOUT_MS = 30_000;

/** Connections per destination when `maxSockets` is not given (what the agent allowed before it was configurable). */
export const DEFAULT_DESTINATION_MAX_SOCKETS = 256;

/**
 * Parses and validates the destinations; `source` names where they came from in messages
 * (e.g. "environment variable destinations"). Unset or blank means no destinations.
 * Throws ConfigError listing every problem, with paths like `/0/url`.
 */
export function parseDestinations(json: string | undefined, source: string): Destination[] {
  if (json === undefined || json.trim() === '') return [];
  const parsed = parseJsonText(json, source);
  if (!parsed.ok) throw new ConfigError([parsed.problem]);
  const doc = parsed.value;
  if (!Array.isArray(doc)) {
    throw new ConfigError([{ file: source, path: '', message: `expected a JSON array of destinations, got ${jsonType(doc)}` }]);
  }

  const problems: ConfigProblem[] = [];
  const problem = (path: string, message: string) => problems.push({ file: source, path, message });
  const firstIndexOf = new Map<string, number>();
  const result: Destination[] = [];

  doc.forEach((item, i) => {
    const at = `/${i}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problem(at, `expected an object, got ${jsonType(item)}`);
      return;
    }
    const d = item as Record<string, unknown>;
    const before = problems.length;

    const name = d['name'];
    if (name === undefined) problem(`${at}/name`, 'is required');
    else if (typeof name !== 'string' || name === '') problem(`${at}/name`, `expected a non-empty string, got ${describe(name)}`);
    else if (firstIndexOf.has(name)) problem(`${at}/name`, `duplicate destination name "${name}" (first defined at /${firstIndexOf.get(name)})`);
    else firstIndexOf.set(name, i);

    let url: URL | undefined;
    const rawUrl = d['url'];
    if (rawUrl === undefined) problem(`${at}/url`, 'is required');
    else if (typeof rawUrl !== 'string') problem(`${at}/url`, `expected string, got ${jsonType(rawUrl)}`);
    else {
      url = URL.canParse(rawUrl) ? new URL(rawUrl) : undefined;
      if (!url) problem(`${at}/url`, `expected an absolute http(s) URL, got ${JSON.stringify(rawUrl)}`);
      else if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        problem(`${at}/url`, `expected an http or https URL, got scheme "${url.protocol}"`);
      }
    }

    const bool = (key: string, dflt: boolean): boolean => {
      const v = d[key];
      if (v === undefined) return dflt;
      if (typeof v !== 'boolean') {
        problem(`${at}/${key}`, `expected boolean, got ${jsonType(v)}`);
        return dflt;
      }
      return v;
    };
    const forwardAuthToken = bool('forwardAuthToken', false);
    const setXForwardedHeaders = bool('setXForwardedHeaders', true);
    const strictSSL = bool('strictSSL', true);

    let timeout = DEFAULT_DESTINATION_TIMEOUT_MS;
    const rawTimeout = d['timeout'];
    if (rawTimeout !== undefined) {
      if (typeof rawTimeout !== 'number' || !Number.isFinite(rawTimeout) || rawTimeout <= 0) {
        problem(`${at}/timeout`, `expected a positive number of milliseconds, got ${describe(rawTimeout)}`);
      } else timeout = rawTimeout;
    }

    let maxSockets = DEFAULT_DESTINATION_MAX_SOCKETS;
    const rawMaxSockets = d['maxSockets'];
    if (rawMaxSockets !== undefined) {
      if (typeof rawMaxSockets !== 'number' || !Number.isInteger(rawMaxSockets) || rawMaxSockets < 1 || rawMaxSockets > 65_535) {
        problem(`${at}/maxSockets`, `expected a whole number of connections between 1 and 65535, got ${describe(rawMaxSockets)}`);
      } else maxSockets = rawMaxSockets;
    }

    const proxyHost = d['proxyHost'];
    const rawPort = d['proxyPort'];
    if (proxyHost !== undefined && (typeof proxyHost !== 'string' || proxyHost === '')) {
      problem(`${at}/proxyHost`, `expected a non-empty string, got ${describe(proxyHost)}`);
    }
    let proxyPort: number | undefined;
    if (rawPort !== undefined) {
      // SAP accepts the port as an integer or a string of digits.
      const n = typeof rawPort === 'string' && /^[1-9]\d*$/.test(rawPort) ? Number(rawPort) : rawPort;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
        problem(`${at}/proxyPort`, `expected a port number 1-65535, got ${describe(rawPort)}`);
      } else proxyPort = n;
    }
    if (proxyHost !== undefined && rawPort === undefined) problem(`${at}/proxyPort`, 'is required when proxyHost is set');
    if (rawPort !== undefined && proxyHost === undefined) problem(`${at}/proxyHost`, 'is required when proxyPort is set');

    if (problems.length > before || !url || typeof name !== 'string') return;
    const destination: Destination = { name, url, forwardAuthToken, timeout, maxSockets, setXForwardedHeaders, strictSSL };
    if (typeof proxyHost === 'string') destination.proxyHost = proxyHost;
    if (proxyPort !== undefined) destination.proxyPort = proxyPort;
    result.push(destination);
  });

  if (problems.length > 0) throw new ConfigError(problems);
  return result;
}

/**
 * The names the destinations declare, also of entries that are otherwise invalid: routes.json is
 * checked against these, so a destination with one bad property is reported once, as itself, and
 * not again as an "unknown destination" of every route that uses it. Undefined when the names
 * cannot all be read (not JSON, not an array, an entry without a string name): then any name a
 * route uses might be the unreadable one, and calling it unknown would be a false report.
 */
export function declaredDestinationNames(json: string | undefined): ReadonlySet<string> | undefined {
  if (json === undefined || json.trim() === '') return new Set();
  const parsed = parseJsonText(json, 'destinations');
  if (!parsed.ok || !Array.isArray(parsed.value)) return undefined;
  const names = new Set<string>();
  for (const item of parsed.value as unknown[]) {
    const name = typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as Record<string, unknown>)['name'] : undefined;
    if (typeof name !== 'string' || name === '') return undefined;
    names.add(name);
  }
  return names;
}

function describe(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? `${jsonType(v)} ${JSON.stringify(v)}` : jsonType(v);
}
