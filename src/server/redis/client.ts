import 'server-only';
import { Redis, type RedisOptions } from 'ioredis';
import { env } from '~/server/env';
import { errorFields, hostOf, logger } from '~/server/log';
import { defineScripts, type ScriptedRedis } from './scripts';

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

export function createRedis(url: string = env.REDIS_URL, overrides: RedisOptions = {}): ScriptedRedis {
  const redis = new Redis(url, redisOptions(overrides));
  // Without a listener, ioredis prints every failed reconnect as an unhandled error event.
  redis.on('error', (err: Error) => logRedisError(url, err));
  return defineScripts(redis);
}

let lastLoggedAt = 0;
function logRedisError(url: string, err: Error) {
  const now = Date.now();
  if (now - lastLoggedAt < 5000) return; // one line per 5 s while Redis is down, not one per retry
  lastLoggedAt = now;
  logger('redis').warn({ host: hostOf(url), ...errorFields(err) }, 'Redis connection error');
}

// One command connection per server process, kept on globalThis so Next's dev hot reload does not leak
// a new connection on every edit.
const globalForRedis = globalThis as unknown as { parleyRedis?: ScriptedRedis };

export function getRedis(): ScriptedRedis {
  globalForRedis.parleyRedis ??= createRedis();
  return globalForRedis.parleyRedis;
}
