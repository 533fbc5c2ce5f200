import 'server-only';
import pg from 'pg';
import { AppError, isPgUnavailable } from '~/server/errors';
import { errorFields, hostOf, logger } from '~/server/log';
import { metrics, timed } from '~/server/metrics';
import { eventIdVersion } from '~/shared/event-id';

const log = logger('postgres');

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/**
 * A PostgreSQL pool with deadlines chosen on purpose, like the Redis client: a failover read must
 * answer "within about a second", so connecting and each statement are bounded, and an outage shows
 * up as a fast error (which the callers turn into SERVICE_UNAVAILABLE or a consumer retry).
 */
export function createPool(databaseUrl: string, opts: { max?: number; statementTimeoutMs?: number } = {}): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
    // Server-side limit per statement, and the client-side one in case the server never answers.
    statement_timeout: opts.statementTimeoutMs ?? 5000,
    query_timeout: (opts.statementTimeoutMs ?? 5000) + 1000,
    application_name: 'parley',
  });
  // An idle client whose connection dies emits on the pool; without a listener that crashes Node.
  // (A checked-out client emits on itself instead: see withClient.)
  pool.on('error', (err) => logConnectionError(err, 'idle PostgreSQL connection failed', databaseUrl));
  return pool;
}

let lastLoggedAt = 0;
/** One log line per 5 s while PostgreSQL is down (every pooled connection fails at once), not one per connection. */
function logConnectionError(err: Error, msg: string, databaseUrl?: string) {
  if (Date.now() - lastLoggedAt < 5000) return;
  lastLoggedAt = Date.now();
  log.warn({ ...(databaseUrl ? { host: hostOf(databaseUrl) } : {}), ...errorFields(err) }, msg);
}

/** PostgreSQL cannot serve right now (told apart from a Redis outage by the durable tier). */
export class PostgresUnavailableError extends AppError {
  constructor(cause: unknown) {
    super('UNAVAILABLE', 'The durable store is unavailable; please retry shortly', { cause });
    this.name = 'PostgresUnavailableError';
  }
}

/** Runs a named query with a latency metric; an outage becomes PostgresUnavailableError. */
export async function query<R extends pg.QueryResultRow>(
  db: Queryable,
  name: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  try {
    return await timed(metrics().postgresQueryDuration, { query: name }, () => db.query<R>(text, values));
  } catch (err) {
    if (isPgUnavailable(err) && !(err instanceof AppError)) throw new PostgresUnavailableError(err);
    throw err;
  }
}

/**
 * Runs `fn` with one pooled connection checked out, and returns it (or drops it, when it broke).
 *
 * While a client is checked out, pg-pool takes its own 'error' listener off it, and a connection that
 * dies (PostgreSQL restarted, the backend was terminated, the network cut) emits 'error' on the CLIENT
 * - even in the middle of a query, after failing that query. With no listener that event is an
 * uncaught exception that ends the Node process. So every checked-out client gets a listener here for
 * as long as it is held: it logs, and the failed query (or the next one) rejects, so the caller sees
 * the outage as an error it already handles (the consumer and the tier retry). Errors of `fn` pass
 * through unchanged; a failed checkout is a PostgresUnavailableError.
 */
export async function withClient<T>(
  pool: Pool,
  fn: (client: PoolClient, markBroken: () => void) => Promise<T>,
): Promise<T> {
  let failed = false;
  const onError = (err: Error) => {
    failed = true;
    logConnectionError(err, 'PostgreSQL connection failed while checked out');
  };
  const client = await new Promise<PoolClient>((resolve, reject) => {
    // The callback form, not `await pool.connect()`: the listener must be on the client before control
    // leaves pg. A promise resumes us a microtask later, and by then pg may already have parsed the
    // rest of the socket chunk that completed the connection - e.g. the FATAL "terminating
    // connection" of a backend killed right after start-up - and emitted 'error' with nobody listening.
    pool.connect((err, c) => {
      if (err || !c) {
        reject(new PostgresUnavailableError(err));
        return;
      }
      c.on('error', onError);
      resolve(c);
    });
  });
  try {
    return await fn(client, () => {
      failed = true;
    });
  } finally {
    client.removeListener('error', onError);
    // A broken connection must not go back to the pool. (release() re-attaches the pool's own
    // listener synchronously, so the client is never without one.)
    client.release(failed);
  }
}

/** Runs `fn` in a transaction on one pooled connection. */
export async function transaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client, markBroken) => {
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // If ROLLBACK fails too, the connection itself is gone or stuck: do not return it to the pool
      // (PostgreSQL rolls back a transaction whose connection is gone).
      await client.query('ROLLBACK').catch(markBroken);
      throw isPgUnavailable(err) && !(err instanceof AppError) ? new PostgresUnavailableError(err) : err;
    }
  });
}

/** Outbox entry id `<ms>-<n>` as the numeric version stored with each row (see eventIdVersion). */
export const versionOf = eventIdVersion;
