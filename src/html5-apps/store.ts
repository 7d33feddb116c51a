/**
 * The HTML5 application repository's records (migration 4, src/records/schema.ts): deployed
 * applications, one row per version, and their files. In the records database because every instance
 * must serve the same content: SQLite for the embedded gateway, the shared PostgreSQL for several
 * instances (README, "HTML5 applications").
 *
 * Versions are immutable. Deploying makes the new version current; the previous ones stay reachable
 * under `/<name>-<version>/` until removed. A deployment of several packages is one transaction:
 * all are deployed, or none.
 */
import type { RoutesFile } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Queries, RecordsDatabase } from '../records/types.js';
import { UniqueViolation } from '../records/types.js';
import type { AppPackage } from './package.js';

export interface DeployedApp {
  name: string;
  version: string;
  appId: string;
  service: string | undefined;
  public: boolean;
  current: boolean;
  fileCount: number;
  totalBytes: number;
  deployedAt: string;
}

/** A version as the request path needs it. */
export interface AppVersion extends DeployedApp {
  xsApp: RoutesFile | undefined;
}

export interface StoredFile {
  content: Buffer;
  sha256: string;
}

export interface DeployOutcome {
  name: string;
  version: string;
  appId: string;
  /** `deployed`: new; `unchanged`: the same content was there already (made current again). */
  outcome: 'deployed' | 'unchanged';
}

export interface Html5AppStore {
  /** Deploys every package in one transaction. Rejects with ZG_ERR_APP_VERSION_EXISTS or ZG_ERR_APP_INVALID; nothing is stored then. */
  deploy(packages: readonly AppPackage[]): Promise<DeployOutcome[]>;
  list(): Promise<DeployedApp[]>;
  /** Removes a version (the newest remaining one becomes current), or every version. Rejects with ZG_ERR_APP_NOT_FOUND. */
  remove(name: string, version?: string): Promise<DeployedApp[]>;
  /** The named version, or the current one; undefined when there is none. */
  version(name: string, version?: string): Promise<AppVersion | undefined>;
  file(name: string, version: string, path: string): Promise<StoredFile | undefined>;
}

interface AppRow {
  name: string;
  version: string;
  app_id: string;
  service: string | null;
  public: number;
  current: number;
  file_count: number;
  total_bytes: number;
  deployed_at: string;
  [key: string]: unknown;
}

const COLUMNS = 'name, version, app_id, service, public, current, file_count, total_bytes, deployed_at';

function deployedApp(row: AppRow): DeployedApp {
  return {
    name: row.name,
    version: row.version,
    appId: row.app_id,
    service: row.service ?? undefined,
    public: Number(row.public) === 1,
    current: Number(row.current) === 1,
    fileCount: Number(row.file_count),
    totalBytes: Number(row.total_bytes),
    deployedAt: row.deployed_at,
  };
}

/** Versions compared as numbers, part by part (1.10.0 after 1.9.0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function createHtml5AppStore(records: RecordsDatabase): Html5AppStore {
  async function deployOne(tx: Queries, pkg: AppPackage, now: string): Promise<DeployOutcome> {
    const named = await tx.all<{ app_id: string; version: string; digest: string }>('SELECT app_id, version, digest FROM html5_apps WHERE name = $1 FOR UPDATE', [pkg.name]);
    const otherId = named.find((r) => r.app_id !== pkg.appId);
    if (otherId) {
      throw new GatewayError('ZG_ERR_APP_VERSION_EXISTS', `${pkg.source}: sap.app.id "${pkg.appId}" has the URL name "${pkg.name}", which the deployed application "${otherId.app_id}" has already`);
    }
    const same = named.find((r) => r.version === pkg.version);
    if (same && same.digest !== pkg.digest) {
      throw new GatewayError('ZG_ERR_APP_VERSION_EXISTS', `${pkg.source}: ${pkg.appId} ${pkg.version} is deployed already with other content; versions are immutable: raise sap.app.applicationVersion.version in manifest.json`);
    }
    await tx.run('UPDATE html5_apps SET current = 0 WHERE name = $1 AND current = 1', [pkg.name]);
    if (same) {
      await tx.run('UPDATE html5_apps SET current = 1 WHERE name = $1 AND version = $2', [pkg.name, pkg.version]);
      return { name: pkg.name, version: pkg.version, appId: pkg.appId, outcome: 'unchanged' };
    }
    await tx.run(
      `INSERT INTO html5_apps (name, version, app_id, service, public, xs_app, current, digest, file_count, total_bytes, deployed_at)
       VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10)`,
      [pkg.name, pkg.version, pkg.appId, pkg.service ?? null, pkg.public ? 1 : 0, pkg.xsApp ? JSON.stringify(pkg.xsApp) : null, pkg.digest, pkg.files.length, pkg.totalBytes, now],
    );
    for (const file of pkg.files) {
      await tx.run('INSERT INTO html5_app_files (name, version, path, content, size, sha256) VALUES ($1, $2, $3, $4, $5, $6)', [
        pkg.name,
        pkg.version,
        file.path,
        file.content.toString('base64'),
        file.content.length,
        file.sha256,
      ]);
    }
    return { name: pkg.name, version: pkg.version, appId: pkg.appId, outcome: 'deployed' };
  }

  return {
    async deploy(packages) {
      const seen = new Map<string, AppPackage>();
      for (const pkg of packages) {
        const key = `${pkg.name}-${pkg.version}`;
        const earlier = seen.get(key);
        if (earlier) throw new GatewayError('ZG_ERR_APP_INVALID', `${pkg.source} and ${earlier.source} are both ${pkg.appId} ${pkg.version}`);
        seen.set(key, pkg);
      }
      const now = new Date().toISOString();
      try {
        return await records.transaction(async (tx) => {
          const outcomes: DeployOutcome[] = [];
          for (const pkg of packages) outcomes.push(await deployOne(tx, pkg, now));
          return outcomes;
        });
      } catch (err) {
        // Another deployment of the same version or application won the race: the constraint decided.
        if (err instanceof UniqueViolation) throw new GatewayError('ZG_ERR_APP_VERSION_EXISTS', 'Another deployment of the same application ran at the same time; try again', { cause: err });
        throw err;
      }
    },

    async list() {
      const rows = await records.all<AppRow>(`SELECT ${COLUMNS} FROM html5_apps ORDER BY name`);
      return rows.map(deployedApp).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : compareVersions(a.version, b.version)));
    },

    async remove(name, version) {
      return records.transaction(async (tx) => {
        const rows = (await tx.all<AppRow>(`SELECT ${COLUMNS} FROM html5_apps WHERE name = $1 FOR UPDATE`, [name])).map(deployedApp);
        const removed = version === undefined ? rows : rows.filter((r) => r.version === version);
        if (removed.length === 0) {
          throw new GatewayError('ZG_ERR_APP_NOT_FOUND', version === undefined ? `No application "${name}" is deployed` : `Version ${version} of "${name}" is not deployed`);
        }
        for (const r of removed) {
          // Files first: the foreign key cascades too, but SQLite needs foreign_keys on for that.
          await tx.run('DELETE FROM html5_app_files WHERE name = $1 AND version = $2', [name, r.version]);
          await tx.run('DELETE FROM html5_apps WHERE name = $1 AND version = $2', [name, r.version]);
        }
        const rest = rows.filter((r) => !removed.includes(r));
        if (removed.some((r) => r.current) && rest.length > 0) {
          // The newest remaining version takes over, as a deployment of it would have made it.
          const newest = rest.reduce((a, b) => (compareVersions(a.version, b.version) >= 0 ? a : b));
          await tx.run('UPDATE html5_apps SET current = 1 WHERE name = $1 AND version = $2', [name, newest.version]);
        }
        return removed;
      });
    },

    async version(name, version) {
      const row =
        version === undefined
          ? await records.one<AppRow & { xs_app: string | null }>(`SELECT ${COLUMNS}, xs_app FROM html5_apps WHERE name = $1 AND current = 1`, [name])
          : await records.one<AppRow & { xs_app: string | null }>(`SELECT ${COLUMNS}, xs_app FROM html5_apps WHERE name = $1 AND version = $2`, [name, version]);
      if (!row) return undefined;
      return { ...deployedApp(row), xsApp: row.xs_app === null ? undefined : (JSON.parse(row.xs_app) as RoutesFile) };
    },

    async file(name, version, path) {
      const row = await records.one<{ content: string; sha256: string }>('SELECT content, sha256 FROM html5_app_files WHERE name = $1 AND version = $2 AND path = $3', [name, version, path]);
      return row && { content: Buffer.from(row.content, 'base64'), sha256: row.sha256 };
    },
  };
}
