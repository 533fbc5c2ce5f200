import 'server-only';
import calculateSlot from 'cluster-key-slot';
import { idInKey, keys, OUTBOX_PARTITION_PATTERN } from './keys';
import { scanKeys } from './scan';
import type { ScriptedRedis } from './scripts';

/**
 * The durable tier's outbox is partitioned by hash slot: a write appends its change to
 * `parley:outbox:{<tag>}` where CRC16(<tag>) is the slot of the keys it writes, so the append stays in
 * the write's own script on a Redis Cluster (one slot per script) and on a standalone Redis alike: one
 * code path. A project's changes all land in one partition, in order (its stream ids are its versions).
 *
 * No global registry: a script would have to touch it (cross-slot). The consumer finds partitions by
 * SCAN (every master) plus the ones this process wrote to (`partitionsWritten`).
 */

const SLOTS = 16384;
let tags: string[] | null = null;

/**
 * Slot -> the shortest decimal tag hashing to it. Built once, on first use (some 150k CRC16s of short
 * strings, a few ms): every slot is reached well before 2^20.
 */
function tagTable(): string[] {
  if (tags) return tags;
  const table = new Array<string | undefined>(SLOTS);
  let filled = 0;
  for (let n = 0; filled < SLOTS; n++) {
    const tag = String(n);
    const slot = calculateSlot(tag);
    if (table[slot] === undefined) {
      table[slot] = tag;
      filled++;
    }
  }
  tags = table as string[];
  return tags;
}

const written = new Set<string>();
/** Partitions written to since the consumer last took them (it reads those at once, however cold). */
let recent = new Set<string>();

/** The outbox partition of `key`'s slot, without noting it as written to (tests, tools). */
export function outboxPartitionOf(key: string): string {
  return keys.outboxPartition(tagTable()[calculateSlot(key)]!);
}

/** The outbox partition for a write to `key` (any key of the write: they share one slot). */
export function outboxFor(key: string): string {
  const partition = outboxPartitionOf(key);
  written.add(partition);
  recent.add(partition);
  return partition;
}

/** The partitions written to since the last call (the consumer's, once per round). */
export function takeRecentWrites(): string[] {
  const taken = [...recent];
  recent = new Set();
  return taken;
}

/** The outbox partition of a project's writes. */
export const projectOutbox = (projectId: string) => outboxFor(keys.project(projectId));

/** Partitions this process appended to since it started (the consumer reads them without a SCAN). */
export function partitionsWritten(): string[] {
  return [...written];
}

/**
 * The dead-letter stream beside an outbox stream (same slot, so one MULTI moves an entry there). The
 * legacy outbox's entries go beside the partition of its own slot: its old dead-letter stream
 * (`keys.outboxDead`) lies in another slot, where a cluster refuses the MULTI.
 */
export function deadLettersOf(outbox: string): string {
  if (outbox === keys.outboxLegacy) return deadLettersOf(outboxPartitionOf(keys.outboxLegacy));
  const tag = idInKey(keys.outboxPartition, outbox);
  if (tag === null) throw new Error(`${outbox} is not an outbox stream`);
  return keys.outboxPartitionDead(tag);
}

/**
 * Every dead-letter stream that may hold entries, given the outbox streams there are: each one's, plus
 * the legacy outbox's (old releases' `keys.outboxDead`, and where its entries go now), which stay for an
 * operator after the legacy outbox itself is gone.
 */
export function deadLetterStreams(outboxes: readonly string[]): string[] {
  return [...new Set([keys.outboxDead, deadLettersOf(keys.outboxLegacy), ...outboxes.map(deadLettersOf)])];
}

/** Whether `key` is an outbox partition (what SCAN with OUTBOX_PARTITION_PATTERN may also return). */
export function isOutboxPartition(key: string): boolean {
  return idInKey(keys.outboxPartition, key) !== null;
}

/**
 * Every outbox stream there is: the partitions SCAN finds on every master, those this process wrote to
 * (SCAN may miss a key created meanwhile), and the legacy single outbox while it exists (an upgrade
 * left entries there). A SCAN walks the whole keyspace: callers do it seldom (see OutboxConsumer).
 */
export async function outboxStreams(redis: ScriptedRedis): Promise<string[]> {
  const found = new Set(partitionsWritten());
  for await (const key of scanKeys(redis, OUTBOX_PARTITION_PATTERN, 'stream')) if (isOutboxPartition(key)) found.add(key);
  const streams = [...found].sort();
  if ((await redis.exists(keys.outboxLegacy)) === 1) streams.unshift(keys.outboxLegacy);
  return streams;
}
