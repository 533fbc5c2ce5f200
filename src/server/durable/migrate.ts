import 'server-only';
import path from 'node:path';
import { migrate } from '../../../scripts/lib/migrate.mjs';
import { errorFields, hostOf, logger } from '~/server/log';

const log = logger('migrate');

/**
 * Applies pending migrations, retrying with backoff while PostgreSQL is unreachable (the app serves
 * from Redis meanwhile; the outbox keeps every change until the consumer can persist it).
 */
export async function migrateUntilDone(databaseUrl: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
  let backoff = 500;
  for (;;) {
    try {
      const ran = await migrate({
        databaseUrl: { connectionString: databaseUrl, connectionTimeoutMillis: 5000 },
        // The server runs from the project root (`next start`, `next dev`); migrations/ sits there.
        dir: path.join(process.cwd(), 'migrations'),
        log: (message) => log.debug({ message }, 'node-pg-migrate'),
        // The failed statement rejects too (and is retried below); this only says why.
        onConnectionError: (err) => log.warn({ host: hostOf(databaseUrl), ...errorFields(err) }, 'migration connection failed'),
      });
      log.info({ host: hostOf(databaseUrl), applied: ran }, ran.length > 0 ? 'migrations applied' : 'schema up to date');
      return;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      log.warn({ host: hostOf(databaseUrl), retryInMs: backoff, ...errorFields(err) }, 'migrations failed; retrying');
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 30_000);
    }
  }
}
