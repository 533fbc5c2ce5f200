import 'server-only';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis } from '~/server/redis/client';
import { isPgPermanent, isPgUnavailable, redisErrorCode } from '~/server/errors';
import { keys } from '~/server/redis/keys';
import { errorFields, logger } from '~/server/log';
import { metrics } from '~/server/metrics';
import { decodeOutboxEntry, MalformedEntryError, type OutboxEntry, type RawEntry } from './outbox';
import { persistEntries } from './persist';
import { transaction, type Pool } from './pg';

const log = logger('outbox');

export const OUTBOX_GROUP = 'parley-postgres';

export interface OutboxConsumerOptions {
  /** A connection of its own: XREADGROUP BLOCK holds it while waiting. */
  redis: Redis;
  pool: Pool;
  /** Unique per process (default: host-pid-random). Consumers of one group share the work. */
  name?: string;
  batchSize?: number;
  /** How long one XREADGROUP waits for new entries (also how fast stop() returns). */
  blockMs?: number;
  /** An entry delivered to a consumer and not acknowledged for this long is reclaimed by another. */
  claimIdleMs?: number;
  /** Failed deliveries (XPENDING's count, plus retries here) before an entry is dead-lettered. */
  maxDeliveries?: number;
  /** Backoff between retries after a failure: doubles from min to max. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

export interface OutboxConsumerStats {
  name: string;
  running: boolean;
  persisted: number;
  batches: number;
  reclaimed: number;
  deadLettered: number;
  lastError: string | null;
}

/**
 * The outbox consumer: persists `parley:outbox` to PostgreSQL through the consumer group
 * `parley-postgres`, so several app processes share the work and each entry is applied by one of them.
 *
 * Loop: reclaim entries another consumer left unacknowledged for too long (XAUTOCLAIM: it crashed or
 * hangs), else read new ones (XREADGROUP COUNT n BLOCK t); persist the batch in ONE transaction of
 * idempotent upserts; then XACK + XDEL it (MULTI). An entry leaves the stream only once PostgreSQL
 * committed it: if this process dies anywhere in between, the entry stays pending and another
 * consumer reclaims it; applying it twice is harmless (newest version wins).
 *
 * Failures: PostgreSQL unavailable (down, unreachable, timing out) -> retry the same batch forever
 * with backoff; nothing is dead-lettered for an outage, the backlog just waits in Redis. Anything
 * else (a constraint the data violates, a malformed entry) -> the batch is retried entry by entry so
 * the good ones go through, and an entry that keeps failing moves to `parley:outbox:dead` after
 * `maxDeliveries` tries, with its error, and is acknowledged (visible in /api/health and metrics).
 * An entry whose data PostgreSQL refuses outright (isPgPermanent) moves there at its first failure.
 * Only that entry: entries are full snapshots, so a later version of the same record that can be
 * stored is applied as usual and PostgreSQL catches up.
 */
export class OutboxConsumer {
  readonly name: string;
  private readonly o: Required<Omit<OutboxConsumerOptions, 'name'>>;
  private stopping = false;
  private killed = false;
  private loop: Promise<void> | null = null;
  private claimCursor = '0-0';
  private nextClaimAt = 0;
  private nextHousekeepingAt = 0;
  private wakeSleep: (() => void) | null = null;
  private readonly stats: OutboxConsumerStats;

  constructor(opts: OutboxConsumerOptions) {
    this.name = opts.name ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.o = {
      redis: opts.redis,
      pool: opts.pool,
      batchSize: opts.batchSize ?? 200,
      blockMs: opts.blockMs ?? 1000,
      claimIdleMs: opts.claimIdleMs ?? 30_000,
      maxDeliveries: opts.maxDeliveries ?? 5,
      backoffMinMs: opts.backoffMinMs ?? 100,
      backoffMaxMs: opts.backoffMaxMs ?? 5000,
    };
    this.stats = {
      name: this.name,
      running: false,
      persisted: 0,
      batches: 0,
      reclaimed: 0,
      deadLettered: 0,
      lastError: null,
    };
  }

  /** Starts the loop (idempotent). Resolves once the consumer group exists (or Redis is down). */
  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    this.stats.running = true;
    await this.ensureGroup().catch((err: unknown) => {
      log.warn({ consumer: this.name, ...errorFields(err) }, 'could not create the consumer group yet');
    });
    this.loop = this.run().finally(() => {
      this.stats.running = false;
    });
    log.info({ consumer: this.name }, 'outbox consumer started');
  }

  /** Finishes the batch in hand (persist + ack), then stops and closes its Redis connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeSleep?.();
    await this.loop;
    this.loop = null;
    this.o.redis.disconnect();
  }

  /**
   * Stops at once WITHOUT acknowledging what it holds, like a crash: its pending entries stay in the
   * group for another consumer to reclaim. (Tests and chaos drills.)
   */
  async kill(): Promise<void> {
    this.killed = true;
    this.stopping = true;
    this.wakeSleep?.();
    this.o.redis.disconnect();
    await this.loop?.catch(() => undefined);
    this.loop = null;
  }

  snapshot(): OutboxConsumerStats {
    return { ...this.stats };
  }

  // ------------------------------------------------------------------ the loop

  private async run(): Promise<void> {
    let backoff = this.o.backoffMinMs;
    while (!this.stopping) {
      try {
        await this.housekeeping();
        const entries = await this.nextBatch();
        if (entries.length > 0) await this.handle(entries);
        backoff = this.o.backoffMinMs;
      } catch (err) {
        if (this.stopping) break;
        this.stats.lastError = (err as Error).message;
        if (isNoGroup(err)) {
          // Redis came back without the stream (restarted empty): recreate the group and carry on.
          await this.ensureGroup().catch(() => undefined);
        } else {
          log.warn({ consumer: this.name, ...errorFields(err) }, 'outbox loop failed; retrying');
        }
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.o.backoffMaxMs);
      }
    }
  }

  private async ensureGroup(): Promise<void> {
    try {
      // From the start of the stream: entries written before any consumer existed are persisted too.
      await this.o.redis.xgroup('CREATE', keys.outbox, OUTBOX_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (redisErrorCode(err) !== 'BUSYGROUP') throw err;
    }
  }

  /** Stale entries of other consumers first (at most every claimIdleMs / 4), else new ones. */
  private async nextBatch(): Promise<Array<{ raw: RawEntry; deliveries: number }>> {
    if (Date.now() >= this.nextClaimAt) {
      this.nextClaimAt = Date.now() + Math.max(250, this.o.claimIdleMs / 4);
      const claimed = await this.claimStale();
      if (claimed.length > 0) return claimed;
    }
    const reply = (await this.o.redis.xreadgroup(
      'GROUP',
      OUTBOX_GROUP,
      this.name,
      'COUNT',
      this.o.batchSize,
      'BLOCK',
      this.o.blockMs,
      'STREAMS',
      keys.outbox,
      '>',
    )) as Array<[string, RawEntry[]]> | null;
    const entries = reply?.[0]?.[1] ?? [];
    return entries.map((raw) => ({ raw, deliveries: 1 }));
  }

  private async claimStale(): Promise<Array<{ raw: RawEntry; deliveries: number }>> {
    const [cursor, entries] = (await this.o.redis.xautoclaim(
      keys.outbox,
      OUTBOX_GROUP,
      this.name,
      this.o.claimIdleMs,
      this.claimCursor,
      'COUNT',
      this.o.batchSize,
    )) as [string, RawEntry[], string[]?];
    this.claimCursor = cursor;
    const live = entries.filter((e): e is RawEntry => Array.isArray(e) && e[1] !== null);
    if (live.length === 0) return [];
    // Delivery counts (XAUTOCLAIM just raised them), so an entry that keeps killing its consumers is
    // dead-lettered instead of taking the next one down too.
    const pending = (await this.o.redis.xpending(
      keys.outbox,
      OUTBOX_GROUP,
      live[0]![0],
      live[live.length - 1]![0],
      live.length,
      this.name,
    )) as Array<[string, string, number, number]>;
    const counts = new Map(pending.map(([id, , , n]) => [id, Number(n)]));
    this.stats.reclaimed += live.length;
    metrics().outboxReclaimed.inc(live.length);
    log.info({ consumer: this.name, entries: live.length }, 'reclaimed outbox entries from a stalled consumer');
    return live.map((raw) => ({ raw, deliveries: counts.get(raw[0]) ?? 2 }));
  }

  private async handle(batch: Array<{ raw: RawEntry; deliveries: number }>): Promise<void> {
    const good: Array<{ entry: OutboxEntry; deliveries: number }> = [];
    for (const { raw, deliveries } of batch) {
      try {
        good.push({ entry: decodeOutboxEntry(raw), deliveries });
      } catch (err) {
        if (!(err instanceof MalformedEntryError)) throw err;
        await this.deadLetter(raw, err.message, deliveries);
      }
    }
    const tooOften = good.filter((g) => g.deliveries > this.o.maxDeliveries);
    for (const g of tooOften) {
      await this.deadLetter(rawOf(batch, g.entry.id), 'delivered too often without being persisted', g.deliveries);
    }
    const entries = good.filter((g) => g.deliveries <= this.o.maxDeliveries);
    if (entries.length === 0) return;
    try {
      await this.persistUntilAvailable(entries.map((g) => g.entry));
      await this.ack(entries.map((g) => g.entry.id));
    } catch (err) {
      if (this.stopping || isPgUnavailable(err)) throw err;
      // Something in the batch cannot be applied: find it by going one by one.
      metrics().outboxRetries.inc({ reason: 'entry' });
      for (const g of entries) await this.persistOne(g.entry, rawOf(batch, g.entry.id), g.deliveries);
    }
  }

  /** Persists a batch, retrying with backoff for as long as PostgreSQL is unavailable. */
  private async persistUntilAvailable(entries: OutboxEntry[]): Promise<void> {
    let backoff = this.o.backoffMinMs;
    for (;;) {
      try {
        await this.persist(entries);
        return;
      } catch (err) {
        if (!isPgUnavailable(err) || this.stopping) throw err;
        this.stats.lastError = (err as Error).message;
        metrics().outboxRetries.inc({ reason: 'unavailable' });
        log.warn(
          { consumer: this.name, entries: entries.length, retryInMs: backoff, ...errorFields(err) },
          'PostgreSQL unavailable; the outbox backlog waits in Redis',
        );
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.o.backoffMaxMs);
      }
    }
  }

  private async persistOne(entry: OutboxEntry, raw: RawEntry, deliveries: number): Promise<void> {
    let attempts = deliveries;
    let backoff = this.o.backoffMinMs;
    for (;;) {
      try {
        await this.persistUntilAvailable([entry]);
        await this.ack([entry.id]);
        return;
      } catch (err) {
        if (this.stopping) throw err;
        attempts++;
        // Data PostgreSQL refuses will be refused again: set it aside now instead of sleeping on it
        // while everything behind it (including later, storable versions of its record) waits.
        if (attempts > this.o.maxDeliveries || isPgPermanent(err)) {
          await this.deadLetter(raw, (err as Error).message, attempts);
          return;
        }
        log.warn({ consumer: this.name, entry: entry.id, attempts, ...errorFields(err) }, 'outbox entry failed');
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.o.backoffMaxMs);
      }
    }
  }

  private async persist(entries: OutboxEntry[]): Promise<void> {
    const end = metrics().outboxBatchDuration.startTimer();
    try {
      const counts = await transaction(this.o.pool, (client) => persistEntries(client, entries));
      end({ outcome: 'ok' });
      for (const [kind, n] of Object.entries(counts)) if (n > 0) metrics().outboxPersisted.inc({ kind }, n);
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }

  private async ack(ids: string[]): Promise<void> {
    if (this.killed) throw new Error('consumer killed');
    // Acknowledge, then delete: the outbox holds only what PostgreSQL does not have yet. If Redis
    // fails here the entries are applied again later (idempotent), never lost.
    await this.o.redis.multi().xack(keys.outbox, OUTBOX_GROUP, ...ids).xdel(keys.outbox, ...ids).exec();
    this.stats.persisted += ids.length;
    this.stats.batches++;
  }

  private async deadLetter(raw: RawEntry, error: string, deliveries: number): Promise<void> {
    const [id, fields] = raw;
    await this.o.redis
      .multi()
      .xadd(keys.outboxDead, 'MAXLEN', '~', 100_000, '*', 'outboxId', id, 'error', error.slice(0, 500),
        'deliveries', deliveries, 'consumer', this.name, ...fields)
      .xack(keys.outbox, OUTBOX_GROUP, id)
      .xdel(keys.outbox, id)
      .exec();
    this.stats.deadLettered++;
    metrics().outboxDeadLettered.inc();
    log.error({ consumer: this.name, entry: id, deliveries, error: error.slice(0, 200) }, 'outbox entry dead-lettered');
  }

  /** Every few minutes: forget consumers of the group that left (no pending entries, idle > 1 h). */
  private async housekeeping(): Promise<void> {
    if (Date.now() < this.nextHousekeepingAt) return;
    this.nextHousekeepingAt = Date.now() + 5 * 60_000;
    const consumers = (await this.o.redis.xinfo('CONSUMERS', keys.outbox, OUTBOX_GROUP)) as unknown[][];
    for (const c of consumers) {
      const f = new Map<string, unknown>();
      for (let i = 0; i + 1 < c.length; i += 2) f.set(String(c[i]), c[i + 1]);
      const name = String(f.get('name'));
      if (name !== this.name && Number(f.get('pending')) === 0 && Number(f.get('idle')) > 3_600_000) {
        await this.o.redis.xgroup('DELCONSUMER', keys.outbox, OUTBOX_GROUP, name);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleep = done;
    });
  }
}

function rawOf(batch: Array<{ raw: RawEntry }>, id: string): RawEntry {
  return batch.find((b) => b.raw[0] === id)!.raw;
}

function isNoGroup(err: unknown): boolean {
  return redisErrorCode(err) === 'NOGROUP';
}

/**
 * Starts a consumer on its own Redis connection (XREADGROUP BLOCK holds a connection while it waits,
 * so it cannot share the request connection, and its command deadline must outlast the block).
 * Also what a benchmark or an operator script uses to drain an outbox into a given PostgreSQL.
 */
export async function startOutboxConsumer(
  opts: Omit<OutboxConsumerOptions, 'redis'> & { redisUrl: string },
): Promise<OutboxConsumer> {
  const { redisUrl, ...rest } = opts;
  const redis = createRedis(redisUrl, { commandTimeout: (opts.blockMs ?? 1000) + 5000 });
  const consumer = new OutboxConsumer({ ...rest, redis });
  await consumer.start();
  return consumer;
}
