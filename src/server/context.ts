import 'server-only';
import { AuthService } from '~/server/auth/service';
import { ReadState } from '~/server/chat/read-state';
import { ChatStore, type ChatStoreApi } from '~/server/chat/store';
import type { AuthServiceApi } from '~/server/auth/service';
import { createPool } from '~/server/durable/pg';
import { DurableTier } from '~/server/durable/tier';
import { TieredAuthService, TieredChatStore } from '~/server/durable/tiered';
import { env } from '~/server/env';
import { metrics } from '~/server/metrics';
import { getRedis } from '~/server/redis/client';
import { keys } from '~/server/redis/keys';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { getEventHub, type EventHub } from '~/server/realtime/hub';
import { limitsFromEnv, RateLimits, type LimitsConfig } from '~/server/limits/rate-limits';

/**
 * The server's services, built once per process around the shared Redis connection. Tests build their
 * own around a Redis they started (see createServices).
 *
 * `store` and `auth` are the same facades with or without the durable tier: without it (no
 * DATABASE_URL) they call Redis directly, exactly as before; with it they add the outbox, read-through
 * and failover to PostgreSQL (src/server/durable/).
 */
export interface Services {
  redis: ScriptedRedis;
  store: ChatStoreApi;
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
  const reads = new ReadState(redis, durable ? keys.outbox : null);
  if (durable) return { redis, store: durable.store, auth: durable.auth, hub, durable, limits: rateLimits, reads };
  return {
    redis,
    store: new TieredChatStore(new ChatStore(redis), null),
    auth: new TieredAuthService(new AuthService(redis), null),
    hub,
    durable: null,
    limits: rateLimits,
    reads,
  };
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
