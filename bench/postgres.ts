/**
 * The benchmark's own PostgreSQL database, for the production layout's figures (records in
 * PostgreSQL, shared state in Redis). BENCH_POSTGRES_URL names a server the benchmark may create a
 * database on (default: the local server, as user postgres); the databases (`zonegate_bench`, ...) are made
 * afresh for each run and dropped afterwards, so no run sees another's records.
 */
import pg from 'pg';

export const DEFAULT_BENCH_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  /** The fresh database's URL (DATABASE_URL for the gateways). */
  readonly url: string;
  drop(): Promise<void>;
}

async function onServer<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const dropDatabase = (client: pg.Client, name: string) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);

/** A fresh database `name` (default zonegate_bench) on the server; dropped first if a crashed run left it. */
export async function createBenchDatabase(adminUrl: string, name = 'zonegate_bench'): Promise<BenchDatabase> {
  try {
    await onServer(adminUrl, async (client) => {
      // A database a crashed run left behind goes first.
      await dropDatabase(client, name);
      await client.query(`CREATE DATABASE ${name}`);
    });
  } catch (err) {
    throw new Error(`BENCH_POSTGRES_URL ${redact(adminUrl)}: ${(err as Error).message} (the PostgreSQL figures need a server the benchmark may create the database ${name} on)`);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: () => onServer(adminUrl, async (client) => void (await dropDatabase(client, name))),
  };
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.href;
}
