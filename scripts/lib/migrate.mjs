// Schema migrations for the durable tier (PostgreSQL), with node-pg-migrate. One definition of how
// they run, shared by `npm run db:migrate` (scripts/migrate.mjs) and the server, which applies them on
// start (src/server/durable/migrate.ts). Plain ESM so the script runs without compiling TypeScript.
//
// Migrations are versioned SQL files in migrations/ (`<timestamp>_<name>.sql`, with `-- Up Migration`
// and `-- Down Migration` sections); applied ones are recorded in the `pgmigrations` table. Several
// app processes may start at once: node-pg-migrate takes an advisory lock, and `advisoryLockMode:
// 'wait'` makes the others wait for it and then find nothing left to do.
import path from 'node:path';
import { runner } from 'node-pg-migrate';

/**
 * Folder of the migration files: <repo>/migrations. Computed on call, not at import: bundled into the
 * Next server, this module has no import.meta.dirname (the server passes `dir` itself).
 */
export function migrationsDir() {
  return path.resolve(import.meta.dirname, '..', '..', 'migrations');
}

/**
 * Applies pending migrations (direction "up"), or rolls back `count` with direction "down".
 * @param {{
 *   databaseUrl: string | import('pg').ClientConfig,
 *   direction?: 'up' | 'down',
 *   count?: number,
 *   dir?: string,
 *   log?: (message: string) => void,
 * }} options
 * @returns {Promise<string[]>} names of the migrations that ran
 */
export async function migrate({ databaseUrl, direction = 'up', count, dir, log = () => undefined }) {
  const ran = await runner({
    databaseUrl,
    dir: dir ?? migrationsDir(),
    migrationsTable: 'pgmigrations',
    direction,
    count: count ?? (direction === 'up' ? Infinity : 1),
    checkOrder: true,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    log,
  });
  return ran.map((m) => m.name);
}
