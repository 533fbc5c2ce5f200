import 'server-only';
import { AuthService } from '~/server/auth/service';
import { ChatStore } from '~/server/chat/store';
import { errorFields, logger } from '~/server/log';
import type { DurableStats } from '~/server/metrics';
import { deadLetterStreams, outboxStreams } from '~/server/redis/outbox-partitions';
import { eventIdTimeMs } from '~/shared/event-id';
import type { ScriptedRedis } from '~/server/redis/scripts';
import type { Redis } from 'ioredis';
import { RedisBreaker } from './breaker';
import { evictIdleSessions, evictionFailed } from './evict';
import { Hydrator } from './hydrate';
import { type Pool } from './pg';
import { PgStore } from './pg-store';
import { Reconciler } from './reconcile';
import { appendWithReadThrough, isRedisDown, TieredAuthService, TieredChatStore, withDeadline, type TierDeps } from './tiered';

const log = logger('durable');

export interface DurableTierOptions {
  redis: ScriptedRedis;
  pool: Pool;
  eventLogMaxLen: number;
  /** How long a read or send waits for Redis before PostgreSQL serves it. */
  deadlineMs?: number;
  failureThreshold?: number;
  probeIntervalMs?: number;
  /** While the breaker is closed: how often to look for pending sends left to replay. */
  sweepIntervalMs?: number;
  /**
   * Idle eviction: the messages of a session nobody read or wrote for this long, with every change
   * persisted, leave Redis (its record stays) and come back through read-through. 0 or absent: off
   * (nothing ever leaves Redis).
   */
  idleEvictSeconds?: number;
  /** How often to look for idle sessions (default: a quarter of the idle time, 5 s to 5 min; 0: never by itself). */
  idleEvictIntervalMs?: number;
}

/**
 * The durable tier of one process: the PostgreSQL store, read-through, the Redis circuit breaker and
 * the replay of sends made during an outage, plus the Redis store and auth service in outbox mode.
 * The outbox consumer is separate (startOutboxConsumer): it needs its own Redis connection, and
 * tests run several of them.
 */
export class DurableTier {
  readonly pg: PgStore;
  readonly hydrator: Hydrator;
  readonly breaker: RedisBreaker;
  readonly reconciler: Reconciler;
  /** The Redis store with the outbox on (the facades below wrap it). */
  readonly redisStore: ChatStore;
  readonly store: TieredChatStore;
  readonly auth: TieredAuthService;
  private sweeper: NodeJS.Timeout | null = null;
  private sweeping = false;
  private evictor: NodeJS.Timeout | null = null;
  private evicting: Promise<number> | null = null;

  constructor(private readonly o: DurableTierOptions) {
    const deadlineMs = o.deadlineMs ?? 700;
    this.pg = new PgStore(o.pool);
    this.redisStore = new ChatStore(o.redis, { eventLogMaxLen: o.eventLogMaxLen, outbox: true });
    this.hydrator = new Hydrator(o.redis, this.pg);
    this.reconciler = new Reconciler(o.pool, this.pg, (input) => appendWithReadThrough(this.redisStore, this.hydrator, input));
    this.breaker = new RedisBreaker({
      failureThreshold: o.failureThreshold ?? 3,
      probeIntervalMs: o.probeIntervalMs ?? 1000,
      isRedisFailure: isRedisDown,
      probe: async () => {
        if ((await withDeadline(o.redis.ping(), deadlineMs)) !== 'PONG') throw new Error('no PONG');
      },
      // Replay what is pending before Redis serves again. Sends arriving meanwhile may add more, so a
      // few passes, not "until empty" (which a steady stream of sends could keep from ending); what is
      // left is replayed by the sweeper right after the close.
      reconcile: async () => {
        for (let pass = 0; pass < 3 && (await this.reconciler.replayAll()) > 0; pass++);
      },
    });
    const deps: TierDeps = { redis: o.redis, pg: this.pg, breaker: this.breaker, hydrator: this.hydrator, deadlineMs };
    this.store = new TieredChatStore(this.redisStore, deps);
    this.auth = new TieredAuthService(new AuthService(o.redis, { outbox: true }), deps);
    this.startSweeper(o.sweepIntervalMs ?? 5000);
    this.startEvictor();
    this.breaker.onChange((state) => {
      if (state === 'closed') this.sweep();
    });
  }

  /** Outbox backlog, dead letters, pending sends and the health of both stores (health, metrics). */
  async stats(): Promise<DurableStats> {
    const [postgres, outbox, failover] = await Promise.all([
      this.pg.ping(),
      outboxLag(this.o.redis, 500).catch(() => null),
      this.pg.pendingCounts().catch(() => null),
    ]);
    return { postgres: postgres ? 'up' : 'down', breaker: this.breaker.state, outbox, failover };
  }

  close(): void {
    this.breaker.close();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    if (this.evictor) clearInterval(this.evictor);
    this.evictor = null;
  }

  /**
   * One idle-eviction pass (see evict.ts); 0 when eviction is off or Redis is not serving. Passes
   * never overlap: a call during one gets that pass's count.
   */
  evictIdleSessions(): Promise<number> {
    const idleSeconds = this.o.idleEvictSeconds ?? 0;
    if (idleSeconds <= 0 || this.breaker.state !== 'closed') return Promise.resolve(0);
    this.evicting ??= evictIdleSessions(this.o.redis, idleSeconds).finally(() => {
      this.evicting = null;
    });
    return this.evicting;
  }

  private startEvictor() {
    const idleSeconds = this.o.idleEvictSeconds ?? 0;
    if (idleSeconds <= 0) return;
    const intervalMs = this.o.idleEvictIntervalMs ?? Math.min(Math.max((idleSeconds * 1000) / 4, 5000), 300_000);
    if (intervalMs <= 0) return;
    this.evictor = setInterval(() => void this.evictIdleSessions().catch(evictionFailed), intervalMs);
    this.evictor.unref();
  }

  /**
   * Every few seconds while Redis serves: replay pending sends left over (sent in the moment the
   * breaker closed, or by a process that died before it reconciled), and drop expired login sessions.
   */
  private startSweeper(intervalMs: number) {
    let ticks = 0;
    this.sweeper = setInterval(() => this.sweep(++ticks % 720 === 0), intervalMs);
    this.sweeper.unref();
  }

  private sweep(housekeeping = false) {
    if (this.sweeping || this.breaker.state !== 'closed') return;
    this.sweeping = true;
    void Promise.all([this.reconciler.replayAll(), housekeeping ? this.pg.deleteExpiredLogins() : 0])
      .catch((err: unknown) => log.warn({ ...errorFields(err) }, 'pending replay sweep failed; will retry'))
      .finally(() => {
        this.sweeping = false;
      });
  }
}

/**
 * The outbox's lag, summed over every partition (and the legacy outbox while it exists): entries not
 * yet persisted to PostgreSQL, the age of the oldest, and the dead-letter count. Exported for health,
 * metrics and benchmarks (drain rate = entries over time).
 */
export async function outboxLag(
  redis: Redis,
  deadlineMs = 1000,
): Promise<{ entries: number; oldestAgeSeconds: number; deadLetters: number }> {
  return withDeadline(sumLag(redis), deadlineMs);
}

async function sumLag(redis: Redis): Promise<{ entries: number; oldestAgeSeconds: number; deadLetters: number }> {
  const streams = await outboxStreams(redis);
  const deadStreams = deadLetterStreams(streams);
  const [lengths, firsts, deads] = await Promise.all([
    Promise.all(streams.map((s) => redis.xlen(s))),
    Promise.all(streams.map((s) => redis.xrange(s, '-', '+', 'COUNT', 1))),
    Promise.all(deadStreams.map((s) => redis.xlen(s))),
  ]);
  const oldestMs = Math.min(...firsts.flatMap((f) => (f[0] ? [eventIdTimeMs(f[0][0]) ?? Infinity] : [])));
  return {
    entries: lengths.reduce((a, b) => a + b, 0),
    oldestAgeSeconds: Number.isFinite(oldestMs) ? Math.max(0, (Date.now() - oldestMs) / 1000) : 0,
    deadLetters: deads.reduce((a, b) => a + b, 0),
  };
}
