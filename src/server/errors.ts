import 'server-only';

/**
 * Domain errors. The store and auth modules throw these; one tRPC middleware maps them to tRPC codes
 * (src/server/trpc/init.ts), keeping the original as `cause`. Nothing returns `false` or `[]` for a
 * failure: a caller can always tell empty from broken.
 */
export type AppErrorCode =
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'TOO_MANY_REQUESTS'
  | 'UNAVAILABLE';

export class AppError extends Error {
  /** With TOO_MANY_REQUESTS: whole seconds to wait (the Retry-After header and `data.retryAfter`). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: AppErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.name = 'AppError';
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** Over an abuse limit: tells the caller when to try again (at least one second). */
export function tooManyRequests(message: string, retryAfterMs: number): AppError {
  return new AppError('TOO_MANY_REQUESTS', message, { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
}

/** What a non-member sees for a project: exactly what they would see if it did not exist. */
export const projectNotFound = () => new AppError('NOT_FOUND', 'Project not found');

const REDIS_DOWN_PATTERNS = [
  'Command timed out',
  'Connection is closed',
  "Stream isn't writeable",
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'connect ETIMEDOUT',
  'LOADING',
  'MISCONF',
  'OOM command not allowed',
];

/** True when an error means "Redis cannot serve right now" rather than a bug or a bad request. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return REDIS_DOWN_PATTERNS.some((p) => err.message.includes(p));
}

/**
 * Turns a Lua `PARLEY_<CODE> detail` error reply into an AppError, a Redis outage into UNAVAILABLE, and
 * leaves anything else alone (a real bug: logged with its stack by the error formatter).
 */
export function toAppError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (err instanceof Error) {
    const m = /^PARLEY_([A-Z_]+) (.*)$/.exec(err.message);
    if (m) {
      const [, code, detail] = m as unknown as [string, AppErrorCode, string];
      return new AppError(code, capitalize(detail) + (code === 'NOT_FOUND' ? ' not found' : ''), {
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
