// Vitest global setup: one real redis-server for the whole test run, on a free port in a temp dir
// (AOF on, no eviction: the same durability rules as production; see scripts/lib/redis-server.mjs).
//
// Tests find it through `inject('redisUrl')` or `process.env.REDIS_URL` (test workers are started
// after this runs and inherit the environment). Tests that need to crash or restart Redis must start
// their own with startRedisServer(), not touch this shared one.
import { ensureRedisServerInstalled, startRedisServer } from './lib/redis-server.mjs';

/** @param {import('vitest/node').TestProject} project */
export default async function setup({ provide }) {
  await ensureRedisServerInstalled();
  const redis = await startRedisServer();
  process.env.REDIS_URL = redis.url;
  process.env.PARLEY_TEST = '1';
  provide('redisUrl', redis.url);

  return async () => {
    await redis.destroy();
  };
}
