/**
 * The further clients of the applications on the records database (migration 5, `oauth_clients`).
 *
 * Secrets: 32 random bytes (as the applications' own), verified against a SHA-256 digest and kept
 * sealed with ZONEGATE_SECRET_KEY under the associated data `client:<client id>`
 * (../directory/client-secret.ts), so a database dump yields none. A secret is handed out once, in
 * the answer that made it (creation, rotation), and never again: nothing here returns a stored one.
 *
 * Rotation keeps the old secret valid for a grace period (UAA's `changeMode: ADD` keeps two secrets
 * until a `DELETE`; here the second one also expires by itself), so the client's servers can be
 * switched over one by one without an outage.
 */
import { UniqueViolation, type Queries, type RecordsDatabase } from '../../records/types.js';
import { ADMIN_XSAPPNAME } from '../directory/admin-client.js';
import { digestSecret, generateClientSecret, sealSecret, secretMatchesDigest } from '../directory/client-secret.js';
import { DirectoryError } from '../directory/errors.js';
import type { ClientInput, OAuthClient } from './types.js';

/** A day: long enough to roll a secret out to every server of a client; a week at most would also do. */
export const DEFAULT_SECRET_GRACE_SECONDS = 86_400;
export const MAX_SECRET_GRACE_SECONDS = 30 * 86_400;

type ClientRow = {
  client_id: string;
  xsappname: string;
  client: string;
  source: string;
  secret_digest: string | null;
  previous_secret_digest: string | null;
  previous_secret_expires_at: number | string | null;
  created_at: string;
  updated_at: string;
};

const COLUMNS = 'client_id, xsappname, client, source, secret_digest, previous_secret_digest, previous_secret_expires_at, created_at, updated_at';

export interface SecretRotation {
  /** `ADD` (default): a new secret, the current one stays valid for `graceSeconds`. `DELETE`: the previous one stops now. */
  changeMode?: 'ADD' | 'DELETE';
  /** 0 to MAX_SECRET_GRACE_SECONDS; default DEFAULT_SECRET_GRACE_SECONDS. */
  graceSeconds?: number;
}

export interface ClientStore {
  /** CLIENT_EXISTS for a taken id, APPLICATION_NOT_FOUND for an unregistered application. A confidential client gets its secret here, once. */
  create(input: ClientInput, source?: OAuthClient['source']): Promise<{ client: OAuthClient; clientSecret?: string }>;
  get(clientId: string): Promise<OAuthClient | undefined>;
  /**
   * Replaces a client's profile, keeping its secrets (UAA's PUT /oauth/clients/{id}); a client made
   * public loses them. CLIENT_NOT_FOUND; INVALID_INPUT when it would move to another application.
   */
  update(input: ClientInput): Promise<OAuthClient>;
  /** Every client, or an application's; ordered by client id. */
  list(xsappname?: string): Promise<OAuthClient[]>;
  /** The removed client, or undefined when there was none. */
  remove(clientId: string): Promise<OAuthClient | undefined>;
  /** CLIENT_NOT_FOUND; INVALID_INPUT for a public client (it has no secret). `clientSecret` is the new one (ADD). */
  rotateSecret(clientId: string, rotation?: SecretRotation): Promise<{ client: OAuthClient; clientSecret?: string }>;
  /** Constant-time: the current secret, or the previous one within its grace period. */
  verifySecret(clientId: string, secret: string): Promise<boolean>;
  /**
   * Makes the application's clients from clients.json exactly `inputs`: creates the new ones (a
   * confidential one without a secret until its first rotation), updates the others keeping their
   * secrets, removes those of the file no longer listed. Clients made through the admin API stay,
   * unless the file names one: then the file's declaration takes it over. CLIENT_EXISTS when the file
   * names another application's client.
   */
  applyDeclared(xsappname: string, inputs: readonly ClientInput[]): Promise<{ created: string[]; updated: string[]; removed: string[]; withoutSecret: string[] }>;
}

function clientOf(row: ClientRow): OAuthClient {
  const stored = JSON.parse(row.client) as ClientInput;
  const expires = row.previous_secret_expires_at === null ? undefined : Number(row.previous_secret_expires_at);
  return {
    ...stored,
    clientId: row.client_id,
    xsappname: row.xsappname,
    source: row.source === 'file' ? 'file' : 'api',
    hasSecret: row.secret_digest !== null,
    ...(expires !== undefined && row.previous_secret_digest !== null ? { previousSecretExpiresAt: expires } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The profile as stored: the input without what has columns of its own. */
function profileJson(input: ClientInput): string {
  const { clientId: _id, xsappname: _app, ...profile } = input;
  return JSON.stringify(profile);
}

const secretContext = (clientId: string) => `client:${clientId}`;

export function createClientStore(records: RecordsDatabase, options: { secretKey?: Uint8Array; now?: () => number } = {}): ClientStore {
  const now = options.now ?? Date.now;
  const notFound = (clientId: string) => new DirectoryError('CLIENT_NOT_FOUND', `Client ${clientId} does not exist`);
  const exists = (clientId: string) => new DirectoryError('CLIENT_EXISTS', `A client with id "${clientId}" already exists`);

  async function row(queries: Queries, clientId: string, lock = false): Promise<ClientRow | undefined> {
    return queries.one<ClientRow>(`SELECT ${COLUMNS} FROM oauth_clients WHERE client_id = $1${lock ? ' FOR UPDATE' : ''}`, [clientId]);
  }

  /** The application's row, locked to the end of the transaction: it cannot go while its client is written. */
  async function requireApplication(tx: Queries, xsappname: string): Promise<void> {
    const found = xsappname !== ADMIN_XSAPPNAME && (await tx.one('SELECT xsappname FROM applications WHERE xsappname = $1 FOR UPDATE', [xsappname]));
    if (!found) throw new DirectoryError('APPLICATION_NOT_FOUND', `Application ${xsappname} is not registered`);
  }

  function newSecret(clientId: string): { secret: string; digest: string; sealed: string } {
    const secret = generateClientSecret();
    return { secret, digest: digestSecret(secret), sealed: JSON.stringify(sealSecret(secret, options.secretKey, secretContext(clientId))) };
  }

  async function insert(tx: Queries, input: ClientInput, source: OAuthClient['source'], withSecret: boolean): Promise<string | undefined> {
    const at = new Date(now()).toISOString();
    const secret = withSecret && !input.public ? newSecret(input.clientId) : undefined;
    await tx.run(
      `INSERT INTO oauth_clients (client_id, xsappname, client, source, secret_digest, sealed_secret, previous_secret_digest, previous_secret_expires_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, $7)`,
      [input.clientId, input.xsappname, profileJson(input), source, secret?.digest ?? null, secret?.sealed ?? null, at],
    );
    return secret?.secret;
  }

  async function create(input: ClientInput, source: OAuthClient['source'] = 'api') {
    try {
      const clientSecret = await records.transaction(async (tx) => {
        await requireApplication(tx, input.xsappname);
        return insert(tx, input, source, true);
      });
      const client = (await get(input.clientId))!;
      return clientSecret === undefined ? { client } : { client, clientSecret };
    } catch (err) {
      if (err instanceof UniqueViolation) throw exists(input.clientId);
      throw err;
    }
  }

  async function get(clientId: string): Promise<OAuthClient | undefined> {
    const r = await row(records, clientId);
    return r && clientOf(r);
  }

  async function update(input: ClientInput): Promise<OAuthClient> {
    await records.transaction(async (tx) => {
      const r = await row(tx, input.clientId, true);
      if (!r) throw notFound(input.clientId);
      if (r.xsappname !== input.xsappname) throw new DirectoryError('INVALID_INPUT', `Client ${input.clientId} belongs to ${r.xsappname}; a client cannot move to another application`);
      const clearSecrets = input.public ? ', secret_digest = NULL, sealed_secret = NULL, previous_secret_digest = NULL, previous_secret_expires_at = NULL' : '';
      await tx.run(`UPDATE oauth_clients SET client = $1, updated_at = $2${clearSecrets} WHERE client_id = $3`, [profileJson(input), new Date(now()).toISOString(), input.clientId]);
    });
    return (await get(input.clientId))!;
  }

  async function list(xsappname?: string): Promise<OAuthClient[]> {
    const rows = await records.all<ClientRow>(`SELECT ${COLUMNS} FROM oauth_clients${xsappname === undefined ? '' : ' WHERE xsappname = $1'}`, xsappname === undefined ? [] : [xsappname]);
    // Sorted here: PostgreSQL's ORDER BY follows the database's collation, SQLite's the bytes.
    return rows.map(clientOf).sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  }

  async function remove(clientId: string): Promise<OAuthClient | undefined> {
    return records.transaction(async (tx) => {
      const r = await row(tx, clientId, true);
      if (!r) return undefined;
      await tx.run('DELETE FROM oauth_clients WHERE client_id = $1', [clientId]);
      return clientOf(r);
    });
  }

  async function rotateSecret(clientId: string, rotation: SecretRotation = {}) {
    const mode = rotation.changeMode ?? 'ADD';
    const grace = rotation.graceSeconds ?? DEFAULT_SECRET_GRACE_SECONDS;
    if (mode !== 'ADD' && mode !== 'DELETE') throw new DirectoryError('INVALID_INPUT', 'changeMode must be ADD or DELETE');
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_SECRET_GRACE_SECONDS) {
      throw new DirectoryError('INVALID_INPUT', `graceSeconds must be a whole number from 0 to ${MAX_SECRET_GRACE_SECONDS}`);
    }
    const clientSecret = await records.transaction(async (tx) => {
      const r = await row(tx, clientId, true);
      if (!r) throw notFound(clientId);
      const current = clientOf(r);
      if (current.public) throw new DirectoryError('INVALID_INPUT', `Client ${clientId} is public: it has no secret and proves itself with PKCE`);
      const at = new Date(now()).toISOString();
      if (mode === 'DELETE') {
        await tx.run('UPDATE oauth_clients SET previous_secret_digest = NULL, previous_secret_expires_at = NULL, updated_at = $1 WHERE client_id = $2', [at, clientId]);
        return undefined;
      }
      const secret = newSecret(clientId);
      // The secret in use stays valid for the grace period; one rotated out before is replaced.
      const keepPrevious = r.secret_digest !== null && grace > 0;
      await tx.run(
        `UPDATE oauth_clients SET secret_digest = $1, sealed_secret = $2, previous_secret_digest = $3, previous_secret_expires_at = $4, updated_at = $5
         WHERE client_id = $6`,
        [secret.digest, secret.sealed, keepPrevious ? r.secret_digest : null, keepPrevious ? now() + grace * 1000 : null, at, clientId],
      );
      return secret.secret;
    });
    const client = (await get(clientId))!;
    return clientSecret === undefined ? { client } : { client, clientSecret };
  }

  async function verifySecret(clientId: string, secret: string): Promise<boolean> {
    const r = await row(records, clientId);
    // Both digests are compared whatever the first says, and a missing one against one that cannot match.
    const decoy = digestSecret(generateClientSecret());
    const current = secretMatchesDigest(secret, r?.secret_digest ?? decoy);
    const previousLive = r?.previous_secret_digest != null && r.previous_secret_expires_at !== null && Number(r.previous_secret_expires_at) > now();
    const previous = secretMatchesDigest(secret, previousLive ? r!.previous_secret_digest! : decoy);
    return r !== undefined && r.secret_digest !== null && (current || (previousLive && previous));
  }

  async function applyDeclared(xsappname: string, inputs: readonly ClientInput[]) {
    return records.transaction(async (tx) => {
      await requireApplication(tx, xsappname);
      const result = { created: [] as string[], updated: [] as string[], removed: [] as string[], withoutSecret: [] as string[] };
      const at = new Date(now()).toISOString();
      for (const input of inputs) {
        const existing = await row(tx, input.clientId, true);
        if (existing && existing.xsappname !== xsappname) {
          throw new DirectoryError('CLIENT_EXISTS', `clients.json declares "${input.clientId}", a client of the application ${existing.xsappname}`);
        }
        if (!existing) {
          // No secret from a file: the operator gets one with `zonegate clients rotate-secret`, printed once.
          await insert(tx, { ...input, xsappname }, 'file', false);
          result.created.push(input.clientId);
          if (!input.public) result.withoutSecret.push(input.clientId);
          continue;
        }
        const becamePublic = input.public;
        const changed = existing.client !== profileJson({ ...input, xsappname }) || existing.source !== 'file';
        if (changed) {
          // A client declared public now keeps no secret.
          await tx.run(
            `UPDATE oauth_clients SET client = $1, source = 'file', updated_at = $2${becamePublic ? ', secret_digest = NULL, sealed_secret = NULL, previous_secret_digest = NULL, previous_secret_expires_at = NULL' : ''} WHERE client_id = $3`,
            [profileJson({ ...input, xsappname }), at, input.clientId],
          );
          result.updated.push(input.clientId);
        }
        if (!input.public && existing.secret_digest === null) result.withoutSecret.push(input.clientId);
      }
      const declared = new Set(inputs.map((i) => i.clientId));
      const fileClients = await tx.all<{ client_id: string }>(`SELECT client_id FROM oauth_clients WHERE xsappname = $1 AND source = 'file'`, [xsappname]);
      for (const { client_id } of fileClients) {
        if (declared.has(client_id)) continue;
        await tx.run('DELETE FROM oauth_clients WHERE client_id = $1', [client_id]);
        result.removed.push(client_id);
      }
      result.removed.sort();
      return result;
    });
  }

  return { create, get, update, list, remove, rotateSecret, verifySecret, applyDeclared };
}
