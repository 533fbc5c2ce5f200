import 'server-only';
import { AUTH_OPS, AuthService, type AuthServiceApi } from '~/server/auth/service';
import { ReadState } from '~/server/chat/read-state';
import { CHAT_OPS, ChatStore, type ChatRepository } from '~/server/chat/store';
import { createPool } from '~/server/durable/pg';
import { DurableTier } from '~/server/durable/tier';
import { env } from '~/server/env';
import { metrics, timed } from '~/server/metrics';
import { getRedis } from '~/server/redis/client';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { getEventHub, type EventHub } from '~/server/realtime/hub';
import { limitsFromEnv, RateLimits, type LimitsConfig } from '~/server/limits/rate-limits';

/**
 * The server's services, built once per process around the shared Redis connection. Tests build their
 * own around a Redis they started (see createServices).
 *
 * `store` and `auth` are the same repositories with or without the durable tier: without it (no
 * DATABASE_URL) they are the Redis ChatStore and AuthService themselves (only timed for the metrics);
 * with it, the tier's wrappers around them add read-through and failover to PostgreSQL
 * (src/server/durable/), and the stores append every change to the outbox.
 */
export interface Services {
  redis: ScriptedRedis;
  store: ChatRepository;
  auth: AuthServiceApi;
  hub: EventHub;
  /** The durable tier (PostgreSQL), or null when DATABASE_URL is not set. */
  durable: DurableTier | null;
  /** Abuse limits: rate-limit counters (in Redis) and this process's stream slots. */
  limits: RateLimits;
  /** Read markers and unread counts (their moves go to the outbox too when the durable tier is on). */
  reads: ReadState;
}

export function createServices(
  redis: ScriptedRedis,
  hub: EventHub,
  durable: DurableTier | null = null,
  limits: LimitsConfig = limitsFromEnv(),
): Services {
  const rateLimits = new RateLimits(redis, limits);
  const reads = new ReadState(redis, durable !== null);
  if (durable) return { redis, store: durable.store, auth: durable.auth, hub, durable, limits: rateLimits, reads };
  return {
    redis,
    store: timedCalls<ChatRepository>(new ChatStore(redis), CHAT_OPS),
    auth: timedCalls<AuthServiceApi>(new AuthService(redis), AUTH_OPS),
    hub,
    durable: null,
    limits: rateLimits,
    reads,
  };
}

/**
 * `target`, with each call of the listed methods timed in parley_store_op_duration_seconds (backend
 * redis) - what the durable tier's wrapper does with the tier on, so the metric exists either way.
 */
function timedCalls<T extends object>(target: T, ops: Record<keyof T & string, string>): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      const op = typeof prop === 'string' ? (ops as Record<string, string | undefined>)[prop] : undefined;
      if (typeof value !== 'function' || !op) return value;
      return (...args: unknown[]) =>
        timed(metrics().storeOpDuration, { op, backend: 'redis' }, () => value.apply(obj, args) as Promise<unknown>);
    },
  });
}

const globalForServices = globalThis as unknown as { parleyServices?: Services; parleyDurable?: DurableTier | null };

/** The process's durable tier (one pool, one breaker), or null without DATABASE_URL. */
export function getDurableTier(): DurableTier | null {
  if (globalForServices.parleyDurable === undefined) {
    globalForServices.parleyDurable = env.DATABASE_URL
      ? new DurableTier({
          redis: getRedis(),
          pool: createPool(env.DATABASE_URL, { max: env.DATABASE_POOL_MAX }),
          eventLogMaxLen: env.EVENT_LOG_MAXLEN,
          deadlineMs: env.REDIS_FAILOVER_DEADLINE_MS,
          failureThreshold: env.BREAKER_FAILURE_THRESHOLD,
          probeIntervalMs: env.BREAKER_PROBE_INTERVAL_MS,
          idleEvictSeconds: env.SESSION_IDLE_EVICT_SECONDS,
        })
      : null;
    const tier = globalForServices.parleyDurable;
    if (tier) metrics().setDurableStatsProvider(() => tier.stats());
  }
  return globalForServices.parleyDurable;
}

export function getServices(): Services {
  globalForServices.parleyServices ??= createServices(getRedis(), getEventHub(), getDurableTier());
  return globalForServices.parleyServices;
}
