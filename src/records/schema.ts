/**
 * The records schema, as versioned migrations (src/records/migrate.ts applies them at start and with
 * `zonegate db migrate`). A released migration is never edited: a change is a new version. Portable
 * SQL only (see ./types.ts).
 */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [];
