/**
 * The installation row (schema version 2, src/records/schema.ts): one row, id 'installation', that the
 * first start against a records database writes. It answers two questions no other table can:
 *  - "is this still the database this instance started with?" A database wiped (the schema dropped,
 *    the row deleted) or replaced (DATABASE_URL pointed at another one, a restore of another
 *    installation) under a running instance has no row, or another `installation_id`: /readyz then
 *    says `records-lost` (src/server/readiness.ts) instead of every tenant answering "not subscribed".
 *  - "was it set up with this ZONEGATE_SECRET_KEY?" `secret_key_check` is an HMAC of a fixed label
 *    under the key (never the key, nor anything it seals), so an instance started with another key
 *    refuses to start, naming the variable, instead of failing later on the first sealed signing key
 *    or client secret it opens.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { sameSecret } from '../constant-time.js';
import type { RecordsDatabase } from './types.js';

const ROW_ID = 'installation';

/** What the HMAC is computed over. Changing it would make every existing installation refuse its own key. */
const CHECK_LABEL = 'zonegate installation secret-key check v1';

export interface Installation {
  /** A random id written once: another id (or none) later means another database. */
  readonly id: string;
  readonly createdAt: string;
  /** True when this call wrote the row: the database had never been started against. */
  readonly created: boolean;
}

/** Why an instance must not start on this database; the caller names the database and prints it. */
export class SecretKeyMismatch extends Error {
  /** When the database was set up (the row's created_at). */
  readonly initialisedAt: string;
  constructor(initialisedAt: string) {
    super(`the records database was set up on ${initialisedAt} with another secret key`);
    this.name = 'SecretKeyMismatch';
    this.initialisedAt = initialisedAt;
  }
}

/** HMAC-SHA256 of the fixed label under the secret key, base64url: tells keys apart, reveals nothing of them. */
export function secretKeyCheck(secretKey: Uint8Array): string {
  return createHmac('sha256', secretKey).update(CHECK_LABEL).digest('base64url');
}

/**
 * Writes the installation row if there is none and reads the one that counts: of instances starting
 * together against an empty database, one insert wins (ON CONFLICT DO NOTHING) and all of them read
 * and agree on it. With `secretKey`, its check must match the row's, else SecretKeyMismatch; a row
 * written without one (an instance that seals nothing: an external XSUAA bound, SESSION_KEYS set)
 * takes the first key that comes along.
 */
export async function claimInstallation(db: RecordsDatabase, options: { secretKey?: Uint8Array; now?: () => Date } = {}): Promise<Installation> {
  const check = options.secretKey ? secretKeyCheck(options.secretKey) : null;
  const createdAt = (options.now?.() ?? new Date()).toISOString();
  const inserted = await db.run(
    'INSERT INTO installation (id, installation_id, created_at, secret_key_check) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING',
    [ROW_ID, randomUUID(), createdAt, check],
  );
  if (check !== null && inserted === 0) {
    await db.run('UPDATE installation SET secret_key_check = $1 WHERE id = $2 AND secret_key_check IS NULL', [check, ROW_ID]);
  }
  const row = await readRow(db);
  if (!row) throw new Error('the installation row written a moment ago is gone: something else deletes from this database');
  if (check !== null && row.secret_key_check !== null && !sameSecret(row.secret_key_check, check)) {
    throw new SecretKeyMismatch(row.created_at);
  }
  return { id: row.installation_id, createdAt: row.created_at, created: inserted === 1 };
}

/**
 * Whether the database still holds the installation this instance started with: false when the row
 * (or its table) is gone or has another id. Rejects with ZG_ERR_DATABASE_UNAVAILABLE when the
 * database cannot be asked: that is an outage, not a loss.
 */
export async function installationIntact(db: RecordsDatabase, installation: Pick<Installation, 'id'>): Promise<boolean> {
  let row: InstallationRow | undefined;
  try {
    row = await readRow(db);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ZG_ERR_DATABASE_UNAVAILABLE') throw err;
    // No such table (a dropped schema, a database another tool re-created): not the one we started on.
    return false;
  }
  return row?.installation_id === installation.id;
}

interface InstallationRow extends Record<string, unknown> {
  installation_id: string;
  created_at: string;
  secret_key_check: string | null;
}

function readRow(db: RecordsDatabase): Promise<InstallationRow | undefined> {
  return db.one<InstallationRow>('SELECT installation_id, created_at, secret_key_check FROM installation WHERE id = $1', [ROW_ID]);
}
