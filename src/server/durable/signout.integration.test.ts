/**
 * Sign-out with the durable tier on. Sign-out is acknowledged by Redis; the revocation reaches
 * PostgreSQL directly (best effort) and, for sure, when the outbox consumer gets to it. If the direct
 * write failed, a request with the old cookie in that window finds the login still live in
 * PostgreSQL - and read-through must NOT bring it back into Redis (that would sign the user in
 * again, for good). Redis keeps a revocation tombstone under the login's key
 * instead of deleting it, so "signed out" is told apart from "Redis lost it".
 */
import { describe, expect, it } from 'vitest';
import { hashToken } from '~/server/auth/service';
import { keyspaceNodes } from '~/server/redis/cluster';
import { keys } from '~/server/redis/keys';
import { loginRowOf, useDurableTestEnv } from '~/server/testing/durable';
import { callerWithCookieOf, createHarness, type TestUser } from '~/server/testing/harness';
import { waitFor } from '~/server/testing/wait';
import { createContextInner } from '~/server/trpc/init';
import { createCaller } from '~/server/trpc/root';

const env = useDurableTestEnv();

const withCookieOf = (u: TestUser) => callerWithCookieOf(env.h, u);
const loginRow = (u: TestUser) => loginRowOf(env.h.pool, u);

describe('sign-out with the durable tier on', () => {
  it('stays signed out while the revocation is still in the outbox (no read-through revival)', async () => {
    const consumer = await env.h.consumer();
    const alice = await env.h.user();
    await waitFor(async () => (await loginRow(alice)) !== null, 10_000, 'login persisted');
    // The consumer lags behind (a backlog, a slow PostgreSQL, a restart): the logout stays queued.
    await consumer.stop();

    // And sign-out's direct PostgreSQL write fails (PostgreSQL down for that moment).
    const pg = env.h.durable.pg;
    const revokeDirectly = pg.revokeLoginSession.bind(pg);
    pg.revokeLoginSession = () => Promise.reject(new Error('PostgreSQL unavailable'));
    try {
      await withCookieOf(alice).auth.signOut();
    } finally {
      pg.revokeLoginSession = revokeDirectly;
    }
    expect(await loginRow(alice)).toEqual({ revoked: false }); // PostgreSQL still has it live
    expect(await withCookieOf(alice).auth.me()).toBeNull();
    await expect(withCookieOf(alice).project.list()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    // Asking again changes nothing: the key holds a tombstone (with an expiry), never the user.
    expect(await withCookieOf(alice).auth.me()).toBeNull();
    const key = keys.loginSession(hashToken(decodeURIComponent(alice.token)));
    expect(await env.h.redis.get(key)).not.toContain(alice.id);
    expect(await env.h.redis.ttl(key)).toBeGreaterThan(0);

    // Once the consumer catches up, PostgreSQL has the revocation too, and the cookie stays dead.
    await env.h.consumer();
    await waitFor(async () => (await loginRow(alice))?.revoked === true, 10_000, 'logout persisted');
    expect(await withCookieOf(alice).auth.me()).toBeNull();
  });

  it('stays signed out when a request with the old cookie comes right after sign-out', async () => {
    await env.h.consumer();
    for (let i = 0; i < 5; i++) {
      const u = await env.h.user();
      await waitFor(async () => (await loginRow(u)) !== null, 10_000, 'login persisted');
      await withCookieOf(u).auth.signOut();
      expect(await withCookieOf(u).auth.me()).toBeNull();
      await waitFor(async () => (await loginRow(u))?.revoked === true, 10_000, 'logout persisted');
      expect(await withCookieOf(u).auth.me()).toBeNull();
    }
  });

  it('revokes a login Redis never had (started while Redis was down, or lost with its data)', async () => {
    const bob = await env.h.user();
    await env.h.consumer();
    await waitFor(async () => (await loginRow(bob)) !== null, 10_000, 'login persisted');
    // As if Redis had lost the key: the login lives in PostgreSQL only.
    await env.h.redis.del(keys.loginSession(hashToken(decodeURIComponent(bob.token))));
    expect(await withCookieOf(bob).auth.me()).toMatchObject({ id: bob.id }); // read-through
    await env.h.redis.del(keys.loginSession(hashToken(decodeURIComponent(bob.token))));

    await withCookieOf(bob).auth.signOut();
    expect(await withCookieOf(bob).auth.me()).toBeNull();
    await waitFor(async () => (await loginRow(bob))?.revoked === true, 10_000, 'logout persisted');
    expect(await withCookieOf(bob).auth.me()).toBeNull();
  });

  it('signing out with an unknown cookie stores nothing', async () => {
    const before = await keyCount();
    const stranger = createCaller(createContextInner({ services: env.h, sessionToken: 'no-such-token' }));
    await stranger.auth.signOut();
    expect(await stranger.auth.me()).toBeNull();
    expect(await env.h.redis.exists(keys.loginSession(hashToken('no-such-token')))).toBe(0);
    expect(await keyCount()).toBe(before);
  });
});

describe('sign-out with the durable tier off', () => {
  it('signs out for good, and the same Redis key reads as signed out', async () => {
    const plain = createHarness(env.server.url);
    try {
      const carol = await plain.user();
      const cookie = () => callerWithCookieOf(plain, carol);
      expect(await cookie().auth.me()).toMatchObject({ id: carol.id });
      await cookie().auth.signOut();
      expect(await cookie().auth.me()).toBeNull();
      await expect(cookie().project.list()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    } finally {
      await plain.close();
    }
  });
});

/** Keys in the whole keyspace: every master's DBSIZE on a cluster (one node holds only its slots). */
async function keyCount(): Promise<number> {
  const sizes = await Promise.all(keyspaceNodes(env.h.redis).map((node) => node.dbsize()));
  return sizes.reduce((a, b) => a + b, 0);
}
