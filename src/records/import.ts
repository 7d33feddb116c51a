/**
 * `zonegate db import` (issue 19, "Moving existing data"): copies the records that earlier releases
 * kept in the key/TTL Storage (the SQLite store file or Redis) into the records database, once.
 *
 * The old keyspace (written by the directory on Storage, git 7659310 src/zones/directory/directory.ts,
 * the keystore and provisioning before issue 19):
 *   dir:zones (index) → dir:zone:<id>                      Zone
 *   dir:users:<zone> (index) → dir:user:<zone>:<userId>    { user: User, passwordHash? }
 *   dir:rcs:<zone> (index) → dir:rc:<zone>:<name>          { name, roleTemplates }
 *   dir:apps (index) → dir:app:<xsappname>                 { application, secretDigest, secret: StoredSecret }
 *   dir:app:zonegate-admin                                 the admin client (in no index)
 *   dir:subs:<xsappname> (index), dir:sub:<xsappname>:<zone> the subscription (the marker decides)
 *   dir:app-seq                                            the last instance number N handed out
 *   zkeys:<zone>                                           { activeKid, keys: [{ kid, sealedPem? | privatePem?, createdAt, publishUntil? }] }
 *   prov:tenant:<tenantId>                                 TenantRecord
 * Claims (dir:subdomain:*, dir:username:*, dir:client:*) and dir:zone-apps:* are derived: the
 * records database's constraints and queries replace them, so they are not read.
 *
 * Behaviour:
 * - Idempotent, and never overwriting: every row is inserted, and a UNIQUE or PRIMARY KEY violation
 *   (UniqueViolation, under a savepoint so the transaction goes on) is then told apart by reading the
 *   row it met: the same content is "already present", anything else a conflict, named in the
 *   report; the database keeps its row. No read-then-write: two imports at once cannot both copy.
 * - Applications first (each with its instance number, in a transaction that raises the counter of
 *   `<xsappname>!t<N>` to at least N, and at the end to dir:app-seq: a number the old store handed out
 *   is never handed out again), then one transaction per zone with its tenant record, role
 *   collections, users and their assignments, subscriptions and signing keys: a failure leaves no
 *   half zone. A failure that is not a conflict (the database goes away) ends the run; what was
 *   committed stays, and the next run goes on from there.
 * - Secrets: client secrets are copied sealed as they are; one kept in clear (written without a secret
 *   key) is sealed now when a key is configured. Signing keys are always stored sealed when a key is
 *   configured (a clear `privatePem` of releases before sealing, or `alg: none`, is sealed with the
 *   associated data `zkeys:<zone>:<kid>`). A sealed secret or key that does not open with the
 *   configured key, or a client secret that no longer matches its digest, is not copied (it could
 *   never be used) and is listed as unreadable. Password hashes are copied as they are (scrypt,
 *   self-describing). Nothing secret is ever in the report.
 * - The store is only read; the operator deletes the old keys once satisfied.
 *
 * Where the old keyspace and the schema do not map one to one:
 * - Index members whose record is gone (a crash between two writes of the old directory) are skipped
 *   silently, as the old directory skipped them; records outside every index were unreachable then
 *   and are not looked for (the Storage contract cannot list keys).
 * - Signing keys and tenant records are read for the zones of dir:zones: the old keystore and
 *   provisioning kept no index of their own. Keys of deleted zones were deleted with them; a tenant
 *   record without a zone (a subscription that failed half-way) would be finished or removed by the
 *   registry's retry, which needs no record when there is no zone.
 * - A user without an origin (records older than origins) gets `sap.default`, and one without
 *   attributes `{}`, as the old directory answered them.
 * - A zone whose id is free but whose subdomain another zone holds in the database is a conflict, and
 *   its users, collections, subscriptions, keys and tenant record are conflicts with it ("its zone is
 *   not in the database"). A zone whose id is in the database with other details (a renamed zone) is
 *   a conflict too, but its contents are imported into that zone.
 * - A subscription to an application that conflicts is a conflict: it would subscribe the zone to
 *   another instance of the same name.
 * - A signing key that would be a second active key of a zone (the database already has another
 *   active key for it, e.g. an instance started on the database before the import) is a conflict.
 */
import { createPrivateKey } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Storage } from '../storage/types.js';
import { ADMIN_XSAPPNAME } from '../zones/directory/admin-client.js';
import { digestSecret, openSecret, sealSecret, type StoredSecret } from '../zones/directory/client-secret.js';
import type { Application, User, Zone } from '../zones/directory/types.js';
import { UniqueViolation, type Queries, type RecordsDatabase, type Row, type SqlValue } from './types.js';

export const IMPORT_KINDS = ['zones', 'users', 'roleCollections', 'applications', 'subscriptions', 'signingKeys', 'tenants'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

/** How an operator reads each kind in the report. */
export const IMPORT_KIND_LABELS: Readonly<Record<ImportKind, string>> = {
  zones: 'zones',
  users: 'users',
  roleCollections: 'role collections',
  applications: 'applications',
  subscriptions: 'subscriptions',
  signingKeys: 'signing keys',
  tenants: 'tenants',
};

export interface ImportCounts {
  copied: number;
  /** Found in the database with the same content: nothing to do. */
  present: number;
  /** Found in the database with other content, or blocked by another row: not copied. */
  conflicts: number;
}

export interface ImportConflict {
  kind: ImportKind;
  /** The record as an operator names it: `zone acme (id 1f0...)`, `user alice@example.com in zone acme`. */
  name: string;
  reason: string;
}

export interface ImportReport {
  counts: Record<ImportKind, ImportCounts>;
  conflicts: ImportConflict[];
  /** Records of the store that cannot be copied as they are (not JSON, a secret that does not open): the key and why. */
  unreadable: { key: string; reason: string }[];
  /** The counter of `<xsappname>!t<N>` after the import: the next registration gets N + 1. Undefined when none. */
  lastInstanceNumber: number | undefined;
}

export interface ImportOptions {
  /** ZONEGATE_SECRET_KEY (32 bytes): opens the store's sealed secrets and keys, seals the clear ones. */
  secretKey?: Uint8Array;
}

interface StoredUser {
  user: User;
  passwordHash?: string;
}

interface StoredApplication {
  application: Application;
  secretDigest: string;
  secret: StoredSecret;
}

interface StoredKey {
  kid: string;
  sealedPem?: StoredSecret;
  privatePem?: string;
  createdAt: number;
  publishUntil?: number;
}

interface StoredKeySet {
  activeKid: string;
  keys: StoredKey[];
}

interface TenantRecord {
  tenantId: string;
  subdomain: string;
  subscribedAt: string;
  updatedAt: string;
  globalAccountId?: string;
  subscriptionAppName?: string;
  admin?: string;
}

type RoleCollection = { name: string; roleTemplates: string[] };

/** What the database answered for one record. */
type Outcome = { status: 'copied' } | { status: 'present' } | { status: 'conflict'; reason: string };

/** The store's record that did not read: its key and why. */
class Unreadable extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(reason);
  }
}

const DEFAULT_ORIGIN = 'sap.default';
const INSTANCE_COUNTER = 'instance_number';
const SAVEPOINT = 'zg_import';

const keySealContext = (zoneId: string, kid: string) => `zkeys:${zoneId}:${kid}`;

function emptyCounts(): Record<ImportKind, ImportCounts> {
  return Object.fromEntries(IMPORT_KINDS.map((k) => [k, { copied: 0, present: 0, conflicts: 0 }])) as Record<ImportKind, ImportCounts>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isStoredSecret(value: unknown): value is StoredSecret {
  if (!isObject(value)) return false;
  if (value.alg === 'none') return typeof value.value === 'string';
  return value.alg === 'A256GCM' && typeof value.iv === 'string' && typeof value.tag === 'string' && typeof value.data === 'string';
}

/** Reads a JSON record of the store and checks its shape; undefined when the key is absent. */
async function readJson<T>(storage: Storage, key: string, check: (value: unknown) => string | undefined): Promise<T | undefined> {
  const raw = await storage.get(key);
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Unreadable(key, 'not JSON');
  }
  const problem = check(value);
  if (problem !== undefined) throw new Unreadable(key, problem);
  return value as T;
}

function missing(value: Record<string, unknown>, fields: readonly string[]): string | undefined {
  const absent = fields.filter((f) => typeof value[f] !== 'string');
  return absent.length === 0 ? undefined : `no ${absent.join(', ')}`;
}

const checkZone = (v: unknown) => (isObject(v) ? missing(v, ['id', 'subdomain', 'name', 'createdAt']) : 'not an object');
const checkRoleCollection = (v: unknown) => (isObject(v) && typeof v.name === 'string' && isStringArray(v.roleTemplates) ? undefined : 'not a role collection');
const checkTenant = (v: unknown) => (isObject(v) ? missing(v, ['tenantId', 'subdomain', 'subscribedAt', 'updatedAt']) : 'not an object');

function checkUser(v: unknown): string | undefined {
  if (!isObject(v) || !isObject(v.user)) return 'not a user record';
  const user = v.user;
  if (v.passwordHash !== undefined && typeof v.passwordHash !== 'string') return 'passwordHash is not a string';
  if (user.roleCollections !== undefined && !isStringArray(user.roleCollections)) return 'roleCollections is not a list of names';
  if (user.attributes !== undefined && !isObject(user.attributes)) return 'attributes is not an object';
  return missing(user, ['id', 'userName', 'email']);
}

function checkApplication(v: unknown): string | undefined {
  if (!isObject(v) || !isObject(v.application)) return 'not an application record';
  if (typeof v.secretDigest !== 'string' || !isStoredSecret(v.secret)) return 'no client secret';
  const a = v.application;
  if (a.tenantMode !== 'shared' && a.tenantMode !== 'dedicated') return 'tenantMode is neither shared nor dedicated';
  return missing(a, ['xsappname', 'instanceName', 'clientId', 'providerZoneId']);
}

function checkKeySet(v: unknown): string | undefined {
  if (!isObject(v) || typeof v.activeKid !== 'string' || !Array.isArray(v.keys)) return 'not a key set';
  for (const k of v.keys as unknown[]) {
    if (!isObject(k) || typeof k.kid !== 'string' || typeof k.createdAt !== 'number') return 'a key without kid or createdAt';
    if (k.publishUntil !== undefined && typeof k.publishUntil !== 'number') return `key ${k.kid}: publishUntil is not a number`;
    if (k.sealedPem !== undefined ? !isStoredSecret(k.sealedPem) : typeof k.privatePem !== 'string') return `key ${k.kid} has no key material`;
  }
  if (!(v.keys as StoredKey[]).some((k) => k.kid === v.activeKid)) return `the active key ${v.activeKid} is not in the set`;
  return undefined;
}

/**
 * Inserts one row under a savepoint: resolves with the UniqueViolation that refused it (the
 * transaction goes on; PostgreSQL would otherwise abort it), or undefined when the row went in.
 */
async function insertRow(tx: Queries, sql: string, params: readonly SqlValue[]): Promise<UniqueViolation | undefined> {
  await tx.run(`SAVEPOINT ${SAVEPOINT}`);
  try {
    await tx.run(sql, params);
  } catch (err) {
    if (!(err instanceof UniqueViolation)) throw err;
    await tx.run(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    await tx.run(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    return err;
  }
  await tx.run(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  return undefined;
}

/**
 * Insert, and only when refused, look at what refused it: the row of the same key (the same content is
 * "present", other content a conflict), or another row holding a unique value (`heldBy` says which).
 */
async function copyRow<T extends Row>(
  tx: Queries,
  insert: { sql: string; params: readonly SqlValue[] },
  existing: () => Promise<T | undefined>,
  same: (row: T) => boolean | Promise<boolean>,
  heldBy: (violation: UniqueViolation) => Promise<string>,
): Promise<Outcome> {
  const violation = await insertRow(tx, insert.sql, insert.params);
  if (violation === undefined) return { status: 'copied' };
  const row = await existing();
  if (row !== undefined) return (await same(row)) ? { status: 'present' } : { status: 'conflict', reason: 'the database holds it with other content' };
  return { status: 'conflict', reason: await heldBy(violation) };
}

const jsonEqual = (text: string | null, value: unknown) => isDeepStrictEqual(text === null ? undefined : JSON.parse(text), value);

/** The instance number N of `<xsappname>!t<N>`; null for the admin client. */
function instanceNumberOf(application: Application): number | null | undefined {
  if (application.xsappname === ADMIN_XSAPPNAME) return null;
  const match = /!t(\d+)$/.exec(application.instanceName);
  return match ? Number(match[1]) : undefined;
}

/** Copies the store's records into the (migrated) records database; see the module comment. */
export async function importRecords(source: Storage, target: RecordsDatabase, options: ImportOptions = {}): Promise<ImportReport> {
  const { secretKey } = options;
  const report: ImportReport = { counts: emptyCounts(), conflicts: [], unreadable: [], lastInstanceNumber: undefined };
  const count = (kind: ImportKind, name: string, outcome: Outcome) => {
    if (outcome.status === 'copied') report.counts[kind].copied++;
    else if (outcome.status === 'present') report.counts[kind].present++;
    else {
      report.counts[kind].conflicts++;
      report.conflicts.push({ kind, name, reason: outcome.reason });
    }
  };
  /** Reads one record; an unreadable one is reported and yields undefined. */
  const read = async <T>(work: () => Promise<T | undefined>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (err) {
      if (!(err instanceof Unreadable)) throw err;
      report.unreadable.push({ key: err.key, reason: err.message });
      return undefined;
    }
  };
  const sorted = (names: string[]) => [...names].sort();

  // ---- applications, before the subscriptions that refer to them ---------------------------------
  const appNames = [...sorted(await source.listIndex('dir:apps')).filter((n) => n !== ADMIN_XSAPPNAME), ADMIN_XSAPPNAME];
  /** xsappnames whose row in the database is the store's: subscriptions to them may be copied. */
  const usableApps = new Set<string>();
  for (const xsappname of appNames) {
    const key = `dir:app:${xsappname}`;
    const stored = await read(() => readJson<StoredApplication>(source, key, checkApplication));
    if (!stored) continue;
    const prepared = await read(async () => prepareApplication(key, stored, secretKey));
    if (!prepared) continue;
    const { application } = stored;
    const outcome = await target.transaction(async (tx) => {
      const result = await copyRow<{ instance_number: number | null; client_id: string; provider_zone_id: string; tenant_mode: string; application: string; secret_digest: string }>(
        tx,
        {
          sql: `INSERT INTO applications (xsappname, instance_number, client_id, provider_zone_id, tenant_mode, application, secret_digest, sealed_secret)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          params: [
            application.xsappname,
            prepared.instanceNumber,
            application.clientId,
            application.providerZoneId,
            application.tenantMode,
            JSON.stringify(application),
            stored.secretDigest,
            JSON.stringify(prepared.secret),
          ],
        },
        () => tx.one('SELECT instance_number, client_id, provider_zone_id, tenant_mode, application, secret_digest FROM applications WHERE xsappname = $1', [application.xsappname]),
        // The digest names the secret: a secret sealed anew (random IV) is still the same secret.
        (row) =>
          (row.instance_number === null ? null : Number(row.instance_number)) === prepared.instanceNumber &&
          row.client_id === application.clientId &&
          row.provider_zone_id === application.providerZoneId &&
          row.tenant_mode === application.tenantMode &&
          row.secret_digest === stored.secretDigest &&
          jsonEqual(row.application, application),
        async (violation) => {
          const byClient = await tx.one<{ xsappname: string }>('SELECT xsappname FROM applications WHERE client_id = $1', [application.clientId]);
          if (byClient) return `its client id ${application.clientId} belongs to application ${byClient.xsappname} in the database`;
          const byNumber = await tx.one<{ xsappname: string }>('SELECT xsappname FROM applications WHERE instance_number = $1', [prepared.instanceNumber]);
          if (byNumber) return `its instance number ${prepared.instanceNumber} belongs to application ${byNumber.xsappname} in the database`;
          return `refused by ${violation.constraint ?? violation.message}`;
        },
      );
      if (prepared.instanceNumber !== null) await raiseInstanceCounter(tx, prepared.instanceNumber);
      return result;
    });
    if (outcome.status !== 'conflict') usableApps.add(xsappname);
    count('applications', `application ${application.instanceName}`, outcome);
  }
  const seq = await read(async () => {
    const raw = await source.get('dir:app-seq');
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw)) throw new Unreadable('dir:app-seq', 'not a number');
    return Number(raw);
  });
  if (seq !== undefined && seq > 0) await target.transaction((tx) => raiseInstanceCounter(tx, seq));
  const counter = await target.one<{ value: number }>('SELECT value FROM directory_counters WHERE name = $1', [INSTANCE_COUNTER]);
  report.lastInstanceNumber = counter === undefined ? undefined : Number(counter.value);

  // Subscriptions by zone: the marker decides, as the old directory's isSubscribed did.
  const subscriptionsOf = new Map<string, string[]>();
  for (const xsappname of appNames) {
    for (const zoneId of sorted(await source.listIndex(`dir:subs:${xsappname}`))) {
      if ((await source.get(`dir:sub:${xsappname}:${zoneId}`)) === undefined) continue;
      subscriptionsOf.set(zoneId, [...(subscriptionsOf.get(zoneId) ?? []), xsappname]);
    }
  }

  // ---- zones, each with everything in it, in one transaction --------------------------------------
  for (const id of sorted(await source.listIndex('dir:zones'))) {
    const zone = await read(() => readJson<Zone>(source, `dir:zone:${id}`, checkZone));
    if (!zone) continue;
    const contents = await readZoneContents(source, zone, subscriptionsOf.get(zone.id) ?? [], read, secretKey);
    const outcomes: { kind: ImportKind; name: string; outcome: Outcome }[] = [];
    await target.transaction(async (tx) => {
      outcomes.push(...(await copyZone(tx, zone, contents, usableApps, secretKey)));
    });
    for (const o of outcomes) count(o.kind, o.name, o.outcome);
  }
  return report;
}

/** The application's row values: its instance number, and the secret sealed as configured. */
function prepareApplication(key: string, stored: StoredApplication, secretKey: Uint8Array | undefined): { instanceNumber: number | null; secret: StoredSecret } {
  const { application } = stored;
  const instanceNumber = instanceNumberOf(application);
  if (instanceNumber === undefined) throw new Unreadable(key, `instance name ${application.instanceName} does not end in !t<N>`);
  let clear: string;
  try {
    clear = openSecret(stored.secret, secretKey, application.clientId);
  } catch {
    throw new Unreadable(key, `the client secret of ${application.clientId} does not open with the configured ZONEGATE_SECRET_KEY`);
  }
  if (digestSecret(clear) !== stored.secretDigest) throw new Unreadable(key, `the client secret of ${application.clientId} does not match its digest`);
  const secret = stored.secret.alg === 'none' && secretKey ? sealSecret(clear, secretKey, application.clientId) : stored.secret;
  return { instanceNumber, secret };
}

/** Raises the counter of `<xsappname>!t<N>` to at least `n`; never lowers it. */
async function raiseInstanceCounter(tx: Queries, n: number): Promise<void> {
  await tx.run(
    `INSERT INTO directory_counters (name, value) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET value = CASE WHEN directory_counters.value < excluded.value THEN excluded.value ELSE directory_counters.value END`,
    [INSTANCE_COUNTER, n],
  );
}

interface PreparedKey {
  kid: string;
  sealed: StoredSecret;
  pem: string;
  createdAt: number;
  publishUntil: number | null;
  active: boolean;
}

interface ZoneContents {
  tenant: TenantRecord | undefined;
  roleCollections: RoleCollection[];
  users: StoredUser[];
  subscriptions: string[];
  keys: PreparedKey[];
}

/** Everything of one zone, read from the store before its transaction starts. */
async function readZoneContents(
  source: Storage,
  zone: Zone,
  subscriptions: string[],
  read: <T>(work: () => Promise<T | undefined>) => Promise<T | undefined>,
  secretKey: Uint8Array | undefined,
): Promise<ZoneContents> {
  const defined = <T>(values: (T | undefined)[]) => values.filter((v): v is T => v !== undefined);
  const tenant = await read(() => readJson<TenantRecord>(source, `prov:tenant:${zone.id}`, checkTenant));
  const roleCollections: (RoleCollection | undefined)[] = [];
  for (const name of (await source.listIndex(`dir:rcs:${zone.id}`)).sort()) {
    roleCollections.push(await read(() => readJson<RoleCollection>(source, `dir:rc:${zone.id}:${name}`, checkRoleCollection)));
  }
  const users: (StoredUser | undefined)[] = [];
  for (const userId of (await source.listIndex(`dir:users:${zone.id}`)).sort()) {
    users.push(await read(() => readJson<StoredUser>(source, `dir:user:${zone.id}:${userId}`, checkUser)));
  }
  const keySetKey = `zkeys:${zone.id}`;
  const keySet = await read(() => readJson<StoredKeySet>(source, keySetKey, checkKeySet));
  const keys: (PreparedKey | undefined)[] = [];
  for (const key of keySet?.keys ?? []) keys.push(await read(async () => prepareKey(keySetKey, zone.id, key, key.kid === keySet!.activeKid, secretKey)));
  return { tenant, roleCollections: defined(roleCollections), users: defined(users), subscriptions, keys: defined(keys) };
}

/** A stored key as its row: sealed as configured, and checked to open and to be a private key. */
function prepareKey(storeKey: string, zoneId: string, key: StoredKey, active: boolean, secretKey: Uint8Array | undefined): PreparedKey {
  const context = keySealContext(zoneId, key.kid);
  let pem: string;
  if (key.sealedPem !== undefined) {
    try {
      pem = openSecret(key.sealedPem, secretKey, context);
    } catch {
      throw new Unreadable(storeKey, `the signing key ${key.kid} does not open with the configured ZONEGATE_SECRET_KEY`);
    }
  } else pem = key.privatePem!;
  try {
    createPrivateKey(pem);
  } catch {
    throw new Unreadable(storeKey, `the signing key ${key.kid} is not a private key`);
  }
  const sealed = key.sealedPem !== undefined && (key.sealedPem.alg !== 'none' || !secretKey) ? key.sealedPem : sealSecret(pem, secretKey, context);
  return { kid: key.kid, sealed, pem, createdAt: key.createdAt, publishUntil: key.publishUntil ?? null, active };
}

type ZoneRow = { id: string; subdomain: string; name: string; branding: string | null; created_at: string };
type UserRow = {
  user_name: string;
  origin: string;
  email: string;
  given_name: string | null;
  family_name: string | null;
  attributes: string;
  password_hash: string | null;
};
type KeyRow = { sealed_pem: string; created_at: number; publish_until: number | null; active: number };
type TenantRow = {
  subdomain: string;
  subscribed_at: string;
  updated_at: string;
  global_account_id: string | null;
  subscription_app_name: string | null;
  admin: string | null;
};

/** One zone and its contents, inside the zone's transaction; the outcomes, counted once it commits. */
async function copyZone(
  tx: Queries,
  zone: Zone,
  contents: ZoneContents,
  usableApps: ReadonlySet<string>,
  secretKey: Uint8Array | undefined,
): Promise<{ kind: ImportKind; name: string; outcome: Outcome }[]> {
  const outcomes: { kind: ImportKind; name: string; outcome: Outcome }[] = [];
  const where = `in zone ${zone.subdomain}`;
  const zoneOutcome = await copyRow<ZoneRow>(
    tx,
    {
      sql: 'INSERT INTO zones (id, subdomain, name, branding, created_at) VALUES ($1, $2, $3, $4, $5)',
      params: [zone.id, zone.subdomain, zone.name, zone.branding ? JSON.stringify(zone.branding) : null, zone.createdAt],
    },
    () => tx.one('SELECT id, subdomain, name, branding, created_at FROM zones WHERE id = $1', [zone.id]),
    (row) => row.subdomain === zone.subdomain && row.name === zone.name && row.created_at === zone.createdAt && jsonEqual(row.branding, zone.branding),
    async () => {
      const holder = await tx.one<{ id: string }>('SELECT id FROM zones WHERE subdomain = $1', [zone.subdomain]);
      return `its subdomain is taken by zone ${holder?.id ?? '(another)'} in the database`;
    },
  );
  outcomes.push({ kind: 'zones', name: `zone ${zone.subdomain} (id ${zone.id})`, outcome: zoneOutcome });
  const zoneThere = zoneOutcome.status !== 'conflict' || (await tx.one('SELECT 1 AS yes FROM zones WHERE id = $1', [zone.id])) !== undefined;
  const without: Outcome = { status: 'conflict', reason: 'its zone is not in the database' };

  if (contents.tenant) {
    const t = contents.tenant;
    const outcome = zoneThere
      ? await copyRow<TenantRow>(
          tx,
          {
            sql: `INSERT INTO tenants (tenant_id, subdomain, subscribed_at, updated_at, global_account_id, subscription_app_name, admin)
                  VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            params: [zone.id, t.subdomain, t.subscribedAt, t.updatedAt, t.globalAccountId ?? null, t.subscriptionAppName ?? null, t.admin ?? null],
          },
          () => tx.one('SELECT subdomain, subscribed_at, updated_at, global_account_id, subscription_app_name, admin FROM tenants WHERE tenant_id = $1', [zone.id]),
          (row) =>
            row.subdomain === t.subdomain &&
            row.subscribed_at === t.subscribedAt &&
            row.updated_at === t.updatedAt &&
            row.global_account_id === (t.globalAccountId ?? null) &&
            row.subscription_app_name === (t.subscriptionAppName ?? null) &&
            row.admin === (t.admin ?? null),
          async (v) => `refused by ${v.constraint ?? v.message}`,
        )
      : without;
    outcomes.push({ kind: 'tenants', name: `tenant ${zone.id} (${t.subdomain})`, outcome });
  }

  for (const rc of contents.roleCollections) {
    const outcome = zoneThere
      ? await copyRow<{ role_templates: string }>(
          tx,
          { sql: 'INSERT INTO role_collections (zone_id, name, role_templates) VALUES ($1, $2, $3)', params: [zone.id, rc.name, JSON.stringify(rc.roleTemplates)] },
          () => tx.one('SELECT role_templates FROM role_collections WHERE zone_id = $1 AND name = $2', [zone.id, rc.name]),
          (row) => jsonEqual(row.role_templates, rc.roleTemplates),
          async (v) => `refused by ${v.constraint ?? v.message}`,
        )
      : without;
    outcomes.push({ kind: 'roleCollections', name: `role collection "${rc.name}" ${where}`, outcome });
  }

  for (const { user, passwordHash } of contents.users) {
    const origin = user.origin ?? DEFAULT_ORIGIN;
    const attributes = user.attributes ?? {};
    const roleCollections = [...new Set(user.roleCollections ?? [])];
    const outcome = zoneThere
      ? await copyRow<UserRow>(
          tx,
          {
            sql: `INSERT INTO users (zone_id, id, user_name, user_name_lower, origin, email, given_name, family_name, attributes, password_hash)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
            params: [
              zone.id,
              user.id,
              user.userName,
              user.userName.toLowerCase(),
              origin,
              user.email,
              user.givenName ?? null,
              user.familyName ?? null,
              JSON.stringify(attributes),
              passwordHash ?? null,
            ],
          },
          () => tx.one('SELECT user_name, origin, email, given_name, family_name, attributes, password_hash FROM users WHERE zone_id = $1 AND id = $2', [zone.id, user.id]),
          async (row) => {
            const assigned = await tx.all<{ role_collection: string }>(
              'SELECT role_collection FROM user_role_collections WHERE zone_id = $1 AND user_id = $2 ORDER BY position, role_collection',
              [zone.id, user.id],
            );
            return (
              row.user_name === user.userName &&
              row.origin === origin &&
              row.email === user.email &&
              row.given_name === (user.givenName ?? null) &&
              row.family_name === (user.familyName ?? null) &&
              row.password_hash === (passwordHash ?? null) &&
              jsonEqual(row.attributes, attributes) &&
              isDeepStrictEqual(
                assigned.map((a) => a.role_collection),
                roleCollections,
              )
            );
          },
          async () => {
            const holder = await tx.one<{ id: string }>('SELECT id FROM users WHERE zone_id = $1 AND origin = $2 AND user_name_lower = $3', [
              zone.id,
              origin,
              user.userName.toLowerCase(),
            ]);
            return `its user name is taken by user ${holder?.id ?? '(another)'} in the database`;
          },
        )
      : without;
    if (outcome.status === 'copied') {
      for (const [position, name] of roleCollections.entries()) {
        await tx.run('INSERT INTO user_role_collections (zone_id, user_id, role_collection, position) VALUES ($1, $2, $3, $4)', [zone.id, user.id, name, position + 1]);
      }
    }
    outcomes.push({ kind: 'users', name: `user ${user.userName} (id ${user.id}) ${where}`, outcome });
  }

  for (const xsappname of contents.subscriptions) {
    let outcome: Outcome = without;
    if (zoneThere && !usableApps.has(xsappname)) outcome = { status: 'conflict', reason: `application ${xsappname} was not imported` };
    else if (zoneThere) {
      outcome = await copyRow(
        tx,
        { sql: 'INSERT INTO subscriptions (xsappname, zone_id) VALUES ($1, $2)', params: [xsappname, zone.id] },
        () => tx.one('SELECT 1 AS yes FROM subscriptions WHERE xsappname = $1 AND zone_id = $2', [xsappname, zone.id]),
        () => true,
        async (v) => `refused by ${v.constraint ?? v.message}`,
      );
    }
    outcomes.push({ kind: 'subscriptions', name: `subscription of ${xsappname} ${where}`, outcome });
  }

  // Signing keys have no foreign key to zones (schema version 2), but keys of a zone that is not
  // imported would sign for whatever zone holds its id: they go with their zone.
  for (const key of contents.keys) {
    const outcome = zoneThere
      ? await copyRow<KeyRow>(
          tx,
          {
            sql: 'INSERT INTO signing_keys (zone_id, kid, sealed_pem, created_at, publish_until, active) VALUES ($1, $2, $3, $4, $5, $6)',
            params: [zone.id, key.kid, JSON.stringify(key.sealed), key.createdAt, key.publishUntil, key.active ? 1 : 0],
          },
          () => tx.one('SELECT sealed_pem, created_at, publish_until, active FROM signing_keys WHERE zone_id = $1 AND kid = $2', [zone.id, key.kid]),
          (row) => {
            if (Number(row.created_at) !== key.createdAt || (row.publish_until === null ? null : Number(row.publish_until)) !== key.publishUntil) return false;
            if (Number(row.active) !== (key.active ? 1 : 0)) return false;
            try {
              return openSecret(JSON.parse(row.sealed_pem) as StoredSecret, secretKey, keySealContext(zone.id, key.kid)) === key.pem;
            } catch {
              return false;
            }
          },
          async () => {
            const active = await tx.one<{ kid: string }>('SELECT kid FROM signing_keys WHERE zone_id = $1 AND active = 1', [zone.id]);
            return `the database has another active key for the zone${active ? ` (${active.kid})` : ''}`;
          },
        )
      : without;
    outcomes.push({ kind: 'signingKeys', name: `signing key ${key.kid}${key.active ? ' (active)' : ''} ${where}`, outcome });
  }
  return outcomes;
}
