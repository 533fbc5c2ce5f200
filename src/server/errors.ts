import 'server-only';

/**
 * Domain errors. The store and auth modules throw these; one tRPC middleware maps them to tRPC codes
 * (src/server/trpc/init.ts), keeping the original as `cause`. Nothing returns `false` or `[]` for a
 * failure: a caller can always tell empty from broken.
 */
export type AppErrorCode =
  | 'NOT_FOUND'
  /** Allowed to see the thing, not to do this to it (a member changing another's message). Never for non-members: they get NOT_FOUND. */
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'BAD_REQUEST'
  /** The request is fine but the server is not set up for it (the AI PM with no model server). */
  | 'PRECONDITION_FAILED'
  | 'UNAUTHORIZED'
  | 'TOO_MANY_REQUESTS'
  | 'UNAVAILABLE';

/**
 * Marks an AppError whichever copy of this module made it. Next compiles the server code into more
 * than one bundle of one process (the instrumentation bundle, which serves /api/trpc on the production
 * server, each route's, the pages'), and the process's services live on globalThis, built by whichever
 * bundle ran first: an error thrown by one copy's store reaches another copy's `instanceof AppError`,
 * which must still say yes (or a wrong password would be answered as an internal error).
 */
const APP_ERROR = Symbol.for('parley.AppError');

export class AppError extends Error {
  /** With TOO_MANY_REQUESTS: whole seconds to wait (the Retry-After header and `data.retryAfter`). */
  readonly retryAfterSeconds: number | undefined;

  static [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses (PostgresUnavailableError, ...) keep the ordinary prototype check.
    if (this !== AppError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[APP_ERROR] === true;
  }

  constructor(
    readonly code: AppErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.name = 'AppError';
    this.retryAfterSeconds = options?.retryAfterSeconds;
    (this as Record<symbol, unknown>)[APP_ERROR] = true;
  }
}

/** Over an abuse limit: tells the caller when to try again (at least one second). */
export function tooManyRequests(message: string, retryAfterMs: number): AppError {
  return new AppError('TOO_MANY_REQUESTS', message, { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
}

/** What a non-member sees for a project: exactly what they would see if it did not exist. */
export const projectNotFound = () => new AppError('NOT_FOUND', 'Project not found');

// ---------------------------------------------------------------------------- classifying failures
// The one place that decides what kind of failure an error from Redis or PostgreSQL is. Typed fields
// are read first (a Redis reply's code word, a Node or PostgreSQL `code`, an error class); the message
// is read only for the errors ioredis and node-postgres raise as plain `Error`s with nothing else to
// tell them apart (listed below). No other module reads error messages.

/** What ioredis says, as plain Errors, when it cannot reach or hear Redis. */
const IOREDIS_DOWN_MESSAGES = [
  'Command timed out',
  'Connection is closed',
  "Stream isn't writeable",
  // A cluster client that kept being redirected (a slot moving, or the cluster reshaping after a restart).
  'Too many Cluster redirections',
];
/** Redis replies meaning "cannot serve right now": still loading its data, cannot persist, out of memory. */
const REDIS_DOWN_REPLY_CODES = new Set([
  'LOADING',
  'MISCONF',
  'OOM',
  // A Redis Cluster that cannot serve a slot yet: down (a master lost, the whole cluster restarting),
  // mid-resharding (TRYAGAIN), or a replica cut off from its master. All pass: never a refusal of the data.
  'CLUSTERDOWN',
  'TRYAGAIN',
  'MASTERDOWN',
  // A redirection the cluster client did not follow itself (it does not inside a MULTI, and its slot
  // map is stale for a moment after the cluster restarted or resharded; the reply makes it refresh):
  // the slot moved, the data was not refused. Seen in the fault-injection suite: a send kept in
  // PostgreSQL during an outage was set aside as refused on a MOVED instead of replayed later.
  'MOVED',
  'ASK',
]);
/** Node's socket error codes that mean the server is unreachable or went away. */
const NETWORK_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/** PostgreSQL's SQLSTATEs (besides class 08, connection exceptions) that mean "retry later". */
const PG_RETRY_CODES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up)
  '53300', // too_many_connections
  '57014', // query_canceled (statement_timeout)
  '40001', // serialization_failure: retry
  '40P01', // deadlock_detected: retry
]);
/** What node-postgres and pg-pool say, as plain Errors, when the connection is lost or never made. */
const PG_DOWN_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error',
  'Connection is closed',
  'connect ECONNREFUSED',
  'the database system is',
];

function codeOf(err: Error): string | null {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : null;
}

function messageHasAny(err: Error, fragments: readonly string[]): boolean {
  return fragments.some((f) => err.message.includes(f));
}

/**
 * The code word a Redis error reply starts with (`NOGROUP`, `BUSYGROUP`, `LOADING`, `WRONGTYPE`, and
 * our scripts' `PARLEY_NOT_FOUND`...), or null when `err` is not an error reply from Redis.
 */
export function redisErrorCode(err: unknown): string | null {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return null;
  return /^[A-Z][A-Z0-9_]*(?= |$)/.exec(err.message)?.[0] ?? null;
}

/** True when an error means "Redis cannot serve right now" rather than a bug or a bad request. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = codeOf(err);
  if (code !== null && NETWORK_DOWN_CODES.has(code)) return true;
  const reply = redisErrorCode(err);
  if (reply !== null) return REDIS_DOWN_REPLY_CODES.has(reply);
  // ioredis also passes on socket errors whose text is all that is left of their code.
  return messageHasAny(err, IOREDIS_DOWN_MESSAGES) || messageHasAny(err, [...NETWORK_DOWN_CODES]);
}

/**
 * True when a PostgreSQL error means "cannot serve right now, try again" (down, unreachable, overloaded,
 * timed out, or a transient transaction conflict) rather than "this statement or its data is wrong".
 * The outbox consumer retries the former forever and dead-letters the latter after a few tries.
 */
export function isPgUnavailable(err: unknown): boolean {
  if (err instanceof AppError) return err.code === 'UNAVAILABLE';
  if (!(err instanceof Error)) return false;
  const code = codeOf(err);
  if (code !== null && (NETWORK_DOWN_CODES.has(code) || PG_RETRY_CODES.has(code) || code.startsWith('08'))) return true;
  return messageHasAny(err, PG_DOWN_MESSAGES);
}

/**
 * True when PostgreSQL refused a statement because of the DATA it carries, so the same data will be
 * refused every time: a data exception (class 22: a NUL or broken Unicode in text, a bad date, a number
 * out of range) or a NOT NULL / CHECK violation. Retrying such an outbox entry only holds up the
 * entries behind it; the consumer dead-letters it on the first failure. (Unique and foreign-key
 * violations are left out: a race or an ordering can cause those, and a retry may then succeed.)
 */
export function isPgPermanent(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof AppError) return false;
  const code = codeOf(err);
  return code !== null && (code.startsWith('22') || code === '23502' || code === '23514');
}

const SCRIPT_CODES: ReadonlySet<string> = new Set<AppErrorCode>(['NOT_FOUND', 'FORBIDDEN', 'CONFLICT', 'BAD_REQUEST']);

/**
 * Turns a Lua `PARLEY_<CODE> detail` error reply into an AppError, a Redis outage into UNAVAILABLE, and
 * leaves anything else alone (a real bug: logged with its stack by the error formatter).
 */
export function toAppError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (err instanceof Error) {
    const reply = redisErrorCode(err);
    const code = reply?.startsWith('PARLEY_') ? reply.slice('PARLEY_'.length) : null;
    if (code !== null && SCRIPT_CODES.has(code)) {
      const detail = err.message.slice(reply!.length + 1);
      return new AppError(code as AppErrorCode, capitalize(detail) + (code === 'NOT_FOUND' ? ' not found' : ''), {
        cause: err,
      });
    }
    if (isRedisUnavailable(err)) {
      return new AppError('UNAVAILABLE', 'The chat store is unavailable; please retry shortly', {
        cause: err,
      });
    }
  }
  return err;
}

function capitalize(s: string) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
