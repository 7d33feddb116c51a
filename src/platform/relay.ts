/**
 * The redirect relay (issue 15, part 2; Zaikio's redirection service). OAuth wants a fixed, absolute
 * redirect URI registered at the authorization server, but every single-tenant installation and
 * every tenant host has its own callback. One well-known callback relays the answer to the right one:
 *
 *  1. An installation is registered (admin API or CLI) with its exact callback URLs; it gets a secret.
 *  2. Before it sends a user to the authorization server, it asks the relay for a state:
 *     `POST /platform/v1/relay/states` (HTTP Basic: installation id and secret) with `redirect_uri`
 *     (one of its registered URLs, exactly) and its own `state`. The relay answers its `state` (a
 *     JWS, HS256 under a key derived from ZONEGATE_SECRET_KEY, naming the installation, expiring in
 *     10 minutes) and the relay's callback URL to use as `redirect_uri`.
 *  3. The authorization server redirects to `GET /platform/v1/relay/callback?code=…&state=…`. The relay
 *     verifies the signature, takes the state's record from the shared Storage (one atomic `take`:
 *     single use, on every instance), checks the installation and its URL are still registered, and
 *     redirects `code` or `error` (with `error_description`, `error_uri`, RFC 9207's `iss`) and the
 *     installation's own `state` to that URL.
 * Anything else (no state, a forged, expired or used one, an installation removed since) is an error
 * page, never a redirect: the target comes only from the registration, never from the request, so
 * the relay cannot be used as an open redirector (RFC 6749 §10.15, RFC 9700 §4.11).
 */
import { createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { RecordsDatabase } from '../records/types.js';
import { UniqueViolation } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import type { Audit } from './audit.js';
import { badRequest, PlatformError } from './errors.js';

export const RELAY_CALLBACK_PATH = '/platform/v1/relay/callback';
export const RELAY_STATES_PATH = '/platform/v1/relay/states';
export const RELAY_STATE_TTL_S = 600;
const STATE_TYPE = 'zonegate-relay-state+jwt';

export interface RelayInstallation {
  id: string;
  name: string;
  callbackUrls: string[];
  createdAt: string;
}

const INSTALLATION_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('base64url');

/**
 * A callback URL as registered: absolute, https (http only on a loopback host, RFC 8252 §7.3), no
 * fragment (RFC 6749 §3.1.2), no user info, no wildcard: it is compared exactly.
 */
export function checkCallbackUrl(value: unknown): string | string[] {
  if (typeof value !== 'string') return ['must be a string'];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [`${JSON.stringify(value)} is not an absolute URL`];
  }
  const problems: string[] = [];
  const loopback = url.hostname === 'localhost' || url.hostname.endsWith('.localhost') || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) problems.push(`${value}: must be https (http only for localhost)`);
  if (url.hash || value.includes('#')) problems.push(`${value}: must not have a fragment`);
  if (url.username || url.password) problems.push(`${value}: must not carry user info`);
  if (value.includes('*')) problems.push(`${value}: must be exact (no "*")`);
  return problems.length ? problems : url.href;
}

export function readInstallationInput(body: unknown): { id: string; name: string; callbackUrls: string[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object');
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof b.id !== 'string' || !INSTALLATION_ID.test(b.id)) problems.push('id must be 1 to 64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit');
  const name = b.name ?? b.id;
  if (typeof name !== 'string' || name.length < 1 || name.length > 128) problems.push('name must be a string of 1 to 128 characters');
  const urls: string[] = [];
  if (!Array.isArray(b.callbackUrls) || b.callbackUrls.length === 0) problems.push('callbackUrls must be a non-empty array of absolute URLs');
  else {
    for (const raw of b.callbackUrls) {
      const checked = checkCallbackUrl(raw);
      if (typeof checked === 'string') urls.push(checked);
      else problems.push(...checked.map((p) => `callbackUrls: ${p}`));
    }
  }
  if (problems.length) throw badRequest(`Invalid relay installation: ${problems.join('; ')}`);
  return { id: b.id as string, name: name as string, callbackUrls: [...new Set(urls)] };
}

type InstallationRow = { id: string; name: string; callback_urls: string; secret_hash: string; created_at: string };

const installationOf = (row: InstallationRow): RelayInstallation => ({ id: row.id, name: row.name, callbackUrls: JSON.parse(row.callback_urls) as string[], createdAt: row.created_at });

export interface RelayInstallations {
  get(id: string): Promise<RelayInstallation | undefined>;
  list(): Promise<RelayInstallation[]>;
  /** Registers an installation; its secret is returned here, once (only its SHA-256 is kept). */
  create(input: { id: string; name: string; callbackUrls: string[] }): Promise<RelayInstallation & { secret: string }>;
  remove(id: string): Promise<RelayInstallation | undefined>;
  /** The installation whose id and secret these are; undefined otherwise (in constant time per secret). */
  authenticate(id: string, secret: string): Promise<RelayInstallation | undefined>;
}

export function createRelayInstallations(records: RecordsDatabase, options: { now?: () => Date } = {}): RelayInstallations {
  const now = options.now ?? (() => new Date());
  const row = (id: string) => records.one<InstallationRow>('SELECT * FROM relay_installations WHERE id = $1', [id]);
  return {
    async get(id) {
      const r = await row(id);
      return r && installationOf(r);
    },
    async list() {
      return (await records.all<InstallationRow>('SELECT * FROM relay_installations ORDER BY id')).map(installationOf);
    },
    async create(input) {
      // 32 random bytes: nothing to brute-force, so a plain SHA-256 is the right way to keep it.
      const secret = randomBytes(32).toString('base64url');
      const createdAt = now().toISOString();
      try {
        await records.run('INSERT INTO relay_installations (id, name, callback_urls, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [
          input.id,
          input.name,
          JSON.stringify(input.callbackUrls),
          sha256(secret),
          createdAt,
        ]);
      } catch (err) {
        if (err instanceof UniqueViolation) throw new PlatformError('ZG_ERR_ADMIN_CONFLICT', 'exists', `A relay installation "${input.id}" is registered already`);
        throw err;
      }
      return { id: input.id, name: input.name, callbackUrls: input.callbackUrls, createdAt, secret };
    },
    async remove(id) {
      const r = await row(id);
      if (!r) return undefined;
      await records.run('DELETE FROM relay_installations WHERE id = $1', [id]);
      return installationOf(r);
    },
    async authenticate(id, secret) {
      const r = await row(id);
      if (!r) return undefined;
      const a = Buffer.from(sha256(secret));
      const b = Buffer.from(r.secret_hash);
      return a.length === b.length && timingSafeEqual(a, b) ? installationOf(r) : undefined;
    },
  };
}

interface StateRecord {
  installationId: string;
  redirectUri: string;
  state?: string;
}

/**
 * The installation name of the zones' own callbacks (`/login/callback/<origin>` on a zone's host):
 * not a registration (it cannot be one: ids start with a letter or digit), a rule. Their relay states
 * are issued in-process, never through the HTTP endpoint.
 */
export const ZONES_INSTALLATION = '$zones';

export interface ZoneCallbacks {
  uaaDomain: string;
  /** A zone's public base URL (the zones' publicUrlFor). */
  publicUrlFor(subdomain?: string): string;
}

/** Whether `url` is a zone's brokering callback: `<zone base URL>/login/callback/<origin>`, nothing else. */
export function isZoneCallback(zones: ZoneCallbacks, url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const suffix = `.${zones.uaaDomain}`;
  if (!parsed.hostname.endsWith(suffix) || parsed.search || parsed.hash || parsed.username || parsed.password) return false;
  const subdomain = parsed.hostname.slice(0, -suffix.length);
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(subdomain)) return false;
  const base = new URL(zones.publicUrlFor(subdomain));
  return parsed.origin === base.origin && /^\/login\/callback\/[A-Za-z0-9._-]{1,64}$/.test(parsed.pathname);
}

export interface Relay {
  /** Issues a relay state for an authenticated installation's authorization request. */
  issueState(req: IncomingMessage, input: { redirectUri: unknown; state: unknown }, relayUrl: string): Promise<{ state: string; redirect_uri: string; expires_in: number }>;
  /** Where the callback's answer goes: the installation's URL with code/error and its own state. */
  relayCallback(query: URLSearchParams): Promise<string>;
  /** A relay state for a zone's own brokering callback (in-process; see ZONES_INSTALLATION). */
  stateForZone(zoneCallbackUrl: string, zoneState: string): Promise<string>;
}

export const RELAYED_PARAMETERS = ['code', 'error', 'error_description', 'error_uri', 'iss'] as const;

export function createRelay(options: {
  installations: RelayInstallations;
  storage: Storage;
  /** ZONEGATE_SECRET_KEY, or how to get it when first needed (a gateway that never relays resolves no key for it). */
  secretKey: Uint8Array | (() => Uint8Array);
  audit: Audit;
  zones?: ZoneCallbacks;
  now?: () => number;
}): Relay {
  const { installations, storage, audit } = options;
  const now = options.now ?? Date.now;
  let derived: Uint8Array | undefined;
  const key = () => (derived ??= new Uint8Array(hkdfSync('sha256', typeof options.secretKey === 'function' ? options.secretKey() : options.secretKey, 'zonegate', 'relay state', 32)));
  const stateKey = (jti: string) => `relay:state:${jti}`;
  const invalidState = (reason: string, message = 'This answer cannot be delivered: its state is missing, invalid, expired or was used already. Start the sign-in again.') =>
    new PlatformError('ZG_ERR_RELAY_STATE_INVALID', reason, message);

  async function authenticated(req: IncomingMessage): Promise<RelayInstallation> {
    const header = req.headers.authorization ?? '';
    const challenge = { 'www-authenticate': 'Basic realm="zonegate relay"' };
    if (!/^basic /i.test(header)) throw new PlatformError('ZG_ERR_UNAUTHENTICATED', 'no_credentials', 'The installation\'s id and secret are required (HTTP Basic)', { headers: challenge });
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // RFC 6749 §2.3.1: id and secret are form-urlencoded inside Basic; a malformed escape is bad credentials, not a fault.
    let installation: RelayInstallation | undefined;
    try {
      installation = colon > 0 ? await installations.authenticate(decodeURIComponent(decoded.slice(0, colon)), decodeURIComponent(decoded.slice(colon + 1))) : undefined;
    } catch (err) {
      if (!(err instanceof URIError)) throw err;
    }
    if (!installation) throw new PlatformError('ZG_ERR_UNAUTHENTICATED', 'bad_credentials', 'Bad installation credentials', { headers: challenge });
    return installation;
  }

  async function sign(record: StateRecord): Promise<string> {
    const jti = randomBytes(16).toString('base64url');
    await storage.set(stateKey(jti), JSON.stringify(record), { ttlMs: RELAY_STATE_TTL_S * 1000 });
    const nowS = Math.floor(now() / 1000);
    return new SignJWT({ ins: record.installationId }).setProtectedHeader({ alg: 'HS256', typ: STATE_TYPE }).setJti(jti).setIssuedAt(nowS).setExpirationTime(nowS + RELAY_STATE_TTL_S).sign(key());
  }

  /** Where a state's record may still go: a registered installation's URL, or a zone's callback. */
  async function stillAllowed(record: StateRecord): Promise<boolean> {
    if (record.installationId === ZONES_INSTALLATION) return options.zones !== undefined && isZoneCallback(options.zones, record.redirectUri);
    const installation = await installations.get(record.installationId);
    return installation !== undefined && installation.callbackUrls.includes(record.redirectUri);
  }

  return {
    async stateForZone(zoneCallbackUrl, zoneState) {
      if (!options.zones || !isZoneCallback(options.zones, zoneCallbackUrl)) throw new RangeError(`${zoneCallbackUrl} is not a zone's callback`);
      const state = await sign({ installationId: ZONES_INSTALLATION, redirectUri: zoneCallbackUrl, state: zoneState });
      audit.success('relay.state', { installation: ZONES_INSTALLATION });
      return state;
    },

    async issueState(req, input, relayUrl) {
      let installationId: string | undefined;
      try {
        const installation = await authenticated(req);
        installationId = installation.id;
        if (typeof input.redirectUri !== 'string' || !installation.callbackUrls.includes(input.redirectUri)) {
          throw new PlatformError('ZG_ERR_BAD_REQUEST', 'redirect_uri', 'redirect_uri must be one of the installation\'s registered callback URLs, exactly');
        }
        if (input.state !== undefined && (typeof input.state !== 'string' || input.state.length > 1024)) throw badRequest('state must be a string of at most 1024 characters');
        const state = await sign({ installationId: installation.id, redirectUri: input.redirectUri, ...(input.state !== undefined ? { state: input.state as string } : {}) });
        audit.success('relay.state', { installation: installation.id });
        return { state, redirect_uri: relayUrl, expires_in: RELAY_STATE_TTL_S };
      } catch (err) {
        if (err instanceof PlatformError) audit.refused('relay.state', err.reason, { installation: installationId, message: err.message });
        throw err;
      }
    },

    async relayCallback(query) {
      let installationId: string | undefined;
      try {
        const states = query.getAll('state');
        if (states.length !== 1 || !states[0]) throw invalidState('no_state');
        let jti: string;
        let claimed: string;
        try {
          const { payload } = await jwtVerify(states[0], key(), { algorithms: ['HS256'], typ: STATE_TYPE, requiredClaims: ['jti', 'exp'], currentDate: new Date(now()) });
          jti = String(payload.jti);
          claimed = String(payload.ins);
        } catch (err) {
          throw invalidState(err instanceof joseErrors.JWTExpired ? 'expired' : 'forged');
        }
        installationId = claimed;
        // Checked before the state is spent: a malformed answer leaves it to the genuine one.
        for (const name of RELAYED_PARAMETERS) if (query.getAll(name).length > 1) throw invalidState('repeated', `The parameter ${name} is repeated`);
        if (!query.has('code') && !query.has('error')) throw invalidState('no_answer', 'The answer carries neither code nor error.');
        const raw = await storage.take(stateKey(jti));
        if (raw === undefined) throw invalidState('used_or_unknown');
        const record = JSON.parse(raw) as StateRecord;
        if (record.installationId !== claimed) throw invalidState('mismatch');
        if (!(await stillAllowed(record))) throw invalidState('unregistered', 'The installation this answer is for is no longer registered with the relay.');
        const target = new URL(record.redirectUri);
        for (const name of RELAYED_PARAMETERS) {
          const value = query.get(name);
          if (value !== null) target.searchParams.set(name, value);
        }
        if (record.state !== undefined) target.searchParams.set('state', record.state);
        else target.searchParams.delete('state');
        audit.success('relay.callback', { installation: record.installationId, answer: query.has('code') ? 'code' : 'error' });
        return target.href;
      } catch (err) {
        if (err instanceof PlatformError) audit.refused('relay.callback', err.reason, { installation: installationId });
        throw err;
      }
    },
  };
}
