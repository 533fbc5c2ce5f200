import 'server-only';
import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { metrics } from '~/server/metrics';

/**
 * What differs between a standalone Redis and a Redis Cluster, in one place. Everything else (single
 * commands, the Lua scripts, a pipeline within one project) works the same on both, because every key
 * of a project carries its `{projectId}` hash tag.
 */

/** Whether this connection is an ioredis Cluster (REDIS_CLUSTER_NODES) rather than one server. */
export function isCluster(redis: Redis | Cluster): boolean {
  return redis.isCluster === true;
}

/**
 * The servers a whole-keyspace walk (SCAN) must visit: every master of a cluster (each holds only its
 * own slots' keys; replicas would repeat them), or the one server.
 */
export function keyspaceNodes(redis: Redis | Cluster): Redis[] {
  return isCluster(redis) ? (redis as Cluster).nodes('master') : [redis as Redis];
}

type PipelineResults = [Error | null, unknown][];

/**
 * Runs commands over several projects (or users) in as few round trips as the topology allows: one
 * pipeline on a standalone Redis; on a cluster, one pipeline per group (a group's commands must share
 * a hash slot: one project's or one user's keys), all sent at once, so the whole batch still costs
 * about one round trip. A cluster pipeline must not mix slots of different masters, so a single
 * pipeline over many projects would fail there with a cross-node error.
 *
 * Returns the results in the order the commands were added, exactly as one pipeline's exec() would.
 */
export async function pipelineBySlot<T>(
  redis: Redis,
  groups: readonly T[],
  add: (pipeline: ChainableCommander, group: T) => void,
): Promise<PipelineResults> {
  if (groups.length === 0) return [];
  if (!isCluster(redis)) {
    const pipeline = redis.pipeline();
    for (const group of groups) add(pipeline, group);
    return (await pipeline.exec()) ?? [];
  }
  const parts = await Promise.all(
    groups.map((group) => {
      const pipeline = redis.pipeline();
      add(pipeline, group);
      return pipeline.exec();
    }),
  );
  return parts.flatMap((part) => part ?? []);
}

/**
 * `keys` grouped by the master serving their slot (ioredis' slot table; a key whose slot it does not
 * know yet forms a group of its own), in their order: each group may go in ONE pipeline, which a
 * cluster client allows across the slots of one master. A standalone Redis is one group.
 */
export function byMaster(redis: Redis, keys: readonly string[]): string[][] {
  if (!isCluster(redis)) return keys.length > 0 ? [[...keys]] : [];
  const slots = (redis as unknown as Cluster).slots;
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const nodes = slots[calculateSlot(key)];
    const group = nodes ? nodes.join() : `?${key}`;
    groups.set(group, [...(groups.get(group) ?? []), key]);
  }
  return [...groups.values()];
}

/**
 * Whether pub/sub on `channel` is sharded on a cluster: channels with a hash tag (a project's wake-up
 * and signal channels) live in that slot's shard and use SPUBLISH/SSUBSCRIBE there, so a message
 * crosses only that shard. Channels without one (per-user signals, sign-outs, the AI workers' wake-up)
 * use plain PUBLISH/SUBSCRIBE, which a cluster delivers to every node. On a standalone Redis every
 * channel is plain.
 */
export function isShardedChannel(redis: Redis | Cluster, channel: string): boolean {
  return isCluster(redis) && /\{[^}]+\}/.test(channel);
}

/** Publishes on `channel` the way subscribers listen to it (see isShardedChannel). */
export function publishOn(redis: Redis, channel: string, message: string): Promise<number> {
  return isShardedChannel(redis, channel) ? (redis.spublish(channel, message) as Promise<number>) : redis.publish(channel, message);
}

/** Subscribes `subscriber` to `channel` the way publishers publish on it (see isShardedChannel). */
export async function subscribeTo(subscriber: Redis, channel: string): Promise<void> {
  await (isShardedChannel(subscriber, channel) ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel));
}

export async function unsubscribeFrom(subscriber: Redis, channel: string): Promise<void> {
  await (isShardedChannel(subscriber, channel) ? subscriber.sunsubscribe(channel) : subscriber.unsubscribe(channel));
}

const replication = new WeakMap<Redis, { replicas: number; timeoutMs: number }>();

/**
 * Adds the `WAIT` that replicateWrites puts after a write script to a caller's pipeline that carries
 * a write (after its EXEC, when it is a transaction: WAIT is not allowed inside one). Nothing on a
 * connection without it (standalone Redis, or waits turned off). Read the reply with `replicated`.
 */
export function queueReplicationWait(redis: Redis, pipeline: ChainableCommander): boolean {
  const wait = replication.get(redis);
  if (wait) pipeline.wait(wait.replicas, wait.timeoutMs);
  return wait !== undefined;
}

/** Counts a write whose WAIT (queueReplicationWait) failed or reached fewer replicas than asked. */
export function replicated(redis: Redis, reply: [Error | null, unknown] | undefined): void {
  const wait = replication.get(redis);
  if (wait && (!reply || reply[0] || Number(reply[1]) < wait.replicas)) metrics().unreplicatedWrites.inc();
}

/**
 * Adds the WAIT to `pipeline` (queueReplicationWait) and returns how to read the pipeline's results:
 * the callers' own (the WAIT's cut off), an unreplicated write counted (replicated).
 */
function withWait(redis: Redis, pipeline: ChainableCommander): (results: PipelineResults) => PipelineResults {
  if (!queueReplicationWait(redis, pipeline)) return (results) => results;
  return (results) => {
    replicated(redis, results[results.length - 1]);
    return results.slice(0, -1);
  };
}

/**
 * Makes every named write script wait for `replicas` replicas before it resolves: the script and a
 * `WAIT replicas timeoutMs` go in one pipeline to the script's master (WAIT is not allowed inside a
 * script, and a pipeline keeps it on the same node connection). An acknowledged write is then on a
 * replica too, so a master's failover cannot lose it. Writes made of plain commands go through
 * execReplicated for the same guarantee.
 *
 * A write script queued in a caller's own pipeline (the legacy import's) runs there, without the WAIT.
 */
export function replicateWrites(redis: Redis, names: readonly string[], replicas: number, timeoutMs: number): void {
  replication.set(redis, { replicas, timeoutMs });
  type Fn = (this: unknown, ...args: unknown[]) => unknown;
  const target = redis as unknown as Record<string, Fn>;
  for (const name of names) {
    const original = target[name]!;
    target[name] = function (this: unknown, ...args: unknown[]) {
      // A pipeline copies the connection's script methods: inside someone's pipeline, stay in it.
      if (this !== redis) return original.apply(this, args);
      return (async () => {
        const pipeline = redis.pipeline();
        original.apply(pipeline, args);
        const results = withWait(redis, pipeline)((await pipeline.exec()) ?? []);
        const [scriptError, result] = results[0] ?? [null, null];
        if (scriptError) throw scriptError;
        return result;
      })();
    };
  }
}

/**
 * Sends a pipeline of plain write commands (a write that is no script: those WAIT by themselves), with
 * the same WAIT for replicas as the scripts when the connection replicates its writes (a cluster's),
 * so what it changed is on a replica before the caller goes on. Its commands must share one master
 * (one project's or one key's slot). Throws the first command error; else returns the results.
 */
export async function execReplicated(redis: Redis, pipeline: ChainableCommander): Promise<PipelineResults> {
  const results = withWait(redis, pipeline)((await pipeline.exec()) ?? []);
  for (const [err] of results) if (err) throw err;
  return results;
}
