/**
 * Test harness: real services over the real redis-server the test run started (no mocks), and tRPC
 * callers acting as signed-in users. Every test works in fresh random projects, so tests never collide.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createServices, type Services } from '~/server/context';
import { createRedis } from '~/server/redis/client';
import type { ScriptedRedis } from '~/server/redis/scripts';
import { EventHub } from '~/server/realtime/hub';
import { createContextInner } from '~/server/trpc/init';
import { createCaller } from '~/server/trpc/root';

export function testRedisUrl(): string {
  return inject('redisUrl');
}

export interface Harness extends Services {
  /** Signs up a fresh user and returns a caller acting as them. */
  user(name?: string): Promise<TestUser>;
  anonymous(): ReturnType<typeof createCaller>;
  close(): Promise<void>;
}

export interface TestUser {
  id: string;
  username: string;
  token: string;
  caller: ReturnType<typeof createCaller>;
}

export function createHarness(url = testRedisUrl()): Harness {
  const redis: ScriptedRedis = createRedis(url);
  const hub = new EventHub(redis, () => createRedis(url));
  const services = createServices(redis, hub);
  const callerFor = (token: string | null) =>
    createCaller(createContextInner({ services, sessionToken: token }));
  return {
    ...services,
    async user(name = `u${randomUUID().slice(0, 8)}`) {
      let token: string | null = null;
      const signUpCaller = createCaller(
        createContextInner({
          services,
          setCookie: (c) => {
            token = /parley_session=([^;]+)/.exec(c)?.[1] ?? null;
          },
        }),
      );
      const user = await signUpCaller.auth.signUp({ username: name, password: 'correct horse battery' });
      if (!token) throw new Error('sign-up set no session cookie');
      return { id: user.id, username: user.username, token, caller: callerFor(decodeURIComponent(token)) };
    },
    anonymous: () => callerFor(null),
    async close() {
      await hub.close();
      redis.disconnect();
    },
  };
}
