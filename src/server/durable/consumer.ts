import 'server-only';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { createRedis } from '~/server/redis/client';
import { isPgPermanent, isPgUnavailable, redisErrorCode } from '~/server/errors';
import { keys } from '~/server/redis/keys';
import { byMaster } from '~/server/redis/cluster';
import { deadLettersOf, outboxStreams, partitionsWritten, takeRecentWrites } from '~/server/redis/outbox-partitions';
import { scripts } from '~/server/redis/scripts';
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
  /**
   * The longest pause between two rounds of reads while nothing comes (the pause doubles from a few ms):
   * the most an entry written by this process waits when the outbox was idle.
   */
  blockMs?: number;
  /**
   * A partition that keeps coming back empty is read every 2nd, 4th, ... round, at most every
   * `coldPollRounds`-th; one with entries, or written by this process, is read the next round. An
   * entry another process writes to a cold partition of an idle outbox therefore waits up to about
   * coldPollRounds x blockMs (8 s by default).
   */
  coldPollRounds?: number;
  /** How often the partitions are looked for by SCAN (the ones this process wrote to are seen at once). */
  discoverMs?: number;
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
  /** Rounds of the loop (each reads the partitions that are due). */
  rounds: number;
  /** XREADGROUP commands sent (one per partition read). */
  reads: number;
  /** Pipelines sent to read or reclaim (one per master per chunk of partitions). */
  roundTrips: number;
}

/**
 * The outbox consumer: persists every outbox partition (`parley:outbox:{<tag>}`, one per hash slot
 * written to, see src/server/redis/outbox-partitions.ts) and the legacy single `parley:outbox` an
 * upgrade left behind to PostgreSQL through the consumer group `parley-postgres` of each stream, so
 * several app processes share the work and each entry is applied by one of them.
 *
 * Partitions: found by SCAN on every master every `discoverMs` (no global registry: a write script
 * would have to touch it, cross-slot), plus at once those this process wrote to. Each gets the group
 * (from its start) when first seen.
 *
 * Loop, in rounds: reclaim entries another consumer left unacknowledged for too long (XAUTOCLAIM per
 * stream: it crashed or hangs), else read new ones (XREADGROUP COUNT n per stream, without BLOCK: a
 * blocking read holds one stream or one slot only), each batched into one pipeline per master. A round
 * reads only the streams that are due (see scheduleNextRead: cold ones every coldPollRounds-th round,
 * those with entries or written by this process the next round); while nothing comes, pause between
 * rounds, doubling up to `blockMs`. Bounds: an entry this process writes to an idle outbox waits up to
 * about blockMs; one another process writes to a cold partition, up to about coldPollRounds x blockMs
 * (plus discoverMs for a partition not seen yet). Persist the batch in ONE transaction of idempotent upserts; then
 * XACK + XDEL each stream's part (MULTI, one slot). An entry leaves its stream only once PostgreSQL
 * committed it: if this process dies anywhere in between, the entry stays pending and another
 * consumer reclaims it; applying it twice is harmless (newest version wins). A record's changes all
 * go to one partition (its slot), in stream-id order; entries left in the legacy outbox are older
 * than any partition entry of the same record (same server clock), so the version guards keep the
 * newest whichever is applied first.
 *
 * Failures: PostgreSQL unavailable (down, unreachable, timing out) -> retry the same batch forever
 * with backoff; nothing is dead-lettered for an outage, the backlog just waits in Redis. Anything
 * else (a constraint the data violates, a malformed entry) -> the batch is retried entry by entry so
 * the good ones go through, and an entry that keeps failing moves to its stream's dead letters
 * (`parley:outbox:{<tag>}:dead`; `parley:outbox:dead` for the legacy outbox) after
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
  private claimCursors = new Map<string, string>();
  /**
   * The streams read, each with its group made (or found) by this consumer, and how many rounds in a
   * row each came back empty (the read cadence, see coldPollRounds).
   */
  private readonly streams = new Map<string, { emptyReads: number; nextRound: number }>();
  private nextDiscoverAt = 0;
  private idleMs = 0;
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
      coldPollRounds: opts.coldPollRounds ?? 8,
      discoverMs: opts.discoverMs ?? 5000,
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
      rounds: 0,
      reads: 0,
      roundTrips: 0,
    };
  }

  /** Starts the loop (idempotent). Resolves once the streams there are have their group (or Redis is down). */
  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    this.stats.running = true;
    await this.discover().catch((err: unknown) => {
      log.warn({ consumer: this.name, ...errorFields(err) }, 'could not look for the outbox partitions yet');
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
        await this.discover();
        this.stats.rounds++;
        const entries = await this.nextBatch();
        backoff = this.o.backoffMinMs;
        if (entries.length > 0) {
          this.idleMs = 0;
          await this.handle(entries);
        } else {
          // Nothing anywhere: pause before the next round, longer while it stays so (at most blockMs).
          this.idleMs = Math.min(Math.max(5, this.idleMs * 2), this.o.blockMs);
          await this.sleep(this.idleMs);
        }
      } catch (err) {
        if (this.stopping) break;
        this.stats.lastError = (err as Error).message;
        log.warn({ consumer: this.name, ...errorFields(err) }, 'outbox loop failed; retrying');
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.o.backoffMaxMs);
      }
    }
  }

  /**
   * Adds the partitions this process wrote to (every round: a set in memory) and, every discoverMs,
   * every outbox stream there is (SCAN on every master), making each one's group when first seen.
   */
  private async discover(): Promise<void> {
    // Written by this process since the last round: read them this round, however cold they were, and
    // soon again if that read comes too early (the write's script may land just after it).
    for (const stream of takeRecentWrites()) {
      const state = this.streams.get(stream);
      if (state) Object.assign(state, { emptyReads: 0, nextRound: 0 });
    }
    const found = partitionsWritten().filter((s) => !this.streams.has(s));
    if (Date.now() >= this.nextDiscoverAt) {
      await this.retireLegacyOutbox();
      const all = await outboxStreams(this.o.redis);
      this.nextDiscoverAt = Date.now() + this.o.discoverMs;
      found.push(...all.filter((s) => !this.streams.has(s) && !found.includes(s)));
    }
    for (const stream of found) if (await this.ensureGroup(stream)) this.streams.set(stream, { emptyReads: 0, nextRound: 0 });
  }

  /**
   * Deletes the legacy single outbox once it is drained (the script checks, atomically, that it holds
   * no entry and has nothing pending), so it stops costing a read every round and an EXISTS every
   * discovery. An old-release writer still running recreates it with its next entry: the SCAN that
   * follows finds it again and its group is made from the start, so that entry is drained too.
   */
  private async retireLegacyOutbox(): Promise<void> {
    if (!this.streams.has(keys.outboxLegacy)) return;
    if (!(await scripts.retireLegacyOutbox.run(this.o.redis, {}))) return;
    this.streams.delete(keys.outboxLegacy);
    this.claimCursors.delete(keys.outboxLegacy);
    log.info({ consumer: this.name }, 'the legacy outbox is drained and deleted');
  }

  /**
   * Makes the stream's group, from the stream's start (entries written before any consumer existed
   * are persisted too). false when the stream does not exist (yet, or any more: Redis restarted
   * empty): no MKSTREAM, so a partition named by a write that appended nothing is not created empty;
   * it is looked at again once it exists.
   */
  private async ensureGroup(stream: string): Promise<boolean> {
    try {
      await this.o.redis.xgroup('CREATE', stream, OUTBOX_GROUP, '0');
      return true;
    } catch (err) {
      if (redisErrorCode(err) === 'BUSYGROUP') return true;
      if (redisErrorCode(err) === 'ERR' && /requires the key to exist/.test((err as Error).message)) return false;
      throw err;
    }
  }

  /**
   * Sends one command per stream, batched: the streams are taken READ_CHUNK at a time, and each chunk
   * goes as one pipeline per master (the streams of that master's slots: a cluster pipeline may span
   * the slots of one master, and a standalone Redis is one master), all masters at once. Stops once
   * `batchSize` entries are in hand. `parse` turns one stream's reply into its deliveries. A stream that
   * lost its group (Redis restarted empty, the key was deleted) gets it back or is dropped; one whose
   * slot is moving (MOVED/ASK/TRYAGAIN that ioredis did not resolve) is simply read again next round.
   */
  private async gather(
    streams: string[],
    add: (pipeline: ChainableCommander, stream: string) => void,
    parse: (stream: string, reply: unknown) => Promise<Delivery[]>,
  ): Promise<Delivery[]> {
    const out: Delivery[] = [];
    for (let i = 0; i < streams.length && out.length < this.o.batchSize; i += READ_CHUNK) {
      const groups = byMaster(this.o.redis, streams.slice(i, i + READ_CHUNK));
      const parts = await Promise.all(
        groups.map(async (group) => {
          const pipeline = this.o.redis.pipeline();
          for (const stream of group) add(pipeline, stream);
          this.stats.roundTrips++;
          const results = (await pipeline.exec()) ?? [];
          const deliveries: Delivery[] = [];
          for (const [n, stream] of group.entries()) {
            const [err, reply] = results[n] ?? [new Error('no reply'), null];
            if (!err) {
              deliveries.push(...(await parse(stream, reply)));
            } else if (isNoGroup(err)) {
              if (!(await this.ensureGroup(stream))) this.streams.delete(stream);
            } else if (!isRedirect(err)) {
              throw err;
            }
          }
          return deliveries;
        }),
      );
      for (const p of parts) out.push(...p);
    }
    return out;
  }

  /** Stale entries of other consumers first (at most every claimIdleMs / 4), else new ones. */
  private async nextBatch(): Promise<Delivery[]> {
    if (Date.now() >= this.nextClaimAt) {
      this.nextClaimAt = Date.now() + Math.max(250, this.o.claimIdleMs / 4);
      const claimed = await this.gather(
        [...this.streams.keys()],
        (p, stream) => p.xautoclaim(stream, OUTBOX_GROUP, this.name, this.o.claimIdleMs, this.claimCursors.get(stream) ?? '0-0', 'COUNT', this.o.batchSize),
        (stream, reply) => this.claimed(stream, reply as [string, RawEntry[], string[]?]),
      );
      if (claimed.length > 0) return claimed;
    }
    const round = this.stats.rounds;
    const due = [...this.streams].filter(([, state]) => state.nextRound <= round).map(([stream]) => stream);
    return this.gather(
      due,
      (p, stream) => {
        this.stats.reads++;
        p.xreadgroup('GROUP', OUTBOX_GROUP, this.name, 'COUNT', this.o.batchSize, 'STREAMS', stream, '>');
      },
      (stream, reply) => {
        const raws = (reply as Array<[string, RawEntry[]]> | null)?.[0]?.[1] ?? [];
        this.scheduleNextRead(stream, raws.length > 0, round);
        return Promise.resolve(raws.map((raw) => ({ stream, raw, deliveries: 1 })));
      },
    );
  }

  /**
   * The read cadence of one partition. Why not a signal instead of polls: a write by another process
   * could announce itself (SPUBLISH on a per-slot channel, or keyspace notifications), but that costs
   * every write a publish on the hot path, and thousands of shard subscriptions per instance, to save
   * reads of idle partitions; those cost Redis about a microsecond each, batched per master into one
   * round trip, and backing off bounds them: at most partitions / coldPollRounds reads a round (16,384
   * partitions: about 2,000 a second per idle instance, in a few round trips, instead of 16,384).
   */
  private scheduleNextRead(stream: string, gotEntries: boolean, round: number): void {
    const state = this.streams.get(stream);
    if (!state) return;
    state.emptyReads = gotEntries ? 0 : state.emptyReads + 1;
    const every = Math.min(2 ** state.emptyReads, this.o.coldPollRounds);
    state.nextRound = round + (gotEntries ? 1 : every);
  }

  /** The deliveries of one stream's XAUTOCLAIM reply, with their delivery counts. */
  private async claimed(stream: string, [cursor, entries]: [string, RawEntry[], string[]?]): Promise<Delivery[]> {
    this.claimCursors.set(stream, cursor);
    const live = entries.filter((e): e is RawEntry => Array.isArray(e) && e[1] !== null);
    if (live.length === 0) return [];
    // Delivery counts (XAUTOCLAIM just raised them), so an entry that keeps killing its consumers is
    // dead-lettered instead of taking the next one down too.
    const pending = (await this.o.redis.xpending(
      stream,
      OUTBOX_GROUP,
      live[0]![0],
      live[live.length - 1]![0],
      live.length,
      this.name,
    )) as Array<[string, string, number, number]>;
    const counts = new Map(pending.map(([id, , , n]) => [id, Number(n)]));
    this.stats.reclaimed += live.length;
    metrics().outboxReclaimed.inc(live.length);
    log.info({ consumer: this.name, stream, entries: live.length }, 'reclaimed outbox entries from a stalled consumer');
    return live.map((raw) => ({ stream, raw, deliveries: counts.get(raw[0]) ?? 2 }));
  }

  private async handle(batch: Delivery[]): Promise<void> {
    const good: Array<{ stream: string; entry: OutboxEntry; deliveries: number; raw: RawEntry }> = [];
    for (const { stream, raw, deliveries } of batch) {
      try {
        good.push({ stream, entry: decodeOutboxEntry(raw), deliveries, raw });
      } catch (err) {
        if (!(err instanceof MalformedEntryError)) throw err;
        await this.deadLetter(stream, raw, err.message, deliveries);
      }
    }
    const tooOften = good.filter((g) => g.deliveries > this.o.maxDeliveries);
    for (const g of tooOften) {
      await this.deadLetter(g.stream, g.raw, 'delivered too often without being persisted', g.deliveries);
    }
    const entries = good.filter((g) => g.deliveries <= this.o.maxDeliveries);
    if (entries.length === 0) return;
    try {
      await this.persistUntilAvailable(entries.map((g) => g.entry));
      await this.ack(entries);
    } catch (err) {
      if (this.stopping || isPgUnavailable(err)) throw err;
      // Something in the batch cannot be applied: find it by going one by one.
      metrics().outboxRetries.inc({ reason: 'entry' });
      for (const g of entries) await this.persistOne(g);
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

  private async persistOne(g: { stream: string; entry: OutboxEntry; raw: RawEntry; deliveries: number }): Promise<void> {
    let attempts = g.deliveries;
    let backoff = this.o.backoffMinMs;
    for (;;) {
      try {
        await this.persistUntilAvailable([g.entry]);
        await this.ack([g]);
        return;
      } catch (err) {
        if (this.stopping) throw err;
        attempts++;
        // Data PostgreSQL refuses will be refused again: set it aside now instead of sleeping on it
        // while everything behind it (including later, storable versions of its record) waits.
        if (attempts > this.o.maxDeliveries || isPgPermanent(err)) {
          await this.deadLetter(g.stream, g.raw, (err as Error).message, attempts);
          return;
        }
        log.warn({ consumer: this.name, entry: g.entry.id, attempts, ...errorFields(err) }, 'outbox entry failed');
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

  private async ack(entries: Array<{ stream: string; entry: OutboxEntry }>): Promise<void> {
    if (this.killed) throw new Error('consumer killed');
    const byStream = new Map<string, string[]>();
    for (const { stream, entry } of entries) byStream.set(stream, [...(byStream.get(stream) ?? []), entry.id]);
    // Acknowledge, then delete, per stream (one slot per MULTI): the outbox holds only what PostgreSQL
    // does not have yet. If Redis fails here the entries are applied again later (idempotent), never lost.
    await Promise.all(
      [...byStream].map(([stream, ids]) =>
        this.o.redis.multi().xack(stream, OUTBOX_GROUP, ...ids).xdel(stream, ...ids).exec(),
      ),
    );
    this.stats.persisted += entries.length;
    this.stats.batches++;
  }

  private async deadLetter(stream: string, raw: RawEntry, error: string, deliveries: number): Promise<void> {
    const [id, fields] = raw;
    await this.o.redis
      .multi()
      .xadd(deadLettersOf(stream), 'MAXLEN', '~', 100_000, '*', 'outboxId', id, 'error', error.slice(0, 500),
        'deliveries', deliveries, 'consumer', this.name, ...fields)
      .xack(stream, OUTBOX_GROUP, id)
      .xdel(stream, id)
      .exec();
    this.stats.deadLettered++;
    metrics().outboxDeadLettered.inc();
    log.error({ consumer: this.name, stream, entry: id, deliveries, error: error.slice(0, 200) }, 'outbox entry dead-lettered');
  }

  /** Every few minutes: forget consumers of the groups that left (no pending entries, idle > 1 h). */
  private async housekeeping(): Promise<void> {
    if (Date.now() < this.nextHousekeepingAt) return;
    this.nextHousekeepingAt = Date.now() + 5 * 60_000;
    for (const stream of this.streams.keys()) {
      const consumers = (await this.o.redis.xinfo('CONSUMERS', stream, OUTBOX_GROUP)) as unknown[][];
      for (const c of consumers) {
        const f = new Map<string, unknown>();
        for (let i = 0; i + 1 < c.length; i += 2) f.set(String(c[i]), c[i + 1]);
        const name = String(f.get('name'));
        if (name !== this.name && Number(f.get('pending')) === 0 && Number(f.get('idle')) > 3_600_000) {
          await this.o.redis.xgroup('DELCONSUMER', stream, OUTBOX_GROUP, name);
        }
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

/** One entry as read from one stream, with how often it was delivered. */
interface Delivery {
  stream: string;
  raw: RawEntry;
  deliveries: number;
}

/** Streams read per step (one pipeline per master each). */
const READ_CHUNK = 1024;

function isNoGroup(err: unknown): boolean {
  return redisErrorCode(err) === 'NOGROUP';
}

function isRedirect(err: unknown): boolean {
  const code = redisErrorCode(err);
  return code === 'MOVED' || code === 'ASK' || code === 'TRYAGAIN' || code === 'CLUSTERDOWN';
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
