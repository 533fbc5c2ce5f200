/**
 * A harness with the durable tier on: real Redis (given), real PostgreSQL (a test database), the
 * tier's facades, and outbox consumers the test starts, kills and counts. useDurableTestEnv() sets one
 * up for a whole test file, over a redis-server and a PostgreSQL database of the file's own.
 */
import fs from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import { hashToken } from '~/server/auth/service';
import { createServices } from '~/server/context';
import { OUTBOX_GROUP, startOutboxConsumer, type OutboxConsumer, type OutboxConsumerOptions } from '~/server/durable/consumer';
import { createPool, type Pool } from '~/server/durable/pg';
import { DurableTier } from '~/server/durable/tier';
import { createRedis, createSubscriber } from '~/server/redis/client';
import { deadLetterStreams, outboxStreams } from '~/server/redis/outbox-partitions';
import { compareEventIds } from '~/shared/event-id';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { EventHub } from '~/server/realtime/hub';
import { harnessFor, type Harness, type TestUser } from './harness';
import { replaceWithEmpty, startOwnRedis, type OwnRedis } from './own-redis';
import { createTestDatabase, type TestDatabase } from './postgres';

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

export interface DurableHarnessOptions {
  redisUrl: string;
  databaseUrl: string;
  deadlineMs?: number;
  probeIntervalMs?: number;
  failureThreshold?: number;
  idleEvictSeconds?: number;
  idleEvictIntervalMs?: number;
}

export function createDurableHarness(opts: DurableHarnessOptions): DurableHarness {
  const redis = createRedis(opts.redisUrl);
  const hub = new EventHub(redis, () => createSubscriber(opts.redisUrl));
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
        discoverMs: 300,
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

/**
 * A test file's own Redis (a redis-server, or a whole cluster on the cluster pass: see own-redis.ts) and
 * PostgreSQL database, and a durable harness over them.
 */
export interface DurableTestEnv {
  /** This file's Redis (a new one after replaceRedisWithEmpty()). */
  readonly server: OwnRedis;
  readonly db: TestDatabase;
  readonly h: DurableHarness;
  /**
   * Destroys this file's Redis and starts a new, EMPTY one on the same port(s) (as if its disk were
   * lost); the app reconnects by itself.
   */
  replaceRedisWithEmpty(): Promise<void>;
}

/**
 * Registers the file's beforeAll/afterAll: starts its own Redis (own-redis.ts) and a test database, builds a
 * durable harness over them (`harness` options), and starts one outbox consumer when `consumer` is
 * set; at the end closes the harness, destroys the server, drops the database and removes the data
 * dirs of the empty servers started meanwhile. Read the fields inside tests and hooks, not before.
 */
export function useDurableTestEnv(
  opts: { harness?: Omit<DurableHarnessOptions, 'redisUrl' | 'databaseUrl'>; consumer?: boolean } = {},
): DurableTestEnv {
  let server: OwnRedis | undefined;
  let db: TestDatabase | undefined;
  let h: DurableHarness | undefined;
  const emptyDirs: string[] = [];
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`durable test env: ${what} is not set up yet (use it in a test or hook)`);
    return value;
  };

  beforeAll(async () => {
    [server, db] = await Promise.all([startOwnRedis(), createTestDatabase()]);
    h = createDurableHarness({ redisUrl: server.url, databaseUrl: db.url, ...opts.harness });
    if (opts.consumer) await h.consumer();
  });
  afterAll(async () => {
    await h?.close();
    await server?.destroy();
    await db?.drop();
    await Promise.all(emptyDirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  return {
    get server() {
      return ready(server, 'server');
    },
    get db() {
      return ready(db, 'db');
    },
    get h() {
      return ready(h, 'h');
    },
    async replaceRedisWithEmpty() {
      server = await replaceWithEmpty(ready(server, 'server'), emptyDirs);
    },
  };
}

/** What PostgreSQL holds of `user`'s login: null when no row, else whether it is revoked. */
export async function loginRowOf(pool: Pool, user: Pick<TestUser, 'token'>): Promise<{ revoked: boolean } | null> {
  const r = await pool.query<{ revoked: boolean }>('SELECT revoked_at IS NOT NULL AS revoked FROM login_sessions WHERE token_hash = $1', [
    hashToken(decodeURIComponent(user.token)),
  ]);
  return r.rows[0] ?? null;
}

/** Entries delivered and not acknowledged, over every outbox stream: in all, and per consumer. */
export async function outboxPending(redis: ScriptedRedis): Promise<{ total: number; byConsumer: Map<string, number> }> {
  const byConsumer = new Map<string, number>();
  let total = 0;
  for (const stream of await outboxStreams(redis)) {
    const summary = (await redis.xpending(stream, OUTBOX_GROUP).catch(() => [0])) as [number, string?, string?, [string, string][]?];
    total += Number(summary[0]);
    for (const [name, n] of summary[3] ?? []) byConsumer.set(name, (byConsumer.get(name) ?? 0) + Number(n));
  }
  return { total, byConsumer };
}

/**
 * Every dead letter, oldest first: the legacy outbox's and every partition's (`parley:outbox:{<tag>}:dead`,
 * beside its partition). Each as [id, fields].
 */
export async function outboxDeadLetters(redis: ScriptedRedis): Promise<Array<[string, string[]]>> {
  const streams = deadLetterStreams(await outboxStreams(redis));
  const all = (await Promise.all(streams.map((s) => redis.xrange(s, '-', '+')))).flat();
  return all.sort(([a], [b]) => compareEventIds(a, b));
}
