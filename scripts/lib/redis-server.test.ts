import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { findFreePort, pingRedis, startRedisServer, type RedisServerHandle } from './redis-server.mjs';

/** A failing command rejects anyway; without a listener ioredis also prints "Unhandled error event". */
function connectionFailed(err: Error) {
  console.warn(`test Redis connection error: ${err.message}`);
}

describe('startRedisServer', () => {
  let server: RedisServerHandle | undefined;
  let client: Redis | undefined;

  afterEach(async () => {
    client?.disconnect();
    client = undefined;
    await server?.destroy();
    server = undefined;
  });

  it('keeps an acknowledged write across a crash (kill -9) and restart: the AOF is replayed', async () => {
    server = await startRedisServer();
    const { url, port, dir } = server;
    const firstPid = server.pid;

    client = new Redis(url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 0 });
    client.on('error', connectionFailed);
    await client.connect();
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    // Message buckets are encoded as in production (redis.conf).
    expect(await client.config('GET', 'hash-max-listpack-value')).toEqual(['hash-max-listpack-value', '4096']);
    expect(await client.set('parley:test:durable', 'still here')).toBe('OK');
    client.disconnect();
    client = undefined;

    await server.kill();
    expect(server.isRunning()).toBe(false);
    expect(await pingRedis(url, 300)).toBe(false);

    await server.restart();
    expect(server.isRunning()).toBe(true);
    expect(server.pid).not.toBe(firstPid);
    expect(server.url).toBe(url);
    expect(server.port).toBe(port);
    expect(server.dir).toBe(dir);

    client = new Redis(url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 0 });
    client.on('error', connectionFailed);
    await client.connect();
    expect(await client.get('parley:test:durable')).toBe('still here');
  });

  it('stop() resolves only once the process has exited', async () => {
    server = await startRedisServer();
    expect(await pingRedis(server.url, 1000)).toBe(true);
    await server.stop();
    expect(server.isRunning()).toBe(false);
    expect(await pingRedis(server.url, 300)).toBe(false);
  });

  it('reports a port that is already taken, with the redis log', async () => {
    server = await startRedisServer();
    await expect(startRedisServer({ port: server.port })).rejects.toThrow(/Address already in use/);
  });
});

describe('pingRedis', () => {
  it('is true for the run-wide Redis from the global setup and false for a closed port', async () => {
    expect(await pingRedis(inject('redisUrl'), 1000)).toBe(true);
    expect(process.env.REDIS_URL).toBe(inject('redisUrl'));
    expect(await pingRedis(`redis://127.0.0.1:${await findFreePort()}`, 300)).toBe(false);
  });
});
