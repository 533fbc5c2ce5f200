/**
 * A harness with the durable tier on: real Redis (given), real PostgreSQL (a test database), the
 * tier's facades, and outbox consumers the test starts, kills and counts.
 */
import { createServices } from '~/server/context';
import { startOutboxConsumer, type OutboxConsumer, type OutboxConsumerOptions } from '~/server/durable/consumer';
import { createPool, type Pool } from '~/server/durable/pg';
import { DurableTier } from '~/server/durable/tier';
import { createRedis } from '~/server/redis/client';
import { EventHub } from '~/server/realtime/hub';
import { harnessFor, type Harness } from './harness';

export interface DurableHarness extends Harness {
  durable: DurableTier;
  pool: Pool;
  /** Starts an outbox consumer (fast timings for tests unless overridden). */
  consumer(opts?: Partial<Omit<OutboxConsumerOptions, 'redis'>>): Promise<OutboxConsumer>;
  /** Stops every consumer started so far; returns how many were running. */
  stopConsumers(): Promise<number>;
}

/**
 * Breaker settings for tests that do not exercise the breaker: a GC pause or CPU contention on a
 * loaded 2-core machine can hold a Redis answer for a second or more, and a breaker opened by that
 * mid-test would send reads to PostgreSQL (no read-through, no Redis answers) and fail the test for
 * nothing. Tests about failover pass their own, production-like values (about a second, 3 failures).
 */
export const TOLERANT_DEADLINE_MS = 5000;
export const TOLERANT_FAILURE_THRESHOLD = 5;

export function createDurableHarness(opts: {
  redisUrl: string;
  databaseUrl: string;
  deadlineMs?: number;
  probeIntervalMs?: number;
  failureThreshold?: number;
  idleEvictSeconds?: number;
  idleEvictIntervalMs?: number;
}): DurableHarness {
  const redis = createRedis(opts.redisUrl);
  const hub = new EventHub(redis, () => createRedis(opts.redisUrl));
  const pool = createPool(opts.databaseUrl, { max: 8 });
  const durable = new DurableTier({
    redis,
    pool,
    eventLogMaxLen: 10_000,
    deadlineMs: opts.deadlineMs ?? TOLERANT_DEADLINE_MS,
    probeIntervalMs: opts.probeIntervalMs ?? 200,
    failureThreshold: opts.failureThreshold ?? TOLERANT_FAILURE_THRESHOLD,
    sweepIntervalMs: 1000,
    ...(opts.idleEvictSeconds !== undefined ? { idleEvictSeconds: opts.idleEvictSeconds } : {}),
    ...(opts.idleEvictIntervalMs !== undefined ? { idleEvictIntervalMs: opts.idleEvictIntervalMs } : {}),
  });
  const consumers: OutboxConsumer[] = [];
  const base = harnessFor(createServices(redis, hub, durable), async () => {
    await Promise.all(consumers.map((c) => c.stop().catch(() => undefined)));
    durable.close();
    await hub.close();
    redis.disconnect();
    await pool.end();
  });
  return {
    ...base,
    durable,
    pool,
    async consumer(o = {}) {
      const c = await startOutboxConsumer({
        redisUrl: opts.redisUrl,
        pool,
        blockMs: 200,
        claimIdleMs: 1000,
        backoffMinMs: 50,
        backoffMaxMs: 500,
        ...o,
      });
      consumers.push(c);
      return c;
    },
    async stopConsumers() {
      const running = consumers.splice(0);
      await Promise.all(running.map((c) => c.stop()));
      return running.length;
    },
  };
}
