/**
 * The one error classification (src/server/errors.ts), fed with errors the real servers and clients
 * raise: a real redis-server, ioredis against a closed port, the machine's PostgreSQL. A classifier
 * that relied on text the libraries do not actually produce fails here.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, isPgPermanent, isPgUnavailable, isRedisUnavailable, redisErrorCode, toAppError } from '~/server/errors';
import { createRedis } from '~/server/redis/client';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { testRedisUrl } from '~/server/testing/harness';
import { PG_ADMIN_URL } from '~/server/testing/postgres';

let redis: ScriptedRedis;
beforeAll(() => {
  redis = createRedis(testRedisUrl());
});
afterAll(() => redis.disconnect());

const failure = async (op: () => Promise<unknown>): Promise<unknown> => {
  try {
    await op();
  } catch (err) {
    return err;
  }
  throw new Error('expected the operation to fail');
};

/** A TCP port nothing listens on (bound once by us, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Redis errors', () => {
  it('reads the code word of real error replies', async () => {
    const stream = `errors-test:${Date.now()}:${Math.random()}`;
    await redis.xadd(stream, '*', 'f', 'v');
    const noGroup = await failure(() => redis.xreadgroup('GROUP', 'g', 'c', 'STREAMS', stream, '>'));
    expect(redisErrorCode(noGroup)).toBe('NOGROUP');
    await redis.xgroup('CREATE', stream, 'g', '0');
    expect(redisErrorCode(await failure(() => redis.xgroup('CREATE', stream, 'g', '0')))).toBe('BUSYGROUP');
    const wrongType = await failure(() => redis.hget(stream, 'f'));
    expect(redisErrorCode(wrongType)).toBe('WRONGTYPE');
    // A bug, not an outage: left alone for the error formatter to log.
    expect(isRedisUnavailable(wrongType)).toBe(false);
    expect(toAppError(wrongType)).toBe(wrongType);
    await redis.del(stream);
  });

  it('does not take an error of ours for a Redis reply', () => {
    expect(redisErrorCode(new Error('NOGROUP made up'))).toBeNull();
    expect(redisErrorCode('NOGROUP')).toBeNull();
  });

  it("turns a script's PARLEY_<CODE> reply into that AppError", async () => {
    const reply = (text: string) => failure(() => redis.eval(`return redis.error_reply('${text}')`, 0));
    const notFound = toAppError(await reply('PARLEY_NOT_FOUND session'));
    expect(notFound).toBeInstanceOf(AppError);
    expect(notFound).toMatchObject({ code: 'NOT_FOUND', message: 'Session not found' });
    expect(toAppError(await reply('PARLEY_CONFLICT project exists'))).toMatchObject({ code: 'CONFLICT', message: 'Project exists' });
    // An unknown code is a bug in a script: not turned into some client error.
    const unknown = await reply('PARLEY_TEAPOT short and stout');
    expect(toAppError(unknown)).toBe(unknown);
  });

  it('knows a Redis Cluster that cannot serve a slot for now for an outage (a replay must not give up on it)', async () => {
    // The replies a cluster gives while a master is lost or the whole cluster restarts, mid-resharding,
    // or from a replica cut off from its master (the same text, as a real error reply).
    for (const text of [
      'CLUSTERDOWN The cluster is down',
      'CLUSTERDOWN Hash slot not served',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
      // A redirection the cluster client did not follow (inside a MULTI, or its slot map still stale
      // after the cluster restarted): the slot moved, the data was not refused.
      'MOVED 3060 127.0.0.1:33203',
      'ASK 3060 127.0.0.1:33203',
    ]) {
      const err = await failure(() => redis.eval(`return redis.error_reply('${text}')`, 0));
      expect(isRedisUnavailable(err), text).toBe(true);
      expect(toAppError(err)).toMatchObject({ code: 'UNAVAILABLE' });
    }
  });

  it('knows an out-of-memory refusal for an outage', async () => {
    const [, before = '0'] = await redis.config('GET', 'maxmemory');
    await redis.config('SET', 'maxmemory', '1');
    let oom: unknown;
    try {
      oom = await failure(() => redis.set(`errors-test:oom:${Math.random()}`, 'x'));
    } finally {
      await redis.config('SET', 'maxmemory', before);
    }
    expect(redisErrorCode(oom)).toBe('OOM');
    expect(isRedisUnavailable(oom)).toBe(true);
    expect(toAppError(oom)).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('knows an unreachable Redis for an outage', async () => {
    const down = createRedis(`redis://127.0.0.1:${await closedPort()}`, {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: true,
    });
    try {
      const err = await failure(() => down.get('k'));
      expect(isRedisUnavailable(err)).toBe(true);
      expect(toAppError(err)).toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      down.disconnect();
    }
  });
});

describe('PostgreSQL errors', () => {
  const withClient = async <T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };

  it('tells refused data from an outage', async () => {
    const err = await withClient(PG_ADMIN_URL, (c) => failure(() => c.query('SELECT 1 / 0')));
    expect(isPgPermanent(err)).toBe(true);
    expect(isPgUnavailable(err)).toBe(false);
    const nul = await withClient(PG_ADMIN_URL, (c) => failure(() => c.query('SELECT $1::text', ['a\u0000b'])));
    expect(isPgPermanent(nul)).toBe(true);
  });

  it('retries a statement timeout and leaves a bad statement alone', async () => {
    const timedOut = await withClient(PG_ADMIN_URL, async (c) => {
      await c.query('SET statement_timeout = 50');
      return failure(() => c.query('SELECT pg_sleep(2)'));
    });
    expect(isPgUnavailable(timedOut)).toBe(true);
    const syntax = await withClient(PG_ADMIN_URL, (c) => failure(() => c.query('SELEC 1')));
    expect(isPgUnavailable(syntax)).toBe(false);
    expect(isPgPermanent(syntax)).toBe(false);
  });

  it('knows an unreachable server for an outage', async () => {
    const url = new URL(PG_ADMIN_URL);
    url.port = String(await closedPort());
    const err = await failure(() => withClient(url.toString(), () => Promise.resolve()));
    expect(isPgUnavailable(err)).toBe(true);
  });
});
