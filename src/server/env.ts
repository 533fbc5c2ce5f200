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
  /**
   * Redis Cluster: `host:port,host:port,...` (a few nodes are enough; the client discovers the rest).
   * When set, the app talks to the cluster (scripts keep to one hash slot, wake-ups ride sharded
   * pub/sub) and REDIS_URL is not used for chat data.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, { error: 'must be host:port,host:port,... (e.g. 10.0.0.1:7000,10.0.0.2:7000)' })
    .optional(),
  /**
   * On a cluster: every write script is followed by `WAIT <this> <REDIS_WAIT_TIMEOUT_MS>` on its master
   * before it is acknowledged, so an acknowledged write is on that many replicas too and survives its
   * master's failover. 0: acknowledged once the master ran it (asynchronous replication).
   */
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(10).default(1),
  /**
   * How long that WAIT may take. A master with no live replica (its replica was just promoted, or is
   * down) answers after this long with fewer copies; the write is then acknowledged anyway (durable in
   * the master's AOF) and counted in parley_redis_unreplicated_writes_total.
   */
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(100),
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
   * and the like stem ("launching" finds "launch") and drop stop words. After a change, the first
   * search re-indexes the rows made with another one.
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
  /**
   * The AI project manager's model server: any OpenAI-compatible chat-completions API (OpenAI, Ollama,
   * llama.cpp's server, vLLM, LM Studio), e.g. http://127.0.0.1:11434/v1. Unset: the AI PM is off
   * (`npm run dev` sets it when a local Ollama answers).
   */
  AI_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Bearer key for the model server (local servers need none). */
  AI_API_KEY: z.string().min(1).optional(),
  /** The model name the server knows, e.g. gpt-4o-mini or llama3.2. */
  AI_MODEL: z.string().min(1).default('llama3.2'),
  /** Longest answer, in tokens. */
  AI_MAX_OUTPUT_TOKENS: z.coerce.number().int().min(16).max(100_000).default(1024),
  /** A model call that takes longer than this (in total) ends the answer as failed. */
  AI_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(120_000),
  /** Retries of a failed model call (429, 5xx), with the SDK's backoff, before the answer fails. */
  AI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** Run the AI PM worker in this process (default). `npm run worker` runs one on its own. */
  AI_WORKER: z.stringbool().default(true),
  /** How often a streaming answer's text is written (one message.updated event per write). */
  AI_FLUSH_MS: z.coerce.number().int().min(10).max(10_000).default(100),
  /** Answers being written at once per project; a question over it gets a refusal in the chat. */
  AI_PROJECT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(4),
  /** AI answers a user may ask for per UTC day (0 = unlimited). */
  AI_USER_DAILY_QUOTA: z.coerce.number().int().min(0).max(1_000_000).default(200),
  /** The prompt (system prompt, project context and recent messages) is cut to about this many tokens. */
  AI_CONTEXT_TOKENS: z.coerce.number().int().min(256).max(1_000_000).default(6000),
  /** A job claimed by a worker that stopped answering for this long is reclaimed by another one. */
  AI_CLAIM_IDLE_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /**
   * How many proxies in front of the app append to X-Forwarded-For. 0 (default): none, the app is
   * reached directly; the client's address is the TCP peer (recorded by src/server/client-ip.ts before
   * Next sees the request) and any X-Forwarded-For the client sent is ignored, so nobody can pick a
   * fresh rate-limit bucket by sending a header. N: the Nth address from the right of
   * X-Forwarded-For (the one the outermost trusted proxy saw).
   */
  TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  /*
   * Abuse limits (issue 7). Each is "points per window"; a request over a limit gets
   * TOO_MANY_REQUESTS with a Retry-After header. Defaults are far above what a person does (and above
   * what the test suites do); set them lower to taste. 0 switches a limit off.
   */
  /** message.send per user: a burst window of 10 s ... */
  LIMIT_SEND_PER_10S: z.coerce.number().int().min(0).default(2000),
  /** ... and a sustained window of 10 minutes. */
  LIMIT_SEND_PER_10MIN: z.coerce.number().int().min(0).default(6000),
  /** message.edit, message.delete and message.react per user per minute. */
  LIMIT_CHANGE_PER_MIN: z.coerce.number().int().min(0).default(300),
  /**
   * message.search per user per minute. Without the durable tier a search scans up to
   * SEARCH_SCAN_MAX_MESSAGES in one Lua script that holds Redis meanwhile, so this bounds one user's share.
   */
  LIMIT_SEARCH_PER_MIN: z.coerce.number().int().min(0).default(120),
  /** project.create per user per hour. */
  LIMIT_PROJECT_CREATE_PER_HOUR: z.coerce.number().int().min(0).default(60),
  /** session.create per user per hour. */
  LIMIT_SESSION_CREATE_PER_HOUR: z.coerce.number().int().min(0).default(300),
  /** project.addMember (invitations sent) per user per hour. */
  LIMIT_INVITE_PER_HOUR: z.coerce.number().int().min(0).default(200),
  /** auth.signUp per client IP per hour. */
  LIMIT_SIGN_UP_PER_IP_PER_HOUR: z.coerce.number().int().min(0).default(100),
  /** auth.signIn per client IP per 10 minutes (on top of the per username + IP failure throttle). */
  LIMIT_SIGN_IN_PER_IP_PER_10MIN: z.coerce.number().int().min(0).default(200),
  /** Failed sign-ins per username from one IP within 15 minutes before that pair must wait. */
  SIGN_IN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(10),
  /** Concurrent events.subscribe streams per user in this process (a leader tab holds one per project). */
  SSE_MAX_PER_USER: z.coerce.number().int().min(1).max(10_000).default(20),
  /** Concurrent events.subscribe streams in this process, all users together. */
  SSE_MAX_PER_PROCESS: z.coerce.number().int().min(1).max(1_000_000).default(5000),
  /** Projects one user may belong to (own or joined). */
  MAX_PROJECTS_PER_USER: z.coerce.number().int().min(1).max(100_000).default(200),
  /** Pending invitations one project may have at a time. */
  MAX_PENDING_INVITES_PER_PROJECT: z.coerce.number().int().min(1).max(100_000).default(100),
  /** pino level for the server's structured JSON logs. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  /** When set, GET /api/metrics requires `Authorization: Bearer <this>`. */
  METRICS_TOKEN: z.string().min(1).optional(),
}).check((ctx) => {
  // The outbox is one stream outside every project's hash slot, so a write script could not append to
  // it on a cluster (cross-slot). Refuse at start rather than fail every write.
  if (ctx.value.DATABASE_URL && ctx.value.REDIS_CLUSTER_NODES) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value.REDIS_CLUSTER_NODES,
      path: ['REDIS_CLUSTER_NODES'],
      message: 'the durable tier (DATABASE_URL) needs a standalone Redis for now: unset one of the two (see "Scaling out" in the README)',
    });
  }
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
