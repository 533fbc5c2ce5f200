/**
 * A Redis of a test file's own, for tests that stop, kill, restart or empty it: a standalone
 * redis-server, or on the cluster pass (PARLEY_TEST_REDIS=cluster) a whole Redis Cluster of 3 masters +
 * 3 replicas handled as one server (stop/kill/restart act on every node: an outage of "the" Redis is
 * then an outage of the cluster; a single master's failover is tested in redis/cluster.integration).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startRedisCluster, startRedisServer, type RedisClusterHandle, type RedisServerHandle } from '../../../scripts/lib/redis-server.mjs';

export interface OwnRedis {
  /** `redis://...` or `redis+cluster://...`: what createRedis() takes. */
  readonly url: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGKILL, like a crash (every node of a cluster). */
  kill(): Promise<void>;
  /** Stops it if running and starts it again with its data (AOF replayed), waiting until it serves. */
  restart(): Promise<unknown>;
  destroy(): Promise<void>;
  isRunning(): boolean;
}

type Handle = { kind: 'standalone'; server: RedisServerHandle } | { kind: 'cluster'; cluster: RedisClusterHandle };
const handles = new WeakMap<OwnRedis, Handle>();

export function clusterTestPass(): boolean {
  return process.env.PARLEY_TEST_REDIS === 'cluster';
}

function wrap(handle: Handle): OwnRedis {
  const target = handle.kind === 'standalone' ? handle.server : handle.cluster;
  const own: OwnRedis = {
    url: target.url,
    stop: (signal) => target.stop(signal),
    kill: () => target.kill(),
    restart: () => target.restart(),
    destroy: () => target.destroy(),
    isRunning: () => target.isRunning(),
  };
  handles.set(own, handle);
  return own;
}

/** A fresh Redis of the pass's topology, on free ports, with AOF on. */
export async function startOwnRedis(): Promise<OwnRedis> {
  return clusterTestPass()
    ? wrap({ kind: 'cluster', cluster: await startRedisCluster() })
    : wrap({ kind: 'standalone', server: await startRedisServer() });
}

/**
 * Destroys `old` and starts a new, EMPTY Redis on the same port(s) (as if its disk were lost); clients
 * pointed at it reconnect by themselves. `emptyDirs` collects data dirs the caller removes at the end.
 */
export async function replaceWithEmpty(old: OwnRedis, emptyDirs: string[]): Promise<OwnRedis> {
  const handle = handles.get(old);
  if (!handle) throw new Error('not a Redis started by startOwnRedis()');
  await old.destroy();
  if (handle.kind === 'cluster') {
    // New node ids on the same addresses: clients refresh the slot map from the startup nodes.
    return wrap({ kind: 'cluster', cluster: await startRedisCluster({ ports: handle.cluster.ports }) });
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'parley-redis-empty-'));
  emptyDirs.push(dir);
  return wrap({ kind: 'standalone', server: await startRedisServer({ port: handle.server.port, dir }) });
}

/**
 * The environment that points an app process at `redis`: REDIS_URL for a standalone server,
 * REDIS_CLUSTER_NODES for a cluster (which overrides the one of the run's shared cluster the child
 * would inherit; the standalone pass sets none).
 */
export function appRedisEnv(redis: OwnRedis): Record<string, string> {
  const nodes = /^redis\+cluster:\/\/(.*)$/.exec(redis.url)?.[1];
  return nodes ? { REDIS_CLUSTER_NODES: nodes } : { REDIS_URL: redis.url };
}
