// Schema migrations for the durable tier (PostgreSQL), with node-pg-migrate. One definition of how
// they run, shared by `npm run db:migrate` (scripts/migrate.mjs) and the server, which applies them on
// start (src/server/durable/migrate.ts). Plain ESM so the script runs without compiling TypeScript.
//
// Migrations are versioned SQL files in migrations/ (`<timestamp>_<name>.sql`, with `-- Up Migration`
// and `-- Down Migration` sections); applied ones are recorded in the `pgmigrations` table. Several
// app processes may start at once: node-pg-migrate takes an advisory lock, and `advisoryLockMode:
// 'wait'` makes the others wait for it and then find nothing left to do.
import path from 'node:path';
import pg from 'pg';
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
 *
 * The connection is ours, not node-pg-migrate's: its own client has no 'error' listener, so PostgreSQL
 * restarting while it waits for the advisory lock (or between two statements) would be an uncaught
 * exception that ends the whole server process. Here the failure is reported to `onConnectionError`,
 * and the statement in flight (or the next one) fails, so the caller's retry takes over.
 * @param {{
 *   databaseUrl: string | import('pg').ClientConfig,
 *   direction?: 'up' | 'down',
 *   count?: number,
 *   dir?: string,
 *   log?: (message: string) => void,
 *   onConnectionError?: (err: Error) => void,
 * }} options
 * @returns {Promise<string[]>} names of the migrations that ran
 */
export async function migrate({ databaseUrl, direction = 'up', count, dir, log = () => undefined, onConnectionError }) {
  const client = new pg.Client(typeof databaseUrl === 'string' ? { connectionString: databaseUrl } : databaseUrl);
  client.on('error', (err) => (onConnectionError ?? ((e) => log(`PostgreSQL connection failed: ${e.message}`)))(err));
  await client.connect();
  try {
    const ran = await runner({
      dbClient: client,
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
  } finally {
    await client.end().catch(() => undefined);
  }
}
