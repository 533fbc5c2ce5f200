// Vitest global setup: one real Redis for the whole test run, in temp dirs on free ports (AOF on, no
// eviction: the same durability rules as production; see scripts/lib/redis-server.mjs).
//
// By default a standalone redis-server. With PARLEY_TEST_REDIS=cluster (scripts/test.mjs runs the store,
// realtime and cluster suites a second time so), a real Redis Cluster of 3 masters + 3 replicas instead:
// `inject('redisUrl')` is then its `redis+cluster://host:port,...` URL, which the app's client factory
// takes like a plain URL, and REDIS_CLUSTER_NODES is set for code that uses the default connection.
//
// Tests find it through `inject('redisUrl')` or `process.env.REDIS_URL` (test workers are started
// after this runs and inherit the environment). Tests that need to crash or restart Redis must start
// their own with startRedisServer() / startRedisCluster(), not touch this shared one.
import { ensureRedisServerInstalled, startRedisCluster, startRedisServer } from './lib/redis-server.mjs';

/** @param {import('vitest/node').TestProject} project */
export default async function setup({ provide }) {
  await ensureRedisServerInstalled();
  process.env.PARLEY_TEST = '1';
  if (process.env.PARLEY_TEST_REDIS === 'cluster') {
    const cluster = await startRedisCluster();
    process.env.REDIS_CLUSTER_NODES = cluster.nodesList;
    provide('redisUrl', cluster.url);
    return async () => {
      await cluster.destroy();
    };
  }
  const redis = await startRedisServer();
  process.env.REDIS_URL = redis.url;
  provide('redisUrl', redis.url);

  return async () => {
    await redis.destroy();
  };
}
