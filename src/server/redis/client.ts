import 'server-only';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { env } from '~/server/env';
import { errorFields, hostOf, logger } from '~/server/log';
import { replicateWrites } from './cluster';
import { defineScripts, writeScriptCommands, type ScriptedRedis } from './scripts';

/** Scheme of the URL form of a Redis Cluster: `redis+cluster://host:port,host:port,...`. */
export const CLUSTER_SCHEME = 'redis+cluster:';

/**
 * Where the app's Redis is: `redis+cluster://<REDIS_CLUSTER_NODES>` when a cluster is configured,
 * else REDIS_URL. Every createRedis() without an explicit target connects there.
 */
export function defaultRedisTarget(): string {
  return env.REDIS_CLUSTER_NODES ? `${CLUSTER_SCHEME}//${env.REDIS_CLUSTER_NODES}` : env.REDIS_URL;
}

/** The startup nodes of a `redis+cluster://h:p,h:p` target, or null for a plain redis:// URL. */
export function clusterNodesOf(target: string): { host: string; port: number }[] | null {
  if (!target.startsWith(`${CLUSTER_SCHEME}//`)) return null;
  const list = target.slice(CLUSTER_SCHEME.length + 2).replace(/\/.*$/, '');
  const nodes = list.split(',').map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    const port = Number(hostPort.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new Error(`Invalid Redis Cluster node "${hostPort}" (want host:port)`);
    }
    return { host: hostPort.slice(0, at), port };
  });
  return nodes;
}

/**
 * Connection options chosen on purpose. ioredis's defaults retry a command for about a minute while
 * Redis is down; a chat app must instead fail fast with SERVICE_UNAVAILABLE and let the client retry
 * (sends are idempotent by message id, so a retry never duplicates).
 */
export function redisOptions(overrides: RedisOptions = {}): RedisOptions {
  return {
    // RESP2 keeps the reply shapes of XRANGE / Lua tables stable (ioredis 6 defaults to RESP3).
    protocol: 2,
    // Hard deadline per command, including time spent in the offline queue while reconnecting.
    commandTimeout: env.REDIS_COMMAND_TIMEOUT_MS,
    // Fail queued commands after one failed reconnect instead of twenty.
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Keep commands issued during a brief reconnect (bounded by commandTimeout above).
    enableOfflineQueue: true,
    // Reconnect quickly at first, then every second: recovery is prompt once Redis is back.
    retryStrategy: (times) => Math.min(50 * 2 ** times, 1000),
    ...overrides,
  };
}

/**
 * A connection to the app's Redis: a standalone `Redis` for a redis:// URL, an ioredis `Cluster` for
 * `redis+cluster://...` (REDIS_CLUSTER_NODES). Both carry the Lua scripts (defineCommand works on both;
 * every script's keys share one hash slot, so the cluster routes it to that slot's master).
 *
 * The result is typed as a standalone `Redis` on purpose: `Cluster` has the same command methods, and
 * the few places where the two behave differently (SCAN, pipelines over several projects, pub/sub)
 * branch on `redis.isCluster` (see src/server/redis/cluster.ts) instead of every caller taking a union.
 */
export function createRedis(target: string = defaultRedisTarget(), overrides: RedisOptions = {}): ScriptedRedis {
  return connect(target, overrides, false);
}

/**
 * A connection for a pub/sub subscriber (the event hub's): on a cluster it also subscribes to sharded
 * channels (SSUBSCRIBE), through one extra connection per master that ioredis opens for it. Command
 * connections go without those.
 */
export function createSubscriber(target: string = defaultRedisTarget(), overrides: RedisOptions = {}): ScriptedRedis {
  return connect(target, overrides, true);
}

function connect(target: string, overrides: RedisOptions, sharded: boolean): ScriptedRedis {
  const nodes = clusterNodesOf(target);
  if (nodes) return createCluster(nodes, overrides, sharded);
  // No auto-pipelining: measured side by side (the same build with and without, sends interleaved), it
  // saved no CPU at 32 concurrent sends and added about 0.2 ms to a lone send (it waits a setImmediate).
  const redis = new Redis(target, redisOptions(overrides));
  // Without a listener, ioredis prints every failed reconnect as an unhandled error event.
  redis.on('error', (err: Error) => logRedisError(target, err));
  return defineScripts(redis);
}

function createCluster(nodes: { host: string; port: number }[], overrides: RedisOptions, sharded: boolean): ScriptedRedis {
  // The per-node options the Cluster allows (it owns reconnects and the offline queue itself).
  const { retryStrategy: _retry, enableOfflineQueue: _queue, ...nodeOptions } = redisOptions(overrides);
  const cluster = new Cluster(nodes, {
    redisOptions: nodeOptions,
    enableOfflineQueue: true,
    // (No auto-pipelining: ioredis 6 then batches commands of different slots into one pipeline and
    // fails them with "All keys in the pipeline should belong to the same slots allocation group".)
    // SSUBSCRIBE needs the per-shard subscriber group (one subscriber connection per master).
    shardedSubscribers: sharded,
    // A failover takes cluster-node-timeout plus an election; keep retrying a command to a lost master
    // for about 6 s (each attempt still bounded by commandTimeout), then fail it like a Redis outage.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    maxRedirections: 32,
    // Notice a resharding or a promoted replica even with no MOVED reply to trigger it.
    slotsRefreshInterval: 2000,
    clusterRetryStrategy: (times) => Math.min(100 * 2 ** times, 2000),
  });
  boundOfflineQueue(cluster, nodeOptions.commandTimeout);
  const label = `${CLUSTER_SCHEME}//${nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  cluster.on('error', (err: Error) => logRedisError(label, err));
  cluster.on('node error', (err: Error) => logRedisError(label, err));
  // Typed as Redis on purpose (see createRedis).
  const scripted = defineScripts(cluster as unknown as Redis);
  if (env.REDIS_WAIT_REPLICAS > 0 && !sharded) {
    replicateWrites(scripted, writeScriptCommands(), env.REDIS_WAIT_REPLICAS, env.REDIS_WAIT_TIMEOUT_MS);
  }
  return scripted;
}

/**
 * While a cluster client has no usable connection (every node unreachable, or reconnecting to them),
 * ioredis keeps commands - pipelines' included - in the Cluster's own offline queue with NO deadline:
 * a request would hang for as long as the cluster is down, where a standalone connection fails it after
 * commandTimeout (its timer covers its offline queue). Give such commands that deadline from the moment
 * they are sent. Commands sent while the cluster is ready keep the per-node deadline and the cluster's
 * retries through a single master's failover (retryDelayOnFailover).
 */
function boundOfflineQueue(cluster: Cluster, commandTimeout: number | undefined): void {
  if (commandTimeout === undefined) return;
  type Send = Cluster['sendCommand'];
  const send: Send = cluster.sendCommand.bind(cluster);
  cluster.sendCommand = ((command, stream, node) => {
    if (cluster.status !== 'ready') command.setTimeout(commandTimeout);
    return send(command, stream, node);
  }) as Send;
}

let lastLoggedAt = 0;
function logRedisError(url: string, err: Error) {
  const now = Date.now();
  if (now - lastLoggedAt < 5000) return; // one line per 5 s while Redis is down, not one per retry
  lastLoggedAt = now;
  logger('redis').warn({ host: url.startsWith(CLUSTER_SCHEME) ? 'cluster' : hostOf(url), ...errorFields(err) }, 'Redis connection error');
}

// One command connection per server process, kept on globalThis so Next's dev hot reload does not leak
// a new connection on every edit.
const globalForRedis = globalThis as unknown as { parleyRedis?: ScriptedRedis };

export function getRedis(): ScriptedRedis {
  globalForRedis.parleyRedis ??= createRedis();
  return globalForRedis.parleyRedis;
}
