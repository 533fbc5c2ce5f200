/**
 * Abuse limits (issue 7): the sizes of every rate limit and stream cap, and the counters behind them.
 * The tRPC middlewares that apply them are in src/server/trpc/limits.ts.
 *
 * Rate limits are rate-limiter-flexible's fixed windows in Redis (one atomic INCR+PEXPIRE script per
 * window on our ioredis connection), so every app process on one Redis shares the same buckets. While
 * Redis is down an in-process limiter of the same size stands in (its `insuranceLimiter`), so limits
 * keep holding and nothing answers 500 because a counter could not be read.
 *
 * Over a limit: TOO_MANY_REQUESTS whose AppError carries `retryAfterSeconds`; the error mapping in
 * init.ts turns that into a `Retry-After` header and `data.retryAfter` (a batch has one header, so the
 * browser reads the latter).
 */
import 'server-only';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { env } from '~/server/env';
import { tooManyRequests } from '~/server/errors';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { keys } from '~/server/redis/keys';

/** One window: at most `points` calls per `seconds`. points 0 switches the window off. */
export interface Window {
  points: number;
  seconds: number;
}

export type RuleName = 'send' | 'change' | 'search' | 'projectCreate' | 'sessionCreate' | 'invite' | 'signUp' | 'signIn';

/** Every limit's size; from the environment in the app, smaller in the tests that exercise one. */
export interface LimitsConfig {
  rules: Record<RuleName, Window[]>;
  /** Concurrent event streams per user, and in all, in this process. */
  streamsPerUser: number;
  streamsPerProcess: number;
}

export function limitsFromEnv(): LimitsConfig {
  return {
    rules: {
      send: [
        { points: env.LIMIT_SEND_PER_10S, seconds: 10 },
        { points: env.LIMIT_SEND_PER_10MIN, seconds: 600 },
      ],
      change: [{ points: env.LIMIT_CHANGE_PER_MIN, seconds: 60 }],
      search: [{ points: env.LIMIT_SEARCH_PER_MIN, seconds: 60 }],
      projectCreate: [{ points: env.LIMIT_PROJECT_CREATE_PER_HOUR, seconds: 3600 }],
      sessionCreate: [{ points: env.LIMIT_SESSION_CREATE_PER_HOUR, seconds: 3600 }],
      invite: [{ points: env.LIMIT_INVITE_PER_HOUR, seconds: 3600 }],
      signUp: [{ points: env.LIMIT_SIGN_UP_PER_IP_PER_HOUR, seconds: 3600 }],
      signIn: [{ points: env.LIMIT_SIGN_IN_PER_IP_PER_10MIN, seconds: 600 }],
    },
    streamsPerUser: env.SSE_MAX_PER_USER,
    streamsPerProcess: env.SSE_MAX_PER_PROCESS,
  };
}

/** Per-user rules are keyed by user id; these by the client's IP. */
export const PER_IP: ReadonlySet<RuleName> = new Set(['signUp', 'signIn']);

const MESSAGES: Record<RuleName, string> = {
  send: 'You are sending too fast; slow down',
  change: 'Too many edits and reactions; slow down',
  search: 'Too many searches; slow down',
  projectCreate: 'Too many new projects; try again later',
  sessionCreate: 'Too many new sessions; try again later',
  invite: 'Too many invitations; try again later',
  signUp: 'Too many sign-ups from your network; try again later',
  signIn: 'Too many sign-in attempts from your network; try again later',
};

export class RateLimits {
  private readonly limiters: Record<RuleName, RateLimiterRedis[]>;
  readonly streams: StreamSlots;

  constructor(
    redis: ScriptedRedis,
    readonly config: LimitsConfig,
  ) {
    const build = (rule: RuleName) =>
      config.rules[rule]
        .filter((w) => w.points > 0)
        .map(
          (w) =>
            new RateLimiterRedis({
              storeClient: redis,
              keyPrefix: keys.rateLimit(rule, w.seconds),
              points: w.points,
              duration: w.seconds,
              // Redis down: count in this process instead of failing (or delaying) the request; with
              // the connection not ready, straight away rather than after a command timeout.
              rejectIfRedisNotReady: true,
              insuranceLimiter: new RateLimiterMemory({ points: w.points, duration: w.seconds }),
            }),
        );
    this.limiters = Object.fromEntries(
      (Object.keys(config.rules) as RuleName[]).map((rule) => [rule, build(rule)]),
    ) as Record<RuleName, RateLimiterRedis[]>;
    this.streams = new StreamSlots(config.streamsPerUser, config.streamsPerProcess);
  }

  /** Counts one call against every window of `rule` for `key`; throws TOO_MANY_REQUESTS when over. */
  async consume(rule: RuleName, key: string): Promise<void> {
    const results = await Promise.allSettled(this.limiters[rule].map((l) => l.consume(key)));
    let waitMs = 0;
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      // Rejections are a RateLimiterRes (over the limit) or, with both stores failing, an Error.
      if (!(r.reason instanceof RateLimiterRes)) throw r.reason;
      waitMs = Math.max(waitMs, r.reason.msBeforeNext);
    }
    if (waitMs > 0) throw tooManyRequests(MESSAGES[rule], waitMs);
  }
}

/**
 * Open event streams in this process, per user and in all. A leader tab holds one per open project;
 * far more than that is a script holding connections (each costs a socket and memory, if no Redis).
 */
export class StreamSlots {
  private readonly perUser = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly maxPerUser: number,
    private readonly maxTotal: number,
  ) {}

  /** Takes a slot or throws TOO_MANY_REQUESTS; the returned function gives it back (once). */
  acquire(userId: string): () => void {
    const mine = this.perUser.get(userId) ?? 0;
    if (mine >= this.maxPerUser) {
      throw tooManyRequests(`Too many open live connections for your account (at most ${this.maxPerUser})`, 10_000);
    }
    if (this.total >= this.maxTotal) throw tooManyRequests('The server has too many live connections', 10_000);
    this.perUser.set(userId, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perUser.get(userId) ?? 1) - 1;
      if (left <= 0) this.perUser.delete(userId);
      else this.perUser.set(userId, left);
    };
  }

  get open(): number {
    return this.total;
  }
}

