/**
 * The one reader of process.env. Everything else imports `env` from here, so a bad environment fails
 * at start (next.config.ts imports this module) instead of at the first request.
 *
 * Deliberately not `import 'server-only'`: next.config.ts loads it outside the React server graph.
 * Client code must still never import it (it is under src/server/).
 */
import { z } from 'zod';

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6390'),
  /** Milliseconds a Redis command may take before the request fails with SERVICE_UNAVAILABLE. */
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(1500),
  /** Approximate number of events kept per project log; older ones make a reconnecting tab resync. */
  EVENT_LOG_MAXLEN: z.coerce.number().int().min(10).max(10_000_000).default(10_000),
  PORT: z.coerce.number().int().min(1).max(65_535).default(3000),
  /** Set to serve the session cookie with the Secure flag (behind HTTPS). */
  COOKIE_SECURE: z.stringbool().default(false),
  /**
   * PostgreSQL connection string. When set, the durable tier is on: every write also lands in the
   * outbox stream, a consumer persists it to PostgreSQL, and reads fail over to PostgreSQL while Redis
   * is down. Unset: Redis alone is the store, exactly as before.
   */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  /** Connections in this process's PostgreSQL pool. */
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  /** Apply pending migrations when the server starts (they also run with `npm run db:migrate`). */
  DATABASE_MIGRATE_ON_START: z.stringbool().default(true),
  /**
   * With the durable tier on: how long a read or send waits for Redis before it is served by
   * PostgreSQL instead (the connection's own REDIS_COMMAND_TIMEOUT_MS still bounds every command).
   */
  REDIS_FAILOVER_DEADLINE_MS: z.coerce.number().int().min(20).max(60_000).default(700),
  /** Consecutive Redis failures that open the circuit breaker (reads then go straight to PostgreSQL). */
  BREAKER_FAILURE_THRESHOLD: z.coerce.number().int().min(1).max(1000).default(3),
  /** While the breaker is open, how often Redis is probed to see whether it is back. */
  BREAKER_PROBE_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  /**
   * With the durable tier on: a session nobody has read or written for this many seconds, and whose
   * every change is persisted in PostgreSQL, leaves Redis (the seed's TTL cache) and comes back from
   * PostgreSQL on its first read. 0 (default): off. Without the durable tier nothing ever leaves Redis.
   */
  SESSION_IDLE_EVICT_SECONDS: z.coerce.number().int().min(0).max(365 * 24 * 3600).default(0),
  /**
   * Run an outbox consumer in this process (default). Off: this instance only serves; others (or a
   * later start) persist the outbox. A benchmark uses it to build a backlog and time its drain.
   */
  OUTBOX_CONSUMER: z.stringbool().default(true),
  /** Outbox entries persisted per PostgreSQL transaction. */
  OUTBOX_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(200),
  /** An outbox entry delivered but not acknowledged for this long is reclaimed (its consumer died). */
  OUTBOX_CLAIM_IDLE_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** Failed deliveries after which an entry moves to the dead-letter stream. */
  OUTBOX_MAX_DELIVERIES: z.coerce.number().int().min(1).max(1000).default(5),
  /**
   * With the durable tier on: the PostgreSQL text search configuration of message search (`\\dF` lists
   * them). 'simple' (default) lower-cases words and nothing else, safe for mixed languages; 'english'
   * and the like stem ("launching" finds "launch") and drop stop words. A change re-indexes stale rows after the first search.
   */
  SEARCH_LANGUAGE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, { error: 'must be a text search configuration name, e.g. simple or english' })
    .default('simple'),
  /**
   * Without the durable tier, search scans messages in Redis, newest first: at most this many per
   * project and page (the answer says when it stopped there, and the next page goes on).
   */
  SEARCH_SCAN_MAX_MESSAGES: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  /** pino level for the server's structured JSON logs. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  /** When set, GET /api/metrics requires `Authorization: Bearer <this>`. */
  METRICS_TOKEN: z.string().min(1).optional(),
});

export type Env = z.infer<typeof envSchema>;

function parseEnv(): Env {
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) {
    throw new Error(`Invalid environment:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

export const env: Env = parseEnv();
